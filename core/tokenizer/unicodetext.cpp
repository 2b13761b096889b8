#include "tokenizer/unicodetext.h"

#include "common/error.h"

#include <algorithm>

#include <unicode/bytestream.h>
#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/ustring.h>

namespace plad::unicode {

std::optional<char32_t> decodeAt(std::string_view text, size_t pos, size_t &length)
{
    const auto *s = reinterpret_cast<const unsigned char *>(text.data());
    const size_t n = text.size();
    const unsigned char c = s[pos];
    if (c < 0x80) {
        length = 1;
        return c;
    }
    size_t need = 0;
    char32_t cp = 0;
    char32_t min = 0;
    if ((c & 0xE0) == 0xC0) {
        need = 1;
        cp = c & 0x1F;
        min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        need = 2;
        cp = c & 0x0F;
        min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        need = 3;
        cp = c & 0x07;
        min = 0x10000;
    } else {
        length = 1;
        return std::nullopt;
    }
    if (pos + need >= n) { // truncated sequence
        length = 1;
        return std::nullopt;
    }
    for (size_t i = 1; i <= need; ++i) {
        const unsigned char cc = s[pos + i];
        if ((cc & 0xC0) != 0x80) {
            length = 1;
            return std::nullopt;
        }
        cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        length = 1;
        return std::nullopt;
    }
    length = need + 1;
    return cp;
}

std::optional<size_t> firstInvalidByte(std::string_view text)
{
    size_t pos = 0;
    while (pos < text.size()) {
        size_t len = 0;
        if (!decodeAt(text, pos, len))
            return pos;
        pos += len;
    }
    return std::nullopt;
}

void appendUtf8(std::string &out, char32_t cp)
{
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

size_t previousCodePointStart(std::string_view text, size_t end)
{
    size_t start = end - 1;
    while (start > 0 && end - start < 4 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80)
        --start;
    return start;
}

bool isWhitespace(char32_t cp)
{
    return u_hasBinaryProperty(static_cast<UChar32>(cp), UCHAR_WHITE_SPACE);
}

bool isWordCharacter(char32_t cp)
{
    const auto c = static_cast<UChar32>(cp);
    if (u_hasBinaryProperty(c, UCHAR_ALPHABETIC) || u_hasBinaryProperty(c, UCHAR_JOIN_CONTROL))
        return true;
    const int8_t type = u_charType(c);
    return type == U_NON_SPACING_MARK || type == U_ENCLOSING_MARK || type == U_COMBINING_SPACING_MARK
           || type == U_DECIMAL_DIGIT_NUMBER || type == U_CONNECTOR_PUNCTUATION;
}

namespace {

std::string fromIcu(const icu::UnicodeString &text)
{
    std::string out;
    text.toUTF8String(out);
    return out;
}

std::string normalizeWith(const icu::Normalizer2 *(*get)(UErrorCode &), std::string_view text)
{
    // ASCII is unchanged by every normalization form: skip ICU for the common case.
    if (std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; }))
        return std::string(text);
    if (auto bad = firstInvalidByte(text))
        throw Error("text is not valid UTF-8 at byte " + std::to_string(*bad));
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2 *normalizer = get(status);
    if (U_FAILURE(status))
        throw Error(std::string("Unicode normalization data unavailable: ") + u_errorName(status));
    const icu::StringPiece piece(text.data(), static_cast<int32_t>(text.size()));
    if (normalizer->isNormalizedUTF8(piece, status) && U_SUCCESS(status))
        return std::string(text);
    status = U_ZERO_ERROR;
    std::string out;
    icu::StringByteSink<std::string> sink(&out, static_cast<int32_t>(text.size()));
    normalizer->normalizeUTF8(0, piece, sink, nullptr, status);
    if (U_FAILURE(status))
        throw Error(std::string("Unicode normalization failed: ") + u_errorName(status));
    return out;
}

} // namespace

std::string nfc(std::string_view text)
{
    return normalizeWith(&icu::Normalizer2::getNFCInstance, text);
}

std::string nfkc(std::string_view text)
{
    return normalizeWith(&icu::Normalizer2::getNFKCInstance, text);
}

std::string nfd(std::string_view text)
{
    return normalizeWith(&icu::Normalizer2::getNFDInstance, text);
}

std::string nfkd(std::string_view text)
{
    return normalizeWith(&icu::Normalizer2::getNFKDInstance, text);
}

std::string lowercase(std::string_view text)
{
    std::string out;
    out.reserve(text.size());
    size_t pos = 0;
    while (pos < text.size()) {
        size_t len = 0;
        const auto cp = decodeAt(text, pos, len);
        if (!cp)
            throw Error("text is not valid UTF-8 at byte " + std::to_string(pos));
        if (*cp < 0x80) {
            out += static_cast<char>(*cp >= 'A' && *cp <= 'Z' ? *cp + 32 : *cp);
        } else {
            // Full (possibly multi-character) mapping of this one code point, in the root locale.
            icu::UnicodeString one(static_cast<UChar32>(*cp));
            one.toLower(icu::Locale::getRoot());
            out += fromIcu(one);
        }
        pos += len;
    }
    return out;
}

std::string lossyUtf8(std::string_view bytes)
{
    std::string out;
    out.reserve(bytes.size());
    size_t pos = 0;
    while (pos < bytes.size()) {
        size_t len = 0;
        if (decodeAt(bytes, pos, len)) {
            out.append(bytes.substr(pos, len));
            pos += len;
            continue;
        }
        // One replacement character per maximal invalid subpart: a lead byte followed by as
        // many valid continuation bytes as it could take.
        const auto c = static_cast<unsigned char>(bytes[pos]);
        size_t skip = 1;
        size_t need = (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : 0;
        if (need > 0 && c >= 0xC2 && c <= 0xF4) {
            for (size_t i = 1; i <= need && pos + i < bytes.size(); ++i) {
                const auto cc = static_cast<unsigned char>(bytes[pos + i]);
                // The second byte of E0/ED/F0/F4 has a narrower valid range.
                unsigned char lo = 0x80, hi = 0xBF;
                if (i == 1) {
                    if (c == 0xE0) lo = 0xA0;
                    if (c == 0xED) hi = 0x9F;
                    if (c == 0xF0) lo = 0x90;
                    if (c == 0xF4) hi = 0x8F;
                }
                if (cc < lo || cc > hi)
                    break;
                skip = i + 1;
            }
        }
        out += "\xEF\xBF\xBD";
        pos += skip;
    }
    return out;
}

} // namespace plad::unicode
