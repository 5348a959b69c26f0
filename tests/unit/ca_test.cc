// dicomguard ca: init, issue, renew, list; file modes; the extensions of what is issued; the chain against the
// root with X509_verify_cert; tls's own certificate checks (tls::assess, B.12/B.13 clauses) on every certificate;
// refusals.
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "ca/ca.h"
#include "tls/cert.h"
#include "tls/measurement.h"
#include "tls/verdict.h"
#include "util/durable_write.h"

namespace {

namespace fs = std::filesystem;
using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;

struct TmpDir {
  std::string path;
  TmpDir() {
    char t[] = "/tmp/dg-ca-test-XXXXXX";
    path = ::mkdtemp(t);
  }
  ~TmpDir() { fs::remove_all(path); }
};

std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

mode_t mode_of(const std::string& p) {
  struct stat st{};
  ::stat(p.c_str(), &st);
  return st.st_mode & 07777;
}

std::vector<X509Ptr> load_pems(const std::string& path) {
  std::vector<X509Ptr> out;
  const std::string text = slurp(path);
  BIO* b = BIO_new_mem_buf(text.data(), static_cast<int>(text.size()));
  while (X509* x = PEM_read_bio_X509(b, nullptr, nullptr, nullptr)) out.emplace_back(x, X509_free);
  BIO_free(b);
  return out;
}

std::vector<std::uint8_t> der(X509* x) {
  unsigned char* p = nullptr;
  const int n = i2d_X509(x, &p);
  std::vector<std::uint8_t> v(p, p + n);
  OPENSSL_free(p);
  return v;
}

std::vector<std::string> san_uris(X509* x) {
  std::vector<std::string> out;
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* g = sk_GENERAL_NAME_value(names, i);
    if (g->type == GEN_URI)
      out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(g->d.uniformResourceIdentifier)),
                       static_cast<std::size_t>(ASN1_STRING_length(g->d.uniformResourceIdentifier)));
  }
  GENERAL_NAMES_free(names);
  return out;
}

// X509_verify_cert of the leaf against the root alone, for a purpose.
bool verifies(X509* leaf, X509* root, int purpose) {
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, root);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf, nullptr);
  X509_STORE_CTX_set_purpose(ctx, purpose);
  const bool ok = X509_verify_cert(ctx) == 1;
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return ok;
}

// What `dicomguard tls` would find on a server presenting this chain: tls::assess on a measurement holding it.
std::vector<std::string> tls_cert_findings(const std::vector<std::vector<std::uint8_t>>& chain, const std::string& ca,
                                           const std::string& host, const dg::tls::Verdicts** keep = nullptr) {
  static dg::tls::Verdicts v;
  dg::tls::Measurement m;
  m.tls = true;
  m.chain = chain;
  dg::tls::AssessOptions o;
  o.target = host + ":2762";
  o.name = host;
  o.ca_file = ca;
  v = dg::tls::assess(m, o);
  if (keep) *keep = &v;
  std::vector<std::string> ids;
  for (const auto& f : v.findings)
    if (f.check.rfind("tls.cert.", 0) == 0) ids.push_back(f.check);
  return ids;
}

std::string init_ca(const std::string& dir, dg::ca::KeyKind k = dg::ca::KeyKind::ec) {
  dg::ca::InitOptions o;
  o.dir = dir;
  o.key = k;
  o.name = "unit test";
  dg::ca::InitResult r;
  return dg::ca::init(o, r);
}

dg::ca::IssueOptions leaf(const std::string& dir, std::string name = "pacs.example.org", std::string ae = "PACS1") {
  dg::ca::IssueOptions o;
  o.dir = dir;
  o.names = {name, "pacs"};
  o.ips = {"127.0.0.1", "::1"};
  o.ae = ae;
  return o;
}

