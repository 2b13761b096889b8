#pragma once

// Where the teacher's side of the pseudo-preference pairs comes from: PLaD needs only the
// teacher's text. Teachers are local checkpoints, OpenAI-compatible endpoints, or JSONL files of
// outputs generated elsewhere.

#include "common/jobcontext.h"
#include "model/modeltypes.h"
#include "plad/runconfig.h"
#include "store/records.h"

#include <memory>
#include <string>
#include <vector>

namespace plad {

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
    /**
     * `k` outputs for each prompt, in prompt order. Sample s of prompt i is drawn with
     * deriveSeed(promptSeeds[i], s), so what a prompt gets does not depend on its batch.
     * `profile`, when given, accumulates a local model's generation time.
     */
    virtual std::vector<std::vector<TeacherText>> generate(const std::vector<PromptRecord> &prompts, int64_t k,
                                                           const std::vector<uint64_t> &promptSeeds, JobContext *context,
                                                           GenerationProfile *profile = nullptr) = 0;
    /** Whether scoreTexts() works: a local model, whose own likelihood of any text can be computed. */
    virtual bool canScore() const { return false; }
    /**
     * The teacher's per-token log-probs of texts[i] as the response to prompts[i] (its own
     * template and tokenizer, the response cut like its generations). Throws Error when the
     * teacher cannot score (see canScore()).
     */
    virtual std::vector<std::vector<float>> scoreTexts(const std::vector<std::string> &prompts, const std::vector<std::string> &texts);
};

/**
 * Builds the configured teacher. `fallbackTemplate` (the student's) formats prompts for a
 * teacher without its own template; `limits` bounds its prompts (the context is the teacher's).
 * A local teacher decodes `batchRows` rows together (0: as many as its shape and the memory
 * available allow, resolveGenerationRows()).
 */
std::unique_ptr<TeacherSource> makeTeacher(const TeacherConfig &config, const SideSampling &side, int64_t maxNewTokens,
                                           const PromptTemplate &fallbackTemplate, const EncodingLimits &limits,
                                           const std::string &device, int64_t batchRows = 0);

} // namespace plad
