#include "tokenizer/tokenizerjson.h"

#include "common/error.h"
#include "tokenizer/unicoderegex.h"

#include <nlohmann/json.hpp>

namespace plad {

std::string componentType(const nlohmann::json &spec, const std::string &what, const std::string &source)
{
    if (!spec.is_object() || !spec.contains("type") || !spec["type"].is_string())
        throw FormatError(source + ": every " + what + " needs a \"type\" string, found " + spec.dump().substr(0, 120));
    return spec["type"].get<std::string>();
}

std::string jsonString(const nlohmann::json &spec, const std::string &field, const std::string &source)
{
    if (!spec.contains(field) || !spec[field].is_string())
        throw FormatError(source + ": " + spec.value("type", std::string("component")) + " needs a string \"" + field + "\"");
    return spec[field].get<std::string>();
}

bool jsonBool(const nlohmann::json &spec, const std::string &field, bool fallback, const std::string &source)
{
    if (!spec.contains(field) || spec[field].is_null())
        return fallback;
    if (!spec[field].is_boolean())
        throw FormatError(source + ": " + spec.value("type", std::string("component")) + " field \"" + field + "\" must be true or false");
    return spec[field].get<bool>();
}

std::unique_ptr<UnicodeRegex> makePattern(const nlohmann::json &spec, const std::string &what, const std::string &source)
{
    if (!spec.contains("pattern") || !spec["pattern"].is_object())
        throw FormatError(source + ": " + what + " needs a \"pattern\" object ({\"String\": ...} or {\"Regex\": ...})");
    const auto &pattern = spec["pattern"];
    if (pattern.contains("String") && pattern["String"].is_string())
        return std::make_unique<UnicodeRegex>(pattern["String"].get<std::string>(), true, source);
    if (pattern.contains("Regex") && pattern["Regex"].is_string())
        return std::make_unique<UnicodeRegex>(pattern["Regex"].get<std::string>(), false, source);
    throw FormatError(source + ": " + what + " pattern must be {\"String\": ...} or {\"Regex\": ...}");
}

std::string replaceAll(const UnicodeRegex &pattern, const std::string &text, const std::string &content)
{
    std::string out;
    size_t last = 0;
    for (const auto &[b, e] : pattern.findAll(text)) {
        out.append(text, last, b - last);
        out += content;
        last = e;
    }
    out.append(text, last, std::string::npos);
    return out;
}

} // namespace plad
