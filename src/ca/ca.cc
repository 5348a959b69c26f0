#include "ca/ca.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include "tls/cert.h"
#include "tls/measurement.h"
#include "tls/verdict.h"
#include "util/durable_write.h"

namespace dg::ca {

namespace {

using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;
using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;

std::string ssl_error() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (!e) return "unknown OpenSSL error";
  char b[256];
  ERR_error_string_n(e, b, sizeof b);
  return b;
}

bool exists(const std::string& p) {
  struct stat st{};
  return ::stat(p.c_str(), &st) == 0;
}
bool is_dir(const std::string& p) {
  struct stat st{};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string make_dir(const std::string& p, mode_t mode) {
  if (is_dir(p)) return {};
  if (::mkdir(p.c_str(), mode) != 0 && errno != EEXIST)
    return fmt::format("cannot create the folder {}: {}", p, std::strerror(errno));
  util::fsync_dir(p.substr(0, p.find_last_of('/') == std::string::npos ? 0 : p.find_last_of('/')));
  return {};
}

std::string read_file(const std::string& path, std::string& out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return fmt::format("cannot read {}: {}", path, std::strerror(errno));
  std::ostringstream ss;
  ss << f.rdbuf();
  out = ss.str();
  return {};
}

std::string write_file(const std::string& path, const std::string& content, mode_t mode,
                       const std::string& keep_dir = {}) {
  util::WriteOptions w;
  w.mode = mode;
  w.write = [&](int fd) -> std::string {
    return util::write_all(fd, content.data(), content.size()) ? "" : fmt::format("cannot write {}: {}", path, std::strerror(errno));
  };
  if (!keep_dir.empty() && exists(path)) {
    util::KeepIn k;
    k.dir = keep_dir;
    k.what = "retired copy";
    w.keep = k;
  }
  util::WriteResult r = util::write_durably(path, w);
  return r.error;
}

KeyPtr make_key(KeyKind k) {
  return KeyPtr(k == KeyKind::rsa ? EVP_RSA_gen(3072) : EVP_EC_gen("P-256"), EVP_PKEY_free);
}

std::string pem_key(EVP_PKEY* k) {
  BioPtr b(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_PrivateKey(b.get(), k, nullptr, nullptr, 0, nullptr, nullptr);
  char* d = nullptr;
  const long n = BIO_get_mem_data(b.get(), &d);
  std::string s(d ? d : "", static_cast<std::size_t>(n > 0 ? n : 0));
  OPENSSL_cleanse(d, static_cast<std::size_t>(n > 0 ? n : 0));
  return s;
}

std::string pem_cert(X509* x) {
  BioPtr b(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_X509(b.get(), x);
  char* d = nullptr;
  const long n = BIO_get_mem_data(b.get(), &d);
  return std::string(d ? d : "", static_cast<std::size_t>(n > 0 ? n : 0));
}

std::vector<std::uint8_t> der_of(X509* x) {
  unsigned char* p = nullptr;
  const int n = i2d_X509(x, &p);
  std::vector<std::uint8_t> v;
  if (n > 0) v.assign(p, p + n);
  OPENSSL_free(p);
  return v;
}

std::string iso(const ASN1_TIME* t, std::time_t* out = nullptr) {
  std::tm tm{};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return {};
  if (out) *out = timegm(&tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::time_t parse_iso(const std::string& s) {
  std::tm tm{};
  if (std::sscanf(s.c_str(), "%d-%d-%dT%d:%d:%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                  &tm.tm_sec) != 6)
    return 0;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return timegm(&tm);
}

// A random positive 128-bit serial (RFC 5280 4.1.2.2: at most 20 octets; CA/B Forum: at least 64 random bits).
std::string set_serial(X509* x) {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) return "no random bytes for the serial number";
  b[0] &= 0x7F;
  b[0] |= 0x40;  // 16 octets exactly, positive
  std::unique_ptr<BIGNUM, decltype(&BN_free)> bn(BN_bin2bn(b, sizeof b, nullptr), BN_free);
  if (!bn || !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(x))) return "cannot set the serial number";
  return {};
}

std::string serial_hex(X509* x) {
  std::unique_ptr<BIGNUM, decltype(&BN_free)> bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), nullptr), BN_free);
  if (!bn) return {};
  char* h = BN_bn2hex(bn.get());
  std::string s = h ? h : "";
  OPENSSL_free(h);
  return s;
}

bool add_ext(X509* x, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, x, nullptr, nullptr, 0);
  X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!e) return false;
  const bool ok = X509_add_ext(x, e, -1) == 1;
  X509_EXTENSION_free(e);
  return ok;
}

bool add_name(X509_NAME* n, const char* field, const std::string& v) {
  return X509_NAME_add_entry_by_txt(n, field, MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(v.c_str()),
                                    static_cast<int>(v.size()), -1, 0) == 1;
}

const EVP_MD* digest_for(EVP_PKEY*) { return EVP_sha256(); }

std::string hostname() {
  char b[256] = {};
  if (::gethostname(b, sizeof b - 1) != 0 || !b[0]) return "localhost";
  return b;
}

std::string key_kind_of(EVP_PKEY* k) {
  if (EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA) return fmt::format("RSA {}", EVP_PKEY_get_bits(k));
  if (EVP_PKEY_get_base_id(k) == EVP_PKEY_EC) {
    char curve[64] = {};
    std::size_t len = 0;
    EVP_PKEY_get_utf8_string_param(k, "group", curve, sizeof curve, &len);
    std::string c = curve;
    if (c == "prime256v1") c = "P-256";
    if (c == "secp384r1") c = "P-384";
    return "EC " + c;
  }
  return "other";
}

int no_passphrase(char*, int, int, void*) { return -1; }

struct Authority {
  X509Ptr cert{nullptr, X509_free};
  KeyPtr key{nullptr, EVP_PKEY_free};
  std::string cert_path;
};

std::string load_authority(const std::string& dir, Authority& a) {
  if (dir.empty()) return "no CA folder given";
  if (!is_dir(dir)) return fmt::format("{} is not a folder (create a CA with 'dicomguard ca init {}')", dir, dir);
  a.cert_path = dir + "/ca.crt";
  const std::string key_path = dir + "/ca.key";
  if (!exists(a.cert_path) || !exists(key_path))
    return fmt::format("{} holds no CA (ca.crt and ca.key; create one with 'dicomguard ca init {}')", dir, dir);
  std::string text;
  if (std::string e = read_file(a.cert_path, text); !e.empty()) return e;
  {
    BioPtr b(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())), BIO_free);
    a.cert.reset(PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr));
  }
  if (!a.cert) return fmt::format("the CA certificate {} is not a PEM certificate (corrupt?)", a.cert_path);
  if (std::string e = read_file(key_path, text); !e.empty())
    return fmt::format("cannot read the CA key {}: {}", key_path, std::strerror(errno));
  {
    BioPtr b(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())), BIO_free);
    a.key.reset(PEM_read_bio_PrivateKey(b.get(), nullptr, no_passphrase, nullptr));
  }
  const bool encrypted = text.find("ENCRYPTED") != std::string::npos;
  OPENSSL_cleanse(text.data(), text.size());
  ERR_clear_error();
  if (!a.key) {
    if (encrypted)
      return fmt::format("the CA key {} is encrypted with a passphrase; dicomguard ca needs an unencrypted key "
                         "(keep the folder on an encrypted, access-controlled disk instead)", key_path);
    return fmt::format("the CA key {} is not a PEM private key (corrupt or truncated?)", key_path);
  }
  const int id = EVP_PKEY_get_base_id(a.key.get());
  if (id != EVP_PKEY_EC && id != EVP_PKEY_RSA)
    return fmt::format("the CA key {} is a {} key; dicomguard ca uses ECDSA or RSA keys only", key_path,
                       OBJ_nid2sn(id));
  if (id == EVP_PKEY_RSA && EVP_PKEY_get_bits(a.key.get()) < 2048)
    return fmt::format("the CA key {} is RSA {} bits; B.12/B.13 need at least 2048", key_path,
                       EVP_PKEY_get_bits(a.key.get()));
  if (X509_check_private_key(a.cert.get(), a.key.get()) != 1) {
    ERR_clear_error();
    return fmt::format("the CA key {} does not belong to the CA certificate {}", key_path, a.cert_path);
  }
  if (X509_check_ca(a.cert.get()) <= 0) return fmt::format("{} is not a CA certificate", a.cert_path);
  return {};
}

