// Run configs (`plad run CONFIG`): RunConfig::load, every field and its checks.
#include "fuzzsupport.h"

#include "common/error.h"
#include "plad/runconfig.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    using namespace plad;
    const auto path = fuzz::writeScratch("run.json", std::string_view(reinterpret_cast<const char *>(data), size));
    try {
        RunConfig::load(path);
    } catch (const Error &e) {
        fuzz::expectCleanRejection(e.what(), path.string());
    }
    return 0;
}

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t maxSize, unsigned int seed)
{
    plad::fuzz::Random random(seed);
    static const plad::fuzz::Dictionary dict{{"version", "name", "method", "seed", "device", "student", "teacher", "data", "pairs", "labeling", "loss", "refresh", "eval", "train", "model", "template", "kind", "base_url", "samples", "temperature", "top_p", "max_new_tokens", "beta", "policy", "normalization", "learning_rate", "epochs", "batch_size", "file", "format", "split", "prompts"}, {}};
    return plad::fuzz::store(plad::fuzz::mutateJson(std::string(reinterpret_cast<char *>(data), size), maxSize, random, dict), data, maxSize);
}
