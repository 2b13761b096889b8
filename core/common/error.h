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
    explicit Error(const std::string &message)
        : std::runtime_error(message)
    {}
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
