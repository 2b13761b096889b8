#include "common/compression.h"

#include "common/error.h"
#include "common/fileio.h"

#include <memory>

#include <lz4frame.h>
#include <zlib.h>
#include <zstd.h>

namespace plad {

namespace {

constexpr size_t kChunk = size_t(1) << 20;

void appendBounded(std::string &out, const char *data, size_t size, uint64_t maxBytes, const std::filesystem::path &path)
{
    if (out.size() + size > maxBytes)
        throw FormatError(path.string() + ": decompressed data exceeds " + std::to_string(maxBytes >> 20) + " MiB");
    out.append(data, size);
}

std::string readLz4(const std::string &raw, const std::filesystem::path &path, uint64_t maxBytes)
{
    LZ4F_dctx *context = nullptr;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&context, LZ4F_VERSION)))
        throw Error("cannot create an LZ4 decompression context");
    std::unique_ptr<LZ4F_dctx, decltype(&LZ4F_freeDecompressionContext)> guard(context, &LZ4F_freeDecompressionContext);
    std::string out;
    std::string chunk(kChunk, '\0');
    size_t offset = 0;
    size_t hint = 1;
    while (offset < raw.size() && hint != 0) {
        size_t produced = chunk.size();
        size_t consumed = raw.size() - offset;
        hint = LZ4F_decompress(context, chunk.data(), &produced, raw.data() + offset, &consumed, nullptr);
        if (LZ4F_isError(hint))
            throw FormatError(path.string() + ": corrupt LZ4 data at byte " + std::to_string(offset) + " (" + LZ4F_getErrorName(hint) + ")");
        appendBounded(out, chunk.data(), produced, maxBytes, path);
        offset += consumed;
        if (consumed == 0 && produced == 0)
            break;
    }
    if (hint != 0)
        throw FormatError(path.string() + ": truncated LZ4 file");
    return out;
}

std::string readGzip(const std::string &raw, const std::filesystem::path &path, uint64_t maxBytes)
{
    if (raw.size() < 2 || static_cast<unsigned char>(raw[0]) != 0x1f || static_cast<unsigned char>(raw[1]) != 0x8b)
        throw FormatError(path.string() + ": not gzip data (the file name ends in .gz)");
    z_stream z{};
    if (inflateInit2(&z, 15 + 16) != Z_OK)
        throw Error("cannot create a gzip decompression context");
    std::unique_ptr<z_stream, int (*)(z_stream *)> guard(&z, &inflateEnd);
    std::string out;
    std::string chunk(kChunk, '\0');
    size_t offset = 0;
    bool memberEnded = false;
    while (offset < raw.size()) {
        if (memberEnded) {
            // Another member follows (as `cat a.gz b.gz` makes); trailing zero padding is ignored.
            if (raw.find_first_not_of('\0', offset) == std::string::npos)
                break;
            inflateReset(&z);
            memberEnded = false;
        }
        const size_t available = std::min<size_t>(raw.size() - offset, 1u << 30);
        z.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(raw.data() + offset));
        z.avail_in = static_cast<uInt>(available);
        z.next_out = reinterpret_cast<Bytef *>(chunk.data());
        z.avail_out = static_cast<uInt>(chunk.size());
        const int status = inflate(&z, Z_NO_FLUSH);
        const size_t consumed = available - z.avail_in;
        if (status != Z_OK && status != Z_STREAM_END && !(status == Z_BUF_ERROR && consumed > 0))
            throw FormatError(path.string() + ": corrupt gzip data near byte " + std::to_string(offset + consumed) + " ("
                              + (z.msg ? z.msg : "inflate failed") + ")");
        appendBounded(out, chunk.data(), chunk.size() - z.avail_out, maxBytes, path);
        offset += consumed;
        if (status == Z_STREAM_END)
            memberEnded = true;
        else if (consumed == 0 && z.avail_out != 0)
            break;
    }
    if (!memberEnded)
        throw FormatError(path.string() + ": truncated gzip file");
    return out;
}

