#include "jinjabuiltins.h"

#include "common/error.h"
#include "jinjasyntax.h"
#include "jinjatemplate.h"

#include <unicode/locid.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <cfenv>
#include <cmath>
#include <limits>
#include <cstdio>
#include <ctime>
#include <unordered_map>

namespace plad::jinja {

namespace {

// ---- arguments ----

/** Binds positional and keyword arguments to parameter names, Python style. */
class Arguments
{
public:
    Arguments(std::string what, CallArguments &args, std::vector<std::string> names, bool acceptsExtra = false)
        : mWhat(std::move(what)), mNames(std::move(names)), mValues(mNames.size())
    {
        for (std::size_t i = 0; i < args.positional.size(); ++i) {
            if (i < mNames.size())
                mValues[i] = args.positional[i];
            else if (acceptsExtra)
                mExtra.push_back(args.positional[i]);
            else
                throw Error(mWhat + " takes at most " + std::to_string(mNames.size()) + " argument(s), got "
                            + std::to_string(args.positional.size()));
        }
        for (auto &[key, value] : args.keywords) {
            const auto it = std::find(mNames.begin(), mNames.end(), key);
            if (it == mNames.end()) {
                if (acceptsExtra) {
                    mExtraKeywords.emplace_back(key, value);
                    continue;
                }
                throw Error(mWhat + " got an unexpected keyword argument '" + key + "'");
            }
            auto &slot = mValues[static_cast<std::size_t>(it - mNames.begin())];
            if (slot)
                throw Error(mWhat + " got multiple values for argument '" + key + "'");
            slot = value;
        }
    }

    bool has(std::size_t i) const { return mValues[i].has_value(); }
    Value get(std::size_t i, Value fallback) const { return mValues[i] ? *mValues[i] : std::move(fallback); }
    Value required(std::size_t i) const
    {
        if (!mValues[i])
            throw Error(mWhat + " is missing the argument '" + mNames[i] + "'");
        return *mValues[i];
    }
    bool flag(std::size_t i, bool fallback) const { return mValues[i] ? mValues[i]->truthy() : fallback; }
    std::string text(std::size_t i, const std::string &fallback) const
    {
        if (!mValues[i] || mValues[i]->isNone())
            return fallback;
        return mValues[i]->str();
    }
    int64_t integer(std::size_t i, int64_t fallback) const
    {
        if (!mValues[i] || mValues[i]->isNone())
            return fallback;
        if (!mValues[i]->isInt() && !mValues[i]->isBool())
            throw Error(mWhat + ": argument '" + mNames[i] + "' must be an integer, not " + mValues[i]->typeName());
        return mValues[i]->integer();
    }
    const std::vector<Value> &extra() const { return mExtra; }
    std::vector<std::pair<std::string, Value>> &extraKeywords() { return mExtraKeywords; }

private:
    std::string mWhat;
    std::vector<std::string> mNames;
    std::vector<std::optional<Value>> mValues;
    std::vector<Value> mExtra;
    std::vector<std::pair<std::string, Value>> mExtraKeywords;
};

[[noreturn]] void typeError(const std::string &what) { throw Error(what); }

// ---- text helpers (code points, Python's definitions) ----

std::string icuUpper(const std::string &s)
{
    std::string out;
    icu::UnicodeString::fromUTF8(s).toUpper(icu::Locale::getRoot()).toUTF8String(out);
    return out;
}

std::string icuLower(const std::string &s)
{
    std::string out;
    icu::UnicodeString::fromUTF8(s).toLower(icu::Locale::getRoot()).toUTF8String(out);
    return out;
}

std::string codePointUpper(char32_t c) { return icuUpper(fromCodePoints(std::u32string(1, c))); }
std::string codePointLower(char32_t c) { return icuLower(fromCodePoints(std::u32string(1, c))); }
std::string codePointTitle(char32_t c) { return fromCodePoints(std::u32string(1, static_cast<char32_t>(u_totitle(static_cast<UChar32>(c))))); }
bool isCased(char32_t c) { return u_hasBinaryProperty(static_cast<UChar32>(c), UCHAR_CASED); }

/** Python str.title(): a cased character after an uncased one is title-cased, others lowered. */
std::string pythonTitle(const std::string &s)
{
    std::string out;
    bool previousCased = false;
    for (char32_t c : toCodePoints(s)) {
        out += previousCased ? codePointLower(c) : codePointTitle(c);
        previousCased = isCased(c);
    }
    return out;
}

/** Python str.capitalize(): the first character title-cased, the rest lowered. */
std::string pythonCapitalize(const std::string &s)
{
    const auto cps = toCodePoints(s);
    if (cps.empty())
        return {};
    return codePointTitle(cps[0]) + icuLower(fromCodePoints(cps.substr(1)));
}

/** jinja2's title filter: each piece between runs of "-", whitespace, "(", "{", "[", "<". */
std::string jinjaTitle(const std::string &s)
{
    const auto cps = toCodePoints(s);
    auto isDelimiter = [](char32_t c) { return c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || isPythonSpace(c); };
    std::string out;
    std::size_t i = 0;
    while (i < cps.size()) {
        std::size_t j = i;
        const bool delimiter = isDelimiter(cps[i]);
        while (j < cps.size() && isDelimiter(cps[j]) == delimiter)
            ++j;
        const std::u32string piece = cps.substr(i, j - i);
        if (delimiter)
            out += fromCodePoints(piece);
        else
            out += codePointUpper(piece[0]) + icuLower(fromCodePoints(piece.substr(1)));
        i = j;
    }
    return out;
}

std::string pythonStrip(const std::string &s, const std::optional<std::string> &chars, bool left, bool right)
{
    const auto cps = toCodePoints(s);
    std::u32string set;
    if (chars)
        set = toCodePoints(*chars);
    auto strip = [&](char32_t c) { return chars ? set.find(c) != std::u32string::npos : isPythonSpace(c); };
    std::size_t begin = 0, end = cps.size();
    if (left)
        while (begin < end && strip(cps[begin]))
            ++begin;
    if (right)
        while (end > begin && strip(cps[end - 1]))
            --end;
    return fromCodePoints(cps.substr(begin, end - begin));
}

Value::Array pythonSplit(const std::string &s, const std::optional<std::string> &sep, int64_t maxsplit)
{
    Value::Array parts;
    if (sep) {
        if (sep->empty())
            throw Error("str.split(): empty separator");
        std::size_t pos = 0;
        int64_t splits = 0;
        while (maxsplit < 0 || splits < maxsplit) {
            const auto found = s.find(*sep, pos);
            if (found == std::string::npos)
                break;
            parts.emplace_back(s.substr(pos, found - pos));
            pos = found + sep->size();
            ++splits;
        }
        parts.emplace_back(s.substr(pos));
        return parts;
    }
    const auto cps = toCodePoints(s);
    std::size_t i = 0;
    int64_t splits = 0;
    while (true) {
        while (i < cps.size() && isPythonSpace(cps[i]))
            ++i;
        if (i >= cps.size())
            break;
        if (maxsplit >= 0 && splits >= maxsplit) {
            std::size_t end = cps.size();
            while (end > i && isPythonSpace(cps[end - 1]))
                --end;
            parts.emplace_back(fromCodePoints(cps.substr(i, end - i)));
            break;
        }
        std::size_t j = i;
        while (j < cps.size() && !isPythonSpace(cps[j]))
            ++j;
        parts.emplace_back(fromCodePoints(cps.substr(i, j - i)));
        ++splits;
        i = j;
    }
    return parts;
}

Value::Array pythonRsplit(const std::string &s, const std::optional<std::string> &sep, int64_t maxsplit)
{
    if (maxsplit < 0)
        return pythonSplit(s, sep, -1);
    Value::Array parts;
    if (sep) {
        if (sep->empty())
            throw Error("str.rsplit(): empty separator");
        std::size_t end = s.size();
        int64_t splits = 0;
        while (splits < maxsplit) {
            if (end < sep->size())
                break;
            const auto found = s.rfind(*sep, end - sep->size());
            if (found == std::string::npos)
                break;
            parts.emplace_back(s.substr(found + sep->size(), end - found - sep->size()));
            end = found;
            ++splits;
        }
        parts.emplace_back(s.substr(0, end));
        std::reverse(parts.begin(), parts.end());
        return parts;
    }
    const auto cps = toCodePoints(s);
    std::size_t end = cps.size();
    int64_t splits = 0;
    while (true) {
        while (end > 0 && isPythonSpace(cps[end - 1]))
            --end;
        if (end == 0)
            break;
        if (splits >= maxsplit) {
            std::size_t begin = 0;
            while (begin < end && isPythonSpace(cps[begin]))
                ++begin;
            parts.emplace_back(fromCodePoints(cps.substr(begin, end - begin)));
            break;
        }
        std::size_t begin = end;
        while (begin > 0 && !isPythonSpace(cps[begin - 1]))
            --begin;
        parts.emplace_back(fromCodePoints(cps.substr(begin, end - begin)));
        ++splits;
        end = begin;
    }
    std::reverse(parts.begin(), parts.end());
    return parts;
}

Value::Array pythonSplitlines(const std::string &s, bool keepends)
{
    const auto cps = toCodePoints(s);
    Value::Array lines;
    std::size_t start = 0;
    for (std::size_t i = 0; i < cps.size(); ++i) {
        const char32_t c = cps[i];
        const bool isBreak = c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D || c == 0x1E
                             || c == 0x85 || c == 0x2028 || c == 0x2029;
        if (!isBreak)
            continue;
        std::size_t end = i + 1;
        if (c == '\r' && i + 1 < cps.size() && cps[i + 1] == '\n')
            end = i + 2;
        lines.emplace_back(fromCodePoints(cps.substr(start, (keepends ? end : i) - start)));
        start = end;
        i = end - 1;
    }
    if (start < cps.size())
        lines.emplace_back(fromCodePoints(cps.substr(start)));
    return lines;
}

std::string pythonReplace(const std::string &s, const std::string &old, const std::string &replacement, int64_t count)
{
    if (old.empty()) {
        const auto cps = toCodePoints(s);
        std::string out;
        int64_t done = 0;
        for (std::size_t i = 0; i <= cps.size(); ++i) {
            if (count < 0 || done < count) {
                out += replacement;
                ++done;
            }
            if (i < cps.size())
                out += fromCodePoints(std::u32string(1, cps[i]));
        }
        return out;
    }
    std::string out;
    std::size_t pos = 0;
    int64_t done = 0;
    while (count < 0 || done < count) {
        const auto found = s.find(old, pos);
        if (found == std::string::npos)
            break;
        out += s.substr(pos, found - pos) + replacement;
        pos = found + old.size();
        ++done;
    }
    return out + s.substr(pos);
}

int64_t codePointIndex(const std::string &s, std::size_t byteOffset)
{
    return static_cast<int64_t>(codePointLength(s.substr(0, byteOffset)));
}

std::string htmlEscape(const std::string &s)
{
    std::string out;
    for (char c : s) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&#34;"; break;
        case '\'': out += "&#39;"; break;
        default: out.push_back(c);
        }
    }
    return out;
}

