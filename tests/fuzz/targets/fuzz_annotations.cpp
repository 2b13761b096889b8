// Annotations JSONL (`plad pairs import-annotations`): parseAnnotationsJsonl.
#include "fuzzsupport.h"

#include "common/error.h"
#include "common/fileio.h"
#include "store/annotationsfile.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    using namespace plad;
    const auto path = fuzz::writeScratch("annotations.jsonl", std::string_view(reinterpret_cast<const char *>(data), size));
    try {
        parseAnnotationsJsonl(readTextFile(path), path.string());
    } catch (const Error &e) {
        fuzz::expectCleanRejection(e.what(), path.string());
    }
    return 0;
}

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t maxSize, unsigned int seed)
{
    plad::fuzz::Random random(seed);
    static const plad::fuzz::Dictionary dict{{"pair_id", "action", "weight", "note"}, {}};
    return plad::fuzz::store(plad::fuzz::mutateJsonLines(std::string(reinterpret_cast<char *>(data), size), maxSize, random, dict), data, maxSize);
}
