#include "procure/rfp.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "procure/coverage.h"
#include "procure/table.h"

namespace dg::procure {

extern const std::string_view kRfpJson;

namespace {

std::vector<std::string> kinds_of(const nlohmann::json& j) {
  const auto it = j.find("measured_by");
  if (it == j.end()) return {"none"};
  if (it->is_string()) return {it->get<std::string>()};
  return it->get<std::vector<std::string>>();
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

std::string none_found(const std::vector<std::string>& checks) {
  return checks.size() == 1 ? checks[0] + " not found" : "none of " + join(checks, ", ") + " found";
}

}  // namespace

const std::vector<Requirement>& requirements() {
  static const std::vector<Requirement> all = [] {
    std::vector<Requirement> out;
    const auto j = nlohmann::json::parse(kRfpJson);
    for (const auto& r : j.at("requirements")) {
      Requirement q{r.at("id"), r.at("title"), r.at("shall"), r.at("acceptance"), r.value("note", ""),
                    r.at("refs").get<std::vector<std::string>>(), r.at("checks").get<std::vector<std::string>>(),
                    kinds_of(r)};
      for (const auto& k : q.measured_by)
        if (!known_kind(k)) throw std::logic_error("data/rfp.json: " + q.id + ": unknown measured_by " + k);
      out.push_back(std::move(q));
    }
    return out;
  }();
  return all;
}

const char* verdict_label(report::ItemStatus s) {
  switch (s) {
    case report::ItemStatus::pass: return "met";
    case report::ItemStatus::fail: return "not met";
    case report::ItemStatus::not_measured: return "not measured";
  }
  return "not measured";
}

std::vector<Verdict> check(const report::Results& r) {
  std::vector<Verdict> out;
  for (const Requirement& q : requirements()) {
    const Coverage c = coverage(q.measured_by, r);
    std::string why_not = c.why_not;
    if (q.checks.empty()) why_not = q.note.empty() ? "no dicomguard check proves this" : q.note;
    report::ChecklistItem it = report::judge(r, q.id, q.title, q.checks, c.measured && !q.checks.empty(), "with findings",
                                             c.what + ": " + none_found(q.checks), why_not, c.subjects);
    report::demote_if_incomplete(r, it, c.commands);
    out.push_back({&q, std::move(it)});
  }
  return out;
}

namespace {

std::string checks_cell(const Requirement& q) { return q.checks.empty() ? "none (not measured)" : join(q.checks, ", "); }

std::string markdown(const std::vector<Verdict>* v) {
  std::string s = "# Security requirements for a medical imaging system\n\n"
                  "General, vendor-neutral requirements for buying or renewing a modality, PACS, archive or viewer. "
                  "Each is one testable \"shall\", with the sections of the DICOM standard and the MDS2 2019 form "
                  "(ANSI/NEMA HN 1-2019) it rests on, and the dicomguard command that verifies it when the system is "
                  "delivered: the requirement is met when that command's results hold none of the listed checks.\n\n";
  if (v) {
    int met = 0, not_met = 0, nm = 0;
    for (const auto& x : *v)
      (x.item.status == report::ItemStatus::pass ? met : x.item.status == report::ItemStatus::fail ? not_met : nm)++;
    s += fmt::format("Checked against the results given: **{} met, {} not met, {} not measured**. Not measured "
                     "means the results hold nothing that would show a failure: it is never a pass.\n\n",
                     met, not_met, nm);
    s += md_row({"ID", "Requirement", "Standard", "Acceptance test", "Checks", "Verdict", "Evidence"});
    s += "|---|---|---|---|---|---|---|\n";
    for (const auto& x : *v) {
      const Requirement& q = *x.req;
      s += md_row({q.id, "**" + q.title + "**: " + q.shall, join(q.refs, ", "), "`" + q.acceptance + "`",
                   checks_cell(q), verdict_label(x.item.status), x.item.evidence});
    }
    return s;
  }
  s += md_row({"ID", "Requirement", "Standard", "Acceptance test", "Checks"});
  s += "|---|---|---|---|---|\n";
  for (const Requirement& q : requirements())
    s += md_row({q.id, "**" + q.title + "**: " + q.shall, join(q.refs, ", "), "`" + q.acceptance + "`", checks_cell(q)});
  return s;
}

std::string csv(const std::vector<Verdict>* v) {
  std::vector<std::string> head = {"id", "title", "shall", "refs", "acceptance", "checks"};
  if (v) head.insert(head.end(), {"verdict", "evidence"});
  std::string s = csv_row(head);
  for (std::size_t i = 0; i < requirements().size(); ++i) {
    const Requirement& q = requirements()[i];
    std::vector<std::string> row = {q.id, q.title, q.shall, join(q.refs, "; "), q.acceptance, join(q.checks, " ")};
    if (v) row.insert(row.end(), {verdict_label((*v)[i].item.status), (*v)[i].item.evidence});
    s += csv_row(row);
  }
  return s;
}

std::string html(const std::vector<Verdict>* v) {
  std::string s =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Security requirements for a medical "
      "imaging system</title>\n<style>body{font-family:sans-serif;margin:2em;max-width:80em}table{border-collapse:"
      "collapse}td,th{border:1px solid #999;padding:.3em .5em;vertical-align:top;text-align:left}code{font-size:.9em}"
      "tr[data-verdict=met] td.v{background:#d8f0d8}tr[data-verdict=not-met] td.v{background:#f6d0d0}"
      "tr[data-verdict=not-measured] td.v{background:#eee}</style></head><body>\n"
      "<h1>Security requirements for a medical imaging system</h1>\n<p>General, vendor-neutral requirements for "
      "buying or renewing a modality, PACS, archive or viewer, each with the dicomguard command that verifies it "
      "when the system is delivered. Not measured is never a pass.</p>\n<table>\n<tr><th>ID</th><th>Requirement</th>"
      "<th>Standard</th><th>Acceptance test</th><th>Checks</th>";
  if (v) s += "<th>Verdict</th><th>Evidence</th>";
  s += "</tr>\n";
  for (std::size_t i = 0; i < requirements().size(); ++i) {
    const Requirement& q = requirements()[i];
    std::string verdict;
    if (v) {
      verdict = verdict_label((*v)[i].item.status);
      for (char& c : verdict)
        if (c == ' ') c = '-';
    }
    s += fmt::format("<tr data-id=\"{}\"{}><td>{}</td><td><b>{}</b>: {}</td><td>{}</td><td><code>{}</code></td><td>{}</td>",
                     html_escape(q.id), v ? " data-verdict=\"" + verdict + "\"" : "", html_escape(q.id),
                     html_escape(q.title), html_escape(q.shall), html_escape(join(q.refs, ", ")),
                     html_escape(q.acceptance), html_escape(checks_cell(q)));
    if (v)
      s += fmt::format("<td class=\"v\">{}</td><td>{}</td>", verdict_label((*v)[i].item.status),
                       html_escape((*v)[i].item.evidence));
    s += "</tr>\n";
  }
  return s + "</table>\n</body></html>\n";
}

}  // namespace

std::string render_rfp(const std::vector<Verdict>* verdicts, const std::string& format) {
  if (format == "csv") return csv(verdicts);
  if (format == "html") return html(verdicts);
  return markdown(verdicts);
}

}  // namespace dg::procure
