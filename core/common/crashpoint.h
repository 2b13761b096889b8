#pragma once
// Named places where the crash-safety tests kill the process (tests/core/tst_killresume.cpp):
// with PLAD_CRASH_AT=NAME:N in the environment, the N-th time the program passes crashPoint(NAME)
// it sends itself SIGKILL, as the OOM killer or a `kill -9` would stop it there. Without the
// variable a crash point is one comparison. docs/reliability.md lists the points.

namespace plad {

void crashPoint(const char *name);

} // namespace plad
