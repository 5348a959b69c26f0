// Template implementation of parallel_ordered (included by runner.h).
#pragma once

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

namespace dg::files {

template <typename R>
void parallel_ordered(std::size_t n, const ParallelOptions& opt, const std::function<R(std::size_t)>& work,
                      const std::function<void(std::size_t, R&&)>& deliver) {
  unsigned jobs = opt.jobs > 0 ? static_cast<unsigned>(opt.jobs) : std::max(1u, std::thread::hardware_concurrency());
  if (n < jobs) jobs = static_cast<unsigned>(std::max<std::size_t>(n, 1));
  const std::size_t window = 1024 * jobs;
  std::vector<std::optional<R>> slots(window);
  std::mutex mu;
  std::condition_variable ready, room;
  std::size_t next_deliver = 0;
  std::atomic<std::size_t> next_take{0};

  auto worker = [&] {
    for (;;) {
      const std::size_t i = next_take.fetch_add(1);
      if (i >= n) return;
      {
        std::unique_lock lk(mu);
        room.wait(lk, [&] { return i < next_deliver + window; });
      }
      R r = work(i);
      {
        std::lock_guard lk(mu);
        slots[i % window] = std::move(r);
      }
      ready.notify_one();
    }
  };
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < jobs; ++t) threads.emplace_back(worker);

  const auto start = std::chrono::steady_clock::now();
  auto last = start;
  bool shown = false;
  for (std::size_t i = 0; i < n; ++i) {
    R r;
    {
      std::unique_lock lk(mu);
      ready.wait(lk, [&] { return slots[i % window].has_value(); });
      r = std::move(*slots[i % window]);
      slots[i % window].reset();
      next_deliver = i + 1;
    }
    room.notify_all();
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

}  // namespace dg::files
