#include "tls/hello.h"

#include <algorithm>

#include "tls/suites.h"

namespace dg::tls {

namespace {
void u8(Bytes& b, unsigned v) { b.push_back(static_cast<std::uint8_t>(v)); }
void u16(Bytes& b, unsigned v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}
void u24(Bytes& b, std::size_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 16));
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}
void put16_at(Bytes& b, std::size_t at, std::size_t v) {
  b[at] = static_cast<std::uint8_t>(v >> 8);
  b[at + 1] = static_cast<std::uint8_t>(v);
}
// An extension: type, then a two-byte length filled in by the returned closer.
struct Ext {
  Bytes& b;
  std::size_t at;
  Ext(Bytes& bytes, unsigned type) : b(bytes) {
    u16(b, type);
    at = b.size();
    u16(b, 0);
  }
  ~Ext() { put16_at(b, at, b.size() - at - 2); }
};

bool is_address_literal(const std::string& h) {
  if (h.find(':') != std::string::npos) return true;
  return !h.empty() && std::all_of(h.begin(), h.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}
}  // namespace

Bytes build_client_hello(const HelloSpec& s) {
  Bytes body;
  u16(body, s.version);
  body.insert(body.end(), s.random.begin(), s.random.end());
  u8(body, 0);  // no session id
  std::vector<std::uint16_t> suites = s.suites;
  if (s.reneg_scsv) suites.push_back(0x00FF);
  if (s.fallback_scsv) suites.push_back(0x5600);
  u16(body, suites.size() * 2);
  for (std::uint16_t c : suites) u16(body, c);
  if (s.deflate) {
    u8(body, 2);
    u8(body, 1);
    u8(body, 0);
  } else {
    u8(body, 1);
    u8(body, 0);
  }
  // SSLv3 has no extensions.
  if (s.version > SSLv3 || !s.versions.empty()) {
    const std::size_t ext_at = body.size();
    u16(body, 0);
    if (!s.sni.empty() && !is_address_literal(s.sni) && s.sni.size() < 256) {
      Ext e(body, 0);
      u16(body, s.sni.size() + 3);
      u8(body, 0);
      u16(body, s.sni.size());
      body.insert(body.end(), s.sni.begin(), s.sni.end());
    }
    if (!s.groups.empty()) {
      {
        Ext e(body, 10);
        u16(body, s.groups.size() * 2);
        for (std::uint16_t g : s.groups) u16(body, g);
      }
      Ext e(body, 11);
      u8(body, 1);
      u8(body, 0);  // uncompressed points
    }
    if (!s.sig_algs.empty()) {
      Ext e(body, 13);
      u16(body, s.sig_algs.size() * 2);
      for (std::uint16_t a : s.sig_algs) u16(body, a);
    }
    if (std::any_of(s.alpn.begin(), s.alpn.end(), [](const std::string& a) { return !a.empty() && a.size() < 256; })) {
      Ext e(body, 16);
      const std::size_t at = body.size();
      u16(body, 0);
      for (const std::string& p : s.alpn) {
        if (p.empty() || p.size() > 255) continue;
        u8(body, p.size());
        body.insert(body.end(), p.begin(), p.end());
      }
      put16_at(body, at, body.size() - at - 2);
    }
    if (s.ems) Ext e(body, 23);
    if (!s.versions.empty()) {
      Ext e(body, 43);
      u8(body, s.versions.size() * 2);
      for (std::uint16_t v : s.versions) u16(body, v);
    }
    if (s.key_share) {
      {
        Ext e(body, 45);  // psk_key_exchange_modes: psk_dhe_ke (expected by TLS 1.3 servers)
        u8(body, 1);
        u8(body, 1);
      }
      Ext e(body, 51);
      u16(body, 0);  // no client shares: ask the server to choose a group (RFC 8446 4.2.8)
    }
    put16_at(body, ext_at, body.size() - ext_at - 2);
  }
  Bytes out;
  u8(out, 22);
  u16(out, s.version <= SSLv3 ? SSLv3 : TLSv1_0);
  u16(out, body.size() + 4);
  u8(out, 1);
  u24(out, body.size());
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

std::vector<std::uint16_t> default_groups() {
  std::vector<std::uint16_t> v;
  for (const Group& g : all_groups()) v.push_back(g.code);
  return v;
}

std::vector<std::uint16_t> default_sig_algs() {
  std::vector<std::uint16_t> v;
  for (const SigScheme& s : all_sig_schemes()) v.push_back(s.code);
  return v;
}

}  // namespace dg::tls
