#include "report/tokenhtml.h"

#include "common/error.h"
#include "report/svgchart.h"
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <vector>

namespace plad {
namespace {

std::vector<std::string> words(const std::string &text)
{
    std::istringstream in(text);
    std::vector<std::string> out;
    for (std::string w; in >> w;)
        out.push_back(w);
    return out;
}

} // namespace

std::string logprobTint(double logprob)
{
    // A red-yellow-green ramp blended at 45% over white, so text stays readable on it.
    const double t = std::clamp(1.0 + logprob / 6.0, 0.0, 1.0);
    const double r = t < 0.5 ? 255 : 255 - (t - 0.5) * 2 * 155;
    const double g = t < 0.5 ? 120 + t * 2 * 135 : 255;
    const double b = 110;
    auto blend = [](double c) { return static_cast<int>(255 - 0.45 * (255 - c) + 0.5); };
    char text[16];
    std::snprintf(text, sizeof text, "#%02x%02x%02x", blend(r), blend(g), blend(b));
    return text;
}

std::string tintedTokensHtml(const StoredOutput &output, const Tokenizer *tokenizer)
{
    if (!tokenizer || output.studentLogprobs.size() != output.tokenIds.size())
        return xmlEscape(output.text);
    std::string html;
    for (size_t i = 0; i < output.tokenIds.size(); ++i) {
        std::string piece;
        try {
            piece = tokenizer->decode({output.tokenIds[i]}, true);
        } catch (const Error &) {
            piece = "?";
        }
        if (piece.empty())
            continue; // special tokens (EOS) are not shown
        char value[32];
        std::snprintf(value, sizeof value, "%.2f", static_cast<double>(output.studentLogprobs[i]));
        // Dark text: the tints are light, whatever the theme around them.
        html += "<span style=\"color:#111;background-color:" + logprobTint(output.studentLogprobs[i]) + "\" title=\"log p = " + value + "\">"
                + xmlEscape(piece) + "</span>";
    }
    return html;
}

std::string wordDiffHtml(const std::string &text, const std::string &other)
{
    const auto a = words(text), b = words(other);
    // Longest common subsequence table over words (outputs are short: tens of words).
    std::vector<std::vector<int>> lcs(a.size() + 1, std::vector<int>(b.size() + 1, 0));
    for (size_t i = a.size(); i-- > 0;)
        for (size_t j = b.size(); j-- > 0;)
            lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
    std::string html;
    size_t i = 0, j = 0;
    while (i < a.size()) {
        const bool common = j < b.size() && a[i] == b[j];
        if (common) {
            html.append(html.empty() ? "" : " ").append(xmlEscape(a[i]));
            ++i;
            ++j;
        } else if (j < b.size() && lcs[i][j + 1] >= lcs[i + 1][j]) {
            ++j;
        } else {
            html.append(html.empty() ? "" : " ").append("<u class=\"diff\">").append(xmlEscape(a[i])).append("</u>");
            ++i;
        }
    }
    return html;
}

} // namespace plad
