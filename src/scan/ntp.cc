#include "scan/ntp.h"

#include <cmath>
#include <cstdio>

namespace dg::scan::ntp {

using nlohmann::json;

namespace {

std::uint32_t be32(std::span<const std::uint8_t> p, std::size_t at) {
  return static_cast<std::uint32_t>(p[at]) << 24 | static_cast<std::uint32_t>(p[at + 1]) << 16 |
         static_cast<std::uint32_t>(p[at + 2]) << 8 | p[at + 3];
}
std::uint16_t be16(std::span<const std::uint8_t> p, std::size_t at) {
  return static_cast<std::uint16_t>(p[at] << 8 | p[at + 1]);
}
std::uint64_t be64(std::span<const std::uint8_t> p, std::size_t at) {
  return static_cast<std::uint64_t>(be32(p, at)) << 32 | be32(p, at + 4);
}
void put64(std::vector<std::uint8_t>& out, std::size_t at, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out[at + i] = static_cast<std::uint8_t>(v >> (56 - 8 * i));
}
// NTP short format (16.16 fixed point), seconds.
double short_format(std::uint32_t v) { return static_cast<double>(v) / 65536.0; }

bool printable(char c) { return c >= 0x20 && c < 0x7F; }

// A reference ID of four ASCII characters (stratum 0 and 1), trailing NULs dropped; empty when not printable.
std::string ascii_id(std::uint32_t id) {
  std::string s;
  for (int i = 0; i < 4; ++i) {
    const char c = static_cast<char>(id >> (24 - 8 * i));
    if (c == 0) break;
    if (!printable(c)) return {};
    s.push_back(c);
  }
  return s;
}

std::string clean(std::string_view v, std::size_t max = 128) {
  std::string s;
  for (char c : v.substr(0, max)) s.push_back(printable(c) ? c : '?');
  return s;
}

}  // namespace

std::uint64_t to_ntp(double unix_seconds) {
  const double t = unix_seconds + kUnixToNtp;
  const double sec = std::floor(t);
  const auto s = static_cast<std::uint64_t>(static_cast<std::int64_t>(sec)) & 0xFFFFFFFFu;
  const auto frac = static_cast<std::uint64_t>((t - sec) * 4294967296.0) & 0xFFFFFFFFu;
  return s << 32 | frac;
}

double from_ntp(std::uint64_t ts) {
  const std::uint32_t s = static_cast<std::uint32_t>(ts >> 32);
  const double era = s < 0x80000000u ? 4294967296.0 : 0;
  return static_cast<double>(s) + era - kUnixToNtp + static_cast<double>(ts & 0xFFFFFFFFu) / 4294967296.0;
}

std::vector<std::uint8_t> client_request(std::uint64_t transmit) {
  std::vector<std::uint8_t> p(kHeader, 0);
  p[0] = 0 << 6 | 4 << 3 | 3;  // LI 0, VN 4, mode 3 (client)
  put64(p, 40, transmit);
  return p;
}

std::optional<Reply> parse_reply(std::span<const std::uint8_t> p, std::uint64_t sent, std::string& error) {
  if (p.size() < kHeader) return error = "shorter than the 48-byte NTP header (" + std::to_string(p.size()) + " bytes)", std::nullopt;
  if (p.size() > kMaxPacket) return error = "longer than " + std::to_string(kMaxPacket) + " bytes", std::nullopt;
  Reply r;
  r.leap = p[0] >> 6;
  r.version = p[0] >> 3 & 7;
  r.mode = p[0] & 7;
  if (r.mode != 4) return error = "mode " + std::to_string(r.mode) + ", not a server reply (mode 4)", std::nullopt;
  if (r.version < 1 || r.version > 4) return error = "version " + std::to_string(r.version), std::nullopt;
  r.stratum = p[1];
  r.poll = static_cast<std::int8_t>(p[2]);
  r.precision = static_cast<std::int8_t>(p[3]);
  r.root_delay = short_format(be32(p, 4));
  r.root_dispersion = short_format(be32(p, 8));
  r.reference_id = be32(p, 12);
  r.reference_ts = be64(p, 16);
  r.origin_ts = be64(p, 24);
  r.receive_ts = be64(p, 32);
  r.transmit_ts = be64(p, 40);
  r.extra_bytes = p.size() - kHeader;
  if (r.origin_ts != sent) return error = "the origin timestamp is not the one we sent", std::nullopt;
  if (r.stratum == 0) {
    r.kiss_code = ascii_id(r.reference_id);
  } else if (r.stratum == 1) {
    r.reference = ascii_id(r.reference_id);
  } else {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", r.reference_id >> 24, r.reference_id >> 16 & 255,
                  r.reference_id >> 8 & 255, r.reference_id & 255);
    r.reference = buf;
  }
  return r;
}

OffsetDelay offset_delay(double t1, double t2, double t3, double t4) {
  return {((t2 - t1) + (t3 - t4)) / 2, (t4 - t1) - (t3 - t2)};
}

std::vector<std::uint8_t> readvar_request(std::uint16_t sequence) {
  std::vector<std::uint8_t> p(kMode6Header, 0);
  p[0] = 0 << 6 | 2 << 3 | 6;  // LI 0, VN 2, mode 6 (control), as ntpq sends it
  p[1] = 2;                    // R 0, E 0, M 0, opcode 2: read variables
  p[2] = static_cast<std::uint8_t>(sequence >> 8);
  p[3] = static_cast<std::uint8_t>(sequence);
  return p;  // status, association 0 (the system), offset 0, count 0: all variables
}