// ------------------------------------------------------------------------------------------------ the index
nlohmann::json entry_json(const Entry& e) {
  return {{"name", e.name},         {"serial", e.serial},         {"dns", e.dns},       {"ip", e.ip},
          {"ae", e.ae},             {"key", e.key},               {"not_before", e.not_before},
          {"not_after", e.not_after}, {"cert", e.cert},           {"key_file", e.key_file},
          {"chain", e.chain},       {"status", e.status},         {"replaces", e.replaces}};
}

std::string load_index(const std::string& dir, std::vector<Entry>& out) {
  out.clear();
  const std::string path = dir + "/index.json";
  if (!exists(path)) return {};
  std::string text;
  if (std::string e = read_file(path, text); !e.empty()) return e;
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    for (const auto& c : j.at("certificates")) {
      Entry e;
      e.name = c.at("name").get<std::string>();
      e.serial = c.at("serial").get<std::string>();
      e.dns = c.at("dns").get<std::vector<std::string>>();
      e.ip = c.at("ip").get<std::vector<std::string>>();
      e.ae = c.at("ae").get<std::string>();
      e.key = c.value("key", "");
      e.not_before = c.at("not_before").get<std::string>();
      e.not_after = c.at("not_after").get<std::string>();
      e.not_after_t = parse_iso(e.not_after);
      e.cert = c.at("cert").get<std::string>();
      e.key_file = c.at("key_file").get<std::string>();
      e.chain = c.at("chain").get<std::string>();
      e.status = c.value("status", "current");
      e.replaces = c.value("replaces", "");
      out.push_back(std::move(e));
    }
  } catch (const std::exception& ex) {
    return fmt::format("the CA index {} is corrupt: {}", path, ex.what());
  }
  return {};
}

