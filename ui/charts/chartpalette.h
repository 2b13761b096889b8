#pragma once

class QCustomPlot;
class QPalette;

namespace plad::ui {

/**
 * Gives a chart the colours of `palette`: background from Base, axes, ticks, labels, titles and
 * legend text from Text, grid lines a faint mix of the two, the legend box over Base. The data
 * colours (a method's hue) stay as they are: they read on light and dark backgrounds alike.
 * Charts call it when built and on every QEvent::PaletteChange (the theme changed).
 */
void applyChartPalette(QCustomPlot *plot, const QPalette &palette);

} // namespace plad::ui
