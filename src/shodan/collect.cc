#include "shodan/collect.h"

#include <algorithm>

#include "scan/fingerprint.h"
#include "scan/vulnerable.h"
#include "shodan/parse.h"
#include "weblog/stream.h"

namespace dg::shodan {

namespace {

constexpr std::size_t kMaxLine = 16u << 20;      // a longer line is skipped as malformed
constexpr std::size_t kMaxDocument = 512u << 20;  // one pretty-printed document (Censys' `censys view`)
constexpr int kSkippedShown = 5;

void add(Observation&& o, Collected& c) {
  ++c.banners;
  Verdict v = classify(o);
  if (!v.dicom) {
    ++c.not_dicom;
    return;
  }
  const std::string key = o.source + "|" + o.address + "|" + std::to_string(o.port);
  auto [it, fresh] = c.dicom.try_emplace(key);
  Entry& e = it->second;
  ++e.observations;
  const std::string seen = o.seen;
  if (fresh || (!seen.empty() && (e.first_seen.empty() || seen < e.first_seen))) e.first_seen = seen;
  // The latest observation describes the endpoint; one without a time does not displace one with.
  if (fresh || (!seen.empty() && seen >= e.last_seen)) {
    e.last_seen = seen.empty() ? e.last_seen : seen;
    e.latest = std::move(o);
    e.verdict = std::move(v);
  }
}

}  // namespace

bool collect_document(std::string_view text, Collected& c, std::string& why) {
  Parsed p = parse_document(text);
  if (!p.error.empty()) {
    ++c.malformed;
    why = p.error;
    return false;
  }
  for (auto& o : p.observations) add(std::move(o), c);
  return true;
}

void collect_file(const std::string& path, Collected& c) {
  weblog::Input in;
  if (std::string e = in.open(path); !e.empty()) {
    c.errors.push_back(e);
    return;
  }
  // A file in which nothing was a banner or a host but something was malformed is not an export at all: an
  // error, so that a wrong file never reads as "no DICOM service seen".
  struct NothingRead {
    const std::string& path;
    Collected& c;
    const std::uint64_t banners = c.banners, malformed = c.malformed;
    ~NothingRead() {
      if (c.banners == banners && c.malformed > malformed)
        c.errors.push_back(path + ": no Shodan banner or Censys host in it (" + std::to_string(c.malformed - malformed) +
                           " malformed lines or documents)");
    }
  } nothing_read{path, c};
  std::string buf(1 << 20, '\0'), line, whole;
  std::uint64_t lineno = 0;
  int shown = 0;
  bool document = false, first = true, too_long = false;
  const auto skip = [&](std::uint64_t n, const std::string& why) {
    if (shown++ < kSkippedShown) c.skipped.push_back(path + ":" + std::to_string(n) + ": " + why);
  };
  const auto one_line = [&](std::string_view l) {
    ++lineno;
    while (!l.empty() && (l.back() == '\r' || l.back() == ' ' || l.back() == '\t')) l.remove_suffix(1);
    std::size_t b = 0;
    while (b < l.size() && (l[b] == ' ' || l[b] == '\t')) ++b;
    l.remove_prefix(b);
    if (l.empty()) return;
    if (first) {
      first = false;
      // A document over many lines (pretty-printed JSON) starts with a line that is not JSON on its own.
      if ((l[0] == '{' || l[0] == '[') && parse_document(l).error == "not JSON") {
        document = true;
        whole.assign(l);
        whole.push_back('\n');
        return;
      }
    }
    std::string why;
    if (!collect_document(l, c, why)) skip(lineno, why);
  };
  bool failed = false;
  for (;;) {
    const long n = in.read(buf.data(), buf.size());
    if (n < 0) {
      c.errors.push_back(path + ": " + in.error() + " (read up to line " + std::to_string(lineno) + ")");
      failed = true;
      break;
    }
    if (n == 0) break;
    std::string_view chunk(buf.data(), static_cast<std::size_t>(n));
    if (document) {
      if (whole.size() + chunk.size() > kMaxDocument) {
        c.errors.push_back(path + ": a single JSON document larger than 512 MiB");
        return;
      }
      whole.append(chunk);
      continue;
    }
    while (!chunk.empty()) {
      const auto nl = chunk.find('\n');
      if (nl == std::string_view::npos) {
        if (!too_long) line.append(chunk);
        if (line.size() > kMaxLine) {
          too_long = true;
          line.clear();
        }
        break;
      }
      if (too_long) {
        ++lineno;
        ++c.malformed;
        skip(lineno, "a line longer than 16 MiB");
        too_long = false;
      } else if (line.empty()) {
        one_line(chunk.substr(0, nl));
      } else {
        line.append(chunk.substr(0, nl));
        one_line(line);
        line.clear();
      }
      if (document) {  // the rest of this block belongs to the document
        whole.append(chunk.substr(nl + 1));
        chunk = {};
        break;
      }
      chunk.remove_prefix(nl + 1);
    }
  }
  if (failed) return;  // a cut-short file's last, partial line is not counted as malformed: the error says it
  if (document) {
    Parsed p = parse_document(whole);
    if (p.error.empty()) {
      for (auto& o : p.observations) add(std::move(o), c);
      return;
    }
    // Not one document after all: a JSON Lines file whose first line is broken. Every line on its own.
    document = false;
    lineno = 0;
    std::string_view rest(whole);
    while (!rest.empty()) {
      const auto nl = rest.find('\n');
      one_line(rest.substr(0, nl));
      if (nl == std::string_view::npos) break;
      rest.remove_prefix(nl + 1);
    }
    return;
  }
  if (too_long) {
    ++lineno;
    ++c.malformed;
    skip(lineno, "a line longer than 16 MiB");
  } else if (!line.empty()) {
    one_line(line);
  }
}

Record make_record(const Entry& e) {
  const Observation& o = e.latest;
  const Verdict& v = e.verdict;
  Record r;
  r.type = "service";
  r.status = v.exposure;
  nlohmann::json& f = r.fields;
  f["source"] = o.source;
  f["address"] = o.address;
  f["port"] = o.port;
  f["protocol"] = v.protocol;
  f["exposure"] = v.exposure;
  f["recognised_by"] = v.recognised_by;
  f["ae_titles"] = v.called_ae.empty() ? nlohmann::json::array() : nlohmann::json::array({v.called_ae});
  f["seen_first"] = e.first_seen.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.first_seen);
  f["seen_last"] = e.last_seen.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.last_seen);
  f["observations"] = e.observations;
  f["association"] = v.association.empty() ? nlohmann::json(nullptr) : nlohmann::json(v.association);
  if (!v.reject_reason.empty()) f["reject_reason"] = v.reject_reason;
  if (!v.implementation_uid.empty()) f["implementation_uid"] = v.implementation_uid;
  if (!v.implementation_version.empty()) f["implementation_version"] = v.implementation_version;
  nlohmann::json product = nullptr;
  const scan::Product p = scan::fingerprint(v.implementation_uid, v.implementation_version);
  if (p.known() && !p.echoes_requester) {
    product = {{"vendor", p.vendor}, {"product", p.product}, {"version", p.version}, {"basis", p.basis}};
  } else if (v.recognised_by == "orthanc") {
    std::string version;
    if (const auto at = o.http_server.find("Orthanc/"); at != std::string::npos)
      version = o.http_server.substr(at + 8, o.http_server.find_first_of(" ;(", at + 8) - (at + 8));
    product = {{"vendor", "Orthanc"}, {"product", "Orthanc"}, {"version", version}, {"basis", "http"}};
  } else if (!o.product.empty()) {
    product = {{"vendor", ""}, {"product", o.product}, {"version", o.version}, {"basis", "search-engine"}};
  }
  f["product"] = product;
  // The ladder as scan climbs it: a named product is identified; Orthanc's REST API open reads (and deletes)
  // everything, as in scan; a DICOMweb answer without a login is a query.
  std::string exposure = v.exposure;
  if (exposure == "reachable" && !product.is_null()) exposure = "identified";
  if (v.http_auth == "open" && v.recognised_by == "orthanc") exposure = "retrieve-open";
  if (v.http_auth == "open" && v.recognised_by == "dicomweb") exposure = "query-open";
  f["exposure"] = exposure;
  r.status = exposure;
  if (o.http) {
    if (o.http_status >= 0) f["http_status"] = o.http_status;
    if (!o.http_title.empty()) f["title"] = o.http_title.substr(0, 200);
    if (!o.http_server.empty()) f["server"] = o.http_server.substr(0, 200);
    f["auth"] = v.http_auth;
  }
  if (o.tls) f["tls_versions"] = o.tls_versions;
  if (!o.org.empty()) f["org"] = o.org;
  if (!o.hostnames.empty()) f["hostnames"] = o.hostnames;
  r.findings = proven_findings(o, v);
  // The version the banner announced, looked up as scan does (product.vulnerable / product.unknown-version): what
  // the search engine saw then, with when and by whom, not a measurement of today.
  if (v.dicom && product.is_object() && !r.findings.empty())
    for (Finding& pf : scan::product_findings(r.findings.front().target, product["product"].get<std::string>(),
                                              product["version"].get<std::string>())) {
      pf.evidence["observed_by"] = o.source;
      pf.evidence["seen"] = o.seen;
      r.findings.push_back(std::move(pf));
    }
  return r;
}

}  // namespace dg::shodan
