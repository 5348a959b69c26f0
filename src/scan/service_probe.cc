#include "scan/service_probe.h"

namespace dg::scan {

ServiceProbe::ServiceProbe(Endpoint ep, DimseOptions dimse, HttpOptions http)
    : ep_(ep), dimse_(std::move(ep), std::move(dimse)), http_opt_(http) {}

Step ServiceProbe::after_dimse(Step s) {
  if (s.kind != Step::Kind::finish) return s;
  const std::string& answer = dimse_.result().answer;
  // HTTP answered our association request (plain, or inside TLS), or a TLS server closed on it without a word
  // (HTTPS servers such as Orthanc's do): ask HTTP questions.
  if (answer != "http" && answer != "tls-no-dicom-answer") return s;
  HttpOptions o = http_opt_;
  o.tls = answer == "tls-no-dicom-answer" || dimse_.result().answer_tls;
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
