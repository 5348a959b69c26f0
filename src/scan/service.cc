#include "scan/service.h"

#include <fmt/format.h>

#include <map>

#include "dicom/dimse.h"
#include "scan/fingerprint.h"

namespace dg::scan {

using nlohmann::json;

const char* exposure_name(Exposure e) {
  switch (e) {
    case Exposure::reachable: return "reachable";
    case Exposure::identified: return "identified";
    case Exposure::ae_open: return "ae-open";
    case Exposure::query_open: return "query-open";
    case Exposure::retrieve_open: return "retrieve-open";
    case Exposure::write_open: return "write-open";
  }
  return "reachable";
}

std::string sop_class_name(const std::string& uid) {
  static const std::map<std::string, std::string> names = {
      {"1.2.840.10008.1.1", "verification"},
      {"1.2.840.10008.5.1.4.1.2.2.1", "study-root-find"},
      {"1.2.840.10008.5.1.4.1.2.2.2", "study-root-move"},
      {"1.2.840.10008.5.1.4.1.2.2.3", "study-root-get"},
      {"1.2.840.10008.5.1.4.1.2.1.1", "patient-root-find"},
      {"1.2.840.10008.5.1.4.1.2.1.2", "patient-root-move"},
      {"1.2.840.10008.5.1.4.1.2.1.3", "patient-root-get"},
      {"1.2.840.10008.5.1.4.31", "modality-worklist-find"},
      {"1.2.840.10008.1.20.1", "storage-commitment"},
      {"1.2.840.10008.3.1.2.3.3", "mpps"},
      {"1.2.840.10008.5.1.4.1.1.2", "ct-storage"},
      {"1.2.840.10008.5.1.4.1.1.4", "mr-storage"},
      {"1.2.840.10008.5.1.4.1.1.1", "cr-storage"},
      {"1.2.840.10008.5.1.4.1.1.1.1", "dx-storage"},
      {"1.2.840.10008.5.1.4.1.1.1.2", "mg-storage"},
      {"1.2.840.10008.5.1.4.1.1.6.1", "us-storage"},
      {"1.2.840.10008.5.1.4.1.1.7", "sc-storage"},
      {"1.2.840.10008.5.1.4.1.1.12.1", "xa-storage"},
      {"1.2.840.10008.5.1.4.1.1.20", "nm-storage"},
      {"1.2.840.10008.5.1.4.1.1.128", "pet-storage"},
      {"1.2.840.10008.5.1.4.1.1.88.11", "basic-text-sr-storage"},
      {"1.2.840.10008.5.1.4.1.1.104.1", "encapsulated-pdf-storage"},
  };
  auto it = names.find(uid);
  return it == names.end() ? uid : it->second;
}

namespace {

std::string hex4(int v) { return v < 0 ? "" : fmt::format("{:04X}", v); }

json command_json(const CommandResult& c) {
  if (!c.sent) return nullptr;
  json j{{"sop_class", sop_class_name(c.sop_class)}, {"status", c.status < 0 ? json(nullptr) : json(hex4(c.status))},
         {"result", c.category.empty() ? "no-response" : c.category}, {"pending", c.pending}};
  if (c.completed >= 0) j["completed"] = c.completed;
  if (c.failed >= 0) j["failed"] = c.failed;
  if (c.warning >= 0) j["warning"] = c.warning;
  if (!c.error.empty()) j["error"] = c.error;
  return j;
}

// A retrieve is "answered" when the server processed it: success, warning, or pending sub-operations.
bool answered(const CommandResult& c) {
  return c.sent && (c.category == "success" || c.category == "warning" || c.pending > 0);
}

std::string tri(const std::optional<bool>& enforced) {
  return !enforced ? "not-measured" : *enforced ? "enforced" : "not-enforced";
}

}  // namespace

Record dimse_record(const DimseResult& r) {
  Record rec;
  if (!r.is_dicom()) return rec;
  const std::string target = r.ep.str();
  rec.type = "service";
  rec.subject = target + (r.tls ? " dimse-tls" : " dimse");

  const Product prod = fingerprint(r.implementation_uid, r.implementation_version);
  std::vector<std::string> accepted, storage;
  for (const auto& uid : r.accepted) {
    accepted.push_back(sop_class_name(uid));
    if (uid.rfind("1.2.840.10008.5.1.4.1.1.", 0) == 0) storage.push_back(sop_class_name(uid));
  }
  const bool accepted_any = r.association_accepted();

  // Exposure ladder and findings.
  Exposure level = prod.known() ? Exposure::identified : Exposure::reachable;
  const std::string calling_note = "calling AE title was random, so it cannot be on any allow-list";
  if (accepted_any) {
    level = Exposure::ae_open;
    if (r.called_enforced == false)
      rec.findings.push_back(make_finding("dimse.ae.any-called", target,
                                          {{"called_ae", r.accepted_called}, {"note", "a random AE title"}}));
    if (!r.default_called.empty())
      rec.findings.push_back(make_finding("dimse.ae.default-called", target, {{"called_ae", r.default_called}},
                                          fmt::format("Answers to the well-known AE title '{}'", r.default_called)));
    rec.findings.push_back(make_finding("dimse.ae.any-calling", target, {{"note", calling_note}}));
  }
  if (r.echo.sent && r.echo.category == "success")
    rec.findings.push_back(make_finding("dimse.echo.open", target, {{"status", hex4(r.echo.status)}}));
  if (r.find.sent && (r.find.category == "success" || r.find.category == "warning" || r.find.pending > 0)) {
    level = Exposure::query_open;
    rec.findings.push_back(make_finding(
        "dimse.query.open", target,
        {{"sop_class", sop_class_name(r.find.sop_class)}, {"status", hex4(r.find.status)},
         {"matches_for_random_patient_id", r.find.pending},
         {"note", "STUDY-level C-FIND for a random, never-existing Patient ID; no answer content was read"}}));
  }
  if (answered(r.move) || answered(r.get)) {
    level = Exposure::retrieve_open;
    json ev = json::object();
    if (answered(r.get)) ev["c_get"] = command_json(r.get);
    if (answered(r.move)) {
      ev["c_move"] = command_json(r.move);
      ev["move_destination"] = "random AE title";
    }
    ev["note"] = "retrieve of a random, never-existing Study Instance UID";
    rec.findings.push_back(make_finding("dimse.retrieve.open", target, ev));
  }
  const bool stored = r.store.sent && (r.store.category == "success" || r.store.category == "warning");
  if (!storage.empty()) {
    level = Exposure::write_open;
    json ev{{"storage_classes_accepted", storage},
            {"note", "judged from the accepted presentation contexts; nothing was stored"}};
    if (r.store.sent) {
      ev["active_store"] = command_json(r.store);
      ev["note"] = stored ? "--active-store stored one labelled test object (DICOMGUARD^TEST^OBJECT); delete it"
                          : "--active-store: the test object was not stored";
      if (stored) ev["stored_sop_instance_uid"] = r.stored_instance_uid;
    }
    rec.findings.push_back(make_finding(
        "dimse.store.open", target, ev,
        fmt::format("Accepts storage from an unknown AE ({} of {} storage classes proposed)", storage.size(),
                    proposed_storage_classes())));
  }
  if (!r.tls)
    rec.findings.push_back(make_finding("dimse.plaintext", target, {{"port", r.ep.port}}));

  json attempts = json::array();
  for (const AssocAttempt& a : r.attempts) {
    json j{{"called_ae", a.called}, {"calling_ae", a.calling}, {"tls", a.tls}, {"outcome", a.outcome}};
    if (a.rj_result >= 0) {
      j["result"] = a.rj_result;
      j["source"] = a.rj_source;
      j["reason"] = a.rj_reason;
    }
    if (!a.detail.empty()) j["detail"] = a.detail;
    attempts.push_back(j);
  }
  std::vector<std::string> aes;
  if (!r.known_called.empty()) aes.push_back(r.known_called);

  rec.status = exposure_name(level);
  if (prod.known()) rec.subject += " " + prod.product + (prod.version.empty() ? "" : " " + prod.version);
  rec.fields = json{
      {"address", r.ep.addr.str()},
      {"port", r.ep.port},
      {"protocol", r.tls ? "dimse-tls" : "dimse"},
      {"exposure", exposure_name(level)},
      {"ae_titles", aes},
      {"called_ae_check", tri(r.called_enforced)},
      {"calling_ae_check", tri(r.calling_enforced)},
      {"implementation_uid", r.implementation_uid},
      {"implementation_version", r.implementation_version},
      {"product", prod.known() ? json{{"vendor", prod.vendor}, {"product", prod.product}, {"version", prod.version}}
                               : json(nullptr)},
      {"accepted_services", accepted},
      {"associations", attempts},
      {"echo", command_json(r.echo)},
      {"find", command_json(r.find)},
      {"move", command_json(r.move)},
      {"get", command_json(r.get)},
      {"store", command_json(r.store)},
      {"released", r.released},
  };
  if (!r.ep.host.empty()) rec.fields["host"] = r.ep.host;
  if (r.max_pdu) rec.fields["max_pdu"] = r.max_pdu;
  if (r.count.sent) rec.fields["study_count"] = r.count.pending;
  if (r.tls) rec.fields["tls"] = json{{"version", r.tls_version}, {"alpn", r.alpn}};
  if (!r.release_note.empty()) rec.fields["release_note"] = r.release_note;
  return rec;
}

Record http_record(const HttpResult& r) {
  Record rec;
  if (r.orthanc == "absent" && r.dicomweb == "absent") return rec;
  const std::string target = r.ep.str();
  const std::string proto = r.tls ? "https" : "http";
  rec.type = "service";
  rec.subject = target + " " + proto;
  Exposure level = Exposure::reachable;
  if (!r.orthanc_version.empty()) {
    level = Exposure::identified;
    rec.subject += " Orthanc " + r.orthanc_version;
  }
  if (r.orthanc == "open") {
    level = Exposure::retrieve_open;  // the REST API reads, downloads and deletes everything
    json ev{{"path", "/system"}, {"note", "the REST API answered without authentication"}};
    if (r.patient_count) ev["patients_listed"] = *r.patient_count;
    rec.findings.push_back(make_finding("http.orthanc.open", target, ev));
  }
  if (r.default_credentials) {
    level = Exposure::retrieve_open;
    rec.findings.push_back(make_finding("http.default-credentials", target,
                                        {{"user", "orthanc"}, {"note", "Orthanc's documented default account"}}));
  }
  if (r.dicomweb == "open") {
    level = std::max(level, Exposure::query_open);
    rec.findings.push_back(make_finding(
        "http.dicomweb.open", target,
        {{"path", r.dicomweb_path}, {"status", r.dicomweb_status},
         {"note", "QIDO-RS study query for a random, never-existing Patient ID answered without authentication"}}));
  }
  if (!r.tls) rec.findings.push_back(make_finding("http.plaintext", target, {{"port", r.ep.port}}));
  if (r.cors_credentials)
    rec.findings.push_back(make_finding("http.cors.credentials", target,
                                        {{"note", "Access-Control-Allow-Origin matched an arbitrary origin, "
                                                  "Access-Control-Allow-Credentials: true"}}));
  rec.status = exposure_name(level);
  rec.fields = json{
      {"address", r.ep.addr.str()},
      {"port", r.ep.port},
      {"protocol", proto},
      {"exposure", exposure_name(level)},
      {"ae_titles", r.dicom_aet.empty() ? json::array() : json::array({r.dicom_aet})},
      {"product", r.orthanc_version.empty() ? json(nullptr)
                                            : json{{"vendor", "Orthanc project"}, {"product", "Orthanc"},
                                                   {"version", r.orthanc_version}}},
      {"orthanc", r.orthanc},
      {"dicomweb", r.dicomweb},
      {"cors_any_origin", r.cors_any_origin},
  };
  if (!r.dicomweb_path.empty()) rec.fields["dicomweb_path"] = r.dicomweb_path;
  if (r.dicom_port) rec.fields["dicom_port"] = r.dicom_port;
  if (!r.server.empty()) rec.fields["server"] = r.server;
  if (!r.errors.empty()) rec.fields["errors"] = r.errors;
  return rec;
}

}  // namespace dg::scan
