#pragma once

// Helpers shared by the test executables: fixture paths and expected values.

#include <QString>
#include <QtTest/QtTest>

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace plad::test {

/** tests/data in the source tree. */
std::filesystem::path dataDir();
/** tests/data/models/<name>. */
std::filesystem::path modelDir(const std::string &name);
/** expected.json of a fixture model. */
nlohmann::json expectedFor(const std::string &name);
std::vector<int64_t> ids(const nlohmann::json &array);

/** Copies a fixture model directory into `target` (which must exist) and returns the copy. */
std::filesystem::path copyModel(const std::string &name, const std::filesystem::path &target);

/** Writes raw bytes to a file. */
void writeBytes(const std::filesystem::path &path, const std::string &bytes);
/** A safetensors file image: little-endian header length, header JSON, data. */
std::string safetensorsImage(const std::string &headerJson, const std::string &data);

/** Runs f and checks that it throws plad::Error whose message contains `message` (and `where`). */
template<typename F>
void expectError(F &&f, const std::string &message, const std::string &where = {})
{
    try {
        f();
    } catch (const std::exception &e) {
        const std::string what = e.what();
        QVERIFY2(dynamic_cast<const plad::Error *>(&e) != nullptr, ("not a plad::Error: " + what).c_str());
        QVERIFY2(what.find(message) != std::string::npos, ("unexpected message: " + what).c_str());
        if (!where.empty())
            QVERIFY2(what.find(where) != std::string::npos, ("message does not name " + where + ": " + what).c_str());
        return;
    }
    QFAIL(("no error raised; expected: " + message).c_str());
}

/** The child widget (or object) named `name`; the test stops when there is none. */
template<typename T>
T *child(QObject *parent, const char *name)
{
    auto *c = parent->findChild<T *>(QString::fromLatin1(name));
    if (!c)
        qFatal("no child %s", name);
    return c;
}

inline QString q(const std::string &s)
{
    return QString::fromStdString(s);
}

} // namespace plad::test
