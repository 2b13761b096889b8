#include "model/stoptokens.h"

#include "model/modelconfig.h"
#include "tokenizer/tokenizer.h"

#include <algorithm>

namespace plad {

std::vector<int64_t> stopTokenIds(const ModelConfig &config, const Tokenizer &tokenizer)
{
    std::vector<int64_t> ids = config.eosTokenIds;
    for (const int64_t id : config.generation.eosTokenIds) // e.g. a chat model's end-of-turn token
        if (std::find(ids.begin(), ids.end(), id) == ids.end())
            ids.push_back(id);
    if (const auto eos = tokenizer.specialTokens().eos; eos && std::find(ids.begin(), ids.end(), *eos) == ids.end())
        ids.push_back(*eos);
    return ids;
}

} // namespace plad
