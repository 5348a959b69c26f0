#include "scan/http_probe.h"

#include <algorithm>
#include <iterator>
#include <nlohmann/json.hpp>

#include "util/random_seed.h"

namespace dg::scan {

namespace {
constexpr const char* kOrigin = "https://dicomguard-cors-probe.invalid";
constexpr const char* kOrthancDefault = "Authorization: Basic b3J0aGFuYzpvcnRoYW5j";  // orthanc:orthanc
// DICOMweb roots that servers other than Orthanc and dcm4chee use (PS3.18 leaves the root to the server).
constexpr const char* kGenericRoots[] = {"", "/dicomweb", "/dicomWeb", "/rs", "/wado-rs"};

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  return s;
}

// The <title> of an HTML page, printable ASCII only (a server's own words, not patient data, but untrusted).
std::string page_title(const std::string& body) {
  const std::string l = lower(body.substr(0, 16384));
  const auto a = l.find("<title");
  if (a == std::string::npos) return {};
  const auto b = l.find('>', a), c = l.find("</title", a);
  if (b == std::string::npos || c == std::string::npos || c < b) return {};
  std::string t;
  for (char ch : body.substr(b + 1, std::min<std::size_t>(c - b - 1, 200))) {
    if (static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) >= 0x7F) ch = ' ';
    if (ch == ' ' && (t.empty() || t.back() == ' ')) continue;
    t.push_back(ch);
  }
  while (!t.empty() && t.back() == ' ') t.pop_back();
  return t.substr(0, 80);
}

// Signs on a front page that the server serves DICOM objects or patient data.
std::vector<std::string> dicom_hints(const http::Response& rsp) {
  std::vector<std::string> h;
  if (const std::string* ct = rsp.header("content-type"); ct && lower(*ct).find("application/dicom") != std::string::npos)
    h.push_back("application/dicom");
  const std::string l = lower(rsp.body.substr(0, 65536));
  const std::pair<const char*, const char*> signs[] = {
      {"requesttype=wado", "WADO-URI link"},        {"requesttype=patientlist", "patient list link"},
      {"/wado?", "WADO-URI link"},                   {"/dicom-web", "DICOMweb root"},
      {"/dicomweb", "DICOMweb root"},                {"/studies", "DICOMweb /studies"},
      {"application/dicom", "application/dicom"},    {"dicom", "the word DICOM"}};
  for (const auto& [needle, name] : signs)
    if (l.find(needle) != std::string::npos && std::find(h.begin(), h.end(), name) == h.end()) h.push_back(name);
  return h;
}
}  // namespace

HttpProbe::HttpProbe(Endpoint ep, HttpOptions opt) : opt_(opt) {
  r_.ep = std::move(ep);
  r_.tls = opt_.tls;
  r_.orthanc = "absent";
  r_.dicomweb = "absent";
  std::mt19937_64 rng(opt_.seed ? opt_.seed : util::random_seed());
  random_pid_ = "DGPROBE" + std::to_string(rng() % 9000000000000000ull + 1000000000000000ull);
}

std::string HttpProbe::path_of(Req r) const {
  switch (r) {
    case Req::system:
    case Req::system_default_creds: return "/system";
    case Req::patients: return "/patients";
    case Req::orthanc_now: return "/tools/now";
    case Req::qido_orthanc: return "/dicom-web/studies?PatientID=" + random_pid_ + "&limit=1";
    case Req::qido_dcm4chee: return "/dcm4chee-arc/aets/DCM4CHEE/rs/studies?PatientID=" + random_pid_ + "&limit=1";
    case Req::root: return "/";
    case Req::qido_generic:
      return std::string(kGenericRoots[std::min(generic_, std::size(kGenericRoots) - 1)]) + "/studies?PatientID=" +
             random_pid_ + "&limit=1";
    case Req::patient_list: return "/?requestType=PATIENTLIST";
    case Req::done: break;
  }
  return "/";
}

Step HttpProbe::begin() { return start(Req::system); }

Step HttpProbe::start(Req r) {
  req_ = r;
  buf_.clear();
  if (r == Req::done) return Step::finish();
  return Step::connect(opt_.tls, opt_.timeout, "http/1.1");
}

