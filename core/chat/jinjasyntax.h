#pragma once

// The syntax tree of a Jinja template, and the parser that builds it. Internal to the chat
// library: users go through JinjaTemplate.

#include "jinjavalue.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace plad::jinja {

/** A place in the template source, 1-based. */
struct Location
{
    int line = 1;
    int column = 1;
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Keyword
{
    std::string name;
    ExprPtr value;
};

struct Expr
{
    enum class Kind {
        Literal, Name, List, Tuple, Dict, Attribute, Subscript, Slice, Call, Filter, Test, Unary, Binary, Conditional
    };
    explicit Expr(Kind k, Location l) : kind(k), loc(l) {}
    virtual ~Expr() = default;
    Kind kind;
    Location loc;
};

struct LiteralExpr : Expr
{
    LiteralExpr(Location l, Value v) : Expr(Kind::Literal, l), value(std::move(v)) {}
    Value value;
};

struct NameExpr : Expr
{
    NameExpr(Location l, std::string n) : Expr(Kind::Name, l), name(std::move(n)) {}
    std::string name;
};

/** A list or tuple display (tuples behave as lists here). */
struct SequenceExpr : Expr
{
    SequenceExpr(Kind k, Location l) : Expr(k, l) {}
    std::vector<ExprPtr> items;
};

struct DictExpr : Expr
{
    explicit DictExpr(Location l) : Expr(Kind::Dict, l) {}
    std::vector<std::pair<ExprPtr, ExprPtr>> items;
};

struct AttributeExpr : Expr
{
    AttributeExpr(Location l, ExprPtr o, std::string n) : Expr(Kind::Attribute, l), object(std::move(o)), name(std::move(n)) {}
    ExprPtr object;
    std::string name;
};

struct SubscriptExpr : Expr
{
    SubscriptExpr(Location l, ExprPtr o, ExprPtr i) : Expr(Kind::Subscript, l), object(std::move(o)), index(std::move(i)) {}
    ExprPtr object;
    ExprPtr index;
};

struct SliceExpr : Expr
{
    explicit SliceExpr(Location l) : Expr(Kind::Slice, l) {}
    ExprPtr object, start, stop, step;
};

struct CallExpr : Expr
{
    explicit CallExpr(Location l) : Expr(Kind::Call, l) {}
    ExprPtr callee;
    std::vector<ExprPtr> args;
    std::vector<Keyword> kwargs;
};

/** `operand | name(args)`; the operand is empty in a `{% filter %}` block. */
struct FilterExpr : Expr
{
    explicit FilterExpr(Location l) : Expr(Kind::Filter, l) {}
    ExprPtr operand;
    std::string name;
    std::vector<ExprPtr> args;
    std::vector<Keyword> kwargs;
};

struct TestExpr : Expr
{
    explicit TestExpr(Location l) : Expr(Kind::Test, l) {}
    ExprPtr operand;
    std::string name;
    std::vector<ExprPtr> args;
    std::vector<Keyword> kwargs;
    bool negated = false;
};

struct UnaryExpr : Expr
{
    enum class Op { Not, Negate, Plus };
    UnaryExpr(Location l, Op o, ExprPtr e) : Expr(Kind::Unary, l), op(o), operand(std::move(e)) {}
    Op op;
    ExprPtr operand;
};

struct BinaryExpr : Expr
{
    enum class Op { Or, And, Add, Sub, Mul, Div, FloorDiv, Mod, Pow, Concat, Eq, Ne, Lt, Le, Gt, Ge, In, NotIn };
    BinaryExpr(Location l, Op o, ExprPtr a, ExprPtr b) : Expr(Kind::Binary, l), op(o), left(std::move(a)), right(std::move(b)) {}
    Op op;
    ExprPtr left, right;
};

struct ConditionalExpr : Expr
{
    explicit ConditionalExpr(Location l) : Expr(Kind::Conditional, l) {}
    ExprPtr condition, then, otherwise; // otherwise may be empty (yields Undefined)
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Stmt
{
    enum class Kind { Text, Print, If, For, Set, SetBlock, Macro, CallBlock, FilterBlock, Break, Continue, With, Generation };
    Stmt(Kind k, Location l) : kind(k), loc(l) {}
    virtual ~Stmt() = default;
    Kind kind;
    Location loc;
};

struct TextStmt : Stmt
{
    TextStmt(Location l, std::string t) : Stmt(Kind::Text, l), text(std::move(t)) {}
    std::string text;
};

struct PrintStmt : Stmt
{
    PrintStmt(Location l, ExprPtr e) : Stmt(Kind::Print, l), expr(std::move(e)) {}
    ExprPtr expr;
};

struct IfStmt : Stmt
{
    explicit IfStmt(Location l) : Stmt(Kind::If, l) {}
    std::vector<std::pair<ExprPtr, Body>> branches;
    Body otherwise;
};

/** Where an assignment goes: names (several unpack a sequence), or one namespace attribute. */
struct AssignTarget
{
    std::vector<std::string> names;
    std::string namespaceName; // with `attribute`: `{% set ns.attribute = ... %}`
    std::string attribute;
    Location loc;
};

struct ForStmt : Stmt
{
    explicit ForStmt(Location l) : Stmt(Kind::For, l) {}
    AssignTarget target;
    ExprPtr iterable;
    ExprPtr filter;
    Body body;
    Body otherwise;
};

struct SetStmt : Stmt
{
    explicit SetStmt(Location l) : Stmt(Kind::Set, l) {}
    AssignTarget target;
    ExprPtr value;
};

struct SetBlockStmt : Stmt
{
    explicit SetBlockStmt(Location l) : Stmt(Kind::SetBlock, l) {}
    AssignTarget target;
    std::vector<std::unique_ptr<FilterExpr>> filters;
    Body body;
};

struct MacroParameter
{
    std::string name;
    ExprPtr defaultValue;
};

struct MacroStmt : Stmt
{
    explicit MacroStmt(Location l) : Stmt(Kind::Macro, l) {}
    std::string name;
    std::vector<MacroParameter> parameters;
    Body body;
};

struct CallBlockStmt : Stmt
{
    explicit CallBlockStmt(Location l) : Stmt(Kind::CallBlock, l) {}
    std::unique_ptr<CallExpr> call;
    std::vector<MacroParameter> parameters; // of `caller`
    Body body;
};

struct FilterBlockStmt : Stmt
{
    explicit FilterBlockStmt(Location l) : Stmt(Kind::FilterBlock, l) {}
    std::vector<std::unique_ptr<FilterExpr>> filters;
    Body body;
};

struct WithStmt : Stmt
{
    explicit WithStmt(Location l) : Stmt(Kind::With, l) {}
    std::vector<std::pair<AssignTarget, ExprPtr>> assignments;
    Body body;
};

/** transformers' `{% generation %}` block: renders its body and marks it as the assistant's. */
struct GenerationStmt : Stmt
{
    explicit GenerationStmt(Location l) : Stmt(Kind::Generation, l) {}
    Body body;
};

struct ControlStmt : Stmt
{
    ControlStmt(Kind k, Location l) : Stmt(k, l) {}
};

/**
 * Parses a template with jinja2's rules as transformers configures them: `trim_blocks` and
 * `lstrip_blocks` on, `keep_trailing_newline` off, newlines normalised to "\n", the
 * `loopcontrols` extension (break, continue) and transformers' `generation` block.
 * Throws TemplateError naming the line and column of unsupported or malformed syntax.
 */
Body parseTemplate(const std::string &source, const std::string &name);

} // namespace plad::jinja