void check_issued(const std::string& dir, const dg::ca::Entry& e, bool rsa) {
  SCOPED_TRACE(e.name + (rsa ? " (RSA)" : " (EC)"));
  EXPECT_EQ(mode_of(dir + "/" + e.key_file), 0600u);
  EXPECT_EQ(mode_of(dir + "/" + e.cert), 0644u);
  auto roots = load_pems(dir + "/ca.crt");
  auto leaves = load_pems(dir + "/" + e.cert);
  auto chain = load_pems(dir + "/" + e.chain);
  ASSERT_EQ(roots.size(), 1u);
  ASSERT_EQ(leaves.size(), 1u);
  ASSERT_EQ(chain.size(), 2u);
  X509* root = roots[0].get();
  X509* x = leaves[0].get();
  EXPECT_EQ(X509_cmp(chain[0].get(), x), 0);
  EXPECT_EQ(X509_cmp(chain[1].get(), root), 0);
  // Not a CA; both EKUs; key usage.
  EXPECT_EQ(X509_check_ca(x), 0);
  ASSERT_TRUE(X509_get_extension_flags(x) & EXFLAG_XKUSAGE);
  EXPECT_TRUE(X509_get_extended_key_usage(x) & XKU_SSL_SERVER);
  EXPECT_TRUE(X509_get_extended_key_usage(x) & XKU_SSL_CLIENT);
  const uint32_t ku = X509_get_key_usage(x);
  EXPECT_TRUE(ku & KU_DIGITAL_SIGNATURE);
  EXPECT_EQ(static_cast<bool>(ku & KU_KEY_ENCIPHERMENT), rsa);
  EXPECT_FALSE(ku & KU_KEY_CERT_SIGN);
  ASSERT_NE(X509_get0_subject_key_id(x), nullptr);
  ASSERT_NE(X509_get0_authority_key_id(x), nullptr);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(x), X509_get0_subject_key_id(root)), 0);
  // Names.
  const auto info = dg::tls::parse_certificate(der(x), std::time(nullptr));
  EXPECT_EQ(info.san_dns, e.dns);
  EXPECT_EQ(info.san_ip, (std::vector<std::string>{"127.0.0.1", "0:0:0:0:0:0:0:1"}));
  EXPECT_EQ(san_uris(x), std::vector<std::string>{"urn:dicom:ae:" + e.ae});
  EXPECT_NE(info.subject.find("OU=" + e.ae), std::string::npos) << info.subject;
  EXPECT_NE(info.subject.find("CN=" + e.name), std::string::npos) << info.subject;
  EXPECT_FALSE(info.self_signed);
  EXPECT_FALSE(info.ca);
  EXPECT_EQ(info.sig_hash, "SHA-256");
  EXPECT_EQ(info.key_type, rsa ? "RSA" : "EC");
  EXPECT_EQ(info.key_bits, rsa ? 3072 : 256);
  EXPECT_GE(info.days_left, 89);  // 90 days from now, less the seconds already gone
  EXPECT_LE(info.days_left, 90);
  EXPECT_FALSE(info.expired);
  EXPECT_FALSE(info.not_yet_valid);  // backdated a minute
  // 128-bit serial (16 octets, positive).
  EXPECT_EQ(e.serial.size(), 32u);
  // The chain verifies against the root alone, as a server and as a client.
  EXPECT_TRUE(verifies(x, root, X509_PURPOSE_SSL_SERVER));
  EXPECT_TRUE(verifies(x, root, X509_PURPOSE_SSL_CLIENT));
  // dicomguard tls's certificate checks: no tls.cert.* finding with the root as trust anchor, only
  // tls.cert.untrusted without it; the B.12/B.13 key and signature clauses pass.
  const dg::tls::Verdicts* v = nullptr;
  EXPECT_EQ(tls_cert_findings({der(x), der(root)}, dir + "/ca.crt", e.name, &v), std::vector<std::string>{});
  ASSERT_TRUE(v->cert.name_match.has_value());
  EXPECT_TRUE(*v->cert.name_match);
  EXPECT_TRUE(v->cert.trusted.value_or(false)) << v->cert.trust_error;
  for (const auto* p : {v->b12, v->b13}) {
    ASSERT_NE(p, nullptr);
    int seen = 0;
    for (const auto& c : p->clauses)
      if (c.rule_kind == "cert_sig_hash_min" ||
          (c.rule_kind == "min_key_bits" && (c.id.find("rsa-key") != std::string::npos ||
                                             c.id.find("ecdsa-key") != std::string::npos))) {
        ++seen;
        EXPECT_EQ(c.verdict, "pass") << c.id << ": " << c.detail;
      }
    EXPECT_GE(seen, 2) << p->id;
  }
  EXPECT_TRUE(tls_cert_findings({der(x), der(root)}, dir + "/ca.crt", "127.0.0.1").empty());
  EXPECT_EQ(dg::ca::tls_problems(der(x), der(root), dir + "/ca.crt", e.name), std::vector<std::string>{});
  // Without the root as anchor (the system store): untrusted, and nothing else.
  EXPECT_EQ(tls_cert_findings({der(x), der(root)}, "", e.name), std::vector<std::string>{"tls.cert.untrusted"});
}

