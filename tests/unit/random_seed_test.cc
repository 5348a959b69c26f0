// util::random_seed: distinct seeds for every probe of a run, from threads too; util::SplitMix64, the probes' generator.
#include "util/random_seed.h"

#include <gtest/gtest.h>

#include <random>
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

TEST(SplitMix64, GivesTheReferenceSequenceAndServesTheStandardDistributions) {
  // The published splitmix64 sequence from state 0 (Vigna's reference implementation).
  dg::util::SplitMix64 g(0);
  EXPECT_EQ(g(), 0xE220A8397B1DCDAFull);
  EXPECT_EQ(g(), 0x6E789E6AA1B965F4ull);
  EXPECT_EQ(g(), 0x06C45D188009454Full);
  // Each of the 32 AE-title characters comes up, and nothing outside the range.
  std::uniform_int_distribution<int> d(0, 31);
  std::vector<int> seen(32, 0);
  for (int i = 0; i < 10000; ++i) {
    const int v = d(g);
    ASSERT_GE(v, 0);
    ASSERT_LE(v, 31);
    ++seen[static_cast<std::size_t>(v)];
  }
  for (int n : seen) EXPECT_GT(n, 200);
}
