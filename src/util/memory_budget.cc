#include "util/memory_budget.h"

#include <condition_variable>
#include <mutex>

namespace dg::util {

namespace {
std::mutex g_mu;
std::condition_variable g_cv;
int g_free = MemoryLease::kLeases;
}  // namespace

void MemoryLease::acquire() {
  if (held_) return;
  std::unique_lock lk(g_mu);
  g_cv.wait(lk, [] { return g_free > 0; });
  --g_free;
  held_ = true;
}

void MemoryLease::release() {
  if (!held_) return;
  {
    std::lock_guard lk(g_mu);
    ++g_free;
  }
  held_ = false;
  g_cv.notify_one();
}

}  // namespace dg::util
