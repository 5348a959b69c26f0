#include "findings/sink.h"

#include <cctype>
#include <charconv>
#include <cstring>
#include <fmt/format.h>
#include <algorithm>
#include <array>
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

bool MultiSink::stamp(Record& r) const {
  bool added = false;
  for (auto it = stamp_.begin(); it != stamp_.end(); ++it)
    if (!r.fields.contains(it.key())) {
      r.fields[it.key()] = it.value();
      added = true;
    }
  return added;
}

std::string MultiSink::record(const Record& r) {
  std::string err;
  if (!stamp_.empty() && r.rendered.empty()) {  // not prepared (prepare stamps): stamp a copy
    Record copy = r;
    if (stamp(copy)) {
      for (auto& s : sinks_)
        if (std::string e = s->record(copy); !e.empty()) err += (err.empty() ? "" : "; ") + e;
      if (record_error_.empty()) record_error_ = err;
      return err;
    }
  }
  for (auto& s : sinks_)
    if (std::string e = s->record(r); !e.empty()) err += (err.empty() ? "" : "; ") + e;
  if (record_error_.empty()) record_error_ = err;
  return err;
}

std::string MultiSink::end(const json& summary_in) {
  std::string err = record_error_;
  json summary = summary_in;
  for (auto it = stamp_.begin(); it != stamp_.end(); ++it)
    if (summary.is_object() && !summary.contains(it.key())) summary[it.key()] = it.value();
  for (auto& s : sinks_)
    if (std::string e = s->end(summary); !e.empty()) err += (err.empty() ? "" : "; ") + e;
  return err;
}

namespace {

// ---------------------------------------------------------------- JSON Lines
// A compact JSON writer for the hot path (one line per file, thousands of files a second): plain ASCII strings
// and integers are appended directly; anything else (escapes, non-ASCII or invalid UTF-8, floats) goes through
// nlohmann's serializer, which replaces invalid UTF-8. Output is identical to nlohmann's dump().
void append_json(std::string& out, const json& j);

// The bytes a JSON string can carry as they are: printable ASCII but the quote and the backslash.
constexpr std::array<bool, 256> kPlain = [] {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x7F; ++c) t[c] = c != '"' && c != '\\';
  return t;
}();

void append_string(std::string& out, std::string_view s) {
  bool plain = true;
  for (unsigned char c : s) plain &= kPlain[c];  // no early exit: the loop stays branch-free
  if (!plain) {
    out += json(s).dump(-1, ' ', false, json::error_handler_t::replace);
    return;
  }
  out.push_back('"');
  out.append(s);
  out.push_back('"');
}

// finding_json(f) as append_json would write it, without building the object: keys in nlohmann's (sorted) order.
// finding_json stays the definition; sink_test holds the two to the same bytes.
void append_finding(std::string& out, const Finding& f) {
  out += "{\"check\":";
  append_string(out, f.check);
  out += ",\"evidence\":";
  append_json(out, f.evidence);
  out += ",\"severity\":";
  append_string(out, to_string(f.severity));
  out += ",\"target\":";
  append_string(out, f.target);
  if (!valid_utf8(f.target)) {
    out += ",\"target_bytes\":";
    append_string(out, base64(f.target));
  }
  out += ",\"title\":";
  append_string(out, f.title);
  out += ",\"type\":\"finding\"}";
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

}  // namespace

// The record's own object: its fields, plus "type", "checks" (the IDs of its findings, unless the record states
// its own, as sanitize does for the checks it ran) and FIELD_bytes (the exact bytes, base64, of a top-level
// string that is not UTF-8: a file name is bytes), each in its sorted place, as nlohmann would order them. The
// fields are not copied.
std::string jsonl_record_line(const Record& r) {
  std::vector<std::pair<std::string, json>> extra;
  if (!r.fields.contains("type")) extra.emplace_back("type", r.type);
  if (!r.fields.contains("checks")) {
    json checks = json::array();
    for (const Finding& f : r.findings) checks.push_back(f.check);
    extra.emplace_back("checks", std::move(checks));
  }
  for (auto it = r.fields.begin(); it != r.fields.end(); ++it)
    if (it->is_string() && !valid_utf8(it->get_ref<const std::string&>()))
      extra.emplace_back(it.key() + "_bytes", base64(it->get_ref<const std::string&>()));
  std::sort(extra.begin(), extra.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string out;
  out.reserve(1024);  // a service record is about 850 bytes
  out.push_back('{');
  bool first = true;
  auto put = [&](const std::string& k, const json& v) {
    if (!first) out.push_back(',');
    first = false;
    append_string(out, k);
    out.push_back(':');
    append_json(out, v);
  };
  auto e = extra.begin();
  for (auto it = r.fields.begin(); it != r.fields.end(); ++it) {
    for (; e != extra.end() && e->first < it.key(); ++e) put(e->first, e->second);
    if (e != extra.end() && e->first == it.key()) ++e;  // a field of that name exists: the field wins
    put(it.key(), it.value());
  }
  for (; e != extra.end(); ++e) put(e->first, e->second);
  out.push_back('}');
  return out;
}

namespace {

// The record's line, then one line per finding.
std::string render(const Record& r) {
  std::string out = jsonl_record_line(r);
  out.reserve(out.size() + 1 + 512 * r.findings.size());
  out.push_back('\n');
  for (const Finding& f : r.findings) {
    append_finding(out, f);
    out.push_back('\n');
  }
  return out;
}

class JsonlSink : public Sink {
 public:
  explicit JsonlSink(std::FILE* out) : out_(out) {}
  void prepare(Record& r) const override { r.rendered = render(r); }
  bool reads_prepared_fields() const override { return false; }
  std::string record(const Record& r) override {
    const std::string text = r.rendered.empty() ? render(r) : std::string();
    const std::string& out = r.rendered.empty() ? text : r.rendered;
    if (std::fwrite(out.data(), 1, out.size(), out_) != out.size()) return "cannot write the JSON Lines output";
    return {};
  }
  std::string end(const json& s) override {
    std::string line;
    append_json(line, s);
    line.push_back('\n');
    if (std::fwrite(line.data(), 1, line.size(), out_) != line.size() || std::fflush(out_) != 0)
      return "cannot write the JSON Lines output";
    return {};
  }

 private:
  std::FILE* out_;
};

// ---------------------------------------------------------------- SARIF 2.1.0
class SarifSink : public Sink {
 public:
  SarifSink(std::string path, std::string version) : path_(std::move(path)), version_(std::move(version)) {}
  bool reads_prepared_fields() const override { return false; }  // only the findings
  std::string record(const Record& r) override {
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
    return {};
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

std::unique_ptr<Sink> make_jsonl_sink(std::FILE* out) { return std::make_unique<JsonlSink>(out); }
std::unique_ptr<Sink> make_sarif_sink(std::string path, std::string version) {
  return std::make_unique<SarifSink>(std::move(path), std::move(version));
}

}  // namespace dg
