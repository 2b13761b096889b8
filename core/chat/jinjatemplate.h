#pragma once

#include "common/error.h"
#include "jinjavalue.h"

#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace plad::jinja {

struct Stmt;

/**
 * A template that failed to parse or to render: the message names the template, the line and
 * column, and what was wrong ("chat_template:3:17: unknown filter 'frobnicate'"). A template's
 * own `raise_exception("...")` arrives as one too, its text in the message.
 */
class TemplateError : public FormatError
{
public:
    TemplateError(const std::string &templateName, int line, int column, const std::string &what);
    int line() const { return mLine; }
    int column() const { return mColumn; }
    /** The message without the "name:line:column: " prefix. */
    const std::string &detail() const { return mDetail; }

private:
    int mLine;
    int mColumn;
    std::string mDetail;
};

/** What a render may depend on besides its variables. */
struct RenderOptions
{
    /** The time `strftime_now` formats; the current local time when empty. */
    std::optional<std::tm> now;
    /** Stops runaway templates (a loop over range(10**9), deep macro recursion). */
    std::size_t maxOutputBytes = 64u << 20;
    int maxCallDepth = 200;
    std::uint64_t maxSteps = 1'000'000; ///< statements and loop iterations (a long tool conversation takes ~10^5)
};

struct RenderResult
{
    std::string text;
    /** Byte ranges [begin, end) of `text` written inside `{% generation %}` blocks. */
    std::vector<std::pair<std::size_t, std::size_t>> generationSpans;
};

/**
 * A Jinja template with the semantics of jinja2 as transformers renders chat templates
 * (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols; `tojson` as
 * json.dumps with ensure_ascii off; globals `raise_exception`, `strftime_now`, `range`,
 * `namespace`, `dict`). Parsing happens once; rendering is const and thread-safe.
 * The supported language is listed in docs/chat-templates.md; anything else is a
 * TemplateError at parse time (syntax) or render time (unknown filter, test or method).
 */
class JinjaTemplate
{
public:
    /** Parses `source`; `name` appears in error messages. Throws TemplateError. */
    JinjaTemplate(const std::string &source, std::string name = "template");
    ~JinjaTemplate();
    JinjaTemplate(JinjaTemplate &&) noexcept;
    JinjaTemplate &operator=(JinjaTemplate &&) noexcept;

    const std::string &name() const { return mName; }

    /** Renders with `variables` (a dict) as the template's context. Throws TemplateError. */
    RenderResult render(const Object &variables, const RenderOptions &options = {}) const;

private:
    std::string mName;
    std::shared_ptr<const std::vector<std::unique_ptr<Stmt>>> mBody;
};

} // namespace plad::jinja
