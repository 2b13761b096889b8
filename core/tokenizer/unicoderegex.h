#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace plad {

/**
 * A compiled Unicode regular expression (PCRE2 with JIT) that matches what the Oniguruma and
 * Rust engines behind Hugging Face tokenizers match: \p{...} properties, lookahead, and \s as
 * the Unicode White_Space set (PCRE2's own \s omits U+0085, so patterns are adjusted).
 * Invalid UTF-8 in the subject never matches but does not fail.
 *
 * Thread-safe: findAll() may be called concurrently.
 */
class UnicodeRegex
{
public:
    /** Compiles `pattern`; `literal` matches the string as-is. Throws FormatError naming `source`. */
    UnicodeRegex(const std::string &pattern, bool literal = false, const std::string &source = "regex");
    ~UnicodeRegex();
    UnicodeRegex(const UnicodeRegex &) = delete;
    UnicodeRegex &operator=(const UnicodeRegex &) = delete;

    /** All non-overlapping matches, left to right, as [begin, end) byte offsets. */
    std::vector<std::pair<size_t, size_t>> findAll(std::string_view text) const;

    const std::string &pattern() const { return mPattern; }

    /** The pattern with \s and \S rewritten to Unicode White_Space semantics. */
    static std::string adaptWhitespaceClasses(const std::string &pattern);

private:
    std::string mPattern;
    void *mCode = nullptr; // pcre2_code_8
};

} // namespace plad
