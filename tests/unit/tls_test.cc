// Our ClientHello, the bounded server-flight parser, the profile grader and the TLS probe's state machine.
// The ClientHello is checked byte by byte with a parser written here (not the one under test), then handed to a
// real OpenSSL server in memory (BIO pairs, no sockets); what that server answers is what ServerFlight must read.
// The probe is driven with scripted servers (no network).
#include <gtest/gtest.h>

#include "findings/sink.h"
#include "support/probe_driver.h"
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "scan/targets.h"
#include "scan/tls_probe.h"
#include "scan/tls_service.h"
#include "tls/cert.h"
#include "tls/grade.h"
#include "tls/hello.h"
#include "tls/self_signed.h"
#include "tls/server_flight.h"
#include "tls/suites.h"

namespace tls = dg::tls;
namespace scan = dg::scan;

// Readable gtest messages for ServerFlight states (found by argument-dependent lookup).
namespace dg::tls {
void PrintTo(ServerFlight::State s, std::ostream* os) {
  static const char* const names[] = {"need_more", "complete", "alert", "malformed"};
  *os << names[static_cast<int>(s) & 3];
}
}  // namespace dg::tls

namespace {

using Buf = std::vector<std::uint8_t>;

// ---------------------------------------------------------------------------------------------------------------
// Bytes.

void put8(Buf& b, unsigned v) { b.push_back(static_cast<std::uint8_t>(v)); }
void put16(Buf& b, unsigned v) {
  put8(b, v >> 8);
  put8(b, v);
}
void put24(Buf& b, std::size_t v) {
  put8(b, static_cast<unsigned>(v >> 16));
  put8(b, static_cast<unsigned>(v >> 8));
  put8(b, static_cast<unsigned>(v));
}
void append(Buf& b, const Buf& x) { b.insert(b.end(), x.begin(), x.end()); }
Buf bytes(const std::string& s) { return Buf(s.begin(), s.end()); }

Buf record(std::uint8_t type, std::uint16_t version, const Buf& body) {
  Buf r;
  put8(r, type);
  put16(r, version);
  put16(r, static_cast<unsigned>(body.size()));
  append(r, body);
  return r;
}
Buf handshake(std::uint8_t type, const Buf& body) {
  Buf h;
  put8(h, type);
  put24(h, body.size());
  append(h, body);
  return h;
}
Buf alert(unsigned level, unsigned description) { return record(21, 0x0303, {static_cast<std::uint8_t>(level), static_cast<std::uint8_t>(description)}); }

// RFC 8446 4.1.3: the random of a HelloRetryRequest, SHA-256("HelloRetryRequest").
const Buf kHrrRandom = {0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
                        0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C};

struct ServerHelloSpec {
  std::uint16_t version = 0x0303;
  std::uint16_t suite = 0xC02F;
  std::uint8_t compression = 0;
  bool hrr = false;
  std::size_t session_id = 0;
  std::vector<std::pair<std::uint16_t, Buf>> extensions;
};
// A ServerHello handshake message (not yet in a record).
Buf server_hello(const ServerHelloSpec& s) {
  Buf b;
  put16(b, s.version);
  if (s.hrr) append(b, kHrrRandom);
  else b.insert(b.end(), 32, 0x5A);
  put8(b, static_cast<unsigned>(s.session_id));
  b.insert(b.end(), s.session_id, 0x33);
  put16(b, s.suite);
  put8(b, s.compression);
  if (!s.extensions.empty()) {
    Buf e;
    for (const auto& [type, data] : s.extensions) {
      put16(e, type);
      put16(e, static_cast<unsigned>(data.size()));
      append(e, data);
    }
    put16(b, static_cast<unsigned>(e.size()));
    append(b, e);
  }
  return handshake(2, b);
}
Buf u16s(std::initializer_list<unsigned> v) {
  Buf b;
  for (unsigned x : v) put16(b, x);
  return b;
}

// ---------------------------------------------------------------------------------------------------------------
// A strict ClientHello reader written for these tests: every length must add up exactly.

struct ParsedHello {
  bool ok = false;
  std::string error;
  std::uint8_t record_type = 0;
  std::uint16_t record_version = 0;
  std::uint8_t hs_type = 0;
  std::uint16_t version = 0;
  Buf random;
  std::size_t session_id = 0;
  std::vector<std::uint16_t> suites;
  Buf compression;
  bool extension_block = false;
  std::vector<std::pair<std::uint16_t, Buf>> extensions;

  const Buf* ext(std::uint16_t type) const {
    for (const auto& [t, d] : extensions)
      if (t == type) return &d;
    return nullptr;
  }
  // The version the hello asks for: the highest in supported_versions, else legacy_version.
  std::uint16_t offered() const {
    if (const Buf* sv = ext(43); sv && sv->size() >= 3) {
      std::uint16_t best = 0;
      for (std::size_t i = 1; i + 1 < sv->size(); i += 2) best = std::max<std::uint16_t>(best, static_cast<std::uint16_t>(((*sv)[i] << 8) | (*sv)[i + 1]));
      return best;
    }
    return version;
  }
  std::vector<std::uint16_t> list16(std::uint16_t type, std::size_t prefix) const {  // a u16 list after a length
    std::vector<std::uint16_t> v;
    if (const Buf* d = ext(type))
      for (std::size_t i = prefix; i + 1 < d->size(); i += 2) v.push_back(static_cast<std::uint16_t>(((*d)[i] << 8) | (*d)[i + 1]));
    return v;
  }
};

ParsedHello parse_hello(const Buf& b) {
  ParsedHello h;
  std::size_t p = 0;
  auto need = [&](std::size_t n) { return b.size() - p >= n; };
  auto u8 = [&] { return b[p++]; };
  auto u16 = [&] {
    const unsigned v = (b[p] << 8) | b[p + 1];
    p += 2;
    return v;
  };
  auto fail = [&](const char* why) {
    h.error = why;
    return h;
  };
  if (!need(5)) return fail("short record header");
  h.record_type = u8();
  h.record_version = static_cast<std::uint16_t>(u16());
  const std::size_t rec_len = u16();
  if (rec_len != b.size() - 5) return fail("record length does not match the bytes");
  if (!need(4)) return fail("short handshake header");
  h.hs_type = u8();
  const std::size_t hs_len = (std::size_t{b[p]} << 16) | (b[p + 1] << 8) | b[p + 2];
  p += 3;
  if (hs_len != rec_len - 4) return fail("handshake length does not match the record");
  if (!need(2 + 32 + 1)) return fail("short hello");
  h.version = static_cast<std::uint16_t>(u16());
  h.random.assign(b.begin() + static_cast<std::ptrdiff_t>(p), b.begin() + static_cast<std::ptrdiff_t>(p + 32));
  p += 32;
  h.session_id = u8();
  if (!need(h.session_id + 2)) return fail("short session id");
  p += h.session_id;
  const std::size_t suites_len = u16();
  if (suites_len % 2 || !need(suites_len + 1)) return fail("bad cipher suite list");
  for (std::size_t i = 0; i < suites_len; i += 2) h.suites.push_back(static_cast<std::uint16_t>(u16()));
  const std::size_t comp_len = u8();
  if (!need(comp_len)) return fail("bad compression list");
  for (std::size_t i = 0; i < comp_len; ++i) h.compression.push_back(u8());
  if (p == b.size()) {
    h.ok = true;
    return h;
  }
  if (!need(2)) return fail("one stray byte after the compression methods");
  h.extension_block = true;
  const std::size_t ext_len = u16();
  if (ext_len != b.size() - p) return fail("extensions length does not match the rest");
  while (p < b.size()) {
    if (!need(4)) return fail("short extension header");
    const auto type = static_cast<std::uint16_t>(u16());
    const std::size_t len = u16();
    if (!need(len)) return fail("extension longer than the hello");
    h.extensions.emplace_back(type, Buf(b.begin() + static_cast<std::ptrdiff_t>(p), b.begin() + static_cast<std::ptrdiff_t>(p + len)));
    p += len;
  }
  h.ok = true;
  return h;
}

std::set<std::uint16_t> ext_types(const ParsedHello& h) {
  std::set<std::uint16_t> s;
  for (const auto& [t, d] : h.extensions) s.insert(t);
  return s;
}

tls::HelloSpec base_spec() {
  tls::HelloSpec s;
  s.version = 0x0303;
  s.suites = {0xC02F};
  s.groups = tls::default_groups();
  s.sig_algs = tls::default_sig_algs();
  for (std::size_t i = 0; i < s.random.size(); ++i) s.random[i] = static_cast<std::uint8_t>(0xA0 + i);
  return s;
}

// ---------------------------------------------------------------------------------------------------------------
// A real OpenSSL server in memory: a ClientHello in, its first flight out.

struct CtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};

// One key and self-signed certificate per key type for the whole test run (RSA key generation is slow).
const SSL_CTX* identity(tls::KeyType type) {
  static std::unique_ptr<SSL_CTX, CtxFree> rsa, ec;
  auto& slot = type == tls::KeyType::rsa2048 ? rsa : ec;
  if (!slot) {
    slot.reset(SSL_CTX_new(TLS_server_method()));
    tls::use_self_signed(slot.get(), "tls-test.dicomguard.invalid", type);
  }
  return slot.get();
}

Buf der_of(X509* x) {
  unsigned char* p = nullptr;
  const int n = i2d_X509(x, &p);
  Buf d(p, p + (n > 0 ? n : 0));
  OPENSSL_free(p);
  return d;
}

int select_dicom(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen, void*) {
  static const unsigned char mine[] = {5, 'd', 'i', 'c', 'o', 'm'};
  if (SSL_select_next_proto(const_cast<unsigned char**>(out), outlen, mine, sizeof mine, in, inlen) == OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_OK;
  return SSL_TLSEXT_ERR_NOACK;
}

class MemoryServer {
 public:
  explicit MemoryServer(tls::KeyType type = tls::KeyType::rsa2048) : ctx_(SSL_CTX_new(TLS_server_method())) {
    const SSL_CTX* id = identity(type);
    if (SSL_CTX_use_certificate(ctx_.get(), SSL_CTX_get0_certificate(id)) != 1 ||
        SSL_CTX_use_PrivateKey(ctx_.get(), SSL_CTX_get0_privatekey(id)) != 1)
      ADD_FAILURE() << "cannot install the test identity";
  }
  SSL_CTX* ctx() { return ctx_.get(); }
  SSL* ssl() { return ssl_.get(); }
  Buf cert_der() const { return der_of(SSL_CTX_get0_certificate(ctx_.get())); }

  // Feeds one ClientHello to a fresh server connection and returns everything it wrote.
  Buf answer(const Buf& hello) {
    ssl_.reset(SSL_new(ctx_.get()));
    BIO* in = BIO_new(BIO_s_mem());
    BIO* out = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl_.get(), in, out);
    SSL_set_accept_state(ssl_.get());
    BIO_write(in, hello.data(), static_cast<int>(hello.size()));
    const int rc = SSL_do_handshake(ssl_.get());
    error_ = rc == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl_.get(), rc);
    ERR_clear_error();
    Buf flight;
    char buf[4096];
    for (int n; (n = BIO_read(out, buf, sizeof buf)) > 0;) flight.insert(flight.end(), buf, buf + n);
    return flight;
  }
  int error() const { return error_; }  // SSL_ERROR_WANT_READ: waiting for our next flight

 private:
  std::unique_ptr<SSL_CTX, CtxFree> ctx_;
  std::unique_ptr<SSL, SslFree> ssl_;
  int error_ = 0;
};

tls::ServerFlight parse_all(const Buf& b) {
  tls::ServerFlight f;
  f.feed(b);
  return f;
}

// Everything ServerFlight reports, as one comparable line.
std::string describe(const tls::ServerFlight& f) {
  std::ostringstream o;
  o << "state=" << static_cast<int>(f.state()) << " alert=" << f.alert_level() << "/" << f.alert_description()
    << " creq=" << f.certificate_request();
  if (const auto& h = f.hello()) {
    o << " hello " << h->legacy_version << " " << h->version << " " << h->suite << " " << int(h->compression) << " hrr="
      << h->hrr << " reneg=" << h->reneg_info << " ems=" << h->ems << " ks=" << (h->key_share_group ? int(*h->key_share_group) : -1)
      << " alpn=" << h->alpn << " ext=";
    for (auto e : h->extensions) o << e << ",";
  }
  for (const auto& c : f.certificates()) {
    o << " cert" << c.size() << ":";
    for (std::size_t i = 0; i < c.size(); i += 97) o << int(c[i]);
  }
  if (const auto& k = f.key_exchange())
    o << " kx " << k->kind << " " << (k->group ? int(*k->group) : -1) << " " << k->dh_bits << " "
      << (k->sig_scheme ? int(*k->sig_scheme) : -1);
  return o.str();
}

// The TLS 1.2 ECDHE-RSA flight of a real OpenSSL server (ServerHello, Certificate, ServerKeyExchange,
// ServerHelloDone), made once.
const Buf& tls12_flight() {
  static const Buf flight = [] {
    MemoryServer srv;
    SSL_CTX_set_max_proto_version(srv.ctx(), TLS1_2_VERSION);
    SSL_CTX_set_cipher_list(srv.ctx(), "ECDHE-RSA-AES128-GCM-SHA256");
    return srv.answer(tls::build_client_hello(base_spec()));
  }();
  return flight;
}

