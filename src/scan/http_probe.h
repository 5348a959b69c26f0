// The HTTP probe: Orthanc's REST API and DICOMweb (QIDO-RS) roots, proved open or closed without reading patient
// data: /system (product, version, DICOM AE title), /patients (counted, never read), /tools/now (its clock), a QIDO-RS study query for a
// random never-existing Patient ID (Orthanc's /dicom-web, dcm4chee's /dcm4chee-arc and the common roots /studies,
// /dicomweb, /dicomWeb, /rs, /wado-rs of any server), the front page (server, title, signs of DICOM: WADO links,
// DICOMweb roots, application/dicom, patient lists), a patient list a front page links to (rows counted, never
// read), CORS with credentials, and opt-in Orthanc default credentials. One request per connection.
#pragma once

#include <optional>
#include <random>
#include <string>
#include <vector>

#include "scan/clock.h"
#include "scan/http.h"
#include "scan/probe.h"
#include "scan/targets.h"

namespace dg::scan {

struct HttpOptions {
  bool tls = false;
  bool try_default_credentials = false;  // opt-in: Orthanc's orthanc:orthanc
  Ms timeout{5000};
  std::uint64_t seed = 0;
};

struct HttpResult {
  Endpoint ep;
  bool tls = false;
  std::string server;              // the Server header, when given
  std::string orthanc;             // open, auth-required, absent
  std::string orthanc_version, dicom_aet;
  int dicom_port = 0;
  std::optional<std::uint64_t> patient_count;  // entries in /patients (identifiers only; never printed)
  bool default_credentials = false;
  bool default_credentials_tried = false;  // --try-default-credentials asked and the server answered
  std::string dicomweb;            // open, auth-required, absent
  std::string dicomweb_path;
  int dicomweb_status = 0;
  bool cors_any_origin = false, cors_credentials = false;
  std::vector<std::string> errors;
  int responses = 0;               // HTTP responses received (0: nothing here speaks HTTP)
  int root_status = 0;             // GET /
  std::string title;               // of the front page, printable, at most 80 characters
  std::vector<std::string> dicom_hints;  // what on the front page says DICOM (never a value from it)
  std::string patient_list = "absent";   // open, auth-required, absent: a page listing patients
  std::string patient_list_path;
  std::uint64_t patient_rows = 0;  // table rows on that page (counted, never read)
  std::optional<ClockObservation> clock;  // from a Date header: the answer with the shortest round trip
  bool serves_dicom() const {
    return orthanc != "absent" || dicomweb != "absent" || patient_list != "absent" || !dicom_hints.empty();
  }
};

class HttpProbe : public Probe {
 public:
  HttpProbe(Endpoint ep, HttpOptions opt);
  Step begin() override;
  Step on_connected(const std::string& tls_version, const std::string& alpn) override;
  Step on_data(std::span<const std::uint8_t> bytes) override;
  Step on_failure(Failure f, const std::string& detail) override;
  const HttpResult& result() const { return r_; }

 private:
  enum class Req : std::uint8_t {
    system, system_default_creds, patients, orthanc_now, qido_orthanc, qido_dcm4chee, root, qido_generic, patient_list, done
  };
  Step start(Req r);
  Step handle(const http::Response& rsp);
  Step next_after(Req r);
  std::string path_of(Req r) const;

  HttpOptions opt_;
  HttpResult r_;
  Req req_ = Req::system;
  std::vector<std::uint8_t> buf_;
  WallClock::time_point sent_{}, first_byte_{};  // of the current request: for the Date header's offset
  std::string random_pid_;
  std::size_t generic_ = 0;  // the next common DICOMweb root to try
};

}  // namespace dg::scan