TEST(Ca, InitMakesARootAndRefusesToOverwriteIt) {
  TmpDir t;
  const std::string dir = t.path + "/ca";
  ASSERT_EQ(init_ca(dir), "");
  EXPECT_EQ(mode_of(dir), 0700u);
  EXPECT_EQ(mode_of(dir + "/ca.key"), 0600u);
  EXPECT_EQ(mode_of(dir + "/ca.crt"), 0644u);
  auto roots = load_pems(dir + "/ca.crt");
  ASSERT_EQ(roots.size(), 1u);
  X509* r = roots[0].get();
  EXPECT_EQ(X509_check_ca(r), 1);
  EXPECT_EQ(X509_get_pathlen(r), 0);
  EXPECT_EQ(X509_get_key_usage(r), static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  const auto info = dg::tls::parse_certificate(der(r), std::time(nullptr));
  EXPECT_TRUE(info.self_signed);
  EXPECT_EQ(info.key_type, "EC");
  EXPECT_EQ(info.curve, "prime256v1");
  EXPECT_EQ(info.sig_hash, "SHA-256");
  EXPECT_NE(info.subject.find("CN=dicomguard private CA unit test"), std::string::npos) << info.subject;
  EXPECT_GE(info.days_left, 3649);
  const std::string before = slurp(dir + "/ca.key");
  const std::string e = init_ca(dir);
  EXPECT_NE(e.find("already holds a CA"), std::string::npos) << e;
  EXPECT_EQ(slurp(dir + "/ca.key"), before);
}

TEST(Ca, RsaRoot) {
  TmpDir t;
  ASSERT_EQ(init_ca(t.path + "/ca", dg::ca::KeyKind::rsa), "");
  auto roots = load_pems(t.path + "/ca/ca.crt");
  const auto info = dg::tls::parse_certificate(der(roots[0].get()), std::time(nullptr));
  EXPECT_EQ(info.key_type, "RSA");
  EXPECT_EQ(info.key_bits, 3072);
  EXPECT_EQ(info.sig_hash, "SHA-256");
  dg::ca::IssueOptions o = leaf(t.path + "/ca");
  dg::ca::Entry e;
  ASSERT_EQ(dg::ca::issue(o, e), "");
  check_issued(t.path + "/ca", e, false);
}

TEST(Ca, IssueEcAndRsaLeavesPassTlsChecks) {
  TmpDir t;
  const std::string dir = t.path + "/ca";
  ASSERT_EQ(init_ca(dir), "");
  dg::ca::Entry ec, rsa;
  ASSERT_EQ(dg::ca::issue(leaf(dir), ec), "");
  check_issued(dir, ec, false);
  auto o = leaf(dir, "ct.example.org", "CT_SCANNER");
  o.key = dg::ca::KeyKind::rsa;
  ASSERT_EQ(dg::ca::issue(o, rsa), "");
  check_issued(dir, rsa, true);
  EXPECT_NE(ec.serial, rsa.serial);
  std::vector<dg::ca::Entry> all;
  ASSERT_EQ(dg::ca::list(dir, all), "");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].serial, ec.serial);
  EXPECT_EQ(all[1].ae, "CT_SCANNER");
  EXPECT_EQ(all[1].key, "RSA 3072");
  const auto j = dg::ca::certificate_json(all[0], std::time(nullptr));
  EXPECT_EQ(j["type"], "certificate");
  EXPECT_GE(j["days_left"].get<int>(), 89);
  EXPECT_LE(j["days_left"].get<int>(), 90);
  EXPECT_EQ(j["ae"], "PACS1");
  // The same name again is refused: renew replaces it.
  dg::ca::Entry again;
  const std::string err = dg::ca::issue(leaf(dir), again);
  EXPECT_NE(err.find("issued already"), std::string::npos) << err;
}

TEST(Ca, AeTitleWithSpacesIsPercentEncodedInTheUri) {
  EXPECT_EQ(dg::ca::ae_uri("MY PACS"), "urn:dicom:ae:MY%20PACS");
  EXPECT_EQ(dg::ca::ae_uri("A+B/C"), "urn:dicom:ae:A%2BB%2FC");
  TmpDir t;
  ASSERT_EQ(init_ca(t.path + "/ca"), "");
  dg::ca::Entry e;
  ASSERT_EQ(dg::ca::issue(leaf(t.path + "/ca", "ws1", "MY PACS"), e), "");
  auto leaves = load_pems(t.path + "/ca/" + e.cert);
  EXPECT_EQ(san_uris(leaves[0].get()), std::vector<std::string>{"urn:dicom:ae:MY%20PACS"});
}