std::string center(const std::string &s, int64_t width, const std::string &fill = " ")
{
    const auto length = static_cast<int64_t>(codePointLength(s));
    if (width <= length)
        return s;
    const int64_t total = width - length;
    // Python: left = total / 2 + (total & width & 1)
    const int64_t left = total / 2 + (total & width & 1);
    std::string out;
    for (int64_t i = 0; i < left; ++i)
        out += fill;
    out += s;
    for (int64_t i = 0; i < total - left; ++i)
        out += fill;
    return out;
}

// ---- numbers and comparisons ----

bool isIntLike(const Value &v) { return v.isInt() || v.isBool(); }

int compareValues(const Value &a, const Value &b, const char *op)
{
    if (a.isNumber() && b.isNumber()) {
        if (isIntLike(a) && isIntLike(b))
            return a.integer() < b.integer() ? -1 : a.integer() > b.integer() ? 1 : 0;
        const double x = a.number(), y = b.number();
        return x < y ? -1 : x > y ? 1 : 0;
    }
    if (a.isString() && b.isString())
        return a.string() < b.string() ? -1 : a.string() > b.string() ? 1 : 0;
    if (a.isArray() && b.isArray()) {
        const auto &x = a.array(), &y = b.array();
        for (std::size_t i = 0; i < std::min(x.size(), y.size()); ++i) {
            if (x[i].equals(y[i]))
                continue;
            return compareValues(x[i], y[i], op);
        }
        return x.size() < y.size() ? -1 : x.size() > y.size() ? 1 : 0;
    }
    typeError(std::string("'") + op + "' not supported between instances of '" + a.typeName() + "' and '" + b.typeName() + "'");
}

int64_t floorDiv(int64_t a, int64_t b)
{
    if (a == std::numeric_limits<int64_t>::min() && b == -1)
        throw Error("integer overflow in //");
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        --q;
    return q;
}

int64_t pythonMod(int64_t a, int64_t b)
{
    if (b == -1)
        return 0; // INT64_MIN % -1 overflows in C++; it is 0 for every a
    const int64_t r = a % b;
    return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}

double pythonFloatMod(double a, double b)
{
    double r = std::fmod(a, b);
    if (r != 0 && ((r < 0) != (b < 0)))
        r += b;
    return r;
}

std::string typePair(const char *op, const Value &a, const Value &b)
{
    return std::string("unsupported operand type(s) for ") + op + ": '" + a.typeName() + "' and '" + b.typeName() + "'";
}

/** Python's printf-style `format % args` for s, r, d, i, u, f, F, e, E, g, G, x, X, o, c and %. */
std::string percentFormat(const std::string &format, const Value &args)
{
    Value::Array positional;
    const Object *mapping = nullptr;
    if (args.isArray())
        positional = args.array();
    else if (args.isObject())
        mapping = &args.object();
    else
        positional.push_back(args);
    std::size_t next = 0;
    std::string out;
    for (std::size_t i = 0; i < format.size(); ++i) {
        if (format[i] != '%') {
            out.push_back(format[i]);
            continue;
        }
        if (++i >= format.size())
            throw Error("incomplete format");
        if (format[i] == '%') {
            out.push_back('%');
            continue;
        }
        const Value *value = nullptr;
        if (format[i] == '(') {
            const auto close = format.find(')', i);
            if (close == std::string::npos || !mapping)
                throw Error("format requires a mapping");
            value = mapping->find(format.substr(i + 1, close - i - 1));
            if (!value)
                throw Error("KeyError: '" + format.substr(i + 1, close - i - 1) + "'");
            i = close + 1;
        }
        std::string spec = "%";
        while (i < format.size() && std::string("-+ #0").find(format[i]) != std::string::npos)
            spec.push_back(format[i++]);
        while (i < format.size() && std::isdigit(static_cast<unsigned char>(format[i])))
            spec.push_back(format[i++]);
        if (i < format.size() && format[i] == '.') {
            spec.push_back(format[i++]);
            while (i < format.size() && std::isdigit(static_cast<unsigned char>(format[i])))
                spec.push_back(format[i++]);
        }
        if (i >= format.size())
            throw Error("incomplete format");
        const char conversion = format[i];
        if (!value) {
            if (next >= positional.size())
                throw Error("not enough arguments for format string");
            value = &positional[next++];
        }
        char buffer[512];
        switch (conversion) {
        case 's':
        case 'r':
        case 'a': {
            const std::string text = conversion == 's' ? value->str() : value->repr();
            std::snprintf(buffer, sizeof buffer, (spec + "s").c_str(), text.c_str());
            out += spec == "%" ? text : std::string(buffer);
            break;
        }
        case 'd':
        case 'i':
        case 'u':
        case 'x':
        case 'X':
        case 'o':
        case 'c': {
            if (!value->isNumber())
                throw Error(std::string("%") + conversion + " format: a number is required, not " + value->typeName());
            const auto n = static_cast<long long>(value->isFloat() ? std::trunc(value->number()) : value->integer());
            if (conversion == 'c') {
                out += fromCodePoints(std::u32string(1, static_cast<char32_t>(n)));
                break;
            }
            const char c = conversion == 'i' || conversion == 'u' ? 'd' : conversion;
            std::snprintf(buffer, sizeof buffer, (spec + "ll" + c).c_str(), n);
            out += buffer;
            break;
        }
        case 'f':
        case 'F':
        case 'e':
        case 'E':
        case 'g':
        case 'G': {
            if (!value->isNumber())
                throw Error(std::string("%") + conversion + " format: a real number is required, not " + value->typeName());
            std::snprintf(buffer, sizeof buffer, (spec + conversion).c_str(), value->number());
            out += buffer;
            break;
        }
        default: throw Error(std::string("unsupported format character '") + conversion + "'");
        }
    }
    if (!mapping && next < positional.size() && args.isArray())
        throw Error("not all arguments converted during string formatting");
    return out;
}

