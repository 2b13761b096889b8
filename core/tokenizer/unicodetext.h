#pragma once

// UTF-8 and Unicode helpers shared by the tokenizer pipeline. Text is std::string holding
// UTF-8 bytes; positions are byte offsets.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace plad::unicode {

/** Decodes the code point at `pos`; returns nullopt for an invalid sequence. `length` receives its size. */
std::optional<char32_t> decodeAt(std::string_view text, size_t pos, size_t &length);

/** Byte offset of the first invalid UTF-8 sequence, or nullopt when `text` is valid. */
std::optional<size_t> firstInvalidByte(std::string_view text);

void appendUtf8(std::string &out, char32_t cp);

/** Start of the code point that ends at byte `end` (> 0): steps back over at most three continuation bytes. */
size_t previousCodePointStart(std::string_view text, size_t end);

/** Unicode White_Space property (what Rust's char::is_whitespace tests). */
bool isWhitespace(char32_t cp);
/** Rust regex's \w: alphabetic, marks, decimal digits, connector punctuation, join controls. */
bool isWordCharacter(char32_t cp);

/** Unicode normalization forms via ICU; throws Error on invalid UTF-8. */
std::string nfc(std::string_view text);
std::string nfkc(std::string_view text);
std::string nfd(std::string_view text);
std::string nfkd(std::string_view text);
/** Full lowercase mapping applied code point by code point (no context-dependent rules). */
std::string lowercase(std::string_view text);

/** Replaces invalid sequences with U+FFFD, one per maximal invalid subpart, as Rust's from_utf8_lossy. */
std::string lossyUtf8(std::string_view bytes);

} // namespace plad::unicode
