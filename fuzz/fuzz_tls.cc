// libFuzzer target for the TLS side of the scan: the input is what a hostile TLS server sends.
//  (a) ServerFlight fed in chunks whose sizes come from the input's first bytes; the result must be the same as
//      one feed of the whole input, and bytes after a verdict must change nothing.
//  (b) The TLS probe driven with the input as the server's answer to every ClientHello (or as one stream for the
//      whole probe), cut into reads with connection failures in between, full handshakes with made-up sessions;
//      then the tls record (facts, grading, certificates, findings) built from its result.
// Input: [flags] [budget] [1-8 chunk sizes] [server bytes]
//   flags bit 0 full mode, 1 association inside TLS, 2 configured client certificate, 3 every hello's answer starts
//   at the beginning of the server bytes (else one stream), 4 the target has a host name; bits 5-7 number of
//   chunk sizes - 1. A chunk size byte c: 0x00-0xDF read c+1 bytes, 0xE0-0xEF read 4096 (the engine's buffer),
//   0xF0-0xFF a connection failure instead.
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <span>
#include <string>
#include <vector>

#include "scan/targets.h"
#include "scan/tls_probe.h"
#include "scan/tls_service.h"
#include "tls/cert.h"
#include "tls/self_signed.h"
#include "tls/server_flight.h"
#include "support/probe_driver.h"

using namespace dg;

namespace {

// A one-certificate trust store for verify_chain, so that it never loads the system store on every input.
std::string g_ca_file;
struct RemoveCaFile {
  ~RemoveCaFile() {
    if (!g_ca_file.empty()) ::unlink(g_ca_file.c_str());
  }
} g_remove_ca_file;

void make_ca_file() {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) return;
  tls::use_self_signed(ctx, "fuzz-tls-ca.invalid", tls::KeyType::ec_p256);
  char path[] = "/tmp/fuzz_tls_ca_XXXXXX";
  const int fd = ::mkstemp(path);
  if (fd >= 0) {
    if (FILE* f = ::fdopen(fd, "w")) {
      PEM_write_X509(f, SSL_CTX_get0_certificate(ctx));
      std::fclose(f);
      g_ca_file = path;
    } else {
      ::close(fd);
    }
  }
  SSL_CTX_free(ctx);
}

bool same_flight(const tls::ServerFlight& a, const tls::ServerFlight& b) {
  if (a.state() != b.state() || a.alert_level() != b.alert_level() || a.alert_description() != b.alert_description() ||
      a.certificate_request() != b.certificate_request() || a.certificates() != b.certificates() ||
      a.hello().has_value() != b.hello().has_value() || a.key_exchange().has_value() != b.key_exchange().has_value())
    return false;
  if (a.hello()) {
    const tls::ServerHello &x = *a.hello(), &y = *b.hello();
    if (x.legacy_version != y.legacy_version || x.version != y.version || x.suite != y.suite ||
        x.compression != y.compression || x.hrr != y.hrr || x.extensions != y.extensions ||
        x.reneg_info != y.reneg_info || x.ems != y.ems || x.key_share_group != y.key_share_group || x.alpn != y.alpn)
      return false;
  }
  if (a.key_exchange()) {
    const tls::KeyExchange &x = *a.key_exchange(), &y = *b.key_exchange();
    if (x.kind != y.kind || x.group != y.group || x.dh_bits != y.dh_bits || x.sig_scheme != y.sig_scheme) return false;
  }
  return true;
}

void read_certificates(const std::vector<std::vector<std::uint8_t>>& certs, std::time_t now) {
  for (const auto& der : certs) {
    const tls::CertInfo c = tls::parse_certificate(der, now);
    if (!c.parsed && !c.subject.empty()) __builtin_trap();
    (void)tls::certificate_matches(der, "pacs.example.org");
    (void)tls::certificate_matches(der, "192.0.2.1");
  }
}

struct Schedule {
  const std::uint8_t* sizes;
  std::size_t n;
  std::size_t k = 0;
  std::uint8_t next() { return sizes[k++ % n]; }
};

