#include "jinjavalue.h"

#include "common/error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace plad::jinja {

// ---- Object ----

const Value *Object::find(const std::string &key) const
{
    for (const auto &[k, v] : mEntries)
        if (k == key)
            return &v;
    return nullptr;
}

void Object::set(const std::string &key, Value value)
{
    for (auto &[k, v] : mEntries)
        if (k == key) {
            v = std::move(value);
            return;
        }
    mEntries.emplace_back(key, std::move(value));
}

// ---- construction ----

Value Value::undefined(std::string hint)
{
    Value v;
    v.mString = std::move(hint);
    return v;
}

Value Value::none()
{
    Value v;
    v.mKind = Kind::None;
    return v;
}

Value::Value(bool b) : mKind(Kind::Bool), mInt(b ? 1 : 0) {}
Value::Value(int64_t i) : mKind(Kind::Int), mInt(i) {}
Value::Value(double d) : mKind(Kind::Float), mFloat(d) {}
Value::Value(std::string s) : mKind(Kind::String), mString(std::move(s)) {}
Value::Value(Array items) : mKind(Kind::Array), mArray(std::make_shared<const Array>(std::move(items))) {}
Value::Value(Object object) : mKind(Kind::Object), mObject(std::make_shared<Object>(std::move(object))) {}
Value::Value(Function function)
    : mKind(Kind::Function), mFunction(std::make_shared<const Function>(std::move(function)))
{}

Value Value::tuple(Array items)
{
    Value v(std::move(items));
    v.mStyle = ArrayStyle::Tuple;
    return v;
}

Value Value::view(Array items, std::string pythonRepr, bool wrapsItems)
{
    Value v(std::move(items));
    v.mStyle = wrapsItems ? ArrayStyle::View : ArrayStyle::Range;
    v.mString = std::move(pythonRepr);
    return v;
}

Value Value::makeNamespace(Object initial)
{
    Value v;
    v.mKind = Kind::Namespace;
    v.mObject = std::make_shared<Object>(std::move(initial));
    return v;
}

