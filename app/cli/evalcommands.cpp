// plad rouge: ROUGE-1/2/L of prediction/target pairs.
#include "cli/clisupport.h"
#include "cli/commands.h"

#include "common/error.h"
#include "eval/rouge.h"

#include <fstream>
#include <memory>

namespace plad::cli {

void addEvalCommands(CLI::App &app)
{
    struct Args
    {
        std::string pairs;
        bool stem = false;
    };
    auto a = std::make_shared<Args>();
    auto *rouge = app.add_subcommand("rouge", "ROUGE-1/2/L (rouge_score semantics) for {\"target\", \"prediction\"} JSONL lines");
    rouge->add_option("--pairs", a->pairs, "JSONL file, one {\"target\": ..., \"prediction\": ...} object per line")->required();
    rouge->add_flag("--stem", a->stem, "apply the Porter stemmer to tokens longer than three characters");
    rouge->callback([a] {
        std::ifstream in(a->pairs);
        if (!in)
            throw Error(a->pairs + ": cannot open");
        const RougeScorer scorer(a->stem);
        auto json = [](const RougeScore &s) { return nlohmann::json{{"p", s.precision}, {"r", s.recall}, {"f", s.f1}}; };
        std::string line;
        int64_t number = 0;
        while (std::getline(in, line)) {
            ++number;
            if (line.find_first_not_of(" \t\r") == std::string::npos)
                continue;
            nlohmann::json doc;
            try {
                doc = nlohmann::json::parse(line);
            } catch (const nlohmann::json::parse_error &e) {
                throw Error(a->pairs + ":" + std::to_string(number) + ": invalid JSON (" + e.what() + ")");
            }
            for (const char *field : {"target", "prediction"})
                if (!doc.is_object() || !doc.contains(field) || !doc[field].is_string())
                    throw Error(a->pairs + ":" + std::to_string(number) + ": missing string field \"" + field + "\"");
            const auto s = scorer.score(doc["target"].get<std::string>(), doc["prediction"].get<std::string>());
            printJson({{"rouge1", json(s.rouge1)}, {"rouge2", json(s.rouge2)}, {"rougeL", json(s.rougeL)}});
        }
    });
}

} // namespace plad::cli
