#include "model/safetensors.h"

#include "common/error.h"
#include "common/fileio.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

namespace plad {

namespace {

constexpr uint64_t kMaxHeaderBytes = 100ull * 1024 * 1024;

struct DtypeName
{
    const char *name;
    SafetensorsDtype dtype;
};

constexpr DtypeName kDtypeNames[] = {
    {"F64", SafetensorsDtype::F64}, {"F32", SafetensorsDtype::F32}, {"F16", SafetensorsDtype::F16},
    {"BF16", SafetensorsDtype::BF16}, {"I64", SafetensorsDtype::I64}, {"I32", SafetensorsDtype::I32},
    {"I16", SafetensorsDtype::I16}, {"I8", SafetensorsDtype::I8}, {"U8", SafetensorsDtype::U8},
    {"BOOL", SafetensorsDtype::Bool},
};

SafetensorsDtype parseDtype(const std::string &text, const std::string &where)
{
    for (const auto &d : kDtypeNames)
        if (text == d.name)
            return d.dtype;
    throw FormatError(where + ": unsupported dtype \"" + text
                      + "\" (supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)");
}

SafetensorsDtype fromScalarType(torch::ScalarType type, const std::string &name)
{
    switch (type) {
    case torch::kFloat64: return SafetensorsDtype::F64;
    case torch::kFloat32: return SafetensorsDtype::F32;
    case torch::kFloat16: return SafetensorsDtype::F16;
    case torch::kBFloat16: return SafetensorsDtype::BF16;
    case torch::kInt64: return SafetensorsDtype::I64;
    case torch::kInt32: return SafetensorsDtype::I32;
    case torch::kInt16: return SafetensorsDtype::I16;
    case torch::kInt8: return SafetensorsDtype::I8;
    case torch::kUInt8: return SafetensorsDtype::U8;
    case torch::kBool: return SafetensorsDtype::Bool;
    default: break;
    }
    throw Error("cannot write tensor \"" + name + "\": dtype " + std::string(c10::toString(type))
                + " has no safetensors equivalent");
}

} // namespace

std::string toString(SafetensorsDtype dtype)
{
    for (const auto &d : kDtypeNames)
        if (d.dtype == dtype)
            return d.name;
    return "?";
}

size_t elementSize(SafetensorsDtype dtype)
{
    switch (dtype) {
    case SafetensorsDtype::F64:
    case SafetensorsDtype::I64: return 8;
    case SafetensorsDtype::F32:
    case SafetensorsDtype::I32: return 4;
    case SafetensorsDtype::F16:
    case SafetensorsDtype::BF16:
    case SafetensorsDtype::I16: return 2;
    case SafetensorsDtype::I8:
    case SafetensorsDtype::U8:
    case SafetensorsDtype::Bool: return 1;
    }
    return 0;
}

torch::ScalarType toScalarType(SafetensorsDtype dtype)
{
    switch (dtype) {
    case SafetensorsDtype::F64: return torch::kFloat64;
    case SafetensorsDtype::F32: return torch::kFloat32;
    case SafetensorsDtype::F16: return torch::kFloat16;
    case SafetensorsDtype::BF16: return torch::kBFloat16;
    case SafetensorsDtype::I64: return torch::kInt64;
    case SafetensorsDtype::I32: return torch::kInt32;
    case SafetensorsDtype::I16: return torch::kInt16;
    case SafetensorsDtype::I8: return torch::kInt8;
    case SafetensorsDtype::U8: return torch::kUInt8;
    case SafetensorsDtype::Bool: return torch::kBool;
    }
    return torch::kFloat32;
}

SafetensorsFile::SafetensorsFile(const std::filesystem::path &path)
    : mPath(path)
{
    const std::string where = path.string();
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        throw Error(where + ": cannot open: " + std::strerror(errno));
    struct stat st{};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        throw Error(where + ": not a regular file");
    }
    const uint64_t fileSize = static_cast<uint64_t>(st.st_size);
    if (fileSize < 8) {
        ::close(fd);
        throw FormatError(where + ": truncated safetensors file (" + std::to_string(fileSize)
                          + " bytes; at least the 8-byte header length is required)");
    }
    void *mapping = ::mmap(nullptr, fileSize, PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    if (mapping == MAP_FAILED)
        throw Error(where + ": cannot map file: " + std::strerror(errno));
    mMapping = mapping;
    mMappingSize = fileSize;

    try {
        const auto *bytes = static_cast<const uint8_t *>(mapping);
        uint64_t headerSize = 0;
        for (int i = 7; i >= 0; --i) // little-endian u64
            headerSize = (headerSize << 8) | bytes[i];
        if (headerSize > kMaxHeaderBytes)
            throw FormatError(where + ": header length " + std::to_string(headerSize)
                              + " bytes is not plausible (limit 100 MB); the file is corrupt or not safetensors");
        if (headerSize > fileSize - 8)
            throw FormatError(where + ": header length " + std::to_string(headerSize) + " runs past the end of the file ("
                              + std::to_string(fileSize) + " bytes); the file is truncated or corrupt");
        const uint64_t dataSize = fileSize - 8 - headerSize;
        mData = bytes + 8 + headerSize;

        nlohmann::json header;
        try {
            header = nlohmann::json::parse(bytes + 8, bytes + 8 + headerSize);
        } catch (const nlohmann::json::exception &e) { // parse_error, or out_of_range for 1e999
            throw FormatError(where + ": header is not valid JSON (" + jsonErrorText(e) + ")");
        }
        if (!header.is_object())
            throw FormatError(where + ": header must be a JSON object");

        for (auto it = header.begin(); it != header.end(); ++it) {
            const std::string &name = it.key();
            const std::string at = where + ": tensor \"" + name + "\"";
            if (name == "__metadata__") {
                if (!it->is_object())
                    throw FormatError(where + ": __metadata__ must be an object of strings");
                for (auto m = it->begin(); m != it->end(); ++m) {
                    if (!m->is_string())
                        throw FormatError(where + ": __metadata__ value \"" + m.key() + "\" must be a string");
                    mMetadata[m.key()] = m->get<std::string>();
                }
                continue;
            }
            const auto &info = *it;
            if (!info.is_object() || !info.contains("dtype") || !info.contains("shape") || !info.contains("data_offsets"))
                throw FormatError(at + ": entry needs \"dtype\", \"shape\" and \"data_offsets\"");
            if (!info["dtype"].is_string())
                throw FormatError(at + ": \"dtype\" must be a string");
            SafetensorsEntry entry;
            entry.name = name;
            entry.dtype = parseDtype(info["dtype"].get<std::string>(), at);
            const auto &shape = info["shape"];
            if (!shape.is_array())
                throw FormatError(at + ": \"shape\" must be an array of non-negative integers");
            uint64_t elements = 1;
            for (const auto &dim : shape) {
                if (!dim.is_number_unsigned())
                    throw FormatError(at + ": \"shape\" must be an array of non-negative integers");
                const uint64_t d = dim.get<uint64_t>();
                if (d > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
                    throw FormatError(at + ": dimension " + std::to_string(d) + " is too large");
                if (d != 0 && elements > std::numeric_limits<uint64_t>::max() / d)
                    throw FormatError(at + ": shape overflows");
                elements *= d;
                entry.shape.push_back(static_cast<int64_t>(d));
            }
            const auto &offsets = info["data_offsets"];
            if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned()
                || !offsets[1].is_number_unsigned())
                throw FormatError(at + ": \"data_offsets\" must be [begin, end] with non-negative integers");
            entry.begin = offsets[0].get<uint64_t>();
            entry.end = offsets[1].get<uint64_t>();
            if (entry.begin > entry.end)
                throw FormatError(at + ": data_offsets begin " + std::to_string(entry.begin) + " is after end "
                                  + std::to_string(entry.end));
            if (entry.end > dataSize)
                throw FormatError(at + ": data_offsets [" + std::to_string(entry.begin) + ", " + std::to_string(entry.end)
                                  + "] run past the data section (" + std::to_string(dataSize)
                                  + " bytes); the file is truncated or corrupt");
            const size_t width = elementSize(entry.dtype);
            if (elements > std::numeric_limits<uint64_t>::max() / width
                || elements * width != entry.end - entry.begin)
                throw FormatError(at + ": shape x dtype needs " + std::to_string(elements * width) + " bytes but data_offsets span "
                                  + std::to_string(entry.end - entry.begin));
            mEntries.push_back(std::move(entry));
        }

        // Entries must tile the data section exactly: no overlaps, no unindexed bytes.
        std::vector<const SafetensorsEntry *> ordered;
        for (const auto &e : mEntries)
            ordered.push_back(&e);
        std::sort(ordered.begin(), ordered.end(), [](const auto *a, const auto *b) {
            return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
        });
        uint64_t cursor = 0;
        const SafetensorsEntry *previous = nullptr;
        for (const auto *e : ordered) {
            if (e->begin < cursor)
                throw FormatError(where + ": tensors \"" + previous->name + "\" and \"" + e->name + "\" overlap in the data section");
            if (e->begin > cursor)
                throw FormatError(where + ": bytes " + std::to_string(cursor) + ".." + std::to_string(e->begin)
                                  + " of the data section belong to no tensor (before \"" + e->name + "\")");
            cursor = e->end;
            previous = e;
        }
        if (cursor != dataSize)
            throw FormatError(where + ": the data section has " + std::to_string(dataSize - cursor)
                              + " trailing bytes that belong to no tensor");

        std::sort(mEntries.begin(), mEntries.end(), [](const auto &a, const auto &b) { return a.name < b.name; });
        for (size_t i = 0; i < mEntries.size(); ++i)
            mIndex[mEntries[i].name] = i;
    } catch (...) {
        ::munmap(mMapping, mMappingSize);
        mMapping = nullptr;
        throw;
    }
}

SafetensorsFile::~SafetensorsFile()
{
    if (mMapping)
        ::munmap(mMapping, mMappingSize);
}

bool SafetensorsFile::contains(const std::string &name) const
{
    return mIndex.count(name) != 0;
}

const SafetensorsEntry &SafetensorsFile::entry(const std::string &name) const
{
    const auto it = mIndex.find(name);
    if (it == mIndex.end())
        throw Error(mPath.string() + ": no tensor named \"" + name + "\"");
    return mEntries[it->second];
}

torch::Tensor SafetensorsFile::read(const std::string &name) const
{
    const auto &e = entry(name);
    auto tensor = torch::empty(e.shape, torch::TensorOptions().dtype(toScalarType(e.dtype)));
    if (e.end > e.begin)
        std::memcpy(tensor.data_ptr(), mData + e.begin, e.end - e.begin); // the mapping may be unaligned
    return tensor;
}

SafetensorsCheckpoint::SafetensorsCheckpoint(const std::filesystem::path &directory)
{
    namespace fs = std::filesystem;
    const fs::path single = directory / "model.safetensors";
    const fs::path index = directory / "model.safetensors.index.json";
    if (fs::exists(index)) {
        const nlohmann::json doc = readJsonFile(index);
        if (!doc.is_object() || !doc.contains("weight_map") || !doc["weight_map"].is_object())
            throw FormatError(index.string() + ": expected an object with a \"weight_map\" object");
        std::map<std::string, const SafetensorsFile *> byFile;
        std::map<std::string, std::string> wanted;
        for (auto it = doc["weight_map"].begin(); it != doc["weight_map"].end(); ++it) {
            if (!it->is_string())
                throw FormatError(index.string() + ": weight_map entry \"" + it.key() + "\" must name a file");
            const std::string shard = it->get<std::string>();
            const fs::path shardPath(shard);
            if (shard.empty() || shardPath.is_absolute() || shardPath.has_parent_path() || shard == "." || shard == "..")
                throw FormatError(index.string() + ": weight_map entry \"" + it.key() + "\" names \"" + shard
                                  + "\", which is not a file in the checkpoint directory");
            if (!byFile.count(shard)) {
                mFiles.push_back(std::make_unique<SafetensorsFile>(directory / shardPath));
                byFile[shard] = mFiles.back().get();
            }
            wanted[it.key()] = shard;
        }
        for (const auto &[name, shard] : wanted) {
            const auto *file = byFile[shard];
            if (!file->contains(name))
                throw FormatError(index.string() + ": tensor \"" + name + "\" is listed in shard \"" + shard
                                  + "\" but that file does not contain it");
            mOwner[name] = file;
        }
    } else if (fs::exists(single)) {
        mFiles.push_back(std::make_unique<SafetensorsFile>(single));
        for (const auto &e : mFiles.back()->entries())
            mOwner[e.name] = mFiles.back().get();
    } else {
        throw Error(directory.string() + ": no model.safetensors or model.safetensors.index.json found");
    }
}

std::vector<std::string> SafetensorsCheckpoint::names() const
{
    std::vector<std::string> out;
    for (const auto &[name, file] : mOwner)
        out.push_back(name);
    return out;
}

bool SafetensorsCheckpoint::contains(const std::string &name) const
{
    return mOwner.count(name) != 0;
}

const SafetensorsEntry &SafetensorsCheckpoint::entry(const std::string &name) const
{
    const auto it = mOwner.find(name);
    if (it == mOwner.end())
        throw Error("checkpoint has no tensor named \"" + name + "\"");
    return it->second->entry(name);
}

torch::Tensor SafetensorsCheckpoint::read(const std::string &name) const
{
    const auto it = mOwner.find(name);
    if (it == mOwner.end())
        throw Error("checkpoint has no tensor named \"" + name + "\"");
    return it->second->read(name);
}

std::filesystem::path SafetensorsCheckpoint::fileOf(const std::string &name) const
{
    const auto it = mOwner.find(name);
    return it == mOwner.end() ? std::filesystem::path() : it->second->path();
}

void writeSafetensors(const std::filesystem::path &path,
                      const std::vector<std::pair<std::string, torch::Tensor>> &tensors,
                      const std::map<std::string, std::string> &metadata)
{
    nlohmann::json header = nlohmann::json::object();
    if (!metadata.empty())
        header["__metadata__"] = metadata;
    std::vector<torch::Tensor> contiguous;
    uint64_t offset = 0;
    for (const auto &[name, tensor] : tensors) {
        if (name == "__metadata__" || header.contains(name))
            throw Error("cannot write safetensors: duplicate or reserved tensor name \"" + name + "\"");
        auto cpu = tensor.detach().to(torch::kCPU).contiguous();
        const auto dtype = fromScalarType(cpu.scalar_type(), name);
        const uint64_t bytes = static_cast<uint64_t>(cpu.numel()) * elementSize(dtype);
        header[name] = {{"dtype", toString(dtype)}, {"shape", cpu.sizes().vec()}, {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
        contiguous.push_back(std::move(cpu));
    }
    std::string headerText = header.dump();
    headerText.append((8 - headerText.size() % 8) % 8, ' '); // keep tensor data 8-byte aligned

    AtomicFileWriter writer(path);
    uint8_t lengthBytes[8];
    uint64_t length = headerText.size();
    for (int i = 0; i < 8; ++i)
        lengthBytes[i] = static_cast<uint8_t>(length >> (8 * i));
    writer.write(lengthBytes, 8);
    writer.write(headerText.data(), headerText.size());
    for (const auto &t : contiguous)
        writer.write(t.data_ptr(), static_cast<size_t>(t.numel()) * t.element_size());
    writer.commit();
}

} // namespace plad
