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
  Record r{"file", path, "dangerous", {{"type", "file"}, {"path", path}, {"verdict", "dangerous"}}, {}};
  r.findings.push_back(make_finding("file.preamble.executable", path, {{"format", "PE"}}, "title of " + path));
  r.fields["checks"] = nlohmann::json::array({"file.preamble.executable"});
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
    s->end(nlohmann::json{{"type", "summary"}, {"line", "1 file"}});
  });
  EXPECT_EQ(out.find('\x1b'), std::string::npos) << out;
  EXPECT_EQ(out.find('\r'), std::string::npos) << out;
  // Every line starts as the sink starts lines: the verdict, a finding, evidence or the summary.
  std::size_t lines = 0;
  for (std::size_t a = 0, b; a < out.size(); a = b + 1) {
    b = out.find('\n', a);
    const std::string line = out.substr(a, b - a);
    ++lines;
    EXPECT_TRUE(line.rfind("DANGEROUS", 0) == 0 || line.rfind("  ", 0) == 0 || line == "1 file") << line;
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
