// safetensors reading, writing, sharding and validation of hostile files.
#include "common/error.h"
#include "model/safetensors.h"
#include "testsupport.h"

#include <QTemporaryDir>
#include <csignal>
#include <fstream>
#include <sys/resource.h>
#include <QtTest>

#include <torch/torch.h>

using namespace plad;
using plad::test::q;

class TestSafetensors : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir mTmp;
    std::filesystem::path tmp(const std::string &name) const { return std::filesystem::path(mTmp.path().toStdString()) / name; }

private Q_SLOTS:
    void readsKnownBitPatterns()
    {
        // Bit patterns from the IEEE 754 binary16 and bfloat16 definitions:
        // F16 0x3C00 = 1.0, 0xC000 = -2.0, 0x3555 = 0.333251953125;
        // BF16 0x3F80 = 1.0, 0x4049 = 3.140625, 0xC2F7 = -123.5.
        const std::string header = R"({"__metadata__":{"format":"pt"},)"
                                   R"("h":{"dtype":"F16","shape":[3],"data_offsets":[0,6]},)"
                                   R"("b":{"dtype":"BF16","shape":[3],"data_offsets":[6,12]},)"
                                   R"("i":{"dtype":"I64","shape":[2],"data_offsets":[12,28]},)"
                                   R"("u":{"dtype":"U8","shape":[2,2],"data_offsets":[28,32]}})";
        std::string data;
        data += std::string("\x00\x3C\x00\xC0\x55\x35", 6);
        data += std::string("\x80\x3F\x49\x40\xF7\xC2", 6);
        data += std::string("\x07\x00\x00\x00\x00\x00\x00\x00\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF", 16);
        data += std::string("\x01\x02\x03\xFF", 4);
        const auto path = tmp("bits.safetensors");
        test::writeBytes(path, test::safetensorsImage(header, data));

        SafetensorsFile file(path);
        QCOMPARE(file.entries().size(), size_t(4));
        QCOMPARE(file.metadata().at("format"), std::string("pt"));
        auto h = file.read("h").to(torch::kFloat64);
        QCOMPARE(h[0].item<double>(), 1.0);
        QCOMPARE(h[1].item<double>(), -2.0);
        QCOMPARE(h[2].item<double>(), 0.333251953125);
        auto b = file.read("b").to(torch::kFloat64);
        QCOMPARE(b[0].item<double>(), 1.0);
        QCOMPARE(b[1].item<double>(), 3.140625);
        QCOMPARE(b[2].item<double>(), -123.5);
        auto i = file.read("i");
        QCOMPARE(i.scalar_type(), torch::kInt64);
        QCOMPARE(i[0].item<int64_t>(), int64_t(7));
        QCOMPARE(i[1].item<int64_t>(), int64_t(-1));
        auto u = file.read("u");
        QCOMPARE(u.sizes().vec(), (std::vector<int64_t>{2, 2}));
        QCOMPARE(u[1][1].item<int64_t>(), int64_t(255));
    }

    void roundTripsEveryDtype_data()
    {
        QTest::addColumn<int>("dtype");
        QTest::newRow("F32") << int(torch::kFloat32);
        QTest::newRow("F16") << int(torch::kFloat16);
        QTest::newRow("BF16") << int(torch::kBFloat16);
        QTest::newRow("F64") << int(torch::kFloat64);
        QTest::newRow("I64") << int(torch::kInt64);
        QTest::newRow("I32") << int(torch::kInt32);
        QTest::newRow("I8") << int(torch::kInt8);
        QTest::newRow("BOOL") << int(torch::kBool);
    }
    void roundTripsEveryDtype()
    {
        QFETCH(int, dtype);
        const auto type = static_cast<torch::ScalarType>(dtype);
        torch::manual_seed(3);
        auto a = (torch::randn({3, 5}) * 20).to(type);
        auto b = (torch::randn({7}) * 20).to(type);
        auto scalar = torch::tensor(2.5).to(type);
        auto empty = torch::zeros({0, 4}).to(type);
        const auto path = tmp("roundtrip.safetensors");
        writeSafetensors(path, {{"a", a}, {"b.weight", b}, {"scalar", scalar}, {"empty", empty}});
        SafetensorsFile file(path);
        QVERIFY(torch::equal(file.read("a"), a));
        QVERIFY(torch::equal(file.read("b.weight"), b));
        QVERIFY(torch::equal(file.read("scalar"), scalar));
        QCOMPARE(file.read("empty").sizes().vec(), (std::vector<int64_t>{0, 4}));
        QCOMPARE(file.read("a").scalar_type(), type);
    }

    void headerIsAlignedAndReadableByTheSpec()
    {
        const auto path = tmp("aligned.safetensors");
        writeSafetensors(path, {{"x", torch::arange(5, torch::kFloat32)}});
        const std::string bytes = readBytes(path);
        uint64_t n = 0;
        for (int i = 7; i >= 0; --i)
            n = (n << 8) | static_cast<uint8_t>(bytes[static_cast<size_t>(i)]);
        QCOMPARE(n % 8, uint64_t(0));
        const auto header = nlohmann::json::parse(bytes.substr(8, n));
        QCOMPARE(header["x"]["dtype"].get<std::string>(), std::string("F32"));
        QCOMPARE(header["x"]["data_offsets"][1].get<int>(), 20);
        QCOMPARE(header["__metadata__"]["format"].get<std::string>(), std::string("pt"));
        QCOMPARE(bytes.size(), size_t(8 + n + 20));
    }

    void readsShardedCheckpoints()
    {
        const auto dir = tmp("sharded");
        std::filesystem::create_directories(dir);
        writeSafetensors(dir / "model-00001-of-00002.safetensors", {{"a", torch::ones({2})}});
        writeSafetensors(dir / "model-00002-of-00002.safetensors", {{"b", torch::full({3}, 2.0)}});
        test::writeBytes(dir / "model.safetensors.index.json",
                         R"({"metadata":{"total_size":20},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}})");
        SafetensorsCheckpoint checkpoint(dir);
        QCOMPARE(checkpoint.names(), (std::vector<std::string>{"a", "b"}));
        QVERIFY(torch::equal(checkpoint.read("b"), torch::full({3}, 2.0)));
        QCOMPARE(checkpoint.fileOf("a").filename().string(), std::string("model-00001-of-00002.safetensors"));
    }

    void rejectsShardIndexesThatLeaveTheDirectory_data()
    {
        QTest::addColumn<QString>("shard");
        QTest::addColumn<QString>("message");
        QTest::newRow("parent") << "../evil.safetensors" << "not a file in the checkpoint directory";
        QTest::newRow("absolute") << "/etc/passwd" << "not a file in the checkpoint directory";
        QTest::newRow("subdir") << "sub/x.safetensors" << "not a file in the checkpoint directory";
        QTest::newRow("missing") << "nothere.safetensors" << "cannot open";
    }
    void rejectsShardIndexesThatLeaveTheDirectory()
    {
        QFETCH(QString, shard);
        QFETCH(QString, message);
        const auto dir = tmp("hostile-index");
        std::filesystem::create_directories(dir);
        test::writeBytes(dir / "model.safetensors.index.json", R"({"weight_map":{"a":")" + shard.toStdString() + R"("}})");
        test::expectError([&] { SafetensorsCheckpoint c(dir); }, message.toStdString());
    }

    void rejectsShardThatLacksItsTensor()
    {
        const auto dir = tmp("lying-index");
        std::filesystem::create_directories(dir);
        writeSafetensors(dir / "s1.safetensors", {{"a", torch::ones({2})}});
        test::writeBytes(dir / "model.safetensors.index.json", R"({"weight_map":{"zzz":"s1.safetensors"}})");
        test::expectError([&] { SafetensorsCheckpoint c(dir); }, "tensor \"zzz\" is listed in shard \"s1.safetensors\"");
    }

    void rejectsCorruptFiles_data()
    {
        QTest::addColumn<QByteArray>("image");
        QTest::addColumn<QString>("message");
        auto image = [](const std::string &header, const std::string &data) {
            const std::string s = test::safetensorsImage(header, data);
            return QByteArray(s.data(), static_cast<qsizetype>(s.size()));
        };
        const std::string eight(8, '\0');
        QTest::newRow("empty file") << QByteArray() << "truncated safetensors file";
        QTest::newRow("truncated length") << QByteArray("\x10\x00\x00", 3) << "truncated safetensors file";
        QTest::newRow("header past end") << image(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", "").left(20)
                                         << "runs past the end of the file";
        QByteArray huge(8, '\0');
        huge[0] = '\xff';
        huge[1] = '\xff';
        huge[2] = '\xff';
        huge[3] = '\xff';
        huge[4] = '\x7f';
        QTest::newRow("absurd header length") << huge << "not plausible";
        QTest::newRow("not json") << image("{not json", "") << "header is not valid JSON";
        QTest::newRow("not an object") << image("[1,2]", "") << "must be a JSON object";
        QTest::newRow("missing fields") << image(R"({"a":{"dtype":"F32"}})", "") << "tensor \"a\": entry needs";
        QTest::newRow("unknown dtype") << image(R"({"a":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}})", "x")
                                       << "unsupported dtype \"F8_E4M3\"";
        QTest::newRow("negative dim") << image(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", "abcd")
                                      << "non-negative integers";
        QTest::newRow("offsets out of range") << image(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", eight)
                                              << "run past the data section";
        QTest::newRow("begin after end") << image(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", eight)
                                         << "is after end";
        QTest::newRow("size mismatch") << image(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", eight)
                                       << "shape x dtype needs 12 bytes but data_offsets span 8";
        QTest::newRow("overlap") << image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                          R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                          eight)
                                 << "overlap";
        QTest::newRow("gap") << image(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", eight)
                             << "belong to no tensor";
        QTest::newRow("trailing bytes") << image(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", eight)
                                        << "trailing bytes";
        QTest::newRow("shape overflow")
            << image(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}})", eight)
            << "overflows";
        QTest::newRow("bad metadata") << image(R"({"__metadata__":{"k":1}})", "") << "must be a string";
    }
    void rejectsCorruptFiles()
    {
        QFETCH(QByteArray, image);
        QFETCH(QString, message);
        const auto path = tmp("corrupt.safetensors");
        test::writeBytes(path, image.toStdString());
        test::expectError([&] { SafetensorsFile f(path); }, message.toStdString(), path.string());
    }

    void missingFileNamesThePath()
    {
        test::expectError([&] { SafetensorsFile f(tmp("nope.safetensors")); }, "nope.safetensors: cannot open");
    }

    void failedWriteKeepsThePreviousFile()
    {
        const auto path = tmp("keep.safetensors");
        writeSafetensors(path, {{"x", torch::ones({4})}});
        const std::string before = readBytes(path);

        // A real mid-write failure: the file-size limit makes write() fail with EFBIG after the
        // first bytes, as a full disk fails with ENOSPC.
        struct rlimit old{};
        getrlimit(RLIMIT_FSIZE, &old);
        auto *previousHandler = std::signal(SIGXFSZ, SIG_IGN);
        struct rlimit small = old;
        small.rlim_cur = 4096;
        QCOMPARE(setrlimit(RLIMIT_FSIZE, &small), 0);
        bool threw = false;
        std::string message;
        try {
            writeSafetensors(path, {{"big", torch::ones({100000})}});
        } catch (const plad::Error &e) {
            threw = true;
            message = e.what();
        }
        setrlimit(RLIMIT_FSIZE, &old);
        std::signal(SIGXFSZ, previousHandler);
        QVERIFY(threw);
        QVERIFY2(message.find("write failed") != std::string::npos && message.find("keep.safetensors") != std::string::npos,
                 message.c_str());
        QCOMPARE(readBytes(path), before);
        int files = 0;
        for (const auto &e : std::filesystem::directory_iterator(tmp("")))
            files += e.path().filename().string().rfind("keep.safetensors", 0) == 0;
        QCOMPARE(files, 1); // no temporary file left behind

        test::expectError([&] { writeSafetensors(path, {{"y", torch::ones({2}, torch::kComplexFloat)}}); }, "no safetensors equivalent");
        test::expectError([&] { writeSafetensors(tmp("no/such/dir/x.safetensors"), {{"x", torch::ones({1})}}); }, "cannot create file");
    }

private:
    static std::string readBytes(const std::filesystem::path &path)
    {
        std::ifstream in(path, std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(in), {});
    }

};

QTEST_GUILESS_MAIN(TestSafetensors)
#include "tst_safetensors.moc"