Step HttpProbe::on_connected(const std::string&, const std::string&) {
  std::vector<std::string> extra = {std::string("Origin: ") + kOrigin};
  if (req_ == Req::system_default_creds) extra.push_back(kOrthancDefault);
  const std::string host = r_.ep.host.empty() ? r_.ep.addr.str() : r_.ep.host;
  const std::string rq = http::get(host + ":" + std::to_string(r_.ep.port), path_of(req_), extra);
  sent_ = WallClock::now();
  first_byte_ = {};
  return Step::send(Bytes(rq.begin(), rq.end()), opt_.timeout);
}

Step HttpProbe::on_data(std::span<const std::uint8_t> bytes) {
  if (buf_.empty() && first_byte_ == WallClock::time_point{}) first_byte_ = WallClock::now();
  buf_.insert(buf_.end(), bytes.begin(), bytes.end());
  std::string err;
  auto rsp = http::parse(buf_, false, err);
  if (!err.empty()) {
    r_.errors.push_back(path_of(req_) + ": " + err);
    return next_after(req_);
  }
  if (!rsp) return Step::receive(opt_.timeout);
  return handle(*rsp);
}

Step HttpProbe::on_failure(Failure f, const std::string& detail) {
  if (f == Failure::closed && !buf_.empty()) {
    std::string err;
    if (auto rsp = http::parse(buf_, true, err)) return handle(*rsp);
    r_.errors.push_back(path_of(req_) + ": " + err);
  } else {
    r_.errors.push_back(path_of(req_) + ": " + failure_name(f) + (detail.empty() ? "" : " (" + detail + ")"));
  }
  if (req_ == Req::system && buf_.empty()) return Step::finish();  // nothing answers HTTP here
  return next_after(req_);
}

