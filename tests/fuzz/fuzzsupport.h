#pragma once
// Shared pieces of the fuzz harnesses (tests/fuzz/README.md): scratch files, the rule every
// rejection must follow, and structure-aware mutators for JSON, JSONL and framed binary input.
//
// Each harness defines LLVMFuzzerTestOneInput and LLVMFuzzerCustomMutator. Built with clang's
// -fsanitize=fuzzer it is a libFuzzer target; otherwise driver.cpp supplies main() and a
// seeded LLVMFuzzerMutate, and the harness runs over its committed corpus in the test suite.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

extern "C" size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t maxSize);

namespace plad::fuzz {

/** A directory of this process's own for the files a harness writes (removed at exit). */
const std::filesystem::path &scratchDirectory();
/** Writes `bytes` to scratchDirectory()/name and returns the path. */
std::filesystem::path writeScratch(const std::string &name, std::string_view bytes);

/**
 * The rule for a rejected input: the message is one line, not empty, and names `mustName`
 * (the file, URL or request it was about). Anything else aborts with the message, which
 * libFuzzer and the driver report as a finding.
 */
void expectCleanRejection(const std::string &message, const std::string &mustName);
/** Aborts with "harness: <what>" (an exception type that must never escape, a wrong answer). */
[[noreturn]] void defect(const std::string &what);

/** The random source of one mutation, seeded by libFuzzer or by the driver. */
class Random
{
public:
    explicit Random(unsigned seed)
        : mEngine(seed)
    {}
    size_t below(size_t n) { return n == 0 ? 0 : std::uniform_int_distribution<size_t>(0, n - 1)(mEngine); }
    bool chance(int percent) { return below(100) < size_t(percent); }
    std::mt19937_64 &engine() { return mEngine; }

private:
    std::mt19937_64 mEngine;
};

/** Field names and values a target cares about, spliced in by the JSON mutator. */
struct Dictionary
{
    std::vector<std::string> keys;
    std::vector<nlohmann::json> values;
};

/** Byte-level mutation of a string through LLVMFuzzerMutate (libFuzzer's, or the driver's). */
std::string mutateBytes(std::string text, size_t maxSize);
/**
 * Structure-aware mutation of a JSON document: one node replaced by an interesting value
 * (wrong types, extreme numbers, odd strings, deep nesting), a key removed or added (from
 * `dict`), an element dropped or duplicated, a subtree copied elsewhere, a string or number
 * perturbed; sometimes a byte-level mutation of the text instead, so syntax errors occur too.
 * Text that does not parse is mutated bytewise.
 */
std::string mutateJson(const std::string &text, size_t maxSize, Random &random, const Dictionary &dict = {});
/** JSONL: one line mutated as JSON, or lines duplicated, dropped, swapped, cut, or garbage added. */
std::string mutateJsonLines(const std::string &text, size_t maxSize, Random &random, const Dictionary &dict = {});
/** Copies `mutated` into libFuzzer's buffer (cut to maxSize) and returns its size. */
size_t store(const std::string &mutated, uint8_t *data, size_t maxSize);

} // namespace plad::fuzz
