// Crash-injection points for durability tests: when DICOMGUARD_KILL_AT names a point, the process sends itself
// SIGKILL there, exactly like an operator's kill -9 at that moment. Unset in normal use: costs one getenv per call.
#pragma once

namespace dg {
void failpoint(const char* name);
}
