#include "plad/runconfigschema.h"

#include "plad/runconfig.h"

namespace plad {

namespace {

using F = FieldType;

struct Spec
{
    Spec(std::string path, FieldType type, std::string help, std::optional<double> min = std::nullopt, std::optional<double> max = std::nullopt,
         bool exclusiveMin = false, bool exclusiveMax = false, std::string when = {}, std::vector<std::string> choices = {})
        : path(std::move(path)), type(type), help(std::move(help)), min(min), max(max), exclusiveMin(exclusiveMin)
        , exclusiveMax(exclusiveMax), when(std::move(when)), choices(std::move(choices))
    {}
    std::string path;
    FieldType type;
    std::string help;
    std::optional<double> min, max;
    bool exclusiveMin, exclusiveMax;
    std::string when;
    std::vector<std::string> choices;
};

/** The effective config of the smallest document that selects `teacherType` (and an LLM judge of `judgeType`, unless null). */
nlohmann::json minimalEffective(const char *teacherType, const char *judgeType)
{
    nlohmann::json teacher = {{"type", teacherType}};
    if (std::string(teacherType) == "local")
        teacher["model"] = "/teacher";
    else if (std::string(teacherType) == "http")
        teacher.update({{"base_url", "http://127.0.0.1:8000/v1"}, {"model", "m"}});
    else
        teacher["file"] = "/teacher.jsonl";
    nlohmann::json doc = {{"student", {{"model", "/student"}}}, {"teacher", teacher}, {"data", {{"file", "/data.jsonl"}}}};
    if (judgeType) {
        nlohmann::json llm = {{"type", judgeType}};
        if (std::string(judgeType) == "local")
            llm["model"] = "/judge";
        else
            llm.update({{"base_url", "http://127.0.0.1:8000/v1"}, {"model", "m"}});
        doc["labeling"] = {{"policy", "judge"}, {"judge", "llm"}, {"llm", llm}};
    }
    return RunConfig::fromJson(doc, "/").toJson();
}

#define TEMPLATE_FORMS " Its object form holds either \"format\" (a text format with {prompt}, e.g. \"{prompt}\\nSummary:\") or \"chat_template\" (\"model\": the model's own chat template, \"chatml\", or a .jinja file), optionally \"system\" and \"variables\" (docs/chat-templates.md)"

ConfigSchema buildSchema()
{
    std::vector<Spec> specs = {
        {"version", F::Integer, "format version of the document", 1, 1},
        {"name", F::String, "shown by plad runs list and the workbench; empty: the run id"},
        {"method", F::Choice, "training objective", {}, {}, false, false, "", enumNames<DistillMethod>(distillMethodNames)},
        {"seed", F::Integer, "seed of training (train.seed defaults to it); sampling seeds derive from the pair settings", 0},
        {"device", F::String, "cpu, or cuda[:N] when Torch has CUDA"},
        {"student.model", F::Path, "the student: a Hugging Face model folder with tokenizer.json"},
        {"student.template", F::Template, "the student's prompt template (a preset name or an object); absent: data.template, then the model's prompt_template.json, then its chat template, then the plain prompt." TEMPLATE_FORMS},
        {"teacher.type", F::Choice, "where the teacher's text comes from", {}, {}, false, false, "", enumNames<TeacherKind>(teacherKindNames)},
        {"teacher.model", F::Path, "the teacher: a Hugging Face model folder (its own tokenizer may differ from the student's)", {}, {}, false, false, "teacher.type=local"},
        {"teacher.score_outputs", F::Boolean, "record the local teacher's own per-token log-probs of its outputs", {}, {}, false, false, "teacher.type=local"},
        {"teacher.base_url", F::String, "OpenAI-compatible server, up to and including /v1", {}, {}, false, false, "teacher.type=http"},
        {"teacher.model", F::String, "the model name the server knows", {}, {}, false, false, "teacher.type=http"},
        {"teacher.api_key_env", F::String, "environment variable that holds the API key (the key itself is never stored)", {}, {}, false, false, "teacher.type=http"},
        {"teacher.chat", F::Boolean, "use /chat/completions instead of /completions", {}, {}, false, false, "teacher.type=http"},
        {"teacher.concurrency", F::Integer, "requests in flight", 1, 256, false, false, "teacher.type=http"},
        {"teacher.timeout_seconds", F::Number, "per request: connecting and each read", 0, {}, true, false, "teacher.type=http"},
        {"teacher.max_retries", F::Integer, "retries on connection failures, timeouts, 429 and 5xx", 0, {}, false, false, "teacher.type=http"},
        {"teacher.backoff_seconds", F::Number, "first wait before a retry; doubles each retry", 0, {}, false, false, "teacher.type=http"},
        {"teacher.file", F::Path, "JSONL of teacher outputs generated elsewhere, one line per prompt id", {}, {}, false, false, "teacher.type=jsonl"},
        {"teacher.id_field", F::String, "the field of each line that holds the prompt id", {}, {}, false, false, "teacher.type=jsonl"},
        {"teacher.output_field", F::String, "the field that holds the output (a string or an array of pairs.per_prompt strings)", {}, {}, false, false, "teacher.type=jsonl"},
        {"teacher.template", F::Template, "how prompts are written for the teacher; absent: its own prompt_template.json, then its chat template, then the student's format (only text crosses between the two models)." TEMPLATE_FORMS},
        {"data.file", F::Path, "the dataset (JSONL, optionally .lz4)"},
        {"data.format", F::Choice, "how records are read: JSONL with the field mapping, Anthropic-HH transcripts, TL;DR posts, TRL preference records, conversations (messages, ShareGPT, Alpaca, UltraFeedback), or auto (detected per record); .gz, .zst and .lz4 files are decompressed", {}, {}, false, false, "", {"jsonl", "hh", "tldr", "trl", "messages", "sharegpt", "alpaca", "ultrafeedback", "auto"}},
        {"data.fields.prompt", F::String, "JSONL field with the prompt"},
        {"data.fields.response", F::String, "JSONL field with the reference response"},
        {"data.fields.id", F::String, "JSONL field with a stable record id; empty: the line number"},
        {"data.fields.group", F::String, "JSONL field grouping related records, which never straddle splits; empty: the id"},
        {"data.skip_bad_lines", F::Boolean, "count and skip malformed lines instead of failing"},
        {"data.template", F::Template, "prompt template of the data (a preset name or an object); absent: the student's prompt_template.json, then its chat template, then the plain prompt; conversational data is rendered with a chat template." TEMPLATE_FORMS},
        {"data.split.seed", F::Integer, "seed of the deterministic train/validation/test split", 0},
        {"data.split.validation", F::Number, "share of records in the validation split", 0, 1, false, true},
        {"data.split.test", F::Number, "share of records in the test split (never used by a run)", 0, 1, false, true},
        {"data.limits.context_length", F::Integer, "tokens of context; 0: the model's own", 0},
        {"data.limits.max_prompt_tokens", F::Integer, "longest prompt in tokens (longer ones are cut)", 1},
        {"data.limits.max_response_tokens", F::Integer, "longest response in tokens; also the default generation length", 1},
        {"data.limits.prompt_keep", F::Choice, "which end of a long prompt is kept", {}, {}, false, false, "", enumNames<PromptKeep>(promptKeepNames)},
        {"pairs.per_prompt", F::Integer, "k: teacher and student outputs per prompt", 1, 16},
        {"pairs.prompts", F::Integer, "training prompts used; 0: the whole training split", 0},
        {"pairs.batch_size", F::Integer, "prompts decoded together, each with its per_prompt samples (0: from each model's shape and memory)", 0},
        {"labeling.policy", F::Choice, "who decides which output of a pair is preferred: teacher-preferred (the teacher's, as in PLaD), consensus (the teacher sample the others agree with most against the student sample that agrees least; needs pairs.per_prompt >= 2), teacher-likelihood (a local teacher's own likelihood), judge (ROUGE-L against the reference or an LLM: uses annotations)", {}, {}, false, false, "", enumNames<LabelingPolicy>(labelingPolicyNames)},
        {"labeling.judge", F::Choice, "the judge of the judge policy: ROUGE-L against the reference, or an LLM", {}, {}, false, false, "", enumNames<JudgeKind>(judgeKindNames)},
        {"labeling.min_gap", F::Number, "drop pairs whose score difference is below this: the judge's scores, the teacher's mean log-probs, or consensus's agreement gap (ROUGE-L)", 0},
        {"labeling.drop_identical", F::Boolean, "drop pairs whose two texts are the same"},
        {"labeling.student_pairs", F::Boolean, "consensus only: also pair the student's own samples, the one closest to the teacher's samples (ROUGE-L) over the farthest, so its likelihood learns to rank its own outputs; needs sampled student outputs (pairs.per_prompt >= 2, not greedy)"},
        {"labeling.llm.type", F::Choice, "where the LLM judge runs", {}, {}, false, false, "labeling.judge=llm", enumNames<JudgeBackend>(judgeBackendNames)},
        {"labeling.llm.model", F::Path, "the judge: a Hugging Face model folder", {}, {}, false, false, "labeling.llm.type=local"},
        {"labeling.llm.base_url", F::String, "OpenAI-compatible server of the judge", {}, {}, false, false, "labeling.llm.type=http"},
        {"labeling.llm.model", F::String, "the judge's model name on the server", {}, {}, false, false, "labeling.llm.type=http"},
        {"labeling.llm.api_key_env", F::String, "environment variable with the judge's API key", {}, {}, false, false, "labeling.llm.type=http"},
        {"labeling.llm.chat", F::Boolean, "ask through /chat/completions", {}, {}, false, false, "labeling.llm.type=http"},
        {"labeling.llm.concurrency", F::Integer, "requests in flight", 1, 256, false, false, "labeling.llm.type=http"},
        {"labeling.llm.timeout_seconds", F::Number, "per request", 0, {}, true, false, "labeling.llm.type=http"},
        {"labeling.llm.max_retries", F::Integer, "retries on transient failures", 0, {}, false, false, "labeling.llm.type=http"},
        {"labeling.llm.backoff_seconds", F::Number, "first wait before a retry", 0, {}, false, false, "labeling.llm.type=http"},
        {"labeling.llm.instructions", F::String, "the question asked, with {prompt}, {a} and {b}", {}, {}, false, false, "labeling.judge=llm"},
        {"loss.score", F::Choice, "s(y|x): mean (length-normalised) or summed log-likelihood", {}, {}, false, false, "", enumNames<ScoreKind>(scoreKindNames)},
        {"loss.beta", F::Number, "hinge margin / logistic offset", 0},
        {"loss.gamma", F::Number, "logistic scale", 0, {}, true},
        {"loss.lambda", F::Number, "weight of the cross-entropy regulariser", 0},
        {"loss.ce_target", F::Choice, "what the regulariser imitates: y+ or the reference", {}, {}, false, false, "", enumNames<CeTarget>(ceTargetNames)},
        {"loss.temperature", F::Number, "word-kd: softmax temperature", 0, {}, true},
        {"loss.kl", F::Choice, "word-kd: KL direction", {}, {}, false, false, "", enumNames<KlDirection>(klDirectionNames)},
        {"loss.dpo_beta", F::Number, "dpo: strength of the implicit KL to the initial student", 0, {}, true},
        {"refresh.every", F::Integer, "regenerate the student's side of the pairs every K steps; 0: never", 0},
        {"eval.every", F::Integer, "steps between calibration diagnostics; 0: at step 0 and at the end only", 0},
        {"eval.prompts", F::Integer, "validation prompts of the diagnostics (held-out pairs); 0: off", 0},
        {"eval.samples", F::Integer, "samples per prompt for sequence-level calibration: 0 (off) or 2..64", 0, 64},
        {"eval.bins", F::Integer, "reliability-diagram bins of token-level ECE", 1, 100},
        {"train.learning_rate", F::Number, "peak learning rate", 0, 1, true, true},
        {"train.weight_decay", F::Number, "AdamW decoupled decay, on matrices only", 0},
        {"train.beta1", F::Number, "AdamW beta1", 0, 1, false, true},
        {"train.beta2", F::Number, "AdamW beta2", 0, 1, false, true},
        {"train.epsilon", F::Number, "AdamW epsilon", 0, {}, true},
        {"train.warmup_steps", F::Integer, "linear warm-up steps from 0 to the peak", 0},
        {"train.schedule", F::Choice, "learning rate after warm-up", {}, {}, false, false, "", enumNames<LrSchedule>(lrScheduleNames)},
        {"train.min_lr_ratio", F::Number, "cosine: final learning rate as a share of the peak", 0, 1},
        {"train.max_steps", F::Integer, "optimiser steps", 1},
        {"train.batch_size", F::Integer, "pairs (or sequences) per micro-batch", 1},
        {"train.grad_accumulation", F::Integer, "micro-batches per optimiser step", 1},
        {"train.group_by_length", F::Boolean, "batch examples of similar length together"},
        {"train.max_grad_norm", F::Number, "clip the global gradient norm; 0: off", 0},
        {"train.eval_every", F::Integer, "steps between validation losses; 0: only at the end", 0},
        {"train.eval_batches", F::Integer, "validation micro-batches per evaluation; 0: the whole split", 0},
        {"train.checkpoint_every", F::Integer, "steps between checkpoints; 0: only at the end", 0},
        {"train.seed", F::Integer, "model init, data order and dropout; absent: the run's seed", 0},
        {"train.threads", F::Integer, "Torch intra-op threads; 0: the program's setting", 0},
    };
    const char *sides[][2] = {{"pairs.teacher", "the teacher's outputs"}, {"pairs.student", "the student's outputs"},
                              {"eval.sampling", "the diagnostics' samples"}};
    for (const auto &[prefix, what] : sides) {
        const std::string p = prefix, w = what;
        auto at = [&](const char *name) { return p + "." + name; };
        specs.push_back({at("greedy"), F::Boolean, "argmax decoding of " + w});
        specs.push_back({at("temperature"), F::Number, "sampling temperature of " + w, 0, {}, true});
        specs.push_back({at("top_p"), F::Number, "nucleus sampling of " + w + "; 1: off", 0, 1, true});
        specs.push_back({at("top_k"), F::Integer, "top-k sampling of " + w + "; 0: off", 0});
        specs.push_back({at("repetition_penalty"), F::Number, "repetition penalty of " + w + "; 1: off", 0, {}, true});
        specs.push_back({at("seed"), F::Integer, "base sampling seed of " + w, 0});
        specs.push_back({at("max_new_tokens"), F::Integer, "longest of " + w + " in tokens; 0: data.limits.max_response_tokens", 0});
    }

    const nlohmann::json plain = minimalEffective("local", nullptr), http = minimalEffective("http", nullptr),
                         jsonl = minimalEffective("jsonl", nullptr), localJudge = minimalEffective("local", "local"),
                         httpJudge = minimalEffective("local", "http");
    std::vector<ConfigField> fields;
    for (const auto &s : specs) {
        ConfigField f;
        f.path = s.path;
        f.type = s.type;
        f.help = s.help;
        f.minimum = s.min;
        f.maximum = s.max;
        f.exclusiveMinimum = s.exclusiveMin;
        f.exclusiveMaximum = s.exclusiveMax;
        f.when = s.when;
        f.choices = s.choices;
        f.required = f.path == "student.model" || f.path == "data.file" || f.path == "teacher.model" || f.path == "teacher.file"
                     || f.path == "teacher.base_url" || f.path == "labeling.llm.model" || f.path == "labeling.llm.base_url";
        // Defaults are what RunConfig gives an absent field, read from effective configs.
        if (!f.required && f.type != F::Template && f.type != F::Path && f.path != "train.seed") {
            const nlohmann::json &from = f.when == "teacher.type=http"         ? http
                                         : f.when == "teacher.type=jsonl"      ? jsonl
                                         : f.when == "labeling.llm.type=http"  ? httpJudge
                                         : f.path.rfind("labeling.llm.", 0) == 0 ? localJudge
                                                                                 : plain;
            f.defaultValue = valueAt(from, f.path);
        }
        fields.push_back(std::move(f));
    }
    return ConfigSchema(std::move(fields));
}

#undef TEMPLATE_FORMS

} // namespace

const ConfigSchema &runConfigSchema()
{
    static const ConfigSchema schema = buildSchema();
    return schema;
}

nlohmann::json effectiveRunConfig(const nlohmann::json &doc, const std::filesystem::path &baseDirectory)
{
    return RunConfig::fromJson(doc, baseDirectory).toJson();
}

} // namespace plad
