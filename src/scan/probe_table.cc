#include "scan/probe_table.h"

#include "scan/service_probe.h"

namespace dg::scan {

namespace {

std::unique_ptr<Probe> make_service(const Endpoint& ep, const ProbeOptions& o) {
  DimseOptions d = o.dimse;
  d.seed = o.seed;
  return std::make_unique<ServiceProbe>(ep, std::move(d), o.http);
}

std::unique_ptr<Probe> make_tls(const Endpoint& ep, const ProbeOptions& o) {
  TlsOptions t = o.tls;
  t.seed = o.seed;
  return std::make_unique<TlsProbe>(ep, std::move(t));
}

}  // namespace

const std::vector<ProbeKind>& probe_kinds() {
  static const std::vector<ProbeKind> kinds = {
      {"service",
       "DICOM by protocol on any port (plain, then inside TLS), what a stranger may do with it, and the web API or "
       "DICOMweb server when HTTP answers instead",
       "service",
       {"address", "port", "host", "protocol", "exposure", "ae_titles", "called_ae_check", "calling_ae_check",
        "ae_check_level", "implementation_uid", "implementation_version", "product", "accepted_services",
        "associations", "echo", "find", "move", "get", "store", "retrieve", "storage", "move_probe",
        "commands_refused", "released", "transport_retries", "query_matching", "identity_echoed", "incomplete",
        "max_pdu", "study_count", "tls", "release_note", "plaintext_twin", "plaintext_twin_check",
        "plaintext_twin_evidence", "plaintext_twin_possible", "dicom", "orthanc", "dicomweb", "patient_list",
        "cors_any_origin", "http_status", "title", "dicom_hints", "dicomweb_path", "dicom_port", "server",
        "default_credentials",
        "errors"},
       make_service},
      {"tls",
       "The TLS of an endpoint graded clause by clause against the PS3.15 Annex B profiles, with DICOM inside",
       "tls",
       {"target", "address", "port", "host", "mode", "versions", "suites", "suites_complete", "server_preference",
        "groups", "dhe_bits", "signature_algorithms", "fallback_scsv", "secure_renegotiation",
        "extended_master_secret", "compression", "handshake", "alpn", "certificate", "client_auth", "dicom",
        "profiles", "meets", "handshakes", "retries", "budget_exhausted"},
       make_tls},
  };
  return kinds;
}

const ProbeKind* find_probe_kind(std::string_view name) {
  for (const ProbeKind& k : probe_kinds())
    if (k.name == name) return &k;
  return nullptr;
}

}  // namespace dg::scan