TEST(Ca, AnIssueInterruptedBeforeTheIndexIsDoneAgain) {
  TmpDir t;
  const std::string dir = t.path + "/ca";
  ASSERT_EQ(init_ca(dir), "");
  dg::ca::Entry first;
  ASSERT_EQ(dg::ca::issue(leaf(dir), first), "");
  // As if killed after the node's files and before index.json: the files are there, the index does not know them.
  std::vector<dg::ca::Entry> none;
  {
    std::ofstream idx(dir + "/index.json", std::ios::trunc);
    idx << "{\"certificates\": []}\n";
  }
  ASSERT_EQ(dg::ca::list(dir, none), "");
  ASSERT_TRUE(none.empty());
  dg::ca::Entry again;
  ASSERT_EQ(dg::ca::issue(leaf(dir), again), "");
  EXPECT_NE(again.serial, first.serial);
  check_issued(dir, again, false);
  std::vector<dg::ca::Entry> all;
  ASSERT_EQ(dg::ca::list(dir, all), "");
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].serial, again.serial);
}

TEST(Ca, RenewReissuesWhatExpiresSoon) {
  TmpDir t;
  const std::string dir = t.path + "/ca";
  ASSERT_EQ(init_ca(dir), "");
  auto o = leaf(dir, "short.example.org", "SHORT");
  o.days = 10;
  dg::ca::Entry s, l;
  ASSERT_EQ(dg::ca::issue(o, s), "");
  ASSERT_EQ(dg::ca::issue(leaf(dir, "long.example.org", "LONG"), l), "");
  const std::string old_key = slurp(dir + "/" + s.key_file);
  std::vector<dg::ca::Renewed> done;
  ASSERT_EQ(dg::ca::renew(dir, 30, "", 90, done), "");
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].old_entry.serial, s.serial);
  EXPECT_NE(done[0].new_entry.serial, s.serial);
  EXPECT_EQ(done[0].new_entry.dns, s.dns);
  EXPECT_EQ(done[0].new_entry.ip, s.ip);
  EXPECT_EQ(done[0].new_entry.ae, "SHORT");
  EXPECT_EQ(done[0].new_entry.replaces, s.serial);
  EXPECT_NE(slurp(dir + "/" + s.key_file), old_key);  // a new key
  check_issued(dir, done[0].new_entry, false);
  // The replaced files were kept.
  EXPECT_TRUE(fs::exists(dir + "/retired/short.example.org.crt"));
  EXPECT_EQ(slurp(dir + "/retired/short.example.org.key"), old_key);
  EXPECT_EQ(mode_of(dir + "/retired/short.example.org.key"), 0600u);
  std::vector<dg::ca::Entry> all;
  ASSERT_EQ(dg::ca::list(dir, all), "");
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].status, "superseded");
  EXPECT_EQ(all[1].status, "current");
  EXPECT_EQ(all[2].status, "current");
  // Nothing left to renew within 30 days; --name with a long window renews just that one.
  ASSERT_EQ(dg::ca::renew(dir, 30, "", 90, done), "");
  EXPECT_TRUE(done.empty());
  ASSERT_EQ(dg::ca::renew(dir, 100, "long.example.org", 90, done), "");
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].new_entry.ae, "LONG");
  EXPECT_NE(dg::ca::renew(dir, 100, "nosuch", 90, done), "");
}

TEST(Ca, ConcurrentIssuesAllReachTheIndex) {
  TmpDir t;
  const std::string dir = t.path + "/ca";
  ASSERT_EQ(init_ca(dir), "");
  std::vector<std::thread> threads;
  std::vector<std::string> errors(4);
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&, i] {
      dg::ca::Entry e;
      errors[i] = dg::ca::issue(leaf(dir, "node" + std::to_string(i), "AE" + std::to_string(i)), e);
    });
  for (auto& th : threads) th.join();
  for (const auto& e : errors) EXPECT_EQ(e, "");
  std::vector<dg::ca::Entry> all;
  ASSERT_EQ(dg::ca::list(dir, all), "");
  EXPECT_EQ(all.size(), 4u);
}

