#include "audit/xml_validate.h"

#include <libxml/parser.h>
#include <libxml/relaxng.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <openssl/evp.h>

#include <map>
#include <mutex>
#include <set>

#include "audit/syslog_parse.h"

namespace dg::audit {

extern const std::string_view kAuditSchemaRng;

namespace {

struct Errors {
  std::vector<std::string> lines;
};

void collect(void* ctx, xmlErrorPtr e) {
  auto* errs = static_cast<Errors*>(ctx);
  if (!e || errs->lines.size() >= 8) return;
  std::string m = e->message ? e->message : "error";
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  if (m.size() > 200) m.resize(200);
  errs->lines.push_back("line " + std::to_string(e->line) + ": " + m);
}

std::string joined(const Errors& e) {
  std::string s;
  for (const auto& l : e.lines) s += (s.empty() ? "" : "; ") + l;
  return s.empty() ? std::string("rejected") : s;
}

// The schema, parsed once; validation contexts are made per message (libxml2 keeps no state in the schema).
xmlRelaxNGPtr schema() {
  static xmlRelaxNGPtr s = [] {
    xmlInitParser();
    xmlRelaxNGParserCtxtPtr p =
        xmlRelaxNGNewMemParserCtxt(kAuditSchemaRng.data(), static_cast<int>(kAuditSchemaRng.size()));
    xmlRelaxNGPtr r = p ? xmlRelaxNGParse(p) : nullptr;
    if (p) xmlRelaxNGFreeParserCtxt(p);
    return r;
  }();
  return s;
}
std::mutex schema_mutex;  // libxml2's RELAX NG validator is not documented as safe on one schema from two threads

std::string prop(xmlNodePtr n, const char* name) {
  xmlChar* v = xmlGetNoNsProp(n, reinterpret_cast<const xmlChar*>(name));
  if (!v) return {};
  std::string s(reinterpret_cast<const char*>(v));
  xmlFree(v);
  if (s.size() > 256) s.resize(256);
  return s;
}
bool has_prop(xmlNodePtr n, const char* name) { return xmlHasProp(n, reinterpret_cast<const xmlChar*>(name)) != nullptr; }
bool is(xmlNodePtr n, const char* name) {
  return n && n->type == XML_ELEMENT_NODE && xmlStrcmp(n->name, reinterpret_cast<const xmlChar*>(name)) == 0;
}
CodeRef code_of(xmlNodePtr n) { return {prop(n, "csd-code"), prop(n, "codeSystemName"), prop(n, "originalText")}; }

int depth_of(xmlNodePtr n, int d) {
  int m = d;
  for (xmlNodePtr c = n->children; c; c = c->next)
    if (c->type == XML_ELEMENT_NODE) {
      m = std::max(m, depth_of(c, d + 1));
      if (m > kMaxXmlDepth) return m;
    }
  return m;
}

const std::map<std::string, std::string>& events() {
  static const std::map<std::string, std::string> m{
      {"110100", "Application Activity"}, {"110101", "Audit Log Used"},
      {"110102", "Begin Transferring DICOM Instances"}, {"110103", "DICOM Instances Accessed"},
      {"110104", "DICOM Instances Transferred"}, {"110105", "DICOM Study Deleted"}, {"110106", "Export"},
      {"110107", "Import"}, {"110108", "Network Entry"}, {"110109", "Order Record"}, {"110110", "Patient Record"},
      {"110111", "Procedure Record"}, {"110112", "Query"}, {"110113", "Security Alert"},
      {"110114", "User Authentication"}};
  return m;
}

// The EventTypeCodes A.5.3 requires, per EventID (the CIDs named there).
const std::map<std::string, std::set<std::string>>& required_types() {
  static const std::map<std::string, std::set<std::string>> m{
      {"110100", {"110120", "110121"}},  // Application Start / Stop
      {"110108", {"110124", "110125"}},  // Attach / Detach
      {"110113", {"110126", "110127", "110128", "110129", "110130", "110131", "110132", "110133", "110134", "110135",
                  "110136", "110137", "110138", "110139", "110140", "110141", "110142"}},  // CID 403
      {"110114", {"110122", "110123", "110127", "110138"}},  // Login / Logout (CID 404 subset)
  };
  return m;
}

// EventActionCode where A.5.3 fixes it.
const std::map<std::string, std::string>& required_action() {
  static const std::map<std::string, std::string> m{{"110100", "E"}, {"110102", "E"}, {"110104", "CRU"},
                                                    {"110105", "D"}, {"110106", "R"}, {"110107", "C"},
                                                    {"110112", "E"}, {"110113", "E"}, {"110114", "E"}};
  return m;
}

void add(AuditFacts& f, std::string code, std::string text) { f.problems.push_back({std::move(code), std::move(text)}); }

void semantic(AuditFacts& f) {
  const std::string& id = f.event.code;
  if (f.event.system != "DCM" || !events().count(id)) {
    add(f, "event.unknown-id",
        "EventID " + f.event.code + " (" + f.event.system + ") is not a DICOM audit event of PS3.15 A.5.3 (DCM 110100..110114)");
    return;
  }
  if (auto it = required_types().find(id); it != required_types().end()) {
    bool ok = false;
    for (const auto& t : f.event_types) ok = ok || (t.system == "DCM" && it->second.count(t.code));
    if (!ok) add(f, "event.type-code", event_name(id) + " needs an EventTypeCode of its DCM list (A.5.3)");
  }
  for (const auto& t : f.event_types)
    if (t.system == "DCM" && (t.code.size() != 6 || t.code.compare(0, 3, "110") != 0))
      add(f, "event.type-code", "EventTypeCode " + t.code + " is not a DCM audit code");
  if (auto it = required_action().find(id);
      it != required_action().end() && (f.action.size() != 1 || it->second.find(f.action) == std::string::npos))
    add(f, "event.action-code",
        event_name(id) + " needs EventActionCode " + it->second + " (A.5.3), not '" + f.action + "'");
  bool zone = false;
  f.event_epoch = syslog::parse_time(f.event_time, &zone);
  if (!f.event_epoch)
    add(f, "time.not-utc", "EventDateTime '" + f.event_time + "' has no time zone (Z or an offset: A.5.2 wants UTC)");
  auto has_role = [&](const char* role) {
    for (const auto& p : f.participants)
      for (const auto& r : p.roles)
        if (r == role) return true;
    return false;
  };
  auto has_object = [&](const char* id_type) {
    for (const auto& o : f.objects)
      if (o.id_type == id_type) return true;
    return false;
  };
  static const std::set<std::string> with_requestor{"110102", "110103", "110104", "110106", "110107", "110112",
                                                    "110114"};
  if (with_requestor.count(id)) {
    bool any = false;
    for (const auto& p : f.participants) any = any || p.requestor;
    if (!any) add(f, "participant.no-requestor", event_name(id) + " needs an ActiveParticipant with UserIsRequestor true");
  }
  if (id == "110100" && !has_role("110150"))
    add(f, "participant.missing", "Application Activity needs the application (RoleIDCode 110150)");
  if (id == "110102" || id == "110104" || id == "110112") {
    if (!has_role("110153")) add(f, "participant.missing", event_name(id) + " needs the source (RoleIDCode 110153)");
    if (!has_role("110152")) add(f, "participant.missing", event_name(id) + " needs the destination (RoleIDCode 110152)");
  }
  if (id == "110102" || id == "110104") {
    if (!has_object("110180")) add(f, "object.missing", event_name(id) + " needs the study (ParticipantObjectIDTypeCode 110180)");
    bool patient = false;
    for (const auto& o : f.objects) patient = patient || (o.type == "1" && o.role == "1");
    if (!patient) add(f, "object.missing", event_name(id) + " needs the patient (ParticipantObjectTypeCodeRole 1)");
  }
  if (id == "110112" && !has_object("110181"))
    add(f, "object.missing", "Query needs the SOP Class queried (ParticipantObjectIDTypeCode 110181)");
}

}  // namespace

std::string event_name(const std::string& code) {
  auto it = events().find(code);
  return it == events().end() ? std::string() : it->second;
}

std::string short_hash(std::string_view s) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(s.data(), s.size(), md, &n, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < 8 && i < n; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

AuditFacts validate_message(std::string_view xml) {
  AuditFacts f;
  if (xml.size() > kMaxXmlBytes) {
    add(f, "xml.too-large", "the XML is " + std::to_string(xml.size()) + " bytes (at most " +
                                std::to_string(kMaxXmlBytes) + ")");
    return f;
  }
  if (xml.find("<!DOCTYPE") != std::string_view::npos || xml.find("<!ENTITY") != std::string_view::npos) {
    add(f, "xml.doctype", "a DOCTYPE or entity declaration (refused: no DTD is read, no entity expanded)");
    return f;
  }
  if (schema() == nullptr) {
    add(f, "schema.unavailable", "the embedded A.5.1 schema did not load");
    return f;
  }
  Errors errs;
  xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
  if (!ctxt) {
    add(f, "xml.not-well-formed", "out of memory");
    return f;
  }
  xmlSetStructuredErrorFunc(&errs, collect);
  // No XML_PARSE_NOENT (entities are not substituted), no DTDLOAD/DTDVALID/DTDATTR, no HUGE; NONET: nothing
  // fetched.
  xmlDocPtr doc = xmlCtxtReadMemory(ctxt, xml.data(), static_cast<int>(xml.size()), "audit-message.xml", nullptr,
                                    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
  xmlFreeParserCtxt(ctxt);
  struct DocFree {
    xmlDocPtr d;
    ~DocFree() {
      if (d) xmlFreeDoc(d);
      xmlSetStructuredErrorFunc(nullptr, nullptr);
    }
  } guard{doc};
  if (!doc) {
    add(f, "xml.not-well-formed", joined(errs));
    return f;
  }
  if (doc->intSubset || doc->extSubset) {
    add(f, "xml.doctype", "a DOCTYPE (refused)");
    return f;
  }
  xmlNodePtr root = xmlDocGetRootElement(doc);
  if (!root || depth_of(root, 1) > kMaxXmlDepth) {
    add(f, "xml.too-deep", "elements nested more than " + std::to_string(kMaxXmlDepth) + " deep");
    return f;
  }
  f.well_formed = true;
  {
    std::lock_guard<std::mutex> lock(schema_mutex);
    Errors verrs;
    xmlRelaxNGValidCtxtPtr v = xmlRelaxNGNewValidCtxt(schema());
    xmlSetStructuredErrorFunc(&verrs, collect);
    xmlRelaxNGSetValidStructuredErrors(v, collect, &verrs);
    const int rc = v ? xmlRelaxNGValidateDoc(v, doc) : -1;
    if (v) xmlRelaxNGFreeValidCtxt(v);
    f.schema_valid = rc == 0;
    if (!f.schema_valid) add(f, "schema.invalid", "not valid against the A.5.1 schema: " + joined(verrs));
  }
  if (!is(root, "AuditMessage")) {
    if (f.schema_valid) add(f, "schema.invalid", "the root element is not AuditMessage");
    return f;
  }
  for (xmlNodePtr n = root->children; n; n = n->next) {
    if (is(n, "EventIdentification")) {
      f.action = prop(n, "EventActionCode");
      f.event_time = prop(n, "EventDateTime");
      f.outcome = prop(n, "EventOutcomeIndicator");
      for (xmlNodePtr c = n->children; c; c = c->next) {
        if (is(c, "EventID")) f.event = code_of(c);
        else if (is(c, "EventTypeCode") && f.event_types.size() < 16) f.event_types.push_back(code_of(c));
      }
    } else if (is(n, "ActiveParticipant") && f.participants.size() < 32) {
      SeenParticipant p;
      p.user_id = prop(n, "UserID");
      p.address = prop(n, "NetworkAccessPointID");
      const std::string r = prop(n, "UserIsRequestor");
      p.requestor = r == "true" || r == "1";
      for (xmlNodePtr c = n->children; c; c = c->next)
        if (is(c, "RoleIDCode") && p.roles.size() < 8) p.roles.push_back(prop(c, "csd-code"));
      f.participants.push_back(std::move(p));
    } else if (is(n, "AuditSourceIdentification")) {
      f.source_id = prop(n, "AuditSourceID");
    } else if (is(n, "ParticipantObjectIdentification") && f.objects.size() < 64) {
      SeenObject o;
      if (has_prop(n, "ParticipantObjectID")) {
        xmlChar* v = xmlGetNoNsProp(n, reinterpret_cast<const xmlChar*>("ParticipantObjectID"));
        o.id_sha256 = short_hash(reinterpret_cast<const char*>(v));
        xmlFree(v);
      }
      o.type = prop(n, "ParticipantObjectTypeCode");
      o.role = prop(n, "ParticipantObjectTypeCodeRole");
      for (xmlNodePtr c = n->children; c; c = c->next)
        if (is(c, "ParticipantObjectIDTypeCode")) o.id_type = prop(c, "csd-code");
      f.objects.push_back(std::move(o));
    }
  }
  semantic(f);
  return f;
}

}  // namespace dg::audit