// Splits a byte stream of records into (type, body) pairs; the records must be whole.
std::vector<std::pair<std::uint8_t, Buf>> split_records(const Buf& b) {
  std::vector<std::pair<std::uint8_t, Buf>> out;
  std::size_t p = 0;
  while (b.size() - p >= 5) {
    const std::size_t len = (b[p + 3] << 8) | b[p + 4];
    if (b.size() - p - 5 < len) break;
    out.emplace_back(b[p], Buf(b.begin() + static_cast<std::ptrdiff_t>(p + 5), b.begin() + static_cast<std::ptrdiff_t>(p + 5 + len)));
    p += 5 + len;
  }
  EXPECT_EQ(p, b.size()) << "the flight does not end on a record boundary";
  return out;
}

}  // namespace

// ===============================================================================================================
// build_client_hello

TEST(TlsHello, IsOneValidRecordWithTheSuitesInOrderAndTheScsvsAppended) {
  tls::HelloSpec s = base_spec();
  s.suites = {0xC02F, 0x009C, 0x000A, 0x1301};
  s.reneg_scsv = true;
  s.fallback_scsv = true;
  const Buf b = tls::build_client_hello(s);
  const ParsedHello h = parse_hello(b);
  ASSERT_TRUE(h.ok) << h.error;
  EXPECT_EQ(h.record_type, 22);
  EXPECT_EQ(h.record_version, 0x0301);  // what every TLS 1.0+ client writes in the record layer of its first hello
  EXPECT_EQ(h.hs_type, 1);
  EXPECT_EQ(h.version, 0x0303);
  EXPECT_EQ(h.random, Buf(s.random.begin(), s.random.end()));
  EXPECT_EQ(h.session_id, 0u);
  EXPECT_EQ(h.suites, (std::vector<std::uint16_t>{0xC02F, 0x009C, 0x000A, 0x1301, 0x00FF, 0x5600}));
  EXPECT_EQ(h.compression, Buf{0});

  s.fallback_scsv = false;
  EXPECT_EQ(parse_hello(tls::build_client_hello(s)).suites, (std::vector<std::uint16_t>{0xC02F, 0x009C, 0x000A, 0x1301, 0x00FF}));
  s.reneg_scsv = false;
  EXPECT_EQ(parse_hello(tls::build_client_hello(s)).suites, (std::vector<std::uint16_t>{0xC02F, 0x009C, 0x000A, 0x1301}));
  s.fallback_scsv = true;
  EXPECT_EQ(parse_hello(tls::build_client_hello(s)).suites, (std::vector<std::uint16_t>{0xC02F, 0x009C, 0x000A, 0x1301, 0x5600}));
}

TEST(TlsHello, LegacyVersionsUseTheTls10RecordVersionAndSslv3ItsOwn) {
  for (std::uint16_t v : {tls::TLSv1_0, tls::TLSv1_1, tls::TLSv1_2}) {
    tls::HelloSpec s = base_spec();
    s.version = v;
    const ParsedHello h = parse_hello(tls::build_client_hello(s));
    ASSERT_TRUE(h.ok) << h.error;
    EXPECT_EQ(h.record_version, 0x0301) << tls::version_name(v);
    EXPECT_EQ(h.version, v);
    EXPECT_TRUE(h.extension_block);
  }
  tls::HelloSpec s = base_spec();
  s.version = tls::SSLv3;
  s.suites = {0x000A, 0x002F};
  s.sni = "pacs.example.org";
  s.alpn = {"dicom"};
  s.ems = true;
  s.deflate = true;
  const ParsedHello h = parse_hello(tls::build_client_hello(s));
  ASSERT_TRUE(h.ok) << h.error;
  EXPECT_EQ(h.record_version, 0x0300);
  EXPECT_EQ(h.version, 0x0300);
  EXPECT_FALSE(h.extension_block) << "SSLv3 has no extensions: the hello must end after the compression methods";
  EXPECT_EQ(h.suites, (std::vector<std::uint16_t>{0x000A, 0x002F, 0x00FF}));  // RFC 5746: the SCSV is the SSLv3 way
  EXPECT_EQ(h.compression, (Buf{1, 0}));                                     // DEFLATE, then null
}

TEST(TlsHello, Tls13HelloCarriesSupportedVersionsAndAnEmptyKeyShare) {
  tls::HelloSpec s = base_spec();
  s.versions = {tls::TLSv1_3};
  s.suites = {0x1301, 0x1302, 0x1303};
  s.key_share = true;
  s.reneg_scsv = false;
  const ParsedHello h = parse_hello(tls::build_client_hello(s));
  ASSERT_TRUE(h.ok) << h.error;
  EXPECT_EQ(h.version, 0x0303);  // legacy_version stays TLS 1.2 (RFC 8446 4.1.2)
  ASSERT_NE(h.ext(43), nullptr);
  EXPECT_EQ(*h.ext(43), (Buf{2, 0x03, 0x04}));
  ASSERT_NE(h.ext(51), nullptr);
  EXPECT_EQ(*h.ext(51), (Buf{0, 0})) << "client_shares must be an empty vector";
  ASSERT_NE(h.ext(45), nullptr);
  EXPECT_EQ(*h.ext(45), (Buf{1, 1}));  // psk_dhe_ke
  EXPECT_EQ(h.suites, (std::vector<std::uint16_t>{0x1301, 0x1302, 0x1303}));
  EXPECT_EQ(h.list16(10, 2), tls::default_groups());
  EXPECT_EQ(h.list16(13, 2), tls::default_sig_algs());
  ASSERT_NE(h.ext(11), nullptr);
  EXPECT_EQ(*h.ext(11), (Buf{1, 0}));  // ec_point_formats: uncompressed

  s.versions = {tls::TLSv1_3, tls::TLSv1_2};
  EXPECT_EQ(*parse_hello(tls::build_client_hello(s)).ext(43), (Buf{4, 0x03, 0x04, 0x03, 0x03}));
  s.versions.clear();
  s.key_share = false;
  const ParsedHello h12 = parse_hello(tls::build_client_hello(s));
  EXPECT_EQ(h12.ext(43), nullptr);
  EXPECT_EQ(h12.ext(51), nullptr);
  EXPECT_EQ(h12.ext(45), nullptr);
}

TEST(TlsHello, AlpnSniAndEmsAsSpecified) {
  tls::HelloSpec s = base_spec();
  s.alpn = {"dicom"};
  s.sni = "pacs.example.org";
  s.ems = true;
  ParsedHello h = parse_hello(tls::build_client_hello(s));
  ASSERT_TRUE(h.ok) << h.error;
  ASSERT_NE(h.ext(16), nullptr);
  EXPECT_EQ(*h.ext(16), (Buf{0, 6, 5, 'd', 'i', 'c', 'o', 'm'}));
  ASSERT_NE(h.ext(0), nullptr);
  Buf sni = {0, 19, 0, 0, 16};
  append(sni, bytes("pacs.example.org"));
  EXPECT_EQ(*h.ext(0), sni);
  ASSERT_NE(h.ext(23), nullptr);
  EXPECT_TRUE(h.ext(23)->empty());
  EXPECT_EQ(ext_types(h).size(), h.extensions.size()) << "an extension is sent twice";

  for (const char* literal : {"192.168.1.10", "10.0.0.1", "::1", "fe80::1%eth0", "2001:db8::7"}) {
    s.sni = literal;
    EXPECT_EQ(parse_hello(tls::build_client_hello(s)).ext(0), nullptr) << literal << " is an address, not a host name";
  }
  s.sni = "";
  EXPECT_EQ(parse_hello(tls::build_client_hello(s)).ext(0), nullptr);
  s.sni = "host-1.dicom.local";
  EXPECT_NE(parse_hello(tls::build_client_hello(s)).ext(0), nullptr);

  s.ems = false;
  s.alpn.clear();
  h = parse_hello(tls::build_client_hello(s));
  EXPECT_EQ(h.ext(23), nullptr);
  EXPECT_EQ(h.ext(16), nullptr);

  // Protocol names that cannot be encoded are left out, the others kept.
  s.alpn = {"", "dicom", std::string(300, 'x'), "h2"};
  h = parse_hello(tls::build_client_hello(s));
  ASSERT_TRUE(h.ok) << h.error;
  ASSERT_NE(h.ext(16), nullptr);
  EXPECT_EQ(*h.ext(16), (Buf{0, 9, 5, 'd', 'i', 'c', 'o', 'm', 2, 'h', '2'}));
}

TEST(TlsHello, EmptyListsSendNoExtensionAndDefaultsAreKnownAndUnique) {
  tls::HelloSpec s;
  s.suites = {0x002F};
  s.ems = false;
  const ParsedHello h = parse_hello(tls::build_client_hello(s));
  ASSERT_TRUE(h.ok) << h.error;
  EXPECT_TRUE(h.extensions.empty());
  for (auto g : tls::default_groups()) EXPECT_NE(tls::find_group(g), nullptr) << g;
  const auto groups = tls::default_groups();
  EXPECT_EQ(std::set<std::uint16_t>(groups.begin(), groups.end()).size(), groups.size());
  EXPECT_NE(std::find(groups.begin(), groups.end(), 0x0017), groups.end());  // secp256r1
  EXPECT_NE(std::find(groups.begin(), groups.end(), 0x001D), groups.end());  // x25519
  EXPECT_NE(std::find(groups.begin(), groups.end(), 0x0100), groups.end());  // ffdhe2048
  const auto sigs = tls::default_sig_algs();
  EXPECT_EQ(std::set<std::uint16_t>(sigs.begin(), sigs.end()).size(), sigs.size());
  EXPECT_NE(std::find(sigs.begin(), sigs.end(), 0x0804), sigs.end());  // rsa_pss_rsae_sha256
  EXPECT_NE(std::find(sigs.begin(), sigs.end(), 0x0201), sigs.end());  // rsa_pkcs1_sha1: to detect it
}

TEST(TlsHello, EveryKnownSuiteFitsInOneHello) {
  // The probe offers every suite it knows for a version in one hello: it must still be a single valid record.
  tls::HelloSpec s = base_spec();
  s.suites.clear();
  for (const auto& suite : tls::all_suites()) s.suites.push_back(suite.code);
  s.sni = "a-rather-long-host-name-for-a-pacs.radiology.hospital.example.org";
  s.alpn = {"dicom"};
  s.fallback_scsv = true;
  const Buf b = tls::build_client_hello(s);
  const ParsedHello h = parse_hello(b);
  ASSERT_TRUE(h.ok) << h.error;
  EXPECT_LE(b.size() - 5, 16384u);
  EXPECT_EQ(h.suites.size(), tls::all_suites().size() + 2);
}

// ===============================================================================================================
// Round trips with a real OpenSSL server in memory.

TEST(TlsRoundTrip, Tls12EcdheRsaFlightIsReadCompletely) {
  MemoryServer srv;
  SSL_CTX_set_max_proto_version(srv.ctx(), TLS1_2_VERSION);
  ASSERT_EQ(SSL_CTX_set_cipher_list(srv.ctx(), "ECDHE-RSA-AES128-GCM-SHA256"), 1);
  ASSERT_EQ(SSL_CTX_set1_groups_list(srv.ctx(), "P-384"), 1);         // the server's choice, not our first group
  ASSERT_EQ(SSL_CTX_set1_sigalgs_list(srv.ctx(), "RSA+SHA256"), 1);   // rsa_pkcs1_sha256 only
  SSL_CTX_set_alpn_select_cb(srv.ctx(), select_dicom, nullptr);
  tls::HelloSpec s = base_spec();
  s.suites = {0x009C, 0xC02F, 0xC030};
  s.alpn = {"dicom"};
  s.sni = "pacs.example.org";
  const Buf flight = srv.answer(tls::build_client_hello(s));
  ASSERT_EQ(srv.error(), SSL_ERROR_WANT_READ) << "OpenSSL did not accept our ClientHello";
  ASSERT_EQ(SSL_version(srv.ssl()), TLS1_2_VERSION);

  tls::ServerFlight f;
  ASSERT_EQ(f.feed(flight), tls::ServerFlight::State::complete) << f.error();
  ASSERT_TRUE(f.hello());
  const tls::ServerHello& h = *f.hello();
  EXPECT_EQ(h.version, 0x0303);
  EXPECT_EQ(h.legacy_version, 0x0303);
  EXPECT_FALSE(h.hrr);
  EXPECT_EQ(h.suite, SSL_CIPHER_get_protocol_id(SSL_get_pending_cipher(srv.ssl())));
  EXPECT_EQ(h.suite, 0xC02F);
  EXPECT_EQ(h.compression, 0);
  EXPECT_TRUE(h.ems);
  EXPECT_TRUE(h.reneg_info);
  EXPECT_EQ(h.alpn, "dicom");
  EXPECT_FALSE(h.key_share_group);
  ASSERT_EQ(f.certificates().size(), 1u);
  EXPECT_EQ(f.certificates()[0], srv.cert_der());
  ASSERT_TRUE(f.key_exchange());
  EXPECT_EQ(f.key_exchange()->kind, "ecdhe");
  EXPECT_EQ(f.key_exchange()->group, std::optional<std::uint16_t>(0x0018));  // secp384r1
  EXPECT_EQ(f.key_exchange()->sig_scheme, std::optional<std::uint16_t>(0x0401));
  EXPECT_EQ(f.key_exchange()->dh_bits, 0);
  EXPECT_FALSE(f.certificate_request());
  EXPECT_EQ(f.alert_description(), -1);

  // What the certificate says, read back from the bytes the server sent.
  const tls::CertInfo c = tls::parse_certificate(f.certificates()[0], std::time(nullptr));
  ASSERT_TRUE(c.parsed);
  EXPECT_EQ(c.key_type, "RSA");
  EXPECT_EQ(c.key_bits, 2048);
  EXPECT_EQ(c.sig_hash, "SHA-256");
  EXPECT_EQ(c.sig_hash_bits, 128);
  EXPECT_TRUE(c.self_signed);
  EXPECT_NE(c.subject.find("CN=tls-test.dicomguard.invalid"), std::string::npos) << c.subject;
  EXPECT_EQ(c.subject, c.issuer);
  EXPECT_FALSE(c.expired);
  EXPECT_FALSE(c.not_yet_valid);
  EXPECT_GE(c.days_left, 1);
  EXPECT_LE(c.days_left, 2);
  EXPECT_EQ(c.sha256.size(), 64u);
  EXPECT_TRUE(tls::certificate_matches(f.certificates()[0], "tls-test.dicomguard.invalid"));
  EXPECT_FALSE(tls::certificate_matches(f.certificates()[0], "pacs.example.org"));
}

