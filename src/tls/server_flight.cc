#include "tls/server_flight.h"

#include <algorithm>
#include <cstring>

#include "tls/suites.h"

namespace dg::tls {

namespace {
// The SHA-256 of "HelloRetryRequest": a ServerHello with this random is an HRR (RFC 8446 4.1.3).
constexpr std::uint8_t kHrrRandom[32] = {0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C,
                                         0x02, 0x1E, 0x65, 0xB8, 0x91, 0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB,
                                         0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C};
constexpr std::size_t kMaxRecord = 16384 + 2048;
constexpr std::size_t kMaxMessage = 128 * 1024;

// A cursor over untrusted bytes: every read checks the bytes left first.
struct Reader {
  std::span<const std::uint8_t> b;
  std::size_t p = 0;
  bool ok = true;
  std::size_t left() const { return b.size() - p; }
  unsigned u8() {
    if (left() < 1) return ok = false, 0;
    return b[p++];
  }
  unsigned u16() {
    if (left() < 2) return ok = false, 0;
    const unsigned v = (b[p] << 8) | b[p + 1];
    p += 2;
    return v;
  }
  std::size_t u24() {
    if (left() < 3) return ok = false, 0;
    const std::size_t v = (std::size_t{b[p]} << 16) | (b[p + 1] << 8) | b[p + 2];
    p += 3;
    return v;
  }
  std::span<const std::uint8_t> take(std::size_t n) {
    if (left() < n) {
      ok = false;
      return {};
    }
    auto s = b.subspan(p, n);
    p += n;
    return s;
  }
};
}  // namespace

ServerFlight::State ServerFlight::fail(std::string why) {
  error_ = std::move(why);
  return state_ = State::malformed;
}

ServerFlight::State ServerFlight::feed(std::span<const std::uint8_t> bytes) {
  if (state_ != State::need_more) return state_;
  if (in_.size() - in_pos_ + bytes.size() > kMaxBuffered) return fail("more than 256 KiB before the flight ended");
  if (in_pos_ > 0) {
    in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(in_pos_));
    in_pos_ = 0;
  }
  in_.insert(in_.end(), bytes.begin(), bytes.end());
  return parse_records();
}

ServerFlight::State ServerFlight::parse_records() {
  while (state_ == State::need_more) {
    const std::size_t avail = in_.size() - in_pos_;
    if (avail < 5) return state_;
    const std::uint8_t* h = in_.data() + in_pos_;
    const std::uint8_t type = h[0];
    if (type < 20 || type > 23 || h[1] != 0x03) return fail("not a TLS record");
    const std::size_t len = (std::size_t{h[3]} << 8) | h[4];
    if (len > kMaxRecord) return fail("record longer than 18432 bytes");
    if (avail < 5 + len) return state_;
    std::span<const std::uint8_t> body(h + 5, len);
    in_pos_ += 5 + len;
    consumed_ += 5 + len;
    if (consumed_ > kMaxFlight) return fail("more than 512 KiB before the flight ended");
    switch (type) {
      case 21:  // alert
        if (len < 2) return fail("short alert");
        alert_level_ = body[0];
        alert_desc_ = body[1];
        return state_ = State::alert;
      case 22:
        // Messages are limited in parse_handshake; here only what is buffered (a message and those after it).
        if (hs_.size() + len > kMaxBuffered) return fail("more than 256 KiB of handshake messages");
        hs_.insert(hs_.end(), body.begin(), body.end());
        if (parse_handshake() != State::need_more) return state_;
        break;
      case 20:  // ChangeCipherSpec: only after a TLS 1.3 HRR/ServerHello, where the flight has ended already
        return fail("ChangeCipherSpec before the server's hello flight ended");
      default:
        return fail("application data before the handshake ended");
    }
  }
  return state_;
}

ServerFlight::State ServerFlight::parse_handshake() {
  std::size_t p = 0;
  while (hs_.size() - p >= 4) {
    const std::uint8_t type = hs_[p];
    const std::size_t len = (std::size_t{hs_[p + 1]} << 16) | (hs_[p + 2] << 8) | hs_[p + 3];
    if (len > kMaxMessage) return fail("handshake message larger than 128 KiB");
    if (hs_.size() - p - 4 < len) break;
    const bool ok = on_message(type, std::span<const std::uint8_t>(hs_.data() + p + 4, len));
    p += 4 + len;
    if (!ok) return state_ == State::malformed ? state_ : fail("malformed handshake message");
    if (done_) {
      hs_.clear();
      return state_ = State::complete;
    }
  }
  hs_.erase(hs_.begin(), hs_.begin() + static_cast<std::ptrdiff_t>(p));
  return state_;
}

bool ServerFlight::on_message(std::uint8_t type, std::span<const std::uint8_t> body) {
  if (!hello_ && type != 2) {
    fail("first handshake message is not a ServerHello");
    return false;
  }
  switch (type) {
    case 2:
      if (hello_) {
        fail("a second ServerHello");
        return false;
      }
      if (!parse_server_hello(body)) return false;
      // TLS 1.3: everything after the ServerHello is encrypted; an HRR ends the exchange too.
      if (hello_->hrr || hello_->version >= TLSv1_3) done_ = true;
      return true;
    case 11: return parse_certificate(body);
    case 12: return parse_key_exchange(body);
    case 13: cert_request_ = true; return true;
    case 14: done_ = true; return true;
    default: return true;  // CertificateStatus and others: skipped
  }
}

