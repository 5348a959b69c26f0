// dicomguard weblog: DICOMweb paths, the PHI key set, query decoding, log formats, the streaming redactor (byte
// identity, pieces of any size, long lines) and whole-log scans and redactions (plain and gzip).
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "deid/pseudonym.h"
#include "weblog/dicomweb.h"
#include "weblog/formats.h"
#include "weblog/redact.h"
#include "weblog/scan.h"
#include "weblog/stream.h"

using namespace dg::weblog;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path dir;
  TempDir() {
    char tmpl[] = "/tmp/dg-weblog-test-XXXXXX";
    dir = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  std::string write(const std::string& name, const std::string& text) const {
    const fs::path p = dir / name;
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }
};

std::string slurp(const std::string& path) {
  Input in;
  EXPECT_EQ(in.open(path), "");
  std::string s;
  char buf[65536];
  for (long n; (n = in.read(buf, sizeof buf)) > 0;) s.append(buf, static_cast<std::size_t>(n));
  return s;
}

std::string redact_all(std::string_view line, const dg::deid::Key* key = nullptr, std::size_t piece = 0) {
  std::string out;
  Redactor r(key, &out);
  if (piece == 0) {
    r.feed(line);
  } else {
    for (std::size_t i = 0; i < line.size(); i += piece) r.feed(line.substr(i, piece));
  }
  r.end_line();
  return out;
}

const char* kNginx =
    "127.0.0.1 - - [02/Dec/2026:14:00:00 +0000] \"GET /dicom-web/studies?PatientName=DOE%5EJOHN&limit=5 "
    "HTTP/1.1\" 200 123 \"-\" \"curl/8.0\"";

}  // namespace

TEST(WeblogPaths, DicomwebPathsAreRecognised) {
  for (const char* p : {"/dicom-web/studies", "/dicom-web/studies?PatientID=1", "/dicomWeb/series?x=1",
                        "/dcm4chee-arc/aets/DCM4CHEE/rs/studies/1.2.3/series", "/wado?requestType=WADO",
                        "/orthanc/dicom-web/instances", "/studies", "http://pacs:8042/dicom-web/studies?a=b",
                        "/v1/projects/p/locations/l/datasets/d/dicomStores/s/dicomWeb/studies",
                        "/workitems?PatientID=1"})
    EXPECT_TRUE(is_dicomweb_path(p)) << p;
  for (const char* p : {"/", "/index.html?PatientID=1", "/api/studiesX", "/favicon.ico", "/search?q=/studies",
                        "http://example.com/"})
    EXPECT_FALSE(is_dicomweb_path(p)) << p;
}

TEST(WeblogKeys, KeywordsAndTagsOfTableE11AreKeys) {
  ASSERT_NE(phi_key("PatientName"), nullptr);
  EXPECT_EQ(phi_key("PatientName")->name, "PatientName");
  EXPECT_EQ(phi_key("patientname")->name, "PatientName");
  EXPECT_EQ(phi_key("00100010")->name, "PatientName");
  EXPECT_EQ(phi_key("00100020")->name, "PatientID");
  EXPECT_EQ(phi_key("0010002f") , nullptr);  // not in the table (and not an attribute)
  EXPECT_EQ(phi_key("00080050")->name, "AccessionNumber");
  EXPECT_EQ(phi_key("00100030")->name, "PatientBirthDate");
  EXPECT_EQ(phi_key("StudyInstanceUID")->action, dg::deid::Action::uid);
  EXPECT_NE(phi_key("00091001"), nullptr);  // private: X in the basic profile
  EXPECT_EQ(phi_key("00400275.00400009")->name, "ScheduledProcedureStepID");
  for (const char* k : {"includefield", "limit", "offset", "fuzzymatching", "Modality", "00080060", "", "Patient",
                        "requestType", "0010001"})
    EXPECT_EQ(phi_key(k), nullptr) << k;
  const auto kw = phi_keywords();
  EXPECT_GT(kw.size(), 300u);
  EXPECT_TRUE(std::binary_search(kw.begin(), kw.end(), "PatientName"));
  EXPECT_FALSE(std::binary_search(kw.begin(), kw.end(), "Modality"));
}