TEST(TlsRoundTrip, EmsRenegotiationInfoAndAlpnAreOnlyEchoedWhenOffered) {
  MemoryServer srv;
  SSL_CTX_set_max_proto_version(srv.ctx(), TLS1_2_VERSION);
  SSL_CTX_set_alpn_select_cb(srv.ctx(), select_dicom, nullptr);
  tls::HelloSpec s = base_spec();
  s.ems = false;
  s.reneg_scsv = false;
  const Buf flight = srv.answer(tls::build_client_hello(s));
  const tls::ServerFlight f = parse_all(flight);
  ASSERT_EQ(f.state(), tls::ServerFlight::State::complete) << f.error();
  EXPECT_FALSE(f.hello()->ems);
  EXPECT_FALSE(f.hello()->reneg_info);
  EXPECT_EQ(f.hello()->alpn, "");
  for (auto e : f.hello()->extensions) EXPECT_TRUE(e != 23 && e != 0xFF01 && e != 16) << e;
}

TEST(TlsRoundTrip, CertificateRequestIsSeen) {
  MemoryServer srv;
  SSL_CTX_set_max_proto_version(srv.ctx(), TLS1_2_VERSION);
  SSL_CTX_set_verify(srv.ctx(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  const tls::ServerFlight f = parse_all(srv.answer(tls::build_client_hello(base_spec())));
  ASSERT_EQ(f.state(), tls::ServerFlight::State::complete) << f.error();
  EXPECT_TRUE(f.certificate_request());
}

TEST(TlsRoundTrip, EcdsaCertificateAndSignatureScheme) {
  MemoryServer srv(tls::KeyType::ec_p256);
  SSL_CTX_set_max_proto_version(srv.ctx(), TLS1_2_VERSION);
  ASSERT_EQ(SSL_CTX_set_cipher_list(srv.ctx(), "ECDHE-ECDSA-AES128-GCM-SHA256"), 1);
  ASSERT_EQ(SSL_CTX_set1_groups_list(srv.ctx(), "X25519"), 1);
  ASSERT_EQ(SSL_CTX_set1_sigalgs_list(srv.ctx(), "ECDSA+SHA256"), 1);
  tls::HelloSpec s = base_spec();
  s.suites = {0xC02B};
  const tls::ServerFlight f = parse_all(srv.answer(tls::build_client_hello(s)));
  ASSERT_EQ(f.state(), tls::ServerFlight::State::complete) << f.error();
  EXPECT_EQ(f.hello()->suite, 0xC02B);
  ASSERT_TRUE(f.key_exchange());
  EXPECT_EQ(f.key_exchange()->group, std::optional<std::uint16_t>(0x001D));
  EXPECT_EQ(f.key_exchange()->sig_scheme, std::optional<std::uint16_t>(0x0403));
  ASSERT_EQ(f.certificates().size(), 1u);
  const tls::CertInfo c = tls::parse_certificate(f.certificates()[0], std::time(nullptr));
  EXPECT_EQ(c.key_type, "EC");
  EXPECT_EQ(c.key_bits, 256);
  EXPECT_EQ(c.curve, "prime256v1");
}

TEST(TlsRoundTrip, Tls13EmptyKeyShareGetsAHelloRetryRequestWithTheServersGroup) {
  MemoryServer srv;
  ASSERT_EQ(SSL_CTX_set1_groups_list(srv.ctx(), "P-384:P-256"), 1);
  tls::HelloSpec s = base_spec();
  s.versions = {tls::TLSv1_3};
  s.suites = {0x1301};
  s.key_share = true;
  s.reneg_scsv = false;
  const Buf flight = srv.answer(tls::build_client_hello(s));
  ASSERT_EQ(srv.error(), SSL_ERROR_WANT_READ) << "OpenSSL did not accept our TLS 1.3 ClientHello";
  EXPECT_EQ(SSL_version(srv.ssl()), TLS1_3_VERSION);
  tls::ServerFlight f;
  ASSERT_EQ(f.feed(flight), tls::ServerFlight::State::complete) << f.error();
  const tls::ServerHello& h = *f.hello();
  EXPECT_TRUE(h.hrr);
  EXPECT_EQ(h.legacy_version, 0x0303);
  EXPECT_EQ(h.version, 0x0304);
  EXPECT_EQ(h.suite, 0x1301);
  EXPECT_EQ(h.key_share_group, std::optional<std::uint16_t>(0x0018)) << "the server's first group we also offered";
  EXPECT_TRUE(f.certificates().empty());
  EXPECT_FALSE(f.key_exchange());
}

TEST(TlsRoundTrip, RefusedVersionIsAProtocolVersionAlert) {
  {  // A TLS 1.2 server, a client that offers TLS 1.3 only.
    MemoryServer srv;
    SSL_CTX_set_max_proto_version(srv.ctx(), TLS1_2_VERSION);
    tls::HelloSpec s = base_spec();
    s.versions = {tls::TLSv1_3};
    s.suites = {0x1301, 0x1302};
    s.key_share = true;
    s.reneg_scsv = false;
    const tls::ServerFlight f = parse_all(srv.answer(tls::build_client_hello(s)));
    ASSERT_EQ(f.state(), tls::ServerFlight::State::alert) << describe(f);
    EXPECT_EQ(f.alert_level(), 2);
    EXPECT_EQ(f.alert_description(), 70);
    EXPECT_STREQ(tls::alert_name(f.alert_description()), "protocol_version");
    EXPECT_FALSE(f.hello());
  }
  {  // A TLS 1.3-only server, a client that offers TLS 1.2 only.
    MemoryServer srv;
    SSL_CTX_set_min_proto_version(srv.ctx(), TLS1_3_VERSION);
    const tls::ServerFlight f = parse_all(srv.answer(tls::build_client_hello(base_spec())));
    ASSERT_EQ(f.state(), tls::ServerFlight::State::alert) << describe(f);
    EXPECT_EQ(f.alert_description(), 70);
  }
}

TEST(TlsRoundTrip, NoCommonSuiteIsAHandshakeFailureAlert) {
  MemoryServer srv;
  SSL_CTX_set_max_proto_version(srv.ctx(), TLS1_2_VERSION);
  tls::HelloSpec s = base_spec();
  s.suites = {0x0001, 0x0004};  // NULL-MD5, RC4-MD5: OpenSSL 3 does not negotiate them
  const tls::ServerFlight f = parse_all(srv.answer(tls::build_client_hello(s)));
  ASSERT_EQ(f.state(), tls::ServerFlight::State::alert) << describe(f);
  EXPECT_EQ(f.alert_level(), 2);
  EXPECT_EQ(f.alert_description(), 40);
  EXPECT_STREQ(tls::alert_name(40), "handshake_failure");
}

TEST(TlsRoundTrip, DheSuiteShowsThePrimeSize) {
  MemoryServer srv;
  SSL_CTX_set_max_proto_version(srv.ctx(), TLS1_2_VERSION);
  ASSERT_EQ(SSL_CTX_set_cipher_list(srv.ctx(), "DHE-RSA-AES128-GCM-SHA256"), 1);
  ASSERT_EQ(SSL_CTX_set_dh_auto(srv.ctx(), 1), 1);
  tls::HelloSpec s = base_spec();
  s.suites = {0x009E};
  const tls::ServerFlight f = parse_all(srv.answer(tls::build_client_hello(s)));
  ASSERT_EQ(f.state(), tls::ServerFlight::State::complete) << f.error();
  EXPECT_EQ(f.hello()->suite, 0x009E);
  ASSERT_TRUE(f.key_exchange());
  EXPECT_EQ(f.key_exchange()->kind, "dhe");
  EXPECT_EQ(f.key_exchange()->dh_bits, 2048);  // dh_auto with a 2048-bit RSA key (112-bit security)
  EXPECT_FALSE(f.key_exchange()->group);
  EXPECT_TRUE(f.key_exchange()->sig_scheme);
}

TEST(TlsRoundTrip, Tls10ServerKeyExchangeHasNoSignatureScheme) {
  MemoryServer srv;
  SSL_CTX_set_security_level(srv.ctx(), 0);
  SSL_CTX_set_min_proto_version(srv.ctx(), TLS1_VERSION);
  SSL_CTX_set_max_proto_version(srv.ctx(), TLS1_VERSION);
  if (SSL_CTX_set_cipher_list(srv.ctx(), "ECDHE-RSA-AES128-SHA:@SECLEVEL=0") != 1) GTEST_SKIP() << "no TLS 1.0 suites";
  tls::HelloSpec s = base_spec();
  s.version = tls::TLSv1_0;
  s.suites = {0xC013};
  s.sig_algs.clear();
  const tls::ServerFlight f = parse_all(srv.answer(tls::build_client_hello(s)));
  if (f.state() == tls::ServerFlight::State::alert) GTEST_SKIP() << "this OpenSSL refuses TLS 1.0: " << describe(f);
  ASSERT_EQ(f.state(), tls::ServerFlight::State::complete) << f.error();
  EXPECT_EQ(f.hello()->version, 0x0301);
  EXPECT_EQ(f.hello()->suite, 0xC013);
  ASSERT_TRUE(f.key_exchange());
  EXPECT_EQ(f.key_exchange()->kind, "ecdhe");
  EXPECT_TRUE(f.key_exchange()->group);
  EXPECT_FALSE(f.key_exchange()->sig_scheme) << "TLS 1.0 ServerKeyExchange signatures carry no algorithm";
}

// ===============================================================================================================
// ServerFlight on hostile or unusual input.

TEST(TlsFlight, SplitAtEveryOffsetGivesTheSameResultAsOneFeed) {
  const Buf& flight = tls12_flight();
  ASSERT_GT(flight.size(), 500u);
  const tls::ServerFlight whole = parse_all(flight);
  ASSERT_EQ(whole.state(), tls::ServerFlight::State::complete) << whole.error();
  const std::string want = describe(whole);
  for (std::size_t cut = 0; cut <= flight.size(); ++cut) {
    tls::ServerFlight f;
    const auto first = f.feed(std::span<const std::uint8_t>(flight.data(), cut));
    if (cut < flight.size()) {
      EXPECT_EQ(first, tls::ServerFlight::State::need_more) << "cut at " << cut;
    }
    f.feed(std::span<const std::uint8_t>(flight.data() + cut, flight.size() - cut));
    ASSERT_EQ(describe(f), want) << "cut at " << cut;
  }
  // And one byte at a time.
  tls::ServerFlight f;
  for (std::uint8_t b : flight) f.feed(std::span<const std::uint8_t>(&b, 1));
  EXPECT_EQ(describe(f), want);
}

TEST(TlsFlight, HandshakeFragmentedOverManyRecordsParsesTheSame) {
  const Buf& flight = tls12_flight();
  const std::string want = describe(parse_all(flight));
  Buf stream;
  for (const auto& [type, body] : split_records(flight)) {
    ASSERT_EQ(type, 22);
    append(stream, body);
  }
  for (std::size_t size : {1u, 2u, 3u, 5u, 64u, 1000u}) {
    Buf refragmented;
    for (std::size_t p = 0; p < stream.size(); p += size)
      append(refragmented, record(22, 0x0303, Buf(stream.begin() + static_cast<std::ptrdiff_t>(p),
                                                  stream.begin() + static_cast<std::ptrdiff_t>(std::min(stream.size(), p + size)))));
    EXPECT_EQ(describe(parse_all(refragmented)), want) << "records of " << size << " bytes";
  }
}

TEST(TlsFlight, BytesAfterTheEndOfTheFlightAreIgnored) {
  Buf b = tls12_flight();
  const std::string want = describe(parse_all(b));
  append(b, bytes("SSH-2.0-garbage after the flight"));
  tls::ServerFlight f;
  EXPECT_EQ(f.feed(b), tls::ServerFlight::State::complete);
  EXPECT_EQ(f.feed(bytes("more")), tls::ServerFlight::State::complete);
  EXPECT_EQ(describe(f), want);
}

TEST(TlsFlight, OversizedRecordIsMalformedFromItsHeader) {
  tls::ServerFlight f;
  EXPECT_EQ(f.feed(Buf{22, 3, 3, 0x48, 0x01}), tls::ServerFlight::State::malformed);  // 18433 bytes
  EXPECT_NE(f.error().find("18432"), std::string::npos) << f.error();
  tls::ServerFlight at_limit;
  EXPECT_EQ(at_limit.feed(Buf{22, 3, 3, 0x48, 0x00}), tls::ServerFlight::State::need_more);  // exactly 18432
  tls::ServerFlight huge;
  EXPECT_EQ(huge.feed(Buf{23, 3, 3, 0xFF, 0xFF}), tls::ServerFlight::State::malformed);
}

TEST(TlsFlight, NonTlsBytesAreMalformed) {
  const std::vector<Buf> answers = {
      bytes("SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n"),
      Buf{0x03, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x01, 0x01, 0x01},  // A-ASSOCIATE-RJ
      Buf{0x07, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x02, 0x00},  // A-ABORT
      bytes("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"),
      Buf{0x16, 0x02, 0x00, 0x00, 0x10},                                // handshake type with a non-TLS version byte
      Buf{0x80, 0x2E, 0x04, 0x00, 0x01, 0x00, 0x02},                    // an SSLv2 ServerHello header
      Buf{0x18, 0x03, 0x03, 0x00, 0x01, 0x00},                          // heartbeat (24): not a type we read
  };
  for (const Buf& a : answers) {
    tls::ServerFlight f;
    EXPECT_EQ(f.feed(a), tls::ServerFlight::State::malformed) << std::string(a.begin(), a.end());
    EXPECT_FALSE(f.error().empty());
    EXPECT_FALSE(f.hello());
  }
  // Fewer than 5 bytes cannot be judged yet.
  tls::ServerFlight f;
  EXPECT_EQ(f.feed(bytes("SSH")), tls::ServerFlight::State::need_more);
  EXPECT_EQ(f.feed(bytes("-2.0-x\r\n")), tls::ServerFlight::State::malformed);
}

TEST(TlsFlight, HandshakeHeaderClaiming16MegabytesIsMalformedAtOnce) {
  // The record holds only the 4-byte header; a parser that waited for (or reserved) 16 MB would say need_more.
  tls::ServerFlight f;
  EXPECT_EQ(f.feed(record(22, 0x0303, {2, 0xFF, 0xFF, 0xFF})), tls::ServerFlight::State::malformed);
  EXPECT_NE(f.error().find("128 KiB"), std::string::npos) << f.error();

  tls::ServerFlight just_over;  // 128 KiB + 1
  EXPECT_EQ(just_over.feed(record(22, 0x0303, {11, 0x02, 0x00, 0x01})), tls::ServerFlight::State::malformed);
  tls::ServerFlight at_limit;   // 128 KiB: allowed, waits for the body
  EXPECT_EQ(at_limit.feed(record(22, 0x0303, {2, 0x02, 0x00, 0x00})), tls::ServerFlight::State::need_more);
}

TEST(TlsFlight, CertificateLargerThan128KiBOverManyRecordsIsMalformed) {
  // A 137 KiB Certificate message sent as a server would (16000-byte records, read 4 KiB at a time): refused,
  // and none of it kept.
  Buf hs = server_hello({});
  Buf cert_body;
  put24(cert_body, 140000);
  Buf cert = handshake(11, cert_body);
  cert.resize(4 + 140000 + 3, 0x30);
  cert[1] = 0x02;  // keep the message header consistent: 140003 bytes
  cert[2] = 0x22;
  cert[3] = 0xE3;
  append(hs, cert);
  Buf all;
  for (std::size_t p = 0; p < hs.size(); p += 16000)
    append(all, record(22, 0x0303, Buf(hs.begin() + static_cast<std::ptrdiff_t>(p), hs.begin() + static_cast<std::ptrdiff_t>(std::min(hs.size(), p + 16000)))));
  tls::ServerFlight f;
  for (std::size_t p = 0; p < all.size() && f.state() == tls::ServerFlight::State::need_more; p += 4096)
    f.feed(std::span<const std::uint8_t>(all.data() + p, std::min<std::size_t>(4096, all.size() - p)));
  EXPECT_EQ(f.state(), tls::ServerFlight::State::malformed);
  EXPECT_TRUE(f.certificates().empty());
}

TEST(TlsFlight, MoreThan256KiBBufferedIsMalformed) {
  // 256 KiB + 1 of well-formed but useless records (ChangeCipherSpec) arriving in one read.
  Buf b;
  while (b.size() <= tls::ServerFlight::kMaxBuffered) append(b, record(20, 0x0303, {1}));
  tls::ServerFlight f;
  EXPECT_EQ(f.feed(b), tls::ServerFlight::State::malformed);
  EXPECT_NE(f.error().find("256 KiB"), std::string::npos) << f.error();
  // An unfinished record is kept across reads, the cap counts what is kept plus what arrives.
  tls::ServerFlight g;
  Buf head = {22, 3, 3, 0x40, 0x00};  // a 16 KiB handshake record, never finished
  EXPECT_EQ(g.feed(head), tls::ServerFlight::State::need_more);
  EXPECT_EQ(g.feed(Buf(tls::ServerFlight::kMaxBuffered, 0)), tls::ServerFlight::State::malformed);
}

TEST(TlsFlight, TruncatedServerHelloExtensionsAreMalformed) {
  // A ServerHello whose extension block claims more than the message holds.
  Buf body;
  put16(body, 0x0303);
  body.insert(body.end(), 32, 1);
  put8(body, 0);
  put16(body, 0xC02F);
  put8(body, 0);
  put16(body, 10);                   // 10 bytes of extensions...
  append(body, u16s({23, 0, 0xFF01}));  // ...but only 6 present
  tls::ServerFlight a;
  EXPECT_EQ(a.feed(record(22, 0x0303, handshake(2, body))), tls::ServerFlight::State::malformed);
  EXPECT_FALSE(a.hello());

  // An extension whose own length runs past the block.
  tls::ServerFlight b;
  EXPECT_EQ(b.feed(record(22, 0x0303, server_hello({.extensions = {{23, {}}}}) )), tls::ServerFlight::State::need_more);
  Buf bad = server_hello({.extensions = {{0xFF01, {0}}}});
  bad[bad.size() - 2] = 9;  // renegotiation_info claims 9 bytes, has 1
  tls::ServerFlight c;
  EXPECT_EQ(c.feed(record(22, 0x0303, bad)), tls::ServerFlight::State::malformed);

  // supported_versions and key_share too short for their value.
  for (std::uint16_t ext : {43, 51}) {
    tls::ServerFlight d;
    EXPECT_EQ(d.feed(record(22, 0x0303, server_hello({.extensions = {{ext, {3}}}}))), tls::ServerFlight::State::malformed) << ext;
  }
  // A ServerHello cut inside the random, and a session id longer than 32 bytes.
  Buf cut = handshake(2, Buf{3, 3, 1, 2, 3});
  tls::ServerFlight e;
  EXPECT_EQ(e.feed(record(22, 0x0303, cut)), tls::ServerFlight::State::malformed);
  tls::ServerFlight g;
  EXPECT_EQ(g.feed(record(22, 0x0303, server_hello({.session_id = 33}))), tls::ServerFlight::State::malformed);
  tls::ServerFlight ok32;
  EXPECT_EQ(ok32.feed(record(22, 0x0303, server_hello({.session_id = 32}))), tls::ServerFlight::State::need_more);
}

TEST(TlsFlight, AlertRecordGivesLevelAndDescription) {
  tls::ServerFlight f;
  EXPECT_EQ(f.feed(alert(2, 40)), tls::ServerFlight::State::alert);
  EXPECT_EQ(f.alert_level(), 2);
  EXPECT_EQ(f.alert_description(), 40);
  EXPECT_FALSE(f.hello());

  // After a ServerHello, in two reads.
  Buf b = record(22, 0x0303, server_hello({}));
  append(b, alert(2, 86));
  tls::ServerFlight g;
  EXPECT_EQ(g.feed(std::span<const std::uint8_t>(b.data(), b.size() - 1)), tls::ServerFlight::State::need_more);
  EXPECT_EQ(g.feed(std::span<const std::uint8_t>(b.data() + b.size() - 1, 1)), tls::ServerFlight::State::alert);
  EXPECT_EQ(g.alert_description(), 86);
  EXPECT_STREQ(tls::alert_name(86), "inappropriate_fallback");
  EXPECT_TRUE(g.hello());

  tls::ServerFlight short_alert;
  EXPECT_EQ(short_alert.feed(record(21, 0x0303, {2})), tls::ServerFlight::State::malformed);
  EXPECT_STREQ(tls::alert_name(250), "unknown");
}

TEST(TlsFlight, OutOfOrderMessagesAndApplicationDataAreMalformed) {
  Buf cert_first = record(22, 0x0303, handshake(11, {0, 0, 0}));
  EXPECT_EQ(parse_all(cert_first).state(), tls::ServerFlight::State::malformed);
  Buf two = record(22, 0x0303, server_hello({}));
  append(two, record(22, 0x0303, server_hello({})));
  EXPECT_EQ(parse_all(two).state(), tls::ServerFlight::State::malformed);
  EXPECT_EQ(parse_all(record(23, 0x0303, {1, 2, 3})).state(), tls::ServerFlight::State::malformed);
  Buf hello_then_data = record(22, 0x0303, server_hello({}));
  append(hello_then_data, record(23, 0x0303, {1}));
  EXPECT_EQ(parse_all(hello_then_data).state(), tls::ServerFlight::State::malformed);
}

TEST(TlsFlight, ScriptedTls12FlightFieldByField) {
  Buf hs = server_hello({.version = 0x0303,
                         .suite = 0xC030,
                         .compression = 1,
                         .extensions = {{0xFF01, {0}}, {23, {}}, {16, {0, 6, 5, 'd', 'i', 'c', 'o', 'm'}}, {11, {1, 0}}}});
  Buf certs;
  const Buf c1(300, 0x30), c2(10, 0x31);
  put24(certs, 3 + c1.size() + 3 + c2.size());
  put24(certs, c1.size());
  append(certs, c1);
  put24(certs, c2.size());
  append(certs, c2);
  append(hs, handshake(11, certs));
  Buf ske = {3, 0x00, 0x17, 65, 4};
  ske.insert(ske.end(), 64, 7);
  append(ske, u16s({0x0804, 4}));
  append(ske, {1, 2, 3, 4});
  append(hs, handshake(12, ske));
  append(hs, handshake(22, {0, 0, 0, 0}));  // CertificateStatus-like: skipped
  append(hs, handshake(13, {1, 1, 0, 2, 4, 1, 0, 0}));
  append(hs, handshake(14, {}));
  const tls::ServerFlight f = parse_all(record(22, 0x0303, hs));
  ASSERT_EQ(f.state(), tls::ServerFlight::State::complete) << f.error();
  EXPECT_EQ(f.hello()->suite, 0xC030);
  EXPECT_EQ(f.hello()->compression, 1);
  EXPECT_TRUE(f.hello()->reneg_info);
  EXPECT_TRUE(f.hello()->ems);
  EXPECT_EQ(f.hello()->alpn, "dicom");
  EXPECT_EQ(f.hello()->extensions, (std::vector<std::uint16_t>{0xFF01, 23, 16, 11}));
  ASSERT_EQ(f.certificates().size(), 2u);
  EXPECT_EQ(f.certificates()[0], c1);
  EXPECT_EQ(f.certificates()[1], c2);
  EXPECT_EQ(f.key_exchange()->group, std::optional<std::uint16_t>(0x0017));
  EXPECT_EQ(f.key_exchange()->sig_scheme, std::optional<std::uint16_t>(0x0804));
  EXPECT_TRUE(f.certificate_request());
}

TEST(TlsFlight, Tls13ServerHelloEndsTheFlight) {
  const Buf sh = server_hello({.version = 0x0303,
                               .suite = 0x1302,
                               .extensions = {{43, u16s({0x0304})}, {51, [] {
                                                 Buf k = u16s({0x001D, 32});
                                                 k.insert(k.end(), 32, 9);
                                                 return k;
                                               }()}}});
  Buf b = record(22, 0x0303, sh);
  append(b, record(20, 0x0303, {1}));
  append(b, record(23, 0x0303, Buf(100, 0xEE)));  // encrypted extensions: never read
  const tls::ServerFlight f = parse_all(b);
  ASSERT_EQ(f.state(), tls::ServerFlight::State::complete) << f.error();
  EXPECT_FALSE(f.hello()->hrr);
  EXPECT_EQ(f.hello()->version, 0x0304);
  EXPECT_EQ(f.hello()->key_share_group, std::optional<std::uint16_t>(0x001D));
}

// ===============================================================================================================
// grade()

namespace {

tls::CertInfo rsa_cert(int bits, const std::string& hash = "SHA-256", int hash_bits = 128) {
  tls::CertInfo c;
  c.parsed = true;
  c.key_type = "RSA";
  c.key_bits = bits;
  c.sig_hash = hash;
  c.sig_hash_bits = hash_bits;
  c.signature = hash == "SHA-1" ? "sha1WithRSAEncryption" : "sha256WithRSAEncryption";
  return c;
}

// A server as B.12 describes it: TLS 1.2 and 1.3, the four RFC 9325 ECDHE GCM suites, RSA 2048 SHA-256.
tls::Facts b12_server() {
  tls::Facts f;
  f.versions = {{"SSLv3", false}, {"TLSv1.0", false}, {"TLSv1.1", false}, {"TLSv1.2", true}, {"TLSv1.3", true}};
  f.suites["TLSv1.2"] = {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                         "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"};
  f.suites["TLSv1.3"] = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"};
  f.suites_complete = {{"TLSv1.2", true}, {"TLSv1.3", true}};
  f.groups = {{"secp256r1", 256}, {"secp384r1", 384}};
  f.chain = {rsa_cert(2048)};
  f.compression = false;
  f.secure_renegotiation = true;
  f.extended_master_secret = true;
  f.fallback_scsv = true;
  f.alpn = "dicom";
  f.client_cert_requested = true;
  return f;
}

const tls::ProfileResult& profile(const std::vector<tls::ProfileResult>& g, const std::string& id) {
  for (const auto& p : g)
    if (p.id == id) return p;
  static const tls::ProfileResult none{};
  ADD_FAILURE() << "no profile " << id;
  return none;
}
const tls::Clause& clause(const tls::ProfileResult& p, const std::string& id) {
  for (const auto& c : p.clauses)
    if (c.id == id) return c;
  static const tls::Clause none{};
  ADD_FAILURE() << "no clause " << id << " in " << p.id;
  return none;
}
std::set<std::string> with_verdict(const tls::ProfileResult& p, const std::string& verdict) {
  std::set<std::string> s;
  for (const auto& c : p.clauses)
    if (c.verdict == verdict) s.insert(c.id);
  return s;
}

}  // namespace

TEST(TlsGrade, ProfilesComeFromTheEmbeddedTableInOrder) {
  std::vector<std::string> ids;
  for (const auto& p : tls::profiles()) ids.push_back(p.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"B.12", "B.13", "B.10", "B.11", "B.9", "B.3", "B.1"}));
  const auto g = tls::grade({});
  ASSERT_EQ(g.size(), ids.size());
  for (const auto& p : g) {
    EXPECT_FALSE(p.clauses.empty()) << p.id;
    for (const auto& c : p.clauses) {
      EXPECT_EQ(c.id.rfind(p.id + ".", 0), 0u) << c.id << " is not a clause of " << p.id;
      EXPECT_TRUE(c.verdict == "pass" || c.verdict == "fail" || c.verdict == "not-measured") << c.id << " " << c.verdict;
    }
  }
  EXPECT_EQ(profile(g, "B.12").status, "current");
  EXPECT_EQ(profile(g, "B.1").status, "retired");
}

