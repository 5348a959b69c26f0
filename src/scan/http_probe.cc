#include "scan/http_probe.h"

#include <nlohmann/json.hpp>

namespace dg::scan {

namespace {
constexpr const char* kOrigin = "https://dicomguard-cors-probe.invalid";
constexpr const char* kOrthancDefault = "Authorization: Basic b3J0aGFuYzpvcnRoYW5j";  // orthanc:orthanc
}  // namespace

HttpProbe::HttpProbe(Endpoint ep, HttpOptions opt) : opt_(opt) {
  r_.ep = std::move(ep);
  r_.tls = opt_.tls;
  r_.orthanc = "absent";
  r_.dicomweb = "absent";
  std::mt19937_64 rng(opt_.seed ? opt_.seed : std::random_device{}());
  random_pid_ = "DGPROBE" + std::to_string(rng() % 9000000000000000ull + 1000000000000000ull);
}

std::string HttpProbe::path_of(Req r) const {
  switch (r) {
    case Req::system:
    case Req::system_default_creds: return "/system";
    case Req::patients: return "/patients";
    case Req::qido_orthanc: return "/dicom-web/studies?PatientID=" + random_pid_ + "&limit=1";
    case Req::qido_dcm4chee: return "/dcm4chee-arc/aets/DCM4CHEE/rs/studies?PatientID=" + random_pid_ + "&limit=1";
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
  return Step::send(Bytes(rq.begin(), rq.end()), opt_.timeout);
}

Step HttpProbe::on_data(std::span<const std::uint8_t> bytes) {
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
    case Req::qido_orthanc:
    case Req::qido_dcm4chee: {
      r_.dicomweb_status = rsp.status;
      const bool empty_json = rsp.body.find_first_not_of(" \r\n\t") == std::string::npos ||
                              nlohmann::json::parse(rsp.body, nullptr, false).is_array();
      if ((rsp.status == 200 || rsp.status == 204) && empty_json) {
        r_.dicomweb = "open";
        r_.dicomweb_path = path_of(req_).substr(0, path_of(req_).find('?'));
        return start(Req::done);
      }
      if (rsp.status == 401 || rsp.status == 403) {
        r_.dicomweb = "auth-required";
        r_.dicomweb_path = path_of(req_).substr(0, path_of(req_).find('?'));
        return start(Req::done);
      }
      return next_after(req_);
    }
    case Req::done: break;
  }
  return Step::finish();
}

Step HttpProbe::next_after(Req r) {
  switch (r) {
    case Req::system:
    case Req::system_default_creds:
      return start(r_.orthanc == "open" ? Req::patients : Req::qido_orthanc);
    case Req::patients: return start(Req::qido_orthanc);
    case Req::qido_orthanc: return start(Req::qido_dcm4chee);
    default: return start(Req::done);
  }
}

}  // namespace dg::scan
