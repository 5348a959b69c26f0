#include "scan/service.h"

#include <fmt/format.h>

#include <algorithm>
#include <fmt/ranges.h>
#include <optional>

#include "dicom/uids.h"
#include "scan/fingerprint.h"
#include "scan/vulnerable.h"

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
  const char* name = dicom::uids::sop_class_name(uid);
  return name ? name : uid;
}

namespace {

std::string hex4(int v) { return v < 0 ? "" : fmt::format("{:04X}", v); }

json command_json(const CommandResult& c) {
  if (!c.sent) return nullptr;
  json j{{"sop_class", sop_class_name(c.sop_class)}, {"status", c.status < 0 ? json(nullptr) : json(hex4(c.status))},
         {"result", category_name(c.category)}, {"pending", c.pending}};
  if (c.completed >= 0) j["completed"] = c.completed;
  if (c.failed >= 0) j["failed"] = c.failed;
  if (c.warning >= 0) j["warning"] = c.warning;
  if (!c.error.empty()) j["error"] = c.error;
  return j;
}

// A retrieve is "answered" when the server processed it: success, warning, or pending sub-operations.
bool answered(const CommandResult& c) {
  return c.sent && (succeeded(c.category) || c.pending > 0);
}

std::string tri(const std::optional<bool>& enforced) {
  return !enforced ? "not-measured" : *enforced ? "enforced" : "not-enforced";
}

}  // namespace

namespace {

// Refused by the application: "0124 Refused: Not authorized" (PS3.7 C), the answer of a server that checks who
// asks per command rather than per association.
bool refused_not_authorized(const CommandResult& c) { return c.sent && c.status == 0x0124; }
bool succeeded(const CommandResult& c) { return c.sent && succeeded(c.category); }

json titles_tried(const DimseResult& r) {
  std::vector<std::string> t;
  for (const AssocAttempt& a : r.attempts)
    if (a.outcome == "rejected" && std::find(t.begin(), t.end(), a.called) == t.end()) t.push_back(a.called);
  return {{"titles", t}};
}

}  // namespace

