#pragma once

#include "model/modeltypes.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <vector>

namespace plad {

/**
 * A model's `generation_config.json`: the end-of-sequence ids and sampling defaults its
 * authors ship with it (chat checkpoints list their end-of-turn token here, e.g. Llama 3's
 * <|eot_id|>). Explicit options always override these defaults.
 */
struct GenerationDefaults
{
    std::vector<int64_t> eosTokenIds;
    std::optional<bool> doSample;
    std::optional<double> temperature;
    std::optional<double> topP;
    std::optional<int64_t> topK;
    std::optional<double> repetitionPenalty;
    std::optional<int64_t> maxNewTokens;
    nlohmann::json raw; ///< the document as read (null: no file), written back when the model is saved

    bool empty() const { return raw.is_null(); }

    /** Parses a generation_config.json document; `source` names it in errors (wrong types, out-of-range values). */
    static GenerationDefaults parse(const nlohmann::json &doc, const std::string &source);
    /** directory/generation_config.json; empty defaults when the directory has none. */
    static GenerationDefaults load(const std::filesystem::path &directory);

    /**
     * Sampling as the defaults say, for the fields the caller did not set: do_sample false (or
     * absent with no temperature/top_p/top_k) is greedy, as transformers decides.
     */
    SamplingOptions sampling() const;
};

} // namespace plad
