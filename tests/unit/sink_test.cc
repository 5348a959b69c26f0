// The sinks against hostile subjects: file names and remote strings must not move the cursor, hide text or forge
// a line in text output, and JSON Lines must keep the exact bytes of a name recoverable.
#include "findings/sink.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "findings/text.h"

namespace dg {
namespace {

std::string capture(const std::function<void(std::FILE*)>& f) {
  char* buf = nullptr;
  std::size_t len = 0;
  std::FILE* m = open_memstream(&buf, &len);
  f(m);
  std::fclose(m);
  std::string s(buf, len);
  std::free(buf);
  return s;
}

Record file_record(const std::string& path) {
  Record r{"file", "dangerous", {{"path", path}, {"verdict", "dangerous"}}, {}, {}, {}};
  r.findings.push_back(make_finding("file.preamble.executable", path, {{"format", "PE"}}, "title of " + path));
  return r;
}

TEST(TextSafe, ControlsBidiAndInvalidBytesAreVisible) {
  EXPECT_EQ(terminal_safe("plain name.dcm"), "plain name.dcm");
  EXPECT_EQ(terminal_safe("a\nCLEAN b.dcm"), "a\\nCLEAN b.dcm");
  EXPECT_EQ(terminal_safe("x\x1b[2K\r"), "x\\e[2K\\r");
  EXPECT_EQ(terminal_safe("\x1b[8mhidden"), "\\e[8mhidden");
  EXPECT_EQ(terminal_safe("\xff\xfe.dcm"), "\\xFF\\xFE.dcm");
  EXPECT_EQ(terminal_safe("r\xe2\x80\xaegpj.exe"), "r\\u{202E}gpj.exe");  // RIGHT-TO-LEFT OVERRIDE
  EXPECT_EQ(terminal_safe("\xc2\x9b" "31m"), "\\u{009B}31m");            // C1 CSI
  EXPECT_EQ(terminal_safe("caf\xc3\xa9 \xe6\x97\xa5"), "caf\xc3\xa9 \xe6\x97\xa5");  // UTF-8 stays readable
  EXPECT_EQ(terminal_safe("a\\b"), "a\\\\b");
  EXPECT_EQ(terminal_safe("\xc0\xaf"), "\\xC0\\xAF");  // overlong '/'
  EXPECT_EQ(terminal_safe("\xed\xa0\x80"), "\\xED\\xA0\\x80");  // a surrogate
  EXPECT_TRUE(valid_utf8("caf\xc3\xa9"));
  EXPECT_FALSE(valid_utf8("\xff"));
  EXPECT_EQ(base64(std::string_view("\xff\xfe.dcm")), "//4uZGNt");
  EXPECT_EQ(base64(std::string_view("a")), "YQ==");
  EXPECT_EQ(base64(std::string_view("ab")), "YWI=");
}

TEST(TextSink, HostileNamesCannotForgeOrHideLines) {
  const std::string name = "evil.dcm\nCLEAN      innocent.dcm\x1b[2K\r\x1b[8m";
  const std::string out = capture([&](std::FILE* f) {
    auto s = make_text_sink(f, TextOptions{false, true});
    s->record(file_record(name));
    s->end(nlohmann::json{{"type", "summary"}, {"command", "files"}, {"subjects", 1}, {"seconds", 0.01},
                          {"status", {{"dangerous", 1}}}, {"findings", {{"critical", 0}, {"high", 1}}}});
  });
  EXPECT_EQ(out.find('\x1b'), std::string::npos) << out;
  EXPECT_EQ(out.find('\r'), std::string::npos) << out;
  // Every line starts as the sink starts lines: the verdict, a finding, evidence or the summary.
  std::size_t lines = 0;
  for (std::size_t a = 0, b; a < out.size(); a = b + 1) {
    b = out.find('\n', a);
    const std::string line = out.substr(a, b - a);
    ++lines;
    EXPECT_TRUE(line.rfind("DANGEROUS", 0) == 0 || line.rfind("  ", 0) == 0 ||
                line == "1 file in 0.01 s: 1 dangerous; findings: 1 high")
        << line;
  }
  EXPECT_EQ(lines, 4u) << out;
  EXPECT_NE(out.find("evil.dcm\\nCLEAN      innocent.dcm\\e[2K\\r\\e[8m"), std::string::npos) << out;
}

TEST(JsonlSink, NamesThatAreNotUtf8KeepTheirBytes) {
  const std::string a = std::string("scan\xff") + ".dcm", b = std::string("scan\xfe") + ".dcm";
  const std::string out = capture([&](std::FILE* f) {
    auto s = make_jsonl_sink(f);
    Record ra = file_record(a), rb = file_record(b);
    s->prepare(ra);
    s->record(ra);
    s->record(rb);  // not prepared: the slow path must do the same
    s->record(file_record("ok.dcm"));
  });
  std::vector<nlohmann::json> objs;
  for (std::size_t p = 0, q; p < out.size(); p = q + 1) {
    q = out.find('\n', p);
    objs.push_back(nlohmann::json::parse(out.substr(p, q - p)));  // every line is valid JSON
  }
  ASSERT_EQ(objs.size(), 6u);
  EXPECT_EQ(objs[0]["path_bytes"], base64(a));
  EXPECT_EQ(objs[1]["target_bytes"], base64(a));
  EXPECT_EQ(objs[2]["path_bytes"], base64(b));
  EXPECT_NE(objs[0]["path_bytes"], objs[2]["path_bytes"]);
  EXPECT_FALSE(objs[4].contains("path_bytes"));
  EXPECT_FALSE(objs[5].contains("target_bytes"));
  EXPECT_EQ(objs[4]["path"], "ok.dcm");
}

}  // namespace
}  // namespace dg

