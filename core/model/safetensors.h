#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <torch/types.h>

namespace plad {

/** Element types a safetensors file can declare, with their size in bytes. */
enum class SafetensorsDtype { F64, F32, F16, BF16, I64, I32, I16, I8, U8, Bool };

/** Where one tensor lives inside a safetensors file, as validated from its header. */
struct SafetensorsEntry
{
    std::string name;
    SafetensorsDtype dtype;
    std::vector<int64_t> shape;
    uint64_t begin = 0; ///< byte offset inside the data section
    uint64_t end = 0;   ///< one past the last byte
};

/**
 * A read-only, memory-mapped safetensors file.
 *
 * Opening validates the whole header against the file before any tensor is touched: header
 * length within the file and under 100 MB, a JSON object of entries with known dtypes,
 * non-negative shapes whose byte size matches the offsets, offsets inside the data section,
 * no overlaps and no unindexed bytes. Any violation throws FormatError naming the file and
 * the tensor. Thread-safe for concurrent reads once opened.
 */
class SafetensorsFile
{
public:
    explicit SafetensorsFile(const std::filesystem::path &path);
    ~SafetensorsFile();
    SafetensorsFile(const SafetensorsFile &) = delete;
    SafetensorsFile &operator=(const SafetensorsFile &) = delete;

    const std::filesystem::path &path() const { return mPath; }
    const std::vector<SafetensorsEntry> &entries() const { return mEntries; }
    const std::map<std::string, std::string> &metadata() const { return mMetadata; }
    bool contains(const std::string &name) const;
    const SafetensorsEntry &entry(const std::string &name) const;

    /** Copies a tensor out of the file (CPU) in its stored dtype. */
    torch::Tensor read(const std::string &name) const;

private:
    std::filesystem::path mPath;
    std::vector<SafetensorsEntry> mEntries;
    std::map<std::string, size_t> mIndex;
    std::map<std::string, std::string> mMetadata;
    const uint8_t *mData = nullptr; ///< start of the data section inside the mapping
    void *mMapping = nullptr;
    size_t mMappingSize = 0;
};

/**
 * The tensors of a checkpoint directory: a single `model.safetensors`, or the shards listed by
 * `model.safetensors.index.json` (shard names may not leave the directory).
 */
class SafetensorsCheckpoint
{
public:
    explicit SafetensorsCheckpoint(const std::filesystem::path &directory);

    std::vector<std::string> names() const;
    bool contains(const std::string &name) const;
    const SafetensorsEntry &entry(const std::string &name) const;
    torch::Tensor read(const std::string &name) const;
    /** The file a tensor comes from, for error messages. */
    std::filesystem::path fileOf(const std::string &name) const;

private:
    std::vector<std::unique_ptr<SafetensorsFile>> mFiles;
    std::map<std::string, const SafetensorsFile *> mOwner;
};

std::string toString(SafetensorsDtype dtype);
size_t elementSize(SafetensorsDtype dtype);
torch::ScalarType toScalarType(SafetensorsDtype dtype);

/**
 * Writes tensors to a safetensors file, in the dtype each tensor has (F32, F16, BF16, F64 and
 * integer types). The file is written to a temporary name beside `path` and renamed into place,
 * so a full disk or a crash never leaves a truncated file where a good one was.
 */
void writeSafetensors(const std::filesystem::path &path,
                      const std::vector<std::pair<std::string, torch::Tensor>> &tensors,
                      const std::map<std::string, std::string> &metadata = {{"format", "pt"}});

} // namespace plad
