// plad data inspect: import a dataset file and summarise it.
#include "cli/clisupport.h"
#include "cli/commands.h"

#include "data/dataset.h"
#include "data/debiandescriptions.h"
#include "tokenizer/tokenizer.h"

#include <memory>
#include <optional>

namespace plad::cli {

void addDataCommands(CLI::App &app)
{
    auto *data = app.add_subcommand("data", "Import and inspect datasets");
    data->require_subcommand(1);
    struct Args
    {
        std::string file, format = "jsonl", tokenizer;
        ImportOptions options;
        SplitOptions split;
        int examples = 2;
    };
    struct DemoArgs
    {
        std::vector<std::string> inputs;
        std::string out;
        DemoDataOptions options;
    };
    auto d = std::make_shared<DemoArgs>();
    auto *debian = data->add_subcommand(
        "debian-descriptions", "Build the demo summarization task (long description -> synopsis) from Debian's Translation-en index");
    debian->add_option("--translation", d->inputs, "Translation-en files (plain or .lz4), e.g. from /var/lib/apt/lists")->required();
    debian->add_option("--out", d->out, "output directory")->required();
    debian->add_option("--min-words", d->options.minWords, "shortest long description kept")->capture_default_str();
    debian->add_option("--max-words", d->options.maxWords, "longest long description kept")->capture_default_str();
    debian->add_option("--seed", d->options.seed, "split seed")->capture_default_str();
    debian->add_option("--validation", d->options.validationFraction, "validation fraction")->capture_default_str();
    debian->add_option("--test", d->options.testFraction, "test fraction")->capture_default_str();
    debian->callback([d] {
        std::vector<std::filesystem::path> inputs(d->inputs.begin(), d->inputs.end());
        const auto r = buildDebianSummarizationData(inputs, d->out, d->options);
        printJson({{"out", d->out}, {"packages_read", r.packages}, {"duplicates_dropped", r.duplicatesDropped},
                   {"outside_length", r.outsideLength}, {"kept", r.kept}, {"groups", r.groups}, {"train", r.train},
                   {"validation", r.validation}, {"test", r.test}});
    });

    auto a = std::make_shared<Args>();
    auto *inspect = data->add_subcommand("inspect", "Import FILE, report counts, lengths, a histogram, the split and examples (JSON)");
    inspect->add_option("FILE", a->file, "dataset file (.jsonl or .json array, optionally .gz/.zst/.lz4)")->required();
    addDatasetOptions(inspect, a->format, a->options);
    inspect->add_option("--tokenizer", a->tokenizer, "measure lengths in tokens of this tokenizer.json instead of words");
    inspect->add_option("--seed", a->split.seed, "split seed")->capture_default_str();
    inspect->add_option("--validation", a->split.validationFraction, "validation fraction")->capture_default_str();
    inspect->add_option("--test", a->split.testFraction, "test fraction")->capture_default_str();
    inspect->add_option("--examples", a->examples, "records to show")->capture_default_str();
    inspect->callback([a] {
        applyDatasetFormat(a->format, a->options);
        const auto imported = importDataset(a->file, a->options);
        std::optional<Tokenizer> tokenizer;
        DatasetSummary summary;
        if (!a->tokenizer.empty()) {
            tokenizer = Tokenizer::load(a->tokenizer);
            summary = summarize(imported.records, "tokens", [](const std::string &text, const void *t) {
                return static_cast<int64_t>(static_cast<const Tokenizer *>(t)->encode(text).size());
            }, &*tokenizer);
        } else {
            summary = summarize(imported.records);
        }
        const auto splits = splitDataset(imported.records, a->split);
        nlohmann::json examples = nlohmann::json::array();
        for (int i = 0; i < a->examples && i < static_cast<int>(imported.records.size()); ++i)
            examples.push_back(toJson(imported.records[static_cast<size_t>(i)]));
        printJson({{"file", a->file},
                   {"format", toString(a->options.format)},
                   {"import",
                    {{"lines", imported.report.lines},
                     {"imported", imported.report.imported},
                     {"conversational", imported.report.conversational},
                     {"formats", imported.report.formats},
                     {"skipped_bad_lines", imported.report.skippedBadLines},
                     {"duplicates_removed", imported.report.duplicatesRemoved},
                     {"problems", imported.report.problems}}},
                   {"summary", toJson(summary)},
                   {"split",
                    {{"seed", a->split.seed},
                     {"train", splits.train.size()},
                     {"validation", splits.validation.size()},
                     {"test", splits.test.size()}}},
                   {"examples", examples}});
    });
}

} // namespace plad::cli
