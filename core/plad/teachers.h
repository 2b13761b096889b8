#pragma once

// Where pseudo-preference pairs come from: teachers (their text only) and judges (which of two
// outputs is better). Teachers are local checkpoints, OpenAI-compatible endpoints, or JSONL
// files of outputs generated elsewhere.

#include "common/jobcontext.h"
#include "model/causallm.h"
#include "plad/runconfig.h"
#include "store/runstore.h"
#include "tokenizer/tokenizer.h"

#include <memory>
#include <string>
#include <vector>

namespace plad {

/** One output of a local model: token ids (with the EOS that ended it) and the text without it. */
struct LocalSample
{
    std::vector<int64_t> ids;
    std::string text;
    std::string finishReason;
    double seconds = 0;
};

/**
 * Samples `k` outputs for each encoded prompt with a local model (sample s uses seed + s), in
 * prompt order. Cancellation is polled per generated token; a cancelled call returns nothing.
 */
std::vector<std::vector<LocalSample>> sampleLocal(CausalLMImpl &model, const Tokenizer &tokenizer,
                                                  const std::vector<std::vector<int64_t>> &prompts, const SamplingOptions &sampling,
                                                  int64_t maxNewTokens, int64_t k, JobContext *context);

/** The text of a teacher output (and, for a local teacher, its own per-token log-probs). */
struct TeacherText
{
    std::string text;
    std::optional<std::vector<float>> logprobs;
    std::string finishReason;
    double seconds = 0;
    std::string error;   ///< non-empty when this output could not be obtained (the prompt is retried on resume)
};

class TeacherSource
{
public:
    virtual ~TeacherSource() = default;
    /** "local model DIR", "http MODEL at URL", "jsonl FILE": for logs and errors. */
    virtual std::string describe() const = 0;
    /** Throws Error before any work when the source cannot serve these prompts (a JSONL lacking ids). */
    virtual void checkCoverage(const std::vector<PromptRecord> &prompts, int64_t k) const { (void)prompts, (void)k; }
    /** `k` outputs for each prompt, in prompt order; `seed` varies the samples between batches. */
    virtual std::vector<std::vector<TeacherText>> generate(const std::vector<PromptRecord> &prompts, int64_t k, uint64_t seed,
                                                           JobContext *context) = 0;
};

/**
 * Builds the configured teacher. `fallbackTemplate` (the student's) formats prompts for a
 * teacher without its own template; `limits` bounds its prompts (the context is the teacher's).
 */
std::unique_ptr<TeacherSource> makeTeacher(const TeacherConfig &config, const SideSampling &side, int64_t maxNewTokens,
                                           const PromptTemplate &fallbackTemplate, const EncodingLimits &limits,
                                           const std::string &device);

/** Two candidate outputs for one prompt, to be judged. */
struct JudgeCase
{
    std::string prompt, reference, first, second;
};

/** Scores in [0, 1] (ROUGE-L F1, or the judge's preference share); `preferred` +1 first, -1 second, 0 tie. */
struct JudgeVerdict
{
    int preferred = 0;
    double firstScore = 0, secondScore = 0;
};

class Judge
{
public:
    virtual ~Judge() = default;
    /** Recorded as the pair's labeller: "judge:rouge-l", "judge:llm:NAME". */
    virtual std::string name() const = 0;
    virtual std::vector<JudgeVerdict> judge(const std::vector<JudgeCase> &cases, JobContext *context) = 0;
};

/** ROUGE-L F1 against the reference; equal scores are a tie. */
std::unique_ptr<Judge> makeRougeJudge();
/**
 * An LLM asked with `instructions` which response is better, twice with the order swapped; a
 * pair is labelled only when both orders agree (position bias cancels), otherwise it is a tie.
 * A local judge compares the likelihoods of " A" and " B" after the question; an HTTP judge
 * answers greedily and the first A or B in its answer counts.
 */
std::unique_ptr<Judge> makeLlmJudge(const LlmJudgeConfig &config, const std::string &device);

/** The position-bias-cancelling combination of the two orders' verdicts (exposed for tests). */
JudgeVerdict combineSwapped(double firstWinsInOrder1, double firstWinsInOrder2);

} // namespace plad
