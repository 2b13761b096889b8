#include "jinjasyntax.h"

#include "jinjatemplate.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace plad::jinja {

namespace {

// ---- tokens ----

enum class Tok { Data, VariableBegin, VariableEnd, BlockBegin, BlockEnd, Name, Integer, Float, String, Operator, End };

struct Token
{
    Tok type;
    std::string text; // data, name, operator, or a string literal's value
    int64_t integer = 0;
    double real = 0;
    std::size_t offset = 0;
};

bool isSpace(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (static_cast<unsigned char>(c) >= 0x80); }
bool isNameChar(char c) { return isNameStart(c) || isDigit(c); }

/** jinja2 normalises newlines and, without keep_trailing_newline, drops one trailing newline. */
std::string normaliseSource(const std::string &source)
{
    std::string out;
    out.reserve(source.size());
    for (std::size_t i = 0; i < source.size(); ++i) {
        if (source[i] == '\r') {
            out.push_back('\n');
            if (i + 1 < source.size() && source[i + 1] == '\n')
                ++i;
        } else {
            out.push_back(source[i]);
        }
    }
    if (!out.empty() && out.back() == '\n')
        out.pop_back();
    return out;
}

class Lexer
{
public:
    Lexer(const std::string &source, const std::string &name) : mSource(source), mName(name)
    {
        mLineStarts.push_back(0);
        for (std::size_t i = 0; i < mSource.size(); ++i)
            if (mSource[i] == '\n')
                mLineStarts.push_back(i + 1);
    }

    Location location(std::size_t offset) const
    {
        const auto it = std::upper_bound(mLineStarts.begin(), mLineStarts.end(), offset);
        const auto line = static_cast<int>(it - mLineStarts.begin());
        const std::size_t start = mLineStarts[static_cast<std::size_t>(line - 1)];
        const auto column = codePointLength(mSource.substr(start, offset - start)) + 1;
        return {line, static_cast<int>(column)};
    }

    [[noreturn]] void fail(std::size_t offset, const std::string &what) const
    {
        const Location l = location(offset);
        throw TemplateError(mName, l.line, l.column, what);
    }

    std::vector<Token> tokenize()
    {
        std::vector<Token> tokens;
        const std::size_t n = mSource.size();
        std::size_t pos = 0;
        bool lineStarting = true;
        while (pos < n) {
            std::size_t idx = std::string::npos;
            for (const char *open : {"{{", "{%", "{#"}) {
                const auto found = mSource.find(open, pos);
                if (found < idx)
                    idx = found;
            }
            if (idx == std::string::npos) {
                tokens.push_back({Tok::Data, mSource.substr(pos), 0, 0, pos});
                break;
            }
            std::string text = mSource.substr(pos, idx - pos);
            const char kind = mSource[idx + 1];
            std::size_t p = idx + 2;
            const char sign = p < n && (mSource[p] == '-' || mSource[p] == '+') ? mSource[p] : '\0';
            applyLeftStrip(text, sign, kind != '{', lineStarting);
            if (!text.empty())
                tokens.push_back({Tok::Data, std::move(text), 0, 0, pos});
            if (sign)
                ++p;

            if (kind == '#') {
                const auto close = mSource.find("#}", p);
                if (close == std::string::npos)
                    fail(idx, "the comment opened here has no closing '#}'");
                const char closeSign = close > p && (mSource[close - 1] == '-' || mSource[close - 1] == '+') ? mSource[close - 1] : '\0';
                pos = closeTag(close + 2, closeSign, true);
                lineStarting = pos > 0 && mSource[pos - 1] == '\n';
                continue;
            }
            if (kind == '%') {
                std::size_t rawEnd = 0;
                if (matchRawBegin(p, rawEnd)) {
                    pos = lexRaw(idx, rawEnd, tokens, lineStarting);
                    continue;
                }
            }
            const bool block = kind == '%';
            tokens.push_back({block ? Tok::BlockBegin : Tok::VariableBegin, {}, 0, 0, idx});
            pos = lexTag(p, block, tokens, idx);
            lineStarting = pos > 0 && mSource[pos - 1] == '\n';
        }
        tokens.push_back({Tok::End, {}, 0, 0, n});
        return tokens;
    }

private:
    // `{%-` strips all whitespace before the tag; otherwise lstrip_blocks strips the spaces and
    // tabs between the line's start and a block or comment tag (not `{{`, not `{%+`).
    void applyLeftStrip(std::string &text, char sign, bool blockOrComment, bool lineStarting) const
    {
        if (sign == '-') {
            std::size_t end = text.size();
            while (end > 0 && isSpace(text[end - 1]))
                --end;
            text.resize(end);
        } else if (sign != '+' && blockOrComment) {
            const auto newline = text.rfind('\n');
            const std::size_t lineStart = newline == std::string::npos ? 0 : newline + 1;
            if (lineStart > 0 || lineStarting) {
                if (lineStart < text.size()
                    && std::all_of(text.begin() + static_cast<std::ptrdiff_t>(lineStart), text.end(), isSpace))
                    text.resize(lineStart);
            }
        }
    }

