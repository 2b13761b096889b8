#include "common/scientificspinbox.h"

#include <QRegularExpression>

#include <cfloat>
#include <cmath>

namespace plad::ui {

ScientificSpinBox::ScientificSpinBox(QWidget *parent)
    : QDoubleSpinBox(parent)
{
    // QDoubleSpinBox rounds every value to decimals(); with the most it allows, nothing a double
    // can hold is rounded away.
    setDecimals(DBL_MAX_10_EXP + DBL_DIG);
    setRange(0, std::numeric_limits<double>::max());
}

QString ScientificSpinBox::textFromValue(double value) const
{
    // The shortest text that reads back to the same double.
    for (int precision = 6; precision <= 17; ++precision) {
        const QString text = QString::number(value, 'g', precision);
        if (text.toDouble() == value)
            return text;
    }
    return QString::number(value, 'g', 17);
}

double ScientificSpinBox::valueFromText(const QString &text) const
{
    return text.trimmed().toDouble();
}

QValidator::State ScientificSpinBox::validate(QString &text, int &) const
{
    const QString t = text.trimmed();
    bool ok = false;
    const double v = t.toDouble(&ok);
    if (ok)
        return v >= minimum() && v <= maximum() ? QValidator::Acceptable : QValidator::Intermediate;
    // What a number looks like while it is being typed: "", "1.", "1e", "1e-".
    static const QRegularExpression partial(QStringLiteral("^[+-]?(\\d+\\.?\\d*|\\.\\d*)?([eE][+-]?\\d*)?$"));
    return partial.match(t).hasMatch() ? QValidator::Intermediate : QValidator::Invalid;
}

void ScientificSpinBox::fixup(QString &text) const
{
    bool ok = false;
    const double v = text.trimmed().toDouble(&ok);
    text = textFromValue(ok ? std::clamp(v, minimum(), maximum()) : value());
}

void ScientificSpinBox::stepBy(int steps)
{
    const double v = value();
    setValue(v > 0 ? v * std::pow(2.0, steps) : (steps > 0 ? singleStep() : 0.0));
}

} // namespace plad::ui
