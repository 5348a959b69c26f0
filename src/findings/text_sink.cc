// The text sink: the one place that turns records, notes and summaries into sentences. Producers give data
// (Record::fields, Record::notes, the summary object); the wording of every line a person reads is here.
#include <fmt/format.h>

#include <map>
#include <string_view>

#include "findings/sink.h"
#include "findings/text.h"

namespace dg {

using nlohmann::json;

namespace {

std::string str(const json& j, const char* key, std::string fallback = {}) {
  if (!j.is_object()) return fallback;
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : fallback;
}
std::uint64_t num(const json& j, const char* key) {
  if (!j.is_object()) return 0;
  auto it = j.find(key);
  return it != j.end() && it->is_number_unsigned() ? it->get<std::uint64_t>()
         : it != j.end() && it->is_number_integer() ? static_cast<std::uint64_t>(std::max<std::int64_t>(0, it->get<std::int64_t>()))
                                                     : 0;
}
std::string join(const json& list, const char* sep = ", ") {
  std::string s;
  if (!list.is_array()) return s;
  for (const json& v : list) s += (s.empty() ? "" : sep) + (v.is_string() ? v.get<std::string>() : v.dump());
  return s;
}
const char* plural(std::uint64_t n, const char* many = "s", const char* one = "") { return n == 1 ? one : many; }

// ---------------------------------------------------------------- subjects, by record type
std::string target_of(const json& f) {
  if (std::string t = str(f, "target"); !t.empty()) return t;
  const std::string addr = str(f, "address");
  if (addr.empty()) return str(f, "path");
  const std::string port = std::to_string(num(f, "port"));
  return addr.find(':') != std::string::npos ? "[" + addr + "]:" + port : addr + ":" + port;
}

std::string service_subject(const json& f) {
  std::string s = target_of(f) + " " + str(f, "protocol");
  if (const auto p = f.find("product"); p != f.end() && p->is_object()) {
    s += " " + str(*p, "product");
    if (std::string v = str(*p, "version"); !v.empty()) s += " " + v;
  } else if (std::string server = str(f, "server"); !server.empty()) {
    s += " " + server.substr(0, 40);
  }
  // Seen by a search engine (dicomguard shodan): by whom, when, and from what.
  if (std::string src = str(f, "source"); !src.empty()) {
    const std::string last = str(f, "seen_last");
    s += fmt::format(" (seen by {}{}, {})", src, last.empty() ? "" : " " + last.substr(0, 10), str(f, "recognised_by"));
  }
  return s;
}

std::string tls_subject(const json& f) {
  std::string versions;
  if (const auto v = f.find("versions"); v != f.end() && v->is_object())
    for (auto it = v->begin(); it != v->end(); ++it)
      if (it->is_boolean() && it->get<bool>()) versions += (versions.empty() ? "" : ",") + it.key();
  const std::string dicom = f.contains("dicom") ? str(f["dicom"], "association") : "";
  return fmt::format("{} tls {}{}", target_of(f), versions.empty() ? "no-common-version" : versions,
                     dicom == "accepted" || dicom == "rejected" || dicom == "aborted" ? " dicom" : "");
}

std::string change_subject(const json& f) {
  std::string s = target_of(f);
  const json& b = f.contains("before") ? f["before"] : json();
  const json& a = f.contains("after") ? f["after"] : json();
  if (a.is_object() && b.is_object()) {
    s += " " + str(b, "exposure") + " -> " + str(a, "exposure");
    for (const json& c : f.value("checks_added", json::array())) s += " +" + c.get<std::string>();
    for (const json& c : f.value("checks_removed", json::array())) s += " -" + c.get<std::string>();
  } else {
    const json& st = a.is_object() ? a : b;
    s += " " + str(st, "protocol") + " " + str(st, "exposure");
  }
  return s;
}

// deid: the input, where it went, and why when it did not go to the output tree (never a value from the file).
std::string deid_subject(const json& f) {
  std::string s = str(f, "input");
  if (std::string o = str(f, "output"); !o.empty()) s += " -> " + o;
  if (std::string why = str(f, "reason"); !why.empty()) s += "  (" + why + ")";
  if (str(f, "status") == "written" && f.contains("counts") && f["counts"].is_object()) {
    const json& c = f["counts"];
    s += fmt::format("  [{} removed, {} emptied, {} replaced, {} cleaned, {} kept]", num(c, "removed"),
                     num(c, "emptied"), num(c, "replaced"), num(c, "cleaned"), num(c, "kept"));
  }
  return s;
}

// gateway: the association (its number, who, which route) and what happened to it; never a dataset's content.
std::string gateway_subject(const Record& r) {
  const json& f = r.fields;
  if (r.type == "gateway") {
    if (str(f, "event") == "listening") return fmt::format("route {} on port {}", str(f, "route"), num(f, "port"));
    return str(f, "reason");
  }
  std::string s = fmt::format("#{} {}", num(f, "association"), str(f, "peer"));
  if (f.contains("calling_ae")) s += fmt::format(" {} -> {}", str(f, "calling_ae"), str(f, "called_ae"));
  s += " via " + str(f, "route");
  if (f.value("tls", false) && f.contains("tls_version")) s += " (" + str(f, "tls_version") + ")";
  if (r.type == "association")
    return s + fmt::format(": {} command{}, {} denied, {} bytes in, {} bytes back, {:.2f} s", num(f, "commands"),
                           plural(num(f, "commands")), num(f, "denied"), num(f, "bytes_from_client"),
                           num(f, "bytes_from_upstream"), f.value("seconds", 0.0));
  s += ": " + str(f, "stage");
  if (f.contains("command")) s += " " + str(f, "command");
  if (f.contains("filter")) s += " (" + str(f, "filter") + ")";
  s += ": " + str(f, "reason");
  if (f.contains("status")) s += ", status " + str(f, "status");
  if (f.contains("rj") && f["rj"].is_object()) s += ", A-ASSOCIATE-RJ: " + str(f["rj"], "text");
  return s;
}

// weblog: the log, its format and counts, and the keys found (never a value).
std::string weblog_subject(const json& f) {
  std::string s = fmt::format("{} ({}): {} line{}, {} request{}, {} DICOMweb, {} with PHI", str(f, "path"),
                              str(f, "format"), num(f, "lines"), plural(num(f, "lines")), num(f, "requests"),
                              plural(num(f, "requests")), num(f, "dicomweb_requests"), num(f, "phi_requests"));
  if (const auto k = f.find("keys"); k != f.end() && k->is_object() && !k->empty()) {
    std::string keys;
    for (auto it = k->begin(); it != k->end(); ++it) keys += (keys.empty() ? "" : ", ") + it.key();
    s += " [" + keys + "]";
  }
  if (f.contains("output")) s += fmt::format(" -> {} ({} value{} redacted)", str(f, "output"),
                                             num(f, "values_redacted"), plural(num(f, "values_redacted")));
  return s;
}

// audit listen/check: who sent what (the event and the first problem); audit expect: the service and what is missing.
std::string audit_subject(const Record& r) {
  const json& f = r.fields;
  if (r.type == "audit-expect") {
    std::string s = target_of(f) + fmt::format(": {} audit message{}", num(f, "messages"), plural(num(f, "messages")));
    if (f.contains("missing") && f["missing"].is_array() && !f["missing"].empty()) s += ", missing " + f["missing"].dump();
    return s;
  }
  std::string s = str(f, "sender") + " " + str(f, "transport");
  if (f.contains("event_id")) s += " " + str(f, "event_id") + " " + str(f, "event");
  if (f.contains("problems") && f["problems"].is_array() && !f["problems"].empty() && f["problems"][0].is_object())
    s += ": " + str(f["problems"][0], "code") + " (" + str(f["problems"][0], "text") + ")";
  return s;
}

// clock and ntp (scan): the host's offset and where it was read; the NTP server's stratum, mode 6 and NTS-KE.
std::string clock_subject(const json& f) {
  return fmt::format("{} clock {:+.3f} s +- {:.3f} s ({}, {} observation{})", target_of(f),
                     f.value("offset_seconds", 0.0), f.value("uncertainty_seconds", 0.0), str(f, "source"),
                     f.value("observations", json::array()).size(), plural(f.value("observations", json::array()).size()));
}
std::string ntp_subject(const json& f) {
  std::string s = target_of(f) + " ntp";
  if (f.contains("stratum")) s += fmt::format(" stratum {} ref {}", num(f, "stratum"), str(f, "reference_id"));
  if (f.contains("offset_seconds")) s += fmt::format(" offset {:+.6f} s", f.value("offset_seconds", 0.0));
  if (f.contains("mode6") && f["mode6"].value("answered", false))
    s += fmt::format(", mode 6 answered (x{:.1f})", f["mode6"].value("amplification", 0.0));
  if (f.contains("nts_ke")) s += ", NTS-KE " + str(f["nts_ke"], "result");
  return s;
}

std::string subject_of(const Record& r) {
  if (r.type == "weblog") return weblog_subject(r.fields);
  if (r.type == "audit" || r.type == "audit-expect") return audit_subject(r);
  if (r.type == "clock") return clock_subject(r.fields);
  if (r.type == "ntp") return ntp_subject(r.fields);
  if (r.type == "association" || r.type == "denial" || r.type == "gateway") return gateway_subject(r);
  if (r.type == "deid") return deid_subject(r.fields);
  if (r.type == "service") return service_subject(r.fields);
  if (r.type == "tls") return tls_subject(r.fields);
  if (r.type == "change") return change_subject(r.fields);
  return target_of(r.fields);  // file, sanitize, and what comes: the path or target
}

// ---------------------------------------------------------------- notes
using Wording = std::vector<std::string> (*)(const json&);

const std::map<std::string_view, Wording>& wordings() {
  static const std::map<std::string_view, Wording> w = {
      {"query.ignores-keys",
       [](const json& f) -> std::vector<std::string> {
         const auto n = num(f, "matches");
         return {fmt::format("query answered {} match{} for a Patient ID that cannot exist: the server ignores the "
                             "query keys (a test tool, a honeypot or broken matching)",
                             n, plural(n, "es"))};
       }},
      {"weblog.values",  // only with --show-values: the values themselves, as asked
       [](const json& f) -> std::vector<std::string> {
         std::vector<std::string> out;
         for (const json& v : f.value("values", json::array()))
           if (v.is_object())
             out.push_back(fmt::format("line {}: {}={} ({})", num(v, "line"), str(v, "key"), str(v, "value"),
                                       str(v, "in")));
         return out;
       }},
      {"retrieve.not-proven",
       [](const json& f) -> std::vector<std::string> {
         std::string what;
         for (const json& a : f.value("answers", json::array()))
           what += (what.empty() ? "" : ", ") + str(a, "command") + " " + str(a, "answer");
         return {"retrieve not proven: a never-existing study was answered with " + what +
                 "; real studies may still be retrievable by a stranger"};
       }},
      {"store.test-object-not-stored",
       [](const json& f) -> std::vector<std::string> {
         return {fmt::format("--active-store: the test object was {} ({})",
                             f.value("refused", false) ? "refused" : "not stored", str(f, "answer"))};
       }},
      {"ae.called-enforced",
       [](const json& f) -> std::vector<std::string> {
         const json t = f.value("titles", json::array());
         std::string out;
         for (std::size_t i = 0; i < t.size() && i < 6; ++i) out += (i ? ", " : "") + t[i].get<std::string>();
         if (t.size() > 6) out += fmt::format(", and {} more", t.size() - 6);
         return {fmt::format("called AE title enforced: {} title{} tried ({}), none accepted", t.size(),
                             plural(t.size()), out)};
       }},
      {"ae.given-title-refused",
       [](const json& f) -> std::vector<std::string> {
         return {fmt::format("'{}' was refused with reason 7 as well: if it is the right title, the server may be "
                             "refusing our calling AE title and giving the wrong reason",
                             str(f, "called_ae"))};
       }},
      {"ae.calling-enforced",
       [](const json&) -> std::vector<std::string> {
         return {"calling AE title enforced: a random calling AE title was refused (reason 3)"};
       }},
      {"commands.refused",
       [](const json& f) -> std::vector<std::string> {
         return {"refused per command (0124, not authorized): " + join(f.value("commands", json::array()))};
       }},
      {"transport.retried",
       [](const json& f) -> std::vector<std::string> {
         const auto n = num(f, "count");
         return {fmt::format("{} connection{} refused or reset after the port answered DICOM, and retried", n,
                             plural(n, "s were", " was"))};
       }},
      {"verify.walk-stopped",
       [](const json& f) -> std::vector<std::string> {
         return {fmt::format("the dataset stops parsing at offset {}: attributes after it were not checked (their "
                             "bytes were still searched)",
                             num(f, "offset"))};
       }},
      {"incomplete",
       [](const json& f) -> std::vector<std::string> { return {"incomplete: " + str(f, "reason")}; }},
      {"identity.echoed",
       [](const json&) -> std::vector<std::string> {
         return {"the server sent back our own implementation identity: it does not say what it is"};
       }},
      {"web.dicom-hints-only",
       [](const json& f) -> std::vector<std::string> {
         return {"the front page mentions DICOM (" + join(f.value("hints", json::array())) +
                 "), but no DICOMweb root or patient list answered here"};
       }},
      {"twin.found",
       [](const json& f) -> std::vector<std::string> {
         return {"plaintext twin: " + str(f, "twin") + " (" + str(f, "evidence") + ")"};
       }},
      {"twin.possible",
       [](const json& f) -> std::vector<std::string> {
         return {"possible plaintext twin: " + str(f, "twin") +
                 " (accepts the same AE title; a different implementation)"};
       }},
      {"tls.profiles",
       [](const json& f) -> std::vector<std::string> {
         std::string s;
         for (const json& p : f.value("profiles", json::array()))
           s += (s.empty() ? "" : ", ") + str(p, "profile") + " " + str(p, "verdict");
         return {"profiles: " + s};
       }},
      {"tls.alpn-not-measured",
       [](const json& f) -> std::vector<std::string> { return {"alpn not measured: " + str(f, "reason")}; }},
      {"tls.clause",
       [](const json& f) -> std::vector<std::string> {
         std::string d = str(f, "detail");
         if (d.size() > 200) d = d.substr(0, 197) + "...";
         return {fmt::format("  {} {} {}: {}", str(f, "profile"), str(f, "verdict"), str(f, "clause"), d)};
       }},
  };
  return w;
}

std::vector<std::string> note_lines(const Note& n) {
  const auto& w = wordings();
  if (auto it = w.find(n.key); it != w.end()) return it->second(n.facts);
  // A note without wording yet is still shown, as data, rather than lost.
  return {n.key + (n.facts.empty() ? "" : ": " + n.facts.dump(-1, ' ', false, json::error_handler_t::replace))};
}

// ---------------------------------------------------------------- the closing line
const char* noun_of(const std::string& command, std::uint64_t n) {
  if (command == "scan") return n == 1 ? "service" : "services";
  if (command == "tls") return n == 1 ? "endpoint" : "endpoints";
  if (command == "gateway") return n == 1 ? "association" : "associations";
  if (command == "weblog") return n == 1 ? "log" : "logs";
  if (command == "audit-listen" || command == "audit-check") return n == 1 ? "message" : "messages";
  if (command == "audit-expect" || command == "shodan") return n == 1 ? "service" : "services";
  return n == 1 ? "file" : "files";
}

std::string others(const json& answers, const char* except) {
  std::string s;
  if (answers.is_object())
    for (auto it = answers.begin(); it != answers.end(); ++it)
      if (it.key() != except) s += fmt::format("{}{} {}", s.empty() ? "" : ", ", it->dump(), it.key());
  return s;
}

std::string summary_line(const json& s) {
  if (!s.is_object()) return {};
  // scan --probe tls grades endpoints as `tls` does, and says so in the same words.
  const std::string command = str(s, "command") == "scan" && str(s, "probe") == "tls" ? "tls" : str(s, "command");
  const std::uint64_t n = str(s, "command") == "gateway" ? num(s, "associations") : num(s, "subjects");
  const double secs = s.contains("seconds") && s["seconds"].is_number() ? s["seconds"].get<double>() : 0.0;
  std::string line = fmt::format("{} {} in {:.2f} s", n, noun_of(command, n), secs);
  if (secs >= 0.5 && n >= 2) {
    const double rate = static_cast<double>(n) / secs;
    line += rate >= 10 ? fmt::format(" ({:.0f}/s)", rate) : fmt::format(" ({:.1f}/s)", rate);
  }
  std::string by_status;
  if (s.contains("status") && s["status"].is_object())
    for (auto it = s["status"].begin(); it != s["status"].end(); ++it)
      by_status += fmt::format("{}{} {}", by_status.empty() ? "" : ", ", it->dump(), it.key());
  std::string by_sev;
  if (s.contains("findings") && s["findings"].is_object())
    for (const char* sev : {"critical", "high", "medium", "low", "info"})
      if (const auto k = num(s["findings"], sev)) by_sev += fmt::format("{}{} {}", by_sev.empty() ? "" : ", ", k, sev);
  line += ": " + (by_status.empty() ? std::string("nothing") : by_status);
  line += by_sev.empty() ? "; no findings" : "; findings: " + by_sev;
  if (const auto e = num(s, "errors")) line += fmt::format("; {} could not be read", e);

  const std::uint64_t endpoints = num(s, "endpoints"), connections = num(s, "connections");
  const std::string probed = fmt::format(" | {} endpoint{} probed with {} connection{}", endpoints, plural(endpoints),
                                         connections, plural(connections));
  if (command == "tls") {
    const std::string o = others(s.value("answers", json::object()), "tls");
    line += probed + (o.empty() ? "" : " (no TLS: " + o + ")");
  } else if (command == "scan") {
    if (const auto g = s.find("tls_grade"); g != s.end() && g->is_object() && num(s, "tls_graded"))
      line += fmt::format(" | TLS graded ({}): {} meet B.12 or B.13, {} do not", str(*g, "mode"), num(*g, "pass"),
                          num(*g, "fail"));
    if (const auto b = s.find("baseline"); b != s.end() && b->is_object())
      line += fmt::format(" | since the baseline: {} new, {} gone, {} changed", num(*b, "new"), num(*b, "gone"),
                          num(*b, "changed"));
    if (s.contains("dicom_services") && num(s, "dicom_services") == 0)
      line = fmt::format("No DICOM service answered on any of the {} endpoint{} probed: nothing was assessed (exit "
                         "code {}). ",
                         endpoints, plural(endpoints), num(s, "exit_code")) +
             line;
    const std::string o = others(s.value("answers", json::object()), "dicom");
    line += probed + (o.empty() ? "" : " (no DICOM answer: " + o + ")");
  } else if (command == "shodan") {
    line += fmt::format(" | {} banner{} read, {} not DICOM", num(s, "banners"), plural(num(s, "banners")),
                        num(s, "not_dicom"));
    if (const auto m = num(s, "malformed")) line += fmt::format(", {} malformed skipped", m);
    if (const auto v = s.find("verify"); v != s.end() && v->is_object())
      line += fmt::format(" | re-checked now: {} still answer DICOM, {} do not", num(*v, "still_dicom"),
                          num(*v, "not_dicom_now"));
  }
  return line;
}

// ---------------------------------------------------------------- the sink
const char* sev_color(Severity s) {
  switch (s) {
    case Severity::critical: return "\033[1;31m";
    case Severity::high: return "\033[31m";
    case Severity::medium: return "\033[33m";
    case Severity::low: return "\033[36m";
    case Severity::info: return "\033[2m";
  }
  return "";
}
const char* status_color(const std::string& s) {
  if (s == "dangerous" || s == "error") return "\033[1;31m";
  if (s == "malformed" || s == "suspicious") return "\033[33m";
  if (s == "clean" || s == "pass") return "\033[32m";
  if (s == "fail") return "\033[31m";
  return "\033[2m";
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
  return s;
}

// Everything printed that came from outside (file names, remote banners, AE titles, product names) goes
// through terminal_safe: no input can move the cursor, erase or hide text, or forge a line.
class TextSink : public Sink {
 public:
  TextSink(std::FILE* out, TextOptions opt) : out_(out), o_(opt) {}
  std::string record(const Record& r) override {
    bool notable = r.status != "clean" && r.status != "unchanged" && r.status != "not-dicom" &&
                   !(r.type == "deid" && r.status == "written");
    for (const Finding& f : r.findings) notable |= f.severity >= Severity::low;
    if (!notable && !o_.verbose) return {};
    const char* on = o_.color ? status_color(r.status) : "";
    const char* off = o_.color ? "\033[0m" : "";
    std::string line =
        fmt::format("{}{:<10}{} {}", on, terminal_safe(upper(r.status)), off, terminal_safe(subject_of(r)));
    if (r.fields.contains("error") && r.fields["error"].is_string())
      line += fmt::format("  ({})", terminal_safe(r.fields["error"].get<std::string>()));
    if (r.fields.contains("message") && r.fields["message"].is_string())
      line += fmt::format("  {}", terminal_safe(r.fields["message"].get<std::string>()));
    std::fprintf(out_, "%s\n", line.c_str());
    for (const Note& n : r.notes)
      for (const std::string& l : note_lines(n)) std::fprintf(out_, "  %s\n", terminal_safe(l).c_str());
    for (const Finding& f : r.findings) {
      if (f.severity == Severity::info && !o_.verbose && r.status != "not-dicom") continue;
      std::fprintf(out_, "  %s%-8s%s %-26s %s\n", o_.color ? sev_color(f.severity) : "",
                   std::string(to_string(f.severity)).c_str(), off, terminal_safe(f.check).c_str(),
                   terminal_safe(f.title).c_str());
      if (o_.verbose && !f.evidence.empty())
        std::fprintf(out_, "           %s\n",
                     terminal_safe(f.evidence.dump(-1, ' ', false, json::error_handler_t::replace), false).c_str());
    }
    if (std::ferror(out_)) return "cannot write the text output";
    return {};
  }
  std::string end(const json& s) override {
    std::fprintf(out_, "%s\n", terminal_safe(summary_line(s)).c_str());
    if (std::fflush(out_) != 0 || std::ferror(out_)) return "cannot write the text output";
    return {};
  }

 private:
  std::FILE* out_;
  TextOptions o_;
};

}  // namespace

std::string text_subject(const Record& r) { return subject_of(r); }
std::vector<std::string> text_notes(const Record& r) {
  std::vector<std::string> out;
  for (const Note& n : r.notes)
    for (std::string& l : note_lines(n)) out.push_back(std::move(l));
  return out;
}
std::string text_summary(const json& summary) { return summary_line(summary); }

std::unique_ptr<Sink> make_text_sink(std::FILE* out, TextOptions opt) { return std::make_unique<TextSink>(out, opt); }

}  // namespace dg
