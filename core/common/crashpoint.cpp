#include "common/crashpoint.h"

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>

#include <unistd.h>

namespace plad {

namespace {

struct CrashPlan
{
    std::string name;
    long at = 0;
    std::atomic<long> hits{0};

    CrashPlan()
    {
        const char *spec = std::getenv("PLAD_CRASH_AT");
        if (!spec || !*spec)
            return;
        const char *colon = std::strrchr(spec, ':');
        name.assign(spec, colon ? static_cast<size_t>(colon - spec) : std::strlen(spec));
        at = colon ? std::strtol(colon + 1, nullptr, 10) : 1;
        if (at < 1)
            at = 1;
    }
};

CrashPlan &plan()
{
    static CrashPlan instance;
    return instance;
}

} // namespace

void crashPoint(const char *name)
{
    CrashPlan &p = plan();
    if (p.name.empty() || p.name != name)
        return;
    if (p.hits.fetch_add(1) + 1 == p.at)
        ::kill(::getpid(), SIGKILL);
}

} // namespace plad