TEST(WeblogKeys, DecodingAndHarmlessValues) {
  std::string s;
  url_decode("DOE%5eJOHN+Q%zz%4", s, 100);
  EXPECT_EQ(s, "DOE^JOHN Q%zz%4");
  s.clear();
  url_decode("abcdef", s, 3);
  EXPECT_EQ(s, "abc");
  EXPECT_TRUE(harmless_value(""));
  EXPECT_TRUE(harmless_value("*"));
  EXPECT_FALSE(harmless_value("DOE*"));
}

TEST(WeblogFormats, EachFormatGivesTimeClientTargetReferer) {
  Parsed p;
  ASSERT_TRUE(parse_line(kNginx, false, p));
  EXPECT_EQ(p.format, Format::combined);
  EXPECT_EQ(p.client, "127.0.0.1");
  EXPECT_EQ(p.time, "02/Dec/2026:14:00:00 +0000");
  EXPECT_EQ(p.target, "/dicom-web/studies?PatientName=DOE%5EJOHN&limit=5");
  EXPECT_EQ(p.referer, "");

  ASSERT_TRUE(parse_line("10.1.2.3 - bob [02/Dec/2026:14:00:00 +0100] \"GET /studies?PatientID=7 HTTP/1.0\" 200 5",
                         false, p));
  EXPECT_EQ(p.format, Format::common);
  EXPECT_EQ(p.target, "/studies?PatientID=7");

  ASSERT_TRUE(parse_line("::1 - - [t] \"GET /a HTTP/1.1\" 200 5 \"http://v/viewer?PatientID=7\" \"ua \\\"x\\\"\"",
                         false, p));
  EXPECT_EQ(p.format, Format::combined);
  EXPECT_EQ(p.referer, "http://v/viewer?PatientID=7");

  ASSERT_TRUE(parse_line("<134>Dec  2 14:00:00 lb haproxy[77]: 192.0.2.9:51234 [02/Dec/2026:14:00:00.123] fe "
                         "be/s1 0/0/0/1/1 200 321 - - ---- 1/1/0/0/0 0/0 \"GET /dicom-web/studies?PatientID=9 HTTP/1.1\"",
                         false, p));
  EXPECT_EQ(p.format, Format::haproxy);
  EXPECT_EQ(p.client, "192.0.2.9");
  EXPECT_EQ(p.time, "02/Dec/2026:14:00:00.123");
  EXPECT_EQ(p.target, "/dicom-web/studies?PatientID=9");

  ASSERT_TRUE(parse_line("1764684000.123    180 192.0.2.10 TCP_MISS/200 411 GET "
                         "http://pacs/dicom-web/studies?PatientID=5 - HIER_DIRECT/192.0.2.1 application/dicom+json",
                         false, p));
  EXPECT_EQ(p.format, Format::squid);
  EXPECT_EQ(p.client, "192.0.2.10");
  EXPECT_EQ(p.target, "http://pacs/dicom-web/studies?PatientID=5");

  ASSERT_TRUE(parse_line("I1202 14:00:00.123456         HTTP-3 HttpServer.cpp:1257] (http) GET "
                         "/dicom-web/studies?00100010=DOE",
                         false, p));
  EXPECT_EQ(p.format, Format::orthanc);
  EXPECT_EQ(p.target, "/dicom-web/studies?00100010=DOE");

  ASSERT_TRUE(parse_line(R"({"ts":1764684000.5,"request":{"remote_ip":"192.0.2.7","uri":"/dicom-web/studies?PatientID=1\u0026limit=2"}})",
                         false, p));
  EXPECT_EQ(p.format, Format::json);
  EXPECT_EQ(p.client, "192.0.2.7");
  EXPECT_EQ(p.target, "/dicom-web/studies?PatientID=1&limit=2");

  ASSERT_TRUE(parse_line(R"({"time":"t","remote_addr":"1.2.3.4","request":"GET /studies?PatientID=2 HTTP/1.1","http_referer":"-"})",
                         false, p));
  EXPECT_EQ(p.target, "/studies?PatientID=2");
  EXPECT_EQ(p.referer, "");

  EXPECT_FALSE(parse_line("random text", false, p));
  EXPECT_FALSE(parse_line("", false, p));
  EXPECT_FALSE(parse_line("{not json", false, p));
  EXPECT_FALSE(parse_line("{\"url\":\"/studies?PatientID=1\",\"x\":" + std::string(100000, '[') + "}", false, p));
}

