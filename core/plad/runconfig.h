#pragma once

#include "common/enumnames.h"
#include "eval/llmjudge.h"
#include "model/modeltypes.h"
#include "openai/openaiclient.h"
#include "plad/pairlabelling.h"
#include "tokenizer/prompttemplate.h"
#include "train/dataconfig.h"
#include "train/trainingoptions.h"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace plad {

/** Training methods on the one engine: PLaD and the baselines it is compared against. */
enum class DistillMethod {
    Plad,          ///< "plad": ranking calibration, hinge
    PladLogistic,  ///< "plad-logistic": ranking calibration, logistic
    Sft,           ///< "sft": continued SFT on the references
    SeqKd,         ///< "seqkd": cross-entropy on the teacher's outputs
    WordKd,        ///< "word-kd": KL to a local teacher's token distributions (shared vocabulary)
    Dpo,           ///< "dpo": DPO (sigmoid) with the initial student as the frozen reference
};
inline constexpr EnumName<DistillMethod> distillMethodNames[] = {
    {DistillMethod::Plad, "plad"}, {DistillMethod::PladLogistic, "plad-logistic"}, {DistillMethod::Sft, "sft"},
    {DistillMethod::SeqKd, "seqkd"},  {DistillMethod::WordKd, "word-kd"},             {DistillMethod::Dpo, "dpo"}};
std::string toString(DistillMethod method);
/** Throws ConfigError naming `where` for an unknown name. */
DistillMethod parseDistillMethod(const std::string &name, const std::string &where);
/** Whether the method trains on pseudo-preference pairs (so the run generates student outputs). */
bool usesPairs(DistillMethod method);
/** Whether the method needs teacher outputs (pair generation runs). */
bool usesTeacherOutputs(DistillMethod method);

/** Where the teacher's text comes from. */
enum class TeacherKind {
    Local, ///< "local": a Hugging Face checkpoint with its own tokenizer
    Http,  ///< "http": an OpenAI-compatible endpoint
    Jsonl, ///< "jsonl": outputs generated elsewhere, keyed by prompt id
};
inline constexpr EnumName<TeacherKind> teacherKindNames[] = {{TeacherKind::Local, "local"}, {TeacherKind::Http, "http"}, {TeacherKind::Jsonl, "jsonl"}};

struct TeacherConfig
{
    TeacherKind type = TeacherKind::Local;
    std::filesystem::path model;         ///< local: Hugging Face directory (its own tokenizer.json)
    std::optional<PromptTemplate> promptTemplate; ///< local / http completions: how prompts are written for it
    OpenAiEndpoint endpoint;             ///< http
    std::filesystem::path file;          ///< jsonl
    std::string idField = "id";          ///< jsonl: the prompt id
    std::string outputField = "output";  ///< jsonl: a string, or an array of k strings
    bool scoreOutputs = true;            ///< local: record the teacher's own per-token log-probs
};

/** Sampling of one side of the pairs. */
struct SideSampling
{
    SamplingOptions sampling;            ///< greedy by default
    int64_t maxNewTokens = 0;            ///< 0 = data.limits.max_response_tokens
};

struct PairsConfig
{
    int64_t perPrompt = 1;               ///< k: teacher outputs and student outputs per prompt
    int64_t prompts = 0;                 ///< training prompts used; 0 = all of the training split
    int64_t batchSize = 0;               ///< prompts decoded together (with their per_prompt samples), 0 = from each model's shape and memory; pair generation runs chunks of four batches
    SideSampling teacher, student;
};

/** The judge of the judge policy. */
enum class JudgeKind {
    RougeL, ///< "rouge-l": ROUGE-L F1 against the reference
    Llm,    ///< "llm": labeling.llm, asked in both orders
};
inline constexpr EnumName<JudgeKind> judgeKindNames[] = {{JudgeKind::RougeL, "rouge-l"}, {JudgeKind::Llm, "llm"}};

struct LabelingConfig
{
    LabelingPolicy policy = LabelingPolicy::TeacherPreferred;
    JudgeKind judge = JudgeKind::RougeL;
    LlmJudgeConfig llm;
    double minGap = 0;                   ///< drop pairs whose score difference (judge scores, teacher mean log-probs, consensus agreement gap) is below this
    bool dropIdentical = true;           ///< drop pairs whose two texts are the same
    bool studentPairs = false;           ///< consensus: also pair the student's own samples by their agreement with the teacher's

    bool usesLlmJudge() const { return policy == LabelingPolicy::Judge && judge == JudgeKind::Llm; }
};

/** What the cross-entropy regulariser of the PLaD losses imitates. */
enum class CeTarget { Chosen, Reference };
inline constexpr EnumName<CeTarget> ceTargetNames[] = {{CeTarget::Chosen, "chosen"}, {CeTarget::Reference, "reference"}};
/** Word-level KD: KL(teacher || student) ("forward") or KL(student || teacher) ("reverse"). */
enum class KlDirection { Forward, Reverse };
inline constexpr EnumName<KlDirection> klDirectionNames[] = {{KlDirection::Forward, "forward"}, {KlDirection::Reverse, "reverse"}};

struct LossConfig
{
    ScoreKind score = ScoreKind::Mean;   ///< s(y|x): length-normalised or summed
    double beta = 1.0;                   ///< hinge margin / logistic offset
    double gamma = 1.0;                  ///< logistic scale
    double lambda = 0.0;                 ///< weight of the cross-entropy regulariser
    CeTarget ceTarget = CeTarget::Chosen; ///< regulariser target: y+ or the reference
    double temperature = 2.0;            ///< word-kd
    KlDirection kl = KlDirection::Forward; ///< word-kd
    double dpoBeta = 0.1;                ///< dpo
};

/** Calibration diagnostics on a fixed subset of validation prompts, at step 0, every N steps and at the end. */
struct EvalConfig
{
    int64_t every = 0;                   ///< steps between evaluations; 0 = only at step 0 and at the end
    int64_t prompts = 64;                ///< validation prompts in the fixed subset; 0 turns the diagnostics off
    int64_t samples = 4;                 ///< sequence-level calibration: samples per prompt (0 = off, else >= 2)
    SideSampling sampling;               ///< how those samples are drawn (temperature 1 by default)
    int bins = 15;                       ///< reliability-diagram bins for token-level ECE
};

/**
 * One `plad run` document (version 1). Every field but the student model, the data file and
 * (for methods that need one) the teacher has a documented default (docs/run-config.md);
 * relative paths resolve against the config file's directory. Validation errors name the
 * dotted field.
 */
struct RunConfig
{
    std::string name;
    DistillMethod method = DistillMethod::Plad;
    uint64_t seed = 0;
    std::string device = "cpu";
    std::filesystem::path student;
    std::optional<PromptTemplate> studentTemplate;
    std::optional<TeacherConfig> teacher;
    DataConfig data;
    PairsConfig pairs;
    LabelingConfig labeling;
    LossConfig loss;
    int64_t refreshEvery = 0;            ///< regenerate student outputs every K steps; 0 = never
    EvalConfig eval;
    TrainingOptions train;

    static RunConfig fromJson(const nlohmann::json &doc, const std::filesystem::path &baseDirectory);
    static RunConfig load(const std::filesystem::path &file);
    /** The effective configuration: every field, defaults filled in, paths absolute. Never holds secrets. */
    nlohmann::json toJson() const;
};

} // namespace plad
