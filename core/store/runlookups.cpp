#include "store/runlookups.h"

namespace plad {

std::map<std::string, PromptRecord> promptsById(RunStore &store, const std::string &runId)
{
    std::map<std::string, PromptRecord> prompts;
    for (auto &p : store.prompts(runId))
        prompts.emplace(p.id, std::move(p));
    return prompts;
}

std::map<int64_t, StoredOutput> outputsById(RunStore &store, const std::string &runId)
{
    std::map<int64_t, StoredOutput> outputs;
    for (auto &o : store.outputs(runId))
        outputs.emplace(o.id, std::move(o));
    return outputs;
}

} // namespace plad
