#include "train/dataconfig.h"

#include "common/fileio.h"

#include <nlohmann/json.hpp>

namespace plad {

DataConfig DataConfig::fromConfig(const ConfigReader &data)
{
    DataConfig c;
    c.limits.contextLength = 0;
    data.allowOnly({"file", "format", "fields", "skip_bad_lines", "template", "split", "limits"});
    c.file = data.path("file", true);
    const std::string format = data.get<std::string>("format", "jsonl");
    try {
        c.import.format = parseDatasetFormat(format);
    } catch (const ConfigError &) {
        std::string names;
        const auto all = datasetFormatNames();
        for (size_t i = 0; i < all.size(); ++i)
            names += (i == 0 ? "" : i + 1 == all.size() ? " or " : ", ") + ("\"" + all[i] + "\"");
        data.fail("format", "must be " + names + ", found \"" + format + "\"");
    }
    data.read("skip_bad_lines", c.import.skipBadLines);
    const ConfigReader fields = data.child("fields");
    fields.allowOnly({"prompt", "response", "id", "group"});
    fields.read("prompt", c.import.fields.prompt);
    fields.read("response", c.import.fields.reference);
    fields.read("id", c.import.fields.id);
    fields.read("group", c.import.fields.group);
    if (data.has("template"))
        c.promptTemplate = PromptTemplate::fromJson(data.json()["template"], data.where("template"), data.base());
    const ConfigReader split = data.child("split");
    split.allowOnly({"seed", "validation", "test"});
    split.read("seed", c.split.seed);
    split.read("validation", c.split.validationFraction);
    split.read("test", c.split.testFraction);
    if (c.split.validationFraction < 0 || c.split.testFraction < 0 || c.split.validationFraction + c.split.testFraction >= 1)
        throw ConfigError(data.where("split") + ": validation and test must be non-negative and sum to less than 1");
    const ConfigReader limits = data.child("limits");
    limits.allowOnly({"context_length", "max_prompt_tokens", "max_response_tokens", "prompt_keep"});
    limits.read("context_length", c.limits.contextLength);
    limits.read("max_prompt_tokens", c.limits.maxPromptTokens);
    limits.read("max_response_tokens", c.limits.maxResponseTokens);
    c.limits.promptKeep = parseEnum<PromptKeep>(promptKeepNames, limits.get<std::string>("prompt_keep", "start"), limits.where("prompt_keep"));
    if (c.limits.contextLength < 0)
        limits.fail("context_length", "must not be negative (0 = the model's context)");
    if (c.limits.maxPromptTokens <= 0)
        limits.fail("max_prompt_tokens", "must be positive");
    if (c.limits.maxResponseTokens <= 0)
        limits.fail("max_response_tokens", "must be positive");
    return c;
}

nlohmann::json DataConfig::toJson() const
{
    // Empty id and group fields mean "the line number" and "the id".
    const nlohmann::json fields = {{"prompt", import.fields.prompt}, {"response", import.fields.reference}, {"id", import.fields.id},
                                   {"group", import.fields.group}};
    nlohmann::json doc = {
        {"file", absolutePathText(file)},
        {"format", toString(import.format)},
        {"fields", fields},
        {"skip_bad_lines", import.skipBadLines},
        {"split", {{"seed", split.seed}, {"validation", split.validationFraction}, {"test", split.testFraction}}},
        {"limits",
         {{"context_length", limits.contextLength}, {"max_prompt_tokens", limits.maxPromptTokens},
          {"max_response_tokens", limits.maxResponseTokens}, {"prompt_keep", enumName<PromptKeep>(promptKeepNames, limits.promptKeep)}}}};
    if (promptTemplate)
        doc["template"] = promptTemplate->toJson();
    return doc;
}

} // namespace plad
