// --shard i/N: split a long job into N disjoint parts that independent processes (a Kubernetes Indexed Job, a
// Slurm job array, GNU parallel) run with no coordination. An item belongs to shard (first 8 bytes of
// SHA-256(key), big-endian) mod N, where key is a stable text form of the item: a scan's "address:port"
// (127.0.0.1:104, [::1]:104), a file's path relative to the folder it was found under. The split therefore does
// not depend on the order, the number or the machine the items are listed on, and results of different machines
// and releases merge. Shards are numbered from 0, as JOB_COMPLETION_INDEX and SLURM_ARRAY_TASK_ID (--array=0-N-1).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dg::util {

struct Shard {
  std::uint32_t index = 0;  // 0..count-1
  std::uint32_t count = 1;
  bool active() const { return count > 1; }
  bool contains(std::string_view key) const;
  std::string str() const;  // "2/8"
};

// The shard (0..count-1) a key falls in.
std::uint32_t shard_of(std::string_view key, std::uint32_t count);

// "i/N" with 0 <= i < N <= 1,000,000; an error message for anything else.
std::optional<Shard> parse_shard(const std::string& spec, std::string& error);

}  // namespace dg::util
