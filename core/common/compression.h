#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace plad {

/** The compressions readMaybeCompressed() understands, chosen by the file name's extension. */
enum class Compression { None, Lz4, Gzip, Zstd };

/** ".lz4" -> Lz4 (LZ4 frame), ".gz" -> Gzip, ".zst"/".zstd" -> Zstd, anything else -> None. */
Compression compressionOf(const std::filesystem::path &path);

/**
 * Reads a file, decompressing it by its extension (see compressionOf(); concatenated gzip
 * members and zstd frames are read to the end, as the command-line tools do). Corrupt or
 * truncated data is a FormatError naming the file and the compressed byte offset; output beyond
 * `maxBytes` is refused, so a hostile file cannot exhaust memory.
 */
std::string readMaybeCompressed(const std::filesystem::path &path, uint64_t maxBytes = uint64_t(8) << 30);

/** Writes `data` LZ4-compressed (frame format, high compression) to `path`, atomically. */
void writeLz4File(const std::filesystem::path &path, const std::string &data);
/** Writes `data` gzip-compressed to `path`, atomically. */
void writeGzipFile(const std::filesystem::path &path, const std::string &data);
/** Writes `data` zstd-compressed (level 19) to `path`, atomically. */
void writeZstdFile(const std::filesystem::path &path, const std::string &data);
/** Writes by the extension of `path` (compressionOf()), atomically. */
void writeMaybeCompressed(const std::filesystem::path &path, const std::string &data);

} // namespace plad