Record dimse_record(const DimseResult& r) {
  Record rec;
  if (!r.is_dicom()) return rec;
  const std::string target = r.ep.str();
  rec.type = "service";

  const Product prod = fingerprint(r.implementation_uid, r.implementation_version);
  std::vector<std::string> accepted, storage;
  for (const auto& uid : r.accepted) {
    accepted.push_back(sop_class_name(uid));
    if (dicom::uids::is_storage(uid)) storage.push_back(sop_class_name(uid));
  }
  const bool accepted_any = r.association_accepted();

  // Commands refused per command: who asks is checked after the association, not before.
  std::vector<std::string> refused_cmds;
  std::size_t sent = 0;
  for (const auto& [name, c] : {std::pair<const char*, const CommandResult*>{"echo", &r.echo}, {"find", &r.find},
                                {"move", &r.move}, {"get", &r.get}, {"store", &r.store}}) {
    sent += c->sent;
    if (refused_not_authorized(*c)) refused_cmds.push_back(name);
  }
  const bool command_level = !refused_cmds.empty();
  const bool all_refused = command_level && refused_cmds.size() == sent;

  // Exposure ladder and findings.
  Exposure level = prod.known() ? Exposure::identified : Exposure::reachable;
  const std::string calling_note = "calling AE title was random, so it cannot be on any allow-list";
  std::optional<bool> calling_enforced = r.calling_enforced;
  if (all_refused) calling_enforced = true;  // every command from our random calling AE was refused
  // A server that accepts the association from anyone but refuses every command from us checks at command
  // level: the association alone gives a stranger nothing, so it is not "ae-open" and has no "any AE" finding.
  if (accepted_any && !all_refused) {
    level = Exposure::ae_open;
    {
      if (r.called_enforced == false)
        rec.findings.push_back(make_finding("dimse.ae.any-called", target,
                                            {{"called_ae", r.accepted_called}, {"note", "a random AE title"}}));
      if (!r.default_called.empty())
        rec.findings.push_back(make_finding("dimse.ae.default-called", target, {{"called_ae", r.default_called}},
                                            fmt::format("Answers to the well-known AE title '{}'", r.default_called)));
      rec.findings.push_back(make_finding("dimse.ae.any-calling", target, {{"note", calling_note}}));
    }
  }
  if (r.echo.sent && r.echo.category == CommandCategory::success)
    rec.findings.push_back(make_finding("dimse.echo.open", target, {{"status", hex4(r.echo.status)}}));
  std::string query_matching;
  if (r.find.sent && (succeeded(r.find.category) || r.find.pending > 0)) {
    level = Exposure::query_open;
    json ev{{"sop_class", sop_class_name(r.find.sop_class)}, {"status", hex4(r.find.status)},
            {"matches_for_random_patient_id", r.find.pending},
            {"note", "STUDY-level C-FIND for a random, never-existing Patient ID; no answer content was read"}};
    if (r.find.pending > 0) {
      // A Patient ID that cannot exist matched: the server does not apply the query's keys.
      query_matching = "ignores-keys";
      ev["matching"] = "ignores-keys";
      rec.note("query.ignores-keys", {{"matches", r.find.pending}});
    }
    rec.findings.push_back(make_finding("dimse.query.open", target, ev));
  }
  // Retrieves of a never-existing study: processed (open), refused, or failed, which proves nothing either way.
  std::string retrieve = "not-tried";
  if (answered(r.move) || answered(r.get)) {
    retrieve = "open";
    level = Exposure::retrieve_open;
    json ev = json::object();
    if (answered(r.get)) ev["c_get"] = command_json(r.get);
    if (answered(r.move)) {
      ev["c_move"] = command_json(r.move);
      ev["move_destination"] = "random AE title";
    }
    ev["note"] = "retrieve of a random, never-existing Study Instance UID";
    rec.findings.push_back(make_finding("dimse.retrieve.open", target, ev));
  } else if (r.move.sent || r.get.sent) {
    const bool refused = refused_not_authorized(r.move) || refused_not_authorized(r.get) ||
                         r.move.category == CommandCategory::aborted || r.get.category == CommandCategory::aborted;
    const bool unknown_destination = r.move.sent && r.move.status == 0xA801;
    if (refused) {
      retrieve = "refused";
    } else if (unknown_destination && !r.get.sent) {
      retrieve = "refused-unknown-destination";
    } else {
      retrieve = "not-proven";
      json answers = json::array();
      if (r.move.sent) answers.push_back({{"command", "C-MOVE"}, {"answer", r.move.status < 0 ? category_name(r.move.category) : hex4(r.move.status)}});
      if (r.get.sent) answers.push_back({{"command", "C-GET"}, {"answer", r.get.status < 0 ? category_name(r.get.category) : hex4(r.get.status)}});
      rec.note("retrieve.not-proven", {{"answers", answers}});
    }
  }
  // --move-probe: our own stored test object, moved to an address we named as the destination AE title.
  std::string move_probe;
  if (r.move_probe.sent) {
    if (succeeded(r.move_probe) && r.move_probe.completed > 0) {
      move_probe = "moved";
      level = std::max(level, Exposure::retrieve_open);
      rec.findings.push_back(make_finding(
          "dimse.move.any-destination", target,
          {{"destination_ae", r.move_probe_destination}, {"completed", r.move_probe.completed},
           {"stored_sop_instance_uid", r.stored_instance_uid},
           {"note", "C-MOVE of our own test object to a destination AE title that names an address and port: the "
                    "server opened the sub-association to it; no patient data was moved"}}));
    } else if (r.move_probe.status == 0xA801) {
      move_probe = "refused-unknown-destination";
    } else {
      move_probe = r.move_probe.status < 0 ? category_name(r.move_probe.category) : "status " + hex4(r.move_probe.status);
    }
  }
  // Storage: proven by --active-store, refused by it, or inferred from the accepted contexts (not a proof).
  const bool stored = succeeded(r.store);
  std::string store_basis = r.discover ? "not-tried" : "none";
  if (!storage.empty()) {
    json ev{{"storage_classes_accepted", storage}};
    if (r.store.sent) {
      ev["active_store"] = command_json(r.store);
      store_basis = stored ? "proven" : refused_not_authorized(r.store) ? "refused" : "failed";
    } else {
      store_basis = command_level ? "unverified" : "inferred";
    }
    ev["basis"] = store_basis;
    if (store_basis == "proven") {
      level = Exposure::write_open;
      ev["note"] = "--active-store stored one labelled test object (DICOMGUARD^TEST^OBJECT); delete it";
      ev["stored_sop_instance_uid"] = r.stored_instance_uid;
      rec.findings.push_back(make_finding(
          "dimse.store.open", target, ev,
          fmt::format("Stored a test object from an unknown AE ({} of {} storage classes accepted)", storage.size(),
                      proposed_storage_classes())));
    } else if (store_basis == "inferred") {
      level = Exposure::write_open;
      ev["note"] = "judged from the accepted presentation contexts; nothing was stored (--active-store proves it)";
      rec.findings.push_back(make_finding(
          "dimse.store.open", target, ev,
          fmt::format("Accepts storage from an unknown AE ({} of {} storage classes proposed)", storage.size(),
                      proposed_storage_classes())));
    } else if (store_basis == "unverified") {
      ev["note"] = "storage contexts accepted, but the server refused other commands from us per command (0124), so "
                   "it likely checks storage too; --active-store proves which";
      rec.findings.push_back(make_finding("dimse.store.unverified", target, ev));
    } else {
      rec.note("store.test-object-not-stored",
               {{"refused", store_basis == "refused"}, {"answer", r.store.status < 0 ? category_name(r.store.category) : hex4(r.store.status)}});
    }
  }
  if (!r.tls)
    rec.findings.push_back(make_finding("dimse.plaintext", target, {{"port", r.ep.port}}));
  // Published advisories for the product and version the fingerprint names (data/vulnerabilities.json).
  for (Finding& f : product_findings(target, prod.product, prod.version)) rec.findings.push_back(std::move(f));

  // What was tried and what held, for servers that let us do little.
  if (!accepted_any && r.called_enforced == true) {
    rec.note("ae.called-enforced", titles_tried(r));
    // Some servers (CTN) answer reason 7 for an unknown calling AE too: a title given as right then looks wrong.
    for (const AssocAttempt& a : r.attempts)
      if (a.source == "given" && a.outcome == "rejected" && a.rj_reason == 7) {
        rec.note("ae.given-title-refused", {{"called_ae", a.called}});
        break;
      }
  }
  if (calling_enforced == true && !all_refused)
    rec.note("ae.calling-enforced");
  if (command_level)
    rec.note("commands.refused", {{"commands", refused_cmds}});
  if (r.transport_retries)
    rec.note("transport.retried", {{"count", r.transport_retries}});
  if (!r.incomplete.empty()) rec.note("incomplete", {{"reason", r.incomplete}});
  if (prod.echoes_requester)
    rec.note("identity.echoed");

  // The fields are put straight into the object's map: a braced json{{"key", value}, ...} first builds each pair
  // as a two-element array and then converts it, which was a fifth of a --discover run's time in this function.
  json::object_t& o = rec.fields.get_ref<json::object_t&>();
  json attempts = json::array();
  for (const AssocAttempt& a : r.attempts) {
    json j = json::object();
    json::object_t& ja = j.get_ref<json::object_t&>();
    ja.emplace("called_ae", a.called);
    ja.emplace("calling_ae", a.calling);
    ja.emplace("tls", a.tls);
    ja.emplace("outcome", a.outcome);
    if (a.rj_result >= 0) {
      ja.emplace("result", a.rj_result);
      ja.emplace("source", a.rj_source);
      ja.emplace("reason", a.rj_reason);
    }
    if (!a.detail.empty()) ja.emplace("detail", a.detail);
    if (a.retried) ja.emplace("retried", true);
    if (!a.source.empty()) ja.emplace("called_ae_source", a.source);
    attempts.push_back(std::move(j));
  }
  json aes = json::array();
  if (!r.known_called.empty()) aes.push_back(r.known_called);

  rec.status = exposure_name(level);
  json product = nullptr;
  if (prod.known()) {
    product = json::object();
    json::object_t& p = product.get_ref<json::object_t&>();
    p.emplace("vendor", prod.vendor);
    p.emplace("product", prod.product);
    p.emplace("version", prod.version);
    p.emplace("basis", prod.basis);
  }
  auto strings = [](std::vector<std::string>& v) {
    json a = json::array();
    for (std::string& x : v) a.push_back(std::move(x));
    return a;
  };
  o.emplace("address", r.ep.addr.str());
  o.emplace("port", r.ep.port);
  o.emplace("protocol", r.tls ? "dimse-tls" : "dimse");
  o.emplace("exposure", exposure_name(level));
  o.emplace("ae_titles", std::move(aes));
  o.emplace("called_ae_check", tri(r.called_enforced));
  o.emplace("calling_ae_check", tri(calling_enforced));
  o.emplace("ae_check_level", command_level ? "command" : "association");
  o.emplace("implementation_uid", r.implementation_uid);
  o.emplace("implementation_version", r.implementation_version);
  o.emplace("product", std::move(product));
  o.emplace("accepted_services", strings(accepted));
  o.emplace("associations", std::move(attempts));
  o.emplace("echo", command_json(r.echo));
  o.emplace("find", command_json(r.find));
  o.emplace("move", command_json(r.move));
  o.emplace("get", command_json(r.get));
  o.emplace("store", command_json(r.store));
  o.emplace("retrieve", retrieve);
  o.emplace("storage", store_basis);
  o.emplace("move_probe", r.move_probe.sent ? json{{"destination_ae", r.move_probe_destination}, {"result", move_probe},
                                                   {"c_move", command_json(r.move_probe)}}
                                             : json(nullptr));
  o.emplace("commands_refused", refused_cmds);
  o.emplace("released", r.released);
  o.emplace("transport_retries", r.transport_retries);
  if (!query_matching.empty()) rec.fields["query_matching"] = query_matching;
  if (prod.echoes_requester) rec.fields["identity_echoed"] = true;
  if (!r.incomplete.empty()) rec.fields["incomplete"] = r.incomplete;
  if (!r.ep.host.empty()) rec.fields["host"] = r.ep.host;
  if (r.max_pdu) rec.fields["max_pdu"] = r.max_pdu;
  if (r.count.sent) rec.fields["study_count"] = r.count.pending;
  if (r.tls) rec.fields["tls"] = json{{"version", r.tls_version}, {"alpn", r.alpn}};
  if (!r.release_note.empty()) rec.fields["release_note"] = r.release_note;
  return rec;
}

