#include "procure/mds2.h"

#include <fmt/format.h>

#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "procure/coverage.h"
#include "procure/table.h"
#include "report/checklist.h"

namespace dg::procure {

extern const std::string_view kMds2Json;

namespace {

const nlohmann::json& form() {
  static const nlohmann::json j = nlohmann::json::parse(kMds2Json);
  return j;
}

std::string join(const std::vector<std::string>& v, const char* sep, std::size_t max = 64) {
  std::string s;
  for (std::size_t i = 0; i < v.size() && i < max; ++i) s += (i ? sep : "") + v[i];
  if (v.size() > max) s += fmt::format(" and {} more", v.size() - max);
  return s;
}

std::string none_found(const std::vector<std::string>& checks) {
  return checks.size() == 1 ? checks[0] + " not found" : "none of " + join(checks, ", ") + " found";
}

Answer from(report::ItemStatus s) {
  return s == report::ItemStatus::pass ? Answer::yes : s == report::ItemStatus::fail ? Answer::no : Answer::not_measured;
}

bool meets_profile(const nlohmann::json& t) {
  const auto m = t.find("meets");
  if (m == t.end() || !m->is_array()) return false;
  for (const auto& p : *m)
    if (p == "B.12" || p == "B.13") return true;
  return false;
}

// CONN-7 and TXCF-5: does any DICOM or web service of the device speak TLS (meeting B.12 or B.13)?
Answered tls_answer(const Question& q, const report::Results& mine, const Coverage& c, bool profile) {
  Answered a{&q, Answer::not_measured, c.why_not};
  if (!c.measured) return a;
  std::vector<std::string> tls, plain, good;
  for (const auto& s : mine.services) {
    const std::string p = s.value("protocol", "");
    (p == "dimse-tls" || p == "https" ? tls : plain).push_back(report::service_target(s));
  }
  for (const auto& t : mine.tls)
    if (meets_profile(t)) good.push_back(t.value("target", ""));
  if (!profile) {
    a.answer = tls.empty() ? Answer::no : Answer::yes;
    a.evidence = tls.empty() ? fmt::format("{}: none over TLS", c.what)
                             : fmt::format("over TLS: {}", join(tls, ", ", 4));
    return a;
  }
  if (!good.empty()) {
    a.answer = Answer::yes;
    a.evidence = fmt::format("TLS meeting PS3.15 B.12 or B.13: {}", join(good, ", ", 4));
  } else if (tls.empty()) {
    a.answer = Answer::no;
    a.evidence = fmt::format("{}: none over TLS", c.what);
  } else if (mine.tls.size() < tls.size()) {
    a.evidence = fmt::format("{} of {} TLS services graded, none meeting B.12 or B.13 so far", mine.tls.size(), tls.size());
  } else {
    a.answer = Answer::no;
    a.evidence = fmt::format("{} graded: none meets PS3.15 B.12 or B.13 (tls.profile.none)", join(tls, ", ", 4));
  }
  return a;
}

// AUDT-5.2: did an audit message from the device reach the collector?
Answered audit_answer(const Question& q, const report::Results& all, const report::Results& mine,
                      const std::string& host) {
  Answered a{&q, Answer::not_measured,
             "no audit capture in these results (dicomguard audit listen -o audit.jsonl while the device works)"};
  std::map<std::string, int> by_transport;
  for (const auto& m : mine.audit)
    if (m.value("status", "") != "refused") ++by_transport[m.value("transport", "?")];
  if (!by_transport.empty()) {
    std::vector<std::string> parts;
    int n = 0;
    for (const auto& [t, k] : by_transport) {
      parts.push_back(fmt::format("{} over {}", k, t));
      n += k;
    }
    a.answer = Answer::yes;
    a.evidence = fmt::format("{} audit message{} from {} received ({})", n, n == 1 ? "" : "s", host, join(parts, ", "));
  } else if (!all.audit.empty() || all.commands.count("audit-listen") || all.commands.count("audit-check")) {
    a.answer = Answer::no;
    a.evidence = fmt::format("an audit capture ran ({} messages from others) and none came from {}", all.audit.size(), host);
  }
  return a;
}

}  // namespace

const std::vector<Question>& questions() {
  static const std::vector<Question> all = [] {
    std::vector<Question> out;
    std::map<std::string, std::string> titles;
    for (const auto& s : form().at("sections")) titles[s.at("id")] = s.at("title");
    for (const auto& j : form().at("questions")) {
      Question q{j.at("id"), j.at("section"), "", j.at("question"), j.at("answer"), j.value("note", ""),
                 j.at("checks").get<std::vector<std::string>>(),
                 j.at("measured_by").get<std::vector<std::string>>(), j.value("exports", false)};
      if (!titles.count(q.section)) throw std::logic_error("data/mds2.json: " + q.id + ": unknown section " + q.section);
      q.section_title = titles[q.section];
      for (const auto& k : q.measured_by)
        if (!known_kind(k)) throw std::logic_error("data/mds2.json: " + q.id + ": unknown measured_by " + k);
      out.push_back(std::move(q));
    }
    return out;
  }();
  return all;
}

const std::string& mds2_source() {
  static const std::string s = form().value("about", "");
  return s;
}

const std::set<std::string>& known_ids() {
  static const std::set<std::string> ids = [] {
    std::set<std::string> out;
    for (const auto& q : questions()) out.insert(q.id);
    for (const auto& id : form().at("also_cited").at("ids")) out.insert(id.get<std::string>());
    return out;
  }();
  return ids;
}

const char* answer_label(Answer a) {
  switch (a) {
    case Answer::yes: return "Yes";
    case Answer::no: return "No";
    case Answer::not_measured: return "not measured";
  }
  return "not measured";
}

std::string answer(const report::Results& r, const Mds2Options& o, std::vector<Answered>& out) {
  out.clear();
  report::Results mine;
  if (!report::only_host(r, o.host, o.ports, o.exports, mine)) {
    const auto h = report::hosts(r);
    return fmt::format("no record in these results is about {}{}{}", o.host, o.ports.empty() ? "" : " on those ports",
                       h.empty() ? std::string(" (they name no host)") : "; the hosts in them: " + join(h, ", ", 8));
  }
  for (const Question& q : questions()) {
    if (q.exports && !o.exports) {
      const std::size_t files = q.measured_by == std::vector<std::string>{"verified"} ? r.verified.size() : r.files.size();
      out.push_back({&q, Answer::not_measured,
                     files ? fmt::format("{} file{} in the results, but files name no device: pass --exports if they "
                                         "are this device's exports",
                                         files, files == 1 ? "" : "s")
                           : "no files from this device in these results (its exports, checked with dicomguard files "
                             "or deid --verify, given with --exports)"});
      continue;
    }
    const Coverage c = coverage(q.measured_by, mine);
    if (q.answer == "tls-offered" || q.answer == "tls-profile") {
      out.push_back(tls_answer(q, mine, c, q.answer == "tls-profile"));
      continue;
    }
    if (q.answer == "audit-sent") {
      out.push_back(audit_answer(q, r, mine, o.host));
      continue;
    }
    const bool yes_possible = q.answer == "yes-unless";
    const std::string why_not =
        !yes_possible && c.measured ? "only a No can be measured here, and " + c.what + ": " + none_found(q.checks)
                                    : c.why_not;
    report::ChecklistItem it = report::judge(mine, q.id, q.question, q.checks, yes_possible && c.measured, "with findings",
                                             c.what + ": " + none_found(q.checks), why_not, c.subjects);
    report::demote_if_incomplete(mine, it, c.commands);
    out.push_back({&q, from(it.status), it.evidence});
  }
  return {};
}

std::string render_mds2(const std::vector<Answered>& a, const std::string& device, const std::string& format) {
  if (format == "csv") {
    std::string s = csv_row({"section", "id", "question", "answer", "evidence", "note"});
    for (const auto& x : a)
      s += csv_row({x.q->section, x.q->id, x.q->question, answer_label(x.answer), x.evidence, x.q->note});
    return s;
  }
  int yes = 0, no = 0, nm = 0;
  for (const auto& x : a) (x.answer == Answer::yes ? yes : x.answer == Answer::no ? no : nm)++;
  std::string s = fmt::format(
      "# MDS2 draft for {}\n\n"
      "A draft of the questions of the MDS2 form (Manufacturer Disclosure Statement for Medical Device Security, "
      "ANSI/NEMA HN 1-2019) that measurements of this device answer: {} Yes, {} No, {} not measured. Each answer "
      "is what dicomguard measured on the device as installed, with its evidence; \"not measured\" means these "
      "results hold nothing that answers it. Compare it with the manufacturer's MDS2; every question not listed "
      "here is the manufacturer's to answer. Question wording is paraphrased: the form's own words are in NEMA's "
      "form.\n\n",
      device, yes, no, nm);
  std::string section;
  for (const auto& x : a) {
    if (x.q->section != section) {
      section = x.q->section;
      s += fmt::format("\n## {} ({})\n\n", x.q->section_title, section);
      s += md_row({"ID", "Question", "Answer", "Evidence"});
      s += "|---|---|---|---|\n";
    }
    s += md_row({x.q->id, x.q->question, x.answer == Answer::not_measured ? "not measured" : std::string("**") + answer_label(x.answer) + "**",
                 x.evidence + (x.q->note.empty() ? "" : ". Note: " + x.q->note)});
  }
  return s;
}

}  // namespace dg::procure