TEST(TlsGrade, B12StyleServerPassesB12) {
  const auto g = tls::grade(b12_server());
  const auto& b12 = profile(g, "B.12");
  EXPECT_EQ(b12.verdict, "pass");
  EXPECT_EQ(with_verdict(b12, "fail"), std::set<std::string>{});
  EXPECT_EQ(with_verdict(b12, "not-measured"), std::set<std::string>{});
  EXPECT_EQ(clause(b12, "B.12.versions").detail, "TLSv1.2 accepted");
  EXPECT_EQ(clause(b12, "B.12.rsa-key").detail, "RSA 2048 bits");
  // B.13 asks for every TLS 1.3 suite, CCM included: this server misses two, and the enumeration was complete.
  const auto& b13 = profile(g, "B.13");
  EXPECT_EQ(b13.verdict, "fail");
  EXPECT_EQ(clause(b13, "B.13.tls13-suites").verdict, "fail");
  EXPECT_NE(clause(b13, "B.13.tls13-suites").detail.find("TLS_AES_128_CCM_SHA256"), std::string::npos);
  // The same enumeration cut short by the budget cannot fail that clause.
  tls::Facts cut = b12_server();
  cut.suites_complete["TLSv1.3"] = false;
  EXPECT_EQ(clause(profile(tls::grade(cut), "B.13"), "B.13.tls13-suites").verdict, "not-measured");
}