std::optional<Mode6Fragment> parse_mode6(std::span<const std::uint8_t> p, std::string& error) {
  if (p.size() < kMode6Header) return error = "shorter than the 12-byte mode 6 header", std::nullopt;
  if (p.size() > kMaxPacket) return error = "longer than " + std::to_string(kMaxPacket) + " bytes", std::nullopt;
  if ((p[0] & 7) != 6) return error = "mode " + std::to_string(p[0] & 7) + ", not a control message", std::nullopt;
  Mode6Fragment f;
  f.response = p[1] & 0x80;
  f.error = p[1] & 0x40;
  f.more = p[1] & 0x20;
  f.opcode = p[1] & 0x1F;
  f.sequence = be16(p, 2);
  f.status = be16(p, 4);
  f.association = be16(p, 6);
  f.offset = be16(p, 8);
  f.count = be16(p, 10);
  if (f.count > p.size() - kMode6Header)
    return error = "count " + std::to_string(f.count) + " past the end of the datagram", std::nullopt;
  f.data.assign(reinterpret_cast<const char*>(p.data()) + kMode6Header, f.count);
  return f;
}

std::vector<std::pair<std::string, std::string>> parse_variables(std::string_view t) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t i = 0;
  auto space = [&] {
    while (i < t.size() && (t[i] == ' ' || t[i] == '\r' || t[i] == '\n' || t[i] == '\t' || t[i] == ',')) ++i;
  };
  while (out.size() < kMaxVariables) {
    space();
    if (i >= t.size()) break;
    const std::size_t name_at = i;
    while (i < t.size() && t[i] != '=' && t[i] != ',' && i - name_at < 64) ++i;
    std::string name = clean(t.substr(name_at, i - name_at), 64);
    while (!name.empty() && name.back() == ' ') name.pop_back();
    std::string value;
    if (i < t.size() && t[i] == '=') {
      ++i;
      if (i < t.size() && t[i] == '"') {
        const std::size_t end = t.find('"', i + 1);
        const std::size_t stop = end == std::string_view::npos ? t.size() : end;
        value = clean(t.substr(i + 1, stop - i - 1));
        i = end == std::string_view::npos ? t.size() : end + 1;
      } else {
        const std::size_t at = i;
        while (i < t.size() && t[i] != ',') ++i;
        value = clean(t.substr(at, i - at));
        while (!value.empty() && (value.back() == ' ' || value.back() == '\r' || value.back() == '\n')) value.pop_back();
      }
    } else if (i < t.size() && t[i] != ',') {
      ++i;  // a name longer than 64 characters: skip past a character so that the loop advances
    }
    if (!name.empty()) out.emplace_back(std::move(name), std::move(value));
  }
  return out;
}

Record ntp_record(const Result& r) {
  Record rec;
  const bool mode3 = r.reply.has_value();
  if (!mode3 && !r.mode6_answered) return rec;
  rec.type = "ntp";
  const std::string target = (r.host.find(':') != std::string::npos ? "[" + r.host + "]" : r.host) + ":" +
                             std::to_string(r.port);
  json& f = rec.fields;
  f = {{"target", target}, {"address", r.host}, {"port", r.port}, {"answer", r.answer}};
  if (mode3) {
    const Reply& p = *r.reply;
    f["version"] = p.version;
    f["leap"] = p.leap;
    f["stratum"] = p.stratum;
    f["precision"] = p.precision;
    f["root_delay_seconds"] = p.root_delay;
    f["root_dispersion_seconds"] = p.root_dispersion;
    f["reference_id"] = p.stratum == 0 ? p.kiss_code : p.reference;
    if (p.stratum == 0) f["kiss_code"] = p.kiss_code;
    f["extra_bytes"] = p.extra_bytes;
    if (r.observation) {
      f["offset_seconds"] = std::round(r.measured.offset * 1e6) / 1e6;
      f["delay_seconds"] = std::round(r.measured.delay * 1e6) / 1e6;
    }
  }
  json m6 = {{"answered", r.mode6_answered}};
  if (r.mode6_answered) {
    m6["request_bytes"] = r.mode6_request_bytes;
    m6["reply_bytes"] = r.mode6_reply_bytes;
    m6["fragments"] = r.mode6_fragments;
    m6["amplification"] = r.mode6_request_bytes
                              ? std::round(10.0 * static_cast<double>(r.mode6_reply_bytes) /
                                           static_cast<double>(r.mode6_request_bytes)) / 10
                              : 0.0;
    json vars = json::object();
    for (const auto& [k, v] : r.variables)
      if (k == "version" || k == "system" || k == "processor" || k == "refid" || k == "stratum") vars[k] = v;
    m6["disclosed"] = vars;
    m6["variables"] = r.variables.size();
  }
  f["mode6"] = m6;
  f["nts_ke"] = {{"port", r.nts_port}, {"result", r.nts_ke}};
  if (!r.nts_tls_version.empty()) f["nts_ke"]["tls_version"] = r.nts_tls_version;

  const bool serves = mode3 && r.reply->stratum > 0;
  rec.status = r.mode6_answered ? "mode6" : serves ? "serving" : mode3 ? "kiss" : "answered";
  f["status"] = rec.status;
  if (serves)
    rec.findings.push_back(make_finding("ntp.exposed", target,
                                        {{"stratum", r.reply->stratum}, {"reference_id", r.reply->reference},
                                         {"version", r.reply->version}}));
  if (r.mode6_answered)
    rec.findings.push_back(make_finding("ntp.mode6", target,
                                        {{"request_bytes", m6["request_bytes"]}, {"reply_bytes", m6["reply_bytes"]},
                                         {"amplification", m6["amplification"]}, {"disclosed", m6["disclosed"]}}));
  if (serves && !r.nts_offered())
    rec.findings.push_back(make_finding("ntp.unauthenticated", target,
                                        {{"nts_ke_port", r.nts_port}, {"nts_ke", r.nts_ke}}));
  return rec;
}

}  // namespace dg::scan::ntp