/** A format spec of str.format: [[fill]align][sign][width][.precision][type]. */
std::string applyFormatSpec(const Value &value, const std::string &spec)
{
    if (spec.empty())
        return value.str();
    std::size_t i = 0;
    std::string fill = " ";
    char align = '\0';
    const auto cps = toCodePoints(spec);
    if (cps.size() >= 2 && std::u32string(U"<>^=").find(cps[1]) != std::u32string::npos) {
        fill = fromCodePoints(std::u32string(1, cps[0]));
        align = static_cast<char>(cps[1]);
        i = fill.size() + 1;
    } else if (!spec.empty() && std::string("<>^=").find(spec[0]) != std::string::npos) {
        align = spec[0];
        i = 1;
    }
    std::string sign;
    if (i < spec.size() && (spec[i] == '+' || spec[i] == '-' || spec[i] == ' '))
        sign = spec[i++];
    if (i < spec.size() && spec[i] == '0' && !align) {
        fill = "0";
        align = '=';
        ++i;
    }
    int64_t width = 0;
    while (i < spec.size() && std::isdigit(static_cast<unsigned char>(spec[i])))
        width = width * 10 + (spec[i++] - '0');
    int precision = -1;
    if (i < spec.size() && spec[i] == '.') {
        ++i;
        precision = 0;
        while (i < spec.size() && std::isdigit(static_cast<unsigned char>(spec[i])))
            precision = precision * 10 + (spec[i++] - '0');
    }
    const char type = i < spec.size() ? spec[i++] : '\0';
    if (i != spec.size())
        throw Error("unsupported format spec '" + spec + "'");
    std::string body;
    char buffer[512];
    if (type == 'f' || type == 'F' || type == 'e' || type == 'E' || type == 'g' || type == 'G' || type == '%') {
        if (!value.isNumber())
            throw Error("format spec '" + spec + "' needs a number, not " + value.typeName());
        const double v = type == '%' ? value.number() * 100 : value.number();
        const char t = type == '%' ? 'f' : type;
        std::snprintf(buffer, sizeof buffer, ("%" + sign + "." + std::to_string(precision < 0 ? 6 : precision) + t).c_str(), v);
        body = std::string(buffer) + (type == '%' ? "%" : "");
    } else if (type == 'd' || type == 'x' || type == 'X' || type == 'o' || type == 'b') {
        if (!isIntLike(value))
            throw Error("format spec '" + spec + "' needs an integer, not " + value.typeName());
        if (type == 'b') {
            uint64_t n = static_cast<uint64_t>(std::llabs(value.integer()));
            do {
                body.insert(body.begin(), static_cast<char>('0' + (n & 1)));
                n >>= 1;
            } while (n);
            if (value.integer() < 0)
                body.insert(0, "-");
        } else {
            std::snprintf(buffer, sizeof buffer, ("%" + sign + "ll" + type).c_str(), static_cast<long long>(value.integer()));
            body = buffer;
        }
    } else if (type == 's' || type == '\0') {
        body = value.isFloat() && precision >= 0 ? [&] {
            std::snprintf(buffer, sizeof buffer, ("%." + std::to_string(precision) + "g").c_str(), value.number());
            return std::string(buffer);
        }()
                                                 : value.str();
        if (type == 's' && precision >= 0)
            body = fromCodePoints(toCodePoints(body).substr(0, static_cast<std::size_t>(precision)));
    } else {
        throw Error(std::string("unsupported format type '") + type + "'");
    }
    const auto length = static_cast<int64_t>(codePointLength(body));
    if (width <= length)
        return body;
    const int64_t pad = width - length;
    if (!align)
        align = value.isNumber() ? '>' : '<';
    std::string padding;
    auto repeat = [&](int64_t n) {
        std::string s;
        for (int64_t k = 0; k < n; ++k)
            s += fill;
        return s;
    };
    switch (align) {
    case '<': return body + repeat(pad);
    case '>': return repeat(pad) + body;
    case '^': return repeat(pad / 2) + body + repeat(pad - pad / 2);
    case '=': {
        std::size_t signEnd = !body.empty() && (body[0] == '-' || body[0] == '+' || body[0] == ' ') ? 1 : 0;
        return body.substr(0, signEnd) + repeat(pad) + body.substr(signEnd);
    }
    }
    return body;
}

/** Python str.format with automatic, numbered and named fields, !r/!s and format specs. */
std::string strFormat(const std::string &format, CallArguments &args)
{
    std::string out;
    std::size_t automatic = 0;
    for (std::size_t i = 0; i < format.size(); ++i) {
        const char c = format[i];
        if (c == '}') {
            if (i + 1 < format.size() && format[i + 1] == '}') {
                out.push_back('}');
                ++i;
                continue;
            }
            throw Error("single '}' encountered in format string");
        }
        if (c != '{') {
            out.push_back(c);
            continue;
        }
        if (i + 1 < format.size() && format[i + 1] == '{') {
            out.push_back('{');
            ++i;
            continue;
        }
        const auto close = format.find('}', i);
        if (close == std::string::npos)
            throw Error("single '{' encountered in format string");
        std::string field = format.substr(i + 1, close - i - 1);
        i = close;
        std::string spec;
        char conversion = '\0';
        if (const auto colon = field.find(':'); colon != std::string::npos) {
            spec = field.substr(colon + 1);
            field.resize(colon);
        }
        if (const auto bang = field.find('!'); bang != std::string::npos) {
            conversion = bang + 1 < field.size() ? field[bang + 1] : '\0';
            field.resize(bang);
        }
        Value value;
        if (field.empty()) {
            if (automatic >= args.positional.size())
                throw Error("Replacement index " + std::to_string(automatic) + " out of range for positional args tuple");
            value = args.positional[automatic++];
        } else if (std::all_of(field.begin(), field.end(), [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)); })) {
            const auto index = std::stoul(field);
            if (index >= args.positional.size())
                throw Error("Replacement index " + field + " out of range for positional args tuple");
            value = args.positional[index];
        } else {
            bool found = false;
            for (const auto &[k, v] : args.keywords)
                if (k == field) {
                    value = v;
                    found = true;
                }
            if (!found)
                throw Error("KeyError: '" + field + "'");
        }
        if (conversion == 'r')
            value = Value(value.repr());
        else if (conversion == 's')
            value = Value(value.str());
        out += applyFormatSpec(value, spec);
    }
    return out;
}

// ---- attributes and methods ----

Value method(std::string name, std::function<Value(CallArguments &)> call)
{
    return Value(Function{std::move(name), std::move(call)});
}

Value forbiddenMethod(const std::string &type, const std::string &name)
{
    return method(type + "." + name, [type, name](CallArguments &) -> Value {
        throw Error(type + "." + name + "() is not allowed: chat templates cannot change lists and dicts "
                    "(transformers renders them in an immutable sandbox); build a new value or use namespace()");
    });
}

std::optional<std::string> optionalText(const Arguments &a, std::size_t i)
{
    if (!a.has(i) || a.get(i, Value::none()).isNone())
        return std::nullopt;
    const Value v = a.get(i, Value::none());
    if (!v.isString())
        throw Error("expected a str argument, not " + v.typeName());
    return v.string();
}

bool prefixMatches(const std::string &s, const Value &prefix, bool atEnd, const std::string &what)
{
    auto one = [&](const Value &p) {
        if (!p.isString())
            throw Error(what + " argument must be str or a tuple of str, not " + p.typeName());
        const std::string &t = p.string();
        if (t.size() > s.size())
            return false;
        return atEnd ? s.compare(s.size() - t.size(), t.size(), t) == 0 : s.compare(0, t.size(), t) == 0;
    };
    if (prefix.isArray()) {
        for (const auto &p : prefix.array())
            if (one(p))
                return true;
        return false;
    }
    return one(prefix);
}

template<typename Predicate>
bool allCodePoints(const std::string &s, Predicate p)
{
    const auto cps = toCodePoints(s);
    return !cps.empty() && std::all_of(cps.begin(), cps.end(), p);
}

