#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace plad {

/** Precision, recall and F1 of one ROUGE variant, each in [0, 1]. */
struct RougeScore
{
    double precision = 0;
    double recall = 0;
    double f1 = 0;
};

struct RougeScores
{
    RougeScore rouge1, rouge2, rougeL;
};

/**
 * ROUGE-1, ROUGE-2 and ROUGE-L (sentence-level LCS) with the semantics of Google's
 * `rouge_score` package: lowercase, every run of characters outside [a-z0-9] is a separator,
 * and with `stem` set, tokens longer than three characters are reduced by the Porter stemmer
 * (NLTK's variant, which `rouge_score` uses).
 *
 * Thread-safe.
 */
class RougeScorer
{
public:
    explicit RougeScorer(bool stem = false);
    RougeScores score(std::string_view target, std::string_view prediction) const;
    std::vector<std::string> tokenize(std::string_view text) const;

private:
    bool mStem;
};

/** The Porter stemmer as NLTK implements it (its default NLTK_EXTENSIONS mode), for lowercase ASCII words. */
std::string porterStem(const std::string &word);

} // namespace plad