TEST(WeblogStats, IncludefieldWildcardsAndEncodedKeys) {
  ScanOptions opt;
  LogStats st(opt);
  auto req = [](const std::string& target, const std::string& ref = "-") {
    return "127.0.0.1 - - [t] \"GET " + target + " HTTP/1.1\" 200 1 \"" + ref + "\" \"ua\"";
  };
  std::uint64_t n = 0;
  EXPECT_EQ(st.line(req("/dicom-web/studies?includefield=PatientName&includefield=00100020"), false, ++n), Scope::url);
  EXPECT_EQ(st.line(req("/dicom-web/studies?PatientName=*&limit=1"), false, ++n), Scope::url);
  EXPECT_EQ(st.line(req("/dicom-web/studies/1.2.3/series"), false, ++n), Scope::url);
  EXPECT_EQ(st.line(req("/index.html?PatientID=1"), false, ++n), Scope::none);
  EXPECT_EQ(st.phi_requests(), 0u);
  EXPECT_EQ(st.line(req("/dicom-web/studies?patient%4eame=DOE"), false, ++n), Scope::url);
  EXPECT_EQ(st.line(req("/dicom-web/studies?0010002a=x&00100020=ID%201"), false, ++n), Scope::url);
  EXPECT_EQ(st.line(req("/a.js", "http://h/dicom-web/studies?PatientBirthDate=19700101"), false, ++n), Scope::url);
  EXPECT_EQ(st.phi_requests(), 3u);
  dg::Record r;
  st.fill(r, "x.log");
  EXPECT_EQ(r.fields["requests"], 7);
  EXPECT_EQ(r.fields["dicomweb_requests"], 5);
  EXPECT_EQ(r.fields["phi_url_requests"], 2);
  EXPECT_EQ(r.fields["phi_referer_requests"], 1);
  EXPECT_EQ(r.fields["keys"], (nlohmann::json{{"PatientName", 1}, {"PatientID", 1}, {"PatientBirthDate", 1}}));
  EXPECT_EQ(r.fields["phi_lines"], (nlohmann::json{5, 6, 7}));
  ASSERT_EQ(r.findings.size(), 2u);
  EXPECT_EQ(r.findings[0].check, "web.phi-in-url");
  EXPECT_EQ(r.findings[1].check, "web.phi-in-referer");
  // Never a value unless asked.
  EXPECT_EQ(r.fields.dump().find("DOE"), std::string::npos);
  EXPECT_EQ(r.findings[0].evidence.dump().find("ID 1"), std::string::npos);
  EXPECT_FALSE(r.fields.contains("values"));
}

TEST(WeblogRedact, OnlyPhiValuesChangeEveryOtherByteStays) {
  const std::string in = kNginx;
  const std::string want =
      "127.0.0.1 - - [02/Dec/2026:14:00:00 +0000] \"GET /dicom-web/studies?PatientName=REDACTED&limit=5 "
      "HTTP/1.1\" 200 123 \"-\" \"curl/8.0\"";
  EXPECT_EQ(redact_all(in), want);
  EXPECT_EQ(redact_all("/s?includefield=PatientName&PatientName=*&00100020=&0010001=a"),
            "/s?includefield=PatientName&PatientName=*&00100020=&0010001=a");
  EXPECT_EQ(redact_all("/s?a=1&00100020=12%2034&b=2#frag"), "/s?a=1&00100020=REDACTED&b=2#frag");
  EXPECT_EQ(redact_all("/s?PatientID=1&PatientID=2"), "/s?PatientID=REDACTED&PatientID=REDACTED");
  // nginx escapes a quote in the URL as \x22: inside the value, not its end.
  EXPECT_EQ(redact_all("\"GET /s?PatientName=A\\x22B HTTP/1.1\""), "\"GET /s?PatientName=REDACTED HTTP/1.1\"");
  // JSON: "\u0026" separates parameters, "\"" is inside the value.
  EXPECT_EQ(redact_all(R"({"uri":"/s?PatientID=7\u0026PatientName=A\"B\u0026limit=1"})"),
            R"({"uri":"/s?PatientID=REDACTED\u0026PatientName=REDACTED\u0026limit=1"})");
  // JSON logs with the query in a field of its own.
  EXPECT_EQ(redact_all(R"({"uri":"/dicom-web/studies","args":"PatientID=7&limit=1","ua":"x y"})"),
            R"({"uri":"/dicom-web/studies","args":"PatientID=REDACTED&limit=1","ua":"x y"})");
  // Percent-encoded key.
  EXPECT_EQ(redact_all("/s?Patient%4Eame=X"), "/s?Patient%4Eame=REDACTED");
}

