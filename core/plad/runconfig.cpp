#include "plad/runconfig.h"

#include "common/configreader.h"
#include "common/fileio.h"

namespace plad {

namespace fs = std::filesystem;

namespace {

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
        throw ConfigError(r.location() + "." + e.what());
    }
    return side;
}

nlohmann::json sideJson(const SideSampling &s)
{
    return {{"greedy", s.sampling.greedy}, {"temperature", s.sampling.temperature}, {"top_p", s.sampling.topP},
            {"top_k", s.sampling.topK}, {"repetition_penalty", s.sampling.repetitionPenalty}, {"seed", s.sampling.seed},
            {"max_new_tokens", s.maxNewTokens}};
}

TeacherConfig readTeacher(const ConfigReader &r)
{
    TeacherConfig t;
    t.type = parseEnum<TeacherKind>(teacherKindNames, r.get<std::string>("type", "local"), r.where("type"));
    switch (t.type) {
    case TeacherKind::Local:
        r.allowOnly({"type", "model", "template", "score_outputs"});
        t.model = r.path("model", true);
        r.read("score_outputs", t.scoreOutputs);
        break;
    case TeacherKind::Http:
        r.allowOnly({"type", "base_url", "model", "api_key_env", "chat", "concurrency", "timeout_seconds", "max_retries",
                     "backoff_seconds", "template"});
        t.endpoint = OpenAiEndpoint::fromConfig(r);
        t.scoreOutputs = false;
        break;
    case TeacherKind::Jsonl:
        r.allowOnly({"type", "file", "id_field", "output_field"});
        t.file = r.path("file", true);
        r.read("id_field", t.idField);
        r.read("output_field", t.outputField);
        t.scoreOutputs = false;
        break;
    }
    if (r.has("template"))
        t.promptTemplate = PromptTemplate::fromJson(r.json()["template"], r.where("template"), r.base());
    return t;
}

} // namespace

std::string toString(DistillMethod method)
{
    return enumName<DistillMethod>(distillMethodNames, method);
}

DistillMethod parseDistillMethod(const std::string &name, const std::string &where)
{
    return parseEnum<DistillMethod>(distillMethodNames, name, where);
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
        c.studentTemplate = PromptTemplate::fromJson(student.json()["template"], "student.template", student.base());

    if (top.has("teacher"))
        c.teacher = readTeacher(top.child("teacher"));
    else if (usesTeacherOutputs(c.method) || c.method == DistillMethod::WordKd)
        top.fail("teacher", "is required for method " + toString(c.method));
    if (c.method == DistillMethod::WordKd && c.teacher && c.teacher->type != TeacherKind::Local)
        throw ConfigError("teacher.type: word-kd needs the teacher's token distributions, so the teacher must be \"local\" (found \""
                          + enumName<TeacherKind>(teacherKindNames, c.teacher->type) + "\"); seqkd and plad need only its text");

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
    if (c.pairs.batchSize < 0)
        pairs.fail("batch_size", "must not be negative (0 = chosen from each model's shape and the memory available)");
    c.pairs.teacher = readSide(pairs.child("teacher"));
    c.pairs.student = readSide(pairs.child("student"));

    const ConfigReader labeling = top.child("labeling");
    labeling.allowOnly({"policy", "judge", "llm", "min_gap", "drop_identical", "student_pairs"});
    c.labeling.policy = parseEnum<LabelingPolicy>(labelingPolicyNames, labeling.get<std::string>("policy", "teacher-preferred"),
                                                  labeling.where("policy"));
    c.labeling.judge = parseEnum<JudgeKind>(judgeKindNames, labeling.get<std::string>("judge", "rouge-l"), labeling.where("judge"));
    labeling.read("min_gap", c.labeling.minGap);
    labeling.read("drop_identical", c.labeling.dropIdentical);
    labeling.read("student_pairs", c.labeling.studentPairs);
    if (c.labeling.minGap < 0)
        labeling.fail("min_gap", "must not be negative");
    if (c.labeling.usesLlmJudge()) {
        if (!labeling.has("llm"))
            labeling.fail("llm", "is required for judge \"llm\" ({\"type\": \"local\", \"model\": DIR} or an http endpoint)");
        c.labeling.llm = LlmJudgeConfig::fromConfig(labeling.child("llm"));
    }
    if (c.labeling.policy == LabelingPolicy::TeacherLikelihood && usesPairs(c.method) && (!c.teacher || c.teacher->type != TeacherKind::Local))
        labeling.fail("policy", "\"teacher-likelihood\" asks the teacher's own likelihood of both texts, which only a local teacher has "
                                "(teacher.type \"local\"); use \"consensus\" for a teacher known only by its text");

    const ConfigReader loss = top.child("loss");
    loss.allowOnly({"score", "beta", "gamma", "lambda", "ce_target", "temperature", "kl", "dpo_beta"});
    c.loss.score = parseEnum<ScoreKind>(scoreKindNames, loss.get<std::string>("score", "mean"), loss.where("score"));
    loss.read("beta", c.loss.beta);
    loss.read("gamma", c.loss.gamma);
    loss.read("lambda", c.loss.lambda);
    c.loss.ceTarget = parseEnum<CeTarget>(ceTargetNames, loss.get<std::string>("ce_target", "chosen"), loss.where("ce_target"));
    loss.read("temperature", c.loss.temperature);
    c.loss.kl = parseEnum<KlDirection>(klDirectionNames, loss.get<std::string>("kl", "forward"), loss.where("kl"));
    loss.read("dpo_beta", c.loss.dpoBeta);
    if (c.loss.beta < 0)
        loss.fail("beta", "must not be negative");
    if (!(c.loss.gamma > 0))
        loss.fail("gamma", "must be positive");
    if (c.loss.lambda < 0)
        loss.fail("lambda", "must not be negative");
    if (!(c.loss.temperature > 0))
        loss.fail("temperature", "must be positive");
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
    } catch (...) {
        rethrowForConfigFile(file);
    }
}