std::optional<Value> stringMethod(const std::string &s, const std::string &name)
{
    const std::string what = "str." + name + "()";
    if (name == "strip" || name == "lstrip" || name == "rstrip")
        return method(what, [s, name, what](CallArguments &args) {
            Arguments a(what, args, {"chars"});
            return Value(pythonStrip(s, optionalText(a, 0), name != "rstrip", name != "lstrip"));
        });
    if (name == "split" || name == "rsplit")
        return method(what, [s, name, what](CallArguments &args) {
            Arguments a(what, args, {"sep", "maxsplit"});
            const auto sep = optionalText(a, 0);
            const int64_t maxsplit = a.integer(1, -1);
            return Value(name == "split" ? pythonSplit(s, sep, maxsplit) : pythonRsplit(s, sep, maxsplit));
        });
    if (name == "splitlines")
        return method(what, [s, what](CallArguments &args) {
            Arguments a(what, args, {"keepends"});
            return Value(pythonSplitlines(s, a.flag(0, false)));
        });
    if (name == "startswith" || name == "endswith")
        return method(what, [s, name, what](CallArguments &args) {
            Arguments a(what, args, {"prefix"});
            return Value(prefixMatches(s, a.required(0), name == "endswith", what));
        });
    if (name == "replace")
        return method(what, [s, what](CallArguments &args) {
            Arguments a(what, args, {"old", "new", "count"});
            return Value(pythonReplace(s, a.required(0).str(), a.required(1).str(), a.integer(2, -1)));
        });
    if (name == "upper")
        return method(what, [s](CallArguments &) { return Value(icuUpper(s)); });
    if (name == "lower" || name == "casefold")
        return method(what, [s](CallArguments &) { return Value(icuLower(s)); });
    if (name == "title")
        return method(what, [s](CallArguments &) { return Value(pythonTitle(s)); });
    if (name == "capitalize")
        return method(what, [s](CallArguments &) { return Value(pythonCapitalize(s)); });
    if (name == "find" || name == "rfind" || name == "index" || name == "rindex" || name == "count")
        return method(what, [s, name, what](CallArguments &args) {
            Arguments a(what, args, {"sub"});
            const Value sub = a.required(0);
            if (!sub.isString())
                throw Error(what + " argument must be str, not " + sub.typeName());
            if (name == "count") {
                if (sub.string().empty())
                    return Value(static_cast<int64_t>(codePointLength(s) + 1));
                int64_t n = 0;
                for (auto pos = s.find(sub.string()); pos != std::string::npos; pos = s.find(sub.string(), pos + sub.string().size()))
                    ++n;
                return Value(n);
            }
            const auto pos = name[0] == 'r' ? s.rfind(sub.string()) : s.find(sub.string());
            if (pos == std::string::npos) {
                if (name == "index" || name == "rindex")
                    throw Error("substring not found");
                return Value(int64_t{-1});
            }
            return Value(codePointIndex(s, pos));
        });
    if (name == "join")
        return method(what, [s, what](CallArguments &args) {
            Arguments a(what, args, {"iterable"});
            std::string out;
            bool first = true;
            for (const auto &item : iterate(a.required(0))) {
                if (!item.isString())
                    throw Error(what + ": expected str items, found " + item.typeName());
                if (!first)
                    out += s;
                first = false;
                out += item.string();
            }
            return Value(out);
        });
    if (name == "format")
        return method(what, [s](CallArguments &args) { return Value(strFormat(s, args)); });
    if (name == "isdigit" || name == "isdecimal" || name == "isnumeric")
        return method(what, [s](CallArguments &) {
            return Value(allCodePoints(s, [](char32_t c) { return u_isdigit(static_cast<UChar32>(c)) != 0; }));
        });
    if (name == "isalpha")
        return method(what, [s](CallArguments &) {
            return Value(allCodePoints(s, [](char32_t c) { return u_isalpha(static_cast<UChar32>(c)) != 0; }));
        });
    if (name == "isalnum")
        return method(what, [s](CallArguments &) {
            return Value(allCodePoints(s, [](char32_t c) { return u_isalnum(static_cast<UChar32>(c)) != 0; }));
        });
    if (name == "isspace")
        return method(what, [s](CallArguments &) { return Value(allCodePoints(s, isPythonSpace)); });
    if (name == "isupper" || name == "islower")
        return method(what, [s, name](CallArguments &) {
            bool anyCased = false;
            for (char32_t c : toCodePoints(s)) {
                const auto u = static_cast<UChar32>(c);
                if (name == "isupper" ? u_isULowercase(u) : u_isUUppercase(u))
                    return Value(false);
                anyCased = anyCased || isCased(c);
            }
            return Value(anyCased);
        });
    if (name == "zfill")
        return method(what, [s, what](CallArguments &args) {
            Arguments a(what, args, {"width"});
            const int64_t width = a.integer(0, 0);
            const auto length = static_cast<int64_t>(codePointLength(s));
            if (width <= length)
                return Value(s);
            const std::size_t signEnd = !s.empty() && (s[0] == '-' || s[0] == '+') ? 1 : 0;
            return Value(s.substr(0, signEnd) + std::string(static_cast<std::size_t>(width - length), '0') + s.substr(signEnd));
        });
    if (name == "center" || name == "ljust" || name == "rjust")
        return method(what, [s, name, what](CallArguments &args) {
            Arguments a(what, args, {"width", "fillchar"});
            const int64_t width = a.integer(0, 0);
            const std::string fill = a.text(1, " ");
            const auto length = static_cast<int64_t>(codePointLength(s));
            if (width <= length)
                return Value(s);
            std::string padding;
            for (int64_t i = 0; i < width - length; ++i)
                padding += fill;
            if (name == "ljust")
                return Value(s + padding);
            if (name == "rjust")
                return Value(padding + s);
            return Value(center(s, width, fill));
        });
    if (name == "removeprefix" || name == "removesuffix")
        return method(what, [s, name, what](CallArguments &args) {
            Arguments a(what, args, {"affix"});
            const std::string affix = a.required(0).str();
            if (name == "removeprefix" && s.compare(0, affix.size(), affix) == 0)
                return Value(s.substr(affix.size()));
            if (name == "removesuffix" && affix.size() <= s.size() && s.compare(s.size() - affix.size(), affix.size(), affix) == 0)
                return Value(s.substr(0, s.size() - affix.size()));
            return Value(s);
        });
    if (name == "partition" || name == "rpartition")
        return method(what, [s, name, what](CallArguments &args) {
            Arguments a(what, args, {"sep"});
            const std::string sep = a.required(0).str();
            const auto pos = name == "partition" ? s.find(sep) : s.rfind(sep);
            if (pos == std::string::npos)
                return name == "partition" ? Value::tuple({Value(s), Value(""), Value("")})
                                           : Value::tuple({Value(""), Value(""), Value(s)});
            return Value::tuple({Value(s.substr(0, pos)), Value(sep), Value(s.substr(pos + sep.size()))});
        });
    return std::nullopt;
}

Value::Array itemPairs(const Object &object)
{
    Value::Array items;
    for (const auto &[k, v] : object.entries())
        items.push_back(Value::tuple({Value(k), v}));
    return items;
}

std::optional<Value> dictMethod(const Value &dict, const std::string &name)
{
    const std::string what = "dict." + name + "()";
    if (name == "items")
        return method(what, [dict](CallArguments &) { return Value::view(itemPairs(dict.object()), "dict_items", true); });
    if (name == "keys")
        return method(what, [dict](CallArguments &) {
            Value::Array keys;
            for (const auto &[k, v] : dict.object().entries())
                keys.emplace_back(k);
            return Value::view(std::move(keys), "dict_keys", true);
        });
    if (name == "values")
        return method(what, [dict](CallArguments &) {
            Value::Array values;
            for (const auto &[k, v] : dict.object().entries())
                values.push_back(v);
            return Value::view(std::move(values), "dict_values", true);
        });
    if (name == "get")
        return method(what, [dict, what](CallArguments &args) {
            Arguments a(what, args, {"key", "default"});
            const Value key = a.required(0);
            if (key.isString())
                if (const Value *v = dict.object().find(key.string()))
                    return *v;
            return a.get(1, Value::none());
        });
    if (name == "copy")
        return method(what, [dict](CallArguments &) { return Value(Object(dict.object())); });
    if (name == "update" || name == "pop" || name == "popitem" || name == "setdefault" || name == "clear")
        return forbiddenMethod("dict", name);
    return std::nullopt;
}

std::optional<Value> listMethod(const Value &list, const std::string &name)
{
    const std::string what = "list." + name + "()";
    if (name == "count")
        return method(what, [list, what](CallArguments &args) {
            Arguments a(what, args, {"value"});
            const Value v = a.required(0);
            return Value(static_cast<int64_t>(std::count_if(list.array().begin(), list.array().end(),
                                                            [&](const Value &x) { return x.equals(v); })));
        });
    if (name == "index")
        return method(what, [list, what](CallArguments &args) {
            Arguments a(what, args, {"value"});
            const Value v = a.required(0);
            for (std::size_t i = 0; i < list.array().size(); ++i)
                if (list.array()[i].equals(v))
                    return Value(static_cast<int64_t>(i));
            throw Error(v.repr() + " is not in list");
        });
    if (name == "append" || name == "extend" || name == "insert" || name == "pop" || name == "remove" || name == "sort"
        || name == "reverse" || name == "clear")
        return forbiddenMethod("list", name);
    return std::nullopt;
}

std::string describeForLookup(const Value &v)
{
    if (v.isObject())
        return "dict object";
    if (v.isArray())
        return "list object";
    if (v.isString())
        return "str object";
    if (v.isNone())
        return "None";
    return v.typeName() + " object";
}

// ---- sequences ----

int64_t normaliseIndex(int64_t index, std::size_t size)
{
    return index < 0 ? index + static_cast<int64_t>(size) : index;
}

/** A callable attribute getter as jinja2's make_attrgetter: dotted paths, integer parts. */
Value attributePath(const Value &item, const std::string &path)
{
    Value current = item;
    std::size_t start = 0;
    while (true) {
        const auto dot = path.find('.', start);
        const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        if (current.isUndefined())
            throw Error(current.undefinedHint().empty() ? "undefined value in attribute path '" + path + "'" : current.undefinedHint());
        const bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
        current = numeric ? getItem(current, Value(static_cast<int64_t>(std::stoll(part)))) : getItem(current, Value(part));
        if (dot == std::string::npos)
            return current;
        start = dot + 1;
    }
}

Value lowerForSort(const Value &v, bool caseSensitive)
{
    return !caseSensitive && v.isString() ? Value(icuLower(v.string())) : v;
}

// ---- filters ----

using FilterFn = Value (*)(Evaluator &, const Value &, CallArguments &);

Value fLength(Evaluator &, const Value &v, CallArguments &args)
{
    Arguments a("length", args, {});
    switch (v.kind()) {
    case Value::Kind::String: return Value(static_cast<int64_t>(codePointLength(v.string())));
    case Value::Kind::Array: return Value(static_cast<int64_t>(v.array().size()));
    case Value::Kind::Object: return Value(static_cast<int64_t>(v.object().size()));
    case Value::Kind::Undefined: return Value(int64_t{0});
    default: typeError("object of type '" + v.typeName() + "' has no len()");
    }
}

Value fList(Evaluator &, const Value &v, CallArguments &args)
{
    Arguments a("list", args, {});
    return Value(iterate(v));
}

Value fString(Evaluator &, const Value &v, CallArguments &args)
{
    Arguments a("string", args, {});
    return Value(v.str());
}

Value fTrim(Evaluator &, const Value &v, CallArguments &args)
{
    Arguments a("trim", args, {"chars"});
    return Value(pythonStrip(v.str(), optionalText(a, 0), true, true));
}

Value fUpper(Evaluator &, const Value &v, CallArguments &args)
{
    Arguments a("upper", args, {});
    return Value(icuUpper(v.str()));
}

Value fLower(Evaluator &, const Value &v, CallArguments &args)
{
    Arguments a("lower", args, {});
    return Value(icuLower(v.str()));
}

Value fTitle(Evaluator &, const Value &v, CallArguments &args)
{
    Arguments a("title", args, {});
    return Value(jinjaTitle(v.str()));
}

Value fCapitalize(Evaluator &, const Value &v, CallArguments &args)
{
    Arguments a("capitalize", args, {});
    return Value(pythonCapitalize(v.str()));
}

Value fReplace(Evaluator &, const Value &v, CallArguments &args)
{
    Arguments a("replace", args, {"old", "new", "count"});
    return Value(pythonReplace(v.str(), a.required(0).str(), a.required(1).str(), a.integer(2, -1)));
}

Value fSafe(Evaluator &, const Value &v, CallArguments &args)
{
    Arguments a("safe", args, {});
    return v.isString() ? v : Value(v.str());
}

