// What the scan runs per endpoint: the DIMSE probe first (DICOM is detected by protocol on any port); when the
// answer is HTTP (plain or inside TLS), the HTTP probe on the same endpoint.
#pragma once

#include <memory>

#include "scan/dimse_probe.h"
#include "scan/http_probe.h"

namespace dg::scan {

class ServiceProbe : public Probe {
 public:
  ServiceProbe(Endpoint ep, DimseOptions dimse, HttpOptions http);
  Step begin() override { return dimse_.begin(); }
  Step on_connected(const std::string& v, const std::string& a) override;
  Step on_data(std::span<const std::uint8_t> b) override;
  Step on_failure(Failure f, const std::string& d) override;
  Record record(const RecordOptions&) const override;  // scan/service.cc: dimse_record or http_record
  ProbeFacts facts() const override;

  const DimseResult& dimse() const { return dimse_.result(); }
  const HttpResult* http() const { return http_ ? &http_->result() : nullptr; }

 private:
  Step after_dimse(Step s);
  Endpoint ep_;
  DimseProbe dimse_;
  HttpOptions http_opt_;
  std::unique_ptr<HttpProbe> http_;
};

}  // namespace dg::scan
