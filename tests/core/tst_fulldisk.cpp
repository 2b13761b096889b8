// A full disk and a read-only workspace, at every stage of a PLaD run: the run stops with a clear
// error naming what could not be written, keeps everything it had stored, and once there is
// space again (or the workspace is writable) resumes to the same result as a run that never
// stopped. The workspace lives on a small tmpfs this test mounts, so it needs to run as root (as
// CI does); elsewhere it reports itself skipped (exit status 77), not passed.
#include "clirunner.h"
#include "runsnapshot.h"
#include "store/workspace.h"
#include "testsupport.h"

#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>
#include <fstream>

#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

using namespace plad;
using test::runPlad;
using test::str;
namespace fs = std::filesystem;

namespace {

/** The "plad: error: " line of a failed command's standard error (after its start-up line). */
std::string errorLine(const QByteArray &err)
{
    std::string found;
    for (const auto &line : QString::fromUtf8(err).split('\n'))
        if (line.startsWith("plad: error: ")) {
            if (!found.empty())
                return "two error lines: " + found + " / " + line.toStdString();
            found = line.toStdString();
        }
    return found;
}

constexpr uint64_t kDiskBytes = 8u << 20;

uint64_t freeBytes(const fs::path &dir)
{
    struct statvfs s{};
    if (::statvfs(dir.c_str(), &s) != 0)
        return 0;
    return static_cast<uint64_t>(s.f_bavail) * s.f_frsize;
}

uint64_t bytesUnder(const fs::path &dir)
{
    uint64_t total = 0;
    for (const auto &e : fs::recursive_directory_iterator(dir))
        if (e.is_regular_file())
            total += (e.file_size() + 4095) / 4096 * 4096; // tmpfs takes whole pages
    return total;
}

/** Fills `disk` with a ballast file until about `leave` bytes are free. */
void fillDisk(const fs::path &disk, uint64_t leave)
{
    const uint64_t available = freeBytes(disk);
    if (available <= leave)
        return;
    std::ofstream ballast(disk / "ballast", std::ios::binary);
    const std::string block(4096, '\0');
    for (uint64_t n = (available - leave) / block.size(); n > 0; --n)
        ballast.write(block.data(), static_cast<std::streamsize>(block.size()));
}

bool hasRun(const fs::path &ws)
{
    try {
        return fs::exists(ws / Workspace::fileName) && Workspace::openReadOnly(ws).runs().run("r0001-plad").has_value();
    } catch (const StoreError &) {
        return false;
    }
}

QString g_mountError;

} // namespace

class TestFullDisk : public QObject
{
    Q_OBJECT

public:
    fs::path mDisk;

private:
    QTemporaryDir mTmp;
    fs::path mRoot;
    fs::path mConfig;
    test::RunSnapshot mWant;
    uint64_t mFootprint = 0;

    void remount(unsigned long flags)
    {
        QVERIFY2(::mount("tmpfs", mDisk.c_str(), "tmpfs", MS_REMOUNT | flags, "size=8m") == 0, std::strerror(errno));
    }

    void clearDisk()
    {
        for (const auto &e : fs::directory_iterator(mDisk))
            fs::remove_all(e.path());
    }

    /** Resumes (or, when the run was never created, starts) the run in `ws` until it completes. */
    void finish(const fs::path &ws)
    {
        const auto r = hasRun(ws) ? runPlad({"run", "--resume", "r0001-plad", "--workspace", str(ws), "--quiet"}, 600000)
                                  : runPlad({"run", str(mConfig), "--workspace", str(ws), "--quiet"}, 600000);
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const std::string difference = test::differenceBetween(test::snapshotRun(ws), mWant);
        QVERIFY2(difference.empty(), difference.c_str());
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(mTmp.isValid());
        mRoot = fs::path(mTmp.path().toStdString());
        test::buildTinyTask(mRoot);
        mConfig = test::writeTinyRunConfig(mRoot, "disk.json",
                                           {{"pairs", {{"prompts", 24}, {"per_prompt", 2}, {"batch_size", 4}}},
                                            {"eval", {{"prompts", 4}, {"samples", 2}, {"every", 4}}},
                                            {"train", {{"max_steps", 12}, {"checkpoint_every", 3}}}});
        const fs::path whole = mRoot / "ws-whole";
        const auto r = runPlad({"run", str(mConfig), "--workspace", str(whole), "--quiet"}, 600000);
        QVERIFY2(r.exitCode == 0, r.err.constData());
        mWant = test::snapshotRun(whole);
        mFootprint = bytesUnder(whole);
        qInfo("an uninterrupted run leaves %llu KiB in its workspace", static_cast<unsigned long long>(mFootprint / 1024));
        QVERIFY(mFootprint * 2 < kDiskBytes);
    }

