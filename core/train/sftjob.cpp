#include "train/sftjob.h"

#include "common/error.h"
#include "common/fileio.h"
#include "model/modelloader.h"
#include "tokenizer/tokenizer.h"

#include <set>

#include <torch/torch.h>

namespace plad {

namespace fs = std::filesystem;

namespace {

void checkKeys(const nlohmann::json &doc, const std::string &where, const std::set<std::string> &known)
{
    if (!doc.is_object())
        throw ConfigError(where + ": expected an object");
    for (auto it = doc.begin(); it != doc.end(); ++it)
        if (!known.count(it.key()))
            throw ConfigError((where.empty() ? "" : where + ".") + it.key() + ": unknown field");
}

template<typename T>
T get(const nlohmann::json &doc, const std::string &key, const std::string &where, T fallback)
{
    if (!doc.contains(key) || doc[key].is_null())
        return fallback;
    try {
        return doc[key].get<T>();
    } catch (const nlohmann::json::exception &) {
        throw ConfigError((where.empty() ? "" : where + ".") + key + ": wrong type, found " + doc[key].dump());
    }
}

fs::path pathField(const nlohmann::json &doc, const std::string &key, const std::string &where, const fs::path &base, bool required)
{
    const std::string value = get<std::string>(doc, key, where, "");
    if (value.empty()) {
        if (required)
            throw ConfigError((where.empty() ? "" : where + ".") + key + ": is required");
        return {};
    }
    const fs::path p(value);
    return p.is_absolute() ? p : base / p;
}

} // namespace

SftJobConfig SftJobConfig::fromJson(const nlohmann::json &doc, const fs::path &base)
{
    checkKeys(doc, "", {"version", "output", "tokenizer", "model", "data", "train", "device"});
    SftJobConfig c;
    c.raw = doc;
    if (get<int>(doc, "version", "", 1) != 1)
        throw ConfigError("version: only version 1 is understood");
    c.output = pathField(doc, "output", "", base, true);
    c.tokenizer = pathField(doc, "tokenizer", "", base, true);
    c.device = get<std::string>(doc, "device", "", "cpu");

    if (!doc.contains("model"))
        throw ConfigError("model: is required ({\"from\": DIR} or {\"scratch\": {...}})");
    const auto &model = doc["model"];
    checkKeys(model, "model", {"from", "scratch"});
    if (model.contains("from") == model.contains("scratch"))
        throw ConfigError("model: give exactly one of \"from\" (a Hugging Face directory) and \"scratch\" (a model shape)");
    if (model.contains("from")) {
        c.modelFrom = pathField(model, "from", "model", base, true);
    } else {
        const auto &s = model["scratch"];
        checkKeys(s, "model.scratch", {"style", "hidden_size", "layers", "heads", "kv_heads", "intermediate_size", "context_length",
                                       "tie_embeddings"});
        ScratchModelSpec spec;
        spec.style = get<std::string>(s, "style", "model.scratch", spec.style);
        spec.hiddenSize = get<int64_t>(s, "hidden_size", "model.scratch", spec.hiddenSize);
        spec.layers = get<int64_t>(s, "layers", "model.scratch", spec.layers);
        spec.heads = get<int64_t>(s, "heads", "model.scratch", spec.heads);
        spec.keyValueHeads = get<int64_t>(s, "kv_heads", "model.scratch", spec.keyValueHeads);
        spec.intermediateSize = get<int64_t>(s, "intermediate_size", "model.scratch", spec.intermediateSize);
        spec.contextLength = get<int64_t>(s, "context_length", "model.scratch", spec.contextLength);
        spec.tieEmbeddings = get<bool>(s, "tie_embeddings", "model.scratch", spec.tieEmbeddings);
        for (const auto &[name, value] : {std::pair<const char *, int64_t>{"hidden_size", spec.hiddenSize}, {"layers", spec.layers},
                                          {"heads", spec.heads}, {"context_length", spec.contextLength}})
            if (value <= 0)
                throw ConfigError(std::string("model.scratch.") + name + ": must be positive");
        if (spec.hiddenSize % spec.heads != 0)
            throw ConfigError("model.scratch.heads: must divide hidden_size");
        c.scratch = spec;
    }

    if (!doc.contains("data"))
        throw ConfigError("data: is required");
    const auto &data = doc["data"];
    checkKeys(data, "data", {"file", "format", "fields", "skip_bad_lines", "template", "split", "limits"});
    c.dataFile = pathField(data, "file", "data", base, true);
    c.import.format = parseDatasetFormat(get<std::string>(data, "format", "data", "jsonl"));
    c.import.skipBadLines = get<bool>(data, "skip_bad_lines", "data", false);
    if (data.contains("fields")) {
        const auto &f = data["fields"];
        checkKeys(f, "data.fields", {"prompt", "response", "id", "group"});
        c.import.fields.prompt = get<std::string>(f, "prompt", "data.fields", c.import.fields.prompt);
        c.import.fields.reference = get<std::string>(f, "response", "data.fields", c.import.fields.reference);
        c.import.fields.id = get<std::string>(f, "id", "data.fields", "");
        c.import.fields.group = get<std::string>(f, "group", "data.fields", "");
    }
    if (data.contains("template"))
        c.promptTemplate = PromptTemplate::fromJson(data["template"], "data.template");
    if (data.contains("split")) {
        const auto &s = data["split"];
        checkKeys(s, "data.split", {"seed", "validation", "test"});
        c.split.seed = get<uint64_t>(s, "seed", "data.split", 0);
        c.split.validationFraction = get<double>(s, "validation", "data.split", c.split.validationFraction);
        c.split.testFraction = get<double>(s, "test", "data.split", c.split.testFraction);
    }
    if (c.split.validationFraction < 0 || c.split.testFraction < 0 || c.split.validationFraction + c.split.testFraction >= 1)
        throw ConfigError("data.split: validation and test must be non-negative and sum to less than 1");
    c.limits.contextLength = 0;
    if (data.contains("limits")) {
        const auto &l = data["limits"];
        checkKeys(l, "data.limits", {"context_length", "max_prompt_tokens", "max_response_tokens", "prompt_keep"});
        c.limits.contextLength = get<int64_t>(l, "context_length", "data.limits", 0);
        c.limits.maxPromptTokens = get<int64_t>(l, "max_prompt_tokens", "data.limits", c.limits.maxPromptTokens);
        c.limits.maxResponseTokens = get<int64_t>(l, "max_response_tokens", "data.limits", c.limits.maxResponseTokens);
        c.limits.promptKeep = get<std::string>(l, "prompt_keep", "data.limits", c.limits.promptKeep);
    }
    if (c.limits.maxPromptTokens <= 0 || c.limits.maxResponseTokens <= 0 || c.limits.contextLength < 0)
        throw ConfigError("data.limits: token limits must be positive");
    if (c.limits.promptKeep != "start" && c.limits.promptKeep != "end")
        throw ConfigError("data.limits.prompt_keep: must be \"start\" or \"end\"");
    c.train = TrainingOptions::fromJson(doc.value("train", nlohmann::json()), "train");
    return c;
}

SftJobConfig SftJobConfig::load(const fs::path &file)
{
    try {
        return fromJson(readJsonFile(file), file.parent_path());
    } catch (const ConfigError &e) {
        throw ConfigError(file.string() + ": " + e.what());
    }
}

SftJobResult runSftJob(const SftJobConfig &config, bool resume, JobContext *context,
                       const std::function<void(const TrainingPoint &)> &onPoint, const std::function<void(const std::string &)> &log)
{
    auto say = [&](const std::string &line) {
        if (log)
            log(line);
    };
    const Tokenizer tokenizer = Tokenizer::load(config.tokenizer);
    const auto imported = importDataset(config.dataFile, config.import);
    say("imported " + std::to_string(imported.report.imported) + " records (" + std::to_string(imported.report.skippedBadLines)
        + " bad lines skipped, " + std::to_string(imported.report.duplicatesRemoved) + " duplicates removed)");
    const auto splits = splitDataset(imported.records, config.split);
    if (splits.train.empty())
        throw Error("the training split is empty; lower data.split.validation/test or add data");

    torch::manual_seed(config.train.seed);
    CausalLM model;
    if (config.scratch) {
        ScratchModelSpec spec = *config.scratch;
        spec.vocabSize = tokenizer.vocabSize();
        spec.bosTokenId = tokenizer.specialTokens().bos.value_or(0);
        spec.eosTokenId = tokenizer.specialTokens().eos.value_or(0);
        model = createModel(scratchModelConfig(spec), config.train.seed);
    } else {
        LoadOptions options;
        options.device = config.device;
        model = loadModel(config.modelFrom, options).model;
        if (model->config().vocabSize < tokenizer.vocabSize())
            throw Error("the tokenizer has " + std::to_string(tokenizer.vocabSize()) + " tokens but the model's vocabulary only "
                        + std::to_string(model->config().vocabSize));
    }
    EncodingLimits limits = config.limits;
    if (limits.contextLength == 0 || limits.contextLength > model->config().maxPositions)
        limits.contextLength = model->config().maxPositions;
    const auto train = encodeExamples(splits.train, tokenizer, config.promptTemplate, limits);
    const auto validation = encodeExamples(splits.validation, tokenizer, config.promptTemplate, limits);

    SftJobResult result;
    result.trainExamples = static_cast<int64_t>(train.examples.size());
    result.validationExamples = static_cast<int64_t>(validation.examples.size());
    result.testExamples = static_cast<int64_t>(splits.test.size());
    result.truncatedPrompts = train.truncatedPrompts + validation.truncatedPrompts;
    result.truncatedResponses = train.truncatedResponses + validation.truncatedResponses;
    say("split: " + std::to_string(result.trainExamples) + " train, " + std::to_string(result.validationExamples) + " validation, "
        + std::to_string(result.testExamples) + " test; " + std::to_string(result.truncatedPrompts) + " prompts and "
        + std::to_string(result.truncatedResponses) + " responses truncated");

    std::error_code ec;
    fs::create_directories(config.output, ec);
    if (ec)
        throw Error(config.output.string() + ": cannot create output directory: " + ec.message());
    writeFileAtomically(config.output / "sft_config.json", config.raw.dump(2) + "\n");
    nlohmann::json splitIds = {{"train", nlohmann::json::array()}, {"validation", nlohmann::json::array()}, {"test", nlohmann::json::array()}};
    for (const auto &[name, split] : {std::pair{"train", &splits.train}, {"validation", &splits.validation}, {"test", &splits.test}})
        for (const auto &r : *split)
            splitIds[name].push_back(r.id);
    writeFileAtomically(config.output / "splits.json", splitIds.dump() + "\n");

    SftTrainer trainer(model, train.examples, validation.examples, config.train, config.output);
    result.training = trainer.run(context, onPoint, resume);
    if (result.training.stopReason == "completed") {
        result.modelDirectory = config.output / "model";
        saveModel(*model, result.modelDirectory);
        config.promptTemplate.saveTo(result.modelDirectory);
        for (const char *file : {"tokenizer.json", "tokenizer_config.json"}) {
            const fs::path source = fs::is_directory(config.tokenizer) ? config.tokenizer / file : config.tokenizer.parent_path() / file;
            if (fs::exists(source))
                fs::copy_file(source, result.modelDirectory / file, fs::copy_options::overwrite_existing);
        }
    }
    return result;
}

} // namespace plad
