#include "common/openmpwait.h"

#include <cstdlib>

#include <unistd.h>

namespace plad {

void ensurePassiveOpenMPWaiting(char **argv)
{
    if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT") || !argv || !argv[0])
        return;
    if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0)
        return;
    execv("/proc/self/exe", argv); // returns only on failure
}

} // namespace plad
