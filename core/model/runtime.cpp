#include "model/runtime.h"

#include "common/error.h"

#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <torch/version.h>
#include <c10/core/Device.h>
#include <torch/cuda.h>

namespace plad {

int configureThreads(int threads)
{
    if (threads <= 0) {
        if (const char *env = std::getenv("PLAD_THREADS"); env && *env) {
            char *end = nullptr;
            const long value = std::strtol(env, &end, 10);
            if (*end != '\0' || value <= 0 || value > 4096)
                throw ConfigError("PLAD_THREADS must be a positive integer, found \"" + std::string(env) + "\"");
            threads = static_cast<int>(value);
        } else {
            threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
        }
    }
    at::set_num_threads(threads);
    return at::get_num_threads();
}

namespace {

// The BLAS behind libblas.so.3 is chosen by Debian's alternatives system at run time, so the
// only reliable answer is the library mapped into this process.
std::string loadedBlas()
{
    std::ifstream maps("/proc/self/maps");
    std::string line;
    std::string found;
    while (std::getline(maps, line)) {
        const auto slash = line.find('/');
        if (slash == std::string::npos)
            continue;
        const std::string path = line.substr(slash);
        if (path.find("openblas") != std::string::npos)
            return path;
        if (path.find("libblas.so") != std::string::npos || path.find("libmkl") != std::string::npos)
            found = path;
    }
    return found.empty() ? "unknown" : found;
}

} // namespace

RuntimeInfo runtimeInfo()
{
    RuntimeInfo info;
    info.intraOpThreads = at::get_num_threads();
    info.torchVersion = std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "."
                        + std::to_string(TORCH_VERSION_PATCH);
    info.blas = loadedBlas();
    const std::string config = at::show_config();
    const auto pos = config.find("CPU capability usage: ");
    if (pos != std::string::npos) {
        const auto start = pos + std::string("CPU capability usage: ").size();
        info.cpuCapability = config.substr(start, config.find('\n', start) - start);
    }
    return info;
}

std::string validateDevice(const std::string &device)
{
    c10::Device parsed(c10::kCPU);
    try {
        parsed = c10::Device(device);
    } catch (const std::exception &) {
        throw ConfigError("unknown device \"" + device + "\": use \"cpu\" or \"cuda[:N]\"");
    }
    if (parsed.is_cuda() && !torch::cuda::is_available())
        throw ConfigError("device \"" + device + "\" requested, but this Torch build has no usable CUDA device; use \"cpu\"");
    if (!parsed.is_cpu() && !parsed.is_cuda())
        throw ConfigError("device \"" + device + "\" is not supported: use \"cpu\" or \"cuda[:N]\"");
    return parsed.str();
}

} // namespace plad
