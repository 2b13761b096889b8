// SFT job configs (`plad sft CONFIG`): SftJobConfig::load.
#include "fuzzsupport.h"

#include "common/error.h"
#include "train/sftjob.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    using namespace plad;
    const auto path = fuzz::writeScratch("sft.json", std::string_view(reinterpret_cast<const char *>(data), size));
    try {
        SftJobConfig::load(path);
    } catch (const Error &e) {
        fuzz::expectCleanRejection(e.what(), path.string());
    }
    return 0;
}

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t maxSize, unsigned int seed)
{
    plad::fuzz::Random random(seed);
    static const plad::fuzz::Dictionary dict{{"version", "name", "model", "init", "data", "train", "tokenizer", "architecture", "file", "format", "split", "learning_rate", "epochs", "batch_size", "max_length", "seed", "stop_after", "warmup", "grad_clip", "weight_decay", "output"}, {}};
    return plad::fuzz::store(plad::fuzz::mutateJson(std::string(reinterpret_cast<char *>(data), size), maxSize, random, dict), data, maxSize);
}
