#pragma once

#include <filesystem>
#include <string>

namespace plad {

/** Reads a file, decompressing it when its name ends in ".lz4" (LZ4 frame format). */
std::string readMaybeCompressed(const std::filesystem::path &path);

/** Writes `data` LZ4-compressed (frame format, high compression) to `path`, atomically. */
void writeLz4File(const std::filesystem::path &path, const std::string &data);

} // namespace plad
