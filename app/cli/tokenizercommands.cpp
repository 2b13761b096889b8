// plad tokenize, plad detokenize, plad tokenizer train, plad bench tokenizer.
#include "cli/clisupport.h"
#include "cli/commands.h"

#include "bench/tokenizerbenchmark.h"
#include "common/error.h"
#include "common/fileio.h"
#include "tokenizer/bpetrainer.h"
#include "tokenizer/tokenizer.h"

#include <iostream>
#include <memory>

namespace plad::cli {

void addTokenizerCommands(CLI::App &app)
{
    struct TokenizeArgs
    {
        std::string tokenizer;
        std::string text;
        std::string cases;
        bool addSpecial = false;
    };
    auto t = std::make_shared<TokenizeArgs>();
    auto *tokenize = app.add_subcommand("tokenize", "Encode text with a Hugging Face tokenizer.json; prints JSON ids");
    tokenize->add_option("--tokenizer", t->tokenizer, "tokenizer.json (or a directory holding one)")->required();
    auto *text = tokenize->add_option("--text", t->text, "text to encode");
    auto *cases = tokenize->add_option("--cases", t->cases, "JSON file with an array of strings; prints an array of id arrays");
    text->excludes(cases);
    tokenize->add_flag("--add-special", t->addSpecial, "add the special tokens the post-processor defines (e.g. BOS)");
    tokenize->callback([t, text, cases] {
        if (!text->count() && !cases->count())
            throw UsageError("tokenize needs --text or --cases");
        const Tokenizer tokenizer = Tokenizer::load(t->tokenizer);
        if (text->count()) {
            printJson({{"ids", tokenizer.encode(t->text, t->addSpecial)}});
            return;
        }
        const nlohmann::json doc = readJsonFile(t->cases);
        if (!doc.is_array())
            throw Error(t->cases + ": expected a JSON array of strings");
        nlohmann::json out = nlohmann::json::array();
        for (size_t i = 0; i < doc.size(); ++i) {
            if (!doc[i].is_string())
                throw Error(t->cases + ": element " + std::to_string(i) + " is not a string");
            out.push_back(tokenizer.encode(doc[i].get<std::string>(), t->addSpecial));
        }
        printJson(out);
    });

    struct DetokenizeArgs
    {
        std::string tokenizer;
        std::string ids;
        bool skipSpecial = false;
    };
    auto dt = std::make_shared<DetokenizeArgs>();
    auto *detokenize = app.add_subcommand("detokenize", "Decode token ids to text; prints JSON {\"text\": ...}");
    detokenize->add_option("--tokenizer", dt->tokenizer, "tokenizer.json (or a directory holding one)")->required();
    detokenize->add_option("--ids", dt->ids, "comma-separated token ids")->required();
    detokenize->add_flag("--skip-special", dt->skipSpecial, "leave special tokens out of the text");
    detokenize->callback([dt] {
        const Tokenizer tokenizer = Tokenizer::load(dt->tokenizer);
        printJson({{"text", tokenizer.decode(parseIdList(dt->ids, "--ids"), dt->skipSpecial)}});
    });

    auto *group = app.add_subcommand("tokenizer", "Train tokenizers");
    group->require_subcommand(1);
    struct TrainArgs
    {
        std::string corpus, out;
        BpeTrainerOptions options;
    };
    auto tr = std::make_shared<TrainArgs>();
    auto *train = group->add_subcommand("train", "Learn a byte-level BPE from a text corpus and write tokenizer.json");
    train->add_option("--corpus", tr->corpus, "UTF-8 text file, or JSONL with --fields (either may be .lz4)")->required();
    train->add_option("--vocab-size", tr->options.vocabSize, "vocabulary size, including bytes and special tokens")->required();
    train->add_option("--out", tr->out, "output directory")->required();
    train->add_option("--min-frequency", tr->options.minFrequency, "never merge pairs seen fewer times")->capture_default_str();
    train->add_option("--fields", tr->options.jsonFields, "the corpus is JSONL: learn from these fields' text")->delimiter(',');
    train->add_option("--special", tr->options.specialTokens, "special tokens, ids 0.. in order (first = BOS/EOS, second = padding)")
        ->capture_default_str();
    train->callback([tr] {
        const auto summary = trainByteLevelBpe(tr->corpus, tr->out, tr->options);
        printJson({{"tokenizer", (std::filesystem::path(tr->out) / "tokenizer.json").string()},
                   {"vocab_size", summary.vocabSize},
                   {"merges", summary.merges},
                   {"corpus_bytes", summary.corpusBytes},
                   {"distinct_words", summary.distinctWords}});
    });
}

void addTokenizerBenchmark(CLI::App &bench)
{
    struct Args
    {
        std::string tokenizer, corpus;
        double megabytes = 4.0;
    };
    auto a = std::make_shared<Args>();
    auto *cmd = bench.add_subcommand("tokenizer", "Tokenizer load time and encode/decode throughput on one thread");
    cmd->add_option("--tokenizer", a->tokenizer, "tokenizer.json to measure")->required();
    cmd->add_option("--corpus", a->corpus, "text to encode (default: English text from /usr/share/doc/*/copyright)");
    cmd->add_option("--megabytes", a->megabytes, "how much default text to gather")->capture_default_str();
    cmd->callback([a] {
        const auto r = runTokenizerBenchmark(a->tokenizer, a->corpus, a->megabytes);
        std::cout << "tokenizer: " << a->tokenizer << " (" << r.vocabSize << " ids), loaded in " << r.loadSeconds << " s\n"
                  << "corpus: " << r.corpusBytes / (1024.0 * 1024.0) << " MB from " << r.corpusSource << "\n"
                  << "encode: " << r.megabytesPerSecond << " MB/s (" << r.tokens << " tokens in " << r.encodeSeconds << " s, one thread)\n"
                  << "decode: " << r.decodeMegabytesPerSecond << " MB/s, round trip " << (r.roundTripExact ? "exact" : "NOT exact")
                  << "\n";
    });
}

} // namespace plad::cli
