#include "common/fileio.h"

#include "common/error.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

namespace plad {

std::string readTextFile(const std::filesystem::path &path)
{
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        throw Error(path.string() + ": is a directory, expected a file");
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error(path.string() + ": cannot open: " + std::strerror(errno));
    std::ostringstream buffer;
    buffer << in.rdbuf();
    if (in.bad())
        throw Error(path.string() + ": read error");
    return buffer.str();
}

std::string jsonErrorText(const std::exception &e)
{
    std::string text = e.what();
    if (text.rfind("[json.exception.", 0) == 0) {
        const size_t close = text.find("] ");
        if (close != std::string::npos)
            text = text.substr(close + 2);
    }
    if (!text.empty() && text[0] == '(') {
        const size_t close = text.find(") ");
        if (close != std::string::npos)
            text = "at " + text.substr(1, close - 1) + ": " + text.substr(close + 2);
    }
    return text;
}

namespace {

template<typename Json>
Json parseJsonFile(const std::filesystem::path &path)
{
    const std::string text = readTextFile(path);
    try {
        return Json::parse(text);
    } catch (const nlohmann::json::parse_error &e) {
        // Translate the byte offset into line:column, which is what an editor shows.
        const size_t offset = std::min<size_t>(e.byte > 0 ? e.byte - 1 : 0, text.size());
        size_t line = 1, column = 1;
        for (size_t i = 0; i < offset; ++i) {
            if (text[i] == '\n') {
                ++line;
                column = 1;
            } else {
                ++column;
            }
        }
        std::string detail = e.what();
        if (const auto pos = detail.find("syntax error"); pos != std::string::npos)
            detail = detail.substr(pos);
        throw FormatError(path.string() + ":" + std::to_string(line) + ":" + std::to_string(column)
                          + ": invalid JSON: " + detail);
    } catch (const nlohmann::json::exception &e) {
        // A number beyond double's range (1e999) fails after the syntax is read.
        throw FormatError(path.string() + ": invalid JSON: " + jsonErrorText(e));
    }
}

} // namespace

void rethrowForConfigFile(const std::filesystem::path &file)
{
    try {
        throw;
    } catch (const Error &e) {
        throw ConfigError(file.string() + ": " + e.what());
    } catch (const std::filesystem::filesystem_error &e) {
        // A path in the config the system cannot even look at (too long, a component not a directory).
        throw ConfigError(file.string() + ": " + e.path1().string().substr(0, 200) + ": " + e.code().message());
    } catch (const nlohmann::json::exception &e) {
        throw ConfigError(file.string() + ": " + jsonErrorText(e));
    }
}

nlohmann::json readJsonFile(const std::filesystem::path &path)
{
    return parseJsonFile<nlohmann::json>(path);
}

nlohmann::ordered_json readOrderedJsonFile(const std::filesystem::path &path)
{
    return parseJsonFile<nlohmann::ordered_json>(path);
}

AtomicFileWriter::AtomicFileWriter(std::filesystem::path target)
    : mTarget(std::move(target))
{
    std::random_device rd;
    mTemp = mTarget;
    mTemp += ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(rd());
    mFd = ::open(mTemp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (mFd < 0)
        throw Error(mTarget.string() + ": cannot create file: " + std::strerror(errno));
}

AtomicFileWriter::~AtomicFileWriter()
{
    if (mFd >= 0) {
        ::close(mFd);
        ::unlink(mTemp.c_str());
    }
}

void AtomicFileWriter::write(const void *data, size_t size)
{
    const auto *bytes = static_cast<const char *>(data);
    while (size > 0) {
        const ssize_t n = ::write(mFd, bytes, size);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            throw Error(mTarget.string() + ": write failed: " + std::strerror(errno)
                        + (errno == ENOSPC ? " (the disk is full; nothing was replaced)" : ""));
        }
        bytes += n;
        size -= static_cast<size_t>(n);
    }
}

void AtomicFileWriter::commit()
{
    if (::fsync(mFd) != 0)
        throw Error(mTarget.string() + ": flushing to disk failed: " + std::strerror(errno));
    const int fd = mFd;
    mFd = -1;
    if (::close(fd) != 0) {
        ::unlink(mTemp.c_str());
        throw Error(mTarget.string() + ": closing failed: " + std::strerror(errno));
    }
    if (::rename(mTemp.c_str(), mTarget.c_str()) != 0) {
        const int err = errno;
        ::unlink(mTemp.c_str());
        throw Error(mTarget.string() + ": cannot move the new file into place: " + std::strerror(err));
    }
}

void writeFileAtomically(const std::filesystem::path &path, const std::string &text)
{
    AtomicFileWriter writer(path);
    writer.write(text);
    writer.commit();
}

std::string absolutePathText(const std::filesystem::path &path)
{
    return path.empty() ? std::string() : std::filesystem::absolute(path).lexically_normal().string();
}

} // namespace plad
