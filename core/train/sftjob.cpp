#include "train/sftjob.h"

#include "common/crashpoint.h"

#include "train/sfttrainer.h"

#include "common/configreader.h"
#include "common/error.h"
#include "common/fileio.h"
#include "train/dataconfig.h"
#include "model/modelloader.h"
#include "tokenizer/tokenizer.h"


#include <torch/torch.h>

namespace plad {

namespace fs = std::filesystem;


SftJobConfig SftJobConfig::fromJson(const nlohmann::json &doc, const fs::path &base)
{
    const ConfigReader top(doc, "", base);
    top.allowOnly({"version", "output", "tokenizer", "model", "data", "train", "device", "objective"});
    SftJobConfig c;
    c.raw = doc;
    if (top.get<int64_t>("version", 1) != 1)
        top.fail("version", "only version 1 is understood");
    c.output = top.path("output", true);
    c.tokenizer = top.path("tokenizer", true);
    top.read("device", c.device);
    top.read("objective", c.objective);
    if (c.objective != "response" && c.objective != "all_tokens")
        top.fail("objective", "must be \"response\" or \"all_tokens\", not \"" + c.objective + "\"");

    if (!top.has("model"))
        top.fail("model", "is required ({\"from\": DIR} or {\"scratch\": {...}})");
    const ConfigReader model = top.child("model");
    model.allowOnly({"from", "scratch"});
    if (model.has("from") == model.has("scratch"))
        throw ConfigError("model: give exactly one of \"from\" (a Hugging Face directory) and \"scratch\" (a model shape)");
    if (model.has("from"))
        c.modelFrom = model.path("from", true);
    else
        c.scratch = ScratchModelSpec::fromConfig(model.child("scratch"));

    if (!top.has("data"))
        top.fail("data", "is required");
    const DataConfig data = DataConfig::fromConfig(top.child("data"));
    c.dataFile = data.file;
    c.import = data.import;
    // docs/chat-templates.md: data.template, else the model's own format, else the tokenizer's chat template, else plain.
    c.promptTemplate = PromptTemplate::resolve(data.promptTemplate, c.modelFrom, PromptTemplate::ownOf(c.tokenizer));
    c.split = data.split;
    c.limits = data.limits;
    nlohmann::json train = doc.value("train", nlohmann::json());
    if (train.is_object() && train.contains("stop_after")) {
        const auto &value = train["stop_after"];
        if (!value.is_number_integer() || value.get<int64_t>() < 0)
            throw ConfigError("train.stop_after: must be a non-negative integer (0: train to max_steps), found " + value.dump());
        c.stopAfter = value.get<int64_t>();
        train.erase("stop_after");
    }
    c.train = TrainingOptions::fromJson(train, "train");
    return c;
}

SftJobConfig SftJobConfig::load(const fs::path &file)
{
    try {
        return fromJson(readJsonFile(file), file.parent_path());
    } catch (...) {
        rethrowForConfigFile(file);
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
    auto train = encodeExamples(splits.train, tokenizer, config.promptTemplate, limits);
    auto validation = encodeExamples(splits.validation, tokenizer, config.promptTemplate, limits);
    if (config.objective == "all_tokens") {
        // Language modelling on the whole text: the first token is the only context, every
        // later token (prompt, template and response) is predicted.
        toLanguageModelling(train.examples);
        toLanguageModelling(validation.examples);
        say("objective all_tokens: the loss covers every token after the first");
    }

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
    result.training = trainer.run(context, onPoint, resume, config.stopAfter);
    if (result.training.stop == TrainStop::Completed) {
        result.modelDirectory = config.output / "model";
        saveModel(*model, result.modelDirectory);
        crashPoint("sft.export");
        config.promptTemplate.exportTo(config.tokenizer, result.modelDirectory);
    }
    return result;
}

} // namespace plad
