// Template implementation of parallel_ordered (included by runner.h).
#pragma once

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>
#include <thread>

namespace dg::util {

template <typename R>
void parallel_ordered(std::size_t n, const ParallelOptions& opt, const std::function<R(std::size_t)>& work,
                      const std::function<void(std::size_t, R&&)>& deliver) {
  unsigned jobs = opt.jobs > 0 ? static_cast<unsigned>(opt.jobs) : std::max(1u, std::thread::hardware_concurrency());
  if (n < jobs) jobs = static_cast<unsigned>(std::max<std::size_t>(n, 1));
  const std::size_t window = 1024 * jobs;
  struct Slot {
    std::optional<R> r;
    std::atomic<bool> full{false};
  };
  std::vector<Slot> slots(window);
  std::atomic<std::size_t> next_take{0}, next_deliver{0};
  // The calling thread is one of the `jobs` workers: when the result it must deliver next is not ready, it
  // checks a file itself instead of sleeping. Wake-ups happen only when someone really sleeps (per-file
  // condition-variable traffic cost more than the checks). Each side publishes (full / next_deliver) and then
  // reads the other's waiting flag, all sequentially consistent, and notifies under the mutex: no lost wake-up.
  std::mutex mu;
  std::condition_variable ready, room;
  std::atomic<bool> main_waiting{false};
  std::atomic<int> room_waiters{0};

  auto run_one = [&](std::size_t i) {
    Slot& s = slots[i % window];
    s.r.emplace(work(i));
    s.full.store(true);
    if (main_waiting.load()) {
      std::lock_guard lk(mu);
      ready.notify_one();
    }
  };
  auto worker = [&] {
    for (;;) {
      const std::size_t i = next_take.fetch_add(1);
      if (i >= n) return;
      if (i >= next_deliver.load() + window) {
        std::unique_lock lk(mu);
        ++room_waiters;
        room.wait(lk, [&] { return i < next_deliver.load() + window; });
        --room_waiters;
      }
      run_one(i);
    }
  };
  std::vector<std::thread> threads;
  for (unsigned t = 1; t < jobs; ++t) threads.emplace_back(worker);

  const auto start = std::chrono::steady_clock::now();
  auto last = start;
  bool shown = false;
  for (std::size_t i = 0; i < n; ++i) {
    Slot& s = slots[i % window];
    while (!s.full.load()) {
      // Help: take the next file if its slot is inside the window this thread is delivering.
      std::size_t j = next_take.load();
      if (j < n && j < i + window && next_take.compare_exchange_weak(j, j + 1)) {
        run_one(j);
        continue;
      }
      if (j < n && j < i + window) continue;  // lost the race for j: try again
      std::unique_lock lk(mu);
      main_waiting.store(true);
      ready.wait(lk, [&] { return s.full.load(); });
      main_waiting.store(false);
    }
    R r = std::move(*s.r);
    s.r.reset();
    s.full.store(false);
    next_deliver.store(i + 1);
    if (room_waiters.load()) {
      std::lock_guard lk(mu);
      room.notify_all();
    }
    deliver(i, std::move(r));
    if (opt.progress) {
      const auto now = std::chrono::steady_clock::now();
      if (now - start > std::chrono::seconds(1) && now - last > std::chrono::milliseconds(100)) {
        last = now;
        const double secs = std::chrono::duration<double>(now - start).count();
        std::fprintf(stderr, "\r\033[K%s %zu/%zu (%.0f%%, %.0f/s)", opt.progress_label.c_str(), i + 1, n,
                     100.0 * static_cast<double>(i + 1) / static_cast<double>(n), static_cast<double>(i + 1) / secs);
        std::fflush(stderr);
        shown = true;
      }
    }
  }
  for (auto& t : threads) t.join();
  if (shown) std::fprintf(stderr, "\r\033[K");
}

}  // namespace dg::util
