// Dataset files: JSONL or a JSON array, in every supported format, plain or compressed.
// Input: byte 0 picks the container (plain .jsonl, valid .gz/.zst/.lz4 of the rest, or the rest
// written raw under a compressed name: a corrupt stream), byte 1 the format option, and the
// rest is the file's text.
#include "fuzzsupport.h"

#include "common/compression.h"
#include "common/error.h"
#include "data/dataset.h"

#include <string>

namespace {
const char *const kExtensions[] = {".jsonl", ".jsonl.gz", ".jsonl.zst", ".jsonl.lz4", ".json.gz", ".jsonl.zst", ".jsonl.lz4"};
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    using namespace plad;
    if (size < 2)
        return 0;
    const int container = data[0] % 7;
    const auto formats = datasetFormatNames();
    const std::string format = formats[data[1] % formats.size()];
    const std::string text(reinterpret_cast<const char *>(data) + 2, size - 2);
    const auto path = fuzz::scratchDirectory() / (std::string("data") + kExtensions[container]);
    try {
        if (container >= 1 && container <= 3)
            writeMaybeCompressed(path, text); // a valid stream of the text
        else
            fuzz::writeScratch(path.filename().string(), text);
        ImportOptions options;
        options.format = parseDatasetFormat(format);
        options.skipBadLines = (data[0] & 0x80) != 0;
        importDataset(path, options);
    } catch (const Error &e) {
        fuzz::expectCleanRejection(e.what(), path.string());
    }
    return 0;
}

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t maxSize, unsigned int seed)
{
    plad::fuzz::Random random(seed);
    static const plad::fuzz::Dictionary dict{
        {"prompt", "response", "chosen", "rejected", "post", "summary", "title", "messages", "role", "content",
         "conversations", "from", "value", "instruction", "input", "output", "completions", "completion", "id"},
        {"user", "assistant", "system", "human", "gpt", "\n\nHuman: hi\n\nAssistant: hello",
         nlohmann::json::array({{{"role", "user"}, {"content", "hi"}}, {{"role", "assistant"}, {"content", "yo"}}}),
         nlohmann::json::array({{{"from", "human"}, {"value", "hi"}}, {{"from", "gpt"}, {"value", "yo"}}})}};
    if (size < 2 || random.chance(5)) {
        const std::string bytes = plad::fuzz::mutateBytes(std::string(reinterpret_cast<char *>(data), size), maxSize);
        return plad::fuzz::store(bytes, data, maxSize);
    }
    std::string head(reinterpret_cast<char *>(data), 2), text(reinterpret_cast<char *>(data) + 2, size - 2);
    if (random.chance(10))
        head[random.below(2)] = char(random.below(256));
    const bool array = !text.empty() && text.find_first_not_of(" \t\r\n") != std::string::npos
                       && text[text.find_first_not_of(" \t\r\n")] == '[';
    text = array ? plad::fuzz::mutateJson(text, maxSize - 2, random, dict) : plad::fuzz::mutateJsonLines(text, maxSize - 2, random, dict);
    return plad::fuzz::store(head + text, data, maxSize);
}
