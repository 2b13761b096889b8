#pragma once

#include <string>

namespace plad {

/**
 * Process-wide compute settings for Torch.
 *
 * Torch's intra-op pool is shared by the whole process; call configureThreads() once at start
 * (the CLI and GUI do) and again from a worker thread if a job wants a different count.
 * Inter-op and autograd-mode settings are thread-local and are set by each job itself.
 */
struct RuntimeInfo
{
    int intraOpThreads = 0;
    std::string torchVersion;
    std::string blas;          ///< path of the BLAS library mapped into the process
    std::string blasName;      ///< what it is: "OpenBLAS 0.3.21 ... USE_OPENMP ...", "reference BLAS", ...
    int blasThreads = 0;       ///< the threads it uses (0 when it cannot say)
    bool referenceBlas = false; ///< the unoptimised netlib BLAS (~20x slower than OpenBLAS here)
    std::string cpuCapability; ///< vector ISA Torch dispatches to (AVX2, AVX512, ...)
};

/**
 * Sets Torch's intra-op thread count. `threads` <= 0 means: the PLAD_THREADS environment
 * variable if set, else the number of cores. Returns the count in force.
 */
int configureThreads(int threads = 0);

/** Reports the thread count, Torch version and the BLAS actually loaded. */
RuntimeInfo runtimeInfo();

/** One line for start-up and reports: "Torch 1.13.1, OpenBLAS ... (PATH), 2 threads, AVX2". */
std::string describeRuntime(const RuntimeInfo &info);

/** A warning to print when the BLAS in use is the reference one; empty otherwise. */
std::string blasWarning(const RuntimeInfo &info);

/** Validates a device string ("cpu", "cuda", "cuda:1"); throws ConfigError when unusable. */
std::string validateDevice(const std::string &device);

} // namespace plad
