#pragma once

// A configuration document's schema: every field with its type, default, range, allowed
// values and a one-line help text. Readers (ConfigReader-based fromJson functions) stay the
// authority on validation; a schema describes them for editors (the workbench's Setup form) and
// is checked against them by tests.

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace plad {

enum class FieldType {
    String,   ///< free text
    Path,     ///< a file or directory; relative paths resolve against the document's directory
    Integer,
    Number,   ///< a double
    Boolean,
    Choice,   ///< one of `choices`
    Template, ///< a prompt template: a preset name or an object
};

struct ConfigField
{
    std::string path;                 ///< dotted: "train.learning_rate"
    FieldType type = FieldType::String;
    nlohmann::json defaultValue;      ///< the effective value when the field is absent; null when required or derived
    std::optional<double> minimum, maximum;
    bool exclusiveMinimum = false, exclusiveMaximum = false;
    std::vector<std::string> choices; ///< Choice: the allowed names
    std::string help;                 ///< one line, for tooltips and docs
    std::string when;                 ///< "teacher.type=http": the field applies only then (empty: always)
    bool required = false;

    /** Whether `value` lies in the field's range (always true for non-numeric fields). */
    bool inRange(double value) const;
    /** "in (0, 1)", "at least 1", "one of a, b": the constraint in words (empty when none). */
    std::string constraint() const;
};

class ConfigSchema
{
public:
    ConfigSchema() = default;
    explicit ConfigSchema(std::vector<ConfigField> fields)
        : mFields(std::move(fields))
    {}

    const std::vector<ConfigField> &fields() const { return mFields; }
    /**
     * The field at `path` that applies to `doc` (its `when` condition holds there); with several
     * entries for one path (teacher.model is a folder for a local teacher and a name for an HTTP
     * one) the first that applies. Null when none does.
     */
    const ConfigField *find(const std::string &path, const nlohmann::json &doc = nullptr) const;
    /** Whether `field`'s condition holds in `doc` (a condition on an absent field uses that field's default). */
    bool applies(const ConfigField &field, const nlohmann::json &doc) const;

private:
    std::vector<ConfigField> mFields;
};

/** The value at a dotted path of `doc`, or null when any part is missing. */
nlohmann::json valueAt(const nlohmann::json &doc, const std::string &path);
/** Sets the value at a dotted path, creating objects on the way. */
void setValueAt(nlohmann::json &doc, const std::string &path, nlohmann::json value);
/** Removes the value at a dotted path (and objects left empty by it). */
void removeValueAt(nlohmann::json &doc, const std::string &path);
/** Every leaf's dotted path (objects are descended; arrays and scalars are leaves). */
std::vector<std::string> leafPaths(const nlohmann::json &doc);

} // namespace plad