TEST(TlsGrade, Tls10With3desAndRsa1024FailsTheCurrentProfilesButMeetsBasic) {
  tls::Facts f;
  f.versions = {{"SSLv3", false}, {"TLSv1.0", true}, {"TLSv1.1", false}, {"TLSv1.2", false}, {"TLSv1.3", false}};
  f.suites["TLSv1.0"] = {"TLS_RSA_WITH_3DES_EDE_CBC_SHA"};
  f.suites_complete["TLSv1.0"] = true;
  f.chain = {rsa_cert(1024)};
  f.compression = false;
  f.secure_renegotiation = true;
  f.extended_master_secret = true;
  const auto g = tls::grade(f);
  const auto& b12 = profile(g, "B.12");
  EXPECT_EQ(b12.verdict, "fail");
  EXPECT_EQ(with_verdict(b12, "fail"), (std::set<std::string>{"B.12.versions", "B.12.no-tls1.0", "B.12.rsa-key"}));
  EXPECT_EQ(clause(b12, "B.12.rsa-key").detail, "RSA 1024 bits");
  // 3DES is not one of B.12's MUST NOT classes (null, rc4, export, des).
  EXPECT_EQ(clause(b12, "B.12.no-weak-suites").verdict, "pass");
  const auto& b13 = profile(g, "B.13");
  EXPECT_EQ(b13.verdict, "fail");
  EXPECT_EQ(with_verdict(b13, "fail"),
            (std::set<std::string>{"B.13.versions", "B.13.no-tls1.0", "B.13.algorithms", "B.13.rsa-key"}));
  const std::string& why = clause(b13, "B.13.algorithms").detail;
  EXPECT_NE(why.find("TLS_RSA_WITH_3DES_EDE_CBC_SHA (3des, TLSv1.0)"), std::string::npos) << why;
  const auto& b1 = profile(g, "B.1");
  EXPECT_EQ(b1.verdict, "pass");
  EXPECT_EQ(clause(b1, "B.1.version").detail, "TLSv1.0 accepted");
  // B.3 wants AES as well.
  EXPECT_EQ(profile(g, "B.3").verdict, "fail");
  EXPECT_EQ(with_verdict(profile(g, "B.3"), "fail"), std::set<std::string>{"B.3.aes"});
}

TEST(TlsGrade, X25519IsNotAFailureOfThe256BitEcdheClause) {
  tls::Facts f = b12_server();
  f.groups = {{"x25519", 253}};
  auto g = tls::grade(f);
  const auto& c13 = clause(profile(g, "B.13"), "B.13.ecdhe-group");
  EXPECT_EQ(c13.verdict, "pass");
  EXPECT_NE(c13.detail.find("x25519"), std::string::npos) << c13.detail;
  EXPECT_EQ(clause(profile(g, "B.12"), "B.12.ecdhe-group").verdict, "pass");
  EXPECT_EQ(clause(profile(g, "B.11"), "B.11.ecdhe-group").verdict, "pass");
  // A 224-bit curve: allowed by B.12 (>= 224), not by B.13 (>= 256).
  f.groups = {{"secp224r1", 224}};
  g = tls::grade(f);
  EXPECT_EQ(clause(profile(g, "B.12"), "B.12.ecdhe-group").verdict, "pass");
  EXPECT_EQ(clause(profile(g, "B.13"), "B.13.ecdhe-group").verdict, "fail");
  EXPECT_EQ(clause(profile(g, "B.13"), "B.13.ecdhe-group").detail, "secp224r1 (224 bits)");
  f.groups = {{"secp192r1", 192}};
  EXPECT_EQ(profile(tls::grade(f), "B.12").verdict, "fail");
}

TEST(TlsGrade, EmptyFactsNeverPass) {
  const auto g = tls::grade({});
  std::map<std::string, std::string> verdicts;
  for (const auto& p : g) verdicts[p.id] = p.verdict;
  // Nothing measured: every profile is not-measured, none passes and none fails.
  for (const char* id : {"B.12", "B.13", "B.10", "B.11", "B.9", "B.3", "B.1"}) EXPECT_EQ(verdicts[id], "not-measured") << id;
  EXPECT_EQ(with_verdict(profile(g, "B.1"), "fail"), std::set<std::string>{});
  EXPECT_EQ(clause(profile(g, "B.1"), "B.1.3des").detail, "SSLv3 not tested");
  for (const auto& p : g) EXPECT_NE(p.verdict, "pass") << p.id;
}

TEST(TlsGrade, CertificateHashAndKeyClauses) {
  tls::Facts f = b12_server();
  f.chain = {rsa_cert(2048, "SHA-1", 63)};
  auto g = tls::grade(f);
  EXPECT_EQ(clause(profile(g, "B.12"), "B.12.cert-hash").verdict, "fail");
  EXPECT_EQ(clause(profile(g, "B.12"), "B.12.cert-hash").detail, "certificate 0 signed with SHA-1");
  // A self-signed SHA-1 root after a SHA-256 leaf: the trust anchor's own signature does not count.
  tls::CertInfo root = rsa_cert(4096, "SHA-1", 63);
  root.self_signed = true;
  f.chain = {rsa_cert(2048), root};
  EXPECT_EQ(clause(profile(tls::grade(f), "B.12"), "B.12.cert-hash").verdict, "pass");
  // ...but a SHA-1 intermediate does.
  root.self_signed = false;
  f.chain = {rsa_cert(2048), root};
  EXPECT_EQ(clause(profile(tls::grade(f), "B.12"), "B.12.cert-hash").verdict, "fail");
  // An EC key is not judged by the RSA clause, and an EC key under 256 bits fails B.13's ECDSA clause.
  tls::CertInfo ec;
  ec.parsed = true;
  ec.key_type = "EC";
  ec.key_bits = 224;
  ec.sig_hash = "SHA-256";
  ec.sig_hash_bits = 128;
  f.chain = {ec};
  g = tls::grade(f);
  EXPECT_EQ(clause(profile(g, "B.12"), "B.12.rsa-key").verdict, "pass");
  EXPECT_EQ(clause(profile(g, "B.13"), "B.13.ecdsa-key").verdict, "fail");
  // No certificate seen: the key and hash clauses are not measured.
  f.chain.clear();
  g = tls::grade(f);
  EXPECT_EQ(clause(profile(g, "B.12"), "B.12.rsa-key").verdict, "not-measured");
  EXPECT_EQ(clause(profile(g, "B.12"), "B.12.cert-hash").verdict, "not-measured");
  EXPECT_EQ(profile(g, "B.12").verdict, "not-measured");
}

TEST(TlsGrade, DheSizeAndFlags) {
  tls::Facts f = b12_server();
  f.suites["TLSv1.2"].push_back("TLS_DHE_RSA_WITH_AES_128_GCM_SHA256");
  f.dhe_bits = 1024;
  auto g = tls::grade(f);
  EXPECT_EQ(clause(profile(g, "B.12"), "B.12.dhe-group").verdict, "fail");
  EXPECT_EQ(clause(profile(g, "B.12"), "B.12.dhe-group").detail, "DHE 1024 bits");
  f.dhe_bits = 0;  // DHE accepted but its size never seen
  EXPECT_EQ(clause(profile(tls::grade(f), "B.12"), "B.12.dhe-group").verdict, "not-measured");
  f.dhe_bits = 2048;
  EXPECT_EQ(clause(profile(tls::grade(f), "B.12"), "B.12.dhe-group").verdict, "pass");

  f = b12_server();
  f.compression = true;
  f.extended_master_secret = false;
  f.secure_renegotiation.reset();
  g = tls::grade(f);
  const auto& b12 = profile(g, "B.12");
  EXPECT_EQ(clause(b12, "B.12.no-compression").verdict, "fail");
  EXPECT_EQ(clause(b12, "B.12.extended-master-secret").verdict, "fail");
  EXPECT_EQ(clause(b12, "B.12.renegotiation-info").verdict, "not-measured");
  // TLS 1.3 only: renegotiation and EMS do not apply.
  f.versions["TLSv1.2"] = false;
  g = tls::grade(f);
  EXPECT_EQ(clause(profile(g, "B.12"), "B.12.extended-master-secret").verdict, "pass");
  EXPECT_EQ(clause(profile(g, "B.12"), "B.12.versions").verdict, "fail");
  EXPECT_EQ(clause(profile(g, "B.13"), "B.13.versions").verdict, "pass");
}

