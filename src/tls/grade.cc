#include "tls/grade.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "tls/suites.h"

namespace dg::tls {

extern const std::string_view kProfilesJson;

namespace {

struct Rule {
  std::string kind, version, key, hash;
  std::vector<std::string> versions, suites, classes;
  int bits = 0;
};
struct ClauseDef {
  std::string id, section, text, note;
  Rule rule;
};
struct ProfileDef {
  ProfileInfo info;
  std::vector<ClauseDef> clauses;
};

const std::vector<ProfileDef>& defs() {
  static const std::vector<ProfileDef> d = [] {
    std::vector<ProfileDef> out;
    const auto j = nlohmann::json::parse(kProfilesJson);
    for (const auto& p : j.at("profiles")) {
      ProfileDef def;
      def.info = {p.at("id"), p.at("title"), p.at("status"), p.value("section", "")};
      for (const auto& c : p.at("clauses")) {
        ClauseDef cd{c.at("id"), c.value("section", ""), c.value("text", ""), c.value("note", ""), {}};
        const auto& r = c.at("rule");
        cd.rule.kind = r.at("kind");
        cd.rule.version = r.value("version", "");
        cd.rule.key = r.value("key", "");
        cd.rule.hash = r.value("hash", "");
        cd.rule.bits = r.value("bits", 0);
        cd.rule.versions = r.value("versions", std::vector<std::string>{});
        cd.rule.suites = r.value("suites", std::vector<std::string>{});
        cd.rule.classes = r.value("classes", std::vector<std::string>{});
        def.clauses.push_back(std::move(cd));
      }
      out.push_back(std::move(def));
    }
    return out;
  }();
  return d;
}

std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

int hash_bits(const std::string& h) {
  if (h == "SHA-256") return 128;
  if (h == "SHA-384") return 192;
  if (h == "SHA-512") return 256;
  if (h == "SHA-224") return 112;
  if (h == "SHA-1") return 63;
  return 0;
}

struct Eval {
  std::string verdict, detail;
};

// The versions a suite rule covers: one version, or "any" (every accepted version up to TLS 1.2).
std::vector<std::string> rule_versions(const Facts& f, const std::string& v) {
  if (v != "any") return {v};
  std::vector<std::string> out;
  for (const char* n : {"SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2"})
    if (auto it = f.versions.find(n); it != f.versions.end() && it->second) out.push_back(n);
  return out;
}

Eval evaluate(const Rule& r, const Facts& f) {
  auto accepted = [&](const std::string& v) -> std::optional<bool> {
    auto it = f.versions.find(v);
    if (it == f.versions.end()) return std::nullopt;
    return it->second;
  };
  const std::string& k = r.kind;
  if (k == "version_supported") {
    auto a = accepted(r.version);
    if (!a) return {"not-measured", r.version + " not tested"};
    return {*a ? "pass" : "fail", fmt::format("{} {}", r.version, *a ? "accepted" : "refused")};
  }
  if (k == "version_not_supported") {
    auto a = accepted(r.version);
    if (!a) return {"not-measured", r.version + " not tested"};
    return {*a ? "fail" : "pass", fmt::format("{} {}", r.version, *a ? "accepted" : "refused")};
  }
  if (k == "versions_any") {
    bool all_measured = true;
    for (const auto& v : r.versions) {
      auto a = accepted(v);
      if (a && *a) return {"pass", v + " accepted"};
      if (!a) all_measured = false;
    }
    return {all_measured ? "fail" : "not-measured", "none of " + join(r.versions) + " accepted"};
  }
  if (k == "suites_all" || k == "suites_any" || k == "suites_only") {
    const auto versions = rule_versions(f, r.version);
    std::set<std::string> got;
    bool spoken = false, complete = true;
    for (const auto& v : versions) {
      auto a = accepted(v);
      if (!a) return {"not-measured", v + " not tested"};
      if (!*a) continue;
      spoken = true;
      if (auto it = f.suites.find(v); it != f.suites.end()) got.insert(it->second.begin(), it->second.end());
      if (auto it = f.suites_complete.find(v); it == f.suites_complete.end() || !it->second) complete = false;
    }
    if (!spoken && r.version == "any")
      for (const char* n : {"SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2"})
        if (!accepted(n)) return {"not-measured", std::string(n) + " not tested"};
    if (!spoken)
      return {k == "suites_only" || r.version != "any" ? "pass" : "fail",
              r.version == "any" ? "no TLS version up to 1.2 accepted" : r.version + " not accepted: not applicable"};
    std::vector<std::string> missing, present, extra;
    for (const auto& s : r.suites) (got.count(s) ? present : missing).push_back(s);
    for (const auto& s : got)
      if (std::find(r.suites.begin(), r.suites.end(), s) == r.suites.end()) extra.push_back(s);
    if (k == "suites_all") {
      // A server with one certificate can only accept the suites of its key type: TLS 1.2 suites that
      // authenticate with the other (ECDHE_RSA under an ECDSA certificate, and the reverse) are not expected.
      std::size_t other_key = 0;
      if (!f.chain.empty() && (f.chain.front().key_type == "EC" || f.chain.front().key_type == "RSA")) {
        const std::string other = f.chain.front().key_type == "EC" ? "RSA" : "ECDSA";
        std::vector<std::string> still;
        for (const auto& m : missing) {
          const Suite* s = find_suite(m);
          if (s && other == s->auth) ++other_key;
          else still.push_back(m);
        }
        missing = std::move(still);
      }
      if (missing.empty())
        return {"pass", other_key ? fmt::format("all {} for a {} certificate accepted ({} for the other key type "
                                                "not expected of one certificate)",
                                                r.suites.size() - other_key, f.chain.front().key_type, other_key)
                                  : fmt::format("all {} accepted", r.suites.size())};
      return {complete ? "fail" : "not-measured", "not accepted: " + join(missing)};
    }
    if (k == "suites_any") {
      if (!present.empty()) return {"pass", "accepted: " + join(present)};
      return {complete ? "fail" : "not-measured", "none of the listed suites accepted"};
    }
    if (extra.empty()) return {complete ? "pass" : "not-measured", "only listed suites accepted"};
    return {"fail", "also accepted: " + join(extra)};
  }
  if (k == "no_suite_class") {
    std::vector<std::string> bad;
    for (const auto& [v, list] : f.suites)
      for (const auto& name : list)
        if (const Suite* s = find_suite(name))
          for (const auto& c : r.classes)
            if (s->is(c)) {
              bad.push_back(fmt::format("{} ({}, {})", name, c, v));
              break;
            }
    if (bad.empty()) return {"pass", "no " + join(r.classes, "/") + " suite accepted"};
    return {"fail", join(bad)};
  }
  if (k == "min_key_bits") {
    if (r.key == "rsa" || r.key == "ecdsa") {
      if (f.chain.empty() || !f.chain[0].parsed) return {"not-measured", "no server certificate seen"};
      const CertInfo& c = f.chain[0];
      const bool applies = (r.key == "rsa") == (c.key_type == "RSA") && (c.key_type == "RSA" || c.key_type == "EC");
      if (!applies) return {"pass", fmt::format("{} certificate key: not applicable", c.key_type)};
      if (c.key_bits < r.bits) return {"fail", fmt::format("{} {} bits", c.key_type, c.key_bits)};
      return {"pass", fmt::format("{} {} bits", c.key_type, c.key_bits)};
    }
    if (r.key == "dhe") {
      bool dhe = false;
      for (const auto& [v, list] : f.suites)
        for (const auto& name : list)
          if (const Suite* s = find_suite(name); s && std::string(s->kx) == "DHE") dhe = true;
      std::vector<std::string> small;
      for (const auto& [g, bits] : f.groups)
        if (g.rfind("ffdhe", 0) == 0 && bits < r.bits) small.push_back(g);
      if (f.dhe_bits > 0 && f.dhe_bits < r.bits) small.push_back(fmt::format("DHE {} bits", f.dhe_bits));
      if (!small.empty()) return {"fail", join(small)};
      if (dhe && f.dhe_bits == 0) return {"not-measured", "DHE accepted, group size not seen"};
      return {"pass", dhe ? fmt::format("DHE {} bits", f.dhe_bits) : "no DHE key exchange"};
    }
    if (r.key == "ecdhe") {
      std::vector<std::string> small, notes;
      for (const auto& [g, bits] : f.groups) {
        if (g.rfind("ffdhe", 0) == 0 || bits >= r.bits) continue;
        // X25519 (253 bits, ~128-bit security like P-256) is reported as its own finding, not as a failure.
        if (g == "x25519" && r.bits <= 256) notes.push_back("x25519 (253 bits) accepted: see tls.kex.x25519");
        else small.push_back(fmt::format("{} ({} bits)", g, bits));
      }
      if (!small.empty()) return {"fail", join(small)};
      if (f.groups.empty()) return {"pass", "no ECDHE group seen"};
      return {"pass", notes.empty() ? "every group seen is large enough" : join(notes)};
    }
  }
  if (k == "cert_sig_hash_min") {
    if (f.chain.empty() || !f.chain[0].parsed) return {"not-measured", "no readable server certificate"};
    const int need = hash_bits(r.hash);
    std::vector<std::string> weak;
    for (std::size_t i = 0; i < f.chain.size(); ++i) {
      const CertInfo& c = f.chain[i];
      // The trust anchor's own signature does not matter (RFC 9325 4.5): skip a self-signed CA after the leaf.
      if (!c.parsed || (i > 0 && c.self_signed)) continue;
      if (!c.sig_hash.empty() && c.sig_hash_bits < need)
        weak.push_back(fmt::format("certificate {} signed with {}", i, c.sig_hash));
    }
    if (!weak.empty()) return {"fail", join(weak)};
    return {"pass", "signed with " + (f.chain[0].sig_hash.empty() ? f.chain[0].signature : f.chain[0].sig_hash)};
  }
  auto flag = [&](const std::optional<bool>& v, bool good, const char* what) -> Eval {
    if (!v) return {"not-measured", std::string(what) + " not measured"};
    return {*v == good ? "pass" : "fail", fmt::format("{}: {}", what, *v ? "yes" : "no")};
  };
  const bool legacy = std::any_of(f.versions.begin(), f.versions.end(),
                                  [](const auto& v) { return v.second && v.first != "TLSv1.3"; });
  if (k == "no_compression") return flag(f.compression, false, "compression accepted");
  if (k == "secure_renegotiation") {
    if (!legacy) return {"pass", "TLS 1.3 only: not applicable"};
    return flag(f.secure_renegotiation, true, "secure renegotiation");
  }
  if (k == "extended_master_secret") {
    if (!legacy) return {"pass", "TLS 1.3 only: not applicable"};
    return flag(f.extended_master_secret, true, "extended master secret");
  }
  if (k == "fallback_scsv") {
    const auto n = std::count_if(f.versions.begin(), f.versions.end(), [](const auto& v) { return v.second; });
    if (n < 2) return {"pass", "one version only: not applicable"};
    return flag(f.fallback_scsv, true, "TLS_FALLBACK_SCSV honoured");
  }
  if (k == "alpn_dicom") {
    if (!f.alpn) return {"not-measured", "no handshake completed with ALPN offered"};
    return {*f.alpn == "dicom" ? "pass" : "fail", f.alpn->empty() ? "no ALPN selected" : "selected " + *f.alpn};
  }
  if (k == "client_cert_requested") return flag(f.client_cert_requested, true, "client certificate requested");
  if (k == "not_measurable") return {"not-measured", "cannot be tested from the network"};
  throw std::runtime_error("tls_profiles.json: unknown rule kind " + k);
}

}  // namespace

const std::vector<ProfileInfo>& profiles() {
  static const std::vector<ProfileInfo> v = [] {
    std::vector<ProfileInfo> out;
    for (const auto& d : defs()) out.push_back(d.info);
    return out;
  }();
  return v;
}

std::vector<ProfileResult> grade(const Facts& f) {
  std::vector<ProfileResult> out;
  for (const auto& d : defs()) {
    ProfileResult p{d.info.id, d.info.title, d.info.status, d.info.section, "pass", {}};
    bool unmeasured = false;
    for (const auto& c : d.clauses) {
      Eval e = evaluate(c.rule, f);
      if (e.verdict == "fail") p.verdict = "fail";
      if (e.verdict == "not-measured" && c.rule.kind != "not_measurable") unmeasured = true;
      p.clauses.push_back({c.id, c.section, c.text, c.note, c.rule.kind, e.verdict, e.detail});
    }
    if (p.verdict == "pass" && unmeasured) p.verdict = "not-measured";
    out.push_back(std::move(p));
  }
  return out;
}

int min_key_bits(const std::string& key) {
  int bits = 0;
  for (const auto& d : defs())
    if (d.info.status == "current")
      for (const auto& c : d.clauses)
        if (c.rule.kind == "min_key_bits" && c.rule.key == key) bits = std::max(bits, c.rule.bits);
  return bits;
}

std::optional<Transport> transport_of(const std::string& profile_id) {
  const ProfileDef* def = nullptr;
  for (const ProfileDef& d : defs())
    if (d.info.id == profile_id) def = &d;
  if (!def) return std::nullopt;
  std::set<std::string> ruled_out, only;
  Transport t;
  for (const ClauseDef& c : def->clauses) {
    const Rule& r = c.rule;
    if (r.kind == "version_not_supported") ruled_out.insert(r.version);
    if (r.kind == "versions_any") only.insert(r.versions.begin(), r.versions.end());
    if (r.kind == "suites_any" || r.kind == "suites_all" || r.kind == "suites_only") {
      auto& list = t.suites[r.version];
      for (const auto& s : r.suites)
        if (std::find(list.begin(), list.end(), s) == list.end()) list.push_back(s);
    }
  }
  for (std::uint16_t v : kVersions) {
    const std::string n = version_name(v);
    if (!ruled_out.count(n) && (only.empty() || only.count(n))) t.versions.push_back(n);
  }
  return t;
}

}  // namespace dg::tls
