#include "model/runtime.h"

#include "common/error.h"

#include <cstdlib>
#include <dlfcn.h>
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

// What the loaded library says about itself: OpenBLAS and MKL export their own queries; the
// reference BLAS has none and lives in Debian's blas/ directory.
void describeBlas(RuntimeInfo &info)
{
    using ConfigFn = const char *(*)();
    using ThreadsFn = int (*)();
    if (auto config = reinterpret_cast<ConfigFn>(::dlsym(RTLD_DEFAULT, "openblas_get_config"))) {
        info.blasName = config();
        if (auto threads = reinterpret_cast<ThreadsFn>(::dlsym(RTLD_DEFAULT, "openblas_get_num_threads")))
            info.blasThreads = threads();
        return;
    }
    if (auto threads = reinterpret_cast<ThreadsFn>(::dlsym(RTLD_DEFAULT, "mkl_get_max_threads"))) {
        info.blasName = "Intel MKL";
        info.blasThreads = threads();
        return;
    }
    const bool referencePath = info.blas.find("/blas/libblas.so") != std::string::npos;
    if (referencePath || info.blas.find("libblas.so") != std::string::npos) {
        info.referenceBlas = true;
        info.blasName = "reference BLAS (netlib)";
        info.blasThreads = 1;
    } else {
        info.blasName = "unknown BLAS";
    }
}

} // namespace

RuntimeInfo runtimeInfo()
{
    RuntimeInfo info;
    info.intraOpThreads = at::get_num_threads();
    info.torchVersion = std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "."
                        + std::to_string(TORCH_VERSION_PATCH);
    info.blas = loadedBlas();
    describeBlas(info);
    const std::string config = at::show_config();
    const auto pos = config.find("CPU capability usage: ");
    if (pos != std::string::npos) {
        const auto start = pos + std::string("CPU capability usage: ").size();
        info.cpuCapability = config.substr(start, config.find('\n', start) - start);
    }
    return info;
}

std::string describeRuntime(const RuntimeInfo &info)
{
    std::string text = "Torch " + info.torchVersion + ", " + std::to_string(info.intraOpThreads)
                       + " threads; BLAS: " + info.blasName;
    if (info.blasThreads > 0)
        text += ", " + std::to_string(info.blasThreads) + " threads";
    text += " (" + info.blas + ")";
    if (!info.cpuCapability.empty())
        text += "; CPU " + info.cpuCapability;
    return text;
}

std::string blasWarning(const RuntimeInfo &info)
{
    if (!info.referenceBlas)
        return {};
    return "the reference BLAS (" + info.blas
           + ") is in use: matrix products run ~20x slower than with OpenBLAS; install libopenblas0-openmp "
             "(tools/bootstrap.sh does) and rebuild, or start with "
             "LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp";
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
