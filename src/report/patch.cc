#include "report/patch.h"

#include <fmt/format.h>

#include <algorithm>

#include "findings/severity.h"

namespace dg::report {

std::vector<PatchRow> patch_rows(const Results& r) {
  std::vector<PatchRow> rows;
  for (const auto& f : r.findings) {
    const std::string check = f.value("check", "");
    if (check != "product.vulnerable" && check != "product.unknown-version") continue;
    const auto& ev = f.contains("evidence") && f["evidence"].is_object() ? f["evidence"] : nlohmann::json::object();
    PatchRow row;
    row.target = f.value("target", "");
    row.product = ev.value("product", "");
    row.version = ev.value("version", "");
    row.severity = f.value("severity", "");
    if (check == "product.unknown-version") {
      row.version_unknown = true;
      const int n = ev.value("advisories", 0);
      row.advisories = fmt::format("{} published advisor{} for this product; the service announced no comparable "
                                   "version, check the installed one", n, n == 1 ? "y" : "ies");
      row.fixed_in = "unknown";
    } else {
      if (ev.contains("advisories") && ev["advisories"].is_array())
        for (const auto& a : ev["advisories"]) {
          if (!a.is_object()) continue;
          row.advisories += fmt::format("{}{} ({}{})", row.advisories.empty() ? "" : ", ", a.value("id", ""),
                                        a.value("severity", ""), a.contains("fixed") ? ", fixed in " + a.value("fixed", "") : ", no fix");
        }
      row.fixed_in = ev.contains("fixed_in") && ev["fixed_in"].is_string() ? ev["fixed_in"].get<std::string>()
                                                                              : "no fixed release for all";
    }
    rows.push_back(std::move(row));
  }
  // Worst first, then by service.
  auto rank = [](const PatchRow& p) { return p.version_unknown ? -1 : static_cast<int>(parse_severity(p.severity).value_or(Severity::info)); };
  std::stable_sort(rows.begin(), rows.end(), [&rank](const PatchRow& a, const PatchRow& b) {
    return rank(a) != rank(b) ? rank(a) > rank(b) : a.target < b.target;
  });
  return rows;
}

}  // namespace dg::report
