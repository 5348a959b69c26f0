#include "tls/measurement.h"

namespace dg::tls {

bool FullHandshake::passed() const {
  if (!handshake) return false;
  if (!associated) return true;
  // TLS 1.3 servers refuse a client certificate (or its absence) after the client's handshake has completed:
  // the refusal is an alert on our first read. A plain close (close_notify, FIN) is not a refusal.
  if (dicom == "tls-failed" || dicom == "reset") return false;
  return !(dicom == "error" && dicom_detail.find("alert") != std::string::npos);
}

const FullHandshake* Measurement::find_full(const std::string& purpose) const {
  for (const auto& f : full)
    if (f.purpose == purpose) return &f;
  return nullptr;
}

}  // namespace dg::tls
