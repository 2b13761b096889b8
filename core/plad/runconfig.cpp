#include "plad/runconfig.h"

#include "common/configreader.h"
#include "common/fileio.h"

namespace plad {

namespace fs = std::filesystem;

namespace {

constexpr DistillMethod allMethods[] = {DistillMethod::Plad, DistillMethod::PladLogistic, DistillMethod::Sft,
                                        DistillMethod::SeqKd, DistillMethod::WordKd, DistillMethod::Dpo};

std::string absoluteText(const fs::path &p)
{
    return p.empty() ? std::string() : fs::absolute(p).lexically_normal().string();
}

SideSampling readSide(const ConfigReader &r)
{
    r.allowOnly({"greedy", "temperature", "top_p", "top_k", "repetition_penalty", "seed", "max_new_tokens"});
    SideSampling side;
    side.sampling.greedy = false;
    r.read("greedy", side.sampling.greedy);
    r.read("temperature", side.sampling.temperature);
    r.read("top_p", side.sampling.topP);
    r.read("top_k", side.sampling.topK);
    r.read("repetition_penalty", side.sampling.repetitionPenalty);
    r.read("seed", side.sampling.seed);
    r.read("max_new_tokens", side.maxNewTokens);
    if (side.maxNewTokens < 0)
        r.fail("max_new_tokens", "must not be negative");
    try {
        validate(side.sampling);
    } catch (const ConfigError &e) {
        throw ConfigError(r.location() + ": " + e.what());
    }
    return side;
}

nlohmann::json sideJson(const SideSampling &s)
{
    return {{"greedy", s.sampling.greedy}, {"temperature", s.sampling.temperature}, {"top_p", s.sampling.topP},
            {"top_k", s.sampling.topK}, {"repetition_penalty", s.sampling.repetitionPenalty}, {"seed", s.sampling.seed},
            {"max_new_tokens", s.maxNewTokens}};
}

OpenAiEndpoint readEndpoint(const ConfigReader &r)
{
    OpenAiEndpoint e;
    r.read("base_url", e.baseUrl);
    r.read("model", e.model);
    r.read("api_key_env", e.apiKeyEnv);
    r.read("chat", e.chat);
    r.read("concurrency", e.concurrency);
    r.read("timeout_seconds", e.timeoutSeconds);
    r.read("max_retries", e.maxRetries);
    r.read("backoff_seconds", e.backoffSeconds);
    if (!r.has("base_url"))
        r.fail("base_url", "is required for an http endpoint (e.g. \"http://127.0.0.1:8000/v1\")");
    e.validate(r.location());
    return e;
}

LlmJudgeConfig readLlmJudge(const ConfigReader &llm)
{
    LlmJudgeConfig config;
    llm.read("type", config.type);
    llm.read("instructions", config.instructions);
    if (config.type == "local") {
        llm.allowOnly({"type", "model", "instructions"});
        config.model = llm.path("model", true);
    } else if (config.type == "http") {
        llm.allowOnly({"type", "base_url", "model", "api_key_env", "chat", "concurrency", "timeout_seconds", "max_retries",
                       "backoff_seconds", "instructions"});
        config.endpoint = readEndpoint(llm);
    } else {
        llm.fail("type", "must be \"local\" or \"http\", found \"" + config.type + "\"");
    }
    for (const char *slot : {"{prompt}", "{a}", "{b}"})
        if (config.instructions.find(slot) == std::string::npos)
            llm.fail("instructions", std::string("must contain ") + slot);
    return config;
}

nlohmann::json endpointJson(const OpenAiEndpoint &e)
{
    // The key itself is never stored: only the name of the variable that holds it.
    return {{"base_url", e.baseUrl}, {"model", e.model}, {"api_key_env", e.apiKeyEnv}, {"chat", e.chat},
            {"concurrency", e.concurrency}, {"timeout_seconds", e.timeoutSeconds}, {"max_retries", e.maxRetries},
            {"backoff_seconds", e.backoffSeconds}};
}

TeacherConfig readTeacher(const ConfigReader &r)
{
    TeacherConfig t;
    r.read("type", t.type);
    if (t.type == "local") {
        r.allowOnly({"type", "model", "template", "score_outputs"});
        t.model = r.path("model", true);
        r.read("score_outputs", t.scoreOutputs);
    } else if (t.type == "http") {
        r.allowOnly({"type", "base_url", "model", "api_key_env", "chat", "concurrency", "timeout_seconds", "max_retries",
                     "backoff_seconds", "template"});
        t.endpoint = readEndpoint(r);
        t.scoreOutputs = false;
    } else if (t.type == "jsonl") {
        r.allowOnly({"type", "file", "id_field", "output_field"});
        t.file = r.path("file", true);
        r.read("id_field", t.idField);
        r.read("output_field", t.outputField);
        t.scoreOutputs = false;
    } else {
        r.fail("type", "must be \"local\", \"http\" or \"jsonl\", found \"" + t.type + "\"");
    }
    if (r.has("template"))
        t.promptTemplate = PromptTemplate::fromJson(r.json()["template"], r.where("template"));
    return t;
}

} // namespace

std::string toString(DistillMethod method)
{
    switch (method) {
    case DistillMethod::Plad: return "plad";
    case DistillMethod::PladLogistic: return "plad-logistic";
    case DistillMethod::Sft: return "sft";
    case DistillMethod::SeqKd: return "seqkd";
    case DistillMethod::WordKd: return "word-kd";
    case DistillMethod::Dpo: return "dpo";
    }
    return "?";
}

DistillMethod parseDistillMethod(const std::string &name, const std::string &where)
{
    for (auto m : allMethods)
        if (toString(m) == name)
            return m;
    throw ConfigError(where + ": unknown method \"" + name + "\" (plad, plad-logistic, sft, seqkd, word-kd or dpo)");
}

bool usesPairs(DistillMethod method)
{
    return method == DistillMethod::Plad || method == DistillMethod::PladLogistic || method == DistillMethod::Dpo;
}

bool usesTeacherOutputs(DistillMethod method)
{
    return usesPairs(method) || method == DistillMethod::SeqKd;
}

RunConfig RunConfig::fromJson(const nlohmann::json &doc, const fs::path &base)
{
    const ConfigReader top(doc, "", base);
    top.allowOnly({"version", "name", "method", "seed", "device", "student", "teacher", "data", "pairs", "labeling", "loss", "refresh",
                   "eval", "train"});
    if (top.get<int64_t>("version", 1) != 1)
        top.fail("version", "only version 1 is understood");
    RunConfig c;
    top.read("name", c.name);
    c.method = parseDistillMethod(top.get<std::string>("method", "plad"), "method");
    top.read("seed", c.seed);
    top.read("device", c.device);

    if (!top.has("student"))
        top.fail("student", "is required ({\"model\": DIR})");
    const ConfigReader student = top.child("student");
    student.allowOnly({"model", "template"});
    c.student = student.path("model", true);
    if (student.has("template"))
        c.studentTemplate = PromptTemplate::fromJson(student.json()["template"], "student.template");

    if (top.has("teacher"))
        c.teacher = readTeacher(top.child("teacher"));
    else if (usesTeacherOutputs(c.method) || c.method == DistillMethod::WordKd)
        top.fail("teacher", "is required for method " + toString(c.method));
    if (c.method == DistillMethod::WordKd && c.teacher && c.teacher->type != "local")
        throw ConfigError("teacher.type: word-kd needs the teacher's token distributions, so the teacher must be \"local\" (found \""
                          + c.teacher->type + "\"); seqkd and plad need only its text");

    if (!top.has("data"))
        top.fail("data", "is required");
    c.data = DataConfig::fromConfig(top.child("data"));

    const ConfigReader pairs = top.child("pairs");
    pairs.allowOnly({"per_prompt", "prompts", "batch_size", "teacher", "student"});
    pairs.read("per_prompt", c.pairs.perPrompt);
    pairs.read("prompts", c.pairs.prompts);
    pairs.read("batch_size", c.pairs.batchSize);
    if (c.pairs.perPrompt < 1 || c.pairs.perPrompt > 16)
        pairs.fail("per_prompt", "must be in [1, 16]");
    if (c.pairs.prompts < 0)
        pairs.fail("prompts", "must not be negative (0 = the whole training split)");
    if (c.pairs.batchSize < 1)
        pairs.fail("batch_size", "must be positive");
    c.pairs.teacher = readSide(pairs.child("teacher"));
    c.pairs.student = readSide(pairs.child("student"));

    const ConfigReader labeling = top.child("labeling");
    labeling.allowOnly({"policy", "judge", "llm", "min_gap", "drop_identical"});
    labeling.read("policy", c.labeling.policy);
    labeling.read("judge", c.labeling.judge);
    labeling.read("min_gap", c.labeling.minGap);
    labeling.read("drop_identical", c.labeling.dropIdentical);
    if (c.labeling.policy != "teacher-preferred" && c.labeling.policy != "judge")
        labeling.fail("policy", "must be \"teacher-preferred\" or \"judge\", found \"" + c.labeling.policy + "\"");
    if (c.labeling.judge != "rouge-l" && c.labeling.judge != "llm")
        labeling.fail("judge", "must be \"rouge-l\" or \"llm\", found \"" + c.labeling.judge + "\"");
    if (c.labeling.minGap < 0)
        labeling.fail("min_gap", "must not be negative");
    if (c.labeling.policy == "judge" && c.labeling.judge == "llm") {
        if (!labeling.has("llm"))
            labeling.fail("llm", "is required for judge \"llm\" ({\"type\": \"local\", \"model\": DIR} or an http endpoint)");
        c.labeling.llm = readLlmJudge(labeling.child("llm"));
    }

    const ConfigReader loss = top.child("loss");
    loss.allowOnly({"score", "beta", "gamma", "lambda", "ce_target", "temperature", "kl", "dpo_beta"});
    loss.read("score", c.loss.score);
    loss.read("beta", c.loss.beta);
    loss.read("gamma", c.loss.gamma);
    loss.read("lambda", c.loss.lambda);
    loss.read("ce_target", c.loss.ceTarget);
    loss.read("temperature", c.loss.temperature);
    loss.read("kl", c.loss.kl);
    loss.read("dpo_beta", c.loss.dpoBeta);
    if (c.loss.score != "mean" && c.loss.score != "sum")
        loss.fail("score", "must be \"mean\" (length-normalised) or \"sum\", found \"" + c.loss.score + "\"");
    if (c.loss.beta < 0)
        loss.fail("beta", "must not be negative");
    if (!(c.loss.gamma > 0))
        loss.fail("gamma", "must be positive");
    if (c.loss.lambda < 0)
        loss.fail("lambda", "must not be negative");
    if (c.loss.ceTarget != "chosen" && c.loss.ceTarget != "reference")
        loss.fail("ce_target", "must be \"chosen\" or \"reference\", found \"" + c.loss.ceTarget + "\"");
    if (!(c.loss.temperature > 0))
        loss.fail("temperature", "must be positive");
    if (c.loss.kl != "forward" && c.loss.kl != "reverse")
        loss.fail("kl", "must be \"forward\" or \"reverse\", found \"" + c.loss.kl + "\"");
    if (!(c.loss.dpoBeta > 0))
        loss.fail("dpo_beta", "must be positive");

    const ConfigReader refresh = top.child("refresh");
    refresh.allowOnly({"every"});
    refresh.read("every", c.refreshEvery);
    if (c.refreshEvery < 0)
        refresh.fail("every", "must not be negative (0 = never)");
    if (c.refreshEvery > 0 && !usesPairs(c.method))
        refresh.fail("every", "online refresh regenerates the student's side of the pairs; method " + toString(c.method)
                                  + " trains on no pairs");

    const ConfigReader eval = top.child("eval");
    eval.allowOnly({"every", "prompts", "samples", "sampling", "bins"});
    eval.read("every", c.eval.every);
    eval.read("prompts", c.eval.prompts);
    eval.read("samples", c.eval.samples);
    eval.read("bins", c.eval.bins);
    c.eval.sampling = readSide(eval.child("sampling"));
    if (c.eval.every < 0)
        eval.fail("every", "must not be negative (0 = at step 0 and at the end only)");
    if (c.eval.prompts < 0)
        eval.fail("prompts", "must not be negative (0 = no calibration diagnostics)");
    if (c.eval.samples == 1 || c.eval.samples < 0 || c.eval.samples > 64)
        eval.fail("samples", "must be 0 (off) or in [2, 64]: a rank correlation needs at least two samples");
    if (c.eval.bins < 1 || c.eval.bins > 100)
        eval.fail("bins", "must be in [1, 100]");

    nlohmann::json train = doc.value("train", nlohmann::json::object());
    if (!train.is_object())
        top.fail("train", "expected an object, found " + train.dump());
    if (!train.contains("seed"))
        train["seed"] = c.seed;
    c.train = TrainingOptions::fromJson(train, "train");
    return c;
}

RunConfig RunConfig::load(const fs::path &file)
{
    try {
        return fromJson(readJsonFile(file), file.parent_path());
    } catch (const ConfigError &e) {
        throw ConfigError(file.string() + ": " + e.what());
    }
}

nlohmann::json RunConfig::toJson() const
{
    nlohmann::json student = {{"model", absoluteText(this->student)}};
    if (studentTemplate)
        student["template"] = studentTemplate->toJson();
    nlohmann::json doc = {
        {"version", 1},
        {"name", name},
        {"method", toString(method)},
        {"seed", seed},
        {"device", device},
        {"student", student},
        {"data", data.toJson()},
        {"pairs",
         {{"per_prompt", pairs.perPrompt}, {"prompts", pairs.prompts}, {"batch_size", pairs.batchSize},
          {"teacher", sideJson(pairs.teacher)}, {"student", sideJson(pairs.student)}}},
        {"labeling",
         {{"policy", labeling.policy}, {"judge", labeling.judge}, {"min_gap", labeling.minGap}, {"drop_identical", labeling.dropIdentical}}},
        {"loss",
         {{"score", loss.score}, {"beta", loss.beta}, {"gamma", loss.gamma}, {"lambda", loss.lambda}, {"ce_target", loss.ceTarget},
          {"temperature", loss.temperature}, {"kl", loss.kl}, {"dpo_beta", loss.dpoBeta}}},
        {"refresh", {{"every", refreshEvery}}},
        {"eval",
         {{"every", eval.every}, {"prompts", eval.prompts}, {"samples", eval.samples}, {"sampling", sideJson(eval.sampling)},
          {"bins", eval.bins}}},
        {"train", train.toJson()}};
    if (labeling.policy == "judge" && labeling.judge == "llm") {
        nlohmann::json llm = labeling.llm.type == "local" ? nlohmann::json{{"model", absoluteText(labeling.llm.model)}}
                                                          : endpointJson(labeling.llm.endpoint);
        llm["type"] = labeling.llm.type;
        llm["instructions"] = labeling.llm.instructions;
        doc["labeling"]["llm"] = llm;
    }
    if (teacher) {
        nlohmann::json t = {{"type", teacher->type}};
        if (teacher->type == "local") {
            t["model"] = absoluteText(teacher->model);
            t["score_outputs"] = teacher->scoreOutputs;
        } else if (teacher->type == "http") {
            t.update(endpointJson(teacher->endpoint));
        } else {
            t["file"] = absoluteText(teacher->file);
            t["id_field"] = teacher->idField;
            t["output_field"] = teacher->outputField;
        }
        if (teacher->promptTemplate)
            t["template"] = teacher->promptTemplate->toJson();
        doc["teacher"] = t;
    }
    return doc;
}

LlmJudgeConfig LlmJudgeConfig::fromJson(const nlohmann::json &doc, const std::string &location, const fs::path &baseDirectory)
{
    return readLlmJudge(ConfigReader(doc, location, baseDirectory));
}

} // namespace plad
