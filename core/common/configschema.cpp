#include "common/configschema.h"

#include <cstdio>

namespace plad {

namespace {

std::vector<std::string> splitPath(const std::string &path)
{
    std::vector<std::string> parts;
    size_t start = 0;
    while (true) {
        const size_t dot = path.find('.', start);
        parts.push_back(path.substr(start, dot - start));
        if (dot == std::string::npos)
            return parts;
        start = dot + 1;
    }
}

std::string number(double v)
{
    char text[32];
    std::snprintf(text, sizeof text, "%g", v);
    return text;
}

void collectLeaves(const nlohmann::json &node, const std::string &prefix, std::vector<std::string> &out)
{
    if (!node.is_object() || node.empty()) {
        if (!prefix.empty())
            out.push_back(prefix);
        return;
    }
    for (auto it = node.begin(); it != node.end(); ++it)
        collectLeaves(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key(), out);
}

} // namespace

bool ConfigField::inRange(double value) const
{
    if (minimum && (exclusiveMinimum ? !(value > *minimum) : !(value >= *minimum)))
        return false;
    if (maximum && (exclusiveMaximum ? !(value < *maximum) : !(value <= *maximum)))
        return false;
    return true;
}

std::string ConfigField::constraint() const
{
    if (type == FieldType::Choice) {
        std::string text = "one of ";
        for (size_t i = 0; i < choices.size(); ++i)
            text += (i ? ", " : "") + choices[i];
        return text;
    }
    if (minimum && maximum)
        return "in " + std::string(exclusiveMinimum ? "(" : "[") + number(*minimum) + ", " + number(*maximum) + (exclusiveMaximum ? ")" : "]");
    if (minimum)
        return (exclusiveMinimum ? "greater than " : "at least ") + number(*minimum);
    if (maximum)
        return (exclusiveMaximum ? "less than " : "at most ") + number(*maximum);
    return {};
}

nlohmann::json valueAt(const nlohmann::json &doc, const std::string &path)
{
    const nlohmann::json *node = &doc;
    for (const auto &part : splitPath(path)) {
        if (!node->is_object() || !node->contains(part))
            return nullptr;
        node = &(*node)[part];
    }
    return *node;
}

void setValueAt(nlohmann::json &doc, const std::string &path, nlohmann::json value)
{
    nlohmann::json *node = &doc;
    const auto parts = splitPath(path);
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
        if (!node->is_object())
            *node = nlohmann::json::object();
        node = &(*node)[parts[i]];
    }
    if (!node->is_object())
        *node = nlohmann::json::object();
    (*node)[parts.back()] = std::move(value);
}

void removeValueAt(nlohmann::json &doc, const std::string &path)
{
    const auto parts = splitPath(path);
    std::vector<nlohmann::json *> chain = {&doc};
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
        nlohmann::json *node = chain.back();
        if (!node->is_object() || !node->contains(parts[i]))
            return;
        chain.push_back(&(*node)[parts[i]]);
    }
    if (!chain.back()->is_object())
        return;
    chain.back()->erase(parts.back());
    for (size_t i = chain.size() - 1; i > 0 && chain[i]->is_object() && chain[i]->empty(); --i)
        chain[i - 1]->erase(parts[i - 1]);
}

std::vector<std::string> leafPaths(const nlohmann::json &doc)
{
    std::vector<std::string> out;
    collectLeaves(doc, "", out);
    return out;
}

bool ConfigSchema::applies(const ConfigField &field, const nlohmann::json &doc) const
{
    if (field.when.empty())
        return true;
    const auto eq = field.when.find('=');
    const std::string path = field.when.substr(0, eq);
    const std::string wanted = field.when.substr(eq + 1);
    nlohmann::json value = doc.is_null() ? nlohmann::json() : valueAt(doc, path);
    if (value.is_null())
        if (const ConfigField *condition = find(path, doc))
            value = condition->defaultValue;
    return value.is_string() && value.get<std::string>() == wanted;
}

const ConfigField *ConfigSchema::find(const std::string &path, const nlohmann::json &doc) const
{
    for (const auto &f : mFields)
        if (f.path == path && applies(f, doc))
            return &f;
    return nullptr;
}

} // namespace plad
