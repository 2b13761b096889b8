#include "jinjatemplate.h"

#include "jinjabuiltins.h"
#include "jinjasyntax.h"

#include <unordered_map>

namespace plad::jinja {

TemplateError::TemplateError(const std::string &templateName, int line, int column, const std::string &what)
    : FormatError(templateName + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + what),
      mLine(line), mColumn(column), mDetail(what)
{}

namespace {

struct Frame
{
    std::unordered_map<std::string, Value> vars;
    std::shared_ptr<Frame> parent;
};
using FramePtr = std::shared_ptr<Frame>;

enum class Flow { Normal, Break, Continue };

class Renderer final : public Evaluator
{
public:
    Renderer(const std::string &name, const RenderOptions &options, const Object &variables)
        : mName(name), mOptions(options), mVariables(variables)
    {
        mOut = &mResult.text;
    }

    RenderResult take() { return std::move(mResult); }

    Flow execBody(const Body &body, const FramePtr &frame)
    {
        for (const auto &stmt : body) {
            const Flow flow = exec(*stmt, frame);
            if (flow != Flow::Normal)
                return flow;
        }
        return Flow::Normal;
    }

    // ---- Evaluator (used by the builtins) ----

    Value applyFilter(const std::string &name, const Value &operand, CallArguments &args) override
    {
        return callFilter(*this, name, operand, args);
    }

    bool applyTest(const std::string &name, const Value &operand, CallArguments &args) override
    {
        return callTest(*this, name, operand, args);
    }

    const RenderOptions &options() const override { return mOptions; }

    void adoptNamespace(const Value &ns) override { mNamespaces.push_back(ns); }

    // Namespaces may hold themselves (`{% set ns.me = ns %}`); emptying them breaks such cycles.
    void releaseNamespaces()
    {
        for (const auto &ns : mNamespaces)
            ns.mutableNamespace() = Object();
        mNamespaces.clear();
    }

private:
    [[noreturn]] void fail(const Location &loc, const std::string &what) const
    {
        throw TemplateError(mName, loc.line, loc.column, what);
    }

    // Runs `f`, turning a builtin's plain Error into a TemplateError at `loc`.
    template<typename F>
    auto at(const Location &loc, F &&f) -> decltype(f())
    {
        try {
            return f();
        } catch (const TemplateError &) {
            throw;
        } catch (const Error &e) {
            fail(loc, e.what());
        }
    }

    // Every statement and loop iteration counts: nested loops that write nothing still end.
    void step(const Location &loc)
    {
        if (++mSteps > mOptions.maxSteps)
            fail(loc, "the template ran more than " + std::to_string(mOptions.maxSteps) + " steps; it seems not to end");
    }

    void write(const std::string &text)
    {
        *mOut += text;
        if (mOut->size() > mOptions.maxOutputBytes)
            throw Error("the output passed " + std::to_string(mOptions.maxOutputBytes) + " bytes; the template seems not to end");
    }

    std::string capture(const Body &body, const FramePtr &frame, const Location &loc)
    {
        std::string buffer;
        std::string *saved = mOut;
        mOut = &buffer;
        try {
            if (execBody(body, frame) != Flow::Normal)
                fail(loc, "'break' or 'continue' outside of a loop");
        } catch (...) {
            mOut = saved;
            throw;
        }
        mOut = saved;
        return buffer;
    }

    Value lookup(const std::string &name, const FramePtr &frame)
    {
        for (const Frame *f = frame.get(); f; f = f->parent.get()) {
            const auto it = f->vars.find(name);
            if (it != f->vars.end())
                return it->second;
        }
        if (const Value *v = mVariables.find(name))
            return *v;
        if (auto builtin = builtinGlobal(*this, name))
            return *builtin;
        return Value::undefined("'" + name + "' is undefined");
    }

