#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace plad {

class Tokenizer;

/**
 * Turns one output's tokens into text as they are generated: what a streaming client may be
 * shown after each token. Text is held back while it ends in an incomplete UTF-8 character or
 * in what may be the start of a stop string; a stop string ends the text before it (as OpenAI
 * servers do, the stop string itself is not returned). End-of-sequence ids and special tokens
 * are not part of the text.
 */
class TextStream
{
public:
    TextStream(const Tokenizer &tokenizer, std::vector<std::string> stops, std::vector<int64_t> endIds);

    /** Adds a token; returns the text newly safe to show (often empty). */
    std::string push(int64_t token);
    /** The output ended (EOS, length, cancel): returns the text still held back. */
    std::string finish();

    /** A stop string was found: the output is over. */
    bool stopped() const { return mStopped; }
    /** Everything shown so far. */
    const std::string &text() const { return mShown; }
    /** The tokens of the text (end ids left out). */
    const std::vector<int64_t> &ids() const { return mIds; }

private:
    const Tokenizer &mTokenizer;
    std::vector<std::string> mStops;
    std::vector<int64_t> mEndIds;
    std::vector<int64_t> mIds;
    std::string mShown;
    bool mStopped = false;
    bool mFinished = false;
};

} // namespace plad
