#include "scan/targets.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

namespace dg::scan {

namespace {

const std::uint8_t kV4Prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};

Addr from_v4(std::uint32_t host_order) {
  Addr a;
  std::memcpy(a.b, kV4Prefix, 12);
  a.b[12] = static_cast<std::uint8_t>(host_order >> 24);
  a.b[13] = static_cast<std::uint8_t>(host_order >> 16);
  a.b[14] = static_cast<std::uint8_t>(host_order >> 8);
  a.b[15] = static_cast<std::uint8_t>(host_order);
  return a;
}

void increment(Addr& a) {
  for (int i = 15; i >= 0; --i)
    if (++a.b[i] != 0) return;
}

// Sets the low `bits` bits of the address to 0 (first) or 1 (last).
Addr with_host_bits(Addr a, int host_bits, bool ones) {
  for (int i = 15; i >= 0 && host_bits > 0; --i) {
    const int n = std::min(host_bits, 8);
    const std::uint8_t mask = static_cast<std::uint8_t>((1u << n) - 1);
    a.b[i] = ones ? (a.b[i] | mask) : (a.b[i] & ~mask);
    host_bits -= n;
  }
  return a;
}

std::string trim(std::string s) {
  const auto sp = [](unsigned char c) { return std::isspace(c) != 0; };
  while (!s.empty() && sp(static_cast<unsigned char>(s.back()))) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && sp(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

bool parse_u16(const std::string& s, std::uint16_t& out) {
  if (s.empty() || s.size() > 5 || !std::all_of(s.begin(), s.end(), ::isdigit)) return false;
  const unsigned long v = std::stoul(s);
  if (v == 0 || v > 65535) return false;
  out = static_cast<std::uint16_t>(v);
  return true;
}

// Parses one target (no port): address, CIDR, range or host name.
bool parse_block(const std::string& spec, std::vector<Block>& out, std::string& error) {
  if (spec.empty()) {
    error = "empty target";
    return false;
  }
  if (auto slash = spec.find('/'); slash != std::string::npos) {
    auto a = parse_addr(spec.substr(0, slash));
    const std::string bits_s = spec.substr(slash + 1);
    if (!a || bits_s.empty() || bits_s.size() > 3 || !std::all_of(bits_s.begin(), bits_s.end(), ::isdigit)) {
      error = "'" + spec + "' is not a CIDR block (address/prefix)";
      return false;
    }
    const int bits = std::stoi(bits_s);
    const int max = a->v4() ? 32 : 128;
    if (bits > max) {
      error = "'" + spec + "': prefix longer than the address";
      return false;
    }
    if (!a->v4() && bits < 104) {
      error = "'" + spec + "': IPv6 blocks larger than /104 (16.7 million addresses) cannot be swept; list targets";
      return false;
    }
    out.push_back({with_host_bits(*a, max - bits, false), with_host_bits(*a, max - bits, true), {}, {}});
    return true;
  }
  if (auto dash = spec.find('-'); dash != std::string::npos && parse_addr(spec.substr(0, dash))) {
    Addr first = *parse_addr(spec.substr(0, dash));
    const std::string rest = spec.substr(dash + 1);
    Addr last;
    if (auto full = parse_addr(rest)) {
      last = *full;
    } else if (first.v4() && !rest.empty() && rest.size() <= 3 && std::all_of(rest.begin(), rest.end(), ::isdigit) &&
               std::stoi(rest) <= 255) {
      last = first;
      last.b[15] = static_cast<std::uint8_t>(std::stoi(rest));
    } else {
      error = "'" + spec + "' is not a range (10.0.0.1-20 or 10.0.0.1-10.0.0.20)";
      return false;
    }
    if (last < first || first.v4() != last.v4()) {
      error = "'" + spec + "': the range ends before it starts";
      return false;
    }
    out.push_back({first, last, {}, {}});
    return true;
  }
  if (auto a = parse_addr(spec)) {
    out.push_back({*a, *a, {}, {}});
    return true;
  }
  // A host name: every address it resolves to.
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(spec.c_str(), nullptr, &hints, &res); rc != 0) {
    error = "cannot resolve '" + spec + "': " + ::gai_strerror(rc);
    return false;
  }
  std::vector<Addr> seen;
  for (addrinfo* p = res; p; p = p->ai_next) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (p->ai_family == AF_INET)
      ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(p->ai_addr)->sin_addr, buf, sizeof buf);
    else if (p->ai_family == AF_INET6)
      ::inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(p->ai_addr)->sin6_addr, buf, sizeof buf);
    else
      continue;
    if (auto a = parse_addr(buf); a && std::find(seen.begin(), seen.end(), *a) == seen.end()) {
      seen.push_back(*a);
      out.push_back({*a, *a, {}, spec});
    }
  }
  ::freeaddrinfo(res);
  if (seen.empty()) {
    error = "'" + spec + "' has no IPv4 or IPv6 address";
    return false;
  }
  return true;
}