Value fEscape(Evaluator &, const Value &v, CallArguments &args)
{
    Arguments a("escape", args, {});
    return Value(htmlEscape(v.str()));
}

Value fDefault(Evaluator &, const Value &v, CallArguments &args)
{
    Arguments a("default", args, {"default_value", "boolean"});
    const bool boolean = a.flag(1, false);
    if (v.isUndefined() || (boolean && !v.truthy()))
        return a.get(0, Value(""));
    return v;
}

Value fFirst(Evaluator &, const Value &v, CallArguments &args)
{
    Arguments a("first", args, {});
    const auto items = iterate(v);
    return items.empty() ? Value::undefined("no first item, the sequence was empty") : items.front();
}

Value fLast(Evaluator &, const Value &v, CallArguments &args)
{
    Arguments a("last", args, {});
    const auto items = iterate(v);
    return items.empty() ? Value::undefined("no last item, the sequence was empty") : items.back();
}

Value fJoin(Evaluator &, const Value &v, CallArguments &args)
{
    Arguments a("join", args, {"d", "attribute"});
    const std::string separator = a.text(0, "");
    const bool byAttribute = a.has(1) && !a.get(1, Value::none()).isNone();
    const std::string attribute = a.text(1, "");
    std::string out;
    bool first = true;
    for (const auto &item : iterate(v)) {
        if (!first)
            out += separator;
        first = false;
        out += (byAttribute ? attributePath(item, attribute) : item).str();
    }
    return Value(out);
}

Value fToJson(Evaluator &, const Value &v, CallArguments &args)
{
    // transformers' tojson: json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)
    Arguments a("tojson", args, {"ensure_ascii", "indent", "separators", "sort_keys"});
    JsonDumpOptions options;
    options.ensureAscii = a.flag(0, false);
    if (a.has(1)) {
        const Value indent = a.get(1, Value::none());
        if (indent.isString())
            options.indentText = indent.string();
        else if (isIntLike(indent))
            options.indent = static_cast<int>(std::max<int64_t>(0, indent.integer()));
        else if (!indent.isNone())
            throw Error("tojson: indent must be an integer or a string, not " + indent.typeName());
    }
    if (a.has(2) && !a.get(2, Value::none()).isNone()) {
        const Value separators = a.get(2, Value::none());
        if (!separators.isArray() || separators.array().size() != 2 || !separators.array()[0].isString()
            || !separators.array()[1].isString())
            throw Error("tojson: separators must be a pair of strings");
        options.itemSeparator = separators.array()[0].string();
        options.keySeparator = separators.array()[1].string();
        options.separatorsGiven = true;
    }
    options.sortKeys = a.flag(3, false);
    return Value(pythonJsonDumps(v, options));
}

Value fItems(Evaluator &, const Value &v, CallArguments &args)
{
    Arguments a("items", args, {});
    if (v.isUndefined())
        return Value(Value::Array{});
    if (!v.isObject())
        typeError("items: expected a dict, got " + v.typeName());
    return Value(itemPairs(v.object()));
}

Value fDictsort(Evaluator &, const Value &v, CallArguments &args)
{
    Arguments a("dictsort", args, {"case_sensitive", "by", "reverse"});
    if (!v.isObject())
        typeError("dictsort: expected a dict, got " + v.typeName());
    const bool caseSensitive = a.flag(0, false);
    const std::string by = a.text(1, "key");
    if (by != "key" && by != "value")
        throw Error("dictsort: 'by' must be 'key' or 'value'");
    const bool reverse = a.flag(2, false);
    Value::Array items = itemPairs(v.object());
    const std::size_t pos = by == "key" ? 0 : 1;
    std::stable_sort(items.begin(), items.end(), [&](const Value &x, const Value &y) {
        const int c = compareValues(lowerForSort(x.array()[pos], caseSensitive), lowerForSort(y.array()[pos], caseSensitive), "<");
        return reverse ? c > 0 : c < 0;
    });
    return Value(std::move(items));
}

Value selectOrReject(Evaluator &ev, const Value &v, CallArguments &args, bool byAttribute, bool select, const char *what)
{
    Value::Array rest = args.positional;
    std::optional<std::string> attribute;
    if (byAttribute) {
        if (rest.empty())
            throw Error(std::string(what) + " needs the attribute to look at");
        attribute = rest.front().str();
        rest.erase(rest.begin());
    }
    std::optional<std::string> test;
    if (!rest.empty()) {
        test = rest.front().str();
        rest.erase(rest.begin());
    }
    Value::Array kept;
    for (const auto &item : iterate(v)) {
        const Value subject = attribute ? attributePath(item, *attribute) : item;
        bool result;
        if (test) {
            CallArguments testArgs{rest, args.keywords};
            result = ev.applyTest(*test, subject, testArgs);
        } else {
            result = subject.truthy();
        }
        if (result == select)
            kept.push_back(item);
    }
    return Value(std::move(kept));
}

Value fSelect(Evaluator &ev, const Value &v, CallArguments &args) { return selectOrReject(ev, v, args, false, true, "select"); }
Value fReject(Evaluator &ev, const Value &v, CallArguments &args) { return selectOrReject(ev, v, args, false, false, "reject"); }
Value fSelectattr(Evaluator &ev, const Value &v, CallArguments &args) { return selectOrReject(ev, v, args, true, true, "selectattr"); }
Value fRejectattr(Evaluator &ev, const Value &v, CallArguments &args) { return selectOrReject(ev, v, args, true, false, "rejectattr"); }

Value fMap(Evaluator &ev, const Value &v, CallArguments &args)
{
    std::optional<std::string> attribute;
    std::optional<Value> fallback;
    std::vector<std::pair<std::string, Value>> keywords;
    for (auto &[k, value] : args.keywords) {
        if (k == "attribute")
            attribute = value.str();
        else if (k == "default")
            fallback = value;
        else
            keywords.emplace_back(k, value);
    }
    Value::Array out;
    if (attribute) {
        if (!args.positional.empty() || !keywords.empty())
            throw Error("map(attribute=...) takes no other arguments than default");
        for (const auto &item : iterate(v)) {
            Value mapped = attributePath(item, *attribute);
            if (mapped.isUndefined() && fallback)
                mapped = *fallback;
            out.push_back(std::move(mapped));
        }
        return Value(std::move(out));
    }
    if (args.positional.empty())
        throw Error("map needs a filter name or attribute=...");
    const std::string filter = args.positional.front().str();
    const Value::Array rest(args.positional.begin() + 1, args.positional.end());
    for (const auto &item : iterate(v)) {
        CallArguments filterArgs{rest, keywords};
        out.push_back(ev.applyFilter(filter, item, filterArgs));
    }
    return Value(std::move(out));
}

Value fAttr(Evaluator &, const Value &v, CallArguments &args)
{
    Arguments a("attr", args, {"name"});
    const std::string name = a.required(0).str();
    // getattr only: a dict's keys are not its attributes
    if (v.isObject()) {
        if (auto m = dictMethod(v, name))
            return *m;
        return Value::undefined("'dict object' has no attribute '" + name + "'");
    }
    return getAttribute(v, name);
}

Value::Array sortedItems(const Value &v, bool reverse, bool caseSensitive, const std::optional<std::string> &attribute)
{
    Value::Array items = iterate(v);
    std::stable_sort(items.begin(), items.end(), [&](const Value &x, const Value &y) {
        const Value kx = lowerForSort(attribute ? attributePath(x, *attribute) : x, caseSensitive);
        const Value ky = lowerForSort(attribute ? attributePath(y, *attribute) : y, caseSensitive);
        const int c = compareValues(kx, ky, "<");
        return reverse ? c > 0 : c < 0;
    });
    return items;
}

std::optional<std::string> attributeArgument(const Arguments &a, std::size_t i)
{
    if (!a.has(i) || a.get(i, Value::none()).isNone())
        return std::nullopt;
    return a.get(i, Value::none()).str();
}

Value fSort(Evaluator &, const Value &v, CallArguments &args)
{
    Arguments a("sort", args, {"reverse", "case_sensitive", "attribute"});
    return Value(sortedItems(v, a.flag(0, false), a.flag(1, false), attributeArgument(a, 2)));
}

Value fUnique(Evaluator &, const Value &v, CallArguments &args)
{
    Arguments a("unique", args, {"case_sensitive", "attribute"});
    const bool caseSensitive = a.flag(0, false);
    const auto attribute = attributeArgument(a, 1);
    Value::Array seen, out;
    for (const auto &item : iterate(v)) {
        const Value key = lowerForSort(attribute ? attributePath(item, *attribute) : item, caseSensitive);
        if (std::none_of(seen.begin(), seen.end(), [&](const Value &s) { return s.equals(key); })) {
            seen.push_back(key);
            out.push_back(item);
        }
    }
    return Value(std::move(out));
}

Value minOrMax(const Value &v, CallArguments &args, bool max, const char *what)
{
    Arguments a(what, args, {"case_sensitive", "attribute"});
    const auto items = sortedItems(v, false, a.flag(0, false), attributeArgument(a, 1));
    if (items.empty())
        return Value::undefined(std::string("no ") + what + " item, the sequence was empty");
    return max ? items.back() : items.front();
}

Value fMin(Evaluator &, const Value &v, CallArguments &args) { return minOrMax(v, args, false, "min"); }
Value fMax(Evaluator &, const Value &v, CallArguments &args) { return minOrMax(v, args, true, "max"); }

