#pragma once

#include <QString>

namespace plad::ui {

/** The folder last used for `kind` of file ("config", "export", "chart"), kept across sessions; `fallback` before any. */
QString lastFolder(const QString &kind, const QString &fallback = {});
/** Remembers the folder of `path` (a file or a folder) for `kind`. */
void rememberFolder(const QString &kind, const QString &path);

} // namespace plad::ui