// Splits "addr:port", "[v6]:port" and "host:port"; returns false when there is no port part.
bool split_port(const std::string& spec, std::string& host, std::uint16_t& port) {
  if (!spec.empty() && spec[0] == '[') {
    auto close = spec.find(']');
    if (close == std::string::npos || close + 1 >= spec.size() || spec[close + 1] != ':') return false;
    host = spec.substr(1, close - 1);
    return parse_u16(spec.substr(close + 2), port);
  }
  if (std::count(spec.begin(), spec.end(), ':') != 1) return false;  // bare IPv6 or no port
  auto colon = spec.find(':');
  host = spec.substr(0, colon);
  return parse_u16(spec.substr(colon + 1), port);
}

}  // namespace

bool Addr::v4() const { return std::memcmp(b, kV4Prefix, 12) == 0; }

std::string Addr::str() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (v4()) ::inet_ntop(AF_INET, b + 12, buf, sizeof buf);
  else ::inet_ntop(AF_INET6, b, buf, sizeof buf);
  return buf;
}

std::optional<Addr> parse_addr(const std::string& s) {
  Addr a;
  in_addr v4{};
  if (s.find(':') == std::string::npos) {
    if (::inet_pton(AF_INET, s.c_str(), &v4) != 1) return std::nullopt;
    return from_v4(ntohl(v4.s_addr));
  }
  if (::inet_pton(AF_INET6, s.c_str(), a.b) != 1) return std::nullopt;
  return a;
}

std::string Endpoint::str() const {
  return addr.v4() ? addr.str() + ":" + std::to_string(port) : "[" + addr.str() + "]:" + std::to_string(port);
}

std::vector<std::uint16_t> parse_ports(const std::string& spec, std::string& error) {
  std::vector<std::uint16_t> out;
  std::stringstream ss(spec);
  std::string part;
  while (std::getline(ss, part, ',')) {
    part = trim(part);
    std::uint16_t lo = 0, hi = 0;
    if (auto dash = part.find('-'); dash != std::string::npos) {
      if (!parse_u16(part.substr(0, dash), lo) || !parse_u16(part.substr(dash + 1), hi) || hi < lo) {
        error = "'" + part + "' is not a port range (1-65535)";
        return {};
      }
    } else if (!parse_u16(part, lo)) {
      error = "'" + part + "' is not a port (1-65535)";
      return {};
    } else {
      hi = lo;
    }
    for (std::uint32_t p = lo; p <= hi; ++p)
      if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(static_cast<std::uint16_t>(p));
  }
  if (out.empty()) error = "no ports given";
  return out;
}

bool TargetSet::add(const std::string& raw, std::string& error) {
  const std::string spec = trim(raw);
  std::string host;
  std::uint16_t port = 0;
  if (split_port(spec, host, port)) {
    std::vector<Block> bs;
    if (!parse_block(host, bs, error)) return false;
    for (Block& b : bs) b.port = port;
    blocks_.insert(blocks_.end(), bs.begin(), bs.end());
    return true;
  }
  return parse_block(spec, blocks_, error);
}