Record http_record(const HttpResult& r) {
  Record rec;
  if (r.responses == 0) return rec;  // nothing here answered HTTP
  const std::string target = r.ep.str();
  const std::string proto = r.tls ? "https" : "http";
  rec.type = "service";
  const bool dicom = r.serves_dicom();
  Exposure level = Exposure::reachable;
  if (!r.orthanc_version.empty()) level = Exposure::identified;
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
  if (r.patient_list == "open") {
    level = std::max(level, Exposure::query_open);
    rec.findings.push_back(make_finding(
        "http.patient-list.open", target,
        {{"path", r.patient_list_path}, {"rows", r.patient_rows},
         {"note", "a page listing patients answered without authentication; its rows were counted, not read"}}));
  }
  if (dicom && !r.tls) rec.findings.push_back(make_finding("http.plaintext", target, {{"port", r.ep.port}}));
  if (dicom && r.cors_credentials)
    rec.findings.push_back(make_finding("http.cors.credentials", target,
                                        {{"note", "Access-Control-Allow-Origin matched an arbitrary origin, "
                                                  "Access-Control-Allow-Credentials: true"}}));
  if (!r.orthanc_version.empty())
    for (Finding& f : product_findings(target, "Orthanc", r.orthanc_version)) rec.findings.push_back(std::move(f));
  if (dicom && r.orthanc == "absent" && r.dicomweb == "absent" && r.patient_list == "absent")
    rec.note("web.dicom-hints-only", {{"hints", r.dicom_hints}});
  // A web server that shows no sign of DICOM is recorded (JSON) but not shown as a finding.
  rec.status = dicom ? exposure_name(level) : "not-dicom";
  json product = nullptr;
  if (!r.orthanc_version.empty())
    product = json{{"vendor", "Orthanc project"}, {"product", "Orthanc"}, {"version", r.orthanc_version}, {"basis", "http"}};
  rec.fields = json{
      {"address", r.ep.addr.str()},
      {"port", r.ep.port},
      {"protocol", proto},
      {"exposure", exposure_name(level)},
      {"dicom", dicom},
      {"ae_titles", r.dicom_aet.empty() ? json::array() : json::array({r.dicom_aet})},
      {"product", product},
      {"orthanc", r.orthanc},
      {"dicomweb", r.dicomweb},
      {"patient_list", r.patient_list},
      {"cors_any_origin", r.cors_any_origin},
      {"http_status", r.root_status},
  };
  if (!r.title.empty()) rec.fields["title"] = r.title;
  if (!r.dicom_hints.empty()) rec.fields["dicom_hints"] = r.dicom_hints;
  if (!r.dicomweb_path.empty()) rec.fields["dicomweb_path"] = r.dicomweb_path;
  if (r.dicom_port) rec.fields["dicom_port"] = r.dicom_port;
  if (!r.server.empty()) rec.fields["server"] = r.server;
  if (r.default_credentials_tried) rec.fields["default_credentials"] = r.default_credentials ? "accepted" : "refused";
  if (!r.errors.empty()) rec.fields["errors"] = r.errors;
  return rec;
}

}  // namespace dg::scan
