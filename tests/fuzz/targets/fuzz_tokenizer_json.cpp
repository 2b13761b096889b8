// tokenizer.json: Tokenizer::load (normalizers, pre-tokenizers, the BPE model, added tokens,
// post-processors, decoders), then encoding, decoding and token lookups of fixed texts.
#include "fuzzsupport.h"

#include "common/error.h"
#include "tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    using namespace plad;
    const auto path = fuzz::writeScratch("tokenizer.json", std::string_view(reinterpret_cast<const char *>(data), size));
    try {
        const Tokenizer tokenizer = Tokenizer::load(path);
        for (const char *text : {"Hello world! 123", " <|endoftext|> a\tb\n\nc", "caf\xc3\xa9 \xe4\xbd\xa0\xe5\xa5\xbd", "\xff\xfe broken"}) {
            std::vector<int64_t> ids;
            try {
                ids = tokenizer.encode(text, true);
            } catch (const Error &e) {
                fuzz::expectCleanRejection(e.what(), "byte");
                continue;
            }
            for (const int64_t id : ids)
                if (id < 0 || id >= tokenizer.vocabSize())
                    fuzz::defect("encode gave id " + std::to_string(id) + " outside the vocabulary of " + std::to_string(tokenizer.vocabSize()));
            tokenizer.decode(ids, false);
            tokenizer.decode(ids, true);
        }
        for (int64_t id = 0; id < std::min<int64_t>(tokenizer.vocabSize(), 64); ++id)
            if (tokenizer.idToToken(id))
                tokenizer.tokenBytes(id);
    } catch (const Error &e) {
        fuzz::expectCleanRejection(e.what(), path.string());
    }
    return 0;
}

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t maxSize, unsigned int seed)
{
    using nlohmann::json;
    plad::fuzz::Random random(seed);
    static const plad::fuzz::Dictionary dict{
        {"type", "model", "vocab", "merges", "normalizer", "pre_tokenizer", "post_processor", "decoder", "added_tokens",
         "unk_token", "byte_fallback", "fuse_unk", "ignore_merges", "continuing_subword_prefix", "end_of_word_suffix",
         "dropout", "pattern", "behavior", "invert", "add_prefix_space", "trim_offsets", "use_regex", "replacement",
         "prepend_scheme", "split", "normalizers", "pretrained", "single", "pair", "special_tokens", "id", "content",
         "special", "lstrip", "rstrip", "single_word", "normalized", "decoders", "processors", "String", "Regex",
         "start", "stop", "ids", "tokens"},
        {"BPE", "ByteLevel", "Metaspace", "Sequence", "Split", "NFC", "NFKC", "NFD", "Lowercase", "Prepend", "Replace",
         "Strip", "ByteFallback", "Fuse", "TemplateProcessing", "Whitespace", "Digits", "Punctuation", "Isolated",
         "MergedWithPrevious", "Removed", "first", "always", "never", nlohmann::json{{"Regex", "\\s+|(?=a)"}},
         nlohmann::json{{"String", "\xe2\x96\x81"}}, nlohmann::json{{"Regex", "(((((a*)*)*)*)*)b"}},
         nlohmann::json::array({"a b", "ab c"}), nlohmann::json::array({nlohmann::json::array({"a", "b"})})}};
    return plad::fuzz::store(plad::fuzz::mutateJson(std::string(reinterpret_cast<char *>(data), size), maxSize, random, dict), data, maxSize);
}
