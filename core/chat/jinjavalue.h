#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace plad::jinja {

class Value;

/** Positional and keyword arguments of a call, already evaluated. */
struct CallArguments
{
    std::vector<Value> positional;
    std::vector<std::pair<std::string, Value>> keywords;
};

/** A function a template can call: a global (`range`), a bound method (`'a b'.split`), a macro. */
struct Function
{
    std::string name;
    std::function<Value(CallArguments &)> call;
};

/**
 * A dict with Python's semantics: keys are strings (the only keys JSON and chat templates
 * use) and iteration follows insertion order, as `tojson` and `items()` must.
 */
class Object
{
public:
    const Value *find(const std::string &key) const;
    void set(const std::string &key, Value value);
    bool contains(const std::string &key) const { return find(key) != nullptr; }
    std::size_t size() const; // defined below Value: std::pair<.., Value> needs the whole Value
    const std::vector<std::pair<std::string, Value>> &entries() const { return mEntries; }

private:
    std::vector<std::pair<std::string, Value>> mEntries;
};

/**
 * A Jinja value with the Python semantics transformers' jinja2 gives it: None, bool, int,
 * float, str (UTF-8, indexed and measured in code points), list, dict, callables,
 * `namespace()` objects (the one mutable kind: `{% set ns.x = ... %}`) and Undefined, which
 * prints as nothing, is falsy, iterates as empty and fails when used any other way.
 * Lists and dicts are shared and immutable, as in transformers' sandbox.
 */
class Value
{
public:
    enum class Kind { Undefined, None, Bool, Int, Float, String, Array, Object, Function, Namespace };
    using Array = std::vector<Value>;

    Value() = default;
    static Value undefined(std::string hint = {});
    static Value none();
    Value(bool b);
    Value(int64_t i);
    Value(int i) : Value(static_cast<int64_t>(i)) {}
    Value(double d);
    Value(std::string s);
    Value(const char *s) : Value(std::string(s)) {}
    Value(Array items);
    /** A tuple: a list that prints as `(a, b)` and differs from a list in `==`. */
    static Value tuple(Array items);
    /** A list that prints as Python prints a dict view or a range: `dict_items([...])`, `range(0, 3)`. */
    static Value view(Array items, std::string pythonRepr, bool wrapsItems);
    Value(Object object);
    Value(Function function);
    static Value makeNamespace(Object initial);

    /** From JSON, keeping object key order (what `messages` and `tools` come in as). */
    static Value fromJson(const nlohmann::ordered_json &json);

    Kind kind() const { return mKind; }
    bool isUndefined() const { return mKind == Kind::Undefined; }
    bool isNone() const { return mKind == Kind::None; }
    bool isBool() const { return mKind == Kind::Bool; }
    bool isInt() const { return mKind == Kind::Int; }
    bool isFloat() const { return mKind == Kind::Float; }
    /** int, float or bool (Python's bool is an int). */
    bool isNumber() const { return mKind == Kind::Int || mKind == Kind::Float || mKind == Kind::Bool; }
    bool isString() const { return mKind == Kind::String; }
    bool isArray() const { return mKind == Kind::Array; }
    bool isTuple() const { return mKind == Kind::Array && mStyle == ArrayStyle::Tuple; }
    bool isObject() const { return mKind == Kind::Object; }
    bool isNamespace() const { return mKind == Kind::Namespace; }
    bool isFunction() const { return mKind == Kind::Function; }
    /** What Undefined says about itself in an error: "'x' is undefined". */
    const std::string &undefinedHint() const { return mString; }

    bool boolean() const { return mInt != 0; }
    int64_t integer() const { return mInt; }
    /** int, bool or float as a double. */
    double number() const;
    const std::string &string() const { return mString; }
    const Array &array() const { return *mArray; }
    /** The entries of a dict or a namespace. */
    const Object &object() const { return *mObject; }
    Object &mutableNamespace() const { return *mObject; }
    const Function &function() const { return *mFunction; }

    /** Python truthiness. */
    bool truthy() const;
    /** Python `str()`: what `{{ value }}` prints. Undefined prints as nothing. */
    std::string str() const;
    /** Python `repr()`, used inside printed lists and dicts. */
    std::string repr() const;
    /** A type name for messages: "str", "int", "list", "dict", "undefined", ... */
    std::string typeName() const;
    /** Python `==` (1 == 1.0 == True; lists and dicts compare by content). */
    bool equals(const Value &other) const;
    /** JSON for `tojson` and values leaving the engine; throws on Undefined and functions. */
    nlohmann::ordered_json toJson() const;

private:
    enum class ArrayStyle { List, Tuple, View, Range };
    Kind mKind = Kind::Undefined;
    ArrayStyle mStyle = ArrayStyle::List;
    int64_t mInt = 0;
    double mFloat = 0;
    std::string mString; // a str's text, Undefined's hint, a view's or range's Python name
    std::shared_ptr<const Array> mArray;
    std::shared_ptr<Object> mObject;
    std::shared_ptr<const Function> mFunction;
};

/** UTF-8 text as code points and back, for Python's str indexing, slicing and len(). */
std::u32string toCodePoints(const std::string &utf8);
std::string fromCodePoints(const std::u32string &text);
std::size_t codePointLength(const std::string &utf8);
/** Python's str.isspace() for one code point. */
bool isPythonSpace(char32_t c);

/** Python's float repr: shortest round-trip digits, "1.0", "1e+16", "1e-05", "inf", "nan". */
std::string pythonFloat(double value);

/** Options of `json.dumps` as transformers' `tojson` filter passes them. */
struct JsonDumpOptions
{
    int indent = -1; // < 0: on one line
    std::string indentText; // the indent as given when it is a string
    bool ensureAscii = false;
    bool sortKeys = false;
    std::string itemSeparator; // empty: ", " on one line, "," when indented
    std::string keySeparator = ": ";
    bool separatorsGiven = false;
};
/** Python's json.dumps of a value. Throws Error for values JSON cannot hold. */
std::string pythonJsonDumps(const Value &value, const JsonDumpOptions &options);

inline std::size_t Object::size() const
{
    return mEntries.size();
}

} // namespace plad::jinja
