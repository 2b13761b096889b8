#pragma once

// The pair-quality readout: before training, how often each labelling policy's preferred side
// is the better one by the reference, measured on held-out (validation) prompts only. It tells
// a user whether the pseudo-preferences are trustworthy. Pure functions: no models, no store.

#include "plad/pairlabelling.h"
#include "store/workspace.h"

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace plad {

/** One held-out prompt: its reference and the outputs pair generation collected for it. */
struct QualityPrompt
{
    std::string reference;
    std::vector<CollectedOutput> outputs;
};

/** How one policy's pairs compare with the reference. */
struct PolicyQuality
{
    std::string policy;             ///< "teacher-preferred", "consensus", "teacher-likelihood", "judge:rouge-l"
    bool usesAnnotations = false;   ///< the policy itself looks at references or a judge
    int64_t pairs = 0;              ///< pairs the policy kept
    int64_t agree = 0;              ///< its preferred side has the higher ROUGE-L against the reference
    int64_t disagree = 0;           ///< its preferred side has the lower one
    int64_t referenceTies = 0;      ///< both sides score the same against the reference (undecided)
    int64_t dropped = 0;            ///< candidates the policy dropped
    /** agree / (agree + disagree); NaN when no pair is decided by the reference. */
    double accuracy() const;
};

struct PairQuality
{
    int64_t prompts = 0;
    std::vector<PolicyQuality> policies;
};

/**
 * Labels every prompt's outputs with each annotation-free policy (teacher-likelihood only when
 * the outputs carry the teacher's log-probs) and with the reference ROUGE-L judge, and scores
 * each kept pair by ROUGE-L F1 of both sides against the prompt's reference. `base` supplies
 * the score kind, min_gap and drop_identical.
 */
PairQuality pairQuality(const std::vector<QualityPrompt> &prompts, const LabellingOptions &base);

/**
 * The readout of a stored run: its first `maxPrompts` (0: all) validation prompts with their
 * round-0 outputs, labelled with `base`'s settings. Prompts without outputs are left out.
 */
PairQuality storedPairQuality(Workspace &store, const std::string &runId, int64_t maxPrompts, const LabellingOptions &base);

/** `{"prompts": N, "policies": [{"policy", "uses_annotations", "pairs", "agree", "disagree", "reference_ties", "dropped", "accuracy"}]}` */
nlohmann::json toJson(const PairQuality &quality);

/** "teacher-preferred 61.0% (122/200), consensus 78.5% (...), ..." for logs. */
std::string describe(const PairQuality &quality);

} // namespace plad
