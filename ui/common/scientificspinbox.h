#pragma once

#include <QDoubleSpinBox>

namespace plad::ui {

/**
 * A spin box for a positive real of any magnitude (a learning rate of 5e-7, an epsilon of
 * 1e-12): no rounding to a fixed number of decimals, text in the shortest exact form ("5e-07",
 * "0.0003"), typed in plain or scientific notation. The arrows halve or double the value.
 */
class ScientificSpinBox : public QDoubleSpinBox
{
    Q_OBJECT

public:
    explicit ScientificSpinBox(QWidget *parent = nullptr);

    QString textFromValue(double value) const override;
    double valueFromText(const QString &text) const override;
    QValidator::State validate(QString &text, int &pos) const override;
    void fixup(QString &text) const override;
    void stepBy(int steps) override;
};

} // namespace plad::ui
