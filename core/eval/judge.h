#pragma once

// Judges: which of two outputs for a prompt is better. ROUGE-L against the reference here; an
// LLM asked in both orders in eval/llmjudge.h. Used to label pairs (labeling.policy "judge")
// and to compare models (plad eval).

#include "common/jobcontext.h"

#include <memory>
#include <string>
#include <vector>

namespace plad {

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
    /**
     * One verdict per case, in order, or fewer (none) when cancelled part way: a verdict is never
     * made up for a case the judge did not finish. Runs on the calling thread; cancellation is
     * polled where the judge waits.
     */
    virtual std::vector<JudgeVerdict> judge(const std::vector<JudgeCase> &cases, JobContext *context) = 0;
};

/** ROUGE-L F1 against the reference; equal scores are a tie. */
std::unique_ptr<Judge> makeRougeJudge();

/**
 * The position-bias-cancelling combination of two orders' verdicts: the share with which the
 * first output won when shown first, and when shown second. Preferred only when both agree.
 */
JudgeVerdict combineSwapped(double firstWinsInOrder1, double firstWinsInOrder2);

} // namespace plad