    void fullDiskAtEveryStage()
    {
        // Free space from almost none (the workspace cannot even be created) to nearly what the
        // run needs (it fails at its last writes), in steps that land in each stage.
        std::set<std::string> stages;
        for (const double fraction : {0.0, 0.05, 0.2, 0.4, 0.6, 0.8, 0.95, 1.0, 1.05, 1.1, 1.2, 1.4, 1.7, 2.0}) {
            clearDisk();
            const fs::path ws = mDisk / "ws";
            fillDisk(mDisk, static_cast<uint64_t>(fraction * static_cast<double>(mFootprint)));
            const auto r = runPlad({"run", str(mConfig), "--workspace", str(ws), "--quiet"}, 600000);
            const std::string err = errorLine(r.err);
            qInfo("%.0f%% of the footprint free: exit %d: %s", fraction * 100, r.exitCode, err.substr(0, 300).c_str());
            if (r.exitCode == 0)
                continue; // it all fitted (a tmpfs page more or less): nothing to check here
            QVERIFY2(r.exitCode == 1, ("a full disk is the user's problem, not an internal error: " + err).c_str());
            QVERIFY2(err.find("plad: error: ") == 0, r.err.constData());
            QVERIFY2(err.find("No space left") != std::string::npos || err.find("disk is full") != std::string::npos, err.c_str());
            QVERIFY2(err.find(mDisk.string()) != std::string::npos, ("the message names the file: " + err).c_str());
            // Space again; then what the run left behind is read.
            fs::remove(mDisk / "ballast");
            std::string stage = "workspace";
            // A workspace whose schema the full disk stopped (version 0) is finished by the next
            // read-write open; one that got further must be consistent.
            bool readable = false;
            try {
                readable = fs::exists(ws / Workspace::fileName) && (Workspace::openReadOnly(ws), true);
            } catch (const StoreError &e) {
                QVERIFY2(std::string(e.what()).find("schema version 0") != std::string::npos, e.what());
            }
            if (readable) {
                auto store = Workspace::openReadOnly(ws);
                QCOMPARE(store.integrityCheck(), std::string("ok"));
                if (store.runs().run("r0001-plad")) {
                    // The stage that was not completed when the disk filled.
                    stage = "prepare";
                    for (const auto &st : store.runs().stages("r0001-plad"))
                        if (st.status != "completed") {
                            stage = st.stage;
                            break;
                        }
                    // What was stored before the disk filled is what an uninterrupted run stored.
                    for (const auto &o : store.pairs().outputs("r0001-plad"))
                        QCOMPARE(o.text, mWant.outputs.at({o.promptId, static_cast<int>(o.source), o.sample}));
                }
            }
            stages.insert(stage);
            finish(ws);
            if (QTest::currentTestFailed())
                return;
        }
        std::string list;
        for (const auto &s : stages)
            list += s + " ";
        qInfo("stages where the disk filled: %s", list.c_str());
        QVERIFY2(stages.size() >= 3, ("the disk filled in fewer than three stages: " + list).c_str());
    }

    void readOnlyWorkspace()
    {
        clearDisk();
        const fs::path ws = mDisk / "ws-ro";
        auto r = runPlad({"run", str(mConfig), "--workspace", str(ws), "--generate-only", "--quiet"}, 600000);
        QVERIFY2(r.exitCode == 0, r.err.constData());
        remount(MS_RDONLY);
        r = runPlad({"run", "--resume", "r0001-plad", "--workspace", str(ws), "--quiet"}, 600000);
        const std::string err = errorLine(r.err);
        qInfo("resume on a read-only workspace: exit %d: %s", r.exitCode, err.c_str());
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(err.find("read-only") != std::string::npos || err.find("readonly") != std::string::npos, err.c_str());
        QVERIFY2(err.find(ws.string()) != std::string::npos, err.c_str());
        // Reading still works: the runs and their pairs can be listed and exported.
        r = runPlad({"runs", "list", "--workspace", str(ws)});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QVERIFY(r.out.contains("r0001-plad"));
        remount(0);
        finish(ws);
    }
};

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    TestFullDisk test;
    // A disk of our own: 8 MiB of tmpfs. Only root (or a user with CAP_SYS_ADMIN) can mount it.
    QTemporaryDir disk(QDir::tempPath() + "/plad-disk-XXXXXX");
    test.mDisk = fs::path(disk.path().toStdString());
    if (::mount("tmpfs", test.mDisk.c_str(), "tmpfs", 0, "size=8m") != 0) {
        std::fprintf(stderr, "tst_fulldisk: skipped: cannot mount a tmpfs at %s (%s); run as root\n", test.mDisk.c_str(), std::strerror(errno));
        return 77;
    }
    const int status = QTest::qExec(&test, argc, argv);
    ::umount(test.mDisk.c_str());
    return status;
}

#include "tst_fulldisk.moc"