bool ServerFlight::parse_server_hello(std::span<const std::uint8_t> b) {
  Reader r{b};
  ServerHello h;
  h.legacy_version = static_cast<std::uint16_t>(r.u16());
  auto random = r.take(32);
  if (!r.ok) return false;
  h.hrr = std::memcmp(random.data(), kHrrRandom, 32) == 0;
  h.gmt_unix_time = static_cast<std::uint32_t>(random[0]) << 24 | static_cast<std::uint32_t>(random[1]) << 16 |
                    static_cast<std::uint32_t>(random[2]) << 8 | random[3];
  const unsigned sid = r.u8();
  r.take(sid);
  h.suite = static_cast<std::uint16_t>(r.u16());
  h.compression = static_cast<std::uint8_t>(r.u8());
  if (!r.ok || sid > 32) return false;
  h.version = h.legacy_version;
  if (r.left() >= 2) {
    const unsigned total = r.u16();
    Reader e{r.take(total)};
    if (!r.ok) return false;
    while (e.left() > 0) {
      const auto type = static_cast<std::uint16_t>(e.u16());
      const unsigned len = e.u16();
      auto data = e.take(len);
      if (!e.ok) return false;
      h.extensions.push_back(type);
      Reader d{data};
      switch (type) {
        case 43: h.version = static_cast<std::uint16_t>(d.u16()); break;
        case 51: h.key_share_group = static_cast<std::uint16_t>(d.u16()); break;
        case 0xFF01: h.reneg_info = true; break;
        case 23: h.ems = true; break;
        case 16: {
          d.u16();
          const unsigned n = d.u8();
          auto p = d.take(n);
          if (d.ok) h.alpn.assign(p.begin(), p.end());
          break;
        }
        default: break;
      }
      if (!d.ok) return false;
    }
  }
  hello_ = std::move(h);
  return true;
}

bool ServerFlight::parse_certificate(std::span<const std::uint8_t> b) {
  Reader r{b};
  const std::size_t total = r.u24();
  Reader list{r.take(total)};
  if (!r.ok) return false;
  while (list.left() > 0 && certs_.size() < 16) {
    const std::size_t n = list.u24();
    auto der = list.take(n);
    if (!list.ok) return false;
    certs_.emplace_back(der.begin(), der.end());
  }
  return true;
}

bool ServerFlight::parse_key_exchange(std::span<const std::uint8_t> b) {
  KeyExchange k;
  const Suite* s = hello_ ? find_suite(hello_->suite) : nullptr;
  const std::string kx = s ? s->kx : "";
  Reader r{b};
  if (kx == "ECDHE") {
    k.kind = "ecdhe";
    if (r.u8() == 3) k.group = static_cast<std::uint16_t>(r.u16());
    else return (kx_ = k), true;  // explicit curves: nothing more to read
    r.take(r.u8());  // public point
  } else if (kx == "DHE" || kx == "DH") {
    k.kind = "dhe";
    auto p = r.take(r.u16());
    std::size_t i = 0;
    while (i < p.size() && p[i] == 0) ++i;
    if (i < p.size()) {
      int bits = static_cast<int>((p.size() - i) * 8);
      for (std::uint8_t top = p[i]; !(top & 0x80); top = static_cast<std::uint8_t>(top << 1)) --bits;
      k.dh_bits = bits;
    }
    r.take(r.u16());  // g
    r.take(r.u16());  // Ys
  } else {
    k.kind = "other";
    kx_ = k;
    return true;
  }
  if (!r.ok) return false;
  if (hello_ && hello_->version >= TLSv1_2 && r.left() >= 4 && s && std::string(s->auth) != "anon")
    k.sig_scheme = static_cast<std::uint16_t>(r.u16());
  kx_ = k;
  return true;
}

const char* alert_name(int d) {
  switch (d) {
    case 0: return "close_notify";
    case 10: return "unexpected_message";
    case 20: return "bad_record_mac";
    case 22: return "record_overflow";
    case 40: return "handshake_failure";
    case 42: return "bad_certificate";
    case 43: return "unsupported_certificate";
    case 46: return "certificate_unknown";
    case 47: return "illegal_parameter";
    case 48: return "unknown_ca";
    case 50: return "decode_error";
    case 51: return "decrypt_error";
    case 70: return "protocol_version";
    case 71: return "insufficient_security";
    case 80: return "internal_error";
    case 86: return "inappropriate_fallback";
    case 90: return "user_canceled";
    case 109: return "missing_extension";
    case 110: return "unsupported_extension";
    case 112: return "unrecognized_name";
    case 116: return "certificate_required";
    case 120: return "no_application_protocol";
  }
  return "unknown";
}

}  // namespace dg::tls
