#pragma once

// OpenMP's idle threads (Torch's and OpenBLAS's both run on libgomp) spin by default while they
// wait for the next parallel region. On a machine with other busy processes the spinning
// threads eat the time slices the working ones need: generation ran 35x slower next to two
// busy processes on two cores, against 2.5x with passive waiting, which costs an idle machine
// about 3%.

namespace plad {

/**
 * Runs the program again (same arguments, this executable) with OMP_WAIT_POLICY=passive,
 * unless OMP_WAIT_POLICY or GOMP_SPINCOUNT is already set: libgomp reads them when it loads,
 * before main(), so a running process cannot change its own policy. Call first thing in
 * main(). Returns when nothing needs doing or the re-execution failed (the process then runs
 * with the default policy).
 */
void ensurePassiveOpenMPWaiting(char **argv);

} // namespace plad