    void assign(const AssignTarget &target, const Value &value, const FramePtr &frame)
    {
        if (!target.attribute.empty()) {
            const Value ns = lookup(target.namespaceName, frame);
            if (!ns.isNamespace())
                fail(target.loc, "cannot assign attribute '" + target.attribute + "' on '" + target.namespaceName
                                     + "': only namespace() objects take attributes");
            ns.mutableNamespace().set(target.attribute, value);
            return;
        }
        if (target.names.size() == 1) {
            frame->vars[target.names[0]] = value;
            return;
        }
        const Value::Array items = at(target.loc, [&] { return iterate(value); });
        if (items.size() != target.names.size())
            fail(target.loc, "cannot unpack " + std::to_string(items.size()) + " values into "
                                 + std::to_string(target.names.size()) + " names");
        for (std::size_t i = 0; i < items.size(); ++i)
            frame->vars[target.names[i]] = items[i];
    }

    Flow exec(const Stmt &stmt, const FramePtr &frame)
    {
        step(stmt.loc);
        switch (stmt.kind) {
        case Stmt::Kind::Text: write(static_cast<const TextStmt &>(stmt).text); return Flow::Normal;
        case Stmt::Kind::Print: {
            const auto &s = static_cast<const PrintStmt &>(stmt);
            const Value v = eval(*s.expr, frame);
            write(v.str());
            return Flow::Normal;
        }
        case Stmt::Kind::If: {
            const auto &s = static_cast<const IfStmt &>(stmt);
            for (const auto &[condition, body] : s.branches)
                if (eval(*condition, frame).truthy())
                    return execBody(body, frame);
            return execBody(s.otherwise, frame);
        }
        case Stmt::Kind::For: return execFor(static_cast<const ForStmt &>(stmt), frame);
        case Stmt::Kind::Set: {
            const auto &s = static_cast<const SetStmt &>(stmt);
            assign(s.target, eval(*s.value, frame), frame);
            return Flow::Normal;
        }
        case Stmt::Kind::SetBlock: {
            const auto &s = static_cast<const SetBlockStmt &>(stmt);
            Value v(capture(s.body, frame, s.loc));
            for (const auto &filter : s.filters)
                v = evalFilter(*filter, v, frame);
            assign(s.target, v, frame);
            return Flow::Normal;
        }
        case Stmt::Kind::Macro: {
            const auto &s = static_cast<const MacroStmt &>(stmt);
            frame->vars[s.name] = makeMacro(s.name, s.parameters, s.body, frame, s.loc);
            return Flow::Normal;
        }
        case Stmt::Kind::CallBlock: {
            const auto &s = static_cast<const CallBlockStmt &>(stmt);
            const Value caller = makeMacro("caller", s.parameters, s.body, frame, s.loc);
            write(evalCall(*s.call, frame, &caller).str());
            return Flow::Normal;
        }
        case Stmt::Kind::FilterBlock: {
            const auto &s = static_cast<const FilterBlockStmt &>(stmt);
            Value v(capture(s.body, frame, s.loc));
            for (const auto &filter : s.filters)
                v = evalFilter(*filter, v, frame);
            write(v.str());
            return Flow::Normal;
        }
        case Stmt::Kind::With: {
            const auto &s = static_cast<const WithStmt &>(stmt);
            auto inner = std::make_shared<Frame>();
            inner->parent = frame;
            for (const auto &[target, expr] : s.assignments)
                assign(target, eval(*expr, frame), inner);
            return execBody(s.body, inner);
        }
        case Stmt::Kind::Generation: {
            const auto &s = static_cast<const GenerationStmt &>(stmt);
            const bool topLevel = mOut == &mResult.text;
            const std::size_t begin = mOut->size();
            const Flow flow = execBody(s.body, frame);
            if (topLevel && mOut->size() > begin)
                mResult.generationSpans.emplace_back(begin, mOut->size());
            return flow;
        }
        case Stmt::Kind::Break: return Flow::Break;
        case Stmt::Kind::Continue: return Flow::Continue;
        }
        return Flow::Normal;
    }