namespace dg {
namespace {

// The JSON Lines writer appends plain strings and integers itself; whatever it writes must be what nlohmann's
// dump() writes for the same object (with "type" and "checks" added), for every kind of value.
TEST(JsonlSink, RecordLinesAreWhatNlohmannWrites) {
  std::vector<Record> records;
  Record a{"file", "clean", {{"path", "a.dcm"}, {"verdict", "clean"}, {"size", 12}}, {}, {}, {}};
  records.push_back(a);
  Record b{"service",
           "open",
           {{"address", "::1"},
            {"port", 104},
            {"zeta", -5},
            {"float", 0.25},
            {"big", 18446744073709551615ull},
            {"null", nullptr},
            {"yes", true},
            {"nested", {{"k", {1, "two", 3.5, nullptr, false}}, {"empty", nlohmann::json::object()}}},
            {"quote", "a \"b\" \\ c\n\t\x01"},
            {"utf8", "caf\xc3\xa9 \xe6\x97\xa5"},
            {"aaa", "first"},
            {"tz", "after type"},
            {"ta", "before type"}},
           {},
           {},
           {}};
  b.findings.push_back(make_finding("dimse.echo.open", "[::1]:104"));
  b.findings.push_back(make_finding("dimse.query.open", "[::1]:104"));
  records.push_back(b);
  Record c{"sanitize", "kept", {{"path", "x"}, {"checks", {"own", "list"}}}, {}, {}, {}};  // a record's own list
  c.findings.push_back(make_finding("file.preamble.executable", "x"));
  records.push_back(c);
  Record d{"file", "error", {{"path", std::string("bad\xff\xfe")}, {"error", std::string("\xc0")}}, {}, {}, {}};
  records.push_back(d);
  for (const Record& r : records) {
    nlohmann::json expect = r.fields;
    expect["type"] = r.type;
    if (!r.fields.contains("checks")) {
      expect["checks"] = nlohmann::json::array();
      for (const Finding& f : r.findings) expect["checks"].push_back(f.check);
    }
    for (auto it = r.fields.begin(); it != r.fields.end(); ++it)
      if (it->is_string() && !valid_utf8(it->get<std::string>()))
        expect[it.key() + "_bytes"] = base64(it->get<std::string>());
    EXPECT_EQ(jsonl_record_line(r), expect.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  EXPECT_EQ(nlohmann::json::parse(jsonl_record_line(c))["checks"], nlohmann::json({"own", "list"}));
}

// A finding's line is written without building its object; it must be finding_json's dump(), byte for byte.
TEST(JsonlSink, FindingLinesAreWhatNlohmannWrites) {
  Record r{"file", "flagged", {{"path", "x"}}, {}, {}, {}};
  r.findings.push_back(make_finding("file.preamble.executable", "plain.dcm"));
  r.findings.push_back(make_finding("file.payload.executable", std::string("bad\xff\"q\".dcm"),
                                    {{"offset", 128}, {"nested", {{"k", {1, "two\n", 3.5, nullptr}}}}},
                                    "title with \"quotes\" and caf\xc3\xa9"));
  r.findings.push_back(make_finding("file.not-dicom", "n", nlohmann::json()));
  const std::string out = capture([&](std::FILE* f) { make_jsonl_sink(f)->record(r); });
  std::vector<std::string> lines;
  for (std::size_t p = 0, q; (q = out.find('\n', p)) != std::string::npos; p = q + 1) lines.push_back(out.substr(p, q - p));
  ASSERT_EQ(lines.size(), 1 + r.findings.size());
  for (std::size_t i = 0; i < r.findings.size(); ++i)
    EXPECT_EQ(lines[i + 1], finding_json(r.findings[i]).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

TEST(JsonlSink, AWriteThatFailsIsReported) {
  std::FILE* full = std::fopen("/dev/full", "w");
  if (!full) GTEST_SKIP() << "no /dev/full";
  std::setvbuf(full, nullptr, _IONBF, 0);
  MultiSink m;
  m.add(make_jsonl_sink(full));
  EXPECT_NE(m.record(file_record("a.dcm")), "");
  EXPECT_NE(m.end({{"type", "summary"}}), "") << "a failed record is reported again at the end";
  std::fclose(full);
}

// The closing line is the text sink's, from the summary's fields.
TEST(TextSink, SummaryLinesAreBuiltFromTheSummaryFields) {
  nlohmann::json scan = {{"type", "summary"},
                         {"command", "scan"},
                         {"subjects", 0},
                         {"seconds", 1.0},
                         {"status", nlohmann::json::object()},
                         {"findings", {{"high", 0}}},
                         {"errors", 0},
                         {"endpoints", 2},
                         {"connections", 1},
                         {"answers", {{"closed", 2}}},
                         {"dicom_services", 0},
                         {"exit_code", 3}};
  EXPECT_EQ(text_summary(scan),
            "No DICOM service answered on any of the 2 endpoints probed: nothing was assessed (exit code 3). "
            "0 services in 1.00 s: nothing; no findings | 2 endpoints probed with 1 connection "
            "(no DICOM answer: 2 closed)");
  scan["dicom_services"] = 1;
  scan["subjects"] = 1;
  scan["status"] = {{"open", 1}};
  scan["answers"] = {{"dicom", 1}};
  scan["tls_graded"] = 1;
  scan["tls_grade"] = {{"mode", "quick"}, {"pass", 0}, {"fail", 1}};
  scan["baseline"] = {{"new", 1}, {"gone", 0}, {"changed", 2}};
  EXPECT_EQ(text_summary(scan),
            "1 service in 1.00 s: 1 open; no findings | TLS graded (quick): 0 meet B.12 or B.13, 1 do not | "
            "since the baseline: 1 new, 0 gone, 2 changed | 2 endpoints probed with 1 connection");
  nlohmann::json tls = {{"command", "tls"}, {"subjects", 1}, {"seconds", 0.2}, {"status", {{"fail", 1}}},
                        {"findings", {{"medium", 2}}}, {"errors", 0}, {"endpoints", 3}, {"connections", 9},
                        {"answers", {{"tls", 1}, {"closed", 2}}}};
  EXPECT_EQ(text_summary(tls), "1 endpoint in 0.20 s: 1 fail; findings: 2 medium | 3 endpoints probed with 9 "
                               "connections (no TLS: 2 closed)");
}

TEST(TextSink, NotesAreWordedByTheSink) {
  Record r{"service", "reachable", {{"address", "127.0.0.1"}, {"port", 11112}, {"protocol", "dimse"}}, {}, {}, {}};
  r.note("ae.called-enforced", {{"titles", {"A", "B", "C", "D", "E", "F", "G", "H"}}});
  r.note("transport.retried", {{"count", 1}});
  r.note("not.worded.yet", {{"x", 1}});
  EXPECT_EQ(text_subject(r), "127.0.0.1:11112 dimse");
  const auto lines = text_notes(r);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "called AE title enforced: 8 titles tried (A, B, C, D, E, F, and 2 more), none accepted");
  EXPECT_EQ(lines[1], "1 connection was refused or reset after the port answered DICOM, and retried");
  EXPECT_EQ(lines[2], "not.worded.yet: {\"x\":1}") << "a note without wording is shown as data, never lost";
}

}  // namespace
}  // namespace dg