bool TargetSet::add_file(const std::string& path, std::string& error) {
  std::ifstream in(path);
  if (!in) {
    error = "cannot read target list '" + path + "': " + std::strerror(errno);
    return false;
  }
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    line = trim(line);
    if (line.empty()) continue;
    std::vector<std::string> words;
    {
      std::stringstream ws(line);
      std::string w;
      while (ws >> w) words.push_back(w);
    }
    std::string err;
    bool ok;
    if (words.size() >= 4 && words[0] == "open" && words[1] == "tcp") {  // masscan -oL
      ok = add(words[3].find(':') != std::string::npos ? "[" + words[3] + "]:" + words[2] : words[3] + ":" + words[2],
               err);
    } else if (words.size() >= 5 && words[0] == "Host:" && words[3] == "Ports:") {  // masscan -oG
      const std::string port = words[4].substr(0, words[4].find('/'));
      ok = add(words[1].find(':') != std::string::npos ? "[" + words[1] + "]:" + port : words[1] + ":" + port, err);
    } else if (line.find(',') != std::string::npos) {  // zmap CSV: the first column
      const std::string first = trim(line.substr(0, line.find(',')));
      if (first == "saddr" || first == "ip") continue;
      ok = add(first, err);
    } else {
      ok = add(line, err);
    }
    if (!ok) {
      error = path + ":" + std::to_string(n) + ": " + err;
      return false;
    }
  }
  return true;
}

bool TargetSet::exclude(const std::string& spec, std::string& error) {
  std::stringstream ss(spec);
  std::string part;
  while (std::getline(ss, part, ',')) {
    if (trim(part).empty()) continue;
    if (!parse_block(trim(part), excludes_, error)) return false;
  }
  return true;
}

bool TargetSet::excluded(const Addr& a) const {
  for (const Block& e : excludes_)
    if (!(a < e.first) && !(e.last < a)) return true;
  return false;
}

std::uint64_t TargetSet::size_hint() const {
  std::uint64_t n = 0;
  for (const Block& b : blocks_) {
    bool big = false;
    for (int i = 0; i < 8; ++i) big |= b.first.b[i] != b.last.b[i];
    if (big) return UINT64_MAX;
    std::uint64_t lo = 0, hi = 0;
    for (int i = 8; i < 16; ++i) {
      lo = lo << 8 | b.first.b[i];
      hi = hi << 8 | b.last.b[i];
    }
    const std::uint64_t count = hi - lo + 1;
    const std::uint64_t mult = b.port ? 1 : ports_.size();
    if (count > UINT64_MAX / std::max<std::uint64_t>(mult, 1) || n + count * mult < n) return UINT64_MAX;
    n += count * mult;
  }
  return shard_.active() ? (n + shard_.count - 1) / shard_.count : n;
}

std::optional<Endpoint> TargetSet::Cursor::next() {
  // Phase 1: blocks without their own port, port-major. Phase 2: blocks with an explicit port.
  for (;;) {
    const bool phase2 = explicit_phase_;
    if (!phase2 && port_i_ >= t_.ports_.size()) {
      explicit_phase_ = true;
      block_i_ = 0;
      started_ = false;
      continue;
    }
    if (block_i_ >= t_.blocks_.size()) {
      if (phase2) return std::nullopt;
      ++port_i_;
      block_i_ = 0;
      started_ = false;
      continue;
    }
    const Block& b = t_.blocks_[block_i_];
    if (b.port.has_value() != phase2) {
      ++block_i_;
      started_ = false;
      continue;
    }
    if (!started_) {
      cur_ = b.first;
      started_ = true;
    } else if (cur_ == b.last) {
      ++block_i_;
      started_ = false;
      continue;
    } else {
      increment(cur_);
    }
    if (t_.excluded(cur_)) continue;
    Endpoint e{cur_, phase2 ? *b.port : t_.ports_[port_i_], b.host};
    if (t_.shard_.active() && !t_.shard_.contains(e.str())) continue;
    return e;
  }
}

}  // namespace dg::scan
