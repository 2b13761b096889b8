// plad serve under load and at its limits: a bounded queue (429 beyond it, 503 after waiting too
// long, both with Retry-After), a body limit (413), OpenAI's error shape for what the HTTP layer
// rejects, and a server that stays healthy with 64 concurrent clients.
#include "serve/loadgenerator.h"
#include "serve/modelserver.h"

#include <QtTest/QtTest>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <functional>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

using namespace plad;

namespace {

const std::string kStudent = PLAD_SOURCE_DIR "/resources/demo/student";
const std::string kTeacher = PLAD_SOURCE_DIR "/resources/demo/teacher";

/** A server on a free loopback port, serving on its own thread for the test's lifetime. */
struct RunningServer
{
    ModelServer server;
    int port;
    std::thread thread;
    RunningServer(const std::string &model, ModelServerOptions options)
        : server(model, (options.port = 0, options))
        , port(server.bind())
        , thread([this] { server.run(); })
    {
        while (!server.isRunning())
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ~RunningServer()
    {
        server.stop();
        thread.join();
    }
};

std::string chatBody(int maxTokens, bool stream = false, int n = 1)
{
    return nlohmann::json{{"messages", {{{"role", "user"}, {"content", "A noise gate plugin for audio tracks with silence."}}}},
                          {"max_tokens", maxTokens},
                          {"temperature", 1.0},
                          {"seed", 7},
                          {"n", n},
                          {"stream", stream}}
        .dump();
}

/** Holds the model busy (ModelServerOptions::whileHoldingModel) until released. */
class Gate
{
public:
    std::function<void()> hook()
    {
        return [this] {
            std::unique_lock lock(mMutex);
            ++mEntered;
            mChanged.notify_all();
            mChanged.wait(lock, [this] { return mOpen; });
        };
    }
    void waitUntilEntered(int times)
    {
        std::unique_lock lock(mMutex);
        mChanged.wait(lock, [&] { return mEntered >= times; });
    }
    void open()
    {
        std::lock_guard lock(mMutex);
        mOpen = true;
        mChanged.notify_all();
    }

private:
    std::mutex mMutex;
    std::condition_variable mChanged;
    int mEntered = 0;
    bool mOpen = false;
};

/** A request sent on its own thread; result() waits for its answer. */
class Pending
{
public:
    /** `gate`, when given, is opened before this waits for its answer (a failed check must not hang). */
    Pending(int port, std::string body, Gate *gate = nullptr)
        : mGate(gate)
        , mThread([this, port, body = std::move(body)] {
            httplib::Client client("127.0.0.1", port);
            client.set_read_timeout(60, 0);
            auto r = client.Post("/v1/chat/completions", body, "application/json");
            mStatus = r ? r->status : -1;
            mBody = r ? r->body : httplib::to_string(r.error());
        })
    {}
    ~Pending()
    {
        if (mGate)
            mGate->open();
        if (mThread.joinable())
            mThread.join();
    }
    int status()
    {
        if (mThread.joinable())
            mThread.join();
        return mStatus;
    }
    const std::string &body() const { return mBody; }

private:
    Gate *mGate;
    int mStatus = 0;
    std::string mBody;
    std::thread mThread;
};

nlohmann::json errorOf(const httplib::Result &r)
{
    return nlohmann::json::parse(r->body).at("error");
}

} // namespace

class TestServe : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void sixtyFourClientsGetAnswersOrBusyAndTheServerStaysHealthy()
    {
        ModelServerOptions options;
        options.maxQueue = 2;
        options.queueTimeoutSeconds = 5;
        options.connectionThreads = 16;
        // A model that takes 20 ms a request (the demo student alone answers in ~3 ms, faster
        // than 64 clients on 2 cores can pile up behind it).
        options.whileHoldingModel = [] { std::this_thread::sleep_for(std::chrono::milliseconds(20)); };
        RunningServer s(kStudent, options);
        ServeLoadOptions load;
        load.port = s.port;
        load.clients = 64;
        load.seconds = 4;
        load.body = chatBody(8);
        load.backoffMilliseconds = 20;
        const ServeLoadResult r = runServeLoad(load);
        qInfo("%s", r.toJson().dump().c_str());
        QCOMPARE(r.transportErrors, uint64_t(0));
        for (const auto &[status, n] : r.statuses)
            QVERIFY2(status == 200 || status == 429 || status == 503, ("unexpected HTTP " + std::to_string(status)).c_str());
        QVERIFY(r.count(200) > 0);
        QVERIFY2(r.count(429) > 0, "64 clients against 1 + 2 places must see the queue full");
        QVERIFY(r.healthyAfter);
        const ModelServerStats stats = s.server.stats();
        QCOMPARE(stats.serverErrors, uint64_t(0));
        QCOMPARE(stats.completed, r.count(200));
        QCOMPARE(stats.rejectedFull, r.count(429));
        // Every place in the queue was given back.
        QTRY_COMPARE(s.server.stats().queued, 0);
        // And the server still answers a normal request correctly.
        httplib::Client client("127.0.0.1", s.port);
        const auto after = client.Post("/v1/chat/completions", chatBody(4), "application/json");
        QVERIFY(after);
        QCOMPARE(after->status, 200);
        QCOMPARE(nlohmann::json::parse(after->body).at("choices").size(), size_t(1));
    }

