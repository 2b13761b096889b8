#pragma once

#include <cstddef>
#include <exception>
#include <filesystem>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace plad {

/** Reads a JSON file; a syntax error names the file, line and column. */
nlohmann::json readJsonFile(const std::filesystem::path &path);
/** readJsonFile, keeping the order of object keys (files the program rewrites). */
nlohmann::ordered_json readOrderedJsonFile(const std::filesystem::path &path);

/**
 * A JSON library exception as a message: "at /json/pointer: what was wrong" (the project builds
 * with JSON_DIAGNOSTICS, so type errors carry the pointer of the value), without the library's
 * "[json.exception...]" tag. For callers that prefix the file.
 */
std::string jsonErrorText(const std::exception &e);

/**
 * Call inside `catch (...)` while loading the config `file`: rethrows the exception in flight
 * as a ConfigError prefixed with the file when it is an Error (the config's own, or one of a
 * file it names), a filesystem error (a path the system refuses) or a JSON library error;
 * anything else propagates unchanged.
 */
[[noreturn]] void rethrowForConfigFile(const std::filesystem::path &file);

/** `path` made absolute and normal, as configs store paths; empty stays empty. */
std::string absolutePathText(const std::filesystem::path &path);

/** Reads a whole file as bytes; throws Error naming the file when it cannot. */
std::string readTextFile(const std::filesystem::path &path);

/**
 * Writes a file so that readers only ever see the old or the complete new content: data goes
 * to a temporary file beside the target, is flushed to disk, then renamed over the target on
 * commit(). Any write error (a full disk, say) throws Error naming the file, and the temporary
 * file is removed; the previous file, if any, is untouched.
 */
class AtomicFileWriter
{
public:
    explicit AtomicFileWriter(std::filesystem::path target);
    ~AtomicFileWriter();
    AtomicFileWriter(const AtomicFileWriter &) = delete;
    AtomicFileWriter &operator=(const AtomicFileWriter &) = delete;

    void write(const void *data, size_t size);
    void write(const std::string &text) { write(text.data(), text.size()); }
    void commit();

private:
    std::filesystem::path mTarget;
    std::filesystem::path mTemp;
    int mFd = -1;
};

/** Writes `text` to `path` through AtomicFileWriter. */
void writeFileAtomically(const std::filesystem::path &path, const std::string &text);

} // namespace plad
