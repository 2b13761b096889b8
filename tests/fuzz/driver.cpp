// The plain driver of a fuzz harness, for builds without libFuzzer (the normal test suite):
//
//   fuzz_NAME [--runs N] [--seed S] [--max-len BYTES] [--timeout SECONDS] CORPUS_DIR_OR_FILE...
//
// Runs every corpus file through LLVMFuzzerTestOneInput, then N inputs made by the harness's
// own LLVMFuzzerCustomMutator from corpus entries, seeded by S: the same arguments give the
// same inputs. An input that crashes or takes longer than the timeout is written to
// ./fuzz-failure-NAME (an input that can be committed to the corpus as a regression case) and
// the driver reports how to reproduce it. At the end it prints executions and times.

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
extern "C" size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t maxSize, unsigned int seed);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

namespace {
namespace fs = std::filesystem;

std::mt19937_64 gBytes;                 // the byte mutator's random source, reseeded per input
const uint8_t *gCurrent = nullptr;      // the input being run, for the failure handler
size_t gCurrentSize = 0;
char gFailurePath[512] = "fuzz-failure";
char gDescription[512] = "";

void writeFailure()
{
    const int fd = ::open(gFailurePath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        size_t done = 0;
        while (gCurrent && done < gCurrentSize) {
            const ssize_t n = ::write(fd, gCurrent + done, gCurrentSize - done);
            if (n <= 0)
                break;
            done += size_t(n);
        }
        ::close(fd);
    }
    const char *parts[] = {"fuzz driver: failed on ", gDescription, "; the input is in ", gFailurePath, "\n"};
    for (const char *p : parts)
        [[maybe_unused]] const auto n = ::write(2, p, std::strlen(p));
}

void onFatal(int signal)
{
    writeFailure();
    std::signal(signal, SIG_DFL);
    std::raise(signal);
}

void onAlarm(int)
{
    const char *msg = "fuzz driver: an input ran past the timeout (a hang)\n";
    [[maybe_unused]] const auto n = ::write(2, msg, std::strlen(msg));
    writeFailure();
    ::_exit(3);
}

std::string readFile(const fs::path &path)
{
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

} // namespace

// Byte-level mutations, standing in for libFuzzer's: bit flips, interesting bytes, inserted,
// erased, repeated and copied ranges. Deterministic for the driver's seed.
extern "C" size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t maxSize)
{
    auto below = [](size_t n) { return n == 0 ? size_t(0) : size_t(gBytes() % n); };
    static const uint8_t interesting[] = {0, 1, 0x7f, 0x80, 0xff, '"', '\\', '{', '}', '[', ']', ',', ':', '\n', '0', '9', '-', 'e'};
    const int rounds = 1 + int(below(4));
    for (int r = 0; r < rounds; ++r) {
        switch (below(6)) {
        case 0:
            if (size)
                data[below(size)] ^= uint8_t(1u << below(8));
            break;
        case 1:
            if (size)
                data[below(size)] = interesting[below(sizeof interesting)];
            break;
        case 2:
            if (size < maxSize) {
                const size_t at = below(size + 1), n = std::min(maxSize - size, 1 + below(8));
                std::memmove(data + at + n, data + at, size - at);
                for (size_t i = 0; i < n; ++i)
                    data[at + i] = interesting[below(sizeof interesting)];
                size += n;
            }
            break;
        case 3:
            if (size) {
                const size_t at = below(size), n = 1 + below(std::min<size_t>(size - at, 64));
                std::memmove(data + at, data + at + n, size - at - n);
                size -= n;
            }
            break;
        case 4:
            if (size && size < maxSize) { // copy a range elsewhere (inserted)
                const size_t from = below(size), n = std::min({size - from, maxSize - size, 1 + below(128)});
                const size_t at = below(size + 1);
                std::vector<uint8_t> chunk(data + from, data + from + n);
                std::memmove(data + at + n, data + at, size - at);
                std::copy(chunk.begin(), chunk.end(), data + at);
                size += n;
            }
            break;
        default:
            if (size)
                size = below(size + 1); // truncated
            break;
        }
    }
    return size;
}

