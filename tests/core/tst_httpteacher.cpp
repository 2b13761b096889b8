// The OpenAI-compatible teacher client against a loopback server that misbehaves on purpose:
// retries on 500/429/timeouts, clear errors on 401/404, concurrency, cancellation.
#include "eval/judge.h"
#include "eval/llmjudge.h"
#include "plad/teachers.h"
#include "openai/openaiclient.h"
#include "testsupport.h"

#include <QtTest>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

using namespace plad;

class TestHttpTeacher : public QObject
{
    Q_OBJECT

private:
    httplib::Server mServer;
    std::thread mThread;
    int mPort = 0;
    std::mutex mMutex;
    std::map<std::string, int> mCalls; // per prompt, for the flaky route
    std::atomic<int> mInFlight{0}, mMaxInFlight{0};

    OpenAiEndpoint endpoint(const std::string &route)
    {
        OpenAiEndpoint e;
        e.baseUrl = "http://127.0.0.1:" + std::to_string(mPort) + route + "/v1";
        e.model = "echo";
        e.backoffSeconds = 0.01;
        e.timeoutSeconds = 5;
        return e;
    }

    std::vector<CompletionResult> run(const OpenAiEndpoint &e, const std::vector<std::string> &prompts, JobContext *context = nullptr)
    {
        std::vector<CompletionResult> results;
        requestCompletions(e, {}, prompts, [&](const CompletionResult &r) { results.push_back(r); }, context);
        std::sort(results.begin(), results.end(), [](const auto &a, const auto &b) { return a.index < b.index; });
        return results;
    }

