// util::random_seed: distinct seeds for every probe of a run, from threads too.
#include "util/random_seed.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

TEST(RandomSeed, NeverRepeatsInAProcessEvenFromSeveralThreads) {
  std::vector<std::vector<std::uint64_t>> got(4);
  std::vector<std::thread> threads;
  for (auto& g : got)
    threads.emplace_back([&g] {
      for (int i = 0; i < 50000; ++i) g.push_back(dg::util::random_seed());
    });
  for (auto& t : threads) t.join();
  std::set<std::uint64_t> all;
  for (const auto& g : got) all.insert(g.begin(), g.end());
  EXPECT_EQ(all.size(), 200000u);
}