TEST(WeblogRedact, KeyedTokensMatchDeidAndAreTheSameForEncodedForms) {
  dg::deid::Key key;
  key.fill(7);
  const std::string a = redact_all("/s?PatientName=DOE%5EJOHN", &key);
  const std::string b = redact_all("/s?00100010=DOE^JOHN", &key);
  const std::string tok = dg::deid::map_id(key, "DOE^JOHN", 16);
  EXPECT_EQ(a, "/s?PatientName=" + tok);
  EXPECT_EQ(b, "/s?00100010=" + tok);
  EXPECT_EQ(redact_all("/s?StudyInstanceUID=1.2.3,1.2.4", &key),
            "/s?StudyInstanceUID=" + dg::deid::map_uid(key, "1.2.3") + "," + dg::deid::map_uid(key, "1.2.4"));
}

TEST(WeblogRedact, PiecesOfAnySizeGiveTheSameBytes) {
  const std::string line = std::string(kNginx) + " \"ref /x?PatientID=ab\\\\c%2\" " +
                           R"(\u0026AccessionNumber=A1\u00 end\)";
  const std::string whole = redact_all(line);
  EXPECT_EQ(whole.find("DOE"), std::string::npos);
  EXPECT_EQ(whole.find("A1"), std::string::npos);
  for (std::size_t piece = 1; piece < 40; ++piece) EXPECT_EQ(redact_all(line, nullptr, piece), whole) << piece;
}

TEST(WeblogScan, RedactedCopyIsByteIdenticalElsewhereAcrossBlocksAndLongLines) {
  TempDir t;
  // A 3 MB line (longer than the parse cap and the block used below) whose PHI is at its end, lines around it,
  // a clean line, and a last line without a newline.
  std::string log;
  log += std::string(kNginx) + "\n";
  log += "127.0.0.1 - - [t] \"GET /dicom-web/studies?includefield=" + std::string(3'000'000, 'x') +
         "&PatientID=LONG123 HTTP/1.1\" 200 1 \"-\" \"ua\"\n";
  log += "127.0.0.1 - - [t] \"GET /index.html HTTP/1.1\" 200 1 \"-\" \"ua\"\r\n";
  log += "\n";
  log += "127.0.0.1 - - [t] \"GET /dicom-web/studies?00100020=LAST HTTP/1.1\" 200 1";
  std::string want = log;
  for (const char* v : {"DOE%5EJOHN", "LONG123", "LAST"}) want.replace(want.find(v), std::strlen(v), "REDACTED");
  const std::string in = t.write("access.log", log);
  for (std::size_t block : {std::size_t{256}, std::size_t{4096}, std::size_t{1} << 20, kBlock}) {
    ScanOptions opt;
    opt.block = block;
    opt.parse_cap = std::min<std::size_t>(kParseCap, block / 2);
    RedactOptions ro;
    ro.output = (t.dir / ("out-" + std::to_string(block))).string();
    dg::Record r = scan_log(in, opt, &ro);
    ASSERT_EQ(r.status, "redacted") << r.fields.dump();
    EXPECT_EQ(slurp(ro.output), want) << block;
    EXPECT_EQ(r.fields["values_redacted"], 3);
    EXPECT_EQ(r.fields["lines"], 5);
    EXPECT_EQ(r.fields["phi_requests"], 3) << block;
    EXPECT_EQ(r.fields["long_lines"], block == 256 ? 2 : 1) << block;
    // The scan alone reports the same.
    dg::Record s = scan_log(in, opt);
    EXPECT_EQ(s.status, "phi");
    EXPECT_EQ(s.fields["phi_requests"], 3);
    EXPECT_EQ(s.fields["phi_lines"], (nlohmann::json{1, 2, 5}));
  }
}