Step HttpProbe::handle(const http::Response& rsp) {
  ++r_.responses;
  // The Date header (RFC 9110 6.6.1) was stamped between our request and the answer's first bytes.
  if (const std::string* date = rsp.header("date"); date && first_byte_ != WallClock::time_point{})
    if (auto server = parse_http_date(*date)) {
      ClockObservation o = observe("http-date", r_.ep.str(), static_cast<double>(*server), 1.0, sent_, first_byte_);
      if (!r_.clock || o.uncertainty < r_.clock->uncertainty) r_.clock = std::move(o);
    }
  if (const std::string* s = rsp.header("server"); s && r_.server.empty()) r_.server = s->substr(0, 64);
  if (const std::string* acao = rsp.header("access-control-allow-origin")) {
    if (*acao == "*" || *acao == kOrigin) {
      r_.cors_any_origin = true;
      if (const std::string* cred = rsp.header("access-control-allow-credentials"); cred && *cred == "true")
        r_.cors_credentials = true;
    }
  }
  switch (req_) {
    case Req::system:
    case Req::system_default_creds: {
      const bool with_creds = req_ == Req::system_default_creds;
      if (with_creds) r_.default_credentials_tried = true;
      if (rsp.status == 200) {
        auto j = nlohmann::json::parse(rsp.body, nullptr, false);
        if (j.is_object() && (j.contains("DicomAet") || j.contains("ApiVersion"))) {
          if (with_creds) r_.default_credentials = true;
          else r_.orthanc = "open";
          if (j.contains("Version") && j["Version"].is_string()) r_.orthanc_version = j["Version"].get<std::string>().substr(0, 32);
          if (j.contains("DicomAet") && j["DicomAet"].is_string()) r_.dicom_aet = j["DicomAet"].get<std::string>().substr(0, 16);
          if (j.contains("DicomPort") && j["DicomPort"].is_number_integer()) r_.dicom_port = j["DicomPort"].get<int>();
        }
      } else if (rsp.status == 401 && !with_creds) {
        const std::string* www = rsp.header("www-authenticate");
        r_.orthanc = www && www->find("Orthanc") != std::string::npos ? "auth-required" : "absent";
        if (r_.orthanc == "auth-required" && opt_.try_default_credentials) return start(Req::system_default_creds);
      }
      return next_after(req_);
    }
    case Req::patients: {
      auto j = nlohmann::json::parse(rsp.body, nullptr, false);
      if (rsp.status == 200 && j.is_array()) r_.patient_count = j.size();
      return next_after(req_);
    }
    case Req::orthanc_now: {
      // Orthanc's clock in UTC, "20261202T150934" (Orthanc sends no Date header and /system has no time).
      if (auto t = rsp.status == 200 ? parse_basic_datetime(rsp.body) : std::nullopt)
        if (first_byte_ != WallClock::time_point{}) {
          ClockObservation o = observe("orthanc-tools-now", r_.ep.str(), static_cast<double>(*t), 1.0, sent_, first_byte_);
          if (!r_.clock || o.uncertainty < r_.clock->uncertainty) r_.clock = std::move(o);
        }
      return next_after(req_);
    }
    case Req::root: {
      r_.root_status = rsp.status;
      r_.title = page_title(rsp.body);
      r_.dicom_hints = dicom_hints(rsp);
      return next_after(req_);
    }
    case Req::patient_list: {
      // A page of a table of patients: rows counted (less the header row), nothing read.
      if (rsp.status == 200) {
        std::uint64_t rows = 0;
        const std::string l = lower(rsp.body);
        for (auto at = l.find("<tr"); at != std::string::npos; at = l.find("<tr", at + 3)) ++rows;
        if (rows > 0) {
          r_.patient_list = "open";
          r_.patient_rows = rows - 1;
        }
      } else if (rsp.status == 401 || rsp.status == 403) {
        r_.patient_list = "auth-required";
      }
      if (r_.patient_list != "absent") r_.patient_list_path = "/?requestType=PATIENTLIST";
      return next_after(req_);
    }
    case Req::qido_orthanc:
    case Req::qido_dcm4chee:
    case Req::qido_generic: {
      r_.dicomweb_status = rsp.status;
      const bool empty_json = rsp.body.find_first_not_of(" \r\n\t") == std::string::npos ||
                              nlohmann::json::parse(rsp.body, nullptr, false).is_array();
      const std::string* ct = rsp.header("content-type");
      const bool dicom_json = ct && lower(*ct).find("application/dicom+json") != std::string::npos;
      if (((rsp.status == 200 && (empty_json || dicom_json)) || (rsp.status == 204 && (dicom_json || req_ != Req::qido_generic)))) {
        r_.dicomweb = "open";
        r_.dicomweb_path = path_of(req_).substr(0, path_of(req_).find('?'));
        return next_after(req_);
      }
      if (rsp.status == 401 || rsp.status == 403) {
        r_.dicomweb = "auth-required";
        r_.dicomweb_path = path_of(req_).substr(0, path_of(req_).find('?'));
        return next_after(req_);
      }
      return next_after(req_);
    }
    case Req::done: break;
  }
  return Step::finish();
}

// The order: Orthanc's /system (and /patients), the front page, then DICOMweb roots until one answers (Orthanc's,
// dcm4chee's, the common ones), then the patient list the front page links to.
Step HttpProbe::next_after(Req r) {
  const bool qido_found = r_.dicomweb != "absent";
  const bool lists = std::find(r_.dicom_hints.begin(), r_.dicom_hints.end(), "patient list link") != r_.dicom_hints.end();
  switch (r) {
    case Req::system:
    case Req::system_default_creds: return start(r_.orthanc == "open" ? Req::patients : Req::root);
    case Req::patients: return start(Req::orthanc_now);
    case Req::orthanc_now: return start(Req::root);
    case Req::root: return start(Req::qido_orthanc);
    case Req::qido_orthanc:
      if (!qido_found) return start(Req::qido_dcm4chee);
      break;
    case Req::qido_dcm4chee:
      if (!qido_found) {
        generic_ = 0;
        return start(Req::qido_generic);
      }
      break;
    case Req::qido_generic:
      if (!qido_found && ++generic_ < std::size(kGenericRoots)) return start(Req::qido_generic);
      break;
    case Req::patient_list:
    case Req::done: return start(Req::done);
  }
  return start(lists && r_.patient_list == "absent" ? Req::patient_list : Req::done);
}

}  // namespace dg::scan
