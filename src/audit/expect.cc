#include "audit/expect.h"

#include <set>

#include "audit/xml_validate.h"

namespace dg::audit {

namespace {
bool is_dimse(const nlohmann::json& s) {
  const std::string p = s.value("protocol", "");
  return p == "dimse" || p == "dimse-tls";
}
std::string target_of(const nlohmann::json& s) {
  const std::string a = s.value("address", "");
  const std::string host = a.find(':') != std::string::npos ? "[" + a + "]" : a;
  return host + ":" + std::to_string(s.value("port", 0));
}
}  // namespace

std::vector<ExpectedEvent> expected_events(const nlohmann::json& s) {
  std::vector<ExpectedEvent> out;
  if (!is_dimse(s)) return out;
  int rejected = 0, accepted = 0;
  if (s.contains("associations") && s["associations"].is_array())
    for (const auto& a : s["associations"]) {
      if (!a.is_object()) continue;
      const std::string o = a.value("outcome", "");
      if (o == "rejected") ++rejected;
      else if (o == "accepted") ++accepted;
    }
  if (rejected)
    out.push_back({"110113", std::to_string(rejected) + " association(s) rejected (AE titles the device refused)",
                   {"110114"}});
  std::vector<std::string> refused;
  if (s.contains("commands_refused") && s["commands_refused"].is_array())
    for (const auto& c : s["commands_refused"])
      if (c.is_string()) refused.push_back(c.get<std::string>());
  if (!refused.empty()) {
    std::string list;
    for (const auto& c : refused) list += (list.empty() ? "" : ", ") + c;
    out.push_back({"110113", "commands refused as not authorized (" + list + ")", {}});
  }
  if (s.contains("find") && s["find"].is_object()) {
    const std::string r = s["find"].value("result", "");
    if (r == "success" || r == "warning")
      out.push_back({"110112", "a C-FIND was answered", {}});
  }
  (void)accepted;
  return out;
}

bool from_host(const nlohmann::json& a, const nlohmann::json& s) {
  std::set<std::string> names{s.value("address", "")};
  if (s.contains("host") && s["host"].is_string()) names.insert(s["host"].get<std::string>());
  names.erase("");
  for (const char* k : {"sender", "hostname", "source_id"})
    if (a.contains(k) && a[k].is_string() && names.count(a[k].get<std::string>())) return true;
  return false;
}

std::vector<Record> expect(const std::vector<nlohmann::json>& services, const std::vector<nlohmann::json>& audits) {
  std::vector<Record> out;
  std::set<std::string> done;
  for (const auto& s : services) {
    if (!is_dimse(s) || !done.insert(target_of(s)).second) continue;
    Record r;
    r.type = "audit-expect";
    r.fields["target"] = target_of(s);
    r.fields["address"] = s.value("address", "");
    r.fields["port"] = s.value("port", 0);
    std::set<std::string> seen;
    std::uint64_t messages = 0, valid = 0, tls = 0;
    for (const auto& a : audits) {
      if (!from_host(a, s) || a.value("status", "") == "refused") continue;
      ++messages;
      if (a.value("valid", false)) ++valid;
      if (a.value("transport", "") == "tls") ++tls;
      if (a.contains("event_id") && a["event_id"].is_string()) seen.insert(a["event_id"].get<std::string>());
    }
    r.fields["messages"] = messages;
    r.fields["valid_messages"] = valid;
    r.fields["tls_messages"] = tls;
    r.fields["events_seen"] = seen;
    auto expected = nlohmann::json::array(), missing = nlohmann::json::array();
    for (const auto& e : expected_events(s)) {
      bool ok = seen.count(e.event_id) > 0;
      for (const auto& alt : e.also) ok = ok || seen.count(alt);
      expected.push_back({{"event_id", e.event_id}, {"event", event_name(e.event_id)}, {"because", e.because},
                          {"seen", ok}});
      if (!ok) {
        missing.push_back(e.event_id);
        r.findings.push_back(make_finding(
            "audit.missing-event", target_of(s), {{"event_id", e.event_id}, {"because", e.because}},
            "no " + event_name(e.event_id) + " (" + e.event_id + ") audit message from this device: " + e.because));
      }
    }
    r.fields["expected"] = expected;
    r.fields["missing"] = missing;
    r.status = missing.empty() ? (expected.empty() ? "nothing-expected" : "complete") : "missing";
    r.fields["status"] = r.status;
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace dg::audit