Value Value::fromJson(const nlohmann::ordered_json &json)
{
    switch (json.type()) {
    case nlohmann::ordered_json::value_t::null: return none();
    case nlohmann::ordered_json::value_t::boolean: return Value(json.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer: return Value(json.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
        const auto u = json.get<uint64_t>();
        if (u > static_cast<uint64_t>(INT64_MAX))
            return Value(static_cast<double>(u));
        return Value(static_cast<int64_t>(u));
    }
    case nlohmann::ordered_json::value_t::number_float: return Value(json.get<double>());
    case nlohmann::ordered_json::value_t::string: return Value(json.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
        Array items;
        items.reserve(json.size());
        for (const auto &item : json)
            items.push_back(fromJson(item));
        return Value(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
        Object object;
        for (auto it = json.begin(); it != json.end(); ++it)
            object.set(it.key(), fromJson(it.value()));
        return Value(std::move(object));
    }
    default: return none();
    }
}

double Value::number() const
{
    return mKind == Kind::Float ? mFloat : static_cast<double>(mInt);
}

bool Value::truthy() const
{
    switch (mKind) {
    case Kind::Undefined:
    case Kind::None: return false;
    case Kind::Bool:
    case Kind::Int: return mInt != 0;
    case Kind::Float: return mFloat != 0.0;
    case Kind::String: return !mString.empty();
    case Kind::Array: return !mArray->empty();
    case Kind::Object: return mObject->size() != 0;
    case Kind::Function:
    case Kind::Namespace: return true;
    }
    return false;
}

// ---- text ----

std::u32string toCodePoints(const std::string &utf8)
{
    std::u32string out;
    out.reserve(utf8.size());
    const auto *s = reinterpret_cast<const unsigned char *>(utf8.data());
    const std::size_t n = utf8.size();
    for (std::size_t i = 0; i < n;) {
        const unsigned char c = s[i];
        char32_t cp = 0xFFFD;
        std::size_t len = 1;
        if (c < 0x80) {
            cp = c;
        } else if ((c >> 5) == 0x6 && i + 1 < n && (s[i + 1] & 0xC0) == 0x80) {
            cp = ((c & 0x1F) << 6) | (s[i + 1] & 0x3F);
            len = 2;
        } else if ((c >> 4) == 0xE && i + 2 < n && (s[i + 1] & 0xC0) == 0x80 && (s[i + 2] & 0xC0) == 0x80) {
            cp = ((c & 0x0F) << 12) | ((s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
            len = 3;
        } else if ((c >> 3) == 0x1E && i + 3 < n && (s[i + 1] & 0xC0) == 0x80 && (s[i + 2] & 0xC0) == 0x80
                   && (s[i + 3] & 0xC0) == 0x80) {
            cp = ((c & 0x07) << 18) | ((s[i + 1] & 0x3F) << 12) | ((s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F);
            len = 4;
        }
        out.push_back(cp);
        i += len;
    }
    return out;
}

static void appendUtf8(std::string &out, char32_t cp)
{
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

std::string fromCodePoints(const std::u32string &text)
{
    std::string out;
    out.reserve(text.size());
    for (char32_t cp : text)
        appendUtf8(out, cp);
    return out;
}

std::size_t codePointLength(const std::string &utf8)
{
    std::size_t n = 0;
    for (unsigned char c : utf8)
        if ((c & 0xC0) != 0x80)
            ++n;
    return n;
}

bool isPythonSpace(char32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680
           || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F
           || c == 0x3000;
}

std::string pythonFloat(double value)
{
    if (std::isnan(value))
        return "nan";
    if (std::isinf(value))
        return value < 0 ? "-inf" : "inf";
    if (value == 0)
        return std::signbit(value) ? "-0.0" : "0.0";
    // Shortest round-trip digits in scientific form, then Python's choice of notation:
    // positional for exponents -4..15, scientific with a two-digit exponent otherwise.
    char buffer[64];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::scientific);
    std::string sci(buffer, result.ptr);
    std::string sign;
    if (sci[0] == '-') {
        sign = "-";
        sci.erase(0, 1);
    }
    const auto ePos = sci.find('e');
    std::string mantissa = sci.substr(0, ePos);
    const int exponent = std::stoi(sci.substr(ePos + 1));
    std::string digits;
    for (char c : mantissa)
        if (c != '.')
            digits.push_back(c);
    if (exponent >= -4 && exponent < 16) {
        std::string out;
        if (exponent < 0) {
            out = "0." + std::string(static_cast<std::size_t>(-exponent - 1), '0') + digits;
        } else {
            const auto intDigits = static_cast<std::size_t>(exponent + 1);
            if (digits.size() <= intDigits)
                out = digits + std::string(intDigits - digits.size(), '0') + ".0";
            else
                out = digits.substr(0, intDigits) + "." + digits.substr(intDigits);
        }
        return sign + out;
    }
    std::string out = digits.substr(0, 1);
    if (digits.size() > 1)
        out += "." + digits.substr(1);
    char exp[16];
    std::snprintf(exp, sizeof exp, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    return sign + out + exp;
}

static std::string pythonStringRepr(const std::string &s)
{
    const bool hasSingle = s.find('\'') != std::string::npos;
    const bool hasDouble = s.find('"') != std::string::npos;
    const char quote = hasSingle && !hasDouble ? '"' : '\'';
    std::string out(1, quote);
    for (char32_t cp : toCodePoints(s)) {
        if (cp == '\\')
            out += "\\\\";
        else if (cp == static_cast<char32_t>(quote))
            out += std::string("\\") + quote;
        else if (cp == '\n')
            out += "\\n";
        else if (cp == '\r')
            out += "\\r";
        else if (cp == '\t')
            out += "\\t";
        else if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0)) {
            char hex[8];
            std::snprintf(hex, sizeof hex, "\\x%02x", static_cast<unsigned>(cp));
            out += hex;
        } else
            appendUtf8(out, cp);
    }
    out.push_back(quote);
    return out;
}

std::string Value::str() const
{
    switch (mKind) {
    case Kind::Undefined: return {};
    case Kind::None: return "None";
    case Kind::Bool: return mInt ? "True" : "False";
    case Kind::Int: return std::to_string(mInt);
    case Kind::Float: return pythonFloat(mFloat);
    case Kind::String: return mString;
    default: return repr();
    }
}

std::string Value::repr() const
{
    switch (mKind) {
    case Kind::String: return pythonStringRepr(mString);
    case Kind::Array: {
        if (mStyle == ArrayStyle::Range)
            return mString;
        const bool tuple = mStyle == ArrayStyle::Tuple;
        std::string out = tuple ? "(" : "[";
        for (std::size_t i = 0; i < mArray->size(); ++i) {
            if (i)
                out += ", ";
            out += (*mArray)[i].repr();
        }
        if (tuple && mArray->size() == 1)
            out += ",";
        out += tuple ? ")" : "]";
        return mStyle == ArrayStyle::View ? mString + "(" + out + ")" : out;
    }
    case Kind::Object:
    case Kind::Namespace: {
        std::string out = mKind == Kind::Namespace ? "<Namespace {" : "{";
        bool first = true;
        for (const auto &[k, v] : mObject->entries()) {
            if (!first)
                out += ", ";
            first = false;
            out += pythonStringRepr(k) + ": " + v.repr();
        }
        return out + (mKind == Kind::Namespace ? "}>" : "}");
    }
    case Kind::Function: return "<function " + mFunction->name + ">";
    case Kind::Undefined: return "Undefined";
    default: return str();
    }
}

std::string Value::typeName() const
{
    switch (mKind) {
    case Kind::Undefined: return "undefined";
    case Kind::None: return "NoneType";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::String: return "str";
    case Kind::Array: return mStyle == ArrayStyle::Tuple ? "tuple" : "list";
    case Kind::Object: return "dict";
    case Kind::Function: return "function";
    case Kind::Namespace: return "Namespace";
    }
    return "value";
}

bool Value::equals(const Value &other) const
{
    if (isNumber() && other.isNumber()) {
        if (mKind != Kind::Float && other.mKind != Kind::Float)
            return mInt == other.mInt;
        return number() == other.number();
    }
    if (mKind != other.mKind)
        return false;
    switch (mKind) {
    case Kind::Undefined:
    case Kind::None: return true;
    case Kind::String: return mString == other.mString;
    case Kind::Array: {
        if ((mStyle == ArrayStyle::Tuple) != (other.mStyle == ArrayStyle::Tuple))
            return false; // Python: (1, 2) != [1, 2]
        if (mArray->size() != other.mArray->size())
            return false;
        for (std::size_t i = 0; i < mArray->size(); ++i)
            if (!(*mArray)[i].equals((*other.mArray)[i]))
                return false;
        return true;
    }
    case Kind::Object: {
        if (mObject->size() != other.mObject->size())
            return false;
        for (const auto &[k, v] : mObject->entries()) {
            const Value *o = other.mObject->find(k);
            if (!o || !v.equals(*o))
                return false;
        }
        return true;
    }
    case Kind::Namespace: return mObject == other.mObject;
    case Kind::Function: return mFunction == other.mFunction;
    default: return false;
    }
}

nlohmann::ordered_json Value::toJson() const
{
    switch (mKind) {
    case Kind::None: return nullptr;
    case Kind::Bool: return mInt != 0;
    case Kind::Int: return mInt;
    case Kind::Float: return mFloat;
    case Kind::String: return mString;
    case Kind::Array: {
        auto out = nlohmann::ordered_json::array();
        for (const auto &item : *mArray)
            out.push_back(item.toJson());
        return out;
    }
    case Kind::Object: {
        auto out = nlohmann::ordered_json::object();
        for (const auto &[k, v] : mObject->entries())
            out[k] = v.toJson();
        return out;
    }
    default: throw Error("Object of type " + typeName() + " is not JSON serializable");
    }
}

// ---- json.dumps ----

static void dumpString(std::string &out, const std::string &s, bool ensureAscii)
{
    out.push_back('"');
    for (char32_t cp : toCodePoints(s)) {
        switch (cp) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default: {
            char hex[16];
            if (cp < 0x20 || (ensureAscii && cp > 0x7F)) {
                if (cp >= 0x10000) {
                    const char32_t v = cp - 0x10000;
                    std::snprintf(hex, sizeof hex, "\\u%04x\\u%04x", static_cast<unsigned>(0xD800 + (v >> 10)),
                                  static_cast<unsigned>(0xDC00 + (v & 0x3FF)));
                } else {
                    std::snprintf(hex, sizeof hex, "\\u%04x", static_cast<unsigned>(cp));
                }
                out += hex;
            } else {
                appendUtf8(out, cp);
            }
        }
        }
    }
    out.push_back('"');
}

static void dumpValue(std::string &out, const Value &value, const JsonDumpOptions &options, int depth)
{
    const bool indented = options.indent >= 0 || !options.indentText.empty();
    const std::string itemSeparator
        = options.separatorsGiven ? options.itemSeparator : (indented ? std::string(",") : std::string(", "));
    const std::string unit = !options.indentText.empty() ? options.indentText
                                                         : std::string(static_cast<std::size_t>(std::max(options.indent, 0)), ' ');
    auto newline = [&](int level) {
        out.push_back('\n');
        for (int i = 0; i < level; ++i)
            out += unit;
    };
    switch (value.kind()) {
    case Value::Kind::None: out += "null"; return;
    case Value::Kind::Bool: out += value.boolean() ? "true" : "false"; return;
    case Value::Kind::Int: out += std::to_string(value.integer()); return;
    case Value::Kind::Float: {
        const double d = value.number();
        if (std::isnan(d))
            out += "NaN";
        else if (std::isinf(d))
            out += d < 0 ? "-Infinity" : "Infinity";
        else
            out += pythonFloat(d);
        return;
    }
    case Value::Kind::String: dumpString(out, value.string(), options.ensureAscii); return;
    case Value::Kind::Array: {
        const auto &items = value.array();
        if (items.empty()) {
            out += "[]";
            return;
        }
        out.push_back('[');
        for (std::size_t i = 0; i < items.size(); ++i) {
            if (i)
                out += itemSeparator;
            if (indented)
                newline(depth + 1);
            dumpValue(out, items[i], options, depth + 1);
        }
        if (indented)
            newline(depth);
        out.push_back(']');
        return;
    }
    case Value::Kind::Object: {
        auto entries = value.object().entries();
        if (entries.empty()) {
            out += "{}";
            return;
        }
        if (options.sortKeys)
            std::stable_sort(entries.begin(), entries.end(),
                             [](const auto &a, const auto &b) { return a.first < b.first; });
        out.push_back('{');
        bool first = true;
        for (const auto &[k, v] : entries) {
            if (!first)
                out += itemSeparator;
            first = false;
            if (indented)
                newline(depth + 1);
            dumpString(out, k, options.ensureAscii);
            out += options.keySeparator;
            dumpValue(out, v, options, depth + 1);
        }
        if (indented)
            newline(depth);
        out.push_back('}');
        return;
    }
    default: throw Error("Object of type " + value.typeName() + " is not JSON serializable");
    }
}

std::string pythonJsonDumps(const Value &value, const JsonDumpOptions &options)
{
    std::string out;
    dumpValue(out, value, options, 0);
    return out;
}

} // namespace plad::jinja
