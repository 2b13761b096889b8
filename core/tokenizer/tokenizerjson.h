#pragma once

// Small readers for tokenizer.json component objects, with messages naming the file.

#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace plad {

class UnicodeRegex;

/** The "type" of a component object; throws FormatError when missing. */
std::string componentType(const nlohmann::json &spec, const std::string &what, const std::string &source);
std::string jsonString(const nlohmann::json &spec, const std::string &field, const std::string &source);
bool jsonBool(const nlohmann::json &spec, const std::string &field, bool fallback, const std::string &source);
/** A "pattern" field: {"String": "..."} (literal) or {"Regex": "..."}. */
std::unique_ptr<UnicodeRegex> makePattern(const nlohmann::json &spec, const std::string &what, const std::string &source);
/** Replaces every match of `pattern` in `text` with `content`. */
std::string replaceAll(const UnicodeRegex &pattern, const std::string &text, const std::string &content);

} // namespace plad
