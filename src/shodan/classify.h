// Is what a search engine saw a DICOM service, and what does its banner prove? Recognition is by content: the
// bytes of an A-ASSOCIATE-AC or -RJ, the search engine's DICOM module, Orthanc's and DICOMweb's HTTP answers;
// a well-known DICOM port alone only when the banner is empty. Everything else is not DICOM.
#pragma once

#include <string>
#include <vector>

#include "findings/finding.h"
#include "shodan/observation.h"

namespace dg::shodan {

inline constexpr unsigned kDicomPorts[] = {104, 11112, 4242, 2761, 2762};

struct Verdict {
  bool dicom = false;
  std::string recognised_by;  // "a-associate-ac", "a-associate-rj", "dicom-module", "orthanc", "dicomweb", "port"
  std::string protocol;       // "dimse", "dimse-tls", "http", "https"
  std::string exposure;       // the exposure ladder's step the banner proves ("reachable", "identified", "ae-open")
  std::string association;    // "accepted", "rejected" or "" (not seen)
  std::string reject_reason;  // of an A-ASSOCIATE-RJ
  std::string called_ae, calling_ae;           // echoed in an A-ASSOCIATE-AC
  std::string implementation_uid, implementation_version;
  std::string http_auth;      // "open", "auth-required" or "" (not HTTP)
};

Verdict classify(const Observation& o);

// The findings the banner proves for its target ("address:port"), each with when and by whom it was seen.
std::vector<Finding> proven_findings(const Observation& o, const Verdict& v);

}  // namespace dg::shodan