// Found while writing these tests: a certificate the server sent that OpenSSL cannot read passes the hash
// clause ("signed with " and nothing), where every other certificate clause says not-measured.
TEST(TlsGrade, UnreadableCertificateDoesNotPassTheHashClause) {
  tls::Facts f = b12_server();
  f.chain = {tls::CertInfo{}};  // parsed == false, as tls_facts makes it from undecodable DER
  const auto g = tls::grade(f);
  EXPECT_EQ(clause(profile(g, "B.12"), "B.12.rsa-key").verdict, "not-measured");
  EXPECT_EQ(clause(profile(g, "B.12"), "B.12.cert-hash").verdict, "not-measured")
      << clause(profile(g, "B.12"), "B.12.cert-hash").detail;
}

// Found while writing these tests: suite rules over "any version up to TLS 1.2" drop unmeasured versions, so
// when none was measured (a TLS 1.3-only answer with the budget spent before TLS 1.1/1.0/SSLv3 were tried)
// they fail with "no TLS version up to 1.2 accepted", while B.1.version itself is not-measured.
TEST(TlsGrade, AnyVersionSuiteRuleWithUnmeasuredVersionsIsNotMeasured) {
  tls::Facts f;
  f.versions = {{"TLSv1.2", false}, {"TLSv1.3", true}};
  f.suites["TLSv1.3"] = {"TLS_AES_128_GCM_SHA256"};
  const auto g = tls::grade(f);
  EXPECT_EQ(clause(profile(g, "B.1"), "B.1.version").verdict, "not-measured");
  EXPECT_EQ(clause(profile(g, "B.1"), "B.1.3des").verdict, "not-measured") << clause(profile(g, "B.1"), "B.1.3des").detail;
}

// Found while writing these tests: ChangeCipherSpec records are accepted anywhere (the comment says only after
// a TLS 1.3 ServerHello/HRR), and nothing caps the bytes or records of one flight, only the bytes buffered.
// With the engine's 4 KiB reads, a server that trickles CCS records (or skipped handshake messages) faster
// than the step timeout holds the probe's connection open forever without a verdict.
TEST(TlsFlight, EndlessUselessRecordsReachAVerdict) {
  Buf ccs;
  while (ccs.size() < 4096) append(ccs, record(20, 0x0303, {1}));
  tls::ServerFlight f;
  for (int i = 0; i < 256 && f.state() == tls::ServerFlight::State::need_more; ++i) f.feed(ccs);  // 1 MiB
  EXPECT_NE(f.state(), tls::ServerFlight::State::need_more) << "1 MiB of ChangeCipherSpec and still waiting";
}

// Found while writing these tests: the per-record check `hs_.size() + len > kMaxMessage + 4` counts the bytes of
// the following messages too, so a Certificate within the 128 KiB message limit whose last record also carries
// ServerHelloDone (servers pack messages into records) is refused as "larger than 128 KiB".
TEST(TlsFlight, MessageAtTheLimitFollowedByMoreInTheSameRecordIsRead) {
  const std::size_t len = 128 * 1024;  // the largest handshake message ServerFlight accepts
  Buf cert_body;
  put24(cert_body, len - 3);
  put24(cert_body, len - 6);
  cert_body.resize(len, 0x30);
  Buf hs = server_hello({});
  append(hs, handshake(11, cert_body));
  append(hs, handshake(14, {}));
  Buf all;
  for (std::size_t p = 0; p < hs.size(); p += 16384)
    append(all, record(22, 0x0303, Buf(hs.begin() + static_cast<std::ptrdiff_t>(p), hs.begin() + static_cast<std::ptrdiff_t>(std::min(hs.size(), p + 16384)))));
  const tls::ServerFlight f = parse_all(all);
  EXPECT_EQ(f.state(), tls::ServerFlight::State::complete) << f.error();
  EXPECT_EQ(f.certificates().size(), 1u);
}

// ===============================================================================================================
// TlsProbe, driven with scripted servers.

namespace {

struct Reply {
  Buf bytes;
  std::optional<scan::Failure> failure;
};
using Script = std::function<Reply(const Buf& client_hello)>;

struct Driven {
  int steps = 0;
  bool finished = false;
  int tcp_connects = 0, tls_connects = 0;
  std::vector<Buf> hellos;  // every ClientHello the probe sent
};

// The engine's part (tests/support/probe_driver.h) with the scripted server's answers. `refuse`: every TCP
// connect is refused. `session`: what a full (OpenSSL) handshake shows; without one, full handshakes fail.
// `tls_silent(n)`: the n-th full handshake (from 1) gets no answer within the step timeout (a stalled server).
Driven drive(scan::TlsProbe& p, const Script& server, bool refuse = false,
             const std::optional<scan::TlsSession>& session = std::nullopt, int max_steps = 10000,
             const std::function<bool(int)>& tls_silent = {}) {
  int tls_connects = 0;
  dgtest::Peer peer;
  peer.connect = [&](const scan::Step& s) {
    if (refuse) return dgtest::Answer::fail(scan::Failure::refused, "connection refused");
    if (!s.tls) return dgtest::Answer::connected();
    if (tls_silent && tls_silent(++tls_connects))
      return dgtest::Answer::fail(scan::Failure::timeout, "no answer within the step's timeout");
    if (session) return dgtest::Answer::tls(*session);
    return dgtest::Answer::fail(scan::Failure::tls_failed, "the scripted server has no TLS library");
  };
  peer.send = [&](const Buf& sent) {
    Reply r = server(sent);
    return r.failure ? dgtest::Answer::fail(*r.failure) : dgtest::Answer::data(std::move(r.bytes));
  };
  const dgtest::Driven d = dgtest::drive(p, peer, max_steps);
  return {d.steps, d.finished, refuse ? 0 : d.tcp_connects, refuse ? 0 : d.tls_connects, d.sent};
}

scan::Endpoint endpoint(const std::string& host = "pacs.example.org") { return {*scan::parse_addr("192.0.2.10"), 2762, host}; }

// The probe's hellos in one line, for failure messages.
std::string outcomes(const scan::TlsResult& r) {
  std::ostringstream o;
  for (const auto& [v, ok] : r.versions) o << " " << tls::version_name(v) << "=" << ok;
  o << " handshakes=" << r.handshakes << " full=" << r.full.size() << " budget_exhausted=" << r.budget_exhausted;
  for (const auto& h : r.hellos)
    o << "\n  " << h.purpose << " " << tls::version_name(h.offered) << " -> " << h.outcome
      << (h.hello ? " " + tls::version_name(h.hello->version) + " " + tls::suite_name(h.hello->suite) : "") << " " << h.detail;
  return o.str();
}

bool has_finding(const dg::Record& rec, const std::string& id) {
  return std::any_of(rec.findings.begin(), rec.findings.end(), [&](const auto& f) { return f.check == id; });
}

// A plausible TLS server: versions, suites per version, groups and signature schemes in its own preference
// order, EMS/renegotiation_info/fallback behaviour, one certificate.
struct FakeServer {
  std::map<std::uint16_t, std::vector<std::uint16_t>> suites;  // version → accepted suites (server preference)
  std::vector<std::uint16_t> groups = {0x001D, 0x0017};
  std::vector<std::uint16_t> sig_algs = {0x0804, 0x0401};
  bool server_order = false;  // pick suites by the server's order (else the client's)
  bool ems = true, reneg = true, fallback = true;
  Buf cert;

  std::uint16_t highest() const { return suites.empty() ? 0 : suites.rbegin()->first; }

  Reply operator()(const Buf& raw) const {
    const ParsedHello h = parse_hello(raw);
    if (!h.ok) {
      ADD_FAILURE() << "the probe sent a malformed ClientHello: " << h.error;
      return {alert(2, 50), {}};
    }
    // Version.
    std::uint16_t v = 0;
    if (h.ext(43) && suites.count(0x0304)) {
      for (auto x : h.list16(43, 1))
        if (x == 0x0304) v = 0x0304;
    }
    if (!v)
      for (const auto& [sv, list] : suites)
        if (sv <= h.version && sv < 0x0304) v = sv;
    if (!v) return {alert(2, 70), {}};
    if (fallback && v < highest() && std::count(h.suites.begin(), h.suites.end(), 0x5600)) return {alert(2, 86), {}};
    // Suite.
    const auto& mine = suites.at(v);
    std::optional<std::uint16_t> suite;
    if (server_order) {
      for (auto c : mine)
        if (!suite && std::count(h.suites.begin(), h.suites.end(), c)) suite = c;
    } else {
      for (auto c : h.suites)
        if (!suite && std::count(mine.begin(), mine.end(), c)) suite = c;
    }
    if (!suite) return {alert(2, 40), {}};
    const auto client_groups = h.list16(10, 2);
    std::optional<std::uint16_t> group;
    for (auto g : groups)
      if (!group && std::count(client_groups.begin(), client_groups.end(), g)) group = g;
    if (v == 0x0304) {
      if (!group || !h.ext(51)) return {alert(2, 40), {}};
      return {record(22, 0x0303, server_hello({.version = 0x0303, .suite = *suite, .hrr = true,
                                                .extensions = {{43, u16s({0x0304})}, {51, u16s({*group})}}})),
              {}};
    }
    ServerHelloSpec sh{.version = v, .suite = *suite};
    if (ems && h.ext(23)) sh.extensions.push_back({23, {}});
    if (reneg && (h.ext(0xFF01) || std::count(h.suites.begin(), h.suites.end(), 0x00FF))) sh.extensions.push_back({0xFF01, {0}});
    Buf hs = server_hello(sh);
    if (!cert.empty()) {
      Buf list;
      put24(list, cert.size() + 3);
      put24(list, cert.size());
      append(list, cert);
      append(hs, handshake(11, list));
    }
    const tls::Suite* info = tls::find_suite(*suite);
    if (info && std::string(info->kx) == "ECDHE") {
      if (!group) return {alert(2, 40), {}};
      Buf ske = {3, static_cast<std::uint8_t>(*group >> 8), static_cast<std::uint8_t>(*group), 65, 4};
      ske.insert(ske.end(), 64, 0x42);
      if (v == 0x0303) {
        const auto client_sigs = h.list16(13, 2);
        std::optional<std::uint16_t> sig;
        for (auto c : client_sigs)
          if (!sig && std::count(sig_algs.begin(), sig_algs.end(), c)) sig = c;
        if (!sig) return {alert(2, 40), {}};
        append(ske, u16s({*sig}));
      }
      append(ske, u16s({8}));
      ske.insert(ske.end(), 8, 0x99);
      append(hs, handshake(12, ske));
    }
    append(hs, handshake(14, {}));
    return {record(22, v, hs), {}};
  }
};

Buf self_signed_der() { return der_of(SSL_CTX_get0_certificate(identity(tls::KeyType::rsa2048))); }

}  // namespace

TEST(TlsProbe, ServerThatAlertsEveryHelloSpeaksTlsButNoVersion) {
  scan::TlsProbe p(endpoint(), {.seed = 5});
  const Driven d = drive(p, [](const Buf&) { return Reply{alert(2, 40), {}}; });
  ASSERT_TRUE(d.finished) << "the probe did not finish within " << d.steps << " steps";
  const scan::TlsResult& r = p.result();
  EXPECT_TRUE(r.tcp_open);
  EXPECT_TRUE(r.tls);
  EXPECT_EQ(r.answer, "tls");
  EXPECT_EQ(r.versions, (std::map<std::uint16_t, bool>{{0x0300, false}, {0x0301, false}, {0x0302, false}, {0x0303, false}, {0x0304, false}}));
  EXPECT_TRUE(r.suites.empty());
  EXPECT_TRUE(r.groups.empty());
  EXPECT_TRUE(r.chain.empty());
  EXPECT_TRUE(r.full.empty()) << "no full handshake is worth trying without a common version";
  EXPECT_EQ(r.handshakes, 5);
  EXPECT_EQ(d.tcp_connects, 5);
  EXPECT_FALSE(r.budget_exhausted);
  ASSERT_EQ(r.hellos.size(), 5u);
  for (const auto& o : r.hellos) {
    EXPECT_EQ(o.outcome, "alert");
    EXPECT_EQ(o.alert, 40);
    EXPECT_EQ(o.detail, "handshake_failure");
    EXPECT_EQ(o.purpose, "version");
  }
  dg::Record rec = scan::tls_record(r, {});
  EXPECT_EQ(rec.type, "tls");
  EXPECT_EQ(rec.status, "fail");
  EXPECT_EQ(rec.fields["versions"]["TLSv1.2"], false);
  EXPECT_EQ(rec.fields["versions"]["TLSv1.3"], false);
  EXPECT_TRUE(has_finding(rec, "tls.profile.none"));
  EXPECT_FALSE(has_finding(rec, "tls.version.legacy"));
  EXPECT_NE(dg::text_subject(rec).find("no-common-version"), std::string::npos) << dg::text_subject(rec);
}