std::string save_index(const std::string& dir, const std::vector<Entry>& entries) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& e : entries) list.push_back(entry_json(e));
  nlohmann::json j{{"format", "dicomguard-ca-index"}, {"version", 1}, {"certificates", list}};
  return write_file(dir + "/index.json", j.dump(2) + "\n", 0644);
}

// ------------------------------------------------------------------------------------------------ issuing
std::string sign_leaf(const Authority& a, const IssueOptions& o, const std::string& dir, Entry& out,
                      const std::string& replaces) {
  KeyPtr key = make_key(o.key);
  X509Ptr x(X509_new(), X509_free);
  if (!key || !x) return "cannot make a key: " + ssl_error();
  X509_set_version(x.get(), 2);
  if (std::string e = set_serial(x.get()); !e.empty()) return e;
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -60);  // backdated a minute for clocks slightly behind
  X509_gmtime_adj(X509_getm_notAfter(x.get()), static_cast<long>(o.days) * 86400);
  if (ASN1_TIME_compare(X509_get0_notAfter(x.get()), X509_get0_notAfter(a.cert.get())) > 0)
    return fmt::format("the CA's root expires on {}, before {} days from now: give fewer --days, or make a new CA",
                       iso(X509_get0_notAfter(a.cert.get())), o.days);
  X509_set_pubkey(x.get(), key.get());
  X509_NAME* n = X509_get_subject_name(x.get());
  if (!add_name(n, "CN", o.names[0]) || !add_name(n, "OU", o.ae))
    return "cannot set the subject name: " + ssl_error();
  X509_set_issuer_name(x.get(), X509_get_subject_name(a.cert.get()));
  std::string san;
  for (const auto& d : o.names) san += (san.empty() ? "" : ",") + ("DNS:" + d);
  for (const auto& ip : o.ips) san += ",IP:" + ip;
  san += ",URI:" + ae_uri(o.ae);
  const bool rsa = o.key == KeyKind::rsa;
  if (!add_ext(x.get(), a.cert.get(), NID_basic_constraints, "critical,CA:FALSE") ||
      !add_ext(x.get(), a.cert.get(), NID_key_usage,
               rsa ? "critical,digitalSignature,keyEncipherment" : "critical,digitalSignature") ||
      !add_ext(x.get(), a.cert.get(), NID_ext_key_usage, "serverAuth,clientAuth") ||
      !add_ext(x.get(), a.cert.get(), NID_subject_alt_name, san) ||
      !add_ext(x.get(), a.cert.get(), NID_subject_key_identifier, "hash") ||
      !add_ext(x.get(), a.cert.get(), NID_authority_key_identifier, "keyid:always"))
    return "cannot add the certificate extensions: " + ssl_error();
  if (X509_sign(x.get(), a.key.get(), digest_for(a.key.get())) <= 0) return "cannot sign: " + ssl_error();

  // The same checks `dicomguard tls` applies: refuse to write a certificate it would flag.
  const std::vector<std::uint8_t> leaf_der = der_of(x.get()), root_der = der_of(a.cert.get());
  const auto problems = tls_problems(leaf_der, root_der, a.cert_path, o.names[0]);
  if (!problems.empty()) {
    std::string s;
    for (const auto& p : problems) s += (s.empty() ? "" : "; ") + p;
    return "the new certificate would fail dicomguard tls's checks (nothing written): " + s;
  }

  const std::string issued = dir + "/issued";
  if (std::string e = make_dir(issued, 0755); !e.empty()) return e;
  const std::string retired = dir + "/retired";
  out = Entry{};
  out.name = o.names[0];
  out.serial = serial_hex(x.get());
  out.dns = o.names;
  out.ip = o.ips;
  out.ae = o.ae;
  out.key = key_kind_of(key.get());
  out.not_before = iso(X509_get0_notBefore(x.get()));
  out.not_after = iso(X509_get0_notAfter(x.get()), &out.not_after_t);
  out.cert = "issued/" + out.name + ".crt";
  out.key_file = "issued/" + out.name + ".key";
  out.chain = "issued/" + out.name + "-chain.pem";
  out.replaces = replaces;
  const std::string keep = replaces.empty() ? std::string() : retired;
  std::string key_pem = pem_key(key.get());
  std::string e = write_file(dir + "/" + out.key_file, key_pem, 0600, keep);
  OPENSSL_cleanse(key_pem.data(), key_pem.size());
  if (!e.empty()) return e;
  const std::string leaf_pem = pem_cert(x.get());
  if (e = write_file(dir + "/" + out.cert, leaf_pem, 0644, keep); !e.empty()) return e;
  if (e = write_file(dir + "/" + out.chain, leaf_pem + pem_cert(a.cert.get()), 0644, keep); !e.empty()) return e;
  return {};
}

