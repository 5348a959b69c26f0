#include "tls/cert.h"

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <fmt/format.h>

#include <memory>

namespace dg::tls {

namespace {
using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;

X509Ptr decode(const std::vector<std::uint8_t>& der) {
  const unsigned char* p = der.data();
  return X509Ptr(der.empty() ? nullptr : d2i_X509(nullptr, &p, static_cast<long>(der.size())), X509_free);
}

std::string name_line(const X509_NAME* n) {
  if (!n) return {};
  BIO* b = BIO_new(BIO_s_mem());
  X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  const long len = BIO_get_mem_data(b, &data);
  std::string s(data ? data : "", static_cast<std::size_t>(len > 0 ? len : 0));
  BIO_free(b);
  return s.size() > 512 ? s.substr(0, 512) : s;
}

bool to_tm(const ASN1_TIME* t, std::tm& out) { return t && ASN1_TIME_to_tm(t, &out) == 1; }

std::string iso(const std::tm& t) {
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour,
                     t.tm_min, t.tm_sec);
}

std::string hash_name(int md_nid) {
  switch (md_nid) {
    case NID_md5: return "MD5";
    case NID_sha1: return "SHA-1";
    case NID_sha224: return "SHA-224";
    case NID_sha256: return "SHA-256";
    case NID_sha384: return "SHA-384";
    case NID_sha512: return "SHA-512";
    case NID_undef: return "";
  }
  const char* n = OBJ_nid2sn(md_nid);
  return n ? n : "";
}
int hash_bits(int md_nid) {
  switch (md_nid) {
    case NID_md5: return 39;
    case NID_sha1: return 63;
    case NID_sha224: return 112;
    case NID_sha256: return 128;
    case NID_sha384: return 192;
    case NID_sha512: return 256;
  }
  return 0;
}
}  // namespace

CertInfo parse_certificate(const std::vector<std::uint8_t>& der, std::time_t now) {
  CertInfo c;
  X509Ptr x = decode(der);
  if (!x) return c;
  c.parsed = true;
  c.subject = name_line(X509_get_subject_name(x.get()));
  c.issuer = name_line(X509_get_issuer_name(x.get()));
  std::tm nb{}, na{};
  if (to_tm(X509_get0_notBefore(x.get()), nb)) c.not_before = iso(nb);
  if (to_tm(X509_get0_notAfter(x.get()), na)) c.not_after = iso(na);
  int day = 0, sec = 0;
  if (ASN1_TIME_diff(&day, &sec, nullptr, X509_get0_notAfter(x.get()))) c.days_left = day;
  (void)now;
  c.expired = X509_cmp_current_time(X509_get0_notAfter(x.get())) < 0;
  c.not_yet_valid = X509_cmp_current_time(X509_get0_notBefore(x.get())) > 0;
  if (EVP_PKEY* k = X509_get0_pubkey(x.get())) {
    c.key_bits = EVP_PKEY_get_bits(k);
    switch (EVP_PKEY_get_base_id(k)) {
      case EVP_PKEY_RSA: case EVP_PKEY_RSA_PSS: c.key_type = "RSA"; break;
      case EVP_PKEY_EC: {
        c.key_type = "EC";
        char curve[64] = {};
        std::size_t len = 0;
        if (EVP_PKEY_get_utf8_string_param(k, "group", curve, sizeof curve, &len)) c.curve = curve;
        break;
      }
      case EVP_PKEY_ED25519: c.key_type = "Ed25519"; break;
      case EVP_PKEY_ED448: c.key_type = "Ed448"; break;
      case EVP_PKEY_DSA: c.key_type = "DSA"; break;
      case EVP_PKEY_DH: c.key_type = "DH"; break;
      default: c.key_type = "other";
    }
  }
  const int sig_nid = X509_get_signature_nid(x.get());
  c.signature = sig_nid != NID_undef ? OBJ_nid2ln(sig_nid) : "";
  int md_nid = NID_undef, pk_nid = NID_undef;
  if (OBJ_find_sigid_algs(sig_nid, &md_nid, &pk_nid)) {
    c.sig_hash = hash_name(md_nid);
    c.sig_hash_bits = hash_bits(md_nid);
  }
  if (sig_nid == NID_rsassaPss) {
    int secbits = 0;
    uint32_t flags = 0;
    if (X509_get_signature_info(x.get(), &md_nid, &pk_nid, &secbits, &flags)) {
      c.sig_hash = hash_name(md_nid);
      c.sig_hash_bits = hash_bits(md_nid);
    }
  }
  // Self-signed: issued by its own name and signed by its own key (whatever its key usage says).
  if (X509_NAME_cmp(X509_get_subject_name(x.get()), X509_get_issuer_name(x.get())) == 0) {
    EVP_PKEY* k = X509_get0_pubkey(x.get());
    c.self_signed = k && X509_verify(x.get(), k) == 1;
  }
  c.ca = X509_check_ca(x.get()) > 0;
  if (auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x.get(), NID_subject_alt_name, nullptr, nullptr))) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names) && i < 64; ++i) {
      const GENERAL_NAME* g = sk_GENERAL_NAME_value(names, i);
      if (g->type == GEN_DNS) {
        const ASN1_STRING* s = g->d.dNSName;
        c.san_dns.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                               static_cast<std::size_t>(ASN1_STRING_length(s)));
      } else if (g->type == GEN_IPADD) {
        const ASN1_STRING* s = g->d.iPAddress;
        const unsigned char* b = ASN1_STRING_get0_data(s);
        if (ASN1_STRING_length(s) == 4) c.san_ip.push_back(fmt::format("{}.{}.{}.{}", b[0], b[1], b[2], b[3]));
        else if (ASN1_STRING_length(s) == 16) {
          std::string v6;
          for (int j = 0; j < 16; j += 2) v6 += fmt::format("{}{:x}", j ? ":" : "", (b[j] << 8) | b[j + 1]);
          c.san_ip.push_back(v6);
        }
      }
    }
    GENERAL_NAMES_free(names);
  }
  const uint32_t xku = X509_get_extended_key_usage(x.get());
  if (X509_get_extension_flags(x.get()) & EXFLAG_XKUSAGE) {
    if (xku & XKU_SSL_SERVER) c.eku.push_back("serverAuth");
    if (xku & XKU_SSL_CLIENT) c.eku.push_back("clientAuth");
    if (xku & XKU_CODE_SIGN) c.eku.push_back("codeSigning");
  }
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(der.data(), der.size(), md);
  for (unsigned char b : md) c.sha256 += fmt::format("{:02x}", b);
  return c;
}