    // After a closing `%}` or `#}` ending at `after`: `-` eats the whitespace that follows,
    // trim_blocks one newline, `+` nothing. Returns where the text resumes.
    std::size_t closeTag(std::size_t after, char sign, bool trim) const
    {
        if (sign == '-') {
            while (after < mSource.size() && isSpace(mSource[after]))
                ++after;
        } else if (sign != '+' && trim && after < mSource.size() && mSource[after] == '\n') {
            ++after;
        }
        return after;
    }

    // `{% raw %}` (after `{%` and its sign, at p): on success `end` is just past the tag.
    bool matchRawBegin(std::size_t p, std::size_t &end) const
    {
        std::size_t q = p;
        while (q < mSource.size() && isSpace(mSource[q]))
            ++q;
        if (mSource.compare(q, 3, "raw") != 0 || (q + 3 < mSource.size() && isNameChar(mSource[q + 3])))
            return false;
        q += 3;
        while (q < mSource.size() && isSpace(mSource[q]))
            ++q;
        if (mSource.compare(q, 3, "-%}") == 0) {
            q += 3;
            while (q < mSource.size() && isSpace(mSource[q]))
                ++q;
            end = q;
            return true;
        }
        if (mSource.compare(q, 2, "%}") == 0) {
            end = q + 2; // no trim_blocks after a raw opening tag, as jinja2
            return true;
        }
        return false;
    }

    std::size_t lexRaw(std::size_t openAt, std::size_t contentStart, std::vector<Token> &tokens, bool &lineStarting) const
    {
        std::size_t search = contentStart;
        while (true) {
            const auto tag = mSource.find("{%", search);
            if (tag == std::string::npos)
                fail(openAt, "the raw block opened here has no '{% endraw %}'");
            std::size_t q = tag + 2;
            const char sign = q < mSource.size() && (mSource[q] == '-' || mSource[q] == '+') ? mSource[q] : '\0';
            if (sign)
                ++q;
            while (q < mSource.size() && isSpace(mSource[q]))
                ++q;
            if (mSource.compare(q, 6, "endraw") != 0) {
                search = tag + 2;
                continue;
            }
            q += 6;
            while (q < mSource.size() && isSpace(mSource[q]))
                ++q;
            char closeSign = '\0';
            if (q < mSource.size() && (mSource[q] == '-' || mSource[q] == '+'))
                closeSign = mSource[q++];
            if (mSource.compare(q, 2, "%}") != 0)
                fail(tag, "malformed '{% endraw %}' tag");
            std::string text = mSource.substr(contentStart, tag - contentStart);
            const bool rawLineStarting = contentStart > 0 && mSource[contentStart - 1] == '\n';
            applyLeftStrip(text, sign, true, rawLineStarting);
            if (!text.empty())
                tokens.push_back({Tok::Data, std::move(text), 0, 0, contentStart});
            const std::size_t after = closeTag(q + 2, closeSign, true);
            lineStarting = after > 0 && mSource[after - 1] == '\n';
            return after;
        }
    }

    std::size_t lexTag(std::size_t p, bool block, std::vector<Token> &tokens, std::size_t openAt) const
    {
        const std::size_t n = mSource.size();
        std::vector<char> brackets;
        while (true) {
            while (p < n && isSpace(mSource[p]))
                ++p;
            if (p >= n)
                fail(openAt, std::string("the tag opened here is not closed (expected '") + (block ? "%}" : "}}") + "')");
            if (brackets.empty()) {
                if (block) {
                    if (mSource.compare(p, 3, "-%}") == 0 || mSource.compare(p, 3, "+%}") == 0) {
                        tokens.push_back({Tok::BlockEnd, {}, 0, 0, p});
                        return closeTag(p + 3, mSource[p], true);
                    }
                    if (mSource.compare(p, 2, "%}") == 0) {
                        tokens.push_back({Tok::BlockEnd, {}, 0, 0, p});
                        return closeTag(p + 2, '\0', true);
                    }
                } else {
                    if (mSource.compare(p, 3, "-}}") == 0) {
                        tokens.push_back({Tok::VariableEnd, {}, 0, 0, p});
                        return closeTag(p + 3, '-', false);
                    }
                    if (mSource.compare(p, 2, "}}") == 0) {
                        tokens.push_back({Tok::VariableEnd, {}, 0, 0, p});
                        return p + 2;
                    }
                }
            }
            const char c = mSource[p];
            if (isDigit(c)) {
                p = lexNumber(p, tokens);
            } else if (isNameStart(c)) {
                std::size_t q = p;
                while (q < n && isNameChar(mSource[q]))
                    ++q;
                tokens.push_back({Tok::Name, mSource.substr(p, q - p), 0, 0, p});
                p = q;
            } else if (c == '\'' || c == '"') {
                p = lexString(p, tokens);
            } else {
                static const char *const operators[] = {"//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~",
                                                        "[", "]", "(", ")", "{", "}", "<", ">", "=", ".", ":", "|", ",", ";"};
                const char *matched = nullptr;
                for (const char *op : operators)
                    if (mSource.compare(p, std::strlen(op), op) == 0) {
                        matched = op;
                        break;
                    }
                if (!matched)
                    fail(p, std::string("unexpected character '") + c + "'");
                const std::string op = matched;
                if (op == "(" || op == "[" || op == "{") {
                    brackets.push_back(op[0]);
                } else if (op == ")" || op == "]" || op == "}") {
                    const char expected = op == ")" ? '(' : op == "]" ? '[' : '{';
                    if (brackets.empty() || brackets.back() != expected)
                        fail(p, "unexpected '" + op + "'");
                    brackets.pop_back();
                }
                tokens.push_back({Tok::Operator, op, 0, 0, p});
                p += op.size();
            }
        }
    }

