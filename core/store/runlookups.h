#pragma once

// A run's prompts and outputs keyed for looking up its pairs (chosen and rejected output ids,
// prompt ids): what pair listings, exports, the report's gallery and the pair inspector need.

#include "store/runstore.h"

#include <cstdint>
#include <map>
#include <string>

namespace plad {

/** The run's prompts by prompt id. */
std::map<std::string, PromptRecord> promptsById(RunStore &store, const std::string &runId);
/** The run's outputs (every round) by output id. */
std::map<int64_t, StoredOutput> outputsById(RunStore &store, const std::string &runId);

} // namespace plad
