#include "tokenizer/unicoderegex.h"

#include "common/error.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace plad {

namespace {

// U+0085 (NEL) is White_Space but not in PCRE2's \s.
constexpr const char *kExtraSpace = "\\x{85}";

std::string pcreError(int code)
{
    PCRE2_UCHAR buffer[256];
    pcre2_get_error_message(code, buffer, sizeof buffer);
    return reinterpret_cast<const char *>(buffer);
}

// Per-thread JIT stack and match data: long inputs with nested repeats need more than the
// default 32 KiB JIT stack.
struct MatchScratch
{
    pcre2_jit_stack *stack = nullptr;
    pcre2_match_context *context = nullptr;
    MatchScratch()
    {
        stack = pcre2_jit_stack_create(64 * 1024, 16 * 1024 * 1024, nullptr);
        context = pcre2_match_context_create(nullptr);
        pcre2_jit_stack_assign(context, nullptr, stack);
    }
    ~MatchScratch()
    {
        pcre2_match_context_free(context);
        pcre2_jit_stack_free(stack);
    }
};

} // namespace

std::string UnicodeRegex::adaptWhitespaceClasses(const std::string &pattern)
{
    std::string out;
    int classDepth = 0;
    for (size_t i = 0; i < pattern.size(); ++i) {
        const char c = pattern[i];
        if (c == '\\' && i + 1 < pattern.size()) {
            const char next = pattern[i + 1];
            if (next == 's') {
                out += classDepth > 0 ? std::string("\\s") + kExtraSpace : std::string("[\\s") + kExtraSpace + "]";
            } else if (next == 'S' && classDepth == 0) {
                out += std::string("[^\\s") + kExtraSpace + "]";
            } else {
                out += c;
                out += next;
            }
            ++i;
            continue;
        }
        if (c == '[') {
            ++classDepth;
            out += c;
            // A ']' right after '[' or '[^' is a literal member, not the end of the class.
            if (i + 1 < pattern.size() && pattern[i + 1] == '^') {
                out += '^';
                ++i;
            }
            if (i + 1 < pattern.size() && pattern[i + 1] == ']') {
                out += ']';
                ++i;
            }
            continue;
        }
        if (c == ']' && classDepth > 0)
            --classDepth;
        out += c;
    }
    return out;
}

UnicodeRegex::UnicodeRegex(const std::string &pattern, bool literal, const std::string &source)
    : mPattern(pattern)
{
    const std::string compiled = literal ? pattern : adaptWhitespaceClasses(pattern);
    uint32_t options = PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF;
    if (literal)
        options = PCRE2_UTF | PCRE2_LITERAL | PCRE2_MATCH_INVALID_UTF;
    int error = 0;
    PCRE2_SIZE offset = 0;
    pcre2_code *code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(compiled.data()), compiled.size(), options, &error,
                                     &offset, nullptr);
    if (!code)
        throw FormatError(source + ": cannot compile regex \"" + pattern + "\" at offset " + std::to_string(offset) + ": "
                          + pcreError(error));
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE | PCRE2_JIT_INVALID_UTF); // falls back to the interpreter if JIT is unavailable
    mCode = code;
}

UnicodeRegex::~UnicodeRegex()
{
    pcre2_code_free(static_cast<pcre2_code *>(mCode));
}

std::vector<std::pair<size_t, size_t>> UnicodeRegex::findAll(std::string_view text) const
{
    thread_local MatchScratch scratch;
    auto *code = static_cast<pcre2_code *>(mCode);
    pcre2_match_data *data = pcre2_match_data_create_from_pattern(code, nullptr);
    std::vector<std::pair<size_t, size_t>> matches;
    const auto *subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    size_t start = 0;
    while (start <= text.size()) {
        const int rc = pcre2_match(code, subject, text.size(), start, 0, data, scratch.context);
        if (rc == PCRE2_ERROR_NOMATCH)
            break;
        if (rc < 0) {
            pcre2_match_data_free(data);
            throw Error("regex \"" + mPattern + "\" failed on the input: " + pcreError(rc));
        }
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(data);
        const size_t b = ov[0], e = ov[1];
        if (e > b)
            matches.emplace_back(b, e);
        if (e > start || e > b) {
            start = e;
        } else {
            // Empty match: step over one character (or one invalid byte).
            size_t step = 1;
            while (start + step < text.size() && (static_cast<unsigned char>(text[start + step]) & 0xC0) == 0x80)
                ++step;
            start += step;
        }
    }
    pcre2_match_data_free(data);
    return matches;
}

} // namespace plad