    std::size_t lexNumber(std::size_t p, std::vector<Token> &tokens) const
    {
        const std::size_t n = mSource.size();
        const std::size_t start = p;
        auto digits = [&](std::size_t q) {
            // (\d+_)*\d+
            const std::size_t begin = q;
            while (q < n && (isDigit(mSource[q]) || (mSource[q] == '_' && q + 1 < n && isDigit(mSource[q + 1]) && q > begin)))
                ++q;
            return q;
        };
        auto clean = [](std::string s) {
            s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
            return s;
        };
        if (mSource[p] == '0' && p + 1 < n && std::strchr("xXoObB", mSource[p + 1])) {
            const char base = static_cast<char>(std::tolower(static_cast<unsigned char>(mSource[p + 1])));
            std::size_t q = p + 2;
            while (q < n && (std::isxdigit(static_cast<unsigned char>(mSource[q])) || mSource[q] == '_'))
                ++q;
            const std::string body = clean(mSource.substr(p + 2, q - p - 2));
            try {
                const int radix = base == 'x' ? 16 : base == 'o' ? 8 : 2;
                tokens.push_back({Tok::Integer, {}, static_cast<int64_t>(std::stoll(body, nullptr, radix)), 0, start});
            } catch (const std::exception &) {
                fail(start, "malformed number '" + mSource.substr(p, q - p) + "'");
            }
            return q;
        }
        std::size_t q = digits(p);
        const bool afterDot = start > 0 && mSource[start - 1] == '.';
        bool isFloat = false;
        if (!afterDot) {
            std::size_t r = q;
            if (r + 1 < n && mSource[r] == '.' && isDigit(mSource[r + 1])) {
                r = digits(r + 1);
                isFloat = true;
            }
            if (r < n && (mSource[r] == 'e' || mSource[r] == 'E')) {
                std::size_t e = r + 1;
                if (e < n && (mSource[e] == '+' || mSource[e] == '-'))
                    ++e;
                if (e < n && isDigit(mSource[e])) {
                    r = digits(e);
                    isFloat = true;
                }
            }
            if (isFloat)
                q = r;
        }
        const std::string text = clean(mSource.substr(p, q - p));
        if (isFloat) {
            // strtod, not stod: a literal beyond double's range is inf, as Python reads 1e999.
            tokens.push_back({Tok::Float, {}, 0, std::strtod(text.c_str(), nullptr), start});
        } else {
            try {
                tokens.push_back({Tok::Integer, {}, static_cast<int64_t>(std::stoll(text)), 0, start});
            } catch (const std::exception &) {
                fail(start, "integer '" + text + "' is out of range");
            }
        }
        return q;
    }

    // A quoted string with Python's escapes (jinja2 decodes them as "unicode-escape").
    std::size_t lexString(std::size_t p, std::vector<Token> &tokens) const
    {
        const char quote = mSource[p];
        const std::size_t n = mSource.size();
        std::string value;
        std::size_t q = p + 1;
        auto appendCodePoint = [&](char32_t cp) { value += fromCodePoints(std::u32string(1, cp)); };
        auto hexValue = [&](std::size_t at, int count) -> char32_t {
            if (at + static_cast<std::size_t>(count) > n)
                fail(at, "truncated escape in string");
            char32_t v = 0;
            for (int i = 0; i < count; ++i) {
                const char h = mSource[at + static_cast<std::size_t>(i)];
                if (!std::isxdigit(static_cast<unsigned char>(h)))
                    fail(at, "malformed escape in string");
                v = v * 16 + static_cast<char32_t>(std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : std::tolower(h) - 'a' + 10);
            }
            return v;
        };
        while (true) {
            if (q >= n)
                fail(p, "the string opened here is not closed");
            const char c = mSource[q];
            if (c == quote)
                break;
            if (c != '\\') {
                value.push_back(c);
                ++q;
                continue;
            }
            if (q + 1 >= n)
                fail(p, "the string opened here is not closed");
            const char e = mSource[q + 1];
            q += 2;
            switch (e) {
            case '\\': value.push_back('\\'); break;
            case '\'': value.push_back('\''); break;
            case '"': value.push_back('"'); break;
            case 'a': value.push_back('\a'); break;
            case 'b': value.push_back('\b'); break;
            case 'f': value.push_back('\f'); break;
            case 'n': value.push_back('\n'); break;
            case 'r': value.push_back('\r'); break;
            case 't': value.push_back('\t'); break;
            case 'v': value.push_back('\v'); break;
            case '\n': break; // a backslash-newline continues the line
            case 'x': appendCodePoint(hexValue(q, 2)); q += 2; break;
            case 'u': appendCodePoint(hexValue(q, 4)); q += 4; break;
            case 'U': appendCodePoint(hexValue(q, 8)); q += 8; break;
            default:
                if (e >= '0' && e <= '7') {
                    char32_t v = static_cast<char32_t>(e - '0');
                    for (int i = 0; i < 2 && q < n && mSource[q] >= '0' && mSource[q] <= '7'; ++i, ++q)
                        v = v * 8 + static_cast<char32_t>(mSource[q] - '0');
                    appendCodePoint(v);
                } else {
                    value.push_back('\\'); // unknown escapes stay as written
                    value.push_back(e);
                }
            }
        }
        tokens.push_back({Tok::String, std::move(value), 0, 0, p});
        return q + 1;
    }

