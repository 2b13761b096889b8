#pragma once
// What a finished PLaD run produced that must not depend on how often it was stopped (killed,
// out of disk, read-only): its outputs and pairs, its metric series, its exported student.
// The crash-safety tests compare a stopped-and-resumed run with one never stopped.

#include "clirunner.h"
#include "store/workspace.h"

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace plad::test {

struct RunSnapshot
{
    std::map<std::tuple<std::string, int, int64_t>, std::string> outputs; ///< (prompt, source, sample) -> text
    std::multiset<std::tuple<std::string, std::string, std::string, std::string>> pairs;
    std::map<std::string, std::vector<std::pair<int64_t, double>>> series; ///< loss, lr, grad_norm, ...
    std::string exportedWeights;
    std::string status, integrity;
};

inline RunSnapshot snapshotRun(const std::filesystem::path &ws, const std::string &run = "r0001-plad")
{
    RunSnapshot s;
    auto store = Workspace::openReadOnly(ws);
    std::map<int64_t, std::string> texts;
    for (const auto &o : store.pairs().outputs(run)) {
        s.outputs[{o.promptId, static_cast<int>(o.source), o.sample}] = o.text;
        texts[o.id] = o.text;
    }
    for (const auto &p : store.pairs().list(run))
        s.pairs.insert({p.promptId, texts[p.chosenOutput], texts[p.rejectedOutput], p.labeller});
    for (const char *name : {"loss", "lr", "grad_norm", "ranking_accuracy", "margin", "validation_loss"})
        for (const auto &m : store.runs().metrics(run, name))
            s.series[name].push_back({m.step, m.value});
    s.status = toString(store.runs().requireRun(run).status);
    s.integrity = store.integrityCheck();
    s.exportedWeights = readText(ws / "runs" / run / "model" / "model.safetensors");
    return s;
}

/** The first way `got` differs from `want` (a completed run), or empty when it does not. */
inline std::string differenceBetween(const RunSnapshot &got, const RunSnapshot &want)
{
    if (got.status != "completed")
        return "the run is " + got.status + ", not completed";
    if (got.integrity != "ok")
        return "PRAGMA integrity_check: " + got.integrity;
    if (got.outputs.size() != want.outputs.size())
        return std::to_string(got.outputs.size()) + " outputs, the uninterrupted run has " + std::to_string(want.outputs.size());
    for (const auto &[key, text] : want.outputs) {
        const auto it = got.outputs.find(key);
        if (it == got.outputs.end())
            return "missing an output of prompt " + std::get<0>(key);
        if (it->second != text)
            return "prompt " + std::get<0>(key) + ": \"" + it->second + "\" vs \"" + text + "\"";
    }
    if (got.pairs != want.pairs)
        return "the pairs differ";
    for (const auto &[name, series] : want.series) {
        const auto it = got.series.find(name);
        const size_t n = it == got.series.end() ? 0 : it->second.size();
        if (n != series.size())
            return name + ": " + std::to_string(n) + " points vs " + std::to_string(series.size());
        for (size_t i = 0; i < series.size(); ++i)
            if (it->second[i] != series[i])
                return name + " at step " + std::to_string(series[i].first) + ": " + std::to_string(it->second[i].second) + " vs "
                       + std::to_string(series[i].second);
    }
    if (got.exportedWeights != want.exportedWeights)
        return "the exported student differs from the uninterrupted run's";
    return {};
}

} // namespace plad::test
