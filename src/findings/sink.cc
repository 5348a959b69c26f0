#include "findings/sink.h"

#include <cctype>
#include <charconv>
#include <cstring>
#include <fmt/format.h>
#include <map>

#include "findings/catalog.h"
#include "findings/text.h"
#include "util/durable_write.h"

namespace dg {

using nlohmann::json;

json finding_json(const Finding& f) {
  json j{{"type", "finding"},   {"check", f.check},  {"severity", to_string(f.severity)},
         {"target", f.target}, {"title", f.title}, {"evidence", f.evidence}};
  if (!valid_utf8(f.target)) j["target_bytes"] = base64(f.target);
  return j;
}

std::string MultiSink::end(const json& summary) {
  std::string err;
  for (auto& s : sinks_)
    if (std::string e = s->end(summary); !e.empty()) err += (err.empty() ? "" : "; ") + e;
  return err;
}

namespace {

// ---------------------------------------------------------------- text
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
  void record(const Record& r) override {
    bool notable = r.status != "clean" && r.status != "unchanged" && r.status != "not-dicom";
    for (const Finding& f : r.findings) notable |= f.severity >= Severity::low;
    if (!notable && !o_.verbose) return;
    const char* on = o_.color ? status_color(r.status) : "";
    const char* off = o_.color ? "\033[0m" : "";
    std::string line = fmt::format("{}{:<10}{} {}", on, terminal_safe(upper(r.status)), off, terminal_safe(r.subject));
    if (r.fields.contains("error") && r.fields["error"].is_string())
      line += fmt::format("  ({})", terminal_safe(r.fields["error"].get<std::string>()));
    if (r.fields.contains("message") && r.fields["message"].is_string())
      line += fmt::format("  {}", terminal_safe(r.fields["message"].get<std::string>()));
    std::fprintf(out_, "%s\n", line.c_str());
    for (const std::string& l : r.lines) std::fprintf(out_, "  %s\n", terminal_safe(l).c_str());
    for (const Finding& f : r.findings) {
      if (f.severity == Severity::info && !o_.verbose && r.status != "not-dicom") continue;
      std::fprintf(out_, "  %s%-8s%s %-26s %s\n", o_.color ? sev_color(f.severity) : "",
                   std::string(to_string(f.severity)).c_str(), off, terminal_safe(f.check).c_str(),
                   terminal_safe(f.title).c_str());
      if (o_.verbose && !f.evidence.empty())
        std::fprintf(out_, "           %s\n",
                     terminal_safe(f.evidence.dump(-1, ' ', false, json::error_handler_t::replace), false).c_str());
    }
  }
  std::string end(const json& s) override {
    std::string line;
    if (s.contains("line")) line = s["line"].get<std::string>();
    std::fprintf(out_, "%s\n", terminal_safe(line).c_str());
    std::fflush(out_);
    return {};
  }

 private:
  std::FILE* out_;
  TextOptions o_;
};

// ---------------------------------------------------------------- JSON Lines
// A compact JSON writer for the hot path (one line per file, thousands of files a second): plain ASCII strings
// and integers are appended directly; anything else (escapes, non-ASCII or invalid UTF-8, floats) goes through
// nlohmann's serializer, which replaces invalid UTF-8. Output is identical to nlohmann's dump().
void append_json(std::string& out, const json& j);

void append_string(std::string& out, const std::string& s) {
  bool plain = true;
  for (unsigned char c : s)
    if (c < 0x20 || c >= 0x7F || c == '"' || c == '\\') {
      plain = false;
      break;
    }
  if (!plain) {
    out += json(s).dump(-1, ' ', false, json::error_handler_t::replace);
    return;
  }
  out.push_back('"');
  out += s;
  out.push_back('"');
}

void append_json(std::string& out, const json& j) {
  char num[24];
  switch (j.type()) {
    case json::value_t::object: {
      out.push_back('{');
      bool first = true;
      for (auto it = j.begin(); it != j.end(); ++it) {
        if (!first) out.push_back(',');
        first = false;
        append_string(out, it.key());
        out.push_back(':');
        append_json(out, it.value());
      }
      out.push_back('}');
      return;
    }
    case json::value_t::array: {
      out.push_back('[');
      bool first = true;
      for (const json& v : j) {
        if (!first) out.push_back(',');
        first = false;
        append_json(out, v);
      }
      out.push_back(']');
      return;
    }
    case json::value_t::string: append_string(out, j.get_ref<const std::string&>()); return;
    case json::value_t::boolean: out += j.get<bool>() ? "true" : "false"; return;
    case json::value_t::null: out += "null"; return;
    case json::value_t::number_unsigned: {
      auto r = std::to_chars(num, num + sizeof num, j.get<std::uint64_t>());
      out.append(num, r.ptr);
      return;
    }
    case json::value_t::number_integer: {
      auto r = std::to_chars(num, num + sizeof num, j.get<std::int64_t>());
      out.append(num, r.ptr);
      return;
    }
    default: out += j.dump(-1, ' ', false, json::error_handler_t::replace); return;
  }
}

class JsonlSink : public Sink {
 public:
  explicit JsonlSink(std::FILE* out) : out_(out) {}
  void prepare(Record& r) const override { r.rendered = render(r); }
  void record(const Record& r) override {
    const std::string text = r.rendered.empty() ? render(r) : std::string();
    const std::string& out = r.rendered.empty() ? text : r.rendered;
    std::fwrite(out.data(), 1, out.size(), out_);
  }
  std::string end(const json& s) override {
    json o = s;
    o.erase("line");
    put(o);
    std::fflush(out_);
    return {};
  }

