// A process-wide bound on the memory that parallel workers spend on big buffers (inflated datasets, decoded
// document streams), so that -j multiplies throughput, not the worst case. A worker takes one lease of a fixed
// size before it allocates big buffers and holds it until its current job ends; it never asks for a second
// lease while it holds one, so workers wait for each other but can never deadlock.
#pragma once

#include <cstddef>

namespace dg::util {

class MemoryLease {
 public:
  MemoryLease() = default;
  ~MemoryLease() { release(); }
  MemoryLease(const MemoryLease&) = delete;
  MemoryLease& operator=(const MemoryLease&) = delete;

  // Blocks until a lease is free (returns at once if this object already holds one).
  void acquire();
  void release();
  bool held() const { return held_; }

  // The bytes one lease allows its holder to keep in big buffers at any moment, and how many leases exist.
  static constexpr std::size_t kBytes = 32u << 20;
  static constexpr int kLeases = 2;

 private:
  bool held_ = false;
};

}  // namespace dg::util
