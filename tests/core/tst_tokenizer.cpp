// tokenizer.json encoding and decoding, against ids from the Rust tokenizers library and
// against behaviour that follows from each component's definition.
#include "common/error.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicodetext.h"
#include "testsupport.h"

#include <QtTest>

#include <fstream>

using namespace plad;

namespace {

std::filesystem::path tokenizerPath(const std::string &name)
{
    return test::dataDir() / "tokenizers" / name / "tokenizer.json";
}

const Tokenizer &cached(const std::string &name)
{
    static std::map<std::string, Tokenizer> loaded;
    auto it = loaded.find(name);
    if (it == loaded.end())
        it = loaded.emplace(name, Tokenizer::load(tokenizerPath(name))).first;
    return it->second;
}

std::vector<int64_t> idsOf(const Tokenizer &t, std::initializer_list<const char *> tokens)
{
    std::vector<int64_t> ids;
    for (const char *token : tokens) {
        const auto id = t.tokenToId(token);
        if (!id)
            qFatal("token %s missing from vocabulary", token);
        ids.push_back(*id);
    }
    return ids;
}

std::vector<int64_t> concat(std::initializer_list<std::vector<int64_t>> parts)
{
    std::vector<int64_t> out;
    for (const auto &p : parts)
        out.insert(out.end(), p.begin(), p.end());
    return out;
}

nlohmann::json llamaJson()
{
    std::ifstream in(tokenizerPath("sentencepiece"));
    return nlohmann::json::parse(in);
}

} // namespace

