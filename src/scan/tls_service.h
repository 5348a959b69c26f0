// Turns what the TLS probe measured into a {"type":"tls"} record: the measurements, and the verdicts of
// tls::assess (tls/verdict.h: certificate, client authentication, DICOM inside the TLS, each PS3.15 Annex B
// profile clause by clause, and the tls.* findings), serialized.
#pragma once

#include <string>

#include "findings/finding.h"
#include "scan/tls_probe.h"
#include "tls/grade.h"

namespace dg::scan {

using TlsRecordOptions = RecordOptions;

// Facts for the grader from a probe result (exposed for tests).
tls::Facts tls_facts(const TlsResult& r);
// The record; an empty type when nothing answered in TLS.
Record tls_record(const TlsResult& r, const TlsRecordOptions& opt);

}  // namespace dg::scan
