#pragma once

#include "common/configschema.h"

#include <QObject>
#include <QString>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLineEdit;
class QSpinBox;
class QWidget;

namespace plad::ui {

/**
 * Editors bound to the fields of a configuration schema. Each editor takes its range, choices,
 * default and tooltip from the schema field; load() shows a document over the defaults, and
 * write() puts back only what the user changed: a field the file had and nobody touched keeps
 * its exact JSON, a field the file lacked and nobody touched stays absent. So a file loaded and
 * saved unedited means exactly what it meant, to the GUI and to the command line alike.
 */
class SchemaForm : public QObject
{
    Q_OBJECT

public:
    explicit SchemaForm(const ConfigSchema &schema, QObject *parent = nullptr);

    /**
     * Editors for the field at `path`. `when` ("teacher.type=http") makes the binding apply only
     * while the document (or the form, for fields it edits) says so; it also picks the schema
     * entry of a path that has several (teacher.model is a folder or a model name).
     */
    QSpinBox *integer(const std::string &path, QWidget *parent, const std::string &when = {});
    QDoubleSpinBox *number(const std::string &path, QWidget *parent, const std::string &when = {});
    /** A combo box of the field's choices; `labels` (same order) are shown instead of the names. */
    QComboBox *choice(const std::string &path, QWidget *parent, const QStringList &labels = {}, const std::string &when = {});
    QCheckBox *boolean(const std::string &path, const QString &text, QWidget *parent, const std::string &when = {});
    /** A line edit; a Path field shows absolute paths (resolved against the document's directory). */
    QLineEdit *text(const std::string &path, QWidget *parent, const std::string &when = {});
    /** Binds an existing line edit too (one editor for two fields, e.g. a teacher folder or file). */
    void bindText(QLineEdit *edit, const std::string &path, const std::string &when = {});

    /** Shows `doc` (relative paths resolved against `baseDirectory`) over the schema's defaults. */
    void load(const nlohmann::json &doc, const QString &baseDirectory);
    /** `doc` (the document as loaded, fields the form does not show included) with the user's edits. */
    nlohmann::json write(nlohmann::json doc) const;
    /** The value a bound editor holds now, as JSON (null when it holds nothing). */
    nlohmann::json current(const std::string &path, const std::string &when = {}) const;
    /** The schema entry of a binding (for labels and tests). */
    const ConfigField *field(const std::string &path, const std::string &when = {}) const;

private:
    struct Binding
    {
        std::string path, when;
        const ConfigField *field = nullptr;
        QWidget *editor = nullptr;
        std::optional<nlohmann::json> shown; ///< what load() put in the editor, as the editor holds it
    };
    Binding &bind(QWidget *editor, const std::string &path, const std::string &when);
    nlohmann::json editorValue(const Binding &b) const;
    void setEditorValue(const Binding &b, const nlohmann::json &value);
    /** Whether `when` holds: in the form when a bound editor edits its field, else in `doc`. */
    bool holds(const std::string &when, const nlohmann::json &doc) const;

    const ConfigSchema &mSchema;
    std::vector<Binding> mBindings;
    QString mBase;
};

} // namespace plad::ui
