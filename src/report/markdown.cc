#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "findings/catalog.h"
#include "report/checklist.h"
#include "report/observed.h"
#include "report/patch.h"
#include "report/render.h"

namespace dg::report {

namespace {
// Markdown table cells: no pipes or line breaks.
std::string cell(std::string s) {
  for (char& c : s)
    if (c == '|' || c == '\n') c = c == '|' ? '/' : ' ';
  return s;
}
}  // namespace

std::string render_markdown(const Results& r, const RenderOptions& o) {
  std::string m = fmt::format("# {}\n\nMade by dicomguard 0.1.0{} from {} result file{}.\n\n", o.title,
                              o.generated.empty() ? "" : " on " + o.generated, r.inputs.size(),
                              r.inputs.size() == 1 ? "" : "s");
  for (const std::string& miss : r.missing_shards())
    m += fmt::format("**Incomplete results.** {}: this report covers only part of a sharded run, and an item can "
                     "pass here that the missing part would fail.\n\n", miss);
  m += "## Security checklist\n\n| Status | Item | Evidence |\n|---|---|---|\n";
  for (const auto& it : checklist(r))
    m += fmt::format("| {} | {} | {} |\n", it.status == ItemStatus::not_measured ? "NOT MEASURED" : it.status == ItemStatus::pass ? "PASS" : "FAIL",
                     cell(it.title), cell(it.evidence));
  if (o.before && o.after) {
    m += "\n## Before and after the fix\n\n| Item | Before | After |\n|---|---|---|\n";
    for (const auto& c : compare(*o.before, *o.after))
      m += fmt::format("| {} | {}: {} | {}: {} |\n", cell(c.before.title), status_label(c.before.status),
                       cell(c.before.evidence), status_label(c.after.status), cell(c.after.evidence));
  }
  m += "\n\"Not measured\" means these results hold no evidence either way: it is never a pass. Guidance: NIST SP "
       "1800-24 (Securing PACS), NSA Manageable Network Plan, DICOM PS3.15.\n\n";
  m += render_matrix(r, "md");
  m += "## Inventory of DICOM services\n\n";
  if (r.services.empty()) m += "No service in these results.\n\n";
  else {
    m += "| Address | Port | Protocol | AE title | Product | Version | Exposure |\n|---|---|---|---|---|---|---|\n";
    for (const auto& s : r.services) {
      const auto& prod = s.contains("product") && s["product"].is_object() ? s["product"] : nlohmann::json::object();
      std::string aes;
      for (const auto& a : s.value("ae_titles", std::vector<std::string>{})) aes += (aes.empty() ? "" : ", ") + a;
      m += fmt::format("| {} | {} | {} | {} | {} | {} | {} |\n", s.value("address", ""), s.value("port", 0),
                       s.value("protocol", ""), cell(aes), cell(prod.value("product", "")),
                       cell(prod.value("version", "")), s.value("exposure", ""));
    }
    m += "\n";
  }
  if (const auto rows = observed_rows(r); !rows.empty()) {
    m += "## Seen from the internet\n\nWhat Shodan or Censys recorded (their exports, read by `dicomguard shodan`), "
         "and what a scan found at the same address and port today.\n\n"
         "| Service | Seen by | Last seen | What the banner proved | Today |\n|---|---|---|---|---|\n";
    for (const auto& row : rows)
      m += fmt::format("| {} | {} | {} | {} | {} |\n", cell(row.service), row.seen_by, row.seen, cell(row.proved),
                       cell(row.today));
    m += "\n";
  }
  if (const auto rows = patch_rows(r); !rows.empty()) {
    m += "## Patch\n\nServices whose product version is in the affected range of published advisories "
         "(`data/vulnerabilities.json`: CISA ICS medical advisories, CVE records, vendor notes). A distribution that "
         "backports fixes announces the unchanged version: confirm with the installed package before upgrading.\n\n"
         "| Service | Product | Version | Advisories | Fixed in |\n|---|---|---|---|---|\n";
    for (const auto& row : rows)
      m += fmt::format("| {} | {} | {} | {} | {} |\n", row.target, cell(row.product), cell(row.version.empty() ? "(none)" : row.version),
                       cell(row.advisories), cell(row.fixed_in));
    m += "\n";
  }
  m += "## What was found, why it matters, how to fix it\n\n";
  std::vector<const CheckInfo*> present;
  for (const auto& c : Catalog::builtin().all())
    if (r.has(c.id)) present.push_back(&c);
  std::stable_sort(present.begin(), present.end(), [](const CheckInfo* a, const CheckInfo* b) { return a->severity > b->severity; });
  if (present.empty()) m += "No finding in these results.\n";
  for (const CheckInfo* c : present) {
    m += fmt::format("### {}\n\n`{}` · {} · {} finding{}\n\n**Why it matters.** {}\n\n**How to fix it.** {}\n\n", c->title,
                     c->id, to_string(c->severity), r.check_count.at(c->id), r.check_count.at(c->id) == 1 ? "" : "s",
                     c->why, c->fix);
    if (!c->nist.empty()) {
      m += "NIST:";
      for (const auto& n : c->nist) m += " " + n + ";";
      m += "\n\n";
    }
    if (!c->mnp.empty()) m += "NSA Manageable Network Plan: " + c->mnp + "\n\n";
    if (!c->attack.empty()) {
      m += "ATT&CK:";
      for (const auto& a : c->attack) m += " " + a + ";";
      m += "\n\n";
    }
  }
  return m;
}

}  // namespace dg::report