    const std::string &mSource;
    const std::string &mName;
    std::vector<std::size_t> mLineStarts;
};

// ---- parser ----

class Parser
{
public:
    Parser(std::vector<Token> tokens, const Lexer &lexer) : mTokens(std::move(tokens)), mLexer(lexer) {}

    Body parseAll()
    {
        Body body = subparse({}, nullptr);
        return body;
    }

private:
    const Token &current() const { return mTokens[mPos]; }
    const Token &peek(std::size_t ahead = 1) const { return mTokens[std::min(mPos + ahead, mTokens.size() - 1)]; }
    Location loc(const Token &t) const { return mLexer.location(t.offset); }
    Location loc() const { return loc(current()); }
    void advance() { if (mPos + 1 < mTokens.size()) ++mPos; }

    [[noreturn]] void fail(const Token &t, const std::string &what) const { mLexer.fail(t.offset, what); }

    static std::string describe(const Token &t)
    {
        switch (t.type) {
        case Tok::Data: return "text";
        case Tok::VariableBegin: return "'{{'";
        case Tok::VariableEnd: return "'}}'";
        case Tok::BlockBegin: return "'{%'";
        case Tok::BlockEnd: return "'%}'";
        case Tok::Name: return "'" + t.text + "'";
        case Tok::Integer:
        case Tok::Float: return "a number";
        case Tok::String: return "a string";
        case Tok::Operator: return "'" + t.text + "'";
        case Tok::End: return "the end of the template";
        }
        return "token";
    }

    bool isOp(const char *op) const { return current().type == Tok::Operator && current().text == op; }
    bool isName(const char *name) const { return current().type == Tok::Name && current().text == name; }
    bool skipOp(const char *op)
    {
        if (!isOp(op))
            return false;
        advance();
        return true;
    }
    bool skipName(const char *name)
    {
        if (!isName(name))
            return false;
        advance();
        return true;
    }
    void expectOp(const char *op)
    {
        if (!skipOp(op))
            fail(current(), std::string("expected '") + op + "', found " + describe(current()));
    }
    std::string expectName()
    {
        if (current().type != Tok::Name)
            fail(current(), "expected a name, found " + describe(current()));
        std::string name = current().text;
        advance();
        return name;
    }
    void expectBlockEnd()
    {
        if (current().type != Tok::BlockEnd)
            fail(current(), "expected '%}', found " + describe(current()));
        advance();
    }

    // Parses statements until a block tag named in `ends`; leaves the parser just after that
    // name and stores it in `endFound`.
    Body subparse(const std::vector<std::string> &ends, std::string *endFound, const Token *opener = nullptr)
    {
        Body body;
        while (true) {
            const Token &t = current();
            switch (t.type) {
            case Tok::Data:
                body.push_back(std::make_unique<TextStmt>(loc(t), t.text));
                advance();
                break;
            case Tok::VariableBegin: {
                const Location l = loc(t);
                advance();
                auto expr = parseTuple(true, {});
                if (current().type != Tok::VariableEnd)
                    fail(current(), "expected '}}', found " + describe(current()));
                advance();
                body.push_back(std::make_unique<PrintStmt>(l, std::move(expr)));
                break;
            }
            case Tok::BlockBegin: {
                const Token &nameToken = peek();
                if (nameToken.type == Tok::Name
                    && std::find(ends.begin(), ends.end(), nameToken.text) != ends.end()) {
                    advance();
                    if (endFound)
                        *endFound = nameToken.text;
                    advance();
                    return body;
                }
                advance();
                body.push_back(parseStatement());
                break;
            }
            case Tok::End:
                if (!ends.empty()) {
                    std::string list;
                    for (const auto &e : ends)
                        list += (list.empty() ? "'" : " or '") + e + "'";
                    fail(opener ? *opener : t, "this tag is not closed: expected " + list + " before the end of the template");
                }
                return body;
            default: fail(t, "unexpected " + describe(t));
            }
        }
    }

