// The demo task's data build: Translation-en parsing, sibling grouping, LZ4 round trip.
#include "common/compression.h"
#include "common/error.h"
#include "data/dataset.h"
#include "data/debiandescriptions.h"
#include "testsupport.h"

#include <QTemporaryDir>
#include <QtTest>

#include <fstream>

using namespace plad;

namespace {

std::string words(int n, const std::string &seed)
{
    std::string out;
    for (int i = 0; i < n; ++i)
        out += seed + std::to_string(i) + (i % 12 == 11 ? "\n " : " ");
    return out;
}

} // namespace

class TestDebianData : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir mTmp;
    std::filesystem::path tmp(const std::string &name) const { return std::filesystem::path(mTmp.path().toStdString()) / name; }

private Q_SLOTS:
    void parsesTranslationRecords()
    {
        test::writeBytes(tmp("Translation-en"),
                         "Package: foo\nDescription-md5: 0123\nDescription-en: Frobnicates widgets\n"
                         " Foo frobnicates widgets quickly\n and reliably.\n .\n It supports:\n  * fast mode\n  * slow mode\n\n"
                         "Package: bar\nDescription-en: Short one\n Bar.\n");
        const auto all = readDebianTranslations(tmp("Translation-en"));
        QCOMPARE(all.size(), size_t(2));
        QCOMPARE(all[0].package, std::string("foo"));
        QCOMPARE(all[0].synopsis, std::string("Frobnicates widgets"));
        QCOMPARE(all[0].longDescription, std::string("Foo frobnicates widgets quickly and reliably.\nIt supports:\n* fast mode\n* slow mode"));
        QCOMPARE(all[1].longDescription, std::string("Bar."));

        test::writeBytes(tmp("bad"), "Package: x\n continuation without description\n");
        test::expectError([&] { readDebianTranslations(tmp("bad")); }, "bad:2: continuation line outside a description");
        test::writeBytes(tmp("empty"), "\n\n");
        test::expectError([&] { readDebianTranslations(tmp("empty")); }, "no package descriptions found");
    }

    void lz4RoundTrip()
    {
        std::string text;
        for (int i = 0; i < 5000; ++i)
            text += "line " + std::to_string(i) + "\n";
        writeLz4File(tmp("x.lz4"), text);
        QVERIFY(std::filesystem::file_size(tmp("x.lz4")) < text.size() / 2);
        QCOMPARE(readMaybeCompressed(tmp("x.lz4")), text);
        std::string bytes = [&] {
            std::ifstream in(tmp("x.lz4"), std::ios::binary);
            return std::string(std::istreambuf_iterator<char>(in), {});
        }();
        test::writeBytes(tmp("cut.lz4"), bytes.substr(0, bytes.size() / 2));
        test::expectError([&] { readMaybeCompressed(tmp("cut.lz4")); }, "cut.lz4");
    }

    void packageStems()
    {
        QCOMPARE(packageStem("libfoo-dev"), std::string("libfoo"));
        QCOMPARE(packageStem("libfoo1"), std::string("libfoo"));
        QCOMPARE(packageStem("libfoo2.4-data"), std::string("libfoo"));
        QCOMPARE(packageStem("python3-bar-doc"), std::string("python3-bar"));
        QCOMPARE(packageStem("0ad-data-common"), std::string("0ad"));
        QCOMPARE(packageStem("gcc-12"), std::string("gcc"));
    }

    void buildsGroupedSplits()
    {
        // Siblings by name (lib + -dev + -doc) and by shared first paragraph, one duplicate,
        // one too short; many unrelated packages.
        std::string index;
        auto add = [&](const std::string &package, const std::string &synopsis, const std::string &body) {
            index += "Package: " + package + "\nDescription-en: " + synopsis + "\n " + body + "\n\n";
        };
        const std::string shared = words(25, "alpha");
        add("libwidget2", "widget library", shared);
        add("libwidget-dev", "widget library (development files)", shared + "\n .\n This package contains the headers.");
        add("widget-docs-viewer", "widget docs viewer", shared + "\n .\n A viewer.");
        add("copy", "same text", words(30, "gamma"));
        add("copy2", "same text again", words(30, "gamma"));
        add("tiny", "too short", "Just a few words.");
        for (int i = 0; i < 400; ++i)
            add(QString("pkg%1%2x").arg(QChar('a' + i % 26)).arg(i).toStdString(), QString("synopsis %1").arg(i).toStdString(),
                words(22 + i % 50, QString("w%1_").arg(i).toStdString()));
        writeLz4File(tmp("Translation-en.lz4"), index);

        DemoDataOptions options;
        options.validationFraction = 0.2;
        options.testFraction = 0.2;
        const auto report = buildDebianSummarizationData({tmp("Translation-en.lz4")}, tmp("demo"), options);
        QCOMPARE(report.packages, int64_t(406));
        QCOMPARE(report.duplicatesDropped, int64_t(1));
        QCOMPARE(report.outsideLength, int64_t(1));
        QCOMPARE(report.kept, int64_t(404));
        QCOMPARE(report.groups, int64_t(402)); // the three widget packages are one group
        QCOMPARE(report.train + report.validation + report.test, report.kept);

        // The files import as ordinary datasets, and the widget siblings share one split.
        std::map<std::string, std::string> splitOf;
        for (const char *split : {"train", "validation", "test"}) {
            ImportOptions import;
            import.fields = {"prompt", "reference", "id", "group"};
            const auto data = importDataset(tmp("demo") / (std::string(split) + ".jsonl.lz4"), import);
            for (const auto &r : data.records)
                splitOf[r.id] = split;
            QVERIFY(!data.records.empty());
        }
        QCOMPARE(splitOf.at("libwidget-dev"), splitOf.at("libwidget2"));
        QCOMPARE(splitOf.at("widget-docs-viewer"), splitOf.at("libwidget2"));
        QVERIFY(!splitOf.count("tiny"));
        const auto provenance = nlohmann::json::parse(std::ifstream(tmp("demo") / "provenance.json"));
        QCOMPARE(provenance["counts"]["kept"].get<int64_t>(), int64_t(404));
    }
};

QTEST_GUILESS_MAIN(TestDebianData)
#include "tst_debiandata.moc"