 private:
  // A top-level string that is not UTF-8 (a file name is bytes) is written with U+FFFD for what is not, and
  // FIELD_bytes beside it holds its exact bytes in base64.
  static bool needs_bytes(const json& obj) {
    for (auto it = obj.begin(); it != obj.end(); ++it)
      if (it->is_string() && !valid_utf8(it->get_ref<const std::string&>())) return true;
    return false;
  }
  static void add_bytes(json& obj) {
    json extra = json::object();
    for (auto it = obj.begin(); it != obj.end(); ++it)
      if (it->is_string() && !valid_utf8(it->get_ref<const std::string&>()))
        extra[it.key() + "_bytes"] = base64(it->get_ref<const std::string&>());
    obj.update(extra);
  }

  // The record's line (with its "type" and check list), then one line per finding.
  static std::string render(const Record& r) {
    std::string out;
    if (r.fields.contains("type") && r.fields.contains("checks") && !needs_bytes(r.fields)) {
      append_json(out, r.fields);  // the producer already gave the record its type and check list: no copy
    } else {
      json obj = r.fields;
      obj["type"] = r.type;
      if (!obj.contains("checks")) {
        json checks = json::array();
        for (const Finding& f : r.findings) checks.push_back(f.check);
        obj["checks"] = std::move(checks);
      }
      add_bytes(obj);
      append_json(out, obj);
    }
    out.push_back('\n');
    for (const Finding& f : r.findings) {
      append_json(out, finding_json(f));
      out.push_back('\n');
    }
    return out;
  }
  void put(const json& j) {
    std::string line;
    append_json(line, j);
    line.push_back('\n');
    std::fwrite(line.data(), 1, line.size(), out_);
  }
  std::FILE* out_;
};

// ---------------------------------------------------------------- SARIF 2.1.0
class SarifSink : public Sink {
 public:
  SarifSink(std::string path, std::string version) : path_(std::move(path)), version_(std::move(version)) {}
  void record(const Record& r) override {
    for (const Finding& f : r.findings) {
      json loc;
      if (r.type == "file")
        loc = json{{"physicalLocation", {{"artifactLocation", {{"uri", uri(f.target)}}}}}};
      else
        loc = json{{"logicalLocations", json::array({json{{"name", f.target}, {"kind", "resource"}}})}};
      results_.push_back(json{{"ruleId", f.check},
                              {"level", level(f.severity)},
                              {"message", {{"text", f.title}}},
                              {"locations", json::array({loc})},
                              {"properties", {{"severity", to_string(f.severity)}, {"evidence", f.evidence}}}});
    }
  }
  std::string end(const json& summary) override {
    json rules = json::array();
    for (const CheckInfo& c : Catalog::builtin().all()) {
      json tags = json::array({"security"});
      for (const auto& t : c.attack) tags.push_back(t);
      rules.push_back(json{{"id", c.id},
                           {"name", c.id},
                           {"shortDescription", {{"text", c.title}}},
                           {"fullDescription", {{"text", c.why}}},
                           {"help", {{"text", c.fix}}},
                           {"defaultConfiguration", {{"level", level(c.severity)}}},
                           {"properties", {{"security-severity", score(c.severity)}, {"tags", tags}, {"nist", c.nist}}}});
    }
    json run{{"tool", {{"driver", {{"name", "dicomguard"}, {"version", version_}, {"informationUri", "https://dicom.nema.org/medical/dicom/current/output/html/part15.html"}, {"rules", rules}}}}},
             {"results", results_},
             {"properties", summary}};
    json doc{{"$schema", "https://json.schemastore.org/sarif-2.1.0.json"}, {"version", "2.1.0"}, {"runs", json::array({run})}};
    return util::write_durably(path_, doc.dump(2, ' ', false, json::error_handler_t::replace) + "\n");
  }

 private:
  static const char* level(Severity s) {
    return s >= Severity::high ? "error" : s == Severity::medium ? "warning" : "note";
  }
  static std::string score(Severity s) {
    switch (s) {
      case Severity::critical: return "9.5";
      case Severity::high: return "8.0";
      case Severity::medium: return "5.5";
      case Severity::low: return "3.0";
      case Severity::info: return "0.0";
    }
    return "0.0";
  }
  static std::string uri(const std::string& path) {
    std::string out;
    for (unsigned char c : path) {
      if (std::isalnum(c) || std::strchr("/-._~", c)) out.push_back(static_cast<char>(c));
      else out += fmt::format("%{:02X}", c);
    }
    return out;
  }
  std::string path_, version_;
  json results_ = json::array();
};

}  // namespace

std::unique_ptr<Sink> make_text_sink(std::FILE* out, TextOptions opt) { return std::make_unique<TextSink>(out, opt); }
std::unique_ptr<Sink> make_jsonl_sink(std::FILE* out) { return std::make_unique<JsonlSink>(out); }
std::unique_ptr<Sink> make_sarif_sink(std::string path, std::string version) {
  return std::make_unique<SarifSink>(std::move(path), std::move(version));
}

}  // namespace dg
