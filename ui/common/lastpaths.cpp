#include "common/lastpaths.h"

#include <QDir>
#include <QFileInfo>
#include <QSettings>

namespace plad::ui {

QString lastFolder(const QString &kind, const QString &fallback)
{
    const QString folder = QSettings().value(QStringLiteral("paths/") + kind).toString();
    return folder.isEmpty() ? (fallback.isEmpty() ? QDir::homePath() : fallback) : folder;
}

void rememberFolder(const QString &kind, const QString &path)
{
    const QFileInfo info(path);
    QSettings().setValue(QStringLiteral("paths/") + kind, info.isDir() ? info.absoluteFilePath() : info.absolutePath());
}

} // namespace plad::ui
