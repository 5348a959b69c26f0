// Scan targets: hosts, IPv4/IPv6 addresses, CIDR blocks, ranges, list files (plain, ip:port, masscan and zmap
// output), port lists and exclusions. Large ranges are never expanded into memory: TargetSet enumerates them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "util/shard.h"

namespace dg::scan {

// An IPv4 or IPv6 address as 16 bytes (IPv4 as ::ffff:a.b.c.d); ordered and comparable.
struct Addr {
  std::uint8_t b[16] = {};
  bool v4() const;
  std::string str() const;  // 127.0.0.1, ::1
  auto operator<=>(const Addr&) const = default;
};
std::optional<Addr> parse_addr(const std::string& s);

struct Endpoint {
  Addr addr;
  std::uint16_t port = 0;
  std::string host;  // the name the user gave, when it was a host name (for reports and TLS SNI)
  std::string str() const;  // 127.0.0.1:104, [::1]:104
};

// An inclusive range of addresses of one family, with an optional explicit port (from ip:port list lines).
struct Block {
  Addr first, last;
  std::optional<std::uint16_t> port;
  std::string host;
};

std::vector<std::uint16_t> parse_ports(const std::string& spec, std::string& error);
inline constexpr const char* kDefaultPorts = "104,11112,4242,2761,2762,8042,80,443,8080";

class TargetSet {
 public:
  // Adds one command-line target: host name, address, CIDR (10.0.0.0/24, fd00::/120), range (10.0.0.1-20,
  // 10.0.0.1-10.0.0.20), or addr:port / [v6]:port. Host names are resolved here (all their addresses).
  bool add(const std::string& spec, std::string& error);
  // Adds every target in a list file: one target per line as above, '#' comments, masscan -oL lines
  // ("open tcp 104 10.0.0.1 1600000000"), masscan -oG lines ("Host: 10.0.0.1 () Ports: 104/open/tcp//"),
  // zmap CSV (the first column when it is an address; a "saddr" header is skipped).
  bool add_file(const std::string& path, std::string& error);
  bool exclude(const std::string& spec, std::string& error);
  void set_ports(std::vector<std::uint16_t> p) { ports_ = std::move(p); }
  // --shard i/N: enumerate only the endpoints whose "address:port" (Endpoint::str()) falls in this shard.
  void set_shard(util::Shard s) { shard_ = s; }
  const util::Shard& shard() const { return shard_; }

  // Number of endpoints (after exclusions are ignored; an upper bound), saturating; with a shard, the expected
  // share of it (total / N, rounded up).
  std::uint64_t size_hint() const;
  // Enumerates endpoints port-major (every host on the first port, then the next port), so that work on one
  // host is spread out in time; blocks with an explicit port contribute once. Calls f(endpoint) for each;
  // f returns false to stop.
  template <class F>
  void for_each(F&& f) const;

  // The iteration state, for the engine to pull one endpoint at a time.
  class Cursor {
   public:
    explicit Cursor(const TargetSet& t) : t_(t) {}
    std::optional<Endpoint> next();

   private:
    const TargetSet& t_;
    std::size_t port_i_ = 0, block_i_ = 0;
    bool started_ = false;
    Addr cur_;
    bool explicit_phase_ = false;
  };

  const std::vector<Block>& blocks() const { return blocks_; }
  bool excluded(const Addr& a) const;

 private:
  std::vector<Block> blocks_;
  std::vector<Block> excludes_;
  std::vector<std::uint16_t> ports_;
  util::Shard shard_;
  friend class Cursor;
};

template <class F>
void TargetSet::for_each(F&& f) const {
  Cursor c(*this);
  while (auto e = c.next())
    if (!f(*e)) return;
}

}  // namespace dg::scan
