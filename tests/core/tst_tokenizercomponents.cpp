// tokenizer.json components one by one, against what each component's definition implies.
#include "common/error.h"
#include "tokenizer/decoder.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/unicoderegex.h"
#include "testsupport.h"

#include <QtTest>

using namespace plad;

namespace {

std::vector<std::string> split(const nlohmann::json &spec, const std::string &text)
{
    auto pre = makePreTokenizer(spec, "test");
    std::vector<PreToken> pieces{{text, true}};
    pre->apply(pieces);
    std::vector<std::string> out;
    for (const auto &p : pieces)
        out.push_back(p.text);
    return out;
}

std::string normalize(const nlohmann::json &spec, const std::string &text)
{
    return makeNormalizer(spec, "test")->normalize(text);
}

std::string decode(const nlohmann::json &spec, const std::vector<std::string> &tokens)
{
    std::string out;
    for (const auto &piece : makeDecoder(spec, "test")->decodeChain(tokens))
        out += piece;
    return out;
}

using Pieces = std::vector<std::string>;

} // namespace

class TestTokenizerComponents : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void normalizers()
    {
        QCOMPARE(normalize({{"type", "NFKC"}}, "\xEF\xAC\x81le \xE2\x91\xA0"), std::string("file 1")); // ﬁ ligature, circled one
        QCOMPARE(normalize({{"type", "NFC"}}, "e\xCC\x81"), std::string("\xC3\xA9"));
        QCOMPARE(normalize({{"type", "NFD"}}, "\xC3\xA9"), std::string("e\xCC\x81"));
        QCOMPARE(normalize({{"type", "Lowercase"}}, "\xC3\x89T\xC3\x89 \xCE\xA3"), std::string("\xC3\xA9t\xC3\xA9 \xCF\x83"));
        QCOMPARE(normalize({{"type", "Strip"}, {"strip_left", true}, {"strip_right", true}}, " \t\xE3\x80\x80 x y \n"), std::string("x y"));
        QCOMPARE(normalize({{"type", "Strip"}, {"strip_left", false}, {"strip_right", true}}, "  x  "), std::string("  x"));
        QCOMPARE(normalize({{"type", "Prepend"}, {"prepend", "_"}}, "ab"), std::string("_ab"));
        QCOMPARE(normalize({{"type", "Prepend"}, {"prepend", "_"}}, ""), std::string()); // never on empty text
        QCOMPARE(normalize({{"type", "Replace"}, {"pattern", {{"Regex", " {2,}"}}}, {"content", " "}}, "a   b  c"), std::string("a b c"));
        QCOMPARE(normalize({{"type", "Replace"}, {"pattern", {{"String", "."}}}, {"content", "!"}}, "a.b"), std::string("a!b")); // literal
        QCOMPARE(normalize({{"type", "Sequence"}, {"normalizers", {{{"type", "Lowercase"}}, {{"type", "Prepend"}, {"prepend", ">"}}}}}, "AB"),
                 std::string(">ab"));
    }

    void splitBehaviors()
    {
        auto spec = [](const char *behavior, bool invert = false) {
            return nlohmann::json{{"type", "Split"}, {"pattern", {{"String", "-"}}}, {"behavior", behavior}, {"invert", invert}};
        };
        const std::string text = "a-b--c-";
        QCOMPARE(split(spec("Removed"), text), (Pieces{"a", "b", "c"}));
        QCOMPARE(split(spec("Isolated"), text), (Pieces{"a", "-", "b", "-", "-", "c", "-"}));
        QCOMPARE(split(spec("MergedWithPrevious"), text), (Pieces{"a-", "b-", "-", "c-"}));
        QCOMPARE(split(spec("MergedWithNext"), text), (Pieces{"a", "-b", "-", "-c", "-"}));
        QCOMPARE(split(spec("Contiguous"), text), (Pieces{"a", "-", "b", "--", "c", "-"}));
        // invert: the pattern marks the pieces to keep.
        const nlohmann::json words = {{"type", "Split"}, {"pattern", {{"Regex", "\\w+"}}}, {"behavior", "Removed"}, {"invert", true}};
        QCOMPARE(split(words, "hi, you!"), (Pieces{"hi", "you"}));
    }

    void digitsAndMetaspace()
    {
        QCOMPARE(split({{"type", "Digits"}, {"individual_digits", true}}, "ab123c"), (Pieces{"ab", "1", "2", "3", "c"}));
        QCOMPARE(split({{"type", "Digits"}, {"individual_digits", false}}, "ab123c4"), (Pieces{"ab", "123", "c", "4"}));
        const std::string bar = "\xE2\x96\x81";
        QCOMPARE(split({{"type", "Metaspace"}, {"replacement", bar}, {"prepend_scheme", "always"}, {"split", true}}, "hi there"),
                 (Pieces{bar + "hi", bar + "there"}));
        QCOMPARE(split({{"type", "Metaspace"}, {"replacement", bar}, {"prepend_scheme", "never"}, {"split", false}}, "hi there"),
                 (Pieces{"hi" + bar + "there"}));
        // Legacy files say add_prefix_space instead of prepend_scheme.
        QCOMPARE(split({{"type", "Metaspace"}, {"replacement", bar}, {"add_prefix_space", true}}, "x"), (Pieces{bar + "x"}));
    }

    void byteLevelPreTokenizer()
    {
        // GPT-2's byte alphabet: space -> Ġ, newline -> Ċ; printable ASCII unchanged.
        QCOMPARE(split({{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}, "Hi you\n"),
                 (Pieces{"Hi", "\xC4\xA0you", "\xC4\x8A"}));
        QCOMPARE(split({{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}}, "Hi"), (Pieces{"\xC4\xA0Hi"}));
        QCOMPARE(split({{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}, "a b"), (Pieces{"a\xC4\xA0" "b"}));
        const auto &alphabet = byteLevelAlphabet();
        QCOMPARE(alphabet[static_cast<unsigned char>('A')], std::string("A"));
        QCOMPARE(alphabet[0], std::string("\xC4\x80")); // U+0100
    }

    void decoders()
    {
        const std::string bar = "\xE2\x96\x81";
        QCOMPARE(decode({{"type", "Metaspace"}, {"replacement", bar}, {"prepend_scheme", "always"}}, {bar + "Hello", bar + "world"}),
                 std::string("Hello world"));
        QCOMPARE(decode({{"type", "ByteFallback"}}, {"a", "<0xE2>", "<0x82>", "<0xAC>", "b"}), std::string("a\xE2\x82\xAC" "b"));
        QCOMPARE(decode({{"type", "ByteFallback"}}, {"<0xFF>", "<0xFE>"}), std::string("\xEF\xBF\xBD\xEF\xBF\xBD")); // one U+FFFD per byte
        QCOMPARE(decode({{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}, {"  a", " b"}), std::string(" ab"));
        QCOMPARE(decode({{"type", "Replace"}, {"pattern", {{"String", bar}}}, {"content", " "}}, {bar + "a" + bar + "b"}), std::string(" a b"));
        QCOMPARE(decode({{"type", "ByteLevel"}}, {"Hi", "\xC4\xA0you", "\xC4\x8A"}), std::string("Hi you\n"));
        QCOMPARE(decode({{"type", "Fuse"}}, {"a", "b"}), std::string("ab"));
    }

    void whitespaceMatchesUnicode()
    {
        // \s is Unicode White_Space: NEL (U+0085) and ideographic space included, ZWSP not.
        UnicodeRegex spaces("\\s+");
        QCOMPARE(spaces.findAll("a\xC2\x85" "b").size(), size_t(1));
        QCOMPARE(spaces.findAll("a\xE3\x80\x80" "b").size(), size_t(1));
        QCOMPARE(spaces.findAll("a\xE2\x80\x8B" "b").size(), size_t(0));
        UnicodeRegex notSpace("[^\\s\\p{L}]+");
        QCOMPARE(notSpace.findAll("ab\xC2\x85" "12").size(), size_t(1)); // only "12"
        QCOMPARE(UnicodeRegex::adaptWhitespaceClasses("\\s+(?!\\S)"), std::string("[\\s\\x{85}]+(?![^\\s\\x{85}])"));
        // Invalid UTF-8 never matches and never fails.
        QCOMPARE(UnicodeRegex("\\p{L}+").findAll("ab\xFF" "cd").size(), size_t(2));
    }
};

QTEST_GUILESS_MAIN(TestTokenizerComponents)
#include "tst_tokenizercomponents.moc"
