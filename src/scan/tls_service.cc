#include "scan/tls_service.h"

#include <fmt/format.h>


#include "tls/cert.h"
#include "tls/suites.h"
#include "tls/verdict.h"

namespace dg::scan {

using nlohmann::json;
using namespace dg::tls;

namespace {

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

json cert_json(const CertInfo& c) {
  return {{"subject", c.subject},       {"issuer", c.issuer},       {"not_before", c.not_before},
          {"not_after", c.not_after},   {"days_left", c.days_left}, {"expired", c.expired},
          {"not_yet_valid", c.not_yet_valid}, {"key_type", c.key_type}, {"key_bits", c.key_bits},
          {"curve", c.curve},           {"signature", c.signature}, {"signature_hash", c.sig_hash},
          {"self_signed", c.self_signed}, {"ca", c.ca},              {"san_dns", c.san_dns},
          {"san_ip", c.san_ip},         {"eku", c.eku},             {"sha256", c.sha256}};
}

json opt_bool(const std::optional<bool>& b) { return b ? json(*b) : json(nullptr); }

}  // namespace

Facts tls_facts(const TlsResult& r) { return facts_of(r); }

// The {"type":"tls"} record: what was measured and what the verdicts are (tls::assess), serialized.
Record tls_record(const TlsResult& r, const TlsRecordOptions& opt) {
  Record rec;
  if (!r.tls) return rec;
  rec.type = "tls";
  const std::string target = r.ep.str();
  Verdicts v = assess(r, {target, r.ep.host.empty() ? r.ep.addr.str() : r.ep.host, opt.ca_file});
  json& j = rec.fields;
  j["target"] = target;
  j["address"] = r.ep.addr.str();
  j["port"] = r.ep.port;
  if (!r.ep.host.empty()) j["host"] = r.ep.host;
  j["mode"] = r.full_mode ? "full" : "quick";

  // Versions and suites.
  json versions = json::object(), suites = json::object(), complete = json::object(), order = json::object();
  for (std::uint16_t ver : kVersions) {
    auto it = r.versions.find(ver);
    if (it == r.versions.end()) continue;
    versions[version_name(ver)] = it->second;
    if (!it->second) continue;
    json list = json::array();
    if (auto s = r.suites.find(ver); s != r.suites.end())
      for (std::uint16_t c : s->second) list.push_back(suite_name(c));
    suites[version_name(ver)] = list;
    auto c = r.suites_complete.find(ver);
    complete[version_name(ver)] = c != r.suites_complete.end() && c->second;
    auto o = r.server_order.find(ver);
    order[version_name(ver)] = o != r.server_order.end() && o->second ? json(*o->second) : json(nullptr);
  }
  j["versions"] = versions;
  j["suites"] = suites;
  j["suites_complete"] = complete;
  j["server_preference"] = order;
  json groups = json::object();
  for (const auto& [ver, list] : r.groups) {
    json g = json::array();
    for (std::uint16_t c : list) g.push_back(group_name(c));
    groups[version_name(ver)] = g;
  }
  j["groups"] = groups;
  j["dhe_bits"] = r.dhe_bits > 0 ? json(r.dhe_bits) : json(nullptr);
  json sigs = json::array();
  for (std::uint16_t s : r.sig_algs) sigs.push_back(sig_scheme_name(s));
  j["signature_algorithms"] = sigs;
  j["fallback_scsv"] = opt_bool(r.fallback_scsv);
  j["secure_renegotiation"] = opt_bool(r.secure_renegotiation);
  j["extended_master_secret"] = opt_bool(r.extended_master_secret);
  j["compression"] = opt_bool(r.compression);

  const FullHandshake* h1 = r.find_full("no-certificate");
  j["handshake"] = full_json(h1);
  json alpn = {{"dicom_selected", opt_bool(v.alpn.dicom_selected)},
               {"via", v.alpn.via.empty() ? json(nullptr) : json(v.alpn.via)},
               {"without_dicom", v.alpn.without_dicom.empty() ? json(nullptr) : json(v.alpn.without_dicom)}};
  if (!v.alpn.not_measured.empty()) alpn["not_measured"] = v.alpn.not_measured;
  j["alpn"] = alpn;

  json chain = json::array();
  for (const auto& c : v.facts.chain) chain.push_back(cert_json(c));
  json cert = {{"chain", chain}, {"source", r.chain_source}};
  if (v.cert.name_match) cert["name_match"] = *v.cert.name_match;
  if (v.cert.trusted) {
    cert["trusted"] = *v.cert.trusted;
    if (!*v.cert.trusted) cert["trust_error"] = v.cert.trust_error;
  }
  j["certificate"] = cert;
  j["client_auth"] = {{"verdict", client_auth_name(v.client_auth)},
                      {"no_certificate", full_json(h1)},
                      {"untrusted_certificate", full_json(r.find_full("untrusted-certificate"))},
                      {"configured_certificate", full_json(r.find_full("configured-certificate"))}};
  j["dicom"] = {{"association", v.dicom.association}, {"via", v.dicom.via.empty() ? json(nullptr) : json(v.dicom.via)}};
  if (!v.dicom.not_measured.empty()) j["dicom"]["not_measured"] = v.dicom.not_measured;

  json profiles = json::object();
  for (const auto& p : v.graded) {
    json failed = json::array(), clauses = json::array();
    for (const auto& c : p.clauses) {
      json cj = {{"id", c.id}, {"section", c.section}, {"text", c.text}, {"verdict", c.verdict}, {"detail", c.detail}};
      if (c.verdict == "fail") failed.push_back(cj);
      clauses.push_back(cj);
    }
    profiles[p.id] = {{"title", p.title},   {"status", p.status}, {"section", p.section},
                      {"verdict", p.verdict}, {"failed", failed},  {"clauses", clauses}};
  }
  j["profiles"] = profiles;
  j["meets"] = v.meets;
  j["handshakes"] = r.handshakes;
  j["retries"] = r.retries;
  j["budget_exhausted"] = r.budget_exhausted;

  rec.status = v.current ? "pass" : "fail";
  json grades = json::array();
  for (const auto& p : v.graded) grades.push_back({{"profile", p.id}, {"verdict", p.verdict}});
  rec.note("tls.profiles", {{"profiles", grades}});
  if (!v.alpn.not_measured.empty()) rec.note("tls.alpn-not-measured", {{"reason", v.alpn.not_measured}});
  for (const auto* p : {v.b12, v.b13})
    if (p && p->verdict != "pass")
      for (const auto& c : p->clauses)
        if (c.verdict != "pass" && c.rule_kind != "not_measurable")
          rec.note("tls.clause", {{"profile", p->id}, {"verdict", c.verdict}, {"clause", c.id}, {"detail", c.detail}});
  rec.findings = std::move(v.findings);
  return rec;
}

Record TlsProbe::record(const RecordOptions& opt) const { return tls_record(r_, opt); }

ProbeFacts TlsProbe::facts() const {
  ProbeFacts f;
  f.answer = r_.tls ? "tls" : r_.answer.empty() ? "no-answer" : r_.answer;
  f.handshakes = static_cast<std::uint64_t>(r_.handshakes);
  if (auto c = gmt_unix_time_observation(r_.gmt, ep_.str())) f.clock.push_back(std::move(*c));
  // DICOM answered inside the TLS: an association accepted or rejected is DICOM speaking.
  for (const auto& h : r_.full)
    if (h.dicom == "accepted" || h.dicom == "rejected") f.dicom = true;
  if (f.dicom) f.protocol = Protocol::dimse_tls;
  return f;
}

}  // namespace dg::scan
