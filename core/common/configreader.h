#pragma once

#include "common/error.h"

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <string>

#include <nlohmann/json.hpp>

namespace plad {

/**
 * Reads one object of a JSON configuration. Every error is a ConfigError that names the field
 * by its dotted path ("train.batch_size: must be positive") and says what was expected and
 * what was found. Absent and null fields keep their defaults; types are strict (a string is
 * not a number, 1.5 is not an integer, -1 is not a seed).
 */
class ConfigReader
{
public:
    /** `path` is the dotted location of `doc` ("" at the top); relative paths resolve against `base`. */
    ConfigReader(const nlohmann::json &doc, std::string path, std::filesystem::path base = {});

    /** Throws for any field not in `known`. */
    void allowOnly(std::initializer_list<const char *> known) const;
    bool has(const char *name) const;
    /** "train.batch_size" for name "batch_size" in "train". */
    std::string where(const char *name) const;
    [[noreturn]] void fail(const char *name, const std::string &problem) const;

    void read(const char *name, std::string &target) const;
    void read(const char *name, double &target) const;
    void read(const char *name, int64_t &target) const;
    void read(const char *name, int &target) const;
    void read(const char *name, uint64_t &target) const;
    void read(const char *name, bool &target) const;
    template<typename T>
    T get(const char *name, T fallback) const
    {
        read(name, fallback);
        return fallback;
    }
    /** A path resolved against the base directory; empty when absent (an error when `required`). */
    std::filesystem::path path(const char *name, bool required) const;
    /** The object at `name` (an error when it is not an object; an empty object when absent). */
    ConfigReader child(const char *name) const;
    const nlohmann::json &json() const { return mDoc; }
    /** The dotted location of this object ("" at the top). */
    const std::string &location() const { return mPath; }
    const std::filesystem::path &base() const { return mBase; }

private:
    const nlohmann::json &value(const char *name) const { return mDoc[name]; }

    const nlohmann::json &mDoc;
    std::string mPath;
    std::filesystem::path mBase;
};

} // namespace plad