TEST(TlsProbe, VersionHellosAreWhatEachMeasurementNeeds) {
  scan::TlsProbe p(endpoint(), {.seed = 5});
  const Driven d = drive(p, [](const Buf&) { return Reply{alert(2, 40), {}}; });
  ASSERT_TRUE(d.finished);
  std::map<std::uint16_t, ParsedHello> by_version;
  for (const Buf& raw : d.hellos) {
    ParsedHello h = parse_hello(raw);
    ASSERT_TRUE(h.ok) << h.error;
    EXPECT_EQ(h.record_type, 22);
    by_version[h.offered()] = h;
  }
  ASSERT_EQ(by_version.size(), 5u);
  const ParsedHello& t13 = by_version[0x0304];
  EXPECT_EQ(t13.version, 0x0303);
  EXPECT_EQ(*t13.ext(43), (Buf{2, 3, 4}));
  EXPECT_EQ(*t13.ext(51), (Buf{0, 0}));
  for (auto c : t13.suites) {
    ASSERT_NE(tls::find_suite(c), nullptr) << c;
    EXPECT_TRUE(tls::find_suite(c)->tls13()) << tls::suite_name(c);
  }
  EXPECT_EQ(t13.compression, Buf{0});
  const ParsedHello& t12 = by_version[0x0303];
  EXPECT_EQ(t12.ext(43), nullptr);
  EXPECT_EQ(t12.suites.back(), 0x00FF);
  EXPECT_EQ(std::count(t12.suites.begin(), t12.suites.end(), 0x5600), 0);
  for (auto c : t12.suites) {
    if (c != 0x00FF) {
      EXPECT_FALSE(tls::find_suite(c)->tls13()) << tls::suite_name(c);
    }
  }
  EXPECT_EQ(t12.compression, (Buf{1, 0})) << "the version hellos also ask about DEFLATE (CRIME)";
  ASSERT_NE(t12.ext(0), nullptr);
  EXPECT_EQ(std::string(t12.ext(0)->begin() + 5, t12.ext(0)->end()), "pacs.example.org");
  EXPECT_EQ(*t12.ext(16), (Buf{0, 6, 5, 'd', 'i', 'c', 'o', 'm'}));
  EXPECT_NE(t12.ext(23), nullptr);
  EXPECT_EQ(t12.list16(13, 2), tls::default_sig_algs());
  const ParsedHello& s3 = by_version[0x0300];
  EXPECT_EQ(s3.record_version, 0x0300);
  EXPECT_FALSE(s3.extension_block);
  for (std::uint16_t v : {0x0301, 0x0302}) {
    EXPECT_EQ(by_version[v].record_version, 0x0301);
    EXPECT_TRUE(by_version[v].extension_block);
  }
  // Each hello has its own random.
  std::set<Buf> randoms;
  for (const auto& [v, h] : by_version) randoms.insert(h.random);
  EXPECT_EQ(randoms.size(), 5u);

  // Without a host name (an address target), no SNI at all.
  scan::TlsProbe q(endpoint(""), {.seed = 5});
  const Driven e = drive(q, [](const Buf&) { return Reply{alert(2, 40), {}}; });
  for (const Buf& raw : e.hellos) EXPECT_EQ(parse_hello(raw).ext(0), nullptr);
}

TEST(TlsProbe, NonTlsFirstAnswerIsNotTlsAndEndsAtOnce) {
  const std::vector<Buf> answers = {bytes("SSH-2.0-OpenSSH_9.6\r\n"),
                                    Buf{0x03, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x01, 0x01, 0x01},
                                    bytes("HTTP/1.0 400 Bad Request\r\n\r\n")};
  for (const Buf& a : answers) {
    scan::TlsProbe p(endpoint(), {.seed = 1});
    const Driven d = drive(p, [&](const Buf&) { return Reply{a, {}}; });
    ASSERT_TRUE(d.finished);
    EXPECT_LE(d.steps, 3) << "begin, connected, data: then finish";
    const scan::TlsResult& r = p.result();
    EXPECT_EQ(r.answer, "not-tls") << std::string(a.begin(), a.end());
    EXPECT_FALSE(r.tls);
    EXPECT_TRUE(r.tcp_open);
    EXPECT_EQ(r.handshakes, 1);
    EXPECT_TRUE(r.versions.empty());
    ASSERT_EQ(r.hellos.size(), 1u);
    EXPECT_EQ(r.hellos[0].outcome, "malformed");
    EXPECT_TRUE(scan::tls_record(r, {}).type.empty()) << "not TLS: no tls record";
  }
}

TEST(TlsProbe, RefusedFirstConnect) {
  scan::TlsProbe p(endpoint(), {.seed = 1});
  const Driven d = drive(p, [](const Buf&) -> Reply {
    ADD_FAILURE() << "nothing may be sent on a refused connection";
    return {};
  }, /*refuse=*/true);
  ASSERT_TRUE(d.finished);
  EXPECT_LE(d.steps, 2);
  EXPECT_EQ(p.result().answer, "refused");
  EXPECT_FALSE(p.result().tcp_open);
  EXPECT_FALSE(p.result().tls);
  EXPECT_EQ(p.result().handshakes, 1);
  EXPECT_TRUE(scan::tls_record(p.result(), {}).type.empty());
}

TEST(TlsProbe, BudgetStopsTheProbe) {
  // A server that accepts anything: the version asked for, the first suite offered.
  auto yes = [](const Buf& raw) -> Reply {
    const ParsedHello h = parse_hello(raw);
    if (!h.ok || h.suites.empty()) {
      ADD_FAILURE() << "bad ClientHello: " << h.error;
      return {alert(2, 50), {}};
    }
    if (h.offered() == 0x0304) {
      Buf ks = u16s({0x001D, 32});
      ks.insert(ks.end(), 32, 1);
      return {record(22, 0x0303, server_hello({.suite = h.suites[0], .extensions = {{43, u16s({0x0304})}, {51, ks}}})), {}};
    }
    Buf hs = server_hello({.version = h.version, .suite = h.suites[0]});
    append(hs, handshake(14, {}));
    return {record(22, h.version, hs), {}};
  };
  scan::TlsProbe p(endpoint(), {.budget = 8, .seed = 3});
  const Driven d = drive(p, yes);
  ASSERT_TRUE(d.finished) << "the probe did not finish within " << d.steps << " steps";
  const scan::TlsResult& r = p.result();
  EXPECT_TRUE(r.budget_exhausted);
  EXPECT_EQ(r.handshakes, 8);
  EXPECT_EQ(d.tcp_connects + d.tls_connects, 8);
  ASSERT_EQ(d.hellos.size(), 8u);
  EXPECT_EQ(r.versions.at(0x0303), true);
  // The suites accepted are the first ones offered, each one left out of the next hello.
  const ParsedHello first = parse_hello(d.hellos[0]);
  ASSERT_TRUE(r.suites.count(0x0303));
  const auto& got = r.suites.at(0x0303);
  ASSERT_GE(first.suites.size(), got.size());
  EXPECT_EQ(got, std::vector<std::uint16_t>(first.suites.begin(), first.suites.begin() + static_cast<std::ptrdiff_t>(got.size())));
  for (std::size_t i = 1; i < d.hellos.size(); ++i) {
    const ParsedHello h = parse_hello(d.hellos[i]);
    for (std::size_t j = 0; j < i && j < got.size(); ++j)
      EXPECT_EQ(std::count(h.suites.begin(), h.suites.end(), got[j]), 0) << "hello " << i << " offers an accepted suite again";
  }
  EXPECT_FALSE(r.suites_complete.count(0x0303) && r.suites_complete.at(0x0303));
  dg::Record rec = scan::tls_record(r, {});
  EXPECT_EQ(rec.fields["budget_exhausted"], true);
  EXPECT_EQ(rec.fields["handshakes"], 8);
  EXPECT_EQ(rec.fields["suites_complete"]["TLSv1.2"], false);
}

TEST(TlsProbe, PlausibleServerIsMeasuredAndGraded) {
  for (bool server_order : {false, true}) {
    SCOPED_TRACE(server_order ? "server order" : "client order");
    FakeServer srv;
    srv.suites[0x0303] = server_order ? std::vector<std::uint16_t>{0xC030, 0xC02F} : std::vector<std::uint16_t>{0xC02F, 0xC030};
    srv.suites[0x0304] = {0x1301, 0x1302};
    srv.server_order = server_order;
    srv.cert = self_signed_der();
    scan::TlsSession session;
    session.version = "TLSv1.3";
    session.cipher = "TLS_AES_128_GCM_SHA256";
    session.group = "x25519";
    session.alpn = "dicom";
    session.chain = {srv.cert};
    scan::TlsProbe p(endpoint(), {.associate = false, .seed = 9});
    const Driven d = drive(p, std::cref(srv), false, session);
    ASSERT_TRUE(d.finished) << "the probe did not finish within " << d.steps << " steps";
    const scan::TlsResult& r = p.result();
    EXPECT_EQ(r.versions, (std::map<std::uint16_t, bool>{{0x0300, false}, {0x0301, false}, {0x0302, false}, {0x0303, true}, {0x0304, true}}));
    ASSERT_TRUE(r.suites.count(0x0303) && r.suites.count(0x0304));
    EXPECT_EQ(std::set<std::uint16_t>(r.suites.at(0x0303).begin(), r.suites.at(0x0303).end()), (std::set<std::uint16_t>{0xC02F, 0xC030}));
    EXPECT_EQ(std::set<std::uint16_t>(r.suites.at(0x0304).begin(), r.suites.at(0x0304).end()), (std::set<std::uint16_t>{0x1301, 0x1302}));
    EXPECT_EQ(r.suites_complete, (std::map<std::uint16_t, bool>{{0x0303, true}, {0x0304, true}}));
    EXPECT_EQ(r.server_order.at(0x0303), std::optional<bool>(server_order));
    EXPECT_EQ(r.groups.at(0x0304), (std::vector<std::uint16_t>{0x001D, 0x0017}));
    EXPECT_EQ(r.groups.at(0x0303), (std::vector<std::uint16_t>{0x001D, 0x0017}));
    EXPECT_EQ(std::set<std::uint16_t>(r.sig_algs.begin(), r.sig_algs.end()), (std::set<std::uint16_t>{0x0804, 0x0401}));
    EXPECT_EQ(r.fallback_scsv, std::optional<bool>(true));
    EXPECT_EQ(r.secure_renegotiation, std::optional<bool>(true));
    EXPECT_EQ(r.extended_master_secret, std::optional<bool>(true));
    EXPECT_EQ(r.compression, std::optional<bool>(false));
    EXPECT_EQ(r.dhe_bits, 0);
    EXPECT_EQ(r.chain, std::vector<Buf>{srv.cert});
    EXPECT_EQ(r.chain_source, "openssl");
    ASSERT_EQ(r.full.size(), 2u);
    EXPECT_EQ(r.full[0].purpose, "no-certificate");
    EXPECT_TRUE(r.full[0].passed());
    EXPECT_EQ(r.full[1].purpose, "no-dicom-alpn");
    EXPECT_FALSE(r.budget_exhausted);
    EXPECT_EQ(r.handshakes, d.tcp_connects + d.tls_connects);
    EXPECT_EQ(r.handshakes, static_cast<int>(r.hellos.size() + r.full.size()));

    dg::Record rec = scan::tls_record(r, {});
    EXPECT_EQ(rec.type, "tls");
    EXPECT_EQ(rec.fields["profiles"]["B.12"]["verdict"], "pass") << rec.fields["profiles"]["B.12"].dump(1);
    EXPECT_EQ(rec.fields["profiles"]["B.13"]["verdict"], "fail");
    EXPECT_EQ(rec.status, "pass");
    EXPECT_EQ(rec.fields["certificate"]["source"], "openssl");
    EXPECT_EQ(rec.fields["client_auth"]["verdict"], "not-requested");
    EXPECT_TRUE(has_finding(rec, "tls.cert.self-signed"));
    EXPECT_TRUE(has_finding(rec, "tls.kex.x25519"));
    EXPECT_TRUE(has_finding(rec, "tls.client-auth.not-required"));
    EXPECT_FALSE(has_finding(rec, "tls.profile.none"));
    EXPECT_FALSE(has_finding(rec, "tls.fallback-scsv.missing"));
    EXPECT_FALSE(has_finding(rec, "tls.ems.missing"));
  }
}

TEST(TlsProbe, ServerIgnoringFallbackScsvAndWithoutEms) {
  FakeServer srv;
  srv.suites[0x0303] = {0xC02F};
  srv.suites[0x0304] = {0x1301};
  srv.fallback = false;
  srv.ems = false;
  // Full mode: the second highest version is offered again with TLS_FALLBACK_SCSV, and this server accepts it.
  scan::TlsProbe p(endpoint(), {.associate = false, .seed = 2});
  const Driven d = drive(p, std::cref(srv));
  ASSERT_TRUE(d.finished);
  const scan::TlsResult& r = p.result();
  EXPECT_EQ(r.fallback_scsv, std::optional<bool>(false)) << outcomes(r);
  EXPECT_EQ(r.extended_master_secret, std::optional<bool>(false));
  EXPECT_EQ(std::count_if(r.hellos.begin(), r.hellos.end(), [](const auto& h) { return h.purpose == "fallback"; }), 1);
  ASSERT_FALSE(r.full.empty());
  EXPECT_FALSE(r.full[0].handshake) << "the scripted server failed the OpenSSL handshake";
  dg::Record rec = scan::tls_record(r, {});
  EXPECT_TRUE(has_finding(rec, "tls.fallback-scsv.missing"));
  EXPECT_TRUE(has_finding(rec, "tls.ems.missing"));
  EXPECT_EQ(rec.fields["profiles"]["B.12"]["verdict"], "fail");

  // Quick mode skips the fallback test: not measured, and no finding either way.
  scan::TlsProbe q(endpoint(), {.full = false, .associate = false, .seed = 2});
  ASSERT_TRUE(drive(q, std::cref(srv)).finished);
  EXPECT_EQ(q.result().fallback_scsv, std::nullopt);
  EXPECT_EQ(std::count_if(q.result().hellos.begin(), q.result().hellos.end(), [](const auto& h) { return h.purpose == "fallback"; }), 0);
  EXPECT_EQ(q.result().extended_master_secret, std::optional<bool>(false));
  dg::Record quick = scan::tls_record(q.result(), {});
  EXPECT_FALSE(has_finding(quick, "tls.fallback-scsv.missing"));
  EXPECT_TRUE(has_finding(quick, "tls.ems.missing"));
}