    StmtPtr parseStatement()
    {
        const Token &t = current();
        if (t.type != Tok::Name)
            fail(t, "expected a tag name after '{%', found " + describe(t));
        const std::string &name = t.text;
        if (name == "if")
            return parseIf();
        if (name == "for")
            return parseFor();
        if (name == "set")
            return parseSet();
        if (name == "macro")
            return parseMacro();
        if (name == "call")
            return parseCallBlock();
        if (name == "filter")
            return parseFilterBlock();
        if (name == "with")
            return parseWith();
        if (name == "generation") {
            const Token opener = current();
            auto stmt = std::make_unique<GenerationStmt>(loc());
            advance();
            expectBlockEnd();
            stmt->body = subparse({"endgeneration"}, nullptr, &opener);
            expectBlockEnd();
            return stmt;
        }
        if (name == "break" || name == "continue") {
            if (mLoopDepth == 0)
                fail(t, "'" + name + "' outside of a loop");
            auto stmt = std::make_unique<ControlStmt>(name == "break" ? Stmt::Kind::Break : Stmt::Kind::Continue, loc());
            advance();
            expectBlockEnd();
            return stmt;
        }
        static const char *const unsupported[] = {"include", "import", "from", "extends", "block", "do", "autoescape", "trans", "pluralize"};
        for (const char *u : unsupported)
            if (name == u)
                fail(t, "the '" + name + "' tag is not supported (chat templates render on their own, without other templates or extensions)");
        if (name.rfind("end", 0) == 0 || name == "elif" || name == "else")
            fail(t, "unexpected '" + name + "': no open tag to close here");
        fail(t, "unknown tag '" + name + "'");
    }

    StmtPtr parseIf()
    {
        const Token opener = current();
        auto stmt = std::make_unique<IfStmt>(loc());
        advance();
        while (true) {
            auto condition = parseTuple(false, {});
            expectBlockEnd();
            std::string end;
            Body body = subparse({"elif", "else", "endif"}, &end, &opener);
            stmt->branches.emplace_back(std::move(condition), std::move(body));
            if (end == "elif")
                continue;
            if (end == "else") {
                expectBlockEnd();
                stmt->otherwise = subparse({"endif"}, nullptr, &opener);
            }
            expectBlockEnd();
            return stmt;
        }
    }

    AssignTarget parseAssignTarget(bool withNamespace)
    {
        AssignTarget target;
        target.loc = loc();
        if (withNamespace && current().type == Tok::Name && peek().type == Tok::Operator && peek().text == ".") {
            target.namespaceName = expectName();
            advance();
            target.attribute = expectName();
            return target;
        }
        const bool parenthesised = skipOp("(");
        while (true) {
            if (current().type != Tok::Name)
                fail(current(), "expected a variable name to assign to, found " + describe(current()));
            const std::string &n = current().text;
            if (n == "true" || n == "false" || n == "none" || n == "True" || n == "False" || n == "None")
                fail(current(), "cannot assign to '" + n + "'");
            target.names.push_back(n);
            advance();
            if (!skipOp(","))
                break;
            if (parenthesised && isOp(")"))
                break;
            if (!parenthesised && (isName("in") || isOp("=")))
                break;
        }
        if (parenthesised)
            expectOp(")");
        return target;
    }

    StmtPtr parseFor()
    {
        const Token opener = current();
        auto stmt = std::make_unique<ForStmt>(loc());
        advance();
        stmt->target = parseAssignTarget(false);
        if (!skipName("in"))
            fail(current(), "expected 'in' in the for loop, found " + describe(current()));
        stmt->iterable = parseTuple(false, {"recursive", "if"});
        if (skipName("if"))
            stmt->filter = parseExpression(true);
        if (isName("recursive"))
            fail(current(), "recursive loops are not supported");
        expectBlockEnd();
        ++mLoopDepth;
        std::string end;
        stmt->body = subparse({"endfor", "else"}, &end, &opener);
        --mLoopDepth;
        if (end == "else") {
            expectBlockEnd();
            stmt->otherwise = subparse({"endfor"}, nullptr, &opener);
        }
        expectBlockEnd();
        return stmt;
    }

    StmtPtr parseSet()
    {
        const Token opener = current();
        const Location l = loc();
        advance();
        AssignTarget target = parseAssignTarget(true);
        if (skipOp("=")) {
            auto stmt = std::make_unique<SetStmt>(l);
            stmt->target = std::move(target);
            stmt->value = parseTuple(true, {});
            expectBlockEnd();
            return stmt;
        }
        auto stmt = std::make_unique<SetBlockStmt>(l);
        stmt->target = std::move(target);
        if (stmt->target.names.size() > 1)
            fail(opener, "a block set assigns one name");
        while (skipOp("|"))
            stmt->filters.push_back(parseFilterCall(nullptr));
        expectBlockEnd();
        stmt->body = subparse({"endset"}, nullptr, &opener);
        expectBlockEnd();
        return stmt;
    }

    std::vector<MacroParameter> parseParameters()
    {
        std::vector<MacroParameter> params;
        expectOp("(");
        while (!isOp(")")) {
            if (!params.empty())
                expectOp(",");
            if (isOp(")"))
                break;
            MacroParameter p;
            p.name = expectName();
            if (skipOp("="))
                p.defaultValue = parseExpression(true);
            else if (!params.empty() && params.back().defaultValue)
                fail(current(), "parameter '" + p.name + "' without a default follows one with a default");
            params.push_back(std::move(p));
        }
        expectOp(")");
        return params;
    }

    StmtPtr parseMacro()
    {
        const Token opener = current();
        auto stmt = std::make_unique<MacroStmt>(loc());
        advance();
        stmt->name = expectName();
        stmt->parameters = parseParameters();
        expectBlockEnd();
        const int loops = mLoopDepth;
        mLoopDepth = 0;
        stmt->body = subparse({"endmacro"}, nullptr, &opener);
        mLoopDepth = loops;
        expectBlockEnd();
        return stmt;
    }

