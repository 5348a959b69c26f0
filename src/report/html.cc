#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "findings/catalog.h"
#include "report/checklist.h"
#include "report/observed.h"
#include "report/patch.h"
#include "report/matrix.h"
#include "report/render.h"
#include "util/html_escape.h"

namespace dg::report {

namespace {

// Backticks in catalog text become <code>.
std::string prose(const std::string& s) {
  std::string o;
  bool code = false;
  for (char c : util::html_escape(s)) {
    if (c == '`') {
      o += code ? "</code>" : "<code>";
      code = !code;
    } else {
      o += c;
    }
  }
  if (code) o += "</code>";
  return o;
}

struct Bar {
  std::string label;
  std::uint64_t value;
  const char* color;
};

std::string bars(const std::string& title, const std::vector<Bar>& v) {
  std::uint64_t max = 1;
  for (const auto& b : v) max = std::max(max, b.value);
  const int row = 18, label_w = 120, bar_w = 150;
  std::string s = fmt::format(
      "<figure class=\"chart\"><figcaption>{}</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" "
      "height=\"{}\" role=\"img\" aria-label=\"{}\">",
      util::html_escape(title), label_w + bar_w + 40, row * v.size() + 4, util::html_escape(title));
  for (std::size_t i = 0; i < v.size(); ++i) {
    const int y = static_cast<int>(i) * row + 2;
    const int w = static_cast<int>(static_cast<double>(v[i].value) / static_cast<double>(max) * bar_w);
    s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"11\">{}</text>", label_w - 6, y + 12,
                     util::html_escape(v[i].label));
    s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"13\" fill=\"{}\"/>", label_w, y, std::max(w, 1),
                     v[i].color);
    s += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"11\">{}</text>", label_w + std::max(w, 1) + 4, y + 12,
                     v[i].value);
  }
  return s + "</svg></figure>";
}

const char* sev_color(const std::string& s) {
  if (s == "critical") return "#7f1d1d";
  if (s == "high") return "#dc2626";
  if (s == "medium") return "#f59e0b";
  if (s == "low") return "#0ea5e9";
  return "#9ca3af";
}

std::string tls_verdict(const Results& r, const std::string& target) {
  for (const auto& t : r.tls)
    if (t.value("target", "") == target) {
      std::string m;
      for (const auto& p : t.value("meets", std::vector<std::string>{}))
        if (p == "B.12" || p == "B.13") m += (m.empty() ? "" : ", ") + p;
      return m.empty() ? "neither B.12 nor B.13" : "meets " + m;
    }
  return "";
}