// Found while writing these tests: every "version" answer overwrites secure_renegotiation and
// extended_master_secret, and the versions are tried TLS 1.2, 1.3, 1.1, 1.0, SSLv3. Our SSLv3 hello has no
// extensions at all, so an SSLv3 ServerHello can never carry extended_master_secret: a server that supports EMS
// on TLS 1.2 and also accepts SSLv3 is reported without EMS (tls.ems.missing, B.12/B.13 EMS clauses fail).
TEST(TlsProbe, ExtendedMasterSecretOfTls12IsNotOverwrittenBySslv3) {
  FakeServer srv;
  srv.suites[0x0300] = {0x000A};
  srv.suites[0x0303] = {0xC02F};
  scan::TlsProbe p(endpoint(), {.full = false, .associate = false, .seed = 2});
  const Driven d = drive(p, std::cref(srv));
  ASSERT_TRUE(d.finished);
  EXPECT_EQ(p.result().versions.at(0x0303), true);
  EXPECT_EQ(p.result().versions.at(0x0300), true);
  EXPECT_EQ(p.result().extended_master_secret, std::optional<bool>(true)) << "TLS 1.2 answered with extended_master_secret";
}

TEST(TlsProbe, FirstAnswerTimeoutOrResetAndLaterClose) {
  {
    scan::TlsProbe p(endpoint(), {.seed = 1});
    const Driven d = drive(p, [](const Buf&) { return Reply{{}, scan::Failure::timeout}; });
    ASSERT_TRUE(d.finished);
    EXPECT_EQ(p.result().answer, "timeout");
    EXPECT_EQ(p.result().handshakes, 1);
  }
  {
    // Closing on every hello: not TLS as far as we can tell, but every version is still tried once.
    scan::TlsProbe p(endpoint(), {.seed = 1});
    const Driven d = drive(p, [](const Buf&) { return Reply{{}, scan::Failure::closed}; });
    ASSERT_TRUE(d.finished);
    EXPECT_FALSE(p.result().tls);
    EXPECT_EQ(p.result().answer, "closed");
    EXPECT_EQ(p.result().handshakes, 5);
  }
  {
    // A ServerHello and Certificate, then the connection closes before ServerHelloDone: still an answer.
    FakeServer srv;
    srv.suites[0x0303] = {0xC02F};
    srv.cert = Buf(50, 0x30);
    scan::TlsProbe p(endpoint(), {.full = false, .associate = false, .seed = 1});
    const Driven d = drive(p, [&](const Buf& raw) {
      Reply r = srv(raw);
      if (r.bytes.size() > 20 && r.bytes[0] == 22) r.bytes.resize(r.bytes.size() - 4);  // drop ServerHelloDone
      if (r.bytes.size() > 20 && r.bytes[0] == 22) {
        const std::size_t len = r.bytes.size() - 5;
        r.bytes[3] = static_cast<std::uint8_t>(len >> 8);
        r.bytes[4] = static_cast<std::uint8_t>(len);
      }
      return r;
    });
    ASSERT_TRUE(d.finished);
    EXPECT_EQ(p.result().versions.at(0x0303), true);
    EXPECT_EQ(p.result().chain, std::vector<Buf>{Buf(50, 0x30)});
    EXPECT_EQ(p.result().chain_source, "hello");
  }
}

// A single-process server (DCMTK's storescp) now and then stalls for its socket timeout after an aborted
// handshake: the next client's handshake meets silence. The full handshakes give ALPN, client authentication and
// DICOM; a stall must neither lose those measurements silently nor turn into a refusal.
TEST(TlsProbe, FullHandshakeThatTimesOutIsAskedOnceMore) {
  FakeServer srv;
  srv.suites[0x0303] = {0xC02F};
  srv.suites[0x0304] = {0x1301};
  srv.cert = self_signed_der();
  scan::TlsSession session;
  session.version = "TLSv1.3";
  session.cipher = "TLS_AES_128_GCM_SHA256";
  session.group = "x25519";
  session.alpn = "";  // the server selects no ALPN protocol
  session.chain = {srv.cert};
  scan::TlsProbe p(endpoint(), {.associate = false, .seed = 4});
  // The first full handshake (no certificate, ALPN "dicom") meets a stalled server; the second is answered.
  const Driven d = drive(p, std::cref(srv), false, session, 10000, [](int n) { return n == 1; });
  ASSERT_TRUE(d.finished);
  const scan::TlsResult& r = p.result();
  EXPECT_EQ(r.retries, 1) << outcomes(r);
  EXPECT_EQ(d.tls_connects, 3) << "no-certificate twice, then no-dicom-alpn";
  EXPECT_EQ(r.handshakes, d.tcp_connects + d.tls_connects);
  ASSERT_EQ(r.full.size(), 2u) << "the timed-out attempt is replaced by its retry, not recorded";
  EXPECT_EQ(r.full[0].purpose, "no-certificate");
  EXPECT_TRUE(r.full[0].handshake);
  EXPECT_FALSE(r.full[0].timed_out);
  EXPECT_EQ(r.full[0].retries, 1);
  EXPECT_EQ(r.full[1].purpose, "no-dicom-alpn");
  dg::Record rec = scan::tls_record(r, {});
  EXPECT_EQ(rec.fields["alpn"]["dicom_selected"], false);
  EXPECT_EQ(rec.fields["alpn"]["via"], "no-certificate");
  EXPECT_FALSE(rec.fields["alpn"].contains("not_measured"));
  EXPECT_EQ(rec.fields["client_auth"]["verdict"], "not-requested") << "not any-certificate: a stall is no refusal";
  EXPECT_EQ(rec.fields["handshake"]["retries"], 1);
  EXPECT_EQ(rec.fields["retries"], 1);
}

TEST(TlsProbe, FullHandshakesThatTimeOutTwiceAreNotMeasuredAndNoRefusal) {
  FakeServer srv;
  srv.suites[0x0303] = {0xC02F};
  srv.suites[0x0304] = {0x1301};
  srv.cert = self_signed_der();
  scan::TlsSession session;
  session.version = "TLSv1.3";
  session.alpn = "";
  session.chain = {srv.cert};
  // Every full handshake meets silence, an association is to be tried inside: each is asked twice, then says why.
  scan::TlsProbe p(endpoint(), {.seed = 4});
  const Driven d = drive(p, std::cref(srv), false, session, 10000, [](int) { return true; });
  ASSERT_TRUE(d.finished);
  const scan::TlsResult& r = p.result();
  EXPECT_EQ(d.tls_connects, 6) << "no-certificate, untrusted-certificate, no-dicom-alpn: twice each";
  EXPECT_EQ(r.retries, 3);
  EXPECT_EQ(r.handshakes, d.tcp_connects + d.tls_connects);
  ASSERT_EQ(r.full.size(), 3u);
  for (const auto& f : r.full) {
    EXPECT_TRUE(f.timed_out) << f.purpose;
    EXPECT_EQ(f.retries, 1) << f.purpose;
    EXPECT_FALSE(f.handshake) << f.purpose;
  }
  dg::Record rec = scan::tls_record(r, {});
  EXPECT_TRUE(rec.fields["alpn"]["dicom_selected"].is_null());
  const std::string why = rec.fields["alpn"].value("not_measured", "");
  EXPECT_NE(why.find("no-certificate: no answer within the timeout, asked twice"), std::string::npos) << why;
  EXPECT_EQ(rec.fields["alpn"]["without_dicom"], "not-measured") << "a timeout is not a refusal of http/1.1";
  EXPECT_EQ(rec.fields["client_auth"]["verdict"], "not-measured");
  EXPECT_EQ(rec.fields["dicom"]["association"], "not-measured");
  EXPECT_TRUE(rec.fields["dicom"].contains("not_measured"));
  EXPECT_EQ(rec.fields["handshake"]["timed_out"], true);
  EXPECT_FALSE(has_finding(rec, "tls.alpn.dicom-missing"));
  EXPECT_FALSE(has_finding(rec, "tls.dicom.absent")) << "no DICOM answer was ever possible: not measured";
  EXPECT_FALSE(has_finding(rec, "tls.client-auth.not-required"));
  const auto lines = dg::text_notes(rec);
  EXPECT_TRUE(std::any_of(lines.begin(), lines.end(),
                          [](const std::string& l) { return l.rfind("alpn not measured: ", 0) == 0; }));
}

TEST(TlsProbe, AlpnComesFromAnotherDicomHandshakeWhenTheFirstGotNoAnswer) {
  FakeServer srv;
  srv.suites[0x0303] = {0xC02F};
  srv.cert = self_signed_der();
  scan::TlsSession session;
  session.version = "TLSv1.2";
  session.alpn = "";
  session.chain = {srv.cert};
  // The handshake without a certificate times out twice; the one with the untrusted certificate (also ALPN
  // "dicom") completes and shows the server's ALPN choice.
  scan::TlsProbe p(endpoint(), {.associate = false, .seed = 4});
  const Driven d = drive(p, std::cref(srv), false, session, 10000, [](int n) { return n <= 2; });
  ASSERT_TRUE(d.finished);
  dg::Record rec = scan::tls_record(p.result(), {});
  EXPECT_EQ(rec.fields["alpn"]["dicom_selected"], false);
  EXPECT_EQ(rec.fields["alpn"]["via"], "untrusted-certificate");
  EXPECT_EQ(rec.fields["client_auth"]["verdict"], "any-certificate");
}

TEST(TlsGrade, B13AllSuitesClauseExpectsOnlyTheSuitesOfTheCertificatesKeyType) {
  // A server with one ECDSA certificate accepts every ECDSA suite B.13 lists: ECDHE_RSA is not expected of it.
  tls::Facts f = b12_server();
  tls::CertInfo ec;
  ec.parsed = true;
  ec.key_type = "EC";
  ec.key_bits = 256;
  ec.sig_hash = "SHA-256";
  ec.sig_hash_bits = 128;
  ec.signature = "ecdsa-with-SHA256";
  f.chain = {ec};
  f.suites["TLSv1.2"] = {"TLS_ECDHE_ECDSA_WITH_AES_128_CCM", "TLS_ECDHE_ECDSA_WITH_AES_256_CCM",
                         "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8", "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8",
                         "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
                         "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"};
  const auto graded = tls::grade(f);  // clause() returns a reference into it
  const auto& c = clause(profile(graded, "B.13"), "B.13.tls12-suites");
  EXPECT_EQ(c.verdict, "pass");
  EXPECT_NE(c.detail.find("3 for the other key type"), std::string::npos) << c.detail;
  // One ECDSA suite missing still fails it.
  f.suites["TLSv1.2"].pop_back();
  EXPECT_EQ(clause(profile(tls::grade(f), "B.13"), "B.13.tls12-suites").verdict, "fail");
  // And an RSA server still has to accept the RSA ones.
  f = b12_server();
  EXPECT_EQ(clause(profile(tls::grade(f), "B.13"), "B.13.tls12-suites").verdict, "fail");
}

// gmt_unix_time (RFC 5246 7.4.1.2): a TLS 1.2 ServerHello whose random starts with our time is a clock
// observation; one with random bytes there (modern servers, and this file's other scripted servers) is not.
TEST(TlsProbe, GmtUnixTimeIsAClockObservationOnlyWhenItIsATime) {
  for (const bool timed : {true, false}) {
    const auto now = static_cast<std::uint32_t>(std::time(nullptr)) - 120;  // the server is 2 minutes slow
    scan::TlsProbe p(endpoint(), {.full = false, .seed = 2});
    const Driven d = drive(p, [&](const Buf& hello) {
      if (parse_hello(hello).offered() != 0x0303) return Reply{alert(2, 70), {}};
      Buf sh = server_hello({});
      if (timed)
        for (int i = 0; i < 4; ++i) sh[4 + 2 + i] = static_cast<std::uint8_t>(now >> (24 - 8 * i));
      Buf flight = record(22, 0x0303, sh);
      append(flight, record(22, 0x0303, handshake(14, {})));
      return Reply{flight, {}};
    });
    ASSERT_TRUE(d.finished);
    const auto clock = p.facts().clock;
    if (!timed) {
      EXPECT_TRUE(clock.empty());
      continue;
    }
    ASSERT_EQ(clock.size(), 1u);
    EXPECT_EQ(clock[0].source, "tls-gmt-unix-time");
    EXPECT_EQ(clock[0].target, endpoint().str());
    EXPECT_NEAR(clock[0].offset, -120, 2.0);
    EXPECT_EQ(clock[0].resolution, 1.0);
  }
}