    StmtPtr parseCallBlock()
    {
        const Token opener = current();
        auto stmt = std::make_unique<CallBlockStmt>(loc());
        advance();
        if (isOp("("))
            stmt->parameters = parseParameters();
        auto expr = parseExpression(true);
        if (expr->kind != Expr::Kind::Call)
            fail(opener, "'call' expects a macro call");
        stmt->call.reset(static_cast<CallExpr *>(expr.release()));
        expectBlockEnd();
        stmt->body = subparse({"endcall"}, nullptr, &opener);
        expectBlockEnd();
        return stmt;
    }

    StmtPtr parseFilterBlock()
    {
        const Token opener = current();
        auto stmt = std::make_unique<FilterBlockStmt>(loc());
        advance();
        do
            stmt->filters.push_back(parseFilterCall(nullptr));
        while (skipOp("|"));
        expectBlockEnd();
        stmt->body = subparse({"endfilter"}, nullptr, &opener);
        expectBlockEnd();
        return stmt;
    }

    StmtPtr parseWith()
    {
        const Token opener = current();
        auto stmt = std::make_unique<WithStmt>(loc());
        advance();
        while (current().type != Tok::BlockEnd) {
            if (!stmt->assignments.empty())
                expectOp(",");
            AssignTarget target = parseAssignTarget(false);
            expectOp("=");
            stmt->assignments.emplace_back(std::move(target), parseExpression(true));
        }
        expectBlockEnd();
        stmt->body = subparse({"endwith"}, nullptr, &opener);
        expectBlockEnd();
        return stmt;
    }

    // ---- expressions ----

    bool atTupleEnd(const std::vector<std::string> &extraEnds) const
    {
        const Token &t = current();
        if (t.type == Tok::VariableEnd || t.type == Tok::BlockEnd || t.type == Tok::End)
            return true;
        if (t.type == Tok::Operator && (t.text == ")" || t.text == "]"))
            return true;
        if (t.type == Tok::Name)
            for (const auto &e : extraEnds)
                if (t.text == e)
                    return true;
        return false;
    }

    ExprPtr parseTuple(bool withConditional, const std::vector<std::string> &extraEnds, bool explicitParentheses = false)
    {
        const Location l = loc();
        std::vector<ExprPtr> items;
        bool isTuple = false;
        while (true) {
            if (!items.empty())
                expectOp(",");
            if (atTupleEnd(extraEnds))
                break;
            items.push_back(parseExpression(withConditional));
            if (isOp(","))
                isTuple = true;
            else
                break;
        }
        if (!isTuple) {
            if (!items.empty())
                return std::move(items[0]);
            if (!explicitParentheses)
                fail(current(), "expected an expression, found " + describe(current()));
        }
        auto tuple = std::make_unique<SequenceExpr>(Expr::Kind::Tuple, l);
        tuple->items = std::move(items);
        return tuple;
    }

    ExprPtr parseExpression(bool withConditional)
    {
        return withConditional ? parseConditional() : parseOr();
    }

    ExprPtr parseConditional()
    {
        ExprPtr expr = parseOr();
        while (isName("if")) {
            auto cond = std::make_unique<ConditionalExpr>(loc());
            advance();
            cond->condition = parseOr();
            cond->then = std::move(expr);
            if (skipName("else"))
                cond->otherwise = parseConditional();
            expr = std::move(cond);
        }
        return expr;
    }

    ExprPtr parseOr()
    {
        ExprPtr left = parseAnd();
        while (isName("or")) {
            const Location l = loc();
            advance();
            left = std::make_unique<BinaryExpr>(l, BinaryExpr::Op::Or, std::move(left), parseAnd());
        }
        return left;
    }

    ExprPtr parseAnd()
    {
        ExprPtr left = parseNot();
        while (isName("and")) {
            const Location l = loc();
            advance();
            left = std::make_unique<BinaryExpr>(l, BinaryExpr::Op::And, std::move(left), parseNot());
        }
        return left;
    }

    ExprPtr parseNot()
    {
        if (isName("not")) {
            const Location l = loc();
            advance();
            return std::make_unique<UnaryExpr>(l, UnaryExpr::Op::Not, parseNot());
        }
        return parseCompare();
    }

