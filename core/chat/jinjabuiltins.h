#pragma once

// The operators, attribute lookups, filters, tests and globals of the Jinja engine, with
// Python's semantics. Internal to the chat library. Functions here throw plain plad::Error;
// the renderer adds the template location.

#include "jinjavalue.h"

#include <optional>
#include <string>

namespace plad::jinja {

struct RenderOptions;

/** What builtins need from the renderer: filters and tests by name (for map/select), options. */
class Evaluator
{
public:
    virtual ~Evaluator() = default;
    virtual Value applyFilter(const std::string &name, const Value &operand, CallArguments &args) = 0;
    virtual bool applyTest(const std::string &name, const Value &operand, CallArguments &args) = 0;
    virtual const RenderOptions &options() const = 0;
    /** A namespace() made during the render, emptied when the render ends. */
    virtual void adoptNamespace(const Value &ns) = 0;
};

/** `object.name`: a method of a str, list or dict, else a key (jinja2's getattr order). */
Value getAttribute(const Value &object, const std::string &name);
/** `object[key]`: an item (negative indices count from the end), else an attribute. */
Value getItem(const Value &object, const Value &key);
/** `object[start:stop:step]` on a list or str, with Python's slice rules. */
Value slice(const Value &object, const Value &start, const Value &stop, const Value &step);
/** The items a for loop visits: a list's items, a dict's keys, a str's characters. */
Value::Array iterate(const Value &value);
/** Python `item in container`. */
bool contains(const Value &container, const Value &item);
Value unaryMinusPlus(const Value &value, bool negate);
/** The arithmetic and ordering operators; `op` is a BinaryExpr::Op. */
Value binaryOperation(int op, const Value &left, const Value &right);

Value callFilter(Evaluator &evaluator, const std::string &name, const Value &operand, CallArguments &args);
bool callTest(Evaluator &evaluator, const std::string &name, const Value &operand, CallArguments &args);
/** range, namespace, dict, joiner, raise_exception, strftime_now; nothing for other names. */
std::optional<Value> builtinGlobal(Evaluator &evaluator, const std::string &name);

} // namespace plad::jinja
