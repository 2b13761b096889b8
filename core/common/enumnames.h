#pragma once

// Enumerations that appear in configuration files and in the store as text. Each enum has one
// table of (value, name) pairs; strings are parsed once, at the boundary, and the rest of the
// code switches on the enum.

#include "common/error.h"

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace plad {

template<typename E>
struct EnumName
{
    E value;
    const char *name;
};

/** The name of `value` in `table` ("?" for a value the table lacks, which is a programming error). */
template<typename E>
std::string enumName(std::span<const EnumName<E>> table, E value)
{
    for (const auto &entry : table)
        if (entry.value == value)
            return entry.name;
    return "?";
}

/** "a", "b" or "c": the table's names quoted, for messages. */
template<typename E>
std::string enumChoices(std::span<const EnumName<E>> table)
{
    std::string text;
    for (size_t i = 0; i < table.size(); ++i) {
        if (i > 0)
            text += i + 1 == table.size() ? " or " : ", ";
        text += "\"" + std::string(table[i].name) + "\"";
    }
    return text;
}

template<typename E>
std::vector<std::string> enumNames(std::span<const EnumName<E>> table)
{
    std::vector<std::string> names;
    for (const auto &entry : table)
        names.emplace_back(entry.name);
    return names;
}

/** The value named `name`, or nothing when the table has no such name. */
template<typename E>
std::optional<E> findEnum(std::span<const EnumName<E>> table, std::string_view name)
{
    for (const auto &entry : table)
        if (name == entry.name)
            return entry.value;
    return std::nullopt;
}

/**
 * The value named `name`; a ConfigError "WHERE: must be "a", "b" or "c", found "x"" otherwise.
 * `where` is the dotted field (or the column) the text came from.
 */
template<typename E>
E parseEnum(std::span<const EnumName<E>> table, std::string_view name, const std::string &where)
{
    if (const auto value = findEnum(table, name))
        return *value;
    throw ConfigError(where + ": must be " + enumChoices(table) + ", found \"" + std::string(name) + "\"");
}

} // namespace plad