    ExprPtr parseCompare()
    {
        ExprPtr first = parseMath1();
        // a < b < c is (a < b) and (b < c); operands have no side effects, so the middle one
        // is simply parsed twice.
        std::vector<std::pair<BinaryExpr::Op, ExprPtr>> ops;
        std::vector<std::size_t> starts;
        while (true) {
            const Token &t = current();
            BinaryExpr::Op op;
            if (t.type == Tok::Operator && t.text == "==")
                op = BinaryExpr::Op::Eq;
            else if (t.type == Tok::Operator && t.text == "!=")
                op = BinaryExpr::Op::Ne;
            else if (t.type == Tok::Operator && t.text == "<")
                op = BinaryExpr::Op::Lt;
            else if (t.type == Tok::Operator && t.text == "<=")
                op = BinaryExpr::Op::Le;
            else if (t.type == Tok::Operator && t.text == ">")
                op = BinaryExpr::Op::Gt;
            else if (t.type == Tok::Operator && t.text == ">=")
                op = BinaryExpr::Op::Ge;
            else if (isName("in"))
                op = BinaryExpr::Op::In;
            else if (isName("not") && peek().type == Tok::Name && peek().text == "in") {
                advance();
                op = BinaryExpr::Op::NotIn;
            } else
                break;
            advance();
            starts.push_back(mPos);
            ops.emplace_back(op, parseMath1());
        }
        if (ops.empty())
            return first;
        const Location l = first->loc;
        ExprPtr result = std::make_unique<BinaryExpr>(l, ops[0].first, std::move(first), std::move(ops[0].second));
        for (std::size_t i = 1; i < ops.size(); ++i) {
            const std::size_t resume = mPos;
            mPos = starts[i - 1];
            ExprPtr middle = parseMath1();
            mPos = resume;
            auto next = std::make_unique<BinaryExpr>(l, ops[i].first, std::move(middle), std::move(ops[i].second));
            result = std::make_unique<BinaryExpr>(l, BinaryExpr::Op::And, std::move(result), std::move(next));
        }
        return result;
    }

    ExprPtr parseMath1()
    {
        ExprPtr left = parseConcat();
        while (isOp("+") || isOp("-")) {
            const auto op = isOp("+") ? BinaryExpr::Op::Add : BinaryExpr::Op::Sub;
            const Location l = loc();
            advance();
            left = std::make_unique<BinaryExpr>(l, op, std::move(left), parseConcat());
        }
        return left;
    }

    ExprPtr parseConcat()
    {
        ExprPtr left = parseMath2();
        while (isOp("~")) {
            const Location l = loc();
            advance();
            left = std::make_unique<BinaryExpr>(l, BinaryExpr::Op::Concat, std::move(left), parseMath2());
        }
        return left;
    }

    ExprPtr parseMath2()
    {
        ExprPtr left = parsePow();
        while (isOp("*") || isOp("/") || isOp("//") || isOp("%")) {
            const auto op = isOp("*") ? BinaryExpr::Op::Mul
                            : isOp("/") ? BinaryExpr::Op::Div
                            : isOp("//") ? BinaryExpr::Op::FloorDiv
                                         : BinaryExpr::Op::Mod;
            const Location l = loc();
            advance();
            left = std::make_unique<BinaryExpr>(l, op, std::move(left), parsePow());
        }
        return left;
    }

    ExprPtr parsePow()
    {
        ExprPtr left = parseUnary(true);
        while (isOp("**")) {
            const Location l = loc();
            advance();
            left = std::make_unique<BinaryExpr>(l, BinaryExpr::Op::Pow, std::move(left), parseUnary(true));
        }
        return left;
    }

    ExprPtr parseUnary(bool withFilter)
    {
        ExprPtr node;
        if (isOp("-") || isOp("+")) {
            const auto op = isOp("-") ? UnaryExpr::Op::Negate : UnaryExpr::Op::Plus;
            const Location l = loc();
            advance();
            node = std::make_unique<UnaryExpr>(l, op, parseUnary(false));
        } else {
            node = parsePrimary();
        }
        node = parsePostfix(std::move(node));
        if (withFilter)
            node = parseFilterExpr(std::move(node));
        return node;
    }

    ExprPtr parsePrimary()
    {
        const Token &t = current();
        const Location l = loc(t);
        switch (t.type) {
        case Tok::Name: {
            const std::string n = t.text;
            advance();
            if (n == "true" || n == "True")
                return std::make_unique<LiteralExpr>(l, Value(true));
            if (n == "false" || n == "False")
                return std::make_unique<LiteralExpr>(l, Value(false));
            if (n == "none" || n == "None")
                return std::make_unique<LiteralExpr>(l, Value::none());
            return std::make_unique<NameExpr>(l, n);
        }
        case Tok::String: {
            std::string s = t.text;
            advance();
            while (current().type == Tok::String) {
                s += current().text;
                advance();
            }
            return std::make_unique<LiteralExpr>(l, Value(std::move(s)));
        }
        case Tok::Integer: {
            const int64_t v = t.integer;
            advance();
            return std::make_unique<LiteralExpr>(l, Value(v));
        }
        case Tok::Float: {
            const double v = t.real;
            advance();
            return std::make_unique<LiteralExpr>(l, Value(v));
        }
        case Tok::Operator:
            if (t.text == "(") {
                advance();
                auto expr = parseTuple(true, {}, true);
                expectOp(")");
                return expr;
            }
            if (t.text == "[") {
                advance();
                auto list = std::make_unique<SequenceExpr>(Expr::Kind::List, l);
                while (!isOp("]")) {
                    if (!list->items.empty())
                        expectOp(",");
                    if (isOp("]"))
                        break;
                    list->items.push_back(parseExpression(true));
                }
                expectOp("]");
                return list;
            }
            if (t.text == "{") {
                advance();
                auto dict = std::make_unique<DictExpr>(l);
                while (!isOp("}")) {
                    if (!dict->items.empty())
                        expectOp(",");
                    if (isOp("}"))
                        break;
                    auto key = parseExpression(true);
                    expectOp(":");
                    dict->items.emplace_back(std::move(key), parseExpression(true));
                }
                expectOp("}");
                return dict;
            }
            break;
        default: break;
        }
        fail(t, "unexpected " + describe(t) + " in an expression");
    }

