#include "scan/tls_service.h"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <set>

#include "tls/cert.h"
#include "tls/suites.h"

namespace dg::scan {

using nlohmann::json;
using namespace dg::tls;

namespace {

const FullHandshake* find_full(const TlsResult& r, const std::string& purpose) {
  for (const auto& f : r.full)
    if (f.purpose == purpose) return &f;
  return nullptr;
}

json full_json(const FullHandshake* f) {
  if (!f) return nullptr;
  json j = {{"handshake", f->handshake}, {"alpn_offered", f->alpn_offered},
            {"certificate_requested", f->cert_requested}};
  if (!f->failure.empty()) j["failure"] = f->failure;
  if (f->timed_out) j["timed_out"] = true;
  if (f->retries > 0) j["retries"] = f->retries;
  if (f->session) {
    j["version"] = f->session->version;
    j["cipher"] = f->session->cipher;
    j["group"] = f->session->group;
    j["alpn"] = f->session->alpn;
    j["certificate_sent"] = f->session->cert_sent;
  }
  if (f->associated) {
    j["association"] = f->dicom;
    if (!f->dicom_detail.empty()) j["association_detail"] = f->dicom_detail;
  }
  j["passed"] = f->passed();
  return j;
}

// A handshake that got an answer: one that timed out (even when asked twice) measured nothing, and is no refusal.
const FullHandshake* answered(const FullHandshake* f) { return f && !f->timed_out ? f : nullptr; }

// ALPN as the server chose it when offered "dicom": from the first of the handshakes offering it that completed
// (the server's choice does not depend on the client certificate), so that one stalled handshake does not lose it.
const FullHandshake* alpn_source(const TlsResult& r) {
  for (const char* purpose : {"no-certificate", "configured-certificate", "untrusted-certificate"})
    if (const FullHandshake* f = find_full(r, purpose); f && f->session && f->alpn_offered == "dicom") return f;
  return nullptr;
}

// Why a full handshake measured nothing, for the record.
std::string why_not(const FullHandshake& f) {
  if (f.timed_out)
    return fmt::format("{}: no answer within the timeout{}", f.purpose, f.retries > 0 ? ", asked twice" : "");
  if (!f.failure.empty()) return fmt::format("{}: {}", f.purpose, f.failure);
  return fmt::format("{}: {}", f.purpose, f.dicom.empty() ? "the handshake did not complete" : f.dicom);
}

bool dicom_answer(const FullHandshake* f) {
  return f && f->associated && (f->dicom == "accepted" || f->dicom == "rejected" || f->dicom == "aborted");
}

json cert_json(const CertInfo& c) {
  return {{"subject", c.subject},       {"issuer", c.issuer},       {"not_before", c.not_before},
          {"not_after", c.not_after},   {"days_left", c.days_left}, {"expired", c.expired},
          {"not_yet_valid", c.not_yet_valid}, {"key_type", c.key_type}, {"key_bits", c.key_bits},
          {"curve", c.curve},           {"signature", c.signature}, {"signature_hash", c.sig_hash},
          {"self_signed", c.self_signed}, {"ca", c.ca},              {"san_dns", c.san_dns},
          {"san_ip", c.san_ip},         {"eku", c.eku},             {"sha256", c.sha256}};
}

std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

}  // namespace

Facts tls_facts(const TlsResult& r) {
  Facts f;
  for (const auto& [v, ok] : r.versions) f.versions[version_name(v)] = ok;
  for (const auto& [v, list] : r.suites)
    for (std::uint16_t c : list) f.suites[version_name(v)].push_back(suite_name(c));
  for (const auto& [v, done] : r.suites_complete) f.suites_complete[version_name(v)] = done;
  std::set<std::uint16_t> seen;
  for (const auto& [v, list] : r.groups)
    for (std::uint16_t g : list)
      if (seen.insert(g).second) {
        const Group* info = find_group(g);
        f.groups.emplace_back(group_name(g), info ? info->bits : 0);
      }
  // A group negotiated by OpenSSL (e.g. TLS 1.3 in quick mode) counts too.
  for (const auto& h : r.full)
    if (h.session && !h.session->group.empty()) {
      std::string n = h.session->group;
      std::transform(n.begin(), n.end(), n.begin(), [](unsigned char ch) { return std::tolower(ch); });
      if (n == "prime256v1" || n == "p-256") n = "secp256r1";
      if (n == "p-384") n = "secp384r1";
      if (n == "p-521") n = "secp521r1";
      for (const Group& g : all_groups())
        if (n == g.name && seen.insert(g.code).second) f.groups.emplace_back(g.name, g.bits);
    }
  f.dhe_bits = r.dhe_bits;
  const std::time_t now = std::time(nullptr);
  for (const auto& der : r.chain) f.chain.push_back(parse_certificate(der, now));
  f.compression = r.compression;
  f.secure_renegotiation = r.secure_renegotiation;
  f.extended_master_secret = r.extended_master_secret;
  f.fallback_scsv = r.fallback_scsv;
  if (const FullHandshake* a = alpn_source(r)) f.alpn = a->session->alpn;
  if (const FullHandshake* h1 = answered(find_full(r, "no-certificate"))) {
    if (h1->session || h1->cert_requested || r.cert_request_in_hello)
      f.client_cert_requested = h1->cert_requested || r.cert_request_in_hello;
  }
  return f;
}

Record tls_record(const TlsResult& r, const TlsRecordOptions& opt) {
  Record rec;
  if (!r.tls) return rec;
  rec.type = "tls";
  const std::string target = r.ep.str();
  Facts facts = tls_facts(r);
  json& j = rec.fields;
  j["target"] = target;
  j["address"] = r.ep.addr.str();
  j["port"] = r.ep.port;
  if (!r.ep.host.empty()) j["host"] = r.ep.host;
  j["mode"] = r.full_mode ? "full" : "quick";

  // Versions and suites.
  json versions = json::object(), suites = json::object(), complete = json::object(), order = json::object();
  std::vector<std::string> accepted_versions;
  for (std::uint16_t v : kVersions) {
    auto it = r.versions.find(v);
    if (it == r.versions.end()) continue;
    versions[version_name(v)] = it->second;
    if (!it->second) continue;
    accepted_versions.push_back(version_name(v));
    json list = json::array();
    if (auto s = r.suites.find(v); s != r.suites.end())
      for (std::uint16_t c : s->second) list.push_back(suite_name(c));
    suites[version_name(v)] = list;
    auto c = r.suites_complete.find(v);
    complete[version_name(v)] = c != r.suites_complete.end() && c->second;
    auto o = r.server_order.find(v);
    order[version_name(v)] = o != r.server_order.end() && o->second ? json(*o->second) : json(nullptr);
  }
  j["versions"] = versions;
  j["suites"] = suites;
  j["suites_complete"] = complete;
  j["server_preference"] = order;
  json groups = json::object();
  for (const auto& [v, list] : r.groups) {
    json g = json::array();
    for (std::uint16_t c : list) g.push_back(group_name(c));
    groups[version_name(v)] = g;
  }
  j["groups"] = groups;
  j["dhe_bits"] = r.dhe_bits > 0 ? json(r.dhe_bits) : json(nullptr);
  json sigs = json::array();
  for (std::uint16_t s : r.sig_algs) sigs.push_back(sig_scheme_name(s));
  j["signature_algorithms"] = sigs;
  auto opt_bool = [](const std::optional<bool>& b) { return b ? json(*b) : json(nullptr); };
  j["fallback_scsv"] = opt_bool(r.fallback_scsv);
  j["secure_renegotiation"] = opt_bool(r.secure_renegotiation);
  j["extended_master_secret"] = opt_bool(r.extended_master_secret);
  j["compression"] = opt_bool(r.compression);

  const FullHandshake* h1 = find_full(r, "no-certificate");
  const FullHandshake* h2 = find_full(r, "no-dicom-alpn");
  const FullHandshake* h3 = find_full(r, "untrusted-certificate");
  const FullHandshake* h4 = find_full(r, "configured-certificate");
  j["handshake"] = full_json(h1);
  // ALPN: measured from a completed handshake offering "dicom", or not measured, and then why: a handshake that
  // timed out is neither a "dicom" nor a refusal.
  const FullHandshake* alpn_from = alpn_source(r);
  json alpn = {{"dicom_selected", nullptr}, {"via", nullptr}, {"without_dicom", nullptr}};
  std::string alpn_unmeasured;
  if (alpn_from) {
    alpn["dicom_selected"] = alpn_from->session->alpn == "dicom";
    alpn["via"] = alpn_from->purpose;
  } else if (h1) {
    std::vector<std::string> why;
    for (const FullHandshake* h : {h1, h4, h3})
      if (h) why.push_back(why_not(*h));
    alpn_unmeasured = "no handshake offering \"dicom\" completed (" + join(why, "; ") + ")";
    alpn["not_measured"] = alpn_unmeasured;
  }
  if (h2) alpn["without_dicom"] = h2->handshake ? "accepted" : h2->timed_out ? "not-measured" : "refused";
  j["alpn"] = alpn;

  // Certificate.
  json chain = json::array();
  for (const auto& c : facts.chain) chain.push_back(cert_json(c));
  json cert = {{"chain", chain}, {"source", r.chain_source}};
  std::optional<bool> name_match;
  if (!r.chain.empty()) {
    name_match = certificate_matches(r.chain[0], r.ep.host.empty() ? r.ep.addr.str() : r.ep.host);
    cert["name_match"] = *name_match;
    ChainCheck cc = verify_chain(r.chain, opt.ca_file);
    cert["trusted"] = cc.trusted;
    if (!cc.trusted) cert["trust_error"] = cc.error;
  }
  j["certificate"] = cert;

  // Client authentication, from the handshakes without a certificate, with an untrusted one, and a given one.
  // One that timed out is no refusal: it does not count.
  std::string client_auth = "not-measured";
  const FullHandshake* c1 = answered(h1);
  const FullHandshake* c3 = answered(h3);
  const FullHandshake* c4 = answered(h4);
  // A CertificateRequest seen in any handshake (OpenSSL's, failed or not, or our own TLS 1.2 hellos).
  const bool requested = (h1 && h1->cert_requested) || (h3 && h3->cert_requested) || r.cert_request_in_hello;
  if (c1) {
    if (c1->passed()) client_auth = requested ? "optional" : "not-requested";
    else if (c3 && c3->passed()) client_auth = "any-certificate";
    else if (requested && c3) client_auth = "enforced";    // refused without one and with an untrusted one
    else if (requested && c4 && c4->passed()) client_auth = "enforced";
    else if (requested) client_auth = "required";  // quick mode, or the untrusted one got no answer
  } else if (c3 && c3->passed()) {
    client_auth = "any-certificate";  // no answer without a certificate; an untrusted one got in
  }
  j["client_auth"] = {{"verdict", client_auth},
                      {"no_certificate", full_json(h1)},
                      {"untrusted_certificate", full_json(h3)},
                      {"configured_certificate", full_json(h4)}};

  // DICOM inside the TLS.
  std::string dicom = "not-measured", via;
  for (const FullHandshake* h : {h1, h4, h3})
    if (dicom_answer(h)) {
      dicom = h->dicom;
      via = h->purpose;
      break;
    }
  // No DICOM answer where an association was tried; not when every such handshake got no answer at all.
  if (dicom == "not-measured" && ((c1 && c1->associated) || (c4 && c4->associated))) dicom = "no-dicom-answer";
  j["dicom"] = {{"association", dicom}, {"via", via.empty() ? json(nullptr) : json(via)}};
  if (dicom == "not-measured" && ((h1 && h1->associated) || (h4 && h4->associated))) {
    std::vector<std::string> why;
    for (const FullHandshake* h : {h1, h4, h3})
      if (h && h->associated) why.push_back(why_not(*h));
    j["dicom"]["not_measured"] = join(why, "; ");
  }

  // Profiles.
  const auto graded = grade(facts);
  json profiles = json::object();
  std::vector<std::string> meets, summary;
  const ProfileResult* b12 = nullptr;
  const ProfileResult* b13 = nullptr;
  for (const auto& p : graded) {
    json failed = json::array(), clauses = json::array();
    for (const auto& c : p.clauses) {
      json cj = {{"id", c.id}, {"section", c.section}, {"text", c.text}, {"verdict", c.verdict}, {"detail", c.detail}};
      if (c.verdict == "fail") failed.push_back(cj);
      clauses.push_back(cj);
    }
    profiles[p.id] = {{"title", p.title},   {"status", p.status}, {"section", p.section},
                      {"verdict", p.verdict}, {"failed", failed},  {"clauses", clauses}};
    if (p.verdict == "pass") meets.push_back(p.id);
    summary.push_back(fmt::format("{} {}", p.id, p.verdict));
    if (p.id == "B.12") b12 = &p;
    if (p.id == "B.13") b13 = &p;
  }
  j["profiles"] = profiles;
  j["meets"] = meets;
  j["handshakes"] = r.handshakes;
  j["retries"] = r.retries;
  j["budget_exhausted"] = r.budget_exhausted;

  const bool current = (b12 && b12->verdict == "pass") || (b13 && b13->verdict == "pass");
  rec.status = current ? "pass" : "fail";
  rec.subject = fmt::format("{} tls {}{}", target, accepted_versions.empty() ? "no-common-version" : join(accepted_versions, ","),
                            dicom == "accepted" || dicom == "rejected" || dicom == "aborted" ? " dicom" : "");
  rec.lines.push_back("profiles: " + join(summary, ", "));
  if (!alpn_unmeasured.empty()) rec.lines.push_back("alpn not measured: " + alpn_unmeasured);
  for (const auto* p : {b12, b13})
    if (p && p->verdict != "pass")
      for (const auto& c : p->clauses)
        if (c.verdict != "pass" && c.rule_kind != "not_measurable")
          rec.lines.push_back(fmt::format("  {} {} {}: {}", p->id, c.verdict, c.id,
                                          c.detail.size() > 200 ? c.detail.substr(0, 197) + "..." : c.detail));

  // Findings.
  auto add = [&](const char* id, json ev, std::string title = {}) {
    rec.findings.push_back(make_finding(id, target, std::move(ev), std::move(title)));
  };
  if (!current) {
    json failed = json::object();
    std::vector<std::string> why;
    for (const auto* p : {b12, b13}) {
      if (!p) continue;
      json ids = json::array();
      for (const auto& c : p->clauses)
        if (c.verdict == "fail") ids.push_back({{"id", c.id}, {"section", c.section}, {"detail", c.detail}});
      failed[p->id] = ids;
      why.push_back(fmt::format("{} {} ({} clause{} failed)", p->id, p->verdict, ids.size(), ids.size() == 1 ? "" : "s"));
    }
    add("tls.profile.none", {{"failed", failed}}, "Meets neither current DICOM TLS profile: " + join(why, ", "));
  }
  std::vector<std::string> legacy;
  for (const char* v : {"SSLv3", "TLSv1.0", "TLSv1.1"})
    if (facts.versions.count(v) && facts.versions[v]) legacy.push_back(v);
  if (!legacy.empty()) add("tls.version.legacy", {{"versions", legacy}}, "Accepts deprecated " + join(legacy));
  json weak = json::array();
  std::vector<std::string> weak_names;
  for (const auto& [v, list] : r.suites)
    for (std::uint16_t c : list)
      if (const Suite* s = find_suite(c); s && weak_suite(*s)) {
        weak.push_back({{"version", version_name(v)}, {"suite", s->name}, {"reason", weak_reason(*s)}});
        if (std::find(weak_names.begin(), weak_names.end(), s->name) == weak_names.end()) weak_names.push_back(s->name);
      }
  if (!weak.empty())
    add("tls.cipher.weak", {{"suites", weak}},
        fmt::format("Accepts {} weak cipher suite{}: {}", weak_names.size(), weak_names.size() == 1 ? "" : "s",
                    join(weak_names)));
  if (!facts.chain.empty() && facts.chain[0].parsed) {
    const CertInfo& leaf = facts.chain[0];
    if (leaf.expired) add("tls.cert.expired", {{"not_after", leaf.not_after}}, "Certificate expired on " + leaf.not_after);
    if (leaf.not_yet_valid)
      add("tls.cert.not-yet-valid", {{"not_before", leaf.not_before}}, "Certificate not valid before " + leaf.not_before);
    if (leaf.self_signed) add("tls.cert.self-signed", {{"subject", leaf.subject}, {"sha256", leaf.sha256}});
    const bool small = ((leaf.key_type == "RSA" || leaf.key_type == "DSA") && leaf.key_bits < 2048) ||
                       (leaf.key_type == "EC" && leaf.key_bits < 256);
    if (small)
      add("tls.cert.weak-key", {{"key_type", leaf.key_type}, {"key_bits", leaf.key_bits}},
          fmt::format("Certificate key is {} {} bits", leaf.key_type, leaf.key_bits));
    for (std::size_t i = 0; i < facts.chain.size(); ++i) {
      const CertInfo& c = facts.chain[i];
      if (i > 0 && c.self_signed) continue;
      if (c.sig_hash == "SHA-1" || c.sig_hash == "MD5") {
        add("tls.cert.weak-signature", {{"certificate", i}, {"signature", c.signature}},
            fmt::format("Certificate {} is signed with {}", i == 0 ? std::string("of the server") : fmt::format("{} of the chain", i), c.sig_hash));
        break;
      }
    }
    // Not trusted because of its dates only: tls.cert.expired / not-yet-valid say it already.
    if (!leaf.self_signed && !leaf.expired && !leaf.not_yet_valid && cert.contains("trusted") &&
        !cert["trusted"].get<bool>())
      add("tls.cert.untrusted", {{"reason", cert.value("trust_error", "")}},
          "Certificate chain does not verify: " + cert.value("trust_error", std::string("unknown reason")));
  }
  if (client_auth == "not-requested" || client_auth == "optional" || client_auth == "any-certificate") {
    std::string t = client_auth == "any-certificate"
                        ? "Accepts any client certificate, even an untrusted self-signed one"
                        : client_auth == "optional" ? "Asks for a client certificate but connects clients without one"
                                                    : "Connects clients without a certificate (mutual TLS not used)";
    add("tls.client-auth.not-required", {{"client_auth", client_auth}, {"association", dicom}}, t);
  }
  // Only for DICOM (an association was tried): an HTTPS API has no reason to select "dicom".
  if (alpn_from && alpn_from->associated && alpn_from->session->alpn != "dicom")
    add("tls.alpn.dicom-missing",
        {{"selected", alpn_from->session->alpn}, {"via", alpn_from->purpose},
         {"without_dicom", alpn["without_dicom"]}});
  bool x25519 = false;
  std::vector<std::string> small_kx;
  for (const auto& [g, bits] : facts.groups) {
    if (g == "x25519") x25519 = true;
    else if (g.rfind("ffdhe", 0) == 0 ? bits < 2048 : bits < 256) small_kx.push_back(fmt::format("{} ({} bits)", g, bits));
  }
  if (r.dhe_bits > 0 && r.dhe_bits < 2048) small_kx.push_back(fmt::format("DHE {} bits", r.dhe_bits));
  if (x25519) add("tls.kex.x25519", {{"group", "x25519"}, {"bits", 253}});
  if (!small_kx.empty()) add("tls.kex.weak", {{"groups", small_kx}}, "Small key exchange: " + join(small_kx));
  if (r.fallback_scsv && !*r.fallback_scsv) add("tls.fallback-scsv.missing", json::object());
  // Renegotiation and EMS exist up to TLS 1.2 only.
  const bool pre13 = std::any_of(facts.versions.begin(), facts.versions.end(),
                                 [](const auto& v) { return v.second && v.first != "TLSv1.3"; });
  if (pre13 && r.secure_renegotiation && !*r.secure_renegotiation) add("tls.renegotiation.insecure", json::object());
  if (pre13 && r.extended_master_secret && !*r.extended_master_secret) add("tls.ems.missing", json::object());
  if (r.compression && *r.compression) add("tls.compression", json::object());
  if (dicom == "no-dicom-answer") add("tls.dicom.absent", {{"no_certificate", h1 ? h1->dicom : ""}});
  return rec;
}

}  // namespace dg::scan