int main(int argc, char **argv)
{
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    uint64_t runs = 0, seed = 1;
    size_t maxLen = 1 << 20;
    unsigned timeout = 60;
    std::vector<fs::path> inputs;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "%s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--runs")
            runs = std::stoull(next());
        else if (a == "--seed")
            seed = std::stoull(next());
        else if (a == "--max-len")
            maxLen = std::stoull(next());
        else if (a == "--timeout")
            timeout = unsigned(std::stoul(next()));
        else if (a.rfind("--", 0) == 0) {
            std::fprintf(stderr, "unknown option %s\n", a.c_str());
            return 2;
        } else
            inputs.emplace_back(a);
    }
    std::vector<std::string> corpus;
    std::vector<std::string> names;
    for (const auto &in : inputs) {
        std::error_code ec;
        if (fs::is_directory(in, ec)) {
            std::vector<fs::path> files;
            for (const auto &e : fs::directory_iterator(in))
                if (e.is_regular_file())
                    files.push_back(e.path());
            std::sort(files.begin(), files.end());
            for (const auto &f : files) {
                corpus.push_back(readFile(f));
                names.push_back(f.string());
            }
        } else if (fs::is_regular_file(in, ec)) {
            corpus.push_back(readFile(in));
            names.push_back(in.string());
        } else {
            std::fprintf(stderr, "%s: no such corpus file or directory\n", in.c_str());
            return 2;
        }
    }
    if (corpus.empty()) {
        std::fprintf(stderr, "no corpus inputs\n");
        return 2;
    }
    const std::string self = fs::path(argv[0]).filename().string();
    std::snprintf(gFailurePath, sizeof gFailurePath, "fuzz-failure-%s", self.c_str());
    for (int s : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL})
        std::signal(s, onFatal);
    std::signal(SIGALRM, onAlarm);

    using Clock = std::chrono::steady_clock;
    double slowest = 0;
    std::string slowestName;
    auto runOne = [&](const std::string &bytes, const std::string &description) {
        gCurrent = reinterpret_cast<const uint8_t *>(bytes.data());
        gCurrentSize = bytes.size();
        std::snprintf(gDescription, sizeof gDescription, "%s", description.c_str());
        ::alarm(timeout);
        const auto t0 = Clock::now();
        LLVMFuzzerTestOneInput(gCurrent, gCurrentSize);
        const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
        ::alarm(0);
        if (seconds > slowest) {
            slowest = seconds;
            slowestName = description;
        }
    };

    const auto start = Clock::now();
    for (size_t i = 0; i < corpus.size(); ++i)
        runOne(corpus[i], names[i]);
    std::mt19937_64 pick(seed);
    std::vector<uint8_t> buffer;
    for (uint64_t r = 0; r < runs; ++r) {
        const std::string &base = corpus[pick() % corpus.size()];
        const size_t limit = std::max(maxLen, base.size());
        buffer.assign(base.begin(), base.end());
        buffer.resize(limit);
        const unsigned mutatorSeed = unsigned(pick());
        gBytes.seed(mutatorSeed);
        const size_t size = LLVMFuzzerCustomMutator(buffer.data(), base.size(), limit, mutatorSeed);
        const std::string input(reinterpret_cast<const char *>(buffer.data()), size);
        runOne(input, "mutated input " + std::to_string(r + 1) + " of --seed " + std::to_string(seed)
                          + " (reproduce: --seed " + std::to_string(seed) + " --runs " + std::to_string(r + 1) + ")");
    }
    const double total = std::chrono::duration<double>(Clock::now() - start).count();
    std::printf("%s: %zu corpus inputs and %llu mutated inputs (seed %llu) in %.1f s, %.0f execs/s; slowest %.3f s (%s); "
                "0 crashes, 0 hangs\n",
                self.c_str(), corpus.size(), static_cast<unsigned long long>(runs), static_cast<unsigned long long>(seed), total,
                double(corpus.size() + runs) / std::max(total, 1e-9), slowest, slowestName.c_str());
    return 0;
}
