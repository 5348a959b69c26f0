#include "tls/suites.h"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>

namespace dg::tls {

namespace {
const Suite kSuites[] = {
#include "tls/suite_table.inc"
};

const Group kGroups[] = {
    {0x0017, "secp256r1", 256, false}, {0x0018, "secp384r1", 384, false}, {0x0019, "secp521r1", 521, false},
    {0x001D, "x25519", 253, false},    {0x001E, "x448", 448, false},      {0x0100, "ffdhe2048", 2048, true},
    {0x0101, "ffdhe3072", 3072, true}, {0x0102, "ffdhe4096", 4096, true}, {0x0103, "ffdhe6144", 6144, true},
    {0x0104, "ffdhe8192", 8192, true}, {0x0015, "secp224r1", 224, false}, {0x0016, "secp256k1", 256, false},
    {0x0013, "secp192r1", 192, false}, {0x001A, "brainpoolP256r1", 256, false},
    {0x001B, "brainpoolP384r1", 384, false}, {0x001C, "brainpoolP512r1", 512, false},
    {0x0009, "sect283k1", 283, false}, {0x000A, "sect283r1", 283, false}, {0x000E, "sect571r1", 571, false},
    {0x0012, "secp192k1", 192, false}, {0x0014, "secp224k1", 224, false}, {0x0001, "sect163k1", 163, false},
    {0x0003, "sect163r2", 163, false}, {0x0006, "sect233k1", 233, false}, {0x0007, "sect233r1", 233, false},
    {0x000B, "sect409k1", 409, false}, {0x000C, "sect409r1", 409, false}, {0x000D, "sect571k1", 571, false},
};

const SigScheme kSigs[] = {
    {0x0403, "ecdsa_secp256r1_sha256"}, {0x0503, "ecdsa_secp384r1_sha384"}, {0x0603, "ecdsa_secp521r1_sha512"},
    {0x0807, "ed25519"},                {0x0808, "ed448"},                  {0x0804, "rsa_pss_rsae_sha256"},
    {0x0805, "rsa_pss_rsae_sha384"},    {0x0806, "rsa_pss_rsae_sha512"},    {0x0809, "rsa_pss_pss_sha256"},
    {0x080A, "rsa_pss_pss_sha384"},     {0x080B, "rsa_pss_pss_sha512"},     {0x0401, "rsa_pkcs1_sha256"},
    {0x0501, "rsa_pkcs1_sha384"},       {0x0601, "rsa_pkcs1_sha512"},       {0x0303, "ecdsa_sha224"},
    {0x0301, "rsa_pkcs1_sha224"},       {0x0302, "dsa_sha224"},             {0x0402, "dsa_sha256"},
    {0x0502, "dsa_sha384"},             {0x0602, "dsa_sha512"},             {0x0203, "ecdsa_sha1"},
    {0x0201, "rsa_pkcs1_sha1"},         {0x0202, "dsa_sha1"},               {0x0101, "rsa_pkcs1_md5"},
};
}  // namespace

bool Suite::is(std::string_view cls) const {
  const std::string needle = fmt::format(" {} ", cls);
  return std::string_view(classes).find(needle) != std::string_view::npos;
}

const std::vector<Suite>& all_suites() {
  static const std::vector<Suite> v(std::begin(kSuites), std::end(kSuites));
  return v;
}

const Suite* find_suite(std::uint16_t code) {
  static const auto index = [] {
    std::unordered_map<std::uint16_t, const Suite*> m;
    for (const Suite& s : kSuites) m[s.code] = &s;
    return m;
  }();
  auto it = index.find(code);
  return it == index.end() ? nullptr : it->second;
}

const Suite* find_suite(std::string_view name) {
  for (const Suite& s : kSuites)
    if (name == s.name) return &s;
  return nullptr;
}

std::string suite_name(std::uint16_t code) {
  if (const Suite* s = find_suite(code)) return s->name;
  return fmt::format("0x{:04X}", code);
}

bool weak_suite(const Suite& s) { return !weak_reason(s).empty(); }

std::string weak_reason(const Suite& s) {
  for (const char* c : {"null", "anon", "export", "rc4", "des", "3des", "md5"})
    if (s.is(c)) return c;
  if (s.bits < 112) return "under 112 bits";
  return {};
}

std::string version_name(std::uint16_t v) {
  switch (v) {
    case 0x0002: return "SSLv2";
    case SSLv3: return "SSLv3";
    case TLSv1_0: return "TLSv1.0";
    case TLSv1_1: return "TLSv1.1";
    case TLSv1_2: return "TLSv1.2";
    case TLSv1_3: return "TLSv1.3";
  }
  return fmt::format("0x{:04X}", v);
}

std::optional<std::uint16_t> parse_version(std::string_view n) {
  for (std::uint16_t v : kVersions)
    if (version_name(v) == n) return v;
  return std::nullopt;
}

const std::vector<Group>& all_groups() {
  static const std::vector<Group> v(std::begin(kGroups), std::end(kGroups));
  return v;
}
const Group* find_group(std::uint16_t code) {
  for (const Group& g : kGroups)
    if (g.code == code) return &g;
  return nullptr;
}
std::string group_name(std::uint16_t code) {
  if (const Group* g = find_group(code)) return g->name;
  return fmt::format("0x{:04X}", code);
}

const std::vector<SigScheme>& all_sig_schemes() {
  static const std::vector<SigScheme> v(std::begin(kSigs), std::end(kSigs));
  return v;
}
std::string sig_scheme_name(std::uint16_t code) {
  for (const SigScheme& s : kSigs)
    if (s.code == code) return s.name;
  return fmt::format("0x{:04X}", code);
}

}  // namespace dg::tls
