// Turns what the TLS probe measured into a {"type":"tls"} record: the measurements, the certificate, client
// authentication, DICOM inside the TLS, a per-profile verdict (PS3.15 Annex B, clause by clause), and the
// tls.* findings. The only place where TLS results become check IDs.
#pragma once

#include <string>

#include "findings/finding.h"
#include "scan/tls_probe.h"
#include "tls/grade.h"

namespace dg::scan {

struct TlsRecordOptions {
  std::string ca_file;  // trust anchors for chain verification (default: the system store)
};

// Facts for the grader from a probe result (exposed for tests).
tls::Facts tls_facts(const TlsResult& r);
// The record; an empty type when nothing answered in TLS.
Record tls_record(const TlsResult& r, const TlsRecordOptions& opt);

}  // namespace dg::scan
