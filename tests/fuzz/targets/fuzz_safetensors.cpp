// safetensors files: the 8-byte header length, the JSON header (dtypes, shapes, offsets,
// __metadata__) and the data section; SafetensorsFile validates, then every tensor is read.
#include "fuzzsupport.h"

#include "common/error.h"
#include "model/safetensors.h"

#include <cstring>

#include <torch/torch.h>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    using namespace plad;
    const auto path = fuzz::writeScratch("model.safetensors", std::string_view(reinterpret_cast<const char *>(data), size));
    try {
        const SafetensorsFile file(path);
        for (const auto &entry : file.entries()) {
            const torch::Tensor t = file.read(entry.name);
            if (uint64_t(t.numel()) * elementSize(entry.dtype) != entry.end - entry.begin)
                fuzz::defect("tensor " + entry.name + " read with a size its offsets do not give");
        }
    } catch (const Error &e) {
        fuzz::expectCleanRejection(e.what(), path.string());
    }
    return 0;
}

// Mutates the header as JSON and writes its length back (most of the time), the data section's
// length, or the raw bytes.
extern "C" size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t maxSize, unsigned int seed)
{
    plad::fuzz::Random random(seed);
    static const plad::fuzz::Dictionary dict{
        {"dtype", "shape", "data_offsets", "__metadata__", "format"},
        {"F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL", "F8_E4M3", "pt",
         nlohmann::json::array({0, 0}), nlohmann::json::array({0, 4}),
         nlohmann::json::array({2, 3}), nlohmann::json::array({uint64_t(1) << 62, 4})}};
    const std::string bytes(reinterpret_cast<char *>(data), size);
    uint64_t headerLength = 0;
    if (size >= 8)
        std::memcpy(&headerLength, data, 8);
    if (size < 8 || headerLength > size - 8 || random.chance(15))
        return plad::fuzz::store(plad::fuzz::mutateBytes(bytes, maxSize), data, maxSize);
    std::string header = bytes.substr(8, headerLength), rest = bytes.substr(8 + headerLength);
    if (random.chance(20)) {
        if (random.chance(50))
            rest.resize(random.below(rest.size() + 1));
        else
            rest += std::string(1 + random.below(64), '\0');
    } else {
        header = plad::fuzz::mutateJson(header, maxSize, random, dict);
        if (random.chance(10))
            header += std::string(random.below(8), ' '); // padding, as writers align the data
    }
    uint64_t length = header.size();
    if (random.chance(3))
        length += random.below(16) - 8; // a length that does not match
    std::string out(8, '\0');
    std::memcpy(out.data(), &length, 8);
    out += header + rest;
    return plad::fuzz::store(out, data, maxSize);
}