Value fSum(Evaluator &, const Value &v, CallArguments &args)
{
    Arguments a("sum", args, {"attribute", "start"});
    const auto attribute = attributeArgument(a, 0);
    Value total = a.get(1, Value(int64_t{0}));
    for (const auto &item : iterate(v))
        total = binaryOperation(static_cast<int>(BinaryExpr::Op::Add), total, attribute ? attributePath(item, *attribute) : item);
    return total;
}

Value fReverse(Evaluator &, const Value &v, CallArguments &args)
{
    Arguments a("reverse", args, {});
    if (v.isString()) {
        auto cps = toCodePoints(v.string());
        std::reverse(cps.begin(), cps.end());
        return Value(fromCodePoints(cps));
    }
    auto items = iterate(v);
    std::reverse(items.begin(), items.end());
    return Value(std::move(items));
}

std::optional<int64_t> parseInteger(std::string text, int base)
{
    text = pythonStrip(text, std::nullopt, true, true);
    text.erase(std::remove(text.begin(), text.end(), '_'), text.end());
    if (text.empty())
        return std::nullopt;
    try {
        std::size_t used = 0;
        const long long v = std::stoll(text, &used, base);
        if (used != text.size())
            return std::nullopt;
        return v;
    } catch (const std::exception &) {
        return std::nullopt;
    }
}

std::optional<double> parseFloat(std::string text)
{
    text = pythonStrip(text, std::nullopt, true, true);
    if (text.empty())
        return std::nullopt;
    try {
        std::size_t used = 0;
        const double v = std::stod(text, &used);
        if (used != text.size())
            return std::nullopt;
        return v;
    } catch (const std::exception &) {
        return std::nullopt;
    }
}

Value fInt(Evaluator &, const Value &v, CallArguments &args)
{
    Arguments a("int", args, {"default", "base"});
    const Value fallback = a.get(0, Value(int64_t{0}));
    if (isIntLike(v))
        return Value(v.integer());
    if (v.isFloat())
        return std::isfinite(v.number()) ? Value(static_cast<int64_t>(std::trunc(v.number()))) : fallback;
    if (v.isString()) {
        if (auto i = parseInteger(v.string(), static_cast<int>(a.integer(1, 10))))
            return Value(*i);
        if (auto d = parseFloat(v.string()); d && std::isfinite(*d))
            return Value(static_cast<int64_t>(std::trunc(*d)));
    }
    return fallback;
}

Value fFloat(Evaluator &, const Value &v, CallArguments &args)
{
    Arguments a("float", args, {"default"});
    if (v.isNumber())
        return Value(v.number());
    if (v.isString())
        if (auto d = parseFloat(v.string()))
            return Value(*d);
    return a.get(0, Value(0.0));
}

Value fAbs(Evaluator &, const Value &v, CallArguments &args)
{
    Arguments a("abs", args, {});
    if (isIntLike(v))
        return Value(static_cast<int64_t>(std::llabs(v.integer())));
    if (v.isFloat())
        return Value(std::fabs(v.number()));
    typeError("bad operand type for abs(): '" + v.typeName() + "'");
}

Value fRound(Evaluator &, const Value &v, CallArguments &args)
{
    Arguments a("round", args, {"precision", "method"});
    const int64_t precision = a.integer(0, 0);
    const std::string methodName = a.text(1, "common");
    if (!v.isNumber())
        typeError("round: expected a number, got " + v.typeName());
    const double scale = std::pow(10.0, static_cast<double>(precision));
    const double x = v.number() * scale;
    double r;
    if (methodName == "common") {
        if (isIntLike(v) && precision >= 0)
            return Value(v.integer()) ; // round(int, n) is the int itself in Python
        const int saved = std::fegetround();
        std::fesetround(FE_TONEAREST);
        r = std::nearbyint(x); // Python's round: halves to even
        std::fesetround(saved);
    } else if (methodName == "ceil") {
        r = std::ceil(x);
    } else if (methodName == "floor") {
        r = std::floor(x);
    } else {
        throw Error("round: method must be 'common', 'ceil' or 'floor'");
    }
    return Value(r / scale);
}

Value fIndent(Evaluator &, const Value &v, CallArguments &args)
{
    Arguments a("indent", args, {"width", "first", "blank"});
    const Value width = a.get(0, Value(int64_t{4}));
    const std::string indentation
        = width.isString() ? width.string() : std::string(static_cast<std::size_t>(std::max<int64_t>(0, width.integer())), ' ');
    const bool first = a.flag(1, false);
    const bool blank = a.flag(2, false);
    const std::string s = v.str() + "\n";
    const auto lines = pythonSplitlines(s, false);
    std::string out;
    if (blank) {
        for (std::size_t i = 0; i < lines.size(); ++i)
            out += (i ? "\n" + indentation : std::string()) + lines[i].string();
    } else {
        out = lines.empty() ? std::string() : lines[0].string();
        for (std::size_t i = 1; i < lines.size(); ++i)
            out += "\n" + (lines[i].string().empty() ? std::string() : indentation) + lines[i].string();
    }
    if (first)
        out = indentation + out;
    return Value(out);
}

Value fCenter(Evaluator &, const Value &v, CallArguments &args)
{
    Arguments a("center", args, {"width"});
    return Value(center(v.str(), a.integer(0, 80)));
}

Value fWordcount(Evaluator &, const Value &v, CallArguments &args)
{
    Arguments a("wordcount", args, {});
    int64_t words = 0;
    bool inWord = false;
    for (char32_t c : toCodePoints(v.str())) {
        const bool word = c == '_' || u_isalnum(static_cast<UChar32>(c));
        if (word && !inWord)
            ++words;
        inWord = word;
    }
    return Value(words);
}

Value fFormat(Evaluator &, const Value &v, CallArguments &args)
{
    if (!args.keywords.empty() && !args.positional.empty())
        throw Error("format: give positional or keyword arguments, not both");
    if (!args.keywords.empty()) {
        Object mapping;
        for (const auto &[k, value] : args.keywords)
            mapping.set(k, value);
        return Value(percentFormat(v.str(), Value(std::move(mapping))));
    }
    return Value(percentFormat(v.str(), Value(args.positional)));
}

Value fTruncate(Evaluator &, const Value &v, CallArguments &args)
{
    Arguments a("truncate", args, {"length", "killwords", "end", "leeway"});
    const int64_t length = a.integer(0, 255);
    const bool killwords = a.flag(1, false);
    const std::string end = a.text(2, "...");
    const int64_t leeway = a.integer(3, 5);
    const auto cps = toCodePoints(v.str());
    if (static_cast<int64_t>(cps.size()) <= length + leeway)
        return Value(v.str());
    const auto keep = static_cast<std::size_t>(std::max<int64_t>(0, length - static_cast<int64_t>(codePointLength(end))));
    std::string head = fromCodePoints(cps.substr(0, keep));
    if (killwords)
        return Value(head + end);
    const auto space = head.rfind(' ');
    if (space != std::string::npos)
        head.resize(space);
    return Value(head + end);
}

Value fBatch(Evaluator &, const Value &v, CallArguments &args)
{
    Arguments a("batch", args, {"linecount", "fill_with"});
    const int64_t count = a.integer(0, 0);
    if (count <= 0)
        throw Error("batch: linecount must be positive");
    const bool fill = a.has(1) && !a.get(1, Value::none()).isNone();
    Value::Array out, current;
    for (const auto &item : iterate(v)) {
        current.push_back(item);
        if (static_cast<int64_t>(current.size()) == count) {
            out.emplace_back(std::move(current));
            current.clear();
        }
    }
    if (!current.empty()) {
        while (fill && static_cast<int64_t>(current.size()) < count)
            current.push_back(a.get(1, Value::none()));
        out.emplace_back(std::move(current));
    }
    return Value(std::move(out));
}

const std::unordered_map<std::string, FilterFn> &filters()
{
    static const std::unordered_map<std::string, FilterFn> table = {
        {"abs", fAbs}, {"attr", fAttr}, {"batch", fBatch}, {"capitalize", fCapitalize}, {"center", fCenter},
        {"count", fLength}, {"d", fDefault}, {"default", fDefault}, {"dictsort", fDictsort}, {"e", fEscape},
        {"escape", fEscape}, {"first", fFirst}, {"float", fFloat}, {"forceescape", fEscape}, {"format", fFormat},
        {"indent", fIndent}, {"int", fInt}, {"items", fItems}, {"join", fJoin}, {"last", fLast}, {"length", fLength},
        {"list", fList}, {"lower", fLower}, {"map", fMap}, {"max", fMax}, {"min", fMin}, {"reject", fReject},
        {"rejectattr", fRejectattr}, {"replace", fReplace}, {"reverse", fReverse}, {"round", fRound}, {"safe", fSafe},
        {"select", fSelect}, {"selectattr", fSelectattr}, {"sort", fSort}, {"string", fString}, {"sum", fSum},
        {"title", fTitle}, {"tojson", fToJson}, {"trim", fTrim}, {"truncate", fTruncate}, {"unique", fUnique},
        {"upper", fUpper}, {"wordcount", fWordcount},
    };
    return table;
}

// ---- tests ----

bool testNumberArgument(const Arguments &a, std::size_t i, const Value &v, const char *name)
{
    if (!v.isNumber())
        typeError(std::string("the '") + name + "' test needs a number, got " + v.typeName());
    return a.required(i).isNumber();
}

} // namespace

// ---- public operations ----

