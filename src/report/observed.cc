#include "report/observed.h"

#include <map>

namespace dg::report {

namespace {
bool is_dicom(const nlohmann::json& s) {
  const std::string p = s.value("protocol", "");
  return p == "dimse" || p == "dimse-tls" || s.value("dicom", false);
}
}  // namespace

std::vector<ObservedRow> observed_rows(const Results& r) {
  std::map<std::string, const nlohmann::json*> now;
  for (const auto& s : r.services) now[service_target(s)] = &s;
  const bool scanned = r.commands.count("scan") > 0;
  std::vector<ObservedRow> rows;
  for (const auto& o : r.observed) {
    ObservedRow row;
    const std::string where = service_target(o);
    row.service = where + " " + o.value("protocol", "");
    row.seen_by = o.value("source", "");
    if (o.contains("seen_last") && o["seen_last"].is_string()) row.seen = o["seen_last"].get<std::string>().substr(0, 10);
    row.proved = o.value("exposure", "");
    std::string checks;
    if (auto it = r.observed_checks.find(row.seen_by + "|" + where); it != r.observed_checks.end())
      for (const auto& c : it->second) checks += (checks.empty() ? "" : ", ") + c;
    if (!checks.empty()) row.proved += ": " + checks;
    if (auto it = now.find(where); it != now.end() && is_dicom(*it->second)) {
      row.still_open = true;
      const auto& s = *it->second;
      row.today = s.value("exposure", "");
      std::string c;
      if (auto jt = r.checks_by_target.find(where); jt != r.checks_by_target.end())
        for (const auto& id : jt->second)
          if (id != "exposure.internet") c += (c.empty() ? "" : ", ") + id;
      if (!c.empty()) row.today += ": " + c;
    } else {
      row.today = scanned ? "no DICOM answer now" : "not re-checked (dicomguard shodan --verify)";
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace dg::report
