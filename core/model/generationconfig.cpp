#include "model/generationconfig.h"

#include "common/error.h"
#include "common/fileio.h"
#include "model/modelconfig.h"

namespace plad {

GenerationDefaults GenerationDefaults::parse(const nlohmann::json &doc, const std::string &source)
{
    if (!doc.is_object())
        throw FormatError(source + ": expected a JSON object");
    GenerationDefaults g;
    g.raw = doc;
    const JsonFieldReader reader(doc, source);
    g.eosTokenIds = reader.intOrIntList("eos_token_id");
    auto number = [&](const char *field) -> std::optional<double> {
        if (!doc.contains(field) || doc[field].is_null())
            return std::nullopt;
        if (!doc[field].is_number())
            reader.fail(field, "must be a number, found " + doc[field].dump());
        return doc[field].get<double>();
    };
    auto integer = [&](const char *field) -> std::optional<int64_t> {
        if (!doc.contains(field) || doc[field].is_null())
            return std::nullopt;
        if (!doc[field].is_number_integer())
            reader.fail(field, "must be an integer, found " + doc[field].dump());
        return doc[field].get<int64_t>();
    };
    if (doc.contains("do_sample") && !doc["do_sample"].is_null()) {
        if (!doc["do_sample"].is_boolean())
            reader.fail("do_sample", "must be true or false, found " + doc["do_sample"].dump());
        g.doSample = doc["do_sample"].get<bool>();
    }
    g.temperature = number("temperature");
    g.topP = number("top_p");
    g.topK = integer("top_k");
    g.repetitionPenalty = number("repetition_penalty");
    g.maxNewTokens = integer("max_new_tokens");
    if (g.temperature && *g.temperature < 0)
        reader.fail("temperature", "must not be negative");
    if (g.topP && !(*g.topP > 0 && *g.topP <= 1))
        reader.fail("top_p", "must be in (0, 1]");
    if (g.topK && *g.topK < 0)
        reader.fail("top_k", "must not be negative");
    if (g.repetitionPenalty && *g.repetitionPenalty <= 0)
        reader.fail("repetition_penalty", "must be positive");
    if (g.maxNewTokens && *g.maxNewTokens < 1)
        reader.fail("max_new_tokens", "must be positive");
    return g;
}

GenerationDefaults GenerationDefaults::load(const std::filesystem::path &directory)
{
    const auto file = directory / "generation_config.json";
    if (!std::filesystem::exists(file))
        return {};
    return parse(readJsonFile(file), file.string());
}

SamplingOptions GenerationDefaults::sampling() const
{
    SamplingOptions s;
    // transformers samples only when do_sample is true; its defaults are then temperature 1,
    // top_p 1 and top_k 50.
    s.greedy = !doSample.value_or(false);
    if (!s.greedy) {
        s.temperature = temperature.value_or(1.0) > 0 ? temperature.value_or(1.0) : 1.0;
        s.topP = topP.value_or(1.0);
        s.topK = topK.value_or(50);
    }
    s.repetitionPenalty = repetitionPenalty.value_or(1.0);
    return s;
}

} // namespace plad
