#pragma once

#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>

namespace plad {

/** `text` without leading and trailing spaces, tabs, carriage returns and newlines. */
inline std::string trimmed(std::string_view text)
{
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos)
        return {};
    const auto last = text.find_last_not_of(" \t\r\n");
    return std::string(text.substr(first, last - first + 1));
}

/** `value` with `digits` decimals, or "-" when it is NaN or infinite. */
inline std::string fixedText(double value, int digits = 3)
{
    if (!std::isfinite(value))
        return "-";
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", digits, value);
    return text;
}

/** A share as a percentage with one decimal ("58.5%"), or "-" when it is NaN or infinite. */
inline std::string percentText(double share)
{
    return std::isfinite(share) ? fixedText(100 * share, 1) + "%" : "-";
}

/**
 * `text` fit for a one-line message: runs of whitespace and control characters become one
 * space, and text past `maxBytes` is cut with "...".
 */
inline std::string oneLine(std::string_view text, size_t maxBytes = 200)
{
    std::string out;
    bool space = false;
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f || c == ' ') {
            space = !out.empty();
            continue;
        }
        if (space)
            out += ' ';
        space = false;
        out += c;
        if (out.size() >= maxBytes) {
            // Not in the middle of a UTF-8 character.
            while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80)
                out.pop_back();
            if (!out.empty() && static_cast<unsigned char>(out.back()) >= 0xC0)
                out.pop_back();
            return out + "...";
        }
    }
    return out;
}

} // namespace plad
