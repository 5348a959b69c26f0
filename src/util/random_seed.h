// Seeds for the probes' random AE titles and identifiers: one draw from std::random_device per process, then
// splitmix64 over a counter. Opening the system's random source once per probe was 15% of a discovery scan's
// CPU (bench/scan); these values need to differ between probes and runs, not to be secret.
#pragma once

#include <cstdint>

namespace dg::util {

// Thread-safe; never the same value twice in a process.
std::uint64_t random_seed();

// A small random bit generator for the probes' AE titles and identifiers: splitmix64, 8 bytes of state where
// std::mt19937_64 holds 2,496, once per probe in flight (a tenth of a discovery probe's memory, and every page
// of it faulted in fresh). Not for anything that must be unpredictable to an attacker.
class SplitMix64 {
 public:
  using result_type = std::uint64_t;
  explicit SplitMix64(std::uint64_t seed = 0) : s_(seed) {}
  void seed(std::uint64_t seed) { s_ = seed; }
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return ~result_type{0}; }
  result_type operator()() {
    std::uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

 private:
  std::uint64_t s_;
};

}  // namespace dg::util
