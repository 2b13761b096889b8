#include "setup/schemaform.h"

#include "common/scientificspinbox.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QLineEdit>
#include <QSpinBox>

#include <climits>
#include <cmath>
#include <filesystem>

namespace plad::ui {

namespace {

QString tooltipOf(const ConfigField &f)
{
    QString tip = QStringLiteral("<b>%1</b>: %2").arg(QString::fromStdString(f.path), QString::fromStdString(f.help).toHtmlEscaped());
    const std::string constraint = f.constraint();
    if (!constraint.empty() && f.type != FieldType::Choice)
        tip += QStringLiteral("<br>%1").arg(QString::fromStdString(constraint).toHtmlEscaped());
    if (!f.defaultValue.is_null())
        tip += QObject::tr("<br>default: %1").arg(QString::fromStdString(f.defaultValue.dump()).toHtmlEscaped());
    return tip;
}

int clampedInt(double v)
{
    return static_cast<int>(std::clamp(v, static_cast<double>(INT_MIN), static_cast<double>(INT_MAX)));
}

} // namespace

SchemaForm::SchemaForm(const ConfigSchema &schema, QObject *parent)
    : QObject(parent)
    , mSchema(schema)
{}

const ConfigField *SchemaForm::field(const std::string &path, const std::string &when) const
{
    // The entry whose condition is `when` (or any, for a path with one entry).
    const ConfigField *any = nullptr;
    for (const auto &f : mSchema.fields())
        if (f.path == path) {
            if (f.when == when)
                return &f;
            if (!any && (f.when.empty() || when.empty()))
                any = &f;
        }
    return any;
}

SchemaForm::Binding &SchemaForm::bind(QWidget *editor, const std::string &path, const std::string &when)
{
    Binding b;
    b.path = path;
    b.when = when;
    b.field = field(path, when);
    b.editor = editor;
    if (b.field)
        editor->setToolTip(tooltipOf(*b.field));
    mBindings.push_back(b);
    return mBindings.back();
}

QSpinBox *SchemaForm::integer(const std::string &path, QWidget *parent, const std::string &when)
{
    auto *box = new QSpinBox(parent);
    const ConfigField *f = field(path, when);
    int min = 0, max = INT_MAX;
    if (f && f->minimum)
        min = clampedInt(f->exclusiveMinimum ? std::floor(*f->minimum) + 1 : std::ceil(*f->minimum));
    if (f && f->maximum)
        max = clampedInt(f->exclusiveMaximum ? std::ceil(*f->maximum) - 1 : std::floor(*f->maximum));
    box->setRange(min, max);
    bind(box, path, when);
    return box;
}

QDoubleSpinBox *SchemaForm::number(const std::string &path, QWidget *parent, const std::string &when)
{
    auto *box = new ScientificSpinBox(parent);
    const ConfigField *f = field(path, when);
    double min = -std::numeric_limits<double>::max(), max = std::numeric_limits<double>::max();
    if (f && f->minimum)
        min = f->exclusiveMinimum ? std::nextafter(*f->minimum, max) : *f->minimum;
    if (f && f->maximum)
        max = f->exclusiveMaximum ? std::nextafter(*f->maximum, min) : *f->maximum;
    box->setRange(min, max);
    box->setSingleStep(0.1);
    bind(box, path, when);
    return box;
}

QComboBox *SchemaForm::choice(const std::string &path, QWidget *parent, const QStringList &labels, const std::string &when)
{
    auto *box = new QComboBox(parent);
    if (const ConfigField *f = field(path, when))
        for (size_t i = 0; i < f->choices.size(); ++i) {
            const QString name = QString::fromStdString(f->choices[i]);
            box->addItem(static_cast<int>(i) < labels.size() ? labels[static_cast<int>(i)] : name, name);
        }
    bind(box, path, when);
    return box;
}

QCheckBox *SchemaForm::boolean(const std::string &path, const QString &text, QWidget *parent, const std::string &when)
{
    auto *box = new QCheckBox(text, parent);
    bind(box, path, when);
    return box;
}

QLineEdit *SchemaForm::text(const std::string &path, QWidget *parent, const std::string &when)
{
    auto *edit = new QLineEdit(parent);
    bind(edit, path, when);
    return edit;
}

void SchemaForm::bindText(QLineEdit *edit, const std::string &path, const std::string &when)
{
    bind(edit, path, when);
}

nlohmann::json SchemaForm::editorValue(const Binding &b) const
{
    if (auto *spin = qobject_cast<QSpinBox *>(b.editor))
        return spin->value();
    if (auto *number = qobject_cast<QDoubleSpinBox *>(b.editor))
        return number->value();
    if (auto *combo = qobject_cast<QComboBox *>(b.editor))
        return combo->currentIndex() < 0 ? nlohmann::json() : nlohmann::json(combo->currentData().toString().toStdString());
    if (auto *check = qobject_cast<QCheckBox *>(b.editor))
        return check->isChecked();
    if (auto *edit = qobject_cast<QLineEdit *>(b.editor))
        return edit->text().trimmed().toStdString();
    return nullptr;
}

void SchemaForm::setEditorValue(const Binding &b, const nlohmann::json &value)
{
    if (auto *spin = qobject_cast<QSpinBox *>(b.editor)) {
        spin->setValue(value.is_number() ? clampedInt(value.get<double>()) : spin->minimum());
    } else if (auto *number = qobject_cast<QDoubleSpinBox *>(b.editor)) {
        number->setValue(value.is_number() ? value.get<double>() : number->minimum());
    } else if (auto *combo = qobject_cast<QComboBox *>(b.editor)) {
        const int index = value.is_string() ? combo->findData(QString::fromStdString(value.get<std::string>())) : -1;
        combo->setCurrentIndex(index >= 0 ? index : 0);
    } else if (auto *check = qobject_cast<QCheckBox *>(b.editor)) {
        check->setChecked(value.is_boolean() && value.get<bool>());
    } else if (auto *edit = qobject_cast<QLineEdit *>(b.editor)) {
        QString text = value.is_string() ? QString::fromStdString(value.get<std::string>()) : QString();
        if (b.field && b.field->type == FieldType::Path && !text.isEmpty() && !mBase.isEmpty())
            text = QDir::cleanPath(QDir(mBase).absoluteFilePath(text));
        edit->setText(text);
    }
}

bool SchemaForm::holds(const std::string &when, const nlohmann::json &doc) const
{
    if (when.empty())
        return true;
    const auto eq = when.find('=');
    const std::string path = when.substr(0, eq), wanted = when.substr(eq + 1);
    for (const auto &b : mBindings)
        if (b.path == path && b.when.empty()) {
            const auto v = editorValue(b);
            return v.is_string() && v.get<std::string>() == wanted;
        }
    ConfigField condition;
    condition.when = when;
    return mSchema.applies(condition, doc);
}

void SchemaForm::load(const nlohmann::json &doc, const QString &baseDirectory)
{
    mBase = baseDirectory;
    // Every editor back to its default first, so none keeps a value of the previous document
    // (a teacher folder while this document's teacher is an endpoint).
    for (auto &b : mBindings)
        setEditorValue(b, b.field ? b.field->defaultValue : nlohmann::json());
    // Unconditional bindings first: they decide which conditional ones apply.
    for (int pass = 0; pass < 2; ++pass)
        for (auto &b : mBindings) {
            if (b.when.empty() != (pass == 0))
                continue;
            if (b.field && !mSchema.applies(*b.field, doc)) {
                // Not a field of this document (another teacher type): nothing is shown for it.
                b.shown.reset();
                continue;
            }
            const auto inFile = valueAt(doc, b.path);
            setEditorValue(b, inFile.is_null() && b.field ? b.field->defaultValue : inFile);
            b.shown = editorValue(b);
        }
}

nlohmann::json SchemaForm::write(nlohmann::json doc) const
{
    const nlohmann::json loaded = doc;
    for (const auto &b : mBindings) {
        if (!holds(b.when, loaded))
            continue;
        const auto now = editorValue(b);
        if (b.shown && *b.shown == now)
            continue; // untouched: the file's own value, or its absence, stands
        if (now.is_string() && now.get<std::string>().empty() && valueAt(loaded, b.path).is_null())
            continue; // an empty text field the file never had
        setValueAt(doc, b.path, now);
    }
    return doc;
}

nlohmann::json SchemaForm::current(const std::string &path, const std::string &when) const
{
    for (const auto &b : mBindings)
        if (b.path == path && b.when == when)
            return editorValue(b);
    return nullptr;
}

} // namespace plad::ui