TEST(WeblogScan, GzipInGzipOutAndErrors) {
  TempDir t;
  const std::string text = std::string(kNginx) + "\n" + kNginx + "\n";
  const std::string gz = (t.dir / "a.log.gz").string();
  {
    gzFile g = gzopen(gz.c_str(), "wb");
    gzwrite(g, text.data(), static_cast<unsigned>(text.size()));
    gzclose(g);
  }
  RedactOptions ro;
  ro.output = (t.dir / "b.log.gz").string();
  dg::Record r = scan_log(gz, ScanOptions{}, &ro);
  EXPECT_EQ(r.fields["gzip"], true);
  EXPECT_EQ(r.fields["phi_requests"], 2);
  std::ifstream f(ro.output, std::ios::binary);
  char magic[2] = {};
  f.read(magic, 2);
  EXPECT_EQ(static_cast<unsigned char>(magic[0]), 0x1f);
  std::string want = text;
  for (std::size_t at; (at = want.find("DOE%5EJOHN")) != std::string::npos;) want.replace(at, 10, "REDACTED");
  EXPECT_EQ(slurp(ro.output), want);

  // A truncated gzip is an error, and nothing is written.
  std::ifstream whole(gz, std::ios::binary);
  std::stringstream ss;
  ss << whole.rdbuf();
  const std::string cut = t.write("cut.log.gz", ss.str().substr(0, ss.str().size() - 12));
  RedactOptions ro2;
  ro2.output = (t.dir / "never.log").string();
  dg::Record e = scan_log(cut, ScanOptions{}, &ro2);
  EXPECT_EQ(e.status, "error");
  EXPECT_FALSE(fs::exists(ro2.output));
  EXPECT_EQ(scan_log((t.dir / "missing.log").string(), ScanOptions{}).status, "error");
}

TEST(WeblogOrthanc, ArgumentsAndBodyLinesAreFoundAndRedacted) {
  TempDir t;
  const std::string log =
      "I1202 14:43:56.442132 HttpServer.cpp:1244] (http) GET /dicom-web/studies\n"
      "I1202 14:43:56.442705 PluginsManager.cpp:161] (plugins) Arguments of QIDO-RS request: "
      "[PatientName=DOE%5EJOHN] [includefield=00100020] [00100020=ID7]\n"
      "I1202 14:43:56.442812 PluginsManager.cpp:161] (plugins) Body of the call from QIDO-RS to /tools/find: {\n"
      "\t\"Query\" : \n\t{\n\t\t\"0010,0010\" : \"DOE%5EJOHN\",\n\t\t\"0008,0060\" : \"CT\",\n"
      "\t\t\"0010,0020\" : \"ID7\"\n\t},\n}\n"
      "I1202 14:43:56.443323 ServerContext.cpp:1377] Number of matching resources: 0\n"
      "I1202 14:43:57.100000 HttpServer.cpp:1244] (http) GET /dicom-web/studies\n"
      "I1202 14:43:57.100001 PluginsManager.cpp:161] (plugins) Arguments of QIDO-RS request: [includefield=00100010]\n";
  const std::string in = t.write("orthanc.log", log);
  dg::Record s = scan_log(in, ScanOptions{});
  EXPECT_EQ(s.fields["format"], "orthanc");
  EXPECT_EQ(s.fields["requests"], 2);
  EXPECT_EQ(s.fields["dicomweb_requests"], 2);
  EXPECT_EQ(s.fields["phi_requests"], 1);
  EXPECT_EQ(s.fields["phi_lines"], (nlohmann::json{2}));
  EXPECT_EQ(s.fields["keys"], (nlohmann::json{{"PatientName", 1}, {"PatientID", 1}}));
  EXPECT_EQ(s.fields["unparsed_lines"], 0);
  RedactOptions ro;
  ro.output = (t.dir / "out.log").string();
  dg::Record r = scan_log(in, ScanOptions{}, &ro);
  std::string want = log;
  for (const char* v : {"DOE%5EJOHN", "ID7]", "DOE%5EJOHN", "\"ID7\""}) {
    std::string rep = v[0] == '"' ? "\"REDACTED\"" : std::string(v).back() == ']' ? "REDACTED]" : "REDACTED";
    want.replace(want.find(v), std::strlen(v), rep);
  }
  EXPECT_EQ(slurp(ro.output), want);
  EXPECT_EQ(r.fields["values_redacted"], 4);
}