Value getAttribute(const Value &object, const std::string &name)
{
    switch (object.kind()) {
    case Value::Kind::Undefined:
        throw Error(object.undefinedHint().empty() ? "undefined value has no attribute '" + name + "'" : object.undefinedHint());
    case Value::Kind::String:
        if (auto m = stringMethod(object.string(), name))
            return *m;
        break;
    case Value::Kind::Object:
        if (auto m = dictMethod(object, name))
            return *m;
        if (const Value *v = object.object().find(name))
            return *v;
        break;
    case Value::Kind::Namespace:
        if (const Value *v = object.object().find(name))
            return *v;
        break;
    case Value::Kind::Array:
        if (auto m = listMethod(object, name))
            return *m;
        break;
    default: break;
    }
    return Value::undefined("'" + describeForLookup(object) + "' has no attribute '" + name + "'");
}

Value getItem(const Value &object, const Value &key)
{
    if (object.isUndefined())
        throw Error(object.undefinedHint().empty() ? "undefined value has no item " + key.repr() : object.undefinedHint());
    if ((object.isArray() || object.isString()) && isIntLike(key)) {
        if (object.isArray()) {
            const auto &items = object.array();
            const int64_t i = normaliseIndex(key.integer(), items.size());
            if (i >= 0 && i < static_cast<int64_t>(items.size()))
                return items[static_cast<std::size_t>(i)];
        } else {
            const auto cps = toCodePoints(object.string());
            const int64_t i = normaliseIndex(key.integer(), cps.size());
            if (i >= 0 && i < static_cast<int64_t>(cps.size()))
                return Value(fromCodePoints(std::u32string(1, cps[static_cast<std::size_t>(i)])));
        }
        return Value::undefined("'" + describeForLookup(object) + "' has no element " + key.repr());
    }
    if ((object.isObject() || object.isNamespace()) && key.isString())
        if (const Value *v = object.object().find(key.string()))
            return *v;
    if (key.isString())
        return getAttribute(object, key.string());
    return Value::undefined("'" + describeForLookup(object) + "' has no element " + key.repr());
}

Value slice(const Value &object, const Value &startValue, const Value &stopValue, const Value &stepValue)
{
    auto asIndex = [](const Value &v, const char *what) -> std::optional<int64_t> {
        if (v.isNone() || v.isUndefined())
            return std::nullopt;
        if (!isIntLike(v))
            throw Error(std::string("slice ") + what + " must be an integer or None, not " + v.typeName());
        return v.integer();
    };
    const auto start = asIndex(startValue, "start");
    const auto stop = asIndex(stopValue, "stop");
    const int64_t step = asIndex(stepValue, "step").value_or(1);
    if (step == 0)
        throw Error("slice step cannot be zero");
    auto pick = [&](auto size) {
        const auto n = static_cast<int64_t>(size);
        auto clamp = [&](std::optional<int64_t> v, int64_t fallback) {
            if (!v)
                return fallback;
            int64_t i = *v < 0 ? *v + n : *v;
            if (step > 0)
                return std::clamp<int64_t>(i, 0, n);
            return std::clamp<int64_t>(i, -1, n - 1);
        };
        const int64_t b = clamp(start, step > 0 ? 0 : n - 1);
        const int64_t e = clamp(stop, step > 0 ? n : -1);
        std::vector<std::size_t> indices;
        for (int64_t i = b; step > 0 ? i < e : i > e; i += step)
            indices.push_back(static_cast<std::size_t>(i));
        return indices;
    };
    if (object.isArray()) {
        Value::Array out;
        for (auto i : pick(object.array().size()))
            out.push_back(object.array()[i]);
        return Value(std::move(out));
    }
    if (object.isString()) {
        const auto cps = toCodePoints(object.string());
        std::u32string out;
        for (auto i : pick(cps.size()))
            out.push_back(cps[i]);
        return Value(fromCodePoints(out));
    }
    throw Error("'" + object.typeName() + "' object is not subscriptable");
}

Value::Array iterate(const Value &value)
{
    switch (value.kind()) {
    case Value::Kind::Undefined: return {};
    case Value::Kind::Array: return value.array();
    case Value::Kind::Object: {
        Value::Array keys;
        for (const auto &[k, v] : value.object().entries())
            keys.emplace_back(k);
        return keys;
    }
    case Value::Kind::String: {
        Value::Array chars;
        for (char32_t c : toCodePoints(value.string()))
            chars.emplace_back(fromCodePoints(std::u32string(1, c)));
        return chars;
    }
    default: typeError("'" + value.typeName() + "' object is not iterable");
    }
}

bool contains(const Value &container, const Value &item)
{
    switch (container.kind()) {
    case Value::Kind::String:
        if (!item.isString())
            typeError("'in <string>' requires string as left operand, not " + item.typeName());
        return container.string().find(item.string()) != std::string::npos;
    case Value::Kind::Array:
        return std::any_of(container.array().begin(), container.array().end(), [&](const Value &v) { return v.equals(item); });
    case Value::Kind::Object:
    case Value::Kind::Namespace: return item.isString() && container.object().contains(item.string());
    case Value::Kind::Undefined: return false;
    default: typeError("argument of type '" + container.typeName() + "' is not iterable");
    }
}

Value unaryMinusPlus(const Value &value, bool negate)
{
    if (isIntLike(value)) {
        if (negate && value.integer() == std::numeric_limits<int64_t>::min())
            throw Error("integer overflow in unary -");
        return Value(negate ? -value.integer() : value.integer());
    }
    if (value.isFloat())
        return Value(negate ? -value.number() : value.number());
    typeError(std::string("bad operand type for unary ") + (negate ? "-" : "+") + ": '" + value.typeName() + "'");
}

// Python's integers do not overflow; ours are 64-bit, and an overflow is an error, not a wrap.
int64_t checked(char op, int64_t a, int64_t b, const char *name)
{
    int64_t out = 0;
    const bool overflow = op == '+'   ? __builtin_add_overflow(a, b, &out)
                          : op == '-' ? __builtin_sub_overflow(a, b, &out)
                                      : __builtin_mul_overflow(a, b, &out);
    if (overflow)
        throw Error(std::string("integer overflow in ") + name);
    return out;
}

Value binaryOperation(int opCode, const Value &a, const Value &b)
{
    using Op = BinaryExpr::Op;
    const auto op = static_cast<Op>(opCode);
    const bool ints = isIntLike(a) && isIntLike(b);
    const bool numbers = a.isNumber() && b.isNumber();
    switch (op) {
    case Op::Add:
        if (ints)
            return Value(checked('+', a.integer(), b.integer(), "+"));
        if (numbers)
            return Value(a.number() + b.number());
        if (a.isString() && b.isString())
            return Value(a.string() + b.string());
        if (a.isArray() && b.isArray()) {
            if (a.isTuple() != b.isTuple())
                typeError(std::string("can only concatenate ") + (a.isTuple() ? "tuple" : "list") + " (not \""
                          + (b.isTuple() ? "tuple" : "list") + "\") to " + (a.isTuple() ? "tuple" : "list"));
            Value::Array out = a.array();
            out.insert(out.end(), b.array().begin(), b.array().end());
            return a.isTuple() ? Value::tuple(std::move(out)) : Value(std::move(out));
        }
        if (a.isString() || b.isString())
            typeError("can only concatenate str (not \"" + (a.isString() ? b : a).typeName() + "\") to str");
        typeError(typePair("+", a, b));
    case Op::Sub:
        if (ints)
            return Value(checked('-', a.integer(), b.integer(), "-"));
        if (numbers)
            return Value(a.number() - b.number());
        typeError(typePair("-", a, b));
    case Op::Mul: {
        if (ints)
            return Value(checked('*', a.integer(), b.integer(), "*"));
        if (numbers)
            return Value(a.number() * b.number());
        const Value *seq = (a.isString() || a.isArray()) ? &a : (b.isString() || b.isArray()) ? &b : nullptr;
        const Value *count = seq == &a ? &b : &a;
        if (seq && isIntLike(*count)) {
            const int64_t n = std::max<int64_t>(0, count->integer());
            if (seq->isString() ? seq->string().empty() : seq->array().empty())
                return *seq; // nothing repeated any number of times
            if (seq->isString()) {
                if (static_cast<double>(seq->string().size()) * static_cast<double>(n) > 64.0 * 1024 * 1024)
                    throw Error("string repetition too large");
                std::string out;
                for (int64_t i = 0; i < n; ++i)
                    out += seq->string();
                return Value(out);
            }
            if (static_cast<double>(seq->array().size()) * static_cast<double>(n) > 1e7)
                throw Error("list repetition too large");
            Value::Array out;
            for (int64_t i = 0; i < n; ++i)
                out.insert(out.end(), seq->array().begin(), seq->array().end());
            return Value(std::move(out));
        }
        typeError(typePair("*", a, b));
    }
    case Op::Div:
        if (!numbers)
            typeError(typePair("/", a, b));
        if (b.number() == 0)
            throw Error("division by zero");
        return Value(a.number() / b.number());
    case Op::FloorDiv:
        if (!numbers)
            typeError(typePair("//", a, b));
        if (b.number() == 0)
            throw Error("integer division or modulo by zero");
        if (ints)
            return Value(floorDiv(a.integer(), b.integer()));
        return Value(std::floor(a.number() / b.number()));
    case Op::Mod:
        if (a.isString())
            return Value(percentFormat(a.string(), b));
        if (!numbers)
            typeError(typePair("%", a, b));
        if (b.number() == 0)
            throw Error("integer division or modulo by zero");
        if (ints)
            return Value(pythonMod(a.integer(), b.integer()));
        return Value(pythonFloatMod(a.number(), b.number()));
    case Op::Pow:
        if (!numbers)
            typeError(typePair("**", a, b));
        if (ints && b.integer() >= 0) {
            // Square and multiply: 64 rounds at most, whatever the exponent.
            int64_t result = 1, base = a.integer();
            for (int64_t e = b.integer(); e > 0; e >>= 1) {
                if (e & 1)
                    result = checked('*', result, base, "**");
                if (e > 1)
                    base = checked('*', base, base, "**");
            }
            return Value(result);
        }
        return Value(std::pow(a.number(), b.number()));
    case Op::Lt: return Value(compareValues(a, b, "<") < 0);
    case Op::Le: return Value(compareValues(a, b, "<=") <= 0);
    case Op::Gt: return Value(compareValues(a, b, ">") > 0);
    case Op::Ge: return Value(compareValues(a, b, ">=") >= 0);
    default: throw Error("unsupported operator");
    }
}

