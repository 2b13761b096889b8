#include "tokenizer/tokenizer.h"

#include "chat/chattemplate.h"
#include "common/error.h"
#include "common/fileio.h"
#include "tokenizer/bpemodel.h"
#include "tokenizer/decoder.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/unicodetext.h"

#include <map>
#include <unordered_map>

#include <nlohmann/json.hpp>

namespace plad {

namespace {

// A byte trie over added-token contents for leftmost-longest matching.
class TokenTrie
{
public:
    void add(const std::string &content, size_t tokenIndex)
    {
        if (content.empty())
            return;
        size_t node = 0;
        for (unsigned char c : content) {
            auto &children = mNodes[node].children;
            auto it = children.find(c);
            if (it == children.end()) {
                mNodes.push_back({});
                it = mNodes[node].children.emplace(c, mNodes.size() - 1).first;
            }
            node = it->second;
        }
        mNodes[node].token = static_cast<int64_t>(tokenIndex);
    }
    bool empty() const { return mNodes.size() == 1; }
    /** Longest token starting at `pos`: (end, token index), or (pos, -1). */
    std::pair<size_t, int64_t> longestAt(std::string_view text, size_t pos) const
    {
        size_t node = 0;
        std::pair<size_t, int64_t> best{pos, -1};
        for (size_t i = pos; i < text.size(); ++i) {
            const auto &children = mNodes[node].children;
            const auto it = children.find(static_cast<unsigned char>(text[i]));
            if (it == children.end())
                break;
            node = it->second;
            if (mNodes[node].token >= 0)
                best = {i + 1, mNodes[node].token};
        }
        return best;
    }

private:
    struct Node
    {
        std::map<unsigned char, size_t> children;
        int64_t token = -1;
    };
    std::vector<Node> mNodes{Node{}};
};

struct Split
{
    std::string text;
    bool atStart = false;
    int64_t addedId = -1; // >= 0 when this split is an added token
};

// Code point ending just before `end` (for word-boundary checks); nullopt at the start.
std::optional<char32_t> codePointBefore(std::string_view text, size_t end)
{
    if (end == 0)
        return std::nullopt;
    size_t len = 0;
    return unicode::decodeAt(text, unicode::previousCodePointStart(text, end), len);
}

std::optional<char32_t> codePointAt(std::string_view text, size_t pos)
{
    if (pos >= text.size())
        return std::nullopt;
    size_t len = 0;
    return unicode::decodeAt(text, pos, len);
}

struct TemplatePiece
{
    bool isSequence = false;
    std::vector<int64_t> ids; // for special tokens
};

std::string tokenText(const nlohmann::json &value)
{
    if (value.is_string())
        return value.get<std::string>();
    if (value.is_object() && value.contains("content") && value["content"].is_string())
        return value["content"].get<std::string>();
    return {};
}

} // namespace

struct Tokenizer::Pipeline
{
    std::string source;
    std::unique_ptr<Normalizer> normalizer;
    std::unique_ptr<PreTokenizer> preTokenizer;
    std::unique_ptr<BpeModel> model;
    std::unique_ptr<Decoder> decoder;
    std::vector<AddedToken> added;
    std::unordered_map<int64_t, size_t> addedById;
    std::unordered_map<std::string, int64_t> addedByContent;
    TokenTrie rawTrie;        // added tokens with normalized = false
    TokenTrie normalizedTrie; // added tokens with normalized = true, by their normalized content
    std::vector<TemplatePiece> singleTemplate;
    bool hasTemplate = false;
    SpecialTokens special;

