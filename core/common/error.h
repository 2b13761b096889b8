#pragma once

#include <stdexcept>
#include <string>

namespace plad {

/**
 * An error a user can act on: the message says what was wrong, where (file, field, tensor,
 * line) and, where it helps, what to do. Every failure that crosses a public core API is
 * reported as an Error (or a subclass), never as a bare library exception.
 */
class Error : public std::runtime_error
{
public:
    /** Control characters (a newline inside a quoted value from a hostile file) are written as
     *  escapes, so every message is one line: logs, status bars and scripts rely on that. */
    explicit Error(const std::string &message)
        : std::runtime_error(escapeControls(message))
    {}

    static std::string escapeControls(const std::string &message)
    {
        std::string out;
        out.reserve(message.size());
        static const char hex[] = "0123456789abcdef";
        for (const char c : message) {
            const auto u = static_cast<unsigned char>(c);
            if (c == '\n')
                out += "\\n";
            else if (c == '\r')
                out += "\\r";
            else if (c == '\t')
                out += "\\t";
            else if (u < 0x20 || u == 0x7f)
                out += std::string("\\x") + hex[u >> 4] + hex[u & 15];
            else
                out += c;
        }
        return out;
    }
};

/** A file whose content is malformed or inconsistent (safetensors, config.json, ...). */
class FormatError : public Error
{
public:
    using Error::Error;
};

/** A command line that cannot be right (options that exclude each other, a missing argument): exit status 2. */
class UsageError : public Error
{
public:
    using Error::Error;
};

/** A configuration value that is missing, of the wrong type or out of range. */
class ConfigError : public Error
{
public:
    using Error::Error;
};

} // namespace plad