Value callFilter(Evaluator &evaluator, const std::string &name, const Value &operand, CallArguments &args)
{
    const auto &table = filters();
    const auto it = table.find(name);
    if (it != table.end())
        return it->second(evaluator, operand, args);
    static const char *const unsupported[] = {"filesizeformat", "groupby", "pprint", "random", "slice", "striptags",
                                              "urlencode", "urlize", "wordwrap", "xmlattr"};
    for (const char *u : unsupported)
        if (name == u)
            throw Error("the '" + name + "' filter is not supported");
    throw Error("unknown filter '" + name + "'");
}

bool callTest(Evaluator &, const std::string &name, const Value &v, CallArguments &args)
{
    auto noArgs = [&] { Arguments a("the '" + name + "' test", args, {}); };
    if (name == "defined") { noArgs(); return !v.isUndefined(); }
    if (name == "undefined") { noArgs(); return v.isUndefined(); }
    if (name == "none") { noArgs(); return v.isNone(); }
    if (name == "boolean") { noArgs(); return v.isBool(); }
    if (name == "true") { noArgs(); return v.isBool() && v.boolean(); }
    if (name == "false") { noArgs(); return v.isBool() && !v.boolean(); }
    if (name == "integer") { noArgs(); return v.isInt(); }
    if (name == "float") { noArgs(); return v.isFloat(); }
    if (name == "number") { noArgs(); return v.isNumber(); }
    if (name == "string") { noArgs(); return v.isString(); }
    if (name == "mapping") { noArgs(); return v.isObject(); }
    if (name == "iterable") { noArgs(); return v.isArray() || v.isObject() || v.isString() || v.isUndefined(); }
    if (name == "sequence") { noArgs(); return v.isArray() || v.isObject() || v.isString(); }
    if (name == "callable") { noArgs(); return v.isFunction(); }
    if (name == "escaped") { noArgs(); return false; }
    if (name == "lower" || name == "upper") {
        noArgs();
        if (!v.isString())
            return false;
        return name == "lower" ? icuLower(v.string()) == v.string() && icuUpper(v.string()) != v.string()
                               : icuUpper(v.string()) == v.string() && icuLower(v.string()) != v.string();
    }
    if (name == "odd" || name == "even") {
        noArgs();
        if (!isIntLike(v))
            typeError("the '" + name + "' test needs an integer, got " + v.typeName());
        return (pythonMod(v.integer(), 2) == 1) == (name == "odd");
    }
    if (name == "divisibleby") {
        Arguments a("the 'divisibleby' test", args, {"num"});
        testNumberArgument(a, 0, v, "divisibleby");
        const Value n = a.required(0);
        if (isIntLike(v) && isIntLike(n)) {
            if (n.integer() == 0)
                throw Error("integer division or modulo by zero");
            return pythonMod(v.integer(), n.integer()) == 0;
        }
        return pythonFloatMod(v.number(), n.number()) == 0;
    }
    if (name == "eq" || name == "equalto" || name == "==" || name == "ne" || name == "!=") {
        Arguments a("the '" + name + "' test", args, {"other"});
        const bool equal = v.equals(a.required(0));
        return (name == "ne" || name == "!=") ? !equal : equal;
    }
    if (name == "lt" || name == "lessthan" || name == "<" || name == "le" || name == "<=" || name == "gt"
        || name == "greaterthan" || name == ">" || name == "ge" || name == ">=") {
        Arguments a("the '" + name + "' test", args, {"other"});
        const int c = compareValues(v, a.required(0), "<");
        if (name == "lt" || name == "lessthan" || name == "<")
            return c < 0;
        if (name == "le" || name == "<=")
            return c <= 0;
        if (name == "gt" || name == "greaterthan" || name == ">")
            return c > 0;
        return c >= 0;
    }
    if (name == "in") {
        Arguments a("the 'in' test", args, {"seq"});
        return contains(a.required(0), v);
    }
    if (name == "sameas") {
        Arguments a("the 'sameas' test", args, {"other"});
        const Value other = a.required(0);
        if (v.kind() != other.kind())
            return false;
        if (v.isNone() || v.isBool() || v.isUndefined())
            return v.equals(other);
        if (v.isInt())
            return v.integer() == other.integer() && v.integer() >= -5 && v.integer() <= 256; // CPython's small ints
        return false;
    }
    if (name == "filter" || name == "test") {
        Arguments a("the '" + name + "' test", args, {});
        if (!v.isString())
            return false;
        if (name == "filter")
            return filters().count(v.string()) > 0;
        static const char *const tests[] = {"defined", "undefined", "none", "boolean", "true", "false", "integer", "float",
                                            "number", "string", "mapping", "iterable", "sequence", "callable", "escaped",
                                            "lower", "upper", "odd", "even", "divisibleby", "eq", "equalto", "ne", "lt",
                                            "le", "gt", "ge", "in", "sameas", "filter", "test"};
        return std::any_of(std::begin(tests), std::end(tests), [&](const char *t) { return v.string() == t; });
    }
    throw Error("unknown test '" + name + "'");
}

std::optional<Value> builtinGlobal(Evaluator &evaluator, const std::string &name)
{
    if (name == "range")
        return method("range", [](CallArguments &args) {
            Arguments a("range()", args, {"start", "stop", "step"});
            int64_t start = 0, stop, step = 1;
            if (!a.has(1)) {
                stop = a.integer(0, 0);
            } else {
                start = a.integer(0, 0);
                stop = a.integer(1, 0);
                step = a.integer(2, 1);
            }
            if (step == 0)
                throw Error("range() arg 3 must not be zero");
            const int64_t count = step > 0 ? (stop > start ? (stop - start + step - 1) / step : 0)
                                           : (start > stop ? (start - stop - step - 1) / -step : 0);
            // jinja2's sandbox limit
            if (count > 100000)
                throw Error("range too big: the sandbox blocks ranges of more than 100000 items");
            Value::Array out;
            for (int64_t i = 0, v = start; i < count; ++i, v += step)
                out.emplace_back(v);
            std::string repr = "range(" + std::to_string(start) + ", " + std::to_string(stop);
            if (step != 1)
                repr += ", " + std::to_string(step);
            return Value::view(std::move(out), repr + ")", false);
        });
    if (name == "namespace")
        return method("namespace", [&evaluator](CallArguments &args) {
            Object initial;
            for (const auto &p : args.positional) {
                if (!p.isObject())
                    throw Error("namespace() takes a dict or keyword arguments, not " + p.typeName());
                for (const auto &[k, v] : p.object().entries())
                    initial.set(k, v);
            }
            for (const auto &[k, v] : args.keywords)
                initial.set(k, v);
            Value ns = Value::makeNamespace(std::move(initial));
            evaluator.adoptNamespace(ns);
            return ns;
        });
    if (name == "dict")
        return method("dict", [](CallArguments &args) {
            Object out;
            for (const auto &p : args.positional) {
                if (!p.isObject())
                    throw Error("dict() takes a dict or keyword arguments, not " + p.typeName());
                for (const auto &[k, v] : p.object().entries())
                    out.set(k, v);
            }
            for (const auto &[k, v] : args.keywords)
                out.set(k, v);
            return Value(std::move(out));
        });
    if (name == "joiner")
        return method("joiner", [](CallArguments &args) {
            Arguments a("joiner()", args, {"sep"});
            const std::string separator = a.text(0, ", ");
            auto used = std::make_shared<bool>(false);
            return method("joiner", [separator, used](CallArguments &) {
                if (!*used) {
                    *used = true;
                    return Value("");
                }
                return Value(separator);
            });
        });
    if (name == "raise_exception")
        return method("raise_exception", [](CallArguments &args) -> Value {
            const std::string message = args.positional.empty() ? std::string() : args.positional.front().str();
            throw Error(message.empty() ? "the template raised an exception" : message);
        });
    if (name == "strftime_now")
        return method("strftime_now", [&evaluator](CallArguments &args) {
            Arguments a("strftime_now()", args, {"format"});
            const std::string format = a.required(0).str();
            std::tm now{};
            if (evaluator.options().now) {
                now = *evaluator.options().now;
            } else {
                const std::time_t t = std::time(nullptr);
                localtime_r(&t, &now);
            }
            if (format.empty())
                return Value("");
            std::string out(64 + format.size() * 8, '\0');
            const std::size_t n = std::strftime(out.data(), out.size(), format.c_str(), &now);
            out.resize(n);
            return Value(out);
        });
    return std::nullopt;
}

} // namespace plad::jinja