    Flow execFor(const ForStmt &s, const FramePtr &frame)
    {
        const Value iterable = eval(*s.iterable, frame);
        Value::Array items = at(s.iterable->loc, [&] { return iterate(iterable); });
        auto loopFrame = std::make_shared<Frame>();
        loopFrame->parent = frame;
        if (s.filter) {
            Value::Array kept;
            for (const auto &item : items) {
                step(s.loc);
                assign(s.target, item, loopFrame);
                if (eval(*s.filter, loopFrame).truthy())
                    kept.push_back(item);
            }
            items = std::move(kept);
        }
        if (items.empty())
            return execBody(s.otherwise, frame);
        const auto length = static_cast<int64_t>(items.size());
        for (int64_t i = 0; i < length; ++i) {
            step(s.loc);
            const auto index = static_cast<std::size_t>(i);
            assign(s.target, items[index], loopFrame);
            Object loop;
            loop.set("index", Value(i + 1));
            loop.set("index0", Value(i));
            loop.set("revindex", Value(length - i));
            loop.set("revindex0", Value(length - i - 1));
            loop.set("first", Value(i == 0));
            loop.set("last", Value(i == length - 1));
            loop.set("length", Value(length));
            loop.set("depth", Value(int64_t{1}));
            loop.set("depth0", Value(int64_t{0}));
            loop.set("previtem", i > 0 ? items[index - 1] : Value::undefined("there is no previous item"));
            loop.set("nextitem", i + 1 < length ? items[index + 1] : Value::undefined("there is no next item"));
            loop.set("cycle", Value(Function{"loop.cycle", [i](CallArguments &args) -> Value {
                          if (args.positional.empty())
                              throw Error("loop.cycle() needs at least one value");
                          return args.positional[static_cast<std::size_t>(i) % args.positional.size()];
                      }}));
            loopFrame->vars["loop"] = Value(std::move(loop));
            const Flow flow = execBody(s.body, loopFrame);
            if (flow == Flow::Break)
                break;
        }
        return Flow::Normal;
    }

    Value makeMacro(const std::string &name, const std::vector<MacroParameter> &parameters, const Body &body,
                    const FramePtr &closure, const Location &loc)
    {
        const auto *params = &parameters;
        const auto *macroBody = &body;
        // The macro lives in the frame it closes over: a weak reference keeps that from being a
        // cycle that outlives the render.
        const std::weak_ptr<Frame> weakClosure = closure;
        return Value(Function{name, [this, name, params, macroBody, weakClosure, loc](CallArguments &args) -> Value {
            const FramePtr closure = weakClosure.lock();
            if (!closure)
                throw Error("macro '" + name + "' was called after the scope that defined it ended");
            if (++mDepth > mOptions.maxCallDepth) {
                --mDepth;
                throw Error("macro '" + name + "' recursed deeper than " + std::to_string(mOptions.maxCallDepth) + " calls");
            }
            struct DepthGuard { int &d; ~DepthGuard() { --d; } } guard{mDepth};
            auto frame = std::make_shared<Frame>();
            frame->parent = closure;
            std::vector<bool> bound(params->size(), false);
            Value::Array varargs;
            for (std::size_t i = 0; i < args.positional.size(); ++i) {
                if (i < params->size()) {
                    frame->vars[(*params)[i].name] = args.positional[i];
                    bound[i] = true;
                } else {
                    varargs.push_back(args.positional[i]);
                }
            }
            Object kwargs;
            for (auto &[key, value] : args.keywords) {
                bool matched = false;
                for (std::size_t i = 0; i < params->size(); ++i)
                    if ((*params)[i].name == key) {
                        if (bound[i])
                            throw Error("macro '" + name + "' got multiple values for argument '" + key + "'");
                        frame->vars[key] = value;
                        bound[i] = true;
                        matched = true;
                    }
                if (!matched) {
                    if (key == "caller")
                        frame->vars["caller"] = value;
                    else
                        kwargs.set(key, value);
                }
            }
            for (std::size_t i = 0; i < params->size(); ++i) {
                if (bound[i])
                    continue;
                const auto &p = (*params)[i];
                frame->vars[p.name] = p.defaultValue ? eval(*p.defaultValue, frame)
                                                     : Value::undefined("parameter '" + p.name + "' was not given");
            }
            frame->vars["varargs"] = Value::tuple(std::move(varargs));
            frame->vars["kwargs"] = Value(std::move(kwargs));
            return Value(capture(*macroBody, frame, loc));
        }});
    }

