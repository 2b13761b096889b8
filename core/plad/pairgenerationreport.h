#pragma once

// What a pair generation call reports (Torch-free, for the run driver's callers and the GUI).

#include "model/modeltypes.h"
#include "plad/pairlabelling.h"

#include <cstdint>
#include <string>

namespace plad {

/** Where pair generation spent its time (seconds of wall time, per thread). */
struct PairGenerationProfile
{
    GenerationProfile teacher;      ///< a local teacher's generation (its prefill, decode, sampling)
    GenerationProfile student;      ///< the student's generation
    double teacherSeconds = 0;      ///< the whole teacher call (generation, or waiting for an endpoint or file)
    double studentSeconds = 0;      ///< the whole student call
    double encodeSeconds = 0;       ///< tokenizing prompts and teacher texts
    double crossScoreSeconds = 0;   ///< the initial student's log-probs of outputs it did not generate itself
    int64_t crossScoredOutputs = 0;
    double teacherScoreSeconds = 0; ///< the teacher's log-probs of outputs (teacher-likelihood, the pair-quality readout)
    double judgeSeconds = 0;        ///< writer thread: the judge
    double labelSeconds = 0;        ///< writer thread: labelling
    double storeSeconds = 0;        ///< writer thread: saving prompts, outputs and pairs
    double waitSeconds = 0;         ///< generation waiting for the writer (a full queue)
    double totalSeconds = 0;
};

struct PairGenerationReport
{
    int64_t prompts = 0;     ///< prompts finished in this call
    int64_t skipped = 0;     ///< prompts already generated earlier (resumed)
    int64_t failed = 0;      ///< prompts left for a later resume (an output could not be obtained)
    int64_t pairs = 0;
    DropCounts drops;        ///< candidate pairs not kept, by reason
    double seconds = 0;
    bool cancelled = false;
    std::string firstError;
    PairGenerationProfile profile;
};

} // namespace plad
