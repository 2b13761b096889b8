#pragma once

// Pair generation, the driver: collects each prompt's teacher and student outputs, has the
// labelling policy (plad/pairlabelling.h) turn them into pairs, and saves each prompt whole.

#include "common/jobcontext.h"
#include "dist/rankgroup.h"
#include "eval/judge.h"
#include "model/causallm.h"
#include "plad/pairgenerationreport.h"
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
    Judge *judge = nullptr;            ///< the judge policy's judge (null for the other policies)
    /** Scores every new output with the teacher's own likelihood (StoredOutput::teacherLogprobs) when it
     *  can (a local teacher): for teacher-likelihood, and on validation prompts for the pair-quality readout.
     *  Kept on a refresh, when `teacher` is null. */
    TeacherSource *teacherScorer = nullptr;
    std::string split = "train";       ///< whose prompts: "train", or "validation" for held-out pairs
    int64_t maxPrompts = 0;            ///< the first N prompts of the split; 0 = all
    bool makePairs = true;             ///< sample the student and label pairs (false: teacher outputs only, for SeqKD)
    /** The run's processes: prompts are shared among the ranks (every rank generates its share with
     *  the same per-prompt seeds; rank 0 labels and saves them all). Null or a group of one: this process alone. */
    RankGroup *group = nullptr;
};

/** The seed of a prompt's samples in a round (the run's seed, the round, the prompt's index): who it is, not where it ran. */
uint64_t pairPromptSeed(const RunConfig &config, int64_t round, const PromptRecord &prompt);

/**
 * Rows a model decodes together in pair generation: `pairs.batch_size` prompts with their
 * `per_prompt` samples; 0 when `pairs.batch_size` is 0 (each model's rows are then chosen from
 * its shape and the memory available: resolveGenerationRows()).
 */
int64_t pairGenerationRows(const RunConfig &config);

/**
 * Prompts per generation call and store transaction: four batches (256 rows' worth when the
 * batch size is chosen automatically), so that with continuous batching waiting prompts keep
 * the decode batch full until the last of them.
 */
int64_t pairChunkPrompts(const RunConfig &config);

/**
 * Generates round `round` of the run's training prompts: k teacher outputs and k student
 * outputs per prompt, labelled into pairs, each chunk of prompts (pairChunkPrompts()) saved with
 * its outputs and pairs in one transaction. Prompts run longest first, pairGenerationRows() rows
 * decoding together, finished rows' slots taken by waiting prompts; every
 * sample has its own seed (the run's seed, the round, the prompt's index and the sample), so
 * the pairs do not depend on the batching or on where a resumed run restarted. A model's
 * scores of its own outputs come from generating them; only the initial student's scores of
 * the teacher's outputs take a second (batched) pass.
 *
 * Judging, labelling and saving run on a writer thread while the next chunk generates. A
 * prompt is finished once its transaction commits, so a kill loses only unsaved chunks;
 * prompts already saved for the round are skipped, and a second call after a kill or a cancel
 * continues where the first stopped. Cancellation is polled per generated token; chunks
 * already generated are saved before returning. Progress (unit "prompts", saved ones) goes
 * through `context` on the calling thread.
 *
 * With a group of several processes every rank calls this: rank 0 (which alone touches the
 * store) sends every rank the prompts still to do; prompt j of the longest-first order goes to
 * rank j mod N; the others send each finished chunk to rank 0, whose writer saves it. Rank 0's
 * cancellation stops the others after their current chunk. Only rank 0's report counts pairs.
 */
PairGenerationReport generatePairs(Workspace &store, const std::string &runId, int64_t round, const PairGenerationSetup &setup,
                                   JobContext *context, const std::function<void(const std::string &)> &log = {});
/** The same for any rank of a group: `store` is rank 0's workspace, null on the other ranks. */
PairGenerationReport generatePairs(Workspace *store, const std::string &runId, int64_t round, const PairGenerationSetup &setup,
                                   JobContext *context, const std::function<void(const std::string &)> &log = {});

} // namespace plad
