#include "util/random_seed.h"

#include <atomic>
#include <random>

namespace dg::util {

std::uint64_t random_seed() {
  static const std::uint64_t base = [] {
    std::random_device rd;
    return (std::uint64_t{rd()} << 32) ^ rd();
  }();
  static std::atomic<std::uint64_t> counter{0};
  // splitmix64: a bijection of the counter, so distinct counters give distinct seeds.
  std::uint64_t z = base + 0x9E3779B97F4A7C15ull * (counter.fetch_add(1, std::memory_order_relaxed) + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace dg::util
