#include "scan/service_probe.h"

namespace dg::scan {

ServiceProbe::ServiceProbe(Endpoint ep, DimseOptions dimse, HttpOptions http)
    : ep_(ep), dimse_(std::move(ep), std::move(dimse)), http_opt_(http) {}

Step ServiceProbe::after_dimse(Step s) {
  if (s.kind != Step::Kind::finish) return s;
  const DimseResult& d = dimse_.result();
  const std::string& answer = d.answer;
  // HTTP answered our association request (plain, or inside TLS), or a TLS server closed on it without a word
  // (HTTPS servers such as Orthanc's do): ask HTTP questions. A port that took the connection and stayed silent
  // (or refused the TLS handshake after that) may be a web server waiting for a request line: ask it too.
  const bool silent_plain = d.tcp_open && !d.is_dicom() && (answer == "silent" || answer == "tls-handshake-failed");
  if (answer != "http" && answer != "tls-no-dicom-answer" && !silent_plain) return s;
  HttpOptions o = http_opt_;
  o.tls = !silent_plain && (answer == "tls-no-dicom-answer" || d.answer_tls);
  http_ = std::make_unique<HttpProbe>(ep_, o);
  return http_->begin();
}

Step ServiceProbe::on_connected(const std::string& v, const std::string& a) {
  return http_ ? http_->on_connected(v, a) : after_dimse(dimse_.on_connected(v, a));
}
Step ServiceProbe::on_data(std::span<const std::uint8_t> b) {
  return http_ ? http_->on_data(b) : after_dimse(dimse_.on_data(b));
}
Step ServiceProbe::on_failure(Failure f, const std::string& d) {
  return http_ ? http_->on_failure(f, d) : after_dimse(dimse_.on_failure(f, d));
}

}  // namespace dg::scan

#include "scan/service.h"

namespace dg::scan {

Record ServiceProbe::record(const RecordOptions&) const {
  if (const HttpResult* h = http()) return http_record(*h);
  return dimse_record(dimse());
}

ProbeFacts ServiceProbe::facts() const {
  const DimseResult& r = dimse();
  ProbeFacts f;
  f.answer = r.answer;
  if (const HttpResult* h = http()) {
    f.protocol = h->tls ? Protocol::https : Protocol::http;
    if (h->clock) f.clock.push_back(*h->clock);
    f.dicom = h->serves_dicom();
    if (!h->dicom_aet.empty() && h->dicom_port > 0 && h->dicom_port <= 65535) {
      f.learned_port = static_cast<std::uint16_t>(h->dicom_port);
      f.learned_ae = h->dicom_aet;
    }
    return f;
  }
  if (!r.is_dicom()) return f;
  f.protocol = r.tls ? Protocol::dimse_tls : Protocol::dimse;
  f.dicom = true;
  f.accepted_ae = r.called_enforced == false ? "*" : r.known_called;
  f.identity = r.implementation_uid + "/" + r.implementation_version;
  f.every_title_refused = r.called_enforced == true && !r.association_accepted();
  if (r.move_probe.sent) f.moved_instance = r.stored_instance_uid;
  return f;
}

}  // namespace dg::scan