std::string check_issue(const IssueOptions& o) {
  if (o.names.empty()) return "give at least one --name (the host's DNS name)";
  for (const auto& n : o.names)
    if (std::string e = check_dns_name(n); !e.empty()) return e;
  for (const auto& ip : o.ips)
    if (std::string e = check_ip(ip); !e.empty()) return e;
  if (std::string e = check_ae_title(o.ae); !e.empty()) return e;
  if (o.days < 1 || o.days > 825) return fmt::format("--days {}: give 1 to 825 days", o.days);
  return {};
}

std::string trim_ae(const std::string& ae) {
  const auto b = ae.find_first_not_of(' ');
  if (b == std::string::npos) return {};
  return ae.substr(b, ae.find_last_not_of(' ') - b + 1);
}

// One writer at a time per CA folder (two `ca issue` at once would otherwise lose one index entry, two `ca init`
// both write a root): an exclusive flock on DIR/.lock, released when the process ends or the object goes.
class FolderLock {
 public:
  std::string take(const std::string& dir) {
    fd_ = ::open((dir + "/.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0) return fmt::format("cannot open {}/.lock: {}", dir, std::strerror(errno));
    while (::flock(fd_, LOCK_EX) != 0)
      if (errno != EINTR) return fmt::format("cannot lock {}/.lock: {}", dir, std::strerror(errno));
    return {};
  }
  ~FolderLock() {
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  int fd_ = -1;
};

}  // namespace

const char* key_kind_name(KeyKind k) { return k == KeyKind::rsa ? "RSA 3072" : "EC P-256"; }

long Entry::days_left(std::time_t now) const {
  const double d = std::difftime(not_after_t, now) / 86400.0;
  return static_cast<long>(d >= 0 ? d : d - 0.999999);  // floor
}

std::string check_ae_title(const std::string& ae) {
  if (ae.empty()) return "give the node's AE title with --ae";
  if (ae.size() > 16) return fmt::format("AE title '{}' is {} characters; PS3.5 allows at most 16", ae, ae.size());
  for (unsigned char c : ae) {
    if (c == '\\') return "AE title must not contain a backslash (PS3.5 AE value representation)";
    if (c < 0x20 || c >= 0x7F)
      return "AE title must not contain control or non-ASCII characters (PS3.5 AE value representation)";
  }
  if (trim_ae(ae).empty()) return "AE title must not be all spaces";
  if (trim_ae(ae) != ae) return fmt::format("AE title '{}' has leading or trailing spaces (they are not significant: "
                                            "give '{}')", ae, trim_ae(ae));
  return {};
}

std::string check_dns_name(const std::string& name) {
  if (name.empty()) return "--name must not be empty";
  if (name.size() > 253) return fmt::format("--name '{}...' is longer than 253 characters", name.substr(0, 40));
  std::size_t label = 0;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (c == '.') {
      if (label == 0) return fmt::format("--name '{}' has an empty label", name);
      label = 0;
      continue;
    }
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return fmt::format("--name '{}' is not a DNS host name (letters, digits, '-' and '.' only)", name);
    if (++label > 63) return fmt::format("--name '{}' has a label longer than 63 characters", name);
  }
  if (label == 0) return fmt::format("--name '{}' ends with an empty label", name);
  if (name[0] == '-' ) return fmt::format("--name '{}' starts with '-'", name);
  unsigned char buf[16];
  if (inet_pton(AF_INET, name.c_str(), buf) == 1) return fmt::format("--name '{}' is an address: give it with --ip", name);
  return {};
}

std::string check_ip(const std::string& ip) {
  unsigned char buf[16];
  if (inet_pton(AF_INET, ip.c_str(), buf) == 1 || inet_pton(AF_INET6, ip.c_str(), buf) == 1) return {};
  return fmt::format("--ip '{}' is not an IPv4 or IPv6 address", ip);
}

std::string ae_uri(const std::string& ae) {
  std::string s = "urn:dicom:ae:";
  for (unsigned char c : ae) {
    const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                            c == '.' || c == '_' || c == '~';
    if (unreserved) s += static_cast<char>(c);
    else s += fmt::format("%{:02X}", c);
  }
  return s;
}

std::vector<std::string> tls_problems(const std::vector<std::uint8_t>& leaf_der,
                                      const std::vector<std::uint8_t>& root_der, const std::string& ca_file,
                                      const std::string& host) {
  std::vector<std::string> out;
  tls::Measurement m;
  m.tls = true;
  m.chain = {leaf_der, root_der};
  m.chain_source = "openssl";
  tls::AssessOptions ao;
  ao.target = host;
  ao.name = host;
  ao.ca_file = ca_file;
  const tls::Verdicts v = tls::assess(m, ao);
  for (const auto& f : v.findings)
    if (f.check.rfind("tls.cert.", 0) == 0) out.push_back(f.check + ": " + f.title);
  if (v.cert.name_match && !*v.cert.name_match) out.push_back("the certificate does not name " + host);
  for (const auto* p : {v.b12, v.b13}) {
    if (!p) {
      out.push_back("no B.12/B.13 profile to grade against");
      continue;
    }
    for (const auto& c : p->clauses)
      if ((c.rule_kind == "min_key_bits" || c.rule_kind == "cert_sig_hash_min") && c.verdict == "fail")
        out.push_back(fmt::format("{} failed: {}", c.id, c.detail));
  }
  return out;
}

std::string init(const InitOptions& o, InitResult& out) {
  if (o.dir.empty()) return "give the CA folder";
  if (o.days < 1 || o.days > 36500) return fmt::format("--days {}: give 1 to 36500 days", o.days);
  if (exists(o.dir) && !is_dir(o.dir)) return fmt::format("{} exists and is not a folder", o.dir);
  auto held = [&]() -> std::string {
    for (const char* f : {"/ca.crt", "/ca.key", "/index.json"})
      if (exists(o.dir + f))
        return fmt::format("{} already holds a CA ({} exists); refusing to overwrite it", o.dir, o.dir + f);
    return {};
  };
  if (std::string e = held(); !e.empty()) return e;
  if (std::string e = make_dir(o.dir, 0700); !e.empty()) return e;
  FolderLock lock;
  if (std::string e = lock.take(o.dir); !e.empty()) return e;
  if (std::string e = held(); !e.empty()) return e;  // another init got there first
  const std::string cn = "dicomguard private CA " + (o.name.empty() ? hostname() : o.name);
  if (cn.size() > 64) return "the CA name is too long (the CN is at most 64 characters)";
  KeyPtr key = make_key(o.key);
  X509Ptr x(X509_new(), X509_free);
  if (!key || !x) return "cannot make a key: " + ssl_error();
  X509_set_version(x.get(), 2);
  if (std::string e = set_serial(x.get()); !e.empty()) return e;
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), static_cast<long>(o.days) * 86400);
  X509_set_pubkey(x.get(), key.get());
  X509_NAME* n = X509_get_subject_name(x.get());
  if (!add_name(n, "CN", cn) || !add_name(n, "O", "dicomguard")) return "cannot set the CA name: " + ssl_error();
  X509_set_issuer_name(x.get(), n);
  if (!add_ext(x.get(), x.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
      !add_ext(x.get(), x.get(), NID_key_usage, "critical,keyCertSign,cRLSign") ||
      !add_ext(x.get(), x.get(), NID_subject_key_identifier, "hash") ||
      !add_ext(x.get(), x.get(), NID_authority_key_identifier, "keyid:always"))
    return "cannot add the CA extensions: " + ssl_error();
  if (X509_sign(x.get(), key.get(), digest_for(key.get())) <= 0) return "cannot sign: " + ssl_error();
  out.cert_path = o.dir + "/ca.crt";
  out.key_path = o.dir + "/ca.key";
  out.subject = cn;
  out.serial = serial_hex(x.get());
  out.not_after = iso(X509_get0_notAfter(x.get()));
  // The key first: a folder with a key and no certificate is refused by the next init, never half-used.
  std::string key_pem = pem_key(key.get());
  std::string e = write_file(out.key_path, key_pem, 0600);
  OPENSSL_cleanse(key_pem.data(), key_pem.size());
  if (!e.empty()) return e;
  if (e = write_file(out.cert_path, pem_cert(x.get()), 0644); !e.empty()) return e;
  return save_index(o.dir, {});
}

