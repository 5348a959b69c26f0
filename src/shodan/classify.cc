#include "shodan/classify.h"

#include <algorithm>
#include <cctype>
#include <span>

#include "dicom/pdu.h"

namespace dg::shodan {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool has(std::string_view hay, std::string_view needle) { return lower(hay).find(needle) != std::string::npos; }

// "Implementation Class UID: 1.2.3" in a textual DICOM banner.
std::string text_field(const std::string& data, std::initializer_list<std::string_view> names) {
  const std::string l = lower(data);
  for (std::string_view n : names) {
    const auto at = l.find(n);
    if (at == std::string::npos) continue;
    std::size_t b = at + n.size();
    while (b < data.size() && (data[b] == ':' || data[b] == ' ' || data[b] == '\t' || data[b] == '=')) ++b;
    std::size_t e = b;
    while (e < data.size() && data[e] != '\r' && data[e] != '\n' && e - b < 64) ++e;
    std::string v = data.substr(b, e - b);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.pop_back();
    if (!v.empty()) return v;
  }
  return {};
}

bool from_pdu(const Observation& o, Verdict& v) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(o.data.data());
  if (o.data.size() < 10 || p[1] != 0) return false;
  if (p[0] == 0x03 && o.data.size() >= 10) {  // A-ASSOCIATE-RJ: 6-byte header, length 4
    const std::uint32_t len = (std::uint32_t{p[2]} << 24) | (p[3] << 16) | (p[4] << 8) | p[5];
    if (len != 4) return false;
    v.recognised_by = "a-associate-rj";
    v.association = "rejected";
    v.reject_reason = dicom::pdu::rj_reason_name(p[8], p[9]);
    return true;
  }
  if (p[0] != 0x02) return false;
  std::string err;
  const auto total = dicom::pdu::total_length(std::span(p, 6), err);
  if (!total || *total > o.data.size()) return false;
  const dicom::pdu::Parsed parsed = dicom::pdu::parse(std::span(p, *total));
  if (!parsed.error.empty() || !parsed.ac) return false;
  v.recognised_by = "a-associate-ac";
  v.association = "accepted";
  v.called_ae = parsed.ac->called_ae;
  v.calling_ae = parsed.ac->calling_ae;
  v.implementation_uid = parsed.ac->implementation_uid;
  v.implementation_version = parsed.ac->implementation_version;
  return true;
}

bool orthanc(const Observation& o) {
  return has(o.http_server, "orthanc") || has(o.http_title, "orthanc") || has(o.http_auth, "orthanc") ||
         has(o.http_location, "app/explorer.html") || has(o.product, "orthanc") ||
         o.http_body.find("Orthanc Explorer") != std::string::npos;
}

bool dicomweb(const Observation& o) {
  return has(o.data, "application/dicom+json") || has(o.http_body, "application/dicom+json") ||
         has(o.http_title, "dicomweb") || has(o.http_location, "/dicom-web") || has(o.product, "dicomweb") ||
         has(o.product, "dcm4chee");
}

}  // namespace

Verdict classify(const Observation& o) {
  Verdict v;
  if (o.transport != "tcp") return v;
  const bool web = o.http || o.module.rfind("http", 0) == 0;
  if (!web && from_pdu(o, v)) {
    v.dicom = true;
  } else if (!web && (o.module == "dicom" || has(o.module, "dicom") || has(o.product, "dicom") ||
                      (has(o.data, "dicom") && (has(o.data, "implementation") || has(o.data, "a-associate") ||
                                                has(o.data, "application context"))))) {
    v.dicom = true;
    v.recognised_by = "dicom-module";
    v.implementation_uid = text_field(o.data, {"implementation class uid", "implementation uid"});
    v.implementation_version =
        text_field(o.data, {"implementation version name", "implementation version", "version name"});
    if (has(o.data, "a-associate-ac") || has(o.data, "association accepted") || has(o.data, "accepted"))
      v.association = "accepted";
    else if (has(o.data, "a-associate-rj") || has(o.data, "rejected"))
      v.association = "rejected";
    v.called_ae = text_field(o.data, {"called ae title", "called aet", "called ae"});
  } else if (web && orthanc(o)) {
    v.dicom = true;
    v.recognised_by = "orthanc";
  } else if (web && dicomweb(o)) {
    v.dicom = true;
    v.recognised_by = "dicomweb";
  } else if (!web && o.data.empty() &&
             std::find(std::begin(kDicomPorts), std::end(kDicomPorts), o.port) != std::end(kDicomPorts)) {
    v.dicom = true;
    v.recognised_by = "port";
  }
  if (!v.dicom) return v;
  if (web) {
    v.protocol = o.tls ? "https" : "http";
    // 401/403 (or a WWW-Authenticate challenge): a login; 2xx/3xx to the root without one: open.
    if (o.http_status == 401 || o.http_status == 403 || !o.http_auth.empty()) v.http_auth = "auth-required";
    else if (o.http_status >= 200 && o.http_status < 400) v.http_auth = "open";
    else v.http_auth = "not-seen";
  } else {
    v.protocol = o.tls ? "dimse-tls" : "dimse";
  }
  v.exposure = v.association == "accepted" ? "ae-open"
               : (!v.implementation_uid.empty() || !v.implementation_version.empty() || !o.product.empty())
                   ? "identified"
                   : "reachable";
  return v;
}

std::vector<Finding> proven_findings(const Observation& o, const Verdict& v) {
  std::vector<Finding> out;
  if (!v.dicom) return out;
  const std::string target = endpoint(o);
  const nlohmann::json seen{{"observed_by", o.source}, {"seen", o.seen}};
  const auto with_seen = [&](nlohmann::json ev) {
    ev.update(seen);
    return ev;
  };
  out.push_back(make_finding("exposure.internet", target,
                             with_seen({{"recognised_by", v.recognised_by}, {"port", o.port}}),
                             "Seen from the internet by " + std::string(o.source == "censys" ? "Censys" : "Shodan")));
  const bool dimse = v.protocol == "dimse" || v.protocol == "dimse-tls";
  if (dimse && v.association == "accepted") {
    out.push_back(make_finding(
        "dimse.ae.any-called", target,
        with_seen({{"called_ae", v.called_ae},
                   {"note", "accepted the search engine's own probe, which cannot know this service's AE title"}}),
        std::string("Accepted an association from ") + (o.source == "censys" ? "Censys'" : "Shodan's") +
            " probe (its own AE titles)"));
    out.push_back(make_finding("dimse.ae.any-calling", target,
                               with_seen({{"note", "the search engine's calling AE title is on no allow-list"}})));
  }
  if (v.protocol == "dimse" && v.recognised_by != "port")
    out.push_back(make_finding("dimse.plaintext", target, with_seen({{"port", o.port}})));
  if (v.protocol == "http" || v.protocol == "https") {
    if (v.recognised_by == "orthanc" && v.http_auth == "open")
      out.push_back(make_finding(
          "http.orthanc.open", target,
          with_seen({{"path", "/"},
                     {"note", "the search engine's request to / was answered without a login (HTTP " +
                                  std::to_string(o.http_status) + ")"}})));
    if (v.recognised_by == "dicomweb" && v.http_auth == "open")
      out.push_back(make_finding("http.dicomweb.open", target,
                                 with_seen({{"path", "/"},
                                            {"status", o.http_status},
                                            {"note", "a DICOMweb answer to the search engine without a login"}})));
    if (v.protocol == "http") out.push_back(make_finding("http.plaintext", target, with_seen({{"port", o.port}})));
  }
  return out;
}

}  // namespace dg::shodan