TEST(Ca, Refusals) {
  TmpDir t;
  const std::string dir = t.path + "/ca";
  dg::ca::Entry e;
  // Missing DIR.
  std::string err = dg::ca::issue(leaf(t.path + "/nope"), e);
  EXPECT_NE(err.find("is not a folder"), std::string::npos) << err;
  std::vector<dg::ca::Entry> all;
  EXPECT_NE(dg::ca::list(t.path + "/nope", all), "");
  std::vector<dg::ca::Renewed> done;
  EXPECT_NE(dg::ca::renew(t.path + "/nope", 30, "", 90, done), "");
  ASSERT_EQ(init_ca(dir), "");
  // Bad arguments.
  auto bad = [&](auto change, const char* want) {
    auto o = leaf(dir);
    change(o);
    dg::ca::Entry x;
    const std::string m = dg::ca::issue(o, x);
    EXPECT_NE(m.find(want), std::string::npos) << "got: " << m;
  };
  bad([](auto& o) { o.ips = {"300.1.1.1"}; }, "not an IPv4 or IPv6 address");
  bad([](auto& o) { o.ips = {"localhost"}; }, "not an IPv4 or IPv6 address");
  bad([](auto& o) { o.ae = "SEVENTEEN_CHARS_X"; }, "at most 16");
  bad([](auto& o) { o.ae = "A\\B"; }, "backslash");
  bad([](auto& o) { o.ae = "A\tB"; }, "control");
  bad([](auto& o) { o.ae = "A\x01"; }, "control");
  bad([](auto& o) { o.ae = ""; }, "AE title");
  bad([](auto& o) { o.ae = "    "; }, "all spaces");
  bad([](auto& o) { o.names = {""}; }, "must not be empty");
  bad([](auto& o) { o.names = {}; }, "at least one --name");
  bad([](auto& o) { o.names = {"../evil"}; }, "empty label");
  bad([](auto& o) { o.names = {"a/b"}; }, "not a DNS host name");
  bad([](auto& o) { o.names = {"a,DNS:b"}; }, "not a DNS host name");
  bad([](auto& o) { o.names = {"10.0.0.1"}; }, "give it with --ip");
  EXPECT_FALSE(fs::exists(dir + "/issued/pacs.example.org.crt"));
  EXPECT_EQ(dg::ca::check_ae_title("SIXTEEN_CHARS_XX"), "");

  // Corrupt key.
  const std::string good_key = slurp(dir + "/ca.key");
  ASSERT_EQ(dg::util::write_durably(dir + "/ca.key", "-----BEGIN PRIVATE KEY-----\nnot base64\n"), "");
  err = dg::ca::issue(leaf(dir), e);
  EXPECT_NE(err.find("not a PEM private key"), std::string::npos) << err;
  EXPECT_EQ(err.find("not base64"), std::string::npos);  // the key's content is never echoed
  // A leaf that would outlive the root.
  {
    TmpDir t2;
    dg::ca::InitOptions io;
    io.dir = t2.path + "/short";
    io.days = 30;
    dg::ca::InitResult ir;
    ASSERT_EQ(dg::ca::init(io, ir), "");
    dg::ca::Entry x;
    const std::string m = dg::ca::issue(leaf(io.dir), x);
    EXPECT_NE(m.find("root expires"), std::string::npos) << m;
  }
  // Unreadable key (root reads everything: only when not root).
  // A key of the wrong type (Ed25519) and a key that is not the CA's.
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> ed(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"), EVP_PKEY_free);
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, ed.get(), nullptr, nullptr, 0, nullptr, nullptr);
  char* d = nullptr;
  long n = BIO_get_mem_data(b, &d);
  ASSERT_EQ(dg::util::write_durably(dir + "/ca.key", std::string(d, static_cast<std::size_t>(n))), "");
  BIO_free(b);
  err = dg::ca::issue(leaf(dir), e);
  EXPECT_NE(err.find("ECDSA or RSA keys only"), std::string::npos) << err;
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> other(EVP_EC_gen("P-256"), EVP_PKEY_free);
  b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, other.get(), nullptr, nullptr, 0, nullptr, nullptr);
  n = BIO_get_mem_data(b, &d);
  ASSERT_EQ(dg::util::write_durably(dir + "/ca.key", std::string(d, static_cast<std::size_t>(n))), "");
  BIO_free(b);
  err = dg::ca::issue(leaf(dir), e);
  EXPECT_NE(err.find("does not belong"), std::string::npos) << err;
  // An encrypted key.
  b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, other.get(), EVP_aes_256_cbc(), nullptr, 0, nullptr, const_cast<char*>("secret"));
  n = BIO_get_mem_data(b, &d);
  ASSERT_EQ(dg::util::write_durably(dir + "/ca.key", std::string(d, static_cast<std::size_t>(n))), "");
  BIO_free(b);
  err = dg::ca::issue(leaf(dir), e);
  EXPECT_NE(err.find("encrypted with a passphrase"), std::string::npos) << err;
  // Back to the good key: it works again.
  ASSERT_EQ(dg::util::write_durably(dir + "/ca.key", good_key), "");
  EXPECT_EQ(dg::ca::issue(leaf(dir), e), "");
  // A corrupt index.
  ASSERT_EQ(dg::util::write_durably(dir + "/index.json", "{not json"), "");
  EXPECT_NE(dg::ca::list(dir, all).find("corrupt"), std::string::npos);
}

}  // namespace
