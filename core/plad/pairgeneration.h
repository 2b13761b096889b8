#pragma once

// Pair generation, the driver: collects each prompt's teacher and student outputs, has the
// labelling policy (plad/pairlabelling.h) turn them into pairs, and saves each prompt whole.

#include "common/jobcontext.h"
#include "eval/judge.h"
#include "model/causallm.h"
#include "plad/pairlabelling.h"
#include "plad/runconfig.h"
#include "plad/teachers.h"
#include "store/workspace.h"
#include "tokenizer/prompttemplate.h"
#include "tokenizer/tokenizer.h"

#include <functional>
#include <string>

namespace plad {

/** What pair generation works with; the models are owned by the caller. */
struct PairGenerationSetup
{
    const RunConfig *config = nullptr;
    CausalLMImpl *student = nullptr;   ///< samples y- (the initial student; the current one on a refresh)
    CausalLMImpl *scorer = nullptr;    ///< the initial student: its log-probs are stored with every output
    const Tokenizer *tokenizer = nullptr; ///< the student's
    PromptTemplate promptTemplate;     ///< the student's
    EncodingLimits limits;             ///< contextLength is the student's context
    TeacherSource *teacher = nullptr;  ///< null on a refresh: round 0's teacher outputs are paired again
    Judge *judge = nullptr;            ///< the judge policy's judge (null for teacher-preferred)
    std::string split = "train";       ///< whose prompts: "train", or "validation" for held-out pairs
    int64_t maxPrompts = 0;            ///< the first N prompts of the split; 0 = all
    bool makePairs = true;             ///< sample the student and label pairs (false: teacher outputs only, for SeqKD)
};

struct PairGenerationReport
{
    int64_t prompts = 0;     ///< prompts finished in this call
    int64_t skipped = 0;     ///< prompts already generated earlier (resumed)
    int64_t failed = 0;      ///< prompts left for a later resume (an output could not be obtained)
    int64_t pairs = 0;
    int64_t dropped = 0;     ///< candidate pairs not kept; `drops` says why
    DropCounts drops;
    double seconds = 0;
    bool cancelled = false;
    std::string firstError;
};

/**
 * Generates round `round` of the run's training prompts: k teacher outputs and k student
 * outputs per prompt, labelled into pairs, each prompt saved with its outputs and pairs in one
 * transaction. Prompts already saved for the round are skipped, so a second call after a kill
 * or a cancel continues where the first stopped. Cancellation is polled per generated token;
 * finished prompts are kept. Progress (unit "prompts") goes through `context`.
 */
PairGenerationReport generatePairs(Workspace &store, const std::string &runId, int64_t round, const PairGenerationSetup &setup,
                                   JobContext *context, const std::function<void(const std::string &)> &log = {});

} // namespace plad