    // ---- expressions ----

    Value eval(const Expr &expr, const FramePtr &frame)
    {
        switch (expr.kind) {
        case Expr::Kind::Literal: return static_cast<const LiteralExpr &>(expr).value;
        case Expr::Kind::Name: return lookup(static_cast<const NameExpr &>(expr).name, frame);
        case Expr::Kind::List:
        case Expr::Kind::Tuple: {
            Value::Array items;
            for (const auto &item : static_cast<const SequenceExpr &>(expr).items)
                items.push_back(eval(*item, frame));
            return expr.kind == Expr::Kind::Tuple ? Value::tuple(std::move(items)) : Value(std::move(items));
        }
        case Expr::Kind::Dict: {
            Object object;
            for (const auto &[k, v] : static_cast<const DictExpr &>(expr).items) {
                const Value key = eval(*k, frame);
                if (!key.isString())
                    fail(k->loc, "dict keys must be strings here, not " + key.typeName());
                object.set(key.string(), eval(*v, frame));
            }
            return Value(std::move(object));
        }
        case Expr::Kind::Attribute: {
            const auto &e = static_cast<const AttributeExpr &>(expr);
            const Value object = eval(*e.object, frame);
            if (object.isUndefined())
                fail(e.loc, undefinedMessage(object, *e.object) + " (reading '." + e.name + "')");
            return at(e.loc, [&] { return getAttribute(object, e.name); });
        }
        case Expr::Kind::Subscript: {
            const auto &e = static_cast<const SubscriptExpr &>(expr);
            const Value object = eval(*e.object, frame);
            const Value index = eval(*e.index, frame);
            if (object.isUndefined())
                fail(e.loc, undefinedMessage(object, *e.object) + " (reading [" + index.repr() + "])");
            return at(e.loc, [&] { return getItem(object, index); });
        }
        case Expr::Kind::Slice: {
            const auto &e = static_cast<const SliceExpr &>(expr);
            const Value object = eval(*e.object, frame);
            if (object.isUndefined())
                fail(e.loc, undefinedMessage(object, *e.object) + " (slicing)");
            const Value start = e.start ? eval(*e.start, frame) : Value::none();
            const Value stop = e.stop ? eval(*e.stop, frame) : Value::none();
            const Value step = e.step ? eval(*e.step, frame) : Value::none();
            return at(e.loc, [&] { return slice(object, start, stop, step); });
        }
        case Expr::Kind::Call: return evalCall(static_cast<const CallExpr &>(expr), frame, nullptr);
        case Expr::Kind::Filter: {
            const auto &e = static_cast<const FilterExpr &>(expr);
            return evalFilter(e, eval(*e.operand, frame), frame);
        }
        case Expr::Kind::Test: {
            const auto &e = static_cast<const TestExpr &>(expr);
            const Value operand = eval(*e.operand, frame);
            CallArguments args = evalArguments(e.args, e.kwargs, frame);
            const bool result = at(e.loc, [&] { return callTest(*this, e.name, operand, args); });
            return Value(e.negated ? !result : result);
        }
        case Expr::Kind::Unary: {
            const auto &e = static_cast<const UnaryExpr &>(expr);
            const Value v = eval(*e.operand, frame);
            if (e.op == UnaryExpr::Op::Not)
                return Value(!v.truthy());
            if (v.isUndefined())
                fail(e.loc, undefinedMessage(v, *e.operand));
            return at(e.loc, [&] { return unaryMinusPlus(v, e.op == UnaryExpr::Op::Negate); });
        }
        case Expr::Kind::Binary: return evalBinary(static_cast<const BinaryExpr &>(expr), frame);
        case Expr::Kind::Conditional: {
            const auto &e = static_cast<const ConditionalExpr &>(expr);
            if (eval(*e.condition, frame).truthy())
                return eval(*e.then, frame);
            return e.otherwise ? eval(*e.otherwise, frame) : Value::undefined("the conditional expression has no else");
        }
        }
        return Value::undefined();
    }

