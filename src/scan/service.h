// Turns what a probe measured into a {"type":"service"} record and its findings: the only place where scan
// results become check IDs, so each dimse.* check is decided here, from evidence in the result.
#pragma once

#include <string>

#include "findings/finding.h"
#include "scan/dimse_probe.h"
#include "scan/http_probe.h"

namespace dg::scan {

// The exposure ladder, lowest first (issue 3): what a stranger can do with the service.
enum class Exposure : int { reachable = 0, identified, ae_open, query_open, retrieve_open, write_open };
const char* exposure_name(Exposure e);

// Short names for the SOP classes the probe proposes ("verification", "study-root-find", "ct-storage", ...).
std::string sop_class_name(const std::string& uid);

// A record for a DICOM service (protocol dimse or dimse-tls); nullopt-like empty type for endpoints that did not
// answer DICOM (closed, silent, HTTP, other protocols): the caller counts those.
Record dimse_record(const DimseResult& r);
// A record for an Orthanc REST API or DICOMweb service (protocol http or https); empty type when neither answered.
Record http_record(const HttpResult& r);

}  // namespace dg::scan
