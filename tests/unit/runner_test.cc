// util::parallel_stream: every item is worked on once, results arrive in the order next() gave the items
// whatever -j and however uneven the work, next() is never called by two threads at once, and only a bounded
// window of results waits for delivery.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <cstdint>
#include <algorithm>
#include <functional>
#include <vector>

#include "util/runner.h"

using dg::util::ParallelOptions;
using dg::util::parallel_ordered;
using dg::util::parallel_stream;

namespace {

// Uneven work: some items take many times longer than their neighbours, so threads finish out of order.
std::uint64_t busy(std::size_t i) {
  std::uint64_t x = i;
  const std::size_t rounds = (i % 7 == 0) ? 20000 : (i % 3 == 0 ? 2000 : 10);
  for (std::size_t k = 0; k < rounds; ++k) x = x * 6364136223846793005ull + 1442695040888963407ull;
  return x;
}

struct StreamRun {
  std::vector<std::size_t> delivered;
  std::vector<int> worked;
  bool next_overlapped = false;
};

StreamRun stream(std::size_t n, int jobs) {
  StreamRun run;
  run.worked.assign(n, 0);
  std::atomic<int> in_next{0};
  std::size_t given = 0;
  std::atomic<bool> overlapped{false};
  ParallelOptions opt;
  opt.jobs = jobs;
  parallel_stream<std::size_t, std::pair<std::size_t, std::uint64_t>>(
      opt,
      [&](std::size_t& item) {
        if (in_next.fetch_add(1) != 0) overlapped = true;
        const bool more = given < n;
        if (more) item = given++;
        in_next.fetch_sub(1);
        return more;
      },
      [&](std::size_t& i) {
        ++run.worked[i];  // each index is worked on by one thread only (checked below by the count)
        const std::uint64_t v = busy(i);
        return std::make_pair(i, v);
      },
      [&](std::pair<std::size_t, std::uint64_t>&& r) {
        EXPECT_EQ(r.second, busy(r.first));
        run.delivered.push_back(r.first);
      });
  run.next_overlapped = overlapped.load();
  return run;
}

}  // namespace

TEST(ParallelStream, DeliversEveryItemOnceInOrderWhateverTheJobs) {
  for (int jobs : {1, 2, 3, 8}) {
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{5}, std::size_t{17}, std::size_t{10000}}) {
      const StreamRun run = stream(n, jobs);
      ASSERT_EQ(run.delivered.size(), n) << "jobs " << jobs;
      for (std::size_t i = 0; i < n; ++i) {
        ASSERT_EQ(run.delivered[i], i) << "jobs " << jobs << " n " << n;
        ASSERT_EQ(run.worked[i], 1) << "jobs " << jobs << " n " << n;
      }
      EXPECT_FALSE(run.next_overlapped) << "jobs " << jobs;
    }
  }
}

TEST(ParallelStream, ResultsWaitingForDeliveryStayWithinTheWindow) {
  // Work is cheap and delivery slow, so the workers run ahead of the output until the window (1024 results
  // per job) stops them: the results waiting are bounded by it, and do reach it (the bound is what held them).
  constexpr std::size_t kItems = 12000;
  std::atomic<std::size_t> done{0};
  std::size_t given = 0, delivered = 0, max_waiting = 0;
  ParallelOptions opt;
  opt.jobs = 3;
  parallel_stream<std::size_t, std::size_t>(
      opt,
      [&](std::size_t& item) {
        if (given == kItems) return false;
        item = given++;
        return true;
      },
      [&](std::size_t& i) {
        ++done;
        return i;
      },
      [&](std::size_t&& i) {
        EXPECT_EQ(i, delivered);
        EXPECT_NE(busy(7), 0u);  // slow delivery
        max_waiting = std::max(max_waiting, done.load() - delivered);
        ++delivered;
      });
  EXPECT_EQ(delivered, kItems);
  EXPECT_LE(max_waiting, 1024u * 3 + 1);  // the window, and the one being delivered (its slot is free again)
  EXPECT_GT(max_waiting, 1024u);
}

TEST(ParallelOrdered, GivesIndicesInOrder) {
  std::vector<std::size_t> got;
  ParallelOptions opt;
  opt.jobs = 3;
  parallel_ordered<std::size_t>(
      1000, opt, [](std::size_t i) { return i * 2 + busy(i) % 1; },
      [&](std::size_t i, std::size_t&& v) {
        EXPECT_EQ(v, i * 2);
        got.push_back(i);
      });
  ASSERT_EQ(got.size(), 1000u);
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], i);
}

TEST(ParallelStream, SlowItemsAreSharedOutOneByOne) {
  // A few big files must not all go to one thread in a batch: each item here waits until another item is being
  // worked on at the same time, which can only happen if the second thread got one of them.
  std::mutex mu;
  std::condition_variable cv;
  int started = 0;
  bool alone = false;
  std::size_t given = 0;
  std::vector<std::size_t> got;
  ParallelOptions opt;
  opt.jobs = 2;
  parallel_stream<std::size_t, std::size_t>(
      opt,
      [&](std::size_t& item) {
        if (given == 4) return false;
        item = given++;
        return true;
      },
      [&](std::size_t& i) {
        std::unique_lock lk(mu);
        ++started;
        cv.notify_all();
        // Not a time limit on the code: a guard so that a regression fails instead of hanging the suite.
        if (!cv.wait_for(lk, std::chrono::seconds(60), [&] { return started >= 2; })) alone = true;
        return i;
      },
      [&](std::size_t&& i) { got.push_back(i); });
  EXPECT_FALSE(alone);
  EXPECT_EQ(got, (std::vector<std::size_t>{0, 1, 2, 3}));
}
