#include "data/debiandescriptions.h"

#include "common/compression.h"
#include "common/error.h"
#include "common/fileio.h"
#include "data/dataset.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

namespace plad {

namespace {

bool endsWith(const std::string &s, const std::string &suffix)
{
    return s.size() > suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Union-find over record indices.
struct Groups
{
    std::vector<size_t> parent;
    explicit Groups(size_t n)
        : parent(n)
    {
        std::iota(parent.begin(), parent.end(), 0);
    }
    size_t find(size_t x)
    {
        while (parent[x] != x)
            x = parent[x] = parent[parent[x]];
        return x;
    }
    void join(size_t a, size_t b) { parent[find(a)] = find(b); }
};

std::string normalizedKey(const std::string &text, size_t limit)
{
    std::string out;
    bool space = false;
    for (char c : text) {
        if (c == ' ' || c == '\n' || c == '\t') {
            space = !out.empty();
            continue;
        }
        if (space)
            out += ' ';
        space = false;
        out += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        if (out.size() >= limit)
            break;
    }
    return out;
}

} // namespace

std::string packageStem(const std::string &package)
{
    static const char *suffixes[] = {"-dev", "-doc", "-docs", "-dbg", "-dbgsym", "-data", "-common", "-utils", "-tools", "-bin",
                                     "-examples", "-tests", "-l10n", "-locales", "-plugins", "-runtime", "-core", "-extra"};
    std::string stem = package;
    for (bool changed = true; changed;) {
        changed = false;
        for (const char *s : suffixes)
            if (endsWith(stem, s)) {
                stem.resize(stem.size() - std::string(s).size());
                changed = true;
            }
        // Soname or version digits: libfoo1, libfoo2.4, foo-3.
        size_t end = stem.size();
        while (end > 1 && (std::isdigit(static_cast<unsigned char>(stem[end - 1])) || stem[end - 1] == '.'))
            --end;
        if (end < stem.size() && end > 0) {
            if (stem[end - 1] == '-')
                --end;
            if (end > 0) {
                stem.resize(end);
                changed = true;
            }
        }
    }
    return stem;
}

std::vector<DebianDescription> readDebianTranslations(const std::filesystem::path &path)
{
    const std::string text = readMaybeCompressed(path);
    std::vector<DebianDescription> out;
    std::istringstream in(text);
    std::string line;
    int64_t number = 0;
    DebianDescription current;
    bool inDescription = false;
    std::vector<std::string> paragraphs;
    std::string paragraph;
    auto finishParagraph = [&] {
        if (!paragraph.empty())
            paragraphs.push_back(paragraph);
        paragraph.clear();
    };
    auto finishRecord = [&] {
        finishParagraph();
        if (!current.package.empty()) {
            if (current.synopsis.empty())
                throw FormatError(path.string() + ":" + std::to_string(number) + ": package \"" + current.package
                                  + "\" has no Description-en line");
            for (size_t i = 0; i < paragraphs.size(); ++i)
                current.longDescription += (i ? "\n" : "") + paragraphs[i];
            out.push_back(std::move(current));
        }
        current = {};
        paragraphs.clear();
        inDescription = false;
    };
    while (std::getline(in, line)) {
        ++number;
        if (line.empty()) {
            finishRecord();
            continue;
        }
        if (line[0] == ' ' || line[0] == '\t') {
            if (!inDescription)
                throw FormatError(path.string() + ":" + std::to_string(number) + ": continuation line outside a description");
            const std::string body = line.substr(1);
            if (body == ".") {
                finishParagraph();
            } else if (!body.empty() && body[0] == ' ') {
                finishParagraph(); // a verbatim line (lists, code) stays on its own line
                paragraphs.push_back(body.substr(body.find_first_not_of(' ')));
            } else {
                paragraph += (paragraph.empty() ? "" : " ") + body;
            }
            continue;
        }
        inDescription = false;
        const auto colon = line.find(':');
        if (colon == std::string::npos)
            throw FormatError(path.string() + ":" + std::to_string(number) + ": expected \"Field: value\"");
        const std::string field = line.substr(0, colon);
        std::string value = line.substr(colon + 1);
        if (!value.empty() && value[0] == ' ')
            value.erase(value.begin());
        if (field == "Package") {
            current.package = value;
        } else if (field == "Description-en") {
            current.synopsis = value;
            inDescription = true;
        }
    }
    finishRecord();
    if (out.empty())
        throw FormatError(path.string() + ": no package descriptions found; is this a Translation-en file?");
    return out;
}

DemoDataReport buildDebianSummarizationData(const std::vector<std::filesystem::path> &inputs, const std::filesystem::path &outDir,
                                            const DemoDataOptions &options)
{
    DemoDataReport report;
    std::vector<DebianDescription> kept;
    std::set<std::string> seenDescriptions, seenPackages;
    for (const auto &input : inputs) {
        for (auto &d : readDebianTranslations(input)) {
            ++report.packages;
            if (!seenPackages.insert(d.package).second)
                continue; // the same package in several indexes (security, updates)
            const std::string key = normalizedKey(d.longDescription, std::string::npos);
            if (!seenDescriptions.insert(key).second) {
                ++report.duplicatesDropped;
                continue;
            }
            const int64_t words = wordCount(d.longDescription);
            if (words < options.minWords || words > options.maxWords || d.synopsis.empty()) {
                ++report.outsideLength;
                continue;
            }
            kept.push_back(std::move(d));
        }
    }
    report.kept = static_cast<int64_t>(kept.size());

    // Siblings: the same first paragraph, or the same name stem.
    Groups groups(kept.size());
    std::map<std::string, size_t> byParagraph, byStem;
    for (size_t i = 0; i < kept.size(); ++i) {
        const std::string first = kept[i].longDescription.substr(0, kept[i].longDescription.find('\n'));
        for (auto [map, key] : {std::pair{&byParagraph, normalizedKey(first, 300)}, std::pair{&byStem, packageStem(kept[i].package)}}) {
            const auto [it, inserted] = map->emplace(key, i);
            if (!inserted)
                groups.join(i, it->second);
        }
    }
    std::vector<DatasetRecord> records;
    std::set<size_t> roots;
    for (size_t i = 0; i < kept.size(); ++i) {
        const size_t root = groups.find(i);
        roots.insert(root);
        records.push_back({kept[i].package, kept[i].longDescription, kept[i].synopsis, "", kept[root].package, ""});
    }
    report.groups = static_cast<int64_t>(roots.size());
    const auto splits = splitDataset(records, {options.seed, options.validationFraction, options.testFraction});
    report.train = static_cast<int64_t>(splits.train.size());
    report.validation = static_cast<int64_t>(splits.validation.size());
    report.test = static_cast<int64_t>(splits.test.size());

    std::error_code ec;
    std::filesystem::create_directories(outDir, ec);
    if (ec)
        throw Error(outDir.string() + ": cannot create directory: " + ec.message());
    for (const auto &[name, split] : {std::pair{"train", &splits.train}, {"validation", &splits.validation}, {"test", &splits.test}}) {
        std::string text;
        for (const auto &r : *split)
            text += toJson(r).dump() + "\n";
        writeLz4File(outDir / (std::string(name) + ".jsonl.lz4"), text);
    }
    nlohmann::json sources = nlohmann::json::array();
    for (const auto &input : inputs)
        sources.push_back({{"file", input.filename().string()}, {"bytes", std::filesystem::file_size(input)}});
    const nlohmann::json provenance = {
        {"source", "Debian's English package description index (Translation-en), fetched by apt-get update -o Acquire::Languages=en"},
        {"files", sources},
        {"task", "prompt = long description (paragraphs joined by newlines), reference = the package's one-line synopsis"},
        {"filters", {{"duplicate_long_descriptions", "kept once"}, {"min_words", options.minWords}, {"max_words", options.maxWords}}},
        {"grouping", "packages sharing a first paragraph or a name stem (suffixes -dev, -doc, -data, -common, ..., version digits) form one group"},
        {"split", {{"seed", options.seed}, {"validation", options.validationFraction}, {"test", options.testFraction}}},
        {"counts",
         {{"packages_read", report.packages}, {"duplicates_dropped", report.duplicatesDropped}, {"outside_length", report.outsideLength},
          {"kept", report.kept}, {"groups", report.groups}, {"train", report.train}, {"validation", report.validation},
          {"test", report.test}}},
        {"licence", "package descriptions are part of the Debian archive's package metadata; each is written by the package's maintainers"}};
    writeFileAtomically(outDir / "provenance.json", provenance.dump(2) + "\n");
    return report;
}

} // namespace plad