    void aFullQueueAnswers429WithRetryAfter()
    {
        Gate gate;
        ModelServerOptions options;
        options.maxQueue = 1; // the running generation and one waiting
        options.whileHoldingModel = gate.hook();
        RunningServer s(kStudent, options);
        // A streaming request holds the model, a second one waits for it...
        Pending running(s.port, chatBody(4, true), &gate);
        gate.waitUntilEntered(1);
        Pending waiting(s.port, chatBody(4), &gate);
        QTRY_COMPARE(s.server.stats().queued, 2);
        // ...so a third is turned away at once.
        httplib::Client client("127.0.0.1", s.port);
        const auto r = client.Post("/v1/chat/completions", chatBody(4), "application/json");
        QVERIFY(r);
        QCOMPARE(r->status, 429);
        QVERIFY(r->has_header("Retry-After"));
        QVERIFY(std::stoi(r->get_header_value("Retry-After")) >= 1);
        const auto error = errorOf(r);
        QCOMPARE(error.at("type").get<std::string>(), std::string("rate_limit_exceeded"));
        QVERIFY(error.at("message").get<std::string>().find("--max-queue") != std::string::npos);
        // Once the model is free, both admitted requests are answered and their places given back.
        gate.open();
        QCOMPARE(running.status(), 200);
        QVERIFY(running.body().find("data: [DONE]") != std::string::npos);
        QCOMPARE(waiting.status(), 200);
        QTRY_COMPARE(s.server.stats().queued, 0);
        QCOMPARE(s.server.stats().rejectedFull, uint64_t(1));
        const auto again = client.Post("/v1/chat/completions", chatBody(4), "application/json");
        QVERIFY(again);
        QCOMPARE(again->status, 200);
    }

    void aRequestThatWaitsTooLongAnswers503()
    {
        Gate gate;
        ModelServerOptions options;
        options.maxQueue = 8;
        options.queueTimeoutSeconds = 0.2;
        options.whileHoldingModel = gate.hook();
        RunningServer s(kStudent, options);
        Pending running(s.port, chatBody(4), &gate);
        gate.waitUntilEntered(1);
        httplib::Client client("127.0.0.1", s.port);
        const auto started = std::chrono::steady_clock::now();
        const auto r = client.Post("/v1/chat/completions", chatBody(4), "application/json");
        const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        QVERIFY(r);
        QCOMPARE(r->status, 503);
        QVERIFY2(waited >= 0.19 && waited < 5, std::to_string(waited).c_str());
        QVERIFY(r->has_header("Retry-After"));
        QVERIFY(errorOf(r).at("message").get<std::string>().find("--queue-timeout") != std::string::npos);
        QCOMPARE(s.server.stats().timedOut, uint64_t(1));
        gate.open();
        QCOMPARE(running.status(), 200);
    }

    void bodiesOverTheLimitAnswer413()
    {
        ModelServerOptions options;
        options.maxBodyBytes = 64 * 1024;
        RunningServer s(kStudent, options);
        httplib::Client client("127.0.0.1", s.port);
        const std::string huge = nlohmann::json{{"messages", {{{"role", "user"}, {"content", std::string(200 * 1024, 'a')}}}}}.dump();
        const auto r = client.Post("/v1/chat/completions", huge, "application/json");
        QVERIFY(r);
        QCOMPARE(r->status, 413);
        QVERIFY(errorOf(r).at("message").get<std::string>().find("--max-body") != std::string::npos);
        // Under the limit, the same server answers.
        const auto ok = client.Post("/v1/chat/completions", chatBody(2), "application/json");
        QVERIFY(ok);
        QCOMPARE(ok->status, 200);
    }

    void unknownPathsGetOpenAIsErrorShape()
    {
        RunningServer s(kStudent, {});
        httplib::Client client("127.0.0.1", s.port);
        const auto r = client.Get("/v1/engines");
        QVERIFY(r);
        QCOMPARE(r->status, 404);
        QVERIFY(errorOf(r).at("message").get<std::string>().find("/v1/engines") != std::string::npos);
    }

    void aSilentClientIsDropped()
    {
        ModelServerOptions options;
        options.readTimeoutSeconds = 0.3;
        RunningServer s(kStudent, options);
        // A client that opens a connection and sends half a request, then nothing.
        httplib::Client client("127.0.0.1", s.port);
        const auto before = std::chrono::steady_clock::now();
        httplib::Request req;
        req.method = "POST";
        req.path = "/v1/chat/completions";
        req.set_header("Content-Type", "application/json");
        req.set_header("Content-Length", "1000"); // promises more body than it sends
        req.body = "{";
        client.set_read_timeout(10, 0);
        const auto r = client.send(req);
        const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - before).count();
        QVERIFY2(waited < 5, ("the server held a silent client for " + std::to_string(waited) + " s").c_str());
        QVERIFY(!r || r->status >= 400);
        // The server is still there.
        httplib::Client again("127.0.0.1", s.port);
        const auto ok = again.Get("/v1/models");
        QVERIFY(ok);
        QCOMPARE(ok->status, 200);
    }
};

QTEST_GUILESS_MAIN(TestServe)
#include "tst_serve.moc"
