#include "tls/verdict.h"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <set>

#include "tls/cert.h"
#include "tls/suites.h"

namespace dg::tls {

const char* client_auth_name(ClientAuth c) {
  switch (c) {
    case ClientAuth::not_measured: return "not-measured";
    case ClientAuth::not_requested: return "not-requested";
    case ClientAuth::optional: return "optional";
    case ClientAuth::any_certificate: return "any-certificate";
    case ClientAuth::enforced: return "enforced";
    case ClientAuth::required: return "required";
  }
  return "not-measured";
}

namespace {

// A handshake that got an answer: one that timed out (even when asked twice) measured nothing, and is no refusal.
const FullHandshake* answered(const FullHandshake* f) { return f && !f->timed_out ? f : nullptr; }

// ALPN as the server chose it when offered "dicom": from the first of the handshakes offering it that completed
// (the server's choice does not depend on the client certificate), so that one stalled handshake does not lose it.
const FullHandshake* alpn_source(const Measurement& m) {
  for (const char* purpose : {"no-certificate", "configured-certificate", "untrusted-certificate"})
    if (const FullHandshake* f = m.find_full(purpose); f && f->session && f->alpn_offered == "dicom") return f;
  return nullptr;
}

bool dicom_answer(const FullHandshake* f) {
  return f && f->associated && (f->dicom == "accepted" || f->dicom == "rejected" || f->dicom == "aborted");
}

std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

}  // namespace

std::string why_not_measured(const FullHandshake& f) {
  if (f.timed_out)
    return fmt::format("{}: no answer within the timeout{}", f.purpose, f.retries > 0 ? ", asked twice" : "");
  if (!f.failure.empty()) return fmt::format("{}: {}", f.purpose, f.failure);
  return fmt::format("{}: {}", f.purpose, f.dicom.empty() ? "the handshake did not complete" : f.dicom);
}

Facts facts_of(const Measurement& r) {
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
  if (const FullHandshake* h1 = answered(r.find_full("no-certificate"))) {
    if (h1->session || h1->cert_requested || r.cert_request_in_hello)
      f.client_cert_requested = h1->cert_requested || r.cert_request_in_hello;
  }
  return f;
}

Verdicts assess(const Measurement& r, const AssessOptions& o) {
  using nlohmann::json;
  Verdicts v;
  v.facts = facts_of(r);
  const FullHandshake* h1 = r.find_full("no-certificate");
  const FullHandshake* h2 = r.find_full("no-dicom-alpn");
  const FullHandshake* h3 = r.find_full("untrusted-certificate");
  const FullHandshake* h4 = r.find_full("configured-certificate");

  // ALPN: measured from a completed handshake offering "dicom", or not measured, and then why: a handshake that
  // timed out is neither a "dicom" nor a refusal.
  const FullHandshake* alpn_from = alpn_source(r);
  if (alpn_from) {
    v.alpn.dicom_selected = alpn_from->session->alpn == "dicom";
    v.alpn.via = alpn_from->purpose;
  } else if (h1) {
    std::vector<std::string> why;
    for (const FullHandshake* h : {h1, h4, h3})
      if (h) why.push_back(why_not_measured(*h));
    v.alpn.not_measured = "no handshake offering \"dicom\" completed (" + join(why, "; ") + ")";
  }
  if (h2) v.alpn.without_dicom = h2->handshake ? "accepted" : h2->timed_out ? "not-measured" : "refused";

  // The certificate's name and trust.
  if (!r.chain.empty()) {
    v.cert.name_match = certificate_matches(r.chain[0], o.name);
    ChainCheck cc = verify_chain(r.chain, o.ca_file);
    v.cert.trusted = cc.trusted;
    if (!cc.trusted) v.cert.trust_error = cc.error;
  }

  // Client authentication, from the handshakes without a certificate, with an untrusted one, and a given one.
  // One that timed out is no refusal: it does not count.
  const FullHandshake* c1 = answered(h1);
  const FullHandshake* c3 = answered(h3);
  const FullHandshake* c4 = answered(h4);
  // A CertificateRequest seen in any handshake (OpenSSL's, failed or not, or our own TLS 1.2 hellos).
  const bool requested = (h1 && h1->cert_requested) || (h3 && h3->cert_requested) || r.cert_request_in_hello;
  if (c1) {
    if (c1->passed()) v.client_auth = requested ? ClientAuth::optional : ClientAuth::not_requested;
    else if (c3 && c3->passed()) v.client_auth = ClientAuth::any_certificate;
    else if (requested && c3) v.client_auth = ClientAuth::enforced;  // refused without one and with an untrusted one
    else if (requested && c4 && c4->passed()) v.client_auth = ClientAuth::enforced;
    else if (requested) v.client_auth = ClientAuth::required;  // quick mode, or the untrusted one got no answer
  } else if (c3 && c3->passed()) {
    v.client_auth = ClientAuth::any_certificate;  // no answer without a certificate; an untrusted one got in
  }

  // DICOM inside the TLS.
  for (const FullHandshake* h : {h1, h4, h3})
    if (dicom_answer(h)) {
      v.dicom.association = h->dicom;
      v.dicom.via = h->purpose;
      break;
    }
  // No DICOM answer where an association was tried; not when every such handshake got no answer at all.
  if (v.dicom.association == "not-measured" && ((c1 && c1->associated) || (c4 && c4->associated)))
    v.dicom.association = "no-dicom-answer";
  if (v.dicom.association == "not-measured" && ((h1 && h1->associated) || (h4 && h4->associated))) {
    std::vector<std::string> why;
    for (const FullHandshake* h : {h1, h4, h3})
      if (h && h->associated) why.push_back(why_not_measured(*h));
    v.dicom.not_measured = join(why, "; ");
  }

  // Profiles.
  v.graded = grade(v.facts);
  for (const auto& p : v.graded) {
    if (p.verdict == "pass") v.meets.push_back(p.id);
    if (p.id == "B.12") v.b12 = &p;
    if (p.id == "B.13") v.b13 = &p;
  }
  v.current = (v.b12 && v.b12->verdict == "pass") || (v.b13 && v.b13->verdict == "pass");

  // Findings.
  auto add = [&](const char* id, json ev, std::string title = {}) {
    v.findings.push_back(make_finding(id, o.target, std::move(ev), std::move(title)));
  };
  if (!v.current) {
    json failed = json::object();
    std::vector<std::string> why;
    for (const auto* p : {v.b12, v.b13}) {
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
  for (const char* ver : {"SSLv3", "TLSv1.0", "TLSv1.1"})
    if (v.facts.versions.count(ver) && v.facts.versions[ver]) legacy.push_back(ver);
  if (!legacy.empty()) add("tls.version.legacy", {{"versions", legacy}}, "Accepts deprecated " + join(legacy));
  json weak = json::array();
  std::vector<std::string> weak_names;
  for (const auto& [ver, list] : r.suites)
    for (std::uint16_t c : list)
      if (const Suite* s = find_suite(c); s && weak_suite(*s)) {
        weak.push_back({{"version", version_name(ver)}, {"suite", s->name}, {"reason", weak_reason(*s)}});
        if (std::find(weak_names.begin(), weak_names.end(), s->name) == weak_names.end()) weak_names.push_back(s->name);
      }
  if (!weak.empty())
    add("tls.cipher.weak", {{"suites", weak}},
        fmt::format("Accepts {} weak cipher suite{}: {}", weak_names.size(), weak_names.size() == 1 ? "" : "s",
                    join(weak_names)));
  const int min_rsa = min_key_bits("rsa"), min_ecdsa = min_key_bits("ecdsa"), min_dhe = min_key_bits("dhe"),
            min_ecdhe = min_key_bits("ecdhe");
  if (!v.facts.chain.empty() && v.facts.chain[0].parsed) {
    const CertInfo& leaf = v.facts.chain[0];
    if (leaf.expired) add("tls.cert.expired", {{"not_after", leaf.not_after}}, "Certificate expired on " + leaf.not_after);
    if (leaf.not_yet_valid)
      add("tls.cert.not-yet-valid", {{"not_before", leaf.not_before}}, "Certificate not valid before " + leaf.not_before);
    if (leaf.self_signed) add("tls.cert.self-signed", {{"subject", leaf.subject}, {"sha256", leaf.sha256}});
    const bool small = ((leaf.key_type == "RSA" || leaf.key_type == "DSA") && leaf.key_bits < min_rsa) ||
                       (leaf.key_type == "EC" && leaf.key_bits < min_ecdsa);
    if (small)
      add("tls.cert.weak-key", {{"key_type", leaf.key_type}, {"key_bits", leaf.key_bits}},
          fmt::format("Certificate key is {} {} bits", leaf.key_type, leaf.key_bits));
    for (std::size_t i = 0; i < v.facts.chain.size(); ++i) {
      const CertInfo& c = v.facts.chain[i];
      if (i > 0 && c.self_signed) continue;
      if (c.sig_hash == "SHA-1" || c.sig_hash == "MD5") {
        add("tls.cert.weak-signature", {{"certificate", i}, {"signature", c.signature}},
            fmt::format("Certificate {} is signed with {}",
                        i == 0 ? std::string("of the server") : fmt::format("{} of the chain", i), c.sig_hash));
        break;
      }
    }
    // Not trusted because of its dates only: tls.cert.expired / not-yet-valid say it already.
    if (!leaf.self_signed && !leaf.expired && !leaf.not_yet_valid && v.cert.trusted && !*v.cert.trusted)
      add("tls.cert.untrusted", {{"reason", v.cert.trust_error}},
          "Certificate chain does not verify: " + (v.cert.trust_error.empty() ? std::string("unknown reason") : v.cert.trust_error));
  }
  const ClientAuth ca = v.client_auth;
  if (ca == ClientAuth::not_requested || ca == ClientAuth::optional || ca == ClientAuth::any_certificate) {
    std::string t = ca == ClientAuth::any_certificate ? "Accepts any client certificate, even an untrusted self-signed one"
                    : ca == ClientAuth::optional      ? "Asks for a client certificate but connects clients without one"
                                            : "Connects clients without a certificate (mutual TLS not used)";
    add("tls.client-auth.not-required", {{"client_auth", client_auth_name(ca)}, {"association", v.dicom.association}}, t);
  }
  // Only for DICOM (an association was tried): an HTTPS API has no reason to select "dicom".
  if (alpn_from && alpn_from->associated && alpn_from->session->alpn != "dicom")
    add("tls.alpn.dicom-missing",
        {{"selected", alpn_from->session->alpn}, {"via", alpn_from->purpose},
         {"without_dicom", v.alpn.without_dicom.empty() ? json(nullptr) : json(v.alpn.without_dicom)}});
  bool x25519 = false;
  std::vector<std::string> small_kx;
  for (const auto& [g, bits] : v.facts.groups) {
    if (g == "x25519") x25519 = true;
    else if (g.rfind("ffdhe", 0) == 0 ? bits < min_dhe : bits < min_ecdhe)
      small_kx.push_back(fmt::format("{} ({} bits)", g, bits));
  }
  if (r.dhe_bits > 0 && r.dhe_bits < min_dhe) small_kx.push_back(fmt::format("DHE {} bits", r.dhe_bits));
  if (x25519) add("tls.kex.x25519", {{"group", "x25519"}, {"bits", 253}});
  if (!small_kx.empty()) add("tls.kex.weak", {{"groups", small_kx}}, "Small key exchange: " + join(small_kx));
  if (r.fallback_scsv && !*r.fallback_scsv) add("tls.fallback-scsv.missing", json::object());
  // Renegotiation and EMS exist up to TLS 1.2 only.
  const bool pre13 = std::any_of(v.facts.versions.begin(), v.facts.versions.end(),
                                 [](const auto& x) { return x.second && x.first != "TLSv1.3"; });
  if (pre13 && r.secure_renegotiation && !*r.secure_renegotiation) add("tls.renegotiation.insecure", json::object());
  if (pre13 && r.extended_master_secret && !*r.extended_master_secret) add("tls.ems.missing", json::object());
  if (r.compression && *r.compression) add("tls.compression", json::object());
  if (v.dicom.association == "no-dicom-answer") add("tls.dicom.absent", {{"no_certificate", h1 ? h1->dicom : ""}});
  return v;
}

}  // namespace dg::tls