    ExprPtr parsePostfix(ExprPtr node)
    {
        while (true) {
            if (isOp(".")) {
                const Location l = loc();
                advance();
                if (current().type == Tok::Name) {
                    node = std::make_unique<AttributeExpr>(l, std::move(node), current().text);
                    advance();
                } else if (current().type == Tok::Integer) {
                    auto index = std::make_unique<LiteralExpr>(loc(), Value(current().integer));
                    advance();
                    node = std::make_unique<SubscriptExpr>(l, std::move(node), std::move(index));
                } else {
                    fail(current(), "expected an attribute name after '.', found " + describe(current()));
                }
            } else if (isOp("[")) {
                node = parseSubscript(std::move(node));
            } else if (isOp("(")) {
                node = parseCall(std::move(node));
            } else {
                return node;
            }
        }
    }

    ExprPtr parseSubscript(ExprPtr object)
    {
        const Location l = loc();
        expectOp("[");
        ExprPtr parts[3];
        int part = 0;
        bool isSlice = false;
        while (!isOp("]")) {
            if (isOp(":")) {
                isSlice = true;
                if (++part > 2)
                    fail(current(), "a slice has at most three parts");
                advance();
                continue;
            }
            if (parts[part])
                fail(current(), "expected ':' or ']', found " + describe(current()));
            parts[part] = parseExpression(true);
            if (!isSlice && isOp(","))
                fail(current(), "tuple subscripts are not supported");
        }
        expectOp("]");
        if (!isSlice) {
            if (!parts[0])
                fail(current(), "empty subscript");
            return std::make_unique<SubscriptExpr>(l, std::move(object), std::move(parts[0]));
        }
        auto slice = std::make_unique<SliceExpr>(l);
        slice->object = std::move(object);
        slice->start = std::move(parts[0]);
        slice->stop = std::move(parts[1]);
        slice->step = std::move(parts[2]);
        return slice;
    }

    void parseCallArguments(std::vector<ExprPtr> &args, std::vector<Keyword> &kwargs)
    {
        expectOp("(");
        while (!isOp(")")) {
            if (!args.empty() || !kwargs.empty())
                expectOp(",");
            if (isOp(")"))
                break;
            if (isOp("*") || isOp("**"))
                fail(current(), "'*' and '**' arguments are not supported");
            if (current().type == Tok::Name && peek().type == Tok::Operator && peek().text == "=") {
                Keyword k;
                k.name = current().text;
                advance();
                advance();
                k.value = parseExpression(true);
                kwargs.push_back(std::move(k));
            } else {
                if (!kwargs.empty())
                    fail(current(), "a positional argument follows a keyword argument");
                args.push_back(parseExpression(true));
            }
        }
        expectOp(")");
    }

    ExprPtr parseCall(ExprPtr callee)
    {
        auto call = std::make_unique<CallExpr>(loc());
        call->callee = std::move(callee);
        parseCallArguments(call->args, call->kwargs);
        return call;
    }

    std::string parseDottedName()
    {
        std::string name = expectName();
        while (isOp(".") && peek().type == Tok::Name) {
            advance();
            name += "." + expectName();
        }
        return name;
    }

    std::unique_ptr<FilterExpr> parseFilterCall(ExprPtr operand)
    {
        auto filter = std::make_unique<FilterExpr>(loc());
        filter->operand = std::move(operand);
        filter->name = parseDottedName();
        if (isOp("("))
            parseCallArguments(filter->args, filter->kwargs);
        return filter;
    }

    ExprPtr parseFilterExpr(ExprPtr node)
    {
        while (true) {
            if (isOp("|")) {
                advance();
                node = parseFilterCall(std::move(node));
            } else if (isName("is")) {
                node = parseTest(std::move(node));
            } else if (isOp("(")) {
                node = parseCall(std::move(node));
            } else {
                return node;
            }
        }
    }

    ExprPtr parseTest(ExprPtr operand)
    {
        auto test = std::make_unique<TestExpr>(loc());
        advance(); // is
        test->negated = skipName("not");
        test->loc = loc(); // errors point at the test's name
        test->operand = std::move(operand);
        test->name = parseDottedName();
        const Token &t = current();
        if (isOp("(")) {
            parseCallArguments(test->args, test->kwargs);
        } else if ((t.type == Tok::Name || t.type == Tok::String || t.type == Tok::Integer || t.type == Tok::Float
                    || (t.type == Tok::Operator && (t.text == "(" || t.text == "[" || t.text == "{")))
                   && !isName("else") && !isName("or") && !isName("and")) {
            if (isName("is"))
                fail(t, "tests cannot be chained with 'is'");
            test->args.push_back(parsePostfix(parsePrimary()));
        }
        return test;
    }

    std::vector<Token> mTokens;
    const Lexer &mLexer;
    std::size_t mPos = 0;
    int mLoopDepth = 0;
};

} // namespace

Body parseTemplate(const std::string &source, const std::string &name)
{
    const std::string normalised = normaliseSource(source);
    Lexer lexer(normalised, name);
    Parser parser(lexer.tokenize(), lexer);
    return parser.parseAll();
}

} // namespace plad::jinja