    std::string undefinedMessage(const Value &v, const Expr &source) const
    {
        if (!v.undefinedHint().empty())
            return v.undefinedHint();
        if (source.kind == Expr::Kind::Name)
            return "'" + static_cast<const NameExpr &>(source).name + "' is undefined";
        return "the value is undefined";
    }

    CallArguments evalArguments(const std::vector<ExprPtr> &args, const std::vector<Keyword> &kwargs, const FramePtr &frame)
    {
        CallArguments out;
        for (const auto &a : args)
            out.positional.push_back(eval(*a, frame));
        for (const auto &k : kwargs)
            out.keywords.emplace_back(k.name, eval(*k.value, frame));
        return out;
    }

    Value evalCall(const CallExpr &e, const FramePtr &frame, const Value *caller)
    {
        const Value callee = eval(*e.callee, frame);
        if (callee.isUndefined())
            fail(e.loc, undefinedMessage(callee, *e.callee) + " (called as a function)");
        if (!callee.isFunction())
            fail(e.loc, "'" + callee.typeName() + "' object is not callable");
        CallArguments args = evalArguments(e.args, e.kwargs, frame);
        if (caller)
            args.keywords.emplace_back("caller", *caller);
        return at(e.loc, [&] { return callee.function().call(args); });
    }

    Value evalFilter(const FilterExpr &e, const Value &operand, const FramePtr &frame)
    {
        CallArguments args = evalArguments(e.args, e.kwargs, frame);
        return at(e.loc, [&] { return callFilter(*this, e.name, operand, args); });
    }

    Value evalBinary(const BinaryExpr &e, const FramePtr &frame)
    {
        using Op = BinaryExpr::Op;
        if (e.op == Op::And) {
            Value left = eval(*e.left, frame);
            return left.truthy() ? eval(*e.right, frame) : left;
        }
        if (e.op == Op::Or) {
            Value left = eval(*e.left, frame);
            return left.truthy() ? left : eval(*e.right, frame);
        }
        const Value left = eval(*e.left, frame);
        const Value right = eval(*e.right, frame);
        switch (e.op) {
        case Op::Concat: return Value(left.str() + right.str());
        case Op::Eq: return Value(left.equals(right));
        case Op::Ne: return Value(!left.equals(right));
        case Op::In:
        case Op::NotIn: {
            const bool found = at(e.loc, [&] { return contains(right, left); });
            return Value(e.op == Op::In ? found : !found);
        }
        default: break;
        }
        if (left.isUndefined())
            fail(e.loc, undefinedMessage(left, *e.left));
        if (right.isUndefined())
            fail(e.loc, undefinedMessage(right, *e.right));
        return at(e.loc, [&] { return binaryOperation(static_cast<int>(e.op), left, right); });
    }

    const std::string &mName;
    const RenderOptions &mOptions;
    const Object &mVariables;
    RenderResult mResult;
    std::string *mOut = nullptr;
    int mDepth = 0;
    std::uint64_t mSteps = 0;
    std::vector<Value> mNamespaces;
};

} // namespace

JinjaTemplate::JinjaTemplate(const std::string &source, std::string name)
    : mName(std::move(name)),
      mBody(std::make_shared<const Body>(parseTemplate(source, mName)))
{}

JinjaTemplate::~JinjaTemplate() = default;
JinjaTemplate::JinjaTemplate(JinjaTemplate &&) noexcept = default;
JinjaTemplate &JinjaTemplate::operator=(JinjaTemplate &&) noexcept = default;

RenderResult JinjaTemplate::render(const Object &variables, const RenderOptions &options) const
{
    Renderer renderer(mName, options, variables);
    auto root = std::make_shared<Frame>();
    try {
        renderer.execBody(*mBody, root);
    } catch (const TemplateError &) {
        renderer.releaseNamespaces();
        throw;
    } catch (const Error &e) {
        renderer.releaseNamespaces();
        throw TemplateError(mName, 0, 0, e.what());
    }
    renderer.releaseNamespaces();
    return renderer.take();
}

} // namespace plad::jinja