bool certificate_matches(const std::vector<std::uint8_t>& der, const std::string& host) {
  X509Ptr x = decode(der);
  if (!x || host.empty()) return false;
  if (X509_check_ip_asc(x.get(), host.c_str(), 0) == 1) return true;
  return X509_check_host(x.get(), host.c_str(), host.size(), 0, nullptr) == 1;
}

std::string check_ca_file(const std::string& ca_file) {
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), X509_STORE_free);
  if (!store || X509_STORE_load_file(store.get(), ca_file.c_str()) != 1)
    return "no PEM certificate could be read from " + ca_file;
  return {};
}

ChainCheck verify_chain(const std::vector<std::vector<std::uint8_t>>& chain, const std::string& ca_file) {
  ChainCheck r;
  if (chain.empty()) {
    r.error = "no certificate";
    return r;
  }
  X509Ptr leaf = decode(chain[0]);
  if (!leaf) {
    r.error = "the certificate does not parse";
    return r;
  }
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), X509_STORE_free);
  if (ca_file.empty()) X509_STORE_set_default_paths(store.get());
  else if (X509_STORE_load_file(store.get(), ca_file.c_str()) != 1) {
    r.error = "cannot read the CA file";
    return r;
  }
  std::unique_ptr<STACK_OF(X509), void (*)(STACK_OF(X509)*)> rest(sk_X509_new_null(),
                                                                 [](STACK_OF(X509)* s) { sk_X509_pop_free(s, X509_free); });
  for (std::size_t i = 1; i < chain.size(); ++i)
    if (X509Ptr c = decode(chain[i])) sk_X509_push(rest.get(), c.release());
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(), X509_STORE_CTX_free);
  X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), rest.get());
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
  r.trusted = X509_verify_cert(ctx.get()) == 1;
  if (!r.trusted) r.error = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
  return r;
}

}  // namespace dg::tls