    static std::string reply(const std::string &text)
    {
        return nlohmann::json{{"choices", {{{"text", text}, {"finish_reason", "stop"}, {"index", 0}}}}}.dump();
    }

private Q_SLOTS:
    void initTestCase()
    {
        auto promptOf = [](const httplib::Request &req) { return nlohmann::json::parse(req.body).value("prompt", std::string()); };
        mServer.Post("/ok/v1/completions", [&, promptOf](const httplib::Request &req, httplib::Response &res) {
            const int now = ++mInFlight;
            for (int seen = mMaxInFlight; now > seen && !mMaxInFlight.compare_exchange_weak(seen, now);) {
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            const auto body = nlohmann::json::parse(req.body);
            res.set_content(reply("echo: " + promptOf(req) + " max " + std::to_string(body.value("max_tokens", 0))), "application/json");
            --mInFlight;
        });
        mServer.Post("/ok/v1/chat/completions", [](const httplib::Request &req, httplib::Response &res) {
            const auto body = nlohmann::json::parse(req.body);
            const std::string content = body["messages"][0]["content"];
            res.set_content(nlohmann::json{{"choices", {{{"message", {{"role", "assistant"}, {"content", "chat: " + content}}},
                                                          {"finish_reason", "length"}}}}}
                                .dump(),
                            "application/json");
        });
        mServer.Post("/flaky/v1/completions", [&, promptOf](const httplib::Request &req, httplib::Response &res) {
            int calls = 0;
            {
                std::lock_guard lock(mMutex);
                calls = ++mCalls[promptOf(req)];
            }
            if (calls == 1) {
                res.status = 500;
                res.set_content(R"({"error": {"message": "model is loading"}})", "application/json");
            } else if (calls == 2) {
                res.status = 429;
                res.set_header("Retry-After", "0");
                res.set_content("slow down", "text/plain");
            } else {
                res.set_content(reply("third time"), "application/json");
            }
        });
        mServer.Post("/down/v1/completions", [](const httplib::Request &, httplib::Response &res) {
            res.status = 503;
            res.set_content(R"({"error": {"message": "overloaded"}})", "application/json");
        });
        mServer.Post("/auth/v1/completions", [](const httplib::Request &req, httplib::Response &res) {
            if (req.get_header_value("Authorization") != "Bearer s3cret") {
                res.status = 401;
                res.set_content(R"({"error": {"message": "invalid api key"}})", "application/json");
                return;
            }
            res.set_content(reply("authorised"), "application/json");
        });
        mServer.Post("/slow/v1/completions", [](const httplib::Request &, httplib::Response &res) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1500));
            res.set_content(reply("late"), "application/json");
        });
        // A server that never stops sending, one that sends a byte at a time, one that cuts
        // its answer short.
        mServer.Post("/huge/v1/completions", [](const httplib::Request &, httplib::Response &res) {
            res.set_chunked_content_provider("application/json", [](size_t offset, httplib::DataSink &sink) {
                const std::string chunk(1 << 20, ' ');
                if (offset >= (64u << 20))
                    sink.done();
                else
                    sink.write(chunk.data(), chunk.size());
                return true;
            });
        });
        mServer.Post("/drip/v1/completions", [](const httplib::Request &, httplib::Response &res) {
            res.set_chunked_content_provider("application/json", [](size_t offset, httplib::DataSink &sink) {
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
                if (offset >= 40)
                    sink.done();
                else
                    sink.write(" ", 1);
                return true;
            });
        });
        mServer.Post("/cut/v1/completions", [](const httplib::Request &, httplib::Response &res) {
            res.set_content_provider(1000, "application/json", [](size_t, size_t, httplib::DataSink &sink) {
                sink.write(R"({"choices": [)", 13);
                return false; // the connection ends here
            });
        });
        mServer.Post("/garbage/v1/completions", [](const httplib::Request &, httplib::Response &res) {
            res.set_content(R"({"choices": []})", "application/json");
        });
        // An LLM judge that prefers the response saying "good", and one that always answers "A".
        mServer.Post("/judge/v1/completions", [promptOf](const httplib::Request &req, httplib::Response &res) {
            const std::string prompt = promptOf(req);
            const auto a = prompt.find("A="), b = prompt.find("B=");
            const bool aGood = prompt.substr(a, b - a).find("good") != std::string::npos;
            const bool bGood = prompt.substr(b).find("good") != std::string::npos;
            res.set_content(reply(aGood == bGood ? " neither" : aGood ? " A" : " B, because"), "application/json");
        });
        mServer.Post("/biased/v1/completions", [](const httplib::Request &, httplib::Response &res) { res.set_content(reply(" A"), "application/json"); });
        mPort = mServer.bind_to_any_port("127.0.0.1");
        QVERIFY(mPort > 0);
        mThread = std::thread([this] { mServer.listen_after_bind(); });
        QTRY_VERIFY(mServer.is_running());
    }

    void cleanupTestCase()
    {
        mServer.stop();
        mThread.join();
    }

    void completionsConcurrently()
    {
        auto e = endpoint("/ok");
        e.concurrency = 4;
        std::vector<std::string> prompts;
        for (int i = 0; i < 12; ++i)
            prompts.push_back(std::string("p").append(std::to_string(i)));
        CompletionSettings settings;
        settings.maxTokens = 7;
        std::vector<CompletionResult> results;
        requestCompletions(e, settings, prompts, [&](const CompletionResult &r) { results.push_back(r); });
        QCOMPARE(results.size(), size_t(12));
        std::sort(results.begin(), results.end(), [](const auto &a, const auto &b) { return a.index < b.index; });
        for (size_t i = 0; i < results.size(); ++i) {
            QCOMPARE(results[i].text, std::string("echo: p").append(std::to_string(i)).append(" max 7"));
            QCOMPARE(results[i].finishReason, std::string("stop"));
            QCOMPARE(results[i].attempts, 1);
            QVERIFY(results[i].error.empty());
        }
        QVERIFY2(mMaxInFlight >= 2, "requests ran one at a time");
        QVERIFY(mMaxInFlight <= 4);
    }

    void chatEndpoint()
    {
        auto e = endpoint("/ok");
        e.chat = true;
        const auto results = run(e, {"hello"});
        QCOMPARE(results.at(0).text, std::string("chat: hello"));
        QCOMPARE(results.at(0).finishReason, std::string("length"));
    }

    void retriesServerErrorsThenSucceeds()
    {
        const auto results = run(endpoint("/flaky"), {"a", "b"});
        QCOMPARE(results.size(), size_t(2));
        for (const auto &r : results) {
            QCOMPARE(r.text, std::string("third time")); // 500, then 429, then 200
            QCOMPARE(r.attempts, 3);
            QVERIFY(r.error.empty());
        }
    }

    void givesUpAfterRetries()
    {
        auto e = endpoint("/down");
        e.maxRetries = 2;
        const auto results = run(e, {"x"});
        QCOMPARE(results.at(0).attempts, 3);
        QVERIFY2(results.at(0).error.find("HTTP 503: overloaded (gave up after 3 attempts)") != std::string::npos,
                 results.at(0).error.c_str());
    }

    void timeoutIsRetriedThenReported()
    {
        auto e = endpoint("/slow");
        e.timeoutSeconds = 0.3;
        e.maxRetries = 1;
        const auto results = run(e, {"x"});
        QCOMPARE(results.at(0).attempts, 2);
        QVERIFY2(results.at(0).error.find("timed out") != std::string::npos, results.at(0).error.c_str());
    }

    void hugeSlowAndCutResponsesAreReported()
    {
        // 64 MiB of answer: cut off at 16 MiB, a clear error, no memory filled.
        test::expectError([&] { run(endpoint("/huge"), {"x"}); }, "the response is larger than 16 MiB");
        // A byte every 100 ms never trips the read timeout; the whole answer has a deadline.
        auto e = endpoint("/drip");
        e.timeoutSeconds = 0.5;
        e.maxRetries = 0;
        auto results = run(e, {"x"});
        QVERIFY2(results.at(0).error.find("did not arrive within 1 s") != std::string::npos, results.at(0).error.c_str());
        // An answer cut short: retried, then reported, never taken as a completion.
        e = endpoint("/cut");
        e.maxRetries = 1;
        e.timeoutSeconds = 2;
        results = run(e, {"x"});
        QVERIFY(results.at(0).text.empty());
        QVERIFY2(!results.at(0).error.empty() && results.at(0).error.find('\n') == std::string::npos, results.at(0).error.c_str());
    }

    void authenticationErrorsStopEverything()
    {
        auto e = endpoint("/auth");
        e.apiKeyEnv = "PLAD_TEST_TEACHER_KEY";
        ::unsetenv("PLAD_TEST_TEACHER_KEY");
        test::expectError([&] { run(e, {"x"}); }, "PLAD_TEST_TEACHER_KEY is not set");
        ::setenv("PLAD_TEST_TEACHER_KEY", "wrong", 1);
        test::expectError([&] { run(e, {"x", "y", "z"}); }, "HTTP 401 (authentication failed: check the API key): invalid api key");
        ::setenv("PLAD_TEST_TEACHER_KEY", "s3cret", 1);
        QCOMPARE(run(e, {"x"}).at(0).text, std::string("authorised"));
        ::unsetenv("PLAD_TEST_TEACHER_KEY");
    }

    void clearErrorsForBadEndpoints()
    {
        test::expectError([&] { run(endpoint("/nowhere"), {"x"}); }, "HTTP 404 (check base_url and the model name)");
        test::expectError([&] { run(endpoint("/garbage"), {"x"}); }, "not an OpenAI completion");
        auto e = endpoint("/ok");
        e.baseUrl = "ftp://example.org/v1";
        test::expectError([&] { run(e, {"x"}); }, "teacher.base_url: expected http://");
        e = endpoint("/ok");
        e.concurrency = 0;
        test::expectError([&] { run(e, {"x"}); }, "teacher.concurrency");

        // Nothing listens on port 1: a connection error, retried, then reported per prompt.
        e = endpoint("/ok");
        e.baseUrl = "http://127.0.0.1:1/v1";
        e.maxRetries = 1;
        const auto results = run(e, {"x"});
        QVERIFY2(results.at(0).error.find("cannot connect") != std::string::npos, results.at(0).error.c_str());
    }

    void llmJudgeOverHttpCancelsPositionBias()
    {
        LlmJudgeConfig config;
        config.type = JudgeBackend::Http;
        config.endpoint = endpoint("/judge");
        config.instructions = "{prompt} A={a} B={b} Better:";
        auto judge = makeLlmJudge(config, "cpu");
        QCOMPARE(judge->name(), std::string("judge:llm:echo"));
        const auto v = judge->judge({{"task", "", "a good answer", "a poor answer"},
                                     {"task", "", "a poor answer", "a good answer"},
                                     {"task", "", "good", "good too"}},
                                    nullptr);
        QCOMPARE(v[0].preferred, 1);
        QCOMPARE(v[0].firstScore, 1.0);
        QCOMPARE(v[1].preferred, -1);
        QCOMPARE(v[1].secondScore, 1.0);
        QCOMPARE(v[2].preferred, 0); // no letter in either answer: no verdict
        // A judge that always says "A" agrees with itself only by position: every pair is a tie.
        config.endpoint = endpoint("/biased");
        const auto biased = makeLlmJudge(config, "cpu")->judge({{"task", "", "a good answer", "a poor answer"}}, nullptr);
        QCOMPARE(biased[0].preferred, 0);
        QCOMPARE(biased[0].firstScore, 0.5);
        config.endpoint = endpoint("/down");
        config.endpoint.maxRetries = 0;
        test::expectError([&] { makeLlmJudge(config, "cpu")->judge({{"t", "", "a", "b"}}, nullptr); }, "the LLM judge at");
    }

    void cancellationStopsNewRequests()
    {
        std::stop_source stop;
        JobContext context(stop.get_token());
        auto e = endpoint("/ok");
        e.concurrency = 1;
        std::vector<std::string> prompts(50, "p");
        int delivered = 0;
        requestCompletions(e, {}, prompts, [&](const CompletionResult &) {
            if (++delivered == 3)
                stop.request_stop();
        }, &context);
        QVERIFY2(delivered >= 3 && delivered <= 5, qPrintable(QString::number(delivered)));
    }
};

QTEST_GUILESS_MAIN(TestHttpTeacher)
#include "tst_httpteacher.moc"
