#include "util/shard.h"

#include <openssl/evp.h>

#include <charconv>

namespace dg::util {

std::uint32_t shard_of(std::string_view key, std::uint32_t count) {
  if (count <= 1) return 0;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(key.data(), key.size(), md, &len, EVP_sha256(), nullptr);
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | md[i];
  return static_cast<std::uint32_t>(v % count);
}

bool Shard::contains(std::string_view key) const { return !active() || shard_of(key, count) == index; }

std::string Shard::str() const { return std::to_string(index) + "/" + std::to_string(count); }

namespace {
bool number(std::string_view s, std::uint32_t& out) {
  if (s.empty() || s.size() > 7) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}
}  // namespace

std::optional<Shard> parse_shard(const std::string& spec, std::string& error) {
  const auto slash = spec.find('/');
  Shard s;
  if (slash == std::string::npos || !number(std::string_view(spec).substr(0, slash), s.index) ||
      !number(std::string_view(spec).substr(slash + 1), s.count)) {
    error = "--shard takes i/N with 0 <= i < N (e.g. 0/4), not '" + spec + "'";
    return std::nullopt;
  }
  if (s.count < 1 || s.count > 1000000) {
    error = "--shard '" + spec + "': N must be 1 to 1000000";
    return std::nullopt;
  }
  if (s.index >= s.count) {
    error = "--shard '" + spec + "': shards are numbered 0 to " + std::to_string(s.count - 1) +
            " (Slurm: --array=0-" + std::to_string(s.count - 1) + ")";
    return std::nullopt;
  }
  return s;
}

}  // namespace dg::util
