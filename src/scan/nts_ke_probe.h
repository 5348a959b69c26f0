// The --ntp pass's NTS-KE check (RFC 8915 4): a TLS handshake offering only the ALPN protocol "ntske/1" to the
// NTS-KE port. Offered when the handshake completes with ntske/1 selected (RFC 8915 requires TLS 1.3 and the
// ALPN); no key-establishment records are exchanged. A probe like every other, on the scan's engine.
#pragma once

#include <string>

#include "scan/probe.h"

namespace dg::scan {

class NtsKeProbe : public Probe {
 public:
  explicit NtsKeProbe(Ms timeout) : timeout_(timeout) {}
  Step begin() override { return Step::connect(true, timeout_, "ntske/1"); }
  Step on_connected(const std::string& tls_version, const std::string& alpn) override {
    result_ = alpn == "ntske/1" ? "offered" : "not-offered";
    tls_version_ = tls_version;
    return Step::finish();
  }
  Step on_data(std::span<const std::uint8_t>) override { return Step::finish(); }
  Step on_failure(Failure f, const std::string&) override {
    result_ = failure_name(f);
    return Step::finish();
  }
  // offered, not-offered (TLS, but ntske/1 not selected), refused, timeout, tls-failed, closed, reset, ...
  const std::string& result() const { return result_; }
  const std::string& tls_version() const { return tls_version_; }

 private:
  Ms timeout_;
  std::string result_ = "not-tried", tls_version_;
};

}  // namespace dg::scan