nlohmann::json RunConfig::toJson() const
{
    nlohmann::json student = {{"model", absolutePathText(this->student)}};
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
         {{"policy", enumName<LabelingPolicy>(labelingPolicyNames, labeling.policy)},
          {"judge", enumName<JudgeKind>(judgeKindNames, labeling.judge)},
          {"min_gap", labeling.minGap},
          {"drop_identical", labeling.dropIdentical},
          {"student_pairs", labeling.studentPairs}}},
        {"loss",
         {{"score", enumName<ScoreKind>(scoreKindNames, loss.score)}, {"beta", loss.beta}, {"gamma", loss.gamma}, {"lambda", loss.lambda},
          {"ce_target", enumName<CeTarget>(ceTargetNames, loss.ceTarget)}, {"temperature", loss.temperature},
          {"kl", enumName<KlDirection>(klDirectionNames, loss.kl)}, {"dpo_beta", loss.dpoBeta}}},
        {"refresh", {{"every", refreshEvery}}},
        {"eval",
         {{"every", eval.every}, {"prompts", eval.prompts}, {"samples", eval.samples}, {"sampling", sideJson(eval.sampling)},
          {"bins", eval.bins}}},
        {"train", train.toJson()}};
    if (labeling.usesLlmJudge())
        doc["labeling"]["llm"] = labeling.llm.toJson();
    if (teacher) {
        nlohmann::json t = {{"type", enumName<TeacherKind>(teacherKindNames, teacher->type)}};
        switch (teacher->type) {
        case TeacherKind::Local:
            t["model"] = absolutePathText(teacher->model);
            t["score_outputs"] = teacher->scoreOutputs;
            break;
        case TeacherKind::Http:
            t.update(teacher->endpoint.toJson());
            break;
        case TeacherKind::Jsonl:
            t["file"] = absolutePathText(teacher->file);
            t["id_field"] = teacher->idField;
            t["output_field"] = teacher->outputField;
            break;
        }
        if (teacher->promptTemplate)
            t["template"] = teacher->promptTemplate->toJson();
        doc["teacher"] = t;
    }
    return doc;
}

} // namespace plad
