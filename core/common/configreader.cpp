#include "common/configreader.h"

namespace plad {
namespace {

const nlohmann::json &emptyObject()
{
    static const nlohmann::json empty = nlohmann::json::object();
    return empty;
}

} // namespace

ConfigReader::ConfigReader(const nlohmann::json &doc, std::string path, std::filesystem::path base)
    : mDoc(doc.is_null() ? emptyObject() : doc)
    , mPath(std::move(path))
    , mBase(std::move(base))
{
    if (!mDoc.is_object())
        throw ConfigError((mPath.empty() ? std::string("the configuration") : mPath) + ": expected an object, found " + doc.dump());
}

void ConfigReader::allowOnly(std::initializer_list<const char *> known) const
{
    for (auto it = mDoc.begin(); it != mDoc.end(); ++it) {
        bool found = false;
        for (const char *k : known)
            found = found || it.key() == k;
        if (!found)
            throw ConfigError(where(it.key().c_str()) + ": unknown field");
    }
}

bool ConfigReader::has(const char *name) const
{
    return mDoc.contains(name) && !mDoc[name].is_null();
}

std::string ConfigReader::where(const char *name) const
{
    return mPath.empty() ? std::string(name) : mPath + "." + name;
}

void ConfigReader::fail(const char *name, const std::string &problem) const
{
    throw ConfigError(where(name) + ": " + problem);
}

void ConfigReader::read(const char *name, std::string &target) const
{
    if (!has(name))
        return;
    if (!value(name).is_string())
        fail(name, "expected a string, found " + value(name).dump());
    target = value(name).get<std::string>();
}

void ConfigReader::read(const char *name, double &target) const
{
    if (!has(name))
        return;
    if (!value(name).is_number())
        fail(name, "expected a number, found " + value(name).dump());
    target = value(name).get<double>();
}

void ConfigReader::read(const char *name, int64_t &target) const
{
    if (!has(name))
        return;
    if (!value(name).is_number_integer())
        fail(name, "expected an integer, found " + value(name).dump());
    target = value(name).get<int64_t>();
}

void ConfigReader::read(const char *name, int &target) const
{
    int64_t wide = target;
    read(name, wide);
    if (wide < INT32_MIN || wide > INT32_MAX)
        fail(name, "out of range");
    target = static_cast<int>(wide);
}

void ConfigReader::read(const char *name, uint64_t &target) const
{
    if (!has(name))
        return;
    const auto &v = value(name);
    if (!v.is_number_integer() || (!v.is_number_unsigned() && v.get<int64_t>() < 0))
        fail(name, "expected a non-negative integer, found " + v.dump());
    target = value(name).get<uint64_t>();
}

void ConfigReader::read(const char *name, bool &target) const
{
    if (!has(name))
        return;
    if (!value(name).is_boolean())
        fail(name, "expected true or false, found " + value(name).dump());
    target = value(name).get<bool>();
}

std::filesystem::path ConfigReader::path(const char *name, bool required) const
{
    const std::string text = get<std::string>(name, "");
    if (text.empty()) {
        if (required)
            fail(name, "is required");
        return {};
    }
    const std::filesystem::path p(text);
    return p.is_absolute() || mBase.empty() ? p : mBase / p;
}

ConfigReader ConfigReader::child(const char *name) const
{
    if (!has(name))
        return ConfigReader(emptyObject(), where(name), mBase);
    if (!value(name).is_object())
        fail(name, "expected an object, found " + value(name).dump());
    return ConfigReader(value(name), where(name), mBase);
}

} // namespace plad
