#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace plad {

class ChatTemplate;

/** A token added on top of the model vocabulary (tokenizer.json "added_tokens"). */
struct AddedToken
{
    int64_t id = 0;
    std::string content;
    bool singleWord = false;
    bool lstrip = false;
    bool rstrip = false;
    bool normalized = true;
    bool special = false;
};

/** Special tokens a model uses, from tokenizer.json and tokenizer_config.json. */
struct SpecialTokens
{
    std::optional<int64_t> bos, eos, pad, unk;
    std::string bosText, eosText, padText, unkText;
    bool addBos = false; ///< tokenizer_config.json add_bos_token (when no post-processor says otherwise)
    bool addEos = false; ///< tokenizer_config.json add_eos_token
};

/**
 * A Hugging Face tokenizer.json, encoding and decoding exactly as the Rust tokenizers library:
 * added tokens are split off the raw text first (leftmost-longest, honouring lstrip, rstrip,
 * single_word and normalized), the rest is normalized, pre-tokenized and run through the BPE
 * model; post-processing adds special tokens when asked.
 *
 * Invalid UTF-8 input is encoded byte by byte by byte-level tokenizers; other tokenizers
 * report the byte offset of the first invalid sequence.
 *
 * Thread-safe after construction: encode() and decode() may run concurrently.
 */
class Tokenizer
{
public:
    /**
     * Loads `path` (a tokenizer.json file, or a directory holding one). A
     * tokenizer_config.json beside it supplies bos/eos/pad and add_bos_token/add_eos_token.
     */
    static Tokenizer load(const std::filesystem::path &path);
    /** Builds from parsed documents; `config` may be null. `source` names the file in errors. */
    static Tokenizer fromJson(const nlohmann::json &tokenizer, const nlohmann::json *config, const std::string &source);

    std::vector<int64_t> encode(std::string_view text, bool addSpecialTokens = false) const;
    /** Throws Error for an id outside the vocabulary. */
    /**
     * The bytes token `id` stands for on its own, which for a piece of a multi-byte character
     * are not valid UTF-8 (decode() gives U+FFFD there); special tokens give their text.
     */
    std::string tokenBytes(int64_t id) const;
    std::string decode(const std::vector<int64_t> &ids, bool skipSpecialTokens = false) const;

    /** One more than the largest id in the model or the added tokens. */
    int64_t vocabSize() const;
    std::optional<int64_t> tokenToId(std::string_view token) const;
    std::optional<std::string> idToToken(int64_t id) const;
    bool isSpecial(int64_t id) const;
    const SpecialTokens &specialTokens() const;
    const std::vector<AddedToken> &addedTokens() const;
    /** True for GPT-2-style byte-level tokenizers (any byte string is encodable). */
    bool isByteLevel() const;

    /**
     * The chat template of the directory the tokenizer was loaded from (chat_template.jinja,
     * chat_template.json or tokenizer_config.json's chat_template), or null when it has none.
     * A template that does not compile is reported here, naming its file and line, rather than
     * when the tokenizer loads (a model used without its template still loads).
     */
    std::shared_ptr<const ChatTemplate> chatTemplate() const;
    bool hasChatTemplate() const { return mChat || !mChatError.empty(); }

private:
    struct Pipeline;
    explicit Tokenizer(std::shared_ptr<const Pipeline> pipeline);
    static Tokenizer fromJsonChecked(const nlohmann::json &tokenizer, const nlohmann::json *config, const std::string &source);
    /** Token `id`'s string: its added token (returned as `added`), else its vocabulary entry; throws for an unknown id. */
    const std::string &tokenString(int64_t id, const AddedToken *&added) const;
    std::shared_ptr<const Pipeline> d;
    std::shared_ptr<const ChatTemplate> mChat;
    std::string mChatError;
};

/**
 * Copies tokenizer.json and tokenizer_config.json (when present) from `source` (a directory,
 * or a tokenizer.json file) into `directory`, so a saved model carries its tokenizer.
 */
void copyTokenizerFiles(const std::filesystem::path &source, const std::filesystem::path &directory);

} // namespace plad