const char* kStyle = R"css(
:root { --pass:#15803d; --fail:#b91c1c; --nm:#6b7280; }
* { box-sizing: border-box; }
body { font: 14px/1.45 "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color:#111; margin: 0 auto; max-width: 190mm; padding: 8mm; }
h1 { font-size: 22px; margin: 0 0 2px; } h2 { font-size: 18px; border-bottom: 2px solid #111; padding-bottom: 2px; margin-top: 18px; }
h3 { font-size: 15px; margin: 14px 0 4px; }
.meta { color:#444; font-size: 12px; margin: 0 0 8px; }
.warning { background: #fef3c7; border-left: 4px solid #b45309; padding: 4px 8px; margin: 6px 0; font-size: 13px; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #ccc; padding: 3px 5px; text-align: left; vertical-align: top; }
th { background: #f3f4f6; }
.status { font-weight: bold; white-space: nowrap; text-transform: uppercase; font-size: 11px; padding: 1px 5px; border-radius: 3px; color: #fff; }
.pass { background: var(--pass); } .fail { background: var(--fail); } .not-measured { background: var(--nm); }
#checklist table td { font-size: 12.5px; } #checklist .evidence { color: #333; font-size: 11.5px; }
#checklist .refs { font-size: 11px; color: #444; margin-top: 6px; }
.charts { display: flex; flex-wrap: wrap; gap: 6px 18px; } figure.chart { margin: 0; } figcaption { font-weight: bold; font-size: 12px; }
table.matrix { table-layout: fixed; } .matrix th { font-size: 10.5px; padding: 2px; overflow-wrap: anywhere; }
.matrix td { font-size: 10px; padding: 2px; overflow-wrap: anywhere; } .matrix .cell { border-radius: 3px; padding: 3px; margin-bottom: 4px; }
.exposed { background: #fecaca; border-left: 4px solid var(--fail); } .not-seen { background: #dcfce7; border-left: 4px solid var(--pass); }
.not-measured-cell { background: #f3f4f6; border-left: 4px solid var(--nm); } .not-covered { background: #fff; border: 1px dashed #9ca3af; }
.matrix .checks { color: #374151; font-family: "DejaVu Sans Mono", monospace; font-size: 8.5px; overflow-wrap: anywhere; }
.legend span { display: inline-block; padding: 1px 6px; margin-right: 6px; font-size: 11px; }
.story { break-inside: avoid; border-left: 4px solid #ccc; padding-left: 8px; margin-bottom: 10px; }
.story .ids { font-size: 11px; color: #444; }
code { font-family: "DejaVu Sans Mono", monospace; font-size: 0.92em; background: #f3f4f6; padding: 0 2px; }
@page { size: A4; margin: 10mm; }
@media print { body { padding: 0; max-width: none; } #checklist { break-after: page; page-break-after: always; } h2 { break-after: avoid; } }
)css";

}  // namespace

std::string render_html(const Results& r, const RenderOptions& o) {
  const Catalog& cat = Catalog::builtin();
  std::string h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">";
  h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">";
  h += fmt::format("<title>{}</title><style>{}</style></head><body>\n", util::html_escape(o.title), kStyle);

  // ---- page 1: the checklist
  const auto items = checklist(r);
  std::map<ItemStatus, int> counts;
  for (const auto& it : items) ++counts[it.status];
  h += "<section id=\"checklist\">";
  h += fmt::format("<h1>{}</h1><p class=\"meta\">Made by dicomguard {}{} from {} result file{}. {} pass, {} fail, "
                   "{} not measured. A DICOM deployment is as safe as what is connected to it: know your network.</p>",
                   util::html_escape(o.title), "0.1.0", o.generated.empty() ? "" : " on " + util::html_escape(o.generated), r.inputs.size(),
                   r.inputs.size() == 1 ? "" : "s", counts[ItemStatus::pass], counts[ItemStatus::fail], counts[ItemStatus::not_measured]);
  for (const std::string& m : r.missing_shards())
    h += fmt::format("<p class=\"warning\" data-incomplete=\"shards\"><b>Incomplete results.</b> {}: this report covers "
                     "only part of a sharded run, and an item can pass here that the missing part would fail.</p>",
                     util::html_escape(m));
  h += "<h2>Security checklist</h2><table><thead><tr><th>Status</th><th>Item and evidence</th></tr></thead><tbody>";
  for (const auto& it : items) {
    h += fmt::format("<tr data-item=\"{}\" data-status=\"{}\"><td><span class=\"status {}\">{}</span></td><td><b>{}</b>"
                     "<div class=\"evidence\">{}</div></td></tr>",
                     util::html_escape(it.id), status_name(it.status), status_name(it.status), status_label(it.status),
                     util::html_escape(it.title), util::html_escape(it.evidence));
  }
  h += "</tbody></table>";
  if (o.before && o.after) {
    h += "<h2>Before and after the fix</h2><table id=\"before-after\"><thead><tr><th>Item</th><th>Before</th>"
         "<th>After</th></tr></thead><tbody>";
    for (const auto& c : compare(*o.before, *o.after))
      h += fmt::format("<tr data-item=\"{}\" data-before=\"{}\" data-after=\"{}\"><td><b>{}</b></td><td><span class="
                       "\"status {}\">{}</span><div class=\"evidence\">{}</div></td><td><span class=\"status {}\">{}"
                       "</span><div class=\"evidence\">{}</div></td></tr>",
                       util::html_escape(c.before.id), status_name(c.before.status), status_name(c.after.status), util::html_escape(c.before.title),
                       status_name(c.before.status), status_label(c.before.status), util::html_escape(c.before.evidence),
                       status_name(c.after.status), status_label(c.after.status), util::html_escape(c.after.evidence));
    h += "</tbody></table>";
  }
  h += "<p class=\"refs\">Follow-up guidance: NIST SP 1800-24 <i>Securing Picture Archiving and "
       "Communication System (PACS)</i>; NSA <i>Manageable Network Plan</i> (map your network, protect it, control "
       "access, log it); DICOM PS3.15 Annex B (secure transport profiles) and Annex E (de-identification). "
       "\"Not measured\" means these results hold no evidence either way: it is never a pass.</p></section>\n";

  // ---- summary charts
  static const char* ladder[] = {"reachable", "identified", "ae-open", "query-open", "retrieve-open", "write-open"};
  std::map<std::string, std::uint64_t> by_exposure, by_sev, by_verdict;
  std::uint64_t dimse = 0, dimse_tls = 0, http = 0, https = 0, meets = 0, fails = 0;
  for (const auto& s : r.services) {
    ++by_exposure[s.value("exposure", "reachable")];
    const std::string p = s.value("protocol", "");
    dimse += p == "dimse";
    dimse_tls += p == "dimse-tls";
    http += p == "http";
    https += p == "https";
  }
  for (const auto& t : r.tls) {
    bool ok = false;
    for (const auto& p : t.value("meets", std::vector<std::string>{})) ok = ok || p == "B.12" || p == "B.13";
    ++(ok ? meets : fails);
  }
  for (const auto& f : r.findings) ++by_sev[f.value("severity", "info")];
  for (const auto& f : r.files) ++by_verdict[f.value("verdict", "error")];
  h += "<section id=\"summary\"><h2>Summary</h2><div class=\"charts\">";
  std::vector<Bar> lb;
  for (const char* l : ladder)
    lb.push_back({l, by_exposure[l], std::string(l) == "reachable" || std::string(l) == "identified" ? "#9ca3af" : "#dc2626"});
  h += bars(fmt::format("Services by exposure ({} found)", r.services.size()), lb);
  std::vector<Bar> sb;
  for (const char* s : {"critical", "high", "medium", "low", "info"}) sb.push_back({s, by_sev[s], sev_color(s)});
  h += bars(fmt::format("Findings by severity ({})", r.findings.size()), sb);
  h += bars("TLS adoption", {{"DIMSE plain", dimse, "#dc2626"},
                             {"DIMSE over TLS", dimse_tls, "#15803d"},
                             {"HTTP plain", http, "#dc2626"},
                             {"HTTPS", https, "#15803d"},
                             {"meets B.12/B.13", meets, "#15803d"},
                             {"meets neither", fails, "#dc2626"}});
  std::vector<Bar> fb;
  for (const char* v : {"clean", "suspicious", "dangerous", "malformed", "not-dicom", "error"})
    fb.push_back({v, by_verdict[v], std::string(v) == "clean" ? "#15803d" : std::string(v) == "dangerous" ? "#dc2626" : "#f59e0b"});
  h += bars(fmt::format("Files by verdict ({} checked)", r.files.size()), fb);
  h += "</div>";
  if (r.skipped_lines)
    h += fmt::format("<p class=\"meta\">{} input lines were not dicomguard results and were skipped.</p>", r.skipped_lines);
  h += "</section>\n";

  // ---- threat matrix
  h += "<section id=\"matrix\">" + render_matrix(r, "html-fragment") + "</section>\n";

  // ---- inventory
  h += "<section id=\"inventory\"><h2>Inventory of DICOM services</h2>";
  if (r.services.empty()) {
    h += "<p>No service in these results.</p>";
  } else {
    h += "<table><thead><tr><th>Address</th><th>Port</th><th>Protocol</th><th>AE title</th><th>Product</th>"
         "<th>Version</th><th>Exposure</th><th>TLS</th></tr></thead><tbody>";
    for (const auto& s : r.services) {
      const auto& prod = s.contains("product") && s["product"].is_object() ? s["product"] : nlohmann::json::object();
      std::string aes;
      for (const auto& a : s.value("ae_titles", std::vector<std::string>{})) aes += (aes.empty() ? "" : ", ") + a;
      h += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                       util::html_escape(s.value("address", "")), s.value("port", 0), util::html_escape(s.value("protocol", "")), util::html_escape(aes),
                       util::html_escape(prod.value("product", "")), util::html_escape(prod.value("version", "")), util::html_escape(s.value("exposure", "")),
                       util::html_escape(tls_verdict(r, service_target(s))));
    }
    h += "</tbody></table>";
  }
  h += "</section>\n";

  // ---- what search engines saw (dicomguard shodan), next to what is true today
  if (const auto rows = observed_rows(r); !rows.empty()) {
    h += "<section id=\"internet\"><h2>Seen from the internet</h2><p>What Shodan or Censys recorded (their exports, "
         "read by <code>dicomguard shodan</code>), and what a scan found at the same address and port today.</p>"
         "<table><thead><tr><th>Service</th><th>Seen by</th><th>Last seen</th><th>What the banner proved</th>"
         "<th>Today</th></tr></thead><tbody>";
    for (const auto& row : rows)
      h += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>", util::html_escape(row.service),
                       util::html_escape(row.seen_by), util::html_escape(row.seen), util::html_escape(row.proved),
                       row.still_open                          ? "exposed"
                       : row.today.rfind("no DICOM", 0) == 0 ? "not-seen"
                                                               : "not-measured-cell",
                       util::html_escape(row.today));
    h += "</tbody></table></section>\n";
  }

  // ---- what to upgrade: products in the range of published advisories
  if (const auto rows = patch_rows(r); !rows.empty()) {
    h += "<section id=\"patch\"><h2>Patch</h2><p>Services whose product version is in the affected range of published "
         "advisories (CISA ICS medical advisories, CVE records, vendor notes). A distribution that backports fixes "
         "announces the unchanged version: confirm with the installed package before upgrading.</p>"
         "<table><thead><tr><th>Service</th><th>Product</th><th>Version</th><th>Advisories</th><th>Fixed in</th>"
         "</tr></thead><tbody>";
    for (const auto& row : rows)
      h += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td></tr>", util::html_escape(row.target),
                       util::html_escape(row.product), util::html_escape(row.version.empty() ? "(none)" : row.version),
                       row.version_unknown ? "not-measured-cell" : "exposed", util::html_escape(row.advisories), util::html_escape(row.fixed_in));
    h += "</tbody></table></section>\n";
  }

  // ---- stories of the checks found
  h += "<section id=\"findings\"><h2>What was found, why it matters, how to fix it</h2>";
  std::vector<const CheckInfo*> present;
  for (const auto& c : cat.all())
    if (r.has(c.id)) present.push_back(&c);
  std::stable_sort(present.begin(), present.end(), [](const CheckInfo* a, const CheckInfo* b) { return a->severity > b->severity; });
  if (present.empty()) h += "<p>No finding in these results.</p>";
  for (const CheckInfo* c : present) {
    std::vector<std::string> where;
    for (const auto& [target, ids] : r.checks_by_target)
      if (ids.count(c->id)) where.push_back(target);
    const bool files = c->id.rfind("file.", 0) == 0;
    std::string places = files && !o.show_paths ? fmt::format("{} file{}", where.size(), where.size() == 1 ? "" : "s")
                                                : fmt::format("{} place{}", where.size(), where.size() == 1 ? "" : "s");
    if (!files || o.show_paths) {
      places += ": ";
      for (std::size_t i = 0; i < where.size() && i < 12; ++i) places += (i ? ", " : "") + where[i];
      if (where.size() > 12) places += fmt::format(" and {} more", where.size() - 12);
    }
    h += fmt::format("<article class=\"story\" id=\"check-{}\" style=\"border-color:{}\"><h3>{}</h3>"
                     "<p class=\"ids\"><code>{}</code> · {} · {}</p><p><b>Why it matters.</b> {}</p>"
                     "<p><b>How to fix it.</b> {}</p>",
                     util::html_escape(c->id), sev_color(std::string(to_string(c->severity))), util::html_escape(c->title), util::html_escape(c->id),
                     util::html_escape(std::string(to_string(c->severity))), util::html_escape(places), prose(c->why), prose(c->fix));
    std::string nist, attack;
    for (const auto& n : c->nist) nist += (nist.empty() ? "" : "; ") + n;
    for (const auto& a : c->attack) attack += (attack.empty() ? "" : "; ") + a;
    if (!nist.empty()) h += fmt::format("<p class=\"ids\">NIST (SP 1800-24 / CSF): {}</p>", util::html_escape(nist));
    if (!c->mnp.empty()) h += fmt::format("<p class=\"ids\">NSA Manageable Network Plan: {}</p>", util::html_escape(c->mnp));
    if (!attack.empty()) h += fmt::format("<p class=\"ids\">MITRE ATT&amp;CK: {}</p>", util::html_escape(attack));
    h += "</article>";
  }
  h += "</section>\n</body></html>\n";
  return h;
}

std::string render_matrix(const Results& r, const std::string& format) {
  const Matrix& m = threat_matrix();
  std::map<std::string, std::vector<const Technique*>> by_tactic;
  for (const auto& t : m.techniques) by_tactic[t.tactic].push_back(&t);
  std::size_t rows = 0;
  for (const auto& [k, v] : by_tactic) rows = std::max(rows, v.size());
  if (format == "html-fragment" || format == "html") {
    std::string h;
    if (format == "html")
      h = fmt::format("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{}</style>"
                      "</head><body>",
                      util::html_escape(m.title), kStyle);
    h += fmt::format("<h2>{}</h2><p class=\"legend\"><span class=\"exposed\">exposed: found in these results</span>"
                     "<span class=\"not-seen\">not seen: measured, not found</span><span class=\"not-measured-cell\">not "
                     "measured</span><span class=\"not-covered\">no dicomguard check yet</span></p>",
                     util::html_escape(m.title));
    h += "<table class=\"matrix\"><thead><tr>";
    for (const auto& t : m.tactics) h += fmt::format("<th>{}</th>", util::html_escape(t.name));
    h += "</tr></thead><tbody><tr>";
    for (const auto& tac : m.tactics) {
      h += "<td>";
      for (const Technique* t : by_tactic[tac.id]) {
        const TechniqueState st = technique_state(*t, r);
        std::string checks;
        for (const auto& c : t->checks) checks += (checks.empty() ? "" : " ") + c;
        h += fmt::format("<div class=\"cell {}\" data-technique=\"{}\" data-state=\"{}\" title=\"{}\"><b>{}</b><br>{}<br>"
                         "<span class=\"checks\">{}</span></div>",
                         st == TechniqueState::not_measured ? "not-measured-cell" : state_name(st), util::html_escape(t->id),
                         state_name(st), util::html_escape(t->summary), util::html_escape(t->name), state_label(st), util::html_escape(checks.empty() ? t->not_covered : checks));
      }
      h += "</td>";
    }
    h += "</tr></tbody></table>";
    if (!m.source.empty()) h += fmt::format("<p class=\"meta\">{}</p>", util::html_escape(m.source));
    if (format == "html") h += "</body></html>\n";
    return h;
  }
  std::string s;
  if (format == "md") {
    s += fmt::format("## {}\n\n", m.title);
    for (const auto& tac : m.tactics) {
      s += fmt::format("**{}** ({})\n\n", tac.name, tac.attack);
      for (const Technique* t : by_tactic[tac.id]) {
        std::string checks;
        for (const auto& c : t->checks) checks += (checks.empty() ? "" : ", ") + ("`" + c + "`");
        s += fmt::format("- **{}** — {}: {} ({})\n", t->name, state_label(technique_state(*t, r)), t->summary,
                         checks.empty() ? t->not_covered : checks);
      }
      s += "\n";
    }
    return s;
  }
  // text
  for (const auto& tac : m.tactics) {
    s += fmt::format("{} ({})\n", tac.name, tac.attack);
    for (const Technique* t : by_tactic[tac.id]) {
      std::string checks;
      for (const auto& c : t->checks) checks += (checks.empty() ? "" : " ") + c;
      s += fmt::format("  {:<13} {:<58} {}\n", state_label(technique_state(*t, r)), t->name, checks.empty() ? "-" : checks);
    }
  }
  return s;
}

}  // namespace dg::report