    // Splits `input` at the added tokens found by `trie`, as tokenizers' AddedVocabulary.
    void splitOnAddedTokens(std::vector<Split> &splits, const TokenTrie &trie) const
    {
        if (trie.empty())
            return;
        std::vector<Split> out;
        for (auto &split : splits) {
            if (split.addedId >= 0) {
                out.push_back(std::move(split));
                continue;
            }
            const std::string &s = split.text;
            size_t consumed = 0; // end of the previous accepted match
            size_t pos = 0;
            while (pos < s.size()) {
                const auto [end, index] = trie.longestAt(s, pos);
                if (index < 0) {
                    ++pos;
                    continue;
                }
                const AddedToken &token = added[static_cast<size_t>(index)];
                size_t start = pos, stop = end;
                pos = end; // matches never overlap, even when this one is discarded
                if (token.singleWord) {
                    const auto before = codePointBefore(s, start);
                    const auto after = codePointAt(s, stop);
                    if ((before && unicode::isWordCharacter(*before)) || (after && unicode::isWordCharacter(*after)))
                        continue;
                }
                if (token.lstrip) {
                    size_t newStart = start;
                    while (newStart > 0) {
                        const size_t back = unicode::previousCodePointStart(s, newStart);
                        const auto cp = codePointAt(s, back);
                        if (!cp || !unicode::isWhitespace(*cp))
                            break;
                        newStart = back;
                    }
                    start = std::max(newStart, consumed); // an earlier match may own those spaces
                }
                if (token.rstrip) {
                    while (auto cp = codePointAt(s, stop)) {
                        if (!unicode::isWhitespace(*cp))
                            break;
                        size_t len = 0;
                        unicode::decodeAt(s, stop, len);
                        stop += len;
                    }
                    pos = stop;
                }
                if (consumed < start)
                    out.push_back({s.substr(consumed, start - consumed), split.atStart && consumed == 0, -1});
                out.push_back({s.substr(start, stop - start), false, token.id});
                consumed = stop;
            }
            if (consumed < s.size())
                out.push_back({s.substr(consumed), split.atStart && consumed == 0, -1});
        }
        splits = std::move(out);
    }
};

Tokenizer::Tokenizer(std::shared_ptr<const Pipeline> pipeline)
    : d(std::move(pipeline))
{}

Tokenizer Tokenizer::load(const std::filesystem::path &path)
{
    std::filesystem::path file = path;
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        file = path / "tokenizer.json";
    if (!std::filesystem::exists(file, ec))
        throw Error(file.string() + ": no such tokenizer file");
    const nlohmann::json doc = readJsonFile(file);
    const auto configPath = file.parent_path() / "tokenizer_config.json";
    nlohmann::json config;
    const bool hasConfig = std::filesystem::exists(configPath, ec);
    if (hasConfig)
        config = readJsonFile(configPath);
    Tokenizer tokenizer = fromJson(doc, hasConfig ? &config : nullptr, file.string());
    try {
        if (auto chat = ChatTemplate::fromModelDirectory(file.parent_path()))
            tokenizer.mChat = std::make_shared<const ChatTemplate>(std::move(*chat));
    } catch (const std::exception &e) {
        tokenizer.mChatError = e.what();
    }
    return tokenizer;
}

std::shared_ptr<const ChatTemplate> Tokenizer::chatTemplate() const
{
    if (!mChatError.empty())
        throw FormatError(mChatError);
    return mChat;
}

Tokenizer Tokenizer::fromJson(const nlohmann::json &doc, const nlohmann::json *config, const std::string &source)
{
    try {
        return fromJsonChecked(doc, config, source);
    } catch (const nlohmann::json::exception &e) {
        // A value of the wrong type somewhere the checks above did not look.
        throw FormatError(source + ": " + jsonErrorText(e));
    }
}

Tokenizer Tokenizer::fromJsonChecked(const nlohmann::json &doc, const nlohmann::json *config, const std::string &source)
{
    if (!doc.is_object())
        throw FormatError(source + ": expected a JSON object");
    if (!doc.contains("model"))
        throw FormatError(source + ": no \"model\" section; is this a Hugging Face tokenizer.json?");
    auto p = std::make_shared<Pipeline>();
    p->source = source;
    p->model = std::make_unique<BpeModel>(doc["model"], source);
    p->normalizer = makeNormalizer(doc.value("normalizer", nlohmann::json()), source);
    p->preTokenizer = makePreTokenizer(doc.value("pre_tokenizer", nlohmann::json()), source);
    p->decoder = makeDecoder(doc.value("decoder", nlohmann::json()), source);

    if (doc.contains("added_tokens") && !doc["added_tokens"].is_null()) {
        if (!doc["added_tokens"].is_array())
            throw FormatError(source + ": \"added_tokens\" must be an array");
        for (const auto &item : doc["added_tokens"]) {
            if (!item.is_object() || !item.contains("id") || !item["id"].is_number_integer() || !item.contains("content")
                || !item["content"].is_string())
                throw FormatError(source + ": every added token needs an integer \"id\" and a string \"content\"");
            AddedToken t;
            t.id = item["id"].get<int64_t>();
            t.content = item["content"].get<std::string>();
            if (t.id < 0 || t.id >= (int64_t{1} << 31) || !item["id"].is_number_integer())
                throw FormatError(source + ": added token \"" + t.content + "\" has id " + item["id"].dump() + "; ids are in [0, 2^31)");
            t.singleWord = item.value("single_word", false);
            t.lstrip = item.value("lstrip", false);
            t.rstrip = item.value("rstrip", false);
            t.special = item.value("special", false);
            t.normalized = item.value("normalized", !t.special);
            p->addedById[t.id] = p->added.size();
            p->addedByContent[t.content] = t.id;
            p->added.push_back(std::move(t));
        }
    }
    for (size_t i = 0; i < p->added.size(); ++i) {
        const auto &t = p->added[i];
        if (!t.normalized || !p->normalizer)
            (t.normalized ? p->normalizedTrie : p->rawTrie).add(t.content, i);
        else
            p->normalizedTrie.add(p->normalizer->normalize(t.content), i);
    }

    // Post-processor: TemplateProcessing decides what "add special tokens" adds.
    std::function<void(const nlohmann::json &)> readPostProcessor = [&](const nlohmann::json &spec) {
        if (spec.is_null())
            return;
        const std::string type = spec.value("type", std::string());
        if (type == "ByteLevel")
            return;
        if (type == "Sequence") {
            for (const auto &item : spec.value("processors", nlohmann::json::array()))
                readPostProcessor(item);
            return;
        }
        if (type != "TemplateProcessing")
            throw FormatError(source + ": unsupported post-processor \"" + type
                              + "\" in tokenizer.json (supported: TemplateProcessing, ByteLevel, Sequence)");
        const auto &specials = spec.value("special_tokens", nlohmann::json::object());
        p->hasTemplate = true;
        p->singleTemplate.clear();
        for (const auto &piece : spec.value("single", nlohmann::json::array())) {
            if (piece.contains("Sequence")) {
                p->singleTemplate.push_back({true, {}});
            } else if (piece.contains("SpecialToken")) {
                const std::string name = piece["SpecialToken"].value("id", std::string());
                if (!specials.contains(name) || !specials[name].contains("ids"))
                    throw FormatError(source + ": post-processor template uses special token \"" + name
                                      + "\" that its special_tokens do not define");
                p->singleTemplate.push_back({false, specials[name]["ids"].get<std::vector<int64_t>>()});
            } else {
                throw FormatError(source + ": post-processor template piece must be Sequence or SpecialToken");
            }
        }
    };
    readPostProcessor(doc.value("post_processor", nlohmann::json()));

    Tokenizer tokenizer(p);
    auto resolve = [&](const std::string &text) -> std::optional<int64_t> {
        return text.empty() ? std::nullopt : tokenizer.tokenToId(text);
    };
    if (config) {
        p->special.bosText = tokenText(config->value("bos_token", nlohmann::json()));
        p->special.eosText = tokenText(config->value("eos_token", nlohmann::json()));
        p->special.padText = tokenText(config->value("pad_token", nlohmann::json()));
        p->special.unkText = tokenText(config->value("unk_token", nlohmann::json()));
        p->special.addBos = config->value("add_bos_token", false);
        p->special.addEos = config->value("add_eos_token", false);
    }
    p->special.bos = resolve(p->special.bosText);
    p->special.eos = resolve(p->special.eosText);
    p->special.pad = resolve(p->special.padText);
    p->special.unk = resolve(p->special.unkText);
    return tokenizer;
}

std::vector<int64_t> Tokenizer::encode(std::string_view text, bool addSpecialTokens) const
{
    const Pipeline &p = *d;
    if (const auto bad = unicode::firstInvalidByte(text)) {
        const bool bytesOk = p.preTokenizer && p.preTokenizer->isByteLevel() && (!p.normalizer || p.normalizer->acceptsInvalidUtf8());
        if (!bytesOk)
            throw Error("input is not valid UTF-8 at byte " + std::to_string(*bad) + "; this tokenizer (" + p.source
                        + ") only encodes text");
    }
    std::vector<Split> splits{{std::string(text), true, -1}};
    p.splitOnAddedTokens(splits, p.rawTrie);
    if (p.normalizer)
        for (auto &s : splits)
            if (s.addedId < 0)
                s.text = p.normalizer->normalize(std::move(s.text));
    p.splitOnAddedTokens(splits, p.normalizedTrie);

    std::vector<int64_t> ids;
    std::vector<PreToken> pieces;
    for (const auto &split : splits) {
        if (split.addedId >= 0) {
            ids.push_back(split.addedId);
            continue;
        }
        if (split.text.empty())
            continue;
        pieces.assign(1, PreToken{split.text, split.atStart});
        if (p.preTokenizer)
            p.preTokenizer->apply(pieces);
        for (const auto &piece : pieces)
            p.model->tokenize(piece.text, ids);
    }

    if (!addSpecialTokens)
        return ids;
    if (p.hasTemplate) {
        std::vector<int64_t> out;
        for (const auto &piece : p.singleTemplate)
            out.insert(out.end(), piece.isSequence ? ids.begin() : piece.ids.begin(), piece.isSequence ? ids.end() : piece.ids.end());
        return out;
    }
    if (p.special.addBos && p.special.bos)
        ids.insert(ids.begin(), *p.special.bos);
    if (p.special.addEos && p.special.eos)
        ids.push_back(*p.special.eos);
    return ids;
}

std::string Tokenizer::decode(const std::vector<int64_t> &ids, bool skipSpecialTokens) const
{
    const Pipeline &p = *d;
    std::vector<std::string> tokens;
    tokens.reserve(ids.size());
    for (const int64_t id : ids) {
        const AddedToken *added = nullptr;
        const std::string &token = tokenString(id, added);
        if (!(skipSpecialTokens && added && added->special))
            tokens.push_back(token);
    }
    if (!p.decoder) {
        std::string joined;
        for (size_t i = 0; i < tokens.size(); ++i)
            joined += (i ? " " : "") + tokens[i];
        return joined;
    }
    std::string out;
    for (const auto &piece : p.decoder->decodeChain(std::move(tokens)))
        out += piece;
    return out;
}

const std::string &Tokenizer::tokenString(int64_t id, const AddedToken *&added) const
{
    const Pipeline &p = *d;
    added = nullptr;
    if (const auto it = p.addedById.find(id); it != p.addedById.end()) {
        added = &p.added[it->second];
        return added->content;
    }
    const std::string *token = p.model->idToToken(id);
    if (!token)
        throw Error("token id " + std::to_string(id) + " is not in the vocabulary of " + p.source + " (size "
                    + std::to_string(vocabSize()) + ")");
    return *token;
}

std::string Tokenizer::tokenBytes(int64_t id) const
{
    const AddedToken *added = nullptr;
    const std::string &token = tokenString(id, added);
    if (added || !d->decoder)
        return token;
    std::string out;
    for (const auto &piece : d->decoder->decodeBytes({token}))
        out += piece;
    return out;
}

int64_t Tokenizer::vocabSize() const
{
    int64_t maxId = d->model->maxId();
    for (const auto &t : d->added)
        maxId = std::max(maxId, t.id);
    return maxId + 1;
}

std::optional<int64_t> Tokenizer::tokenToId(std::string_view token) const
{
    if (const auto it = d->addedByContent.find(std::string(token)); it != d->addedByContent.end())
        return it->second;
    return d->model->tokenToId(token);
}

std::optional<std::string> Tokenizer::idToToken(int64_t id) const
{
    if (const auto it = d->addedById.find(id); it != d->addedById.end())
        return d->added[it->second].content;
    if (const std::string *t = d->model->idToToken(id))
        return *t;
    return std::nullopt;
}

bool Tokenizer::isSpecial(int64_t id) const
{
    const auto it = d->addedById.find(id);
    return it != d->addedById.end() && d->added[it->second].special;
}

const SpecialTokens &Tokenizer::specialTokens() const
{
    return d->special;
}

const std::vector<AddedToken> &Tokenizer::addedTokens() const
{
    return d->added;
}

bool Tokenizer::isByteLevel() const
{
    return d->preTokenizer && d->preTokenizer->isByteLevel();
}

void copyTokenizerFiles(const std::filesystem::path &source, const std::filesystem::path &directory)
{
    namespace fs = std::filesystem;
    const fs::path from = fs::is_directory(source) ? source : source.parent_path();
    for (const char *file : {"tokenizer.json", "tokenizer_config.json"})
        if (fs::exists(from / file))
            fs::copy_file(from / file, directory / file, fs::copy_options::overwrite_existing);
}

} // namespace plad