std::string issue(const IssueOptions& o, Entry& out) {
  Authority a;
  if (std::string e = load_authority(o.dir, a); !e.empty()) return e;
  if (std::string e = check_issue(o); !e.empty()) return e;
  FolderLock lock;
  if (std::string e = lock.take(o.dir); !e.empty()) return e;
  std::vector<Entry> entries;
  if (std::string e = load_index(o.dir, entries); !e.empty()) return e;
  // Refused when the index has it. Files without an index entry are what an issue interrupted between its files
  // and the index leaves (never a certificate anyone was told about): they are replaced.
  for (const Entry& e : entries)
    if (e.name == o.names[0] && e.status == "current")
      return fmt::format("a certificate for {} was issued already ({}/issued/{}.crt); use 'dicomguard ca renew {} "
                         "--name {}' to replace it", o.names[0], o.dir, o.names[0], o.dir, o.names[0]);
  if (std::string e = sign_leaf(a, o, o.dir, out, ""); !e.empty()) return e;
  entries.push_back(out);
  return save_index(o.dir, entries);
}

std::string renew(const std::string& dir, int within_days, const std::string& only, int days,
                  std::vector<Renewed>& out) {
  out.clear();
  Authority a;
  if (std::string e = load_authority(dir, a); !e.empty()) return e;
  if (within_days < 0) return "--within must be 0 or more days";
  if (days < 1 || days > 825) return fmt::format("--days {}: give 1 to 825 days", days);
  FolderLock lock;
  if (std::string e = lock.take(dir); !e.empty()) return e;
  std::vector<Entry> entries;
  if (std::string e = load_index(dir, entries); !e.empty()) return e;
  const std::time_t now = std::time(nullptr);
  bool named = only.empty();
  const std::size_t n = entries.size();
  for (std::size_t i = 0; i < n; ++i) {
    if (entries[i].status != "current") continue;
    if (!only.empty() && entries[i].name != only) continue;
    named = true;
    if (entries[i].not_after_t - now >= static_cast<std::time_t>(within_days) * 86400) continue;
    IssueOptions o;
    o.dir = dir;
    o.names = entries[i].dns;
    o.ips = entries[i].ip;
    o.ae = entries[i].ae;
    o.days = days;
    o.key = entries[i].key.rfind("RSA", 0) == 0 ? KeyKind::rsa : KeyKind::ec;
    if (std::string e = check_issue(o); !e.empty()) return fmt::format("{} in the index: {}", entries[i].name, e);
    Entry fresh;
    if (std::string e = sign_leaf(a, o, dir, fresh, entries[i].serial); !e.empty()) {
      save_index(dir, entries);  // what was renewed before this one stays recorded
      return e;
    }
    Renewed r;
    r.old_entry = entries[i];
    entries[i].status = "superseded";
    r.new_entry = fresh;
    entries.push_back(fresh);
    out.push_back(std::move(r));
  }
  if (!named) return fmt::format("no current certificate named {} in {}/index.json", only, dir);
  if (out.empty()) return {};
  return save_index(dir, entries);
}

std::string list(const std::string& dir, std::vector<Entry>& out) {
  if (dir.empty()) return "give the CA folder";
  if (!is_dir(dir)) return fmt::format("{} is not a folder", dir);
  if (!exists(dir + "/ca.crt")) return fmt::format("{} holds no CA (no ca.crt)", dir);
  return load_index(dir, out);
}

nlohmann::json certificate_json(const Entry& e, std::time_t now) {
  return {{"type", "certificate"}, {"name", e.name},           {"serial", e.serial},
          {"dns", e.dns},          {"ip", e.ip},               {"ae", e.ae},
          {"key", e.key},          {"not_before", e.not_before}, {"not_after", e.not_after},
          {"days_left", e.days_left(now)}, {"expired", e.not_after_t <= now},
          {"status", e.status},    {"cert", e.cert},           {"chain", e.chain},
          {"replaces", e.replaces.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.replaces)}};
}

}  // namespace dg::ca
