// Seeds for the probes' random AE titles and identifiers: one draw from std::random_device per process, then
// splitmix64 over a counter. Opening the system's random source once per probe was 15% of a discovery scan's
// CPU (bench/scan); these values need to differ between probes and runs, not to be secret.
#pragma once

#include <cstdint>

namespace dg::util {

// Thread-safe; never the same value twice in a process.
std::uint64_t random_seed();

}  // namespace dg::util
