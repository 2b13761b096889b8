#include "eval/rouge.h"

#include "tokenizer/unicodetext.h"

#include <algorithm>
#include <functional>
#include <map>
#include <unordered_map>

namespace plad {

namespace {

// ---- Porter stemmer, NLTK_EXTENSIONS mode -------------------------------------------------
// rouge_score stems with NLTK's PorterStemmer, whose default mode adds a few rules to Porter's
// 1980 algorithm (irregular forms, "ies"/"ied" on short words, "fulli", "logi", a two-letter
// cvc). Snowball's "porter" is the original algorithm, so it cannot reproduce rouge_score.

bool isConsonant(const std::string &w, size_t i)
{
    const char c = w[i];
    if (c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u')
        return false;
    if (c == 'y')
        return i == 0 ? true : !isConsonant(w, i - 1);
    return true;
}

int measure(const std::string &stem)
{
    int m = 0;
    for (size_t i = 1; i < stem.size(); ++i)
        if (!isConsonant(stem, i - 1) && isConsonant(stem, i))
            ++m;
    return m;
}

bool containsVowel(const std::string &stem)
{
    for (size_t i = 0; i < stem.size(); ++i)
        if (!isConsonant(stem, i))
            return true;
    return false;
}

bool endsDoubleConsonant(const std::string &w)
{
    return w.size() >= 2 && w[w.size() - 1] == w[w.size() - 2] && isConsonant(w, w.size() - 1);
}

bool endsCvc(const std::string &w)
{
    const size_t n = w.size();
    if (n >= 3 && isConsonant(w, n - 3) && !isConsonant(w, n - 2) && isConsonant(w, n - 1) && w[n - 1] != 'w'
        && w[n - 1] != 'x' && w[n - 1] != 'y')
        return true;
    return n == 2 && !isConsonant(w, 0) && isConsonant(w, 1);
}

bool endsWith(const std::string &w, const std::string &suffix)
{
    return w.size() >= suffix.size() && w.compare(w.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string dropSuffix(const std::string &w, const std::string &suffix)
{
    return w.substr(0, w.size() - suffix.size());
}

struct Rule
{
    std::string suffix;
    std::string replacement;
    std::function<bool(const std::string &)> condition; // empty: always
};

// The first rule whose suffix matches decides: it applies if its condition holds, otherwise the
// word is returned unchanged. "*d" stands for a double consonant ending.
std::string applyRules(const std::string &w, const std::vector<Rule> &rules)
{
    for (const auto &rule : rules) {
        if (rule.suffix == "*d") {
            if (!endsDoubleConsonant(w))
                continue;
            const std::string stem = w.substr(0, w.size() - 2);
            return !rule.condition || rule.condition(stem) ? stem + rule.replacement : w;
        }
        if (!endsWith(w, rule.suffix))
            continue;
        const std::string stem = dropSuffix(w, rule.suffix);
        return !rule.condition || rule.condition(stem) ? stem + rule.replacement : w;
    }
    return w;
}

bool positive(const std::string &s) { return measure(s) > 0; }
bool aboveOne(const std::string &s) { return measure(s) > 1; }

std::string step1a(const std::string &w)
{
    if (endsWith(w, "ies") && w.size() == 4)
        return dropSuffix(w, "ies") + "ie";
    return applyRules(w, {{"sses", "ss", {}}, {"ies", "i", {}}, {"ss", "ss", {}}, {"s", "", {}}});
}

std::string step1b(const std::string &w)
{
    if (endsWith(w, "ied"))
        return dropSuffix(w, "ied") + (w.size() == 4 ? "ie" : "i");
    if (endsWith(w, "eed")) {
        const std::string stem = dropSuffix(w, "eed");
        return measure(stem) > 0 ? stem + "ee" : w;
    }
    std::string stem;
    bool removed = false;
    for (const char *suffix : {"ed", "ing"}) {
        if (endsWith(w, suffix)) {
            stem = dropSuffix(w, suffix);
            if (containsVowel(stem)) {
                removed = true;
                break;
            }
        }
    }
    if (!removed)
        return w;
    const char last = stem.back();
    return applyRules(stem, {
                                {"at", "ate", {}},
                                {"bl", "ble", {}},
                                {"iz", "ize", {}},
                                {"*d", std::string(1, last), [last](const std::string &) { return last != 'l' && last != 's' && last != 'z'; }},
                                {"", "e", [](const std::string &s) { return measure(s) == 1 && endsCvc(s); }},
                            });
}

std::string step1c(const std::string &w)
{
    return applyRules(w, {{"y", "i", [](const std::string &s) { return s.size() > 1 && isConsonant(s, s.size() - 1); }}});
}

std::string step2(const std::string &w)
{
    if (endsWith(w, "alli") && positive(dropSuffix(w, "alli")))
        return step2(dropSuffix(w, "alli") + "al");
    return applyRules(w, {
                             {"ational", "ate", positive}, {"tional", "tion", positive}, {"enci", "ence", positive},
                             {"anci", "ance", positive},   {"izer", "ize", positive},    {"bli", "ble", positive},
                             {"alli", "al", positive},     {"entli", "ent", positive},   {"eli", "e", positive},
                             {"ousli", "ous", positive},   {"ization", "ize", positive}, {"ation", "ate", positive},
                             {"ator", "ate", positive},    {"alism", "al", positive},    {"iveness", "ive", positive},
                             {"fulness", "ful", positive}, {"ousness", "ous", positive}, {"aliti", "al", positive},
                             {"iviti", "ive", positive},   {"biliti", "ble", positive},  {"fulli", "ful", positive},
                             {"logi", "log", [&w](const std::string &) { return positive(w.substr(0, w.size() - 3)); }},
                         });
}

std::string step3(const std::string &w)
{
    return applyRules(w, {{"icate", "ic", positive}, {"ative", "", positive}, {"alize", "al", positive}, {"iciti", "ic", positive},
                          {"ical", "ic", positive},  {"ful", "", positive},   {"ness", "", positive}});
}

std::string step4(const std::string &w)
{
    return applyRules(w, {
                             {"al", "", aboveOne},   {"ance", "", aboveOne}, {"ence", "", aboveOne}, {"er", "", aboveOne},
                             {"ic", "", aboveOne},   {"able", "", aboveOne}, {"ible", "", aboveOne}, {"ant", "", aboveOne},
                             {"ement", "", aboveOne}, {"ment", "", aboveOne}, {"ent", "", aboveOne},
                             {"ion", "", [](const std::string &s) { return measure(s) > 1 && (s.back() == 's' || s.back() == 't'); }},
                             {"ou", "", aboveOne},   {"ism", "", aboveOne},  {"ate", "", aboveOne},  {"iti", "", aboveOne},
                             {"ous", "", aboveOne},  {"ive", "", aboveOne},  {"ize", "", aboveOne},
                         });
}

std::string step5a(const std::string &w)
{
    if (endsWith(w, "e")) {
        const std::string stem = dropSuffix(w, "e");
        const int m = measure(stem);
        if (m > 1 || (m == 1 && !endsCvc(stem)))
            return stem;
    }
    return w;
}

std::string step5b(const std::string &w)
{
    return applyRules(w, {{"ll", "l", [&w](const std::string &) { return measure(w.substr(0, w.size() - 1)) > 1; }}});
}

const std::unordered_map<std::string, std::string> &irregularForms()
{
    static const std::unordered_map<std::string, std::string> forms = {
        {"sky", "sky"},         {"skies", "sky"},     {"dying", "die"},     {"lying", "lie"},
        {"tying", "tie"},       {"news", "news"},     {"innings", "inning"}, {"inning", "inning"},
        {"outings", "outing"},  {"outing", "outing"}, {"cannings", "canning"}, {"canning", "canning"},
        {"howe", "howe"},       {"proceed", "proceed"}, {"exceed", "exceed"}, {"succeed", "succeed"},
    };
    return forms;
}

// ---- ROUGE ---------------------------------------------------------------------------------

RougeScore fromCounts(double overlap, double predicted, double reference)
{
    RougeScore s;
    s.precision = predicted > 0 ? overlap / predicted : 0.0;
    s.recall = reference > 0 ? overlap / reference : 0.0;
    s.f1 = s.precision + s.recall > 0 ? 2 * s.precision * s.recall / (s.precision + s.recall) : 0.0;
    return s;
}

RougeScore ngramScore(const std::vector<std::string> &target, const std::vector<std::string> &prediction, size_t n)
{
    auto count = [n](const std::vector<std::string> &tokens) {
        std::map<std::vector<std::string>, int> grams;
        for (size_t i = 0; i + n <= tokens.size(); ++i)
            ++grams[std::vector<std::string>(tokens.begin() + static_cast<long>(i), tokens.begin() + static_cast<long>(i + n))];
        return grams;
    };
    const auto t = count(target);
    const auto p = count(prediction);
    double overlap = 0, totalT = 0, totalP = 0;
    for (const auto &[gram, c] : t) {
        totalT += c;
        if (const auto it = p.find(gram); it != p.end())
            overlap += std::min(c, it->second);
    }
    for (const auto &[gram, c] : p)
        totalP += c;
    return fromCounts(overlap, totalP, totalT);
}

size_t lcsLength(const std::vector<std::string> &a, const std::vector<std::string> &b)
{
    std::vector<size_t> row(b.size() + 1, 0);
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diagonal = 0;
        for (size_t j = 1; j <= b.size(); ++j) {
            const size_t up = row[j];
            row[j] = a[i - 1] == b[j - 1] ? diagonal + 1 : std::max(row[j], row[j - 1]);
            diagonal = up;
        }
    }
    return row[b.size()];
}

} // namespace

std::string porterStem(const std::string &word)
{
    if (const auto it = irregularForms().find(word); it != irregularForms().end())
        return it->second;
    if (word.size() <= 2)
        return word;
    std::string w = step1a(word);
    w = step1b(w);
    w = step1c(w);
    w = step2(w);
    w = step3(w);
    w = step4(w);
    w = step5a(w);
    w = step5b(w);
    return w;
}

RougeScorer::RougeScorer(bool stem)
    : mStem(stem)
{}

std::vector<std::string> RougeScorer::tokenize(std::string_view input) const
{
    // Python's str.lower() maps a few non-ASCII letters to ASCII ones (the Kelvin sign to k,
    // dotted capital I to i + combining dot), so lowercase in Unicode first when it matters.
    std::string lowered;
    std::string_view text = input;
    if (std::any_of(input.begin(), input.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; })
        && !unicode::firstInvalidByte(input)) {
        lowered = unicode::lowercase(input);
        text = lowered;
    }
    std::vector<std::string> tokens;
    std::string current;
    auto flush = [&] {
        if (current.empty())
            return;
        tokens.push_back(mStem && current.size() > 3 ? porterStem(current) : current);
        current.clear();
    };
    for (const char raw : text) {
        char c = raw;
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
            current += c;
        else
            flush(); // any other byte (punctuation, space, non-ASCII) separates tokens
    }
    flush();
    return tokens;
}

RougeScores RougeScorer::score(std::string_view target, std::string_view prediction) const
{
    const auto t = tokenize(target);
    const auto p = tokenize(prediction);
    RougeScores scores;
    scores.rouge1 = ngramScore(t, p, 1);
    scores.rouge2 = ngramScore(t, p, 2);
    scores.rougeL = fromCounts(static_cast<double>(lcsLength(t, p)), static_cast<double>(p.size()), static_cast<double>(t.size()));
    return scores;
}

} // namespace plad
