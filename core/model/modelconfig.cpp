#include "model/modelconfig.h"

#include "common/error.h"
#include "common/fileio.h"
#include "model/architectureregistry.h"

namespace plad {

JsonFieldReader::JsonFieldReader(const nlohmann::json &doc, std::string source)
    : mDoc(doc)
    , mSource(std::move(source))
{}

bool JsonFieldReader::has(const std::string &field) const
{
    return mDoc.contains(field) && !mDoc[field].is_null();
}

void JsonFieldReader::fail(const std::string &field, const std::string &problem) const
{
    throw ConfigError(mSource + ": field \"" + field + "\" " + problem);
}

int64_t JsonFieldReader::positiveInt(const std::string &field) const
{
    if (!has(field))
        fail(field, "is required");
    const auto &v = mDoc[field];
    if (!v.is_number_integer() || v.get<int64_t>() <= 0)
        fail(field, "must be a positive integer, found " + v.dump());
    return v.get<int64_t>();
}

int64_t JsonFieldReader::positiveInt(const std::string &field, int64_t fallback) const
{
    return has(field) ? positiveInt(field) : fallback;
}

double JsonFieldReader::positiveNumber(const std::string &field, double fallback) const
{
    if (!has(field))
        return fallback;
    const auto &v = mDoc[field];
    if (!v.is_number() || v.get<double>() <= 0)
        fail(field, "must be a positive number, found " + v.dump());
    return v.get<double>();
}

bool JsonFieldReader::boolean(const std::string &field, bool fallback) const
{
    if (!has(field))
        return fallback;
    const auto &v = mDoc[field];
    if (!v.is_boolean())
        fail(field, "must be true or false, found " + v.dump());
    return v.get<bool>();
}

std::string JsonFieldReader::string(const std::string &field, const std::string &fallback) const
{
    if (!has(field))
        return fallback;
    const auto &v = mDoc[field];
    if (!v.is_string())
        fail(field, "must be a string, found " + v.dump());
    return v.get<std::string>();
}

std::optional<int64_t> JsonFieldReader::optionalInt(const std::string &field) const
{
    if (!has(field))
        return std::nullopt;
    const auto &v = mDoc[field];
    if (!v.is_number_integer() || v.get<int64_t>() < 0)
        fail(field, "must be a non-negative integer, found " + v.dump());
    return v.get<int64_t>();
}

std::vector<int64_t> JsonFieldReader::intOrIntList(const std::string &field) const
{
    if (!has(field))
        return {};
    const auto &v = mDoc[field];
    std::vector<int64_t> out;
    if (v.is_number_integer() && v.get<int64_t>() >= 0) {
        out.push_back(v.get<int64_t>());
        return out;
    }
    if (v.is_array()) {
        for (const auto &item : v) {
            if (!item.is_number_integer() || item.get<int64_t>() < 0)
                fail(field, "must be a token id or a list of token ids, found " + v.dump());
            out.push_back(item.get<int64_t>());
        }
        return out;
    }
    fail(field, "must be a token id or a list of token ids, found " + v.dump());
}

int64_t ModelConfig::parameterCount() const
{
    const int64_t C = hiddenSize;
    const int64_t embed = vocabSize * C;
    const int64_t head = tieWordEmbeddings ? 0 : vocabSize * C;
    int64_t perLayer = 0;
    if (modelType == "gpt2") {
        perLayer = 2 * 2 * C                       // ln_1, ln_2
                   + C * 3 * C + 3 * C             // c_attn
                   + C * C + C                     // attn c_proj
                   + C * intermediateSize + intermediateSize // c_fc
                   + intermediateSize * C + C;     // mlp c_proj
        return embed + maxPositions * C + numLayers * perLayer + 2 * C + head;
    }
    const int64_t q = numHeads * headDim;
    const int64_t kv = numKeyValueHeads * headDim;
    perLayer = C * q + 2 * C * kv + q * C          // q, k, v, o projections
               + (qkvBias ? q + 2 * kv : 0) + (outputBias ? C : 0)
               + 3 * C * intermediateSize + (mlpBias ? 2 * intermediateSize + C : 0)
               + 2 * C                             // two RMSNorms
               + (qkNorm ? 2 * headDim : 0);
    return embed + numLayers * perLayer + C + head;
}

ModelConfig parseModelConfig(const nlohmann::json &doc, const std::string &source)
{
    if (!doc.is_object())
        throw ConfigError(source + ": expected a JSON object");
    JsonFieldReader reader(doc, source);
    const std::string type = reader.string("model_type", "");
    if (type.empty())
        reader.fail("model_type", "is required (e.g. \"gpt2\", \"llama\", \"qwen2\")");
    const Architecture *arch = findArchitecture(type);
    if (!arch) {
        std::string list;
        for (const auto &name : supportedModelTypes())
            list += (list.empty() ? "" : ", ") + name;
        throw ConfigError(source + ": model_type \"" + type + "\" is not supported; supported types: " + list);
    }
    ModelConfig config;
    config.modelType = type;
    config.raw = doc;
    config.bosTokenId = reader.optionalInt("bos_token_id");
    config.eosTokenIds = reader.intOrIntList("eos_token_id");
    config.padTokenId = reader.optionalInt("pad_token_id");
    config.torchDtype = reader.string("torch_dtype", "float32");
    arch->parseConfig(reader, config);

    if (config.numKeyValueHeads <= 0 || config.numHeads % config.numKeyValueHeads != 0)
        reader.fail("num_key_value_heads", "must divide the number of attention heads (" + std::to_string(config.numHeads) + ")");
    if (config.headDim % 2 != 0 && config.modelType != "gpt2")
        reader.fail("head_dim", "must be even for rotary embeddings, found " + std::to_string(config.headDim));
    return config;
}

ModelConfig loadModelConfig(const std::filesystem::path &path)
{
    ModelConfig config = parseModelConfig(readJsonFile(path), path.string());
    config.generation = GenerationDefaults::load(path.parent_path());
    return config;
}

std::vector<std::string> supportedModelTypes()
{
    std::vector<std::string> names;
    for (const auto &arch : architectures())
        names.push_back(arch.modelType);
    return names;
}

} // namespace plad