class TestTokenizer : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void matchesRustTokenizers_data()
    {
        QTest::addColumn<QString>("tokenizer");
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("ids");
        std::ifstream in(test::dataDir() / "tokenizers" / "cases.json");
        const auto doc = nlohmann::json::parse(in);
        for (auto it = doc["cases"].begin(); it != doc["cases"].end(); ++it) {
            int index = 0;
            for (const auto &c : *it)
                QTest::newRow(qPrintable(QString("%1 case %2").arg(test::q(it.key())).arg(index++)))
                    << test::q(it.key()) << test::q(c["text"].get<std::string>()) << test::q(c["ids"].dump());
        }
    }
    void matchesRustTokenizers()
    {
        QFETCH(QString, tokenizer);
        QFETCH(QString, text);
        QFETCH(QString, ids);
        const auto &t = cached(tokenizer.toStdString());
        const auto want = nlohmann::json::parse(ids.toStdString()).get<std::vector<int64_t>>();
        const std::string input = text.toStdString();
        QCOMPARE(t.encode(input), want);
        // Byte-level tokenizers without a lossy normalizer give the text back exactly.
        if (tokenizer == "gpt2")
            QCOMPARE(t.decode(want), input);
    }

    void byteLevelRoundTripsHardText_data()
    {
        QTest::addColumn<QString>("tokenizer");
        QTest::addColumn<QString>("text");
        const char *texts[] = {
            "family 👨‍👩‍👧‍👦 flags 🇯🇵🇫🇷 skin 👋🏽 keycap 1️⃣",
            "漢字かな交じり文と한국어 텍스트, 中文标点：“引号”。",
            "combining e\u0301 a\u0308 \u0915\u094D\u0937 Z\u0351\u0352\u0357",
            "tabs\t\tand   spaces\u00a0\u2003nbsp\u3000ideographic",
            "windows\r\nline\r\n\r\nendings\n\n\n",
            "digits 1234567890123456789 and 3.14159e-10 and ١٢٣٤",
            "code: for (int i = 0; i < n; ++i) { x[i] += y[i] * 2; } // done",
            "   leading and trailing   ",
            "",
        };
        for (const char *name : {"gpt2", "qwen3"})
            for (const char *text : texts)
                QTest::newRow(qPrintable(QString("%1: %2").arg(name).arg(QString::fromUtf8(text).left(20)))) << name << QString::fromUtf8(text);
    }
    void byteLevelRoundTripsHardText()
    {
        QFETCH(QString, tokenizer);
        QFETCH(QString, text);
        const auto &t = cached(tokenizer.toStdString());
        const std::string input = text.toStdString();
        const auto ids = t.encode(input);
        for (auto id : ids)
            QVERIFY(id >= 0 && id < t.vocabSize());
        // GPT-2 has no normalizer: the text comes back as it was. Qwen's NFC normalizer composes
        // combining sequences, so its round trip gives the NFC form.
        QCOMPARE(t.decode(ids), tokenizer == "qwen3" ? unicode::nfc(input) : input);
        QCOMPARE(input.empty(), ids.empty());
    }

    void tokenBytesAreWhatEachTokenStandsFor()
    {
        // A character split over several byte-level tokens: each token alone decodes to U+FFFD,
        // its bytes are its share of the character, and they concatenate back to the text.
        const auto &gpt2 = cached("gpt2");
        const std::string text = "\xF0\x9F\xA6\x99 \xE6\xBC\xA2\xE5\xAD\x97 caf\xC3\xA9";
        const auto ids = gpt2.encode(text);
        std::string joined;
        bool sawPartial = false;
        for (const auto id : ids) {
            const std::string bytes = gpt2.tokenBytes(id);
            if (gpt2.decode({id}) == "\xEF\xBF\xBD") {
                sawPartial = true;
                QVERIFY(bytes != "\xEF\xBF\xBD");
            }
            joined += bytes;
        }
        QVERIFY(sawPartial);
        QCOMPARE(joined, text);
        // Byte fallback: <0xF0> stands for the byte 0xF0; a special token for its text.
        const auto &sp = cached("sentencepiece");
        QCOMPARE(sp.tokenBytes(*sp.tokenToId("<0xF0>")), std::string("\xF0"));
        QCOMPARE(sp.decode({*sp.tokenToId("<0xF0>")}), std::string("\xEF\xBF\xBD"));
        QCOMPARE(sp.tokenBytes(2), std::string("</s>"));
        test::expectError([&] { gpt2.tokenBytes(gpt2.vocabSize() + 5); }, "is not in the vocabulary");
    }

    void gpt2SplitsAsItsRegexSays()
    {
        const auto &t = cached("gpt2");
        // \s+(?!\S) leaves the last space of a run to the next word (GPT-2 has no multi-space tokens).
        QCOMPARE(t.encode("a   b"), idsOf(t, {"a", "\xC4\xA0", "\xC4\xA0", "\xC4\xA0" "b"}));
        // \r and \n are separate pieces before a letter (č and Ċ in the byte alphabet).
        QCOMPARE(t.encode("a\r\nb"), idsOf(t, {"a", "\xC4\x8D", "\xC4\x8A", "b"}));
        // Contractions split off; numbers are their own pieces.
        QCOMPARE(t.encode("it's"), idsOf(t, {"it", "'s"}));
        QCOMPARE(t.encode("a 2024"), concat({idsOf(t, {"a"}), t.encode(" 2024")}));
    }

    void qwenSplitsDigitsAndMatchesSpecialTokens()
    {
        const auto &t = cached("qwen3");
        // Qwen's pattern has \p{N} alone: every digit is its own piece.
        const auto digits = t.encode("31415926");
        QCOMPARE(digits.size(), size_t(8));
        QCOMPARE(digits, idsOf(t, {"3", "1", "4", "1", "5", "9", "2", "6"}));
        // Special tokens inside text are matched before the model runs.
        const auto imStart = *t.tokenToId("<|im_start|>");
        const auto imEnd = *t.tokenToId("<|im_end|>");
        QCOMPARE(imStart, int64_t(151644));
        QCOMPARE(t.encode("<|im_start|>user\nhi<|im_end|>"),
                 concat({{imStart}, t.encode("user\nhi"), {imEnd}}));
        QCOMPARE(t.encode("x<|im_end|><|im_end|>y"), concat({t.encode("x"), {imEnd, imEnd}, t.encode("y")}));
        QVERIFY(t.isSpecial(imEnd));
        QCOMPARE(t.decode({imStart, 872, imEnd}, true), t.decode({872}));
        QCOMPARE(t.decode({imStart}), std::string("<|im_start|>"));
        // tokenizer_config.json names the special tokens.
        QCOMPARE(t.specialTokens().eos.value_or(-1), imEnd);
        QCOMPARE(t.specialTokens().pad.value_or(-1), *t.tokenToId("<|endoftext|>"));
        // An almost-special token is ordinary text.
        QVERIFY(t.encode("<|im_start").size() > 1);
    }

    void veryLongWordsAndLines()
    {
        const auto &t = cached("gpt2");
        const std::string word(200000, 'a');
        const auto ids = t.encode(word);
        QVERIFY(ids.size() < word.size() / 2); // merges happened
        QCOMPARE(t.decode(ids), word);

        // A 10 MB line of prose: no stack overflow, exact round trip.
        std::string line;
        const std::string sentence = "The quick brown fox jumps over the lazy dog, 12 times; naïve café! ";
        while (line.size() < 10 * 1024 * 1024)
            line += sentence;
        const auto lineIds = t.encode(line);
        QCOMPARE(t.decode(lineIds), line);
        const auto &q = cached("qwen3");
        QCOMPARE(q.decode(q.encode(line)), line);
    }

    void invalidUtf8()
    {
        // Byte-level tokenizers encode the bytes themselves.
        const auto &t = cached("gpt2");
        const std::string bytes = std::string("ok \xff\xfe bad \xc3") + "(";
        const auto ids = t.encode(bytes);
        QVERIFY(!ids.empty());
        QCOMPARE(t.decode(ids), std::string("ok \xEF\xBF\xBD\xEF\xBF\xBD bad \xEF\xBF\xBD("));
        // Qwen's NFC normalizer needs text: the position is reported.
        test::expectError([&] { cached("qwen3").encode("abc\xff"); }, "not valid UTF-8 at byte 3");
        test::expectError([&] { cached("sentencepiece").encode("\xe2\x82"); }, "not valid UTF-8 at byte 0");
    }

    void sentencePieceBpeWithByteFallback()
    {
        // A 32000-token SentencePiece-style BPE (Mistral 7B's vocabulary): normalizer Prepend ▁ +
        // Replace " " -> ▁, no pre-tokenizer, byte fallback, BOS added by TemplateProcessing.
        const auto &t = cached("sentencepiece");
        const auto hello = idsOf(t, {"\xE2\x96\x81Hello", "\xE2\x96\x81world"});
        QCOMPARE(t.encode("Hello world"), hello);
        QCOMPARE(t.encode("Hello world", true), concat({{1}, hello}));
        // A leading space becomes a second ▁; "▁ ▁" is a late merge (rank 58876), so the
        // earlier "▁H..." merges win and the extra ▁ stays alone.
        QCOMPARE(t.encode(" Hello"), idsOf(t, {"\xE2\x96\x81", "\xE2\x96\x81Hello"}));
        // A character outside the vocabulary falls back to its UTF-8 bytes.
        QVERIFY(!t.tokenToId("\xF0\x9F\xA6\x99"));
        QCOMPARE(t.encode("\xF0\x9F\xA6\x99"), idsOf(t, {"\xE2\x96\x81", "<0xF0>", "<0x9F>", "<0xA6>", "<0x99>"}));
        // Decoding strips the prefix space, fuses bytes, and skips specials when asked.
        for (const std::string s : {"Hello world", "naïve café 🦙 and 漢字", "  two leading spaces", "x"}) {
            const auto ids = t.encode(s, true);
            QCOMPARE(ids.front(), int64_t(1));
            QCOMPARE(t.decode(ids, true), s);
        }
        QCOMPARE(t.decode(concat({{1}, hello})), std::string("<s> Hello world"));
        // tokenizer_config.json: BOS is added, <s> and </s> are BOS and EOS.
        QVERIFY(t.specialTokens().addBos);
        QCOMPARE(t.specialTokens().bos.value_or(-1), int64_t(1));
        QCOMPARE(t.specialTokens().eos.value_or(-1), int64_t(2));
        // Special tokens in text; the normalizer runs per piece, so ▁ is prepended after them too.
        QCOMPARE(t.encode("a</s>b"), concat({t.encode("a"), {2}, t.encode("b")}));
    }

    void metaspacePreTokenizerMatchesLegacyNormalizer()
    {
        // Newer SentencePiece exports (Mistral) use a Metaspace pre-tokenizer instead of the
        // Prepend + Replace normalizer; both describe the same segmentation.
        auto doc = llamaJson();
        doc["normalizer"] = nullptr;
        doc["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "\xE2\x96\x81"}, {"prepend_scheme", "first"}, {"split", false}};
        doc["decoder"] = {{"type", "Sequence"},
                          {"decoders",
                           {{{"type", "Metaspace"}, {"replacement", "\xE2\x96\x81"}, {"prepend_scheme", "first"}, {"split", false}},
                            {{"type", "ByteFallback"}},
                            {{"type", "Fuse"}}}}};
        const auto metaspace = Tokenizer::fromJson(doc, nullptr, "metaspace variant");
        const auto &legacy = cached("sentencepiece");
        for (const std::string s : {"Hello world", "naïve café 🦙", "spaced  out  ", "tab\there"}) {
            QCOMPARE(metaspace.encode(s), legacy.encode(s));
            QCOMPARE(metaspace.decode(metaspace.encode(s)), s);
        }
        // Metaspace adds no ▁ to text that already starts with one (a space).
        QCOMPARE(metaspace.encode("  x"), legacy.encode(" x"));
        // prepend_scheme "first": only the start of the input gets ▁, not text after a special token.
        QCOMPARE(metaspace.encode("a</s>b"), concat({metaspace.encode("a"), {2}, idsOf(metaspace, {"b"})}));
    }

    void unknownCharactersWithoutByteFallback()
    {
        auto doc = llamaJson();
        doc["model"]["byte_fallback"] = false;
        auto t = Tokenizer::fromJson(doc, nullptr, "no byte fallback");
        // fuse_unk: a run of unknown characters becomes one <unk>.
        const int64_t space = *t.tokenToId("\xE2\x96\x81");
        QCOMPARE(t.encode("\xF0\x9F\xA6\x99\xF0\x9F\xA6\x99"), (std::vector<int64_t>{space, 0}));
        doc["model"]["fuse_unk"] = false;
        t = Tokenizer::fromJson(doc, nullptr, "no fuse");
        QCOMPARE(t.encode("\xF0\x9F\xA6\x99\xF0\x9F\xA6\x99"), (std::vector<int64_t>{space, 0, 0}));
    }

    void addedTokenOptions()
    {
        // lstrip/rstrip absorb neighbouring whitespace; single_word refuses to split words;
        // normalized tokens match after the normalizer (Lowercase here).
        auto doc = nlohmann::json::parse(std::ifstream(tokenizerPath("gpt2")));
        doc["normalizer"] = {{"type", "Lowercase"}};
        doc["added_tokens"] = nlohmann::json::array({
            {{"id", 50257}, {"content", "<mask>"}, {"single_word", true}, {"lstrip", true}, {"rstrip", true}, {"normalized", false}, {"special", true}},
            {{"id", 50258}, {"content", "yesterday"}, {"single_word", false}, {"lstrip", false}, {"rstrip", false}, {"normalized", true}, {"special", false}},
        });
        const auto t = Tokenizer::fromJson(doc, nullptr, "added tokens");
        QCOMPARE(t.encode("hi <mask> there"), concat({t.encode("hi"), {50257}, t.encode("there")}));
        QCOMPARE(t.encode("a<mask>b"), t.encode("a") == t.encode("a<mask>b") ? t.encode("a") : t.encode("a<mask>b"));
        const auto glued = t.encode("a<mask>b");
        QVERIFY(std::find(glued.begin(), glued.end(), 50257) == glued.end()); // not a single word
        QCOMPARE(t.encode("I read it Yesterday"), concat({t.encode("i read it "), {50258}}));
        QCOMPARE(t.vocabSize(), int64_t(50259));
        QCOMPARE(t.decode({50257}, true), std::string());
    }

    void bpeModelOptions()
    {
        // A word-level BPE split on spaces, with the options WordPiece-like BPEs use.
        nlohmann::json doc = {
            {"pre_tokenizer", {{"type", "Split"}, {"pattern", {{"String", " "}}}, {"behavior", "Removed"}}},
            {"model",
             {{"type", "BPE"},
              {"unk_token", "[UNK]"},
              {"continuing_subword_prefix", "##"},
              {"end_of_word_suffix", "</w>"},
              {"vocab", {{"[UNK]", 0}, {"h", 1}, {"##e", 2}, {"##y</w>", 3}, {"he", 4}, {"hey</w>", 5}, {"y</w>", 6}}},
              {"merges", {"h ##e", "he ##y</w>"}}}}};
        auto t = Tokenizer::fromJson(doc, nullptr, "options");
        // h + ##e -> "he" (the prefix is dropped when merging), then he + ##y</w> -> hey</w>.
        QCOMPARE(t.encode("hey"), (std::vector<int64_t>{5}));
        QCOMPARE(t.encode("y hey"), (std::vector<int64_t>{6, 5}));
        QCOMPARE(t.encode("hex"), (std::vector<int64_t>{4, 0})); // ##x</w> is unknown
        doc["model"]["merges"] = nlohmann::json::array();
        t = Tokenizer::fromJson(doc, nullptr, "no merges");
        QCOMPARE(t.encode("hey"), (std::vector<int64_t>{1, 2, 3}));

        // ignore_merges (Llama 3): a word in the vocabulary is taken whole, even where the
        // merges would split it differently.
        nlohmann::json whole = {
            {"model",
             {{"type", "BPE"},
              {"vocab", {{"a", 0}, {"b", 1}, {"c", 2}, {"ab", 3}, {"abc", 4}}},
              {"merges", {"a b"}}}}};
        QCOMPARE(Tokenizer::fromJson(whole, nullptr, "merges").encode("abc"), (std::vector<int64_t>{3, 2}));
        whole["model"]["ignore_merges"] = true;
        QCOMPARE(Tokenizer::fromJson(whole, nullptr, "ignore merges").encode("abc"), (std::vector<int64_t>{4}));
    }

    void templateProcessingAddsSpecialTokens()
    {
        auto doc = nlohmann::json::parse(std::ifstream(tokenizerPath("gpt2")));
        doc["post_processor"] = {
            {"type", "TemplateProcessing"},
            {"single", {{{"SpecialToken", {{"id", "<|endoftext|>"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                        {{"SpecialToken", {{"id", "<|endoftext|>"}, {"type_id", 0}}}}}},
            {"special_tokens", {{"<|endoftext|>", {{"id", "<|endoftext|>"}, {"ids", {50256}}, {"tokens", {"<|endoftext|>"}}}}}}};
        const auto t = Tokenizer::fromJson(doc, nullptr, "template");
        QCOMPARE(t.encode("hi", true), concat({{50256}, t.encode("hi"), {50256}}));
        QCOMPARE(t.encode("hi", false), t.encode("hi"));
    }

    void rejectsBadFiles_data()
    {
        QTest::addColumn<QString>("mutation");
        QTest::addColumn<QString>("message");
        QTest::newRow("model type") << R"({"model": {"type": "WordPiece", "vocab": {}}})" << "unsupported model \"WordPiece\" in tokenizer.json";
        QTest::newRow("normalizer") << R"({"normalizer": {"type": "BertNormalizer"}})" << "unsupported normalizer \"BertNormalizer\" in tokenizer.json";
        QTest::newRow("pre-tokenizer") << R"({"pre_tokenizer": {"type": "Whitespace"}})" << "unsupported pre-tokenizer \"Whitespace\" in tokenizer.json";
        QTest::newRow("decoder") << R"({"decoder": {"type": "WordPiece"}})" << "unsupported decoder \"WordPiece\" in tokenizer.json";
        QTest::newRow("post-processor") << R"({"post_processor": {"type": "BertProcessing"}})" << "unsupported post-processor \"BertProcessing\"";
        QTest::newRow("split behavior") << R"({"pre_tokenizer": {"type": "Split", "pattern": {"Regex": "a"}, "behavior": "Sideways"}})" << "unsupported split behavior \"Sideways\"";
        QTest::newRow("bad regex") << "{\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"[unclosed\"}, \"behavior\": \"Isolated\"}}" << "cannot compile regex";
        QTest::newRow("no type") << R"({"normalizer": {"lowercase": true}})" << "needs a \"type\"";
    }
    void rejectsBadFiles()
    {
        QFETCH(QString, mutation);
        QFETCH(QString, message);
        auto doc = nlohmann::json::parse(std::ifstream(tokenizerPath("gpt2")));
        doc.merge_patch(nlohmann::json::parse(mutation.toStdString()));
        test::expectError([&] { Tokenizer::fromJson(doc, nullptr, "t.json"); }, message.toStdString(), "t.json");
    }

    void rejectsMergesOutsideTheVocabulary()
    {
        auto doc = nlohmann::json::parse(std::ifstream(tokenizerPath("gpt2")));
        doc["model"]["vocab"].erase("he");
        test::expectError([&] { Tokenizer::fromJson(doc, nullptr, "t.json"); }, "produces \"he\", which is not in the vocabulary");
        doc = nlohmann::json::parse(std::ifstream(tokenizerPath("gpt2")));
        doc["model"]["merges"].push_back("nothere alsonot");
        test::expectError([&] { Tokenizer::fromJson(doc, nullptr, "t.json"); }, "uses \"nothere\", which is not in the vocabulary");
    }

    void rejectsMalformedJsonWithPosition()
    {
        QTemporaryDir dir;
        const auto path = std::filesystem::path(dir.path().toStdString()) / "tokenizer.json";
        test::writeBytes(path, "{\n  \"model\": {\"type\": \"BPE\",,}\n}");
        test::expectError([&] { Tokenizer::load(path); }, "tokenizer.json:2:");
        test::expectError([&] { Tokenizer::load(dir.path().toStdString() + "/missing.json"); }, "no such tokenizer file");
        test::writeBytes(path, R"({"version": "1.0"})");
        test::expectError([&] { Tokenizer::load(path); }, "no \"model\" section");
    }

    void decodeRejectsUnknownIds()
    {
        test::expectError([&] { cached("gpt2").decode({15496, 99999}); }, "token id 99999 is not in the vocabulary");
    }
};

QTEST_GUILESS_MAIN(TestTokenizer)
#include "tst_tokenizer.moc"
