#include "common/compression.h"

#include "common/error.h"
#include "common/fileio.h"

#include <memory>

#include <lz4frame.h>

namespace plad {

std::string readMaybeCompressed(const std::filesystem::path &path)
{
    const std::string raw = readTextFile(path);
    if (path.extension() != ".lz4")
        return raw;
    LZ4F_dctx *context = nullptr;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&context, LZ4F_VERSION)))
        throw Error("cannot create an LZ4 decompression context");
    std::unique_ptr<LZ4F_dctx, decltype(&LZ4F_freeDecompressionContext)> guard(context, &LZ4F_freeDecompressionContext);
    std::string out;
    std::string chunk(1 << 20, '\0');
    size_t offset = 0;
    size_t hint = 1;
    while (offset < raw.size() && hint != 0) {
        size_t produced = chunk.size();
        size_t consumed = raw.size() - offset;
        hint = LZ4F_decompress(context, chunk.data(), &produced, raw.data() + offset, &consumed, nullptr);
        if (LZ4F_isError(hint))
            throw FormatError(path.string() + ": corrupt LZ4 data at byte " + std::to_string(offset) + " (" + LZ4F_getErrorName(hint) + ")");
        out.append(chunk.data(), produced);
        offset += consumed;
        if (consumed == 0 && produced == 0)
            break;
    }
    if (hint != 0)
        throw FormatError(path.string() + ": truncated LZ4 file");
    return out;
}

void writeLz4File(const std::filesystem::path &path, const std::string &data)
{
    LZ4F_preferences_t preferences{};
    preferences.compressionLevel = 9;
    preferences.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
    std::string out(LZ4F_compressFrameBound(data.size(), &preferences), '\0');
    const size_t size = LZ4F_compressFrame(out.data(), out.size(), data.data(), data.size(), &preferences);
    if (LZ4F_isError(size))
        throw Error(path.string() + ": LZ4 compression failed: " + LZ4F_getErrorName(size));
    out.resize(size);
    writeFileAtomically(path, out);
}

} // namespace plad
