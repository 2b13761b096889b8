// plad-workbench: the desktop application. Wiring only.
#include "common/openmpwait.h"
#include "plad/demostudy.h"
#include "model/runtime.h"
#include "evaluate/evaluateview.h"
#include "mainwindow/mainwindow.h"
#include "playground/playgroundview.h"
#include "runs/runsview.h"
#include "setup/setupview.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QFile>
#include <QStatusBar>
#include <QTabWidget>
#include <QTimer>

#include <cstdio>
#include <iterator>

#include <nlohmann/json.hpp>

int main(int argc, char **argv)
{
    plad::ensurePassiveOpenMPWaiting(argv);
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("PLaD Workbench"));
    QApplication::setOrganizationName(QStringLiteral("PLaD"));
    QApplication::setApplicationVersion(QStringLiteral("0.1.0"));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Distil language models with PLaD: set up, inspect pairs, watch training, compare, report."));
    parser.addHelpOption();
    parser.addVersionOption();
    QCommandLineOption workspace(QStringLiteral("workspace"), QStringLiteral("Workspace folder to open."), QStringLiteral("dir"));
    QCommandLineOption demo(QStringLiteral("demo"), QStringLiteral("Load the embedded demo and start its PLaD run."));
    QCommandLineOption threads(QStringLiteral("threads"), QStringLiteral("Torch threads (default: PLAD_THREADS or all cores)."), QStringLiteral("n"));
    QCommandLineOption screenshots(QStringLiteral("screenshots"),
                                   QStringLiteral("Save a picture of each area into DIR after --screenshot-delay seconds, then quit (documentation)."),
                                   QStringLiteral("dir"));
    QCommandLineOption delay(QStringLiteral("screenshot-delay"), QStringLiteral("Seconds before the screenshots (default 60)."), QStringLiteral("s"),
                             QStringLiteral("60"));
    QCommandLineOption openRun(QStringLiteral("open-run"), QStringLiteral("Open this run of the workspace."), QStringLiteral("id"));
    QCommandLineOption loadDemo(QStringLiteral("load-demo"), QStringLiteral("Load the embedded demo into Setup without starting it."));
    QCommandLineOption compare(QStringLiteral("compare"), QStringLiteral("Compare these runs (comma-separated ids) in Runs."), QStringLiteral("ids"));
    QCommandLineOption playground(QStringLiteral("playground"), QStringLiteral("Open the Playground and generate for this prompt with the demo's teacher and student."),
                                  QStringLiteral("prompt"));
    QCommandLineOption theme(QStringLiteral("theme"), QStringLiteral("Theme for this session: system, light or dark (View remembers a choice)."),
                             QStringLiteral("name"));
    QCommandLineOption evaluate(QStringLiteral("evaluate"), QStringLiteral("Open Evaluate with this JSON settings file and start it (documentation)."),
                                QStringLiteral("file"));
    parser.addOptions({workspace, demo, threads, screenshots, delay, openRun, loadDemo, compare, playground, theme, evaluate});
    parser.process(app);
    plad::configureThreads(parser.value(threads).toInt());
    const plad::RuntimeInfo runtime = plad::runtimeInfo();
    const std::string blasWarning = plad::blasWarning(runtime);
    std::fprintf(stderr, "plad-workbench: %s\n", plad::describeRuntime(runtime).c_str());
    if (!blasWarning.empty())
        std::fprintf(stderr, "plad-workbench: warning: %s\n", blasWarning.c_str());

    plad::ui::MainWindow window;
    window.setRuntimeDescription(QString::fromStdString(plad::describeRuntime(runtime)));
    if (parser.isSet(theme))
        window.setTheme(parser.value(theme));
    window.setDemoDirectory(QString::fromStdString(plad::defaultDemoDirectory().string()));
    if (parser.isSet(workspace))
        window.openWorkspace(parser.value(workspace));
    window.show();
    if (!blasWarning.empty())
        window.statusBar()->showMessage(QString::fromStdString("Warning: " + blasWarning));
    if (parser.isSet(loadDemo))
        QTimer::singleShot(0, &window, [&window] { window.loadDemo(); });
    if (parser.isSet(compare))
        QObject::connect(window.runsView(), &plad::ui::RunsView::refreshed, &window, [&window, ids = parser.value(compare).split(QLatin1Char(','))] {
            // Once the opened workspace's runs are listed (the refresh of an earlier workspace may come first).
            int found = 0;
            for (const auto &r : window.runsView()->runs())
                found += ids.contains(QString::fromStdString(r.record.id)) ? 1 : 0;
            if (found == ids.size() && window.runsView()->configDifferences().isEmpty())
                window.runsView()->compare(ids);
        });
    if (parser.isSet(openRun))
        QTimer::singleShot(0, &window, [&window, id = parser.value(openRun)] { window.openRun(id, QStringLiteral("plad")); });
    if (parser.isSet(screenshots))
        QTimer::singleShot(static_cast<int>(parser.value(delay).toDouble() * 1000), &window, [&window, dir = parser.value(screenshots)] {
            QDir().mkpath(dir);
            const char *names[] = {"setup", "pairs", "monitor", "runs", "evaluate", "report", "playground"};
            for (int i = 0; i < window.tabs()->count() && i < static_cast<int>(std::size(names)); ++i) {
                window.tabs()->setCurrentIndex(i);
                for (int k = 0; k < 10; ++k)
                    QApplication::processEvents();
                window.grab().save(QStringLiteral("%1/%2-%3.png").arg(dir).arg(i + 1).arg(QString::fromLatin1(names[i])));
            }
            window.setConfirmClose(false);
            window.close();
        });
    if (parser.isSet(evaluate))
        QTimer::singleShot(500, &window, [&window, file = parser.value(evaluate)] {
            // {"models": [...], "data": FILE, "reference_field": ..., "id_field": ..., "limit": N, "max_new_tokens": N}
            QFile in(file);
            const auto doc = in.open(QIODevice::ReadOnly) ? nlohmann::json::parse(in.readAll().toStdString(), nullptr, false) : nlohmann::json();
            if (!doc.is_object()) {
                std::fprintf(stderr, "plad-workbench: --evaluate %s: not a JSON object\n", qPrintable(file));
                return;
            }
            plad::ui::EvaluationSettings s;
            s.workspace = window.workspace();
            for (const auto &m : doc.value("models", nlohmann::json::array()))
                s.models << QString::fromStdString(m.get<std::string>());
            s.dataFile = QString::fromStdString(doc.value("data", std::string()));
            s.referenceField = QString::fromStdString(doc.value("reference_field", std::string("response")));
            s.idField = QString::fromStdString(doc.value("id_field", std::string()));
            s.limit = doc.value("limit", int64_t(100));
            s.maxNewTokens = doc.value("max_new_tokens", int64_t(32));
            s.maxPromptTokens = doc.value("max_prompt_tokens", int64_t(512));
            window.tabs()->setCurrentWidget(window.evaluateView());
            window.evaluateView()->setSettings(s);
            window.evaluateView()->start();
        });
    if (parser.isSet(playground))
        QTimer::singleShot(0, &window, [&window, prompt = parser.value(playground)] {
            window.tabs()->setCurrentWidget(window.playground());
            window.playground()->setPrompt(prompt);
            window.playground()->generate();
        });
    if (parser.isSet(demo))
        QTimer::singleShot(0, &window, [&window] {
            window.loadDemo();
            window.launch();
        });
    return QApplication::exec();
}
