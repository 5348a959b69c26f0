// Template implementation of parallel_stream and parallel_ordered (included by runner.h).
#pragma once

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>

namespace dg::util {

template <typename T, typename R>
void parallel_stream(const ParallelOptions& opt, const std::function<bool(T&)>& next,
                     const std::function<R(T&)>& work, const std::function<void(R&&)>& deliver) {
  unsigned jobs = opt.jobs > 0 ? static_cast<unsigned>(opt.jobs) : std::max(1u, std::thread::hardware_concurrency());
  if (opt.total > 0 && opt.total < jobs) jobs = static_cast<unsigned>(opt.total);
  const std::size_t window = 1024 * jobs;
  constexpr std::size_t none = std::numeric_limits<std::size_t>::max();
  struct Slot {
    std::optional<R> r;
    std::atomic<bool> full{false};
  };
  std::vector<Slot> slots(window);
  // Items are numbered as next() gives them out (under gen_mu); `total` is their count once next() said no more.
  std::mutex gen_mu;
  std::size_t taken = 0;  // guarded by gen_mu
  bool exhausted = false;  // guarded by gen_mu
  std::atomic<std::size_t> total{none}, next_deliver{0};
  // The calling thread is one of the `jobs` workers: when the result it must deliver next is not ready, it
  // checks an item itself instead of sleeping. Wake-ups happen only when someone really sleeps (per-item
  // condition-variable traffic cost more than the checks). Each side publishes (full / total / next_deliver)
  // and then reads the other's waiting flag, all sequentially consistent, and notifies under the mutex: no lost
  // wake-up.
  std::mutex mu;
  std::condition_variable ready, room;
  std::atomic<bool> main_waiting{false};
  std::atomic<int> room_waiters{0};

  auto wake_main = [&] {
    if (main_waiting.load()) {
      std::lock_guard lk(mu);
      ready.notify_one();
    }
  };
  // Items are taken in batches of consecutive numbers under one lock: next() (a directory walk) is serial, and
  // when threads met on gen_mu one item at a time, most of their context switches were there. A thread's batch
  // grows (up to kBatch) while its items are quick and falls back to one as soon as they are not, so that a few
  // big files are still shared out one by one. Returns the first number and how many were taken (0: no more, or
  // the next would be at or past `limit`).
  constexpr std::size_t kBatch = 16;
  constexpr auto kQuick = std::chrono::microseconds(200);
  auto take = [&](std::size_t limit, std::vector<T>& items, std::size_t want) -> std::pair<std::size_t, std::size_t> {
    std::size_t first = none, n = 0;
    bool ended = false;
    {
      std::unique_lock lk(gen_mu, std::defer_lock);
      // The lock is held for a few microseconds: spin a little before sleeping on it.
      for (int k = 0; k < 64 && !lk.try_lock(); ++k) std::this_thread::yield();
      if (!lk.owns_lock()) lk.lock();
      if (exhausted || taken >= limit) return {none, 0};
      first = taken;
      while (n < want && taken < limit) {
        if (!next(items[n])) {
          exhausted = ended = true;
          total.store(taken);
          break;
        }
        ++n;
        ++taken;
      }
    }
    if (ended) wake_main();
    return {n ? first : none, n};
  };
  auto run_one = [&](std::size_t i, T& item) {
    Slot& s = slots[i % window];
    s.r.emplace(work(item));
    s.full.store(true);
    wake_main();
  };
  // Works the batch take() gave this thread, waiting for room in the window where an item is past it (never
  // for the delivering thread: it takes only items inside its window), and returns the next batch size to ask.
  auto run_batch = [&](std::size_t first, std::size_t n, std::vector<T>& items) -> std::size_t {
    const auto t0 = std::chrono::steady_clock::now();
    for (std::size_t k = 0; k < n; ++k) {
      const std::size_t i = first + k;
      if (i >= next_deliver.load() + window) {
        std::unique_lock lk(mu);
        ++room_waiters;
        room.wait(lk, [&] { return i < next_deliver.load() + window; });
        --room_waiters;
      }
      run_one(i, items[k]);
    }
    const auto spent = std::chrono::steady_clock::now() - t0;
    return spent < kQuick * static_cast<long>(n) ? std::min(kBatch, n * 2) : 1;
  };
  auto worker = [&] {
    std::vector<T> items(kBatch);
    std::size_t want = 1;
    for (;;) {
      const auto [first, n] = take(none, items, want);
      if (n == 0) return;
      want = run_batch(first, n, items);
    }
  };
  std::vector<std::thread> threads;
  for (unsigned t = 1; t < jobs; ++t) threads.emplace_back(worker);

  const auto start = std::chrono::steady_clock::now();
  auto last = start;
  bool shown = false;
  std::vector<T> mine(kBatch);
  std::size_t mine_want = 1;
  for (std::size_t i = 0;; ++i) {
    Slot& s = slots[i % window];
    bool end = false;
    while (!s.full.load()) {
      if (total.load() <= i) {
        end = true;
        break;
      }
      // Help: take the next item if its slot is inside the window this thread is delivering.
      if (const auto [first, n] = take(i + window, mine, mine_want); n) {
        mine_want = run_batch(first, n, mine);
        continue;
      }
      std::unique_lock lk(mu);
      main_waiting.store(true);
      ready.wait(lk, [&] { return s.full.load() || total.load() <= i; });
      main_waiting.store(false);
    }
    if (end) break;
    R r = std::move(*s.r);
    s.r.reset();
    s.full.store(false);
    next_deliver.store(i + 1);
    if (room_waiters.load()) {
      std::lock_guard lk(mu);
      room.notify_all();
    }
    deliver(std::move(r));
    if (opt.progress) {
      const auto now = std::chrono::steady_clock::now();
      if (now - start > std::chrono::seconds(1) && now - last > std::chrono::milliseconds(100)) {
        last = now;
        const double secs = std::chrono::duration<double>(now - start).count();
        const double rate = static_cast<double>(i + 1) / secs;
        if (opt.total > 0)
          std::fprintf(stderr, "\r\033[K%s %zu/%zu (%.0f%%, %.0f/s)", opt.progress_label.c_str(), i + 1, opt.total,
                       100.0 * static_cast<double>(i + 1) / static_cast<double>(opt.total), rate);
        else
          std::fprintf(stderr, "\r\033[K%s %zu (%.0f/s)", opt.progress_label.c_str(), i + 1, rate);
        std::fflush(stderr);
        shown = true;
      }
    }
  }
  for (auto& t : threads) t.join();
  if (shown) std::fprintf(stderr, "\r\033[K");
}

template <typename R>
void parallel_ordered(std::size_t n, const ParallelOptions& opt, const std::function<R(std::size_t)>& work,
                      const std::function<void(std::size_t, R&&)>& deliver) {
  if (n == 0) return;
  ParallelOptions o = opt;
  o.total = n;
  std::size_t given = 0, delivered = 0;
  parallel_stream<std::size_t, R>(
      o,
      [&](std::size_t& i) {
        if (given == n) return false;
        i = given++;
        return true;
      },
      [&](std::size_t& i) { return work(i); }, [&](R&& r) { deliver(delivered++, std::move(r)); });
}

}  // namespace dg::util
