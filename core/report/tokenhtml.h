#pragma once

// How pair outputs are shown, in the report and in the workbench's pair inspector alike:
// tokens tinted by the student's log-probability, and a word-level diff of two outputs.

#include "store/workspace.h"

#include <string>

namespace plad {

class Tokenizer;

/** Background colour (#rrggbb) for a token log-probability: red at -6 nats and below, through yellow, to green at 0. */
std::string logprobTint(double logprob);

/**
 * The output's tokens as HTML spans tinted by the initial student's log-probability, each with
 * the title "log p = X"; special tokens are left out. Without a tokenizer (or log-probs), the
 * escaped text.
 */
std::string tintedTokensHtml(const StoredOutput &output, const Tokenizer *tokenizer);

/**
 * `text` as HTML with the words that are not part of its longest common word subsequence with
 * `other` marked (<u class="diff">): what one output says that the other does not.
 */
std::string wordDiffHtml(const std::string &text, const std::string &other);

} // namespace plad