const char* const kGroups[] = {"x25519", "prime256v1", "P-384", "secp521r1", "ffdhe2048", "X448", "", "brainpoolP256r1"};
const char* const kVersions[] = {"TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1"};
const char* const kAlpn[] = {"dicom", "", "http/1.1", "dicom"};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  make_ca_file();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const std::uint8_t flags = data[0];
  const std::size_t nsizes = 1 + (flags >> 5);
  if (size < 2 + nsizes) return 0;
  const std::span<const std::uint8_t> body(data + 2 + nsizes, size - 2 - nsizes);
  const std::time_t now = 1700000000;

  // (a) One feed against chunked feeds.
  tls::ServerFlight whole;
  whole.feed(body);
  tls::ServerFlight chunked;
  Schedule cut{data + 2, nsizes};
  for (std::size_t p = 0; p < body.size() && chunked.state() == tls::ServerFlight::State::need_more;) {
    const std::uint8_t c = cut.next();
    const std::size_t n = std::min<std::size_t>(c < 0xE0 ? c + 1u : 4096u, body.size() - p);
    chunked.feed(body.subspan(p, n));
    p += n;
  }
  if (body.size() <= tls::ServerFlight::kMaxBuffered && !same_flight(whole, chunked)) __builtin_trap();
  if (chunked.state() != tls::ServerFlight::State::need_more) {
    const auto st = chunked.state();
    if (chunked.feed(body) != st || !same_flight(whole, chunked)) __builtin_trap();  // ignored after a verdict
  }
  if (whole.state() == tls::ServerFlight::State::malformed && whole.error().empty()) __builtin_trap();
  if (whole.certificates().size() > 16) __builtin_trap();
  (void)tls::alert_name(whole.alert_description());
  read_certificates(whole.certificates(), now);

  // (b) The probe.
  scan::TlsOptions o;
  o.full = flags & 1;
  o.associate = flags & 2;
  o.trusted_cert = flags & 4;
  const bool restart = flags & 8;
  o.budget = 1 + data[1] % 48;
  o.seed = 1;
  o.called_aes = {"ANY-SCP"};
  scan::Endpoint ep{*scan::parse_addr("192.0.2.1"), 2762, (flags & 16) ? "pacs.example.org" : ""};
  scan::TlsProbe p(ep, o);
  Schedule sch{data + 2, nsizes};
  std::size_t pos = 0;
  dgtest::Peer peer;
  peer.connect = [&](const scan::Step& s) {
    const std::uint8_t c = sch.next();
    if (c >= 0xF0) return dgtest::Answer::fail(static_cast<scan::Failure>(c % 7), "fuzz: connect failed");
    if (!s.tls) return dgtest::Answer::connected();
    // A full handshake: what OpenSSL would have shown, made up from the input.
    scan::TlsSession ts;
    ts.version = kVersions[c & 3];
    ts.cipher = (c & 4) ? "TLS_AES_128_GCM_SHA256" : "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256";
    ts.group = kGroups[(c >> 3) & 7];
    ts.alpn = kAlpn[(c >> 1) & 3];
    ts.cert_requested = c & 0x40;
    ts.cert_sent = c & 0x80;
    if (!whole.certificates().empty()) ts.chain = whole.certificates();
    else if (c & 0x20) ts.chain = {std::vector<std::uint8_t>(body.begin(), body.begin() + std::min<std::size_t>(body.size(), 2048))};
    return dgtest::Answer::tls(ts);
  };
  peer.receive = [&]() {
    if (pos >= body.size())
      return dgtest::Answer::fail(restart ? scan::Failure::closed : scan::Failure::timeout, "fuzz: end of input");
    const std::uint8_t c = sch.next();
    if (c >= 0xF0) return dgtest::Answer::fail(static_cast<scan::Failure>(c % 7), "fuzz: connection failed");
    const std::size_t n = std::min<std::size_t>(c < 0xE0 ? c + 1u : 4096u, body.size() - pos);
    auto a = dgtest::Answer::data({body.begin() + pos, body.begin() + pos + n});
    pos += n;
    return a;
  };
  peer.send = [&](const std::vector<std::uint8_t>&) {
    if (restart) pos = 0;  // every request gets the server's bytes from the start
    return peer.receive();
  };
  const bool finished = dgtest::drive(p, peer).finished;
  // As one stream, every step either consumes input or ends a connection of the budget: the probe must finish.
  if (!restart && !finished) __builtin_trap();

  const scan::TlsResult& r = p.result();
  if (r.handshakes > o.budget) __builtin_trap();
  if (r.budget_exhausted && r.handshakes != o.budget) __builtin_trap();
  if (r.hellos.size() > 1000) __builtin_trap();
  for (const auto& h : r.hellos) {
    if (h.certificates.size() > 16) __builtin_trap();
    read_certificates(h.certificates, now);
  }
  read_certificates(r.chain, now);

  const Record rec = scan::tls_record(r, {g_ca_file});
  if (!r.tls && !rec.type.empty()) __builtin_trap();
  // What the sinks do with it: JSON with replacement of bad UTF-8, and the text sink's --verbose evidence.
  (void)rec.fields.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  for (const auto& f : rec.findings) (void)f.evidence.dump();
  return 0;
}
