#include "bench/tokenizerbenchmark.h"

#include "common/error.h"
#include "common/fileio.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicodetext.h"

#include <algorithm>
#include <chrono>
#include <sstream>

namespace plad {

namespace {

double since(std::chrono::steady_clock::time_point t)
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::string gatherDocumentation(size_t limit, std::string &source)
{
    std::vector<std::filesystem::path> files;
    std::error_code ec;
    for (const auto &entry : std::filesystem::directory_iterator("/usr/share/doc", ec)) {
        const auto file = entry.path() / "copyright";
        if (std::filesystem::is_regular_file(file, ec))
            files.push_back(file);
    }
    std::sort(files.begin(), files.end());
    std::string text;
    size_t used = 0;
    for (const auto &file : files) {
        if (text.size() >= limit)
            break;
        std::string content = readTextFile(file);
        if (unicode::firstInvalidByte(content))
            continue;
        text += content;
        ++used;
    }
    if (text.empty())
        throw Error("no corpus given and no /usr/share/doc/*/copyright files found; pass --corpus FILE");
    source = std::to_string(used) + " /usr/share/doc/*/copyright files";
    return text.substr(0, limit);
}

} // namespace

TokenizerBenchmarkReport runTokenizerBenchmark(const std::filesystem::path &tokenizerPath, const std::filesystem::path &corpus,
                                               double corpusMegabytes)
{
    TokenizerBenchmarkReport report;
    auto start = std::chrono::steady_clock::now();
    const Tokenizer tokenizer = Tokenizer::load(tokenizerPath);
    report.loadSeconds = since(start);
    report.vocabSize = tokenizer.vocabSize();

    std::string text;
    if (!corpus.empty()) {
        text = readTextFile(corpus);
        report.corpusSource = corpus.string();
    } else {
        text = gatherDocumentation(static_cast<size_t>(corpusMegabytes * 1024 * 1024), report.corpusSource);
    }
    report.corpusBytes = static_cast<int64_t>(text.size());

    std::vector<std::string> lines;
    std::istringstream stream(text);
    for (std::string line; std::getline(stream, line);)
        lines.push_back(line + "\n");

    std::vector<std::vector<int64_t>> encoded;
    encoded.reserve(lines.size());
    start = std::chrono::steady_clock::now();
    for (const auto &line : lines)
        encoded.push_back(tokenizer.encode(line));
    report.encodeSeconds = since(start);
    for (const auto &ids : encoded)
        report.tokens += static_cast<int64_t>(ids.size());
    report.megabytesPerSecond = static_cast<double>(report.corpusBytes) / (1024.0 * 1024.0) / report.encodeSeconds;

    start = std::chrono::steady_clock::now();
    bool exact = true;
    for (size_t i = 0; i < lines.size(); ++i)
        exact = exact && tokenizer.decode(encoded[i]) == lines[i];
    report.decodeMegabytesPerSecond = static_cast<double>(report.corpusBytes) / (1024.0 * 1024.0) / since(start);
    report.roundTripExact = exact;
    return report;
}

} // namespace plad