std::string readZstd(const std::string &raw, const std::filesystem::path &path, uint64_t maxBytes)
{
    std::unique_ptr<ZSTD_DStream, size_t (*)(ZSTD_DStream *)> stream(ZSTD_createDStream(), &ZSTD_freeDStream);
    if (!stream)
        throw Error("cannot create a zstd decompression context");
    std::string out;
    std::string chunk(kChunk, '\0');
    ZSTD_inBuffer in{raw.data(), raw.size(), 0};
    size_t hint = 1;
    while (in.pos < in.size) {
        const size_t before = in.pos;
        ZSTD_outBuffer o{chunk.data(), chunk.size(), 0};
        hint = ZSTD_decompressStream(stream.get(), &o, &in);
        if (ZSTD_isError(hint))
            throw FormatError(path.string() + ": corrupt zstd data near byte " + std::to_string(before) + " ("
                              + ZSTD_getErrorName(hint) + ")");
        appendBounded(out, chunk.data(), o.pos, maxBytes, path);
        if (in.pos == before && o.pos == 0)
            break;
    }
    // Flush what the decoder still holds once the input is consumed.
    while (hint != 0) {
        ZSTD_outBuffer o{chunk.data(), chunk.size(), 0};
        hint = ZSTD_decompressStream(stream.get(), &o, &in);
        if (ZSTD_isError(hint))
            throw FormatError(path.string() + ": corrupt zstd data (" + std::string(ZSTD_getErrorName(hint)) + ")");
        appendBounded(out, chunk.data(), o.pos, maxBytes, path);
        if (o.pos == 0)
            break;
    }
    if (hint != 0)
        throw FormatError(path.string() + ": truncated zstd file");
    return out;
}

} // namespace

Compression compressionOf(const std::filesystem::path &path)
{
    const std::string ext = path.extension().string();
    if (ext == ".lz4")
        return Compression::Lz4;
    if (ext == ".gz")
        return Compression::Gzip;
    if (ext == ".zst" || ext == ".zstd")
        return Compression::Zstd;
    return Compression::None;
}

std::string readMaybeCompressed(const std::filesystem::path &path, uint64_t maxBytes)
{
    const Compression compression = compressionOf(path);
    std::string raw = readTextFile(path);
    switch (compression) {
    case Compression::None: return raw;
    case Compression::Lz4: return readLz4(raw, path, maxBytes);
    case Compression::Gzip: return readGzip(raw, path, maxBytes);
    case Compression::Zstd: return readZstd(raw, path, maxBytes);
    }
    return raw;
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

void writeGzipFile(const std::filesystem::path &path, const std::string &data)
{
    z_stream z{};
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        throw Error("cannot create a gzip compression context");
    std::unique_ptr<z_stream, int (*)(z_stream *)> guard(&z, &deflateEnd);
    std::string out(deflateBound(&z, static_cast<uLong>(data.size())) + 64, '\0');
    z.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(data.data()));
    z.avail_in = static_cast<uInt>(data.size());
    z.next_out = reinterpret_cast<Bytef *>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    if (deflate(&z, Z_FINISH) != Z_STREAM_END)
        throw Error(path.string() + ": gzip compression failed");
    out.resize(out.size() - z.avail_out);
    writeFileAtomically(path, out);
}

void writeZstdFile(const std::filesystem::path &path, const std::string &data)
{
    std::string out(ZSTD_compressBound(data.size()), '\0');
    const size_t size = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 19);
    if (ZSTD_isError(size))
        throw Error(path.string() + ": zstd compression failed: " + ZSTD_getErrorName(size));
    out.resize(size);
    writeFileAtomically(path, out);
}

void writeMaybeCompressed(const std::filesystem::path &path, const std::string &data)
{
    switch (compressionOf(path)) {
    case Compression::None: writeFileAtomically(path, data); return;
    case Compression::Lz4: writeLz4File(path, data); return;
    case Compression::Gzip: writeGzipFile(path, data); return;
    case Compression::Zstd: writeZstdFile(path, data); return;
    }
}

} // namespace plad
