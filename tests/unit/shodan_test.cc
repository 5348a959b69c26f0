// dicomguard shodan: reading Shodan and Censys exports, recognising DICOM by content, what a banner proves, the
// merge of an endpoint seen many times, malformed input counted and skipped, and the searches it prints.
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "dicom/pdu.h"
#include "report/observed.h"
#include "report/results.h"
#include "scan/vulnerable.h"
#include "shodan/collect.h"
#include "shodan/parse.h"
#include "shodan/queries.h"

using namespace dg::shodan;
using nlohmann::json;

namespace {

std::string ac_bytes(const std::string& uid = "1.2.276.0.7230010.3.0.3.6.7", const std::string& ver = "OFFIS_DCMTK_367") {
  dg::dicom::pdu::AssociateAc ac;
  ac.called_ae = "ANY-SCP";
  ac.calling_ae = "SHODAN";
  ac.contexts = {{1, 0, "1.2.840.10008.1.2"}};
  ac.max_pdu = 16384;
  ac.implementation_uid = uid;
  ac.implementation_version = ver;
  const auto b = dg::dicom::pdu::encode(ac);
  return {b.begin(), b.end()};
}

// Shodan writes a binary banner as a string whose code points are its bytes.
std::string as_code_points(const std::string& bytes) {
  std::string s;
  for (unsigned char c : bytes) {
    if (c < 0x80) s.push_back(static_cast<char>(c));
    else {
      s.push_back(static_cast<char>(0xC0 | (c >> 6)));
      s.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return s;
}

json banner(const std::string& ip, int port, const std::string& data, const std::string& ts = "2026-11-20T08:15:30.123456",
            const std::string& module = "dicom") {
  return {{"ip_str", ip}, {"port", port}, {"transport", "tcp"}, {"timestamp", ts}, {"data", as_code_points(data)},
          {"_shodan", {{"module", module}}}};
}

Observation one(const json& j) {
  Parsed p = parse_document(j.dump());
  EXPECT_EQ(p.error, "");
  EXPECT_EQ(p.observations.size(), 1u);
  return p.observations.empty() ? Observation{} : p.observations[0];
}

std::string temp_file(const std::string& content) {
  char path[] = "/tmp/shodan_test.XXXXXX";
  const int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(::write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
  ::close(fd);
  return path;
}

std::string gzip(const std::string& s) {
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(s.size() + 1024, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(s.data()));
  z.avail_in = static_cast<uInt>(s.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

}  // namespace

TEST(Shodan, NormalizesTimesToUtc) {
  EXPECT_EQ(normalize_time("2026-11-20T08:15:30.123456"), "2026-11-20T08:15:30Z");
  EXPECT_EQ(normalize_time("2026-11-20T08:15:30Z"), "2026-11-20T08:15:30Z");
  EXPECT_EQ(normalize_time("2026-11-20T08:15:30.5+02:00"), "2026-11-20T06:15:30Z");
  EXPECT_EQ(normalize_time("2026-01-01T00:30:00-01:00"), "2026-01-01T01:30:00Z");
  for (const char* bad : {"", "2026-11-20", "yesterday", "2026-13-20T08:15:30", "2026-11-20T08:15:30junk",
                          "2026-11-20T25:15:30"})
    EXPECT_EQ(normalize_time(bad), "") << bad;
}

TEST(Shodan, AnAssociateAcProvesAeOpenAndNamesTheProduct) {
  const Observation o = one(banner("203.0.113.5", 104, ac_bytes()));
  EXPECT_EQ(o.data, ac_bytes());  // code points back to bytes
  const Verdict v = classify(o);
  ASSERT_TRUE(v.dicom);
  EXPECT_EQ(v.recognised_by, "a-associate-ac");
  EXPECT_EQ(v.association, "accepted");
  EXPECT_EQ(v.implementation_version, "OFFIS_DCMTK_367");
  Entry e{o, v, o.seen, o.seen, 1};
  const dg::Record r = make_record(e);
  EXPECT_EQ(r.fields["exposure"], "ae-open");
  EXPECT_EQ(r.fields["product"]["product"], "DCMTK");
  EXPECT_EQ(r.fields["source"], "shodan");
  std::set<std::string> checks;
  for (const auto& f : r.findings) {
    checks.insert(f.check);
    EXPECT_EQ(f.target, "203.0.113.5:104");
    EXPECT_EQ(f.evidence["observed_by"], "shodan");
    EXPECT_EQ(f.evidence["seen"], "2026-11-20T08:15:30Z");
  }
  // DCMTK 3.6.7, as the banner announced it, is in the range of published advisories (data/vulnerabilities.json):
  // looked up as scan does, with when and by whom it was seen.
  EXPECT_EQ(checks, (std::set<std::string>{"exposure.internet", "dimse.ae.any-called", "dimse.ae.any-calling",
                                           "dimse.plaintext", "product.vulnerable"}));
  const auto vuln = std::find_if(r.findings.begin(), r.findings.end(),
                                 [](const dg::Finding& f) { return f.check == "product.vulnerable"; });
  ASSERT_NE(vuln, r.findings.end());
  EXPECT_EQ(vuln->evidence["version"], "3.6.7");
  EXPECT_EQ(vuln->evidence["ids"], dg::scan::product_findings("x", "DCMTK", "3.6.7").front().evidence["ids"]);
}

TEST(Shodan, AnAssociateRjProvesOnlyThatItIsThere) {
  const auto rj = dg::dicom::pdu::encode_rj(1, 1, 7);
  const Observation o = one(banner("203.0.113.6", 11112, std::string(rj.begin(), rj.end())));
  const Verdict v = classify(o);
  ASSERT_TRUE(v.dicom);
  EXPECT_EQ(v.recognised_by, "a-associate-rj");
  EXPECT_EQ(v.association, "rejected");
  EXPECT_EQ(v.reject_reason, "called-AE-title-not-recognized");
  EXPECT_EQ(v.exposure, "reachable");
  std::set<std::string> checks;
  for (const auto& f : proven_findings(o, v)) checks.insert(f.check);
  EXPECT_EQ(checks, (std::set<std::string>{"exposure.internet", "dimse.plaintext"}));
}

TEST(Shodan, OrthancOpenAndBehindALogin) {
  json open = banner("203.0.113.7", 8042,
                     "HTTP/1.1 301 Moved Permanently\r\nConnection: keep-alive\r\nLocation: app/explorer.html\r\n"
                     "Content-Length: 0\r\n\r\n", "2026-11-20T08:15:30.000000", "http");
  const Observation o = one(open);
  const Verdict v = classify(o);
  ASSERT_TRUE(v.dicom);
  EXPECT_EQ(v.recognised_by, "orthanc");
  EXPECT_EQ(v.http_auth, "open");
  Entry e{o, v, o.seen, o.seen, 1};
  const dg::Record r = make_record(e);
  EXPECT_EQ(r.fields["exposure"], "retrieve-open");
  EXPECT_EQ(r.fields["http_status"], 301);
  std::set<std::string> checks;
  for (const auto& f : r.findings) checks.insert(f.check);
  EXPECT_TRUE(checks.count("http.orthanc.open"));

  json login = banner("203.0.113.7", 8043,
                      "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"Orthanc Secure Area\"\r\n"
                      "Content-Length: 0\r\n\r\n", "2026-11-20T08:15:30.000000", "https");
  login["ssl"] = {{"versions", {"TLSv1.2", "-TLSv1"}}};
  const Observation l = one(login);
  const Verdict lv = classify(l);
  ASSERT_TRUE(lv.dicom);
  EXPECT_EQ(lv.protocol, "https");
  EXPECT_EQ(lv.http_auth, "auth-required");
  std::set<std::string> lchecks;
  for (const auto& f : proven_findings(l, lv)) lchecks.insert(f.check);
  EXPECT_EQ(lchecks, (std::set<std::string>{"exposure.internet"}));  // no login bypass, no plaintext
}

TEST(Shodan, OtherBannersAreNotDicom) {
  for (const json& j : {banner("203.0.113.8", 22, "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", "2026-11-20T08:15:30", "ssh"),
                        banner("203.0.113.8", 80,
                               "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n\r\n<title>Welcome to nginx!</title>",
                               "2026-11-20T08:15:30", "http"),
                        // an HTTP server on DICOM's port is a web server, not DICOM
                        banner("203.0.113.8", 104, "HTTP/1.1 404 Not Found\r\nServer: lighttpd\r\n\r\n",
                               "2026-11-20T08:15:30", "http"),
                        // bytes that start like an A-ASSOCIATE-AC but are not one
                        banner("203.0.113.8", 4242, std::string("\x02\x00\x00\x00\x00\x30garbage", 13),
                               "2026-11-20T08:15:30", "")})
    EXPECT_FALSE(classify(one(j)).dicom) << j.dump();
  const Verdict port_only = classify(one(banner("203.0.113.9", 11112, "", "2026-11-20T08:15:30", "")));
  EXPECT_TRUE(port_only.dicom);
  EXPECT_EQ(port_only.recognised_by, "port");
}

TEST(Shodan, ReadsCensysHostsWrappedOrNot) {
  json host = {{"ip", "198.51.100.4"},
               {"services",
                {{{"port", 4242}, {"service_name", "DICOM"}, {"transport_protocol", "TCP"},
                  {"observed_at", "2026-11-22T10:00:00.5Z"}, {"banner_hex", [] {
                     std::string h;
                     for (unsigned char c : ac_bytes()) h += "0123456789abcdef"[c >> 4], h += "0123456789abcdef"[c & 15];
                     return h;
                   }()}},
                 {{"port", 22}, {"service_name", "SSH"}, {"banner", "SSH-2.0-x"}}}}};
  for (const json& doc : {host, json{{"code", 200}, {"status", "OK"}, {"result", host}},
                          json{{"result", {{"hits", {host}}}}}, json::array({host})}) {
    Parsed p = parse_document(doc.dump(2));
    ASSERT_EQ(p.error, "") << doc.dump();
    ASSERT_EQ(p.observations.size(), 2u);
    EXPECT_EQ(p.observations[0].source, "censys");
    EXPECT_EQ(p.observations[0].seen, "2026-11-22T10:00:00Z");
    EXPECT_EQ(classify(p.observations[0]).recognised_by, "a-associate-ac");
    EXPECT_FALSE(classify(p.observations[1]).dicom);
  }
}

TEST(Shodan, MergesAnEndpointSeenManyTimesAndCountsMalformedLines) {
  const std::string ac = ac_bytes();
  std::string lines = banner("203.0.113.5", 104, ac, "2026-10-01T00:00:00.000000").dump() + "\n" +
                      "{not json\n" +                                  // 2
                      "[1, 2, 3]\n" +                                  // 3
                      json{{"ip_str", "203.0.113.5"}}.dump() + "\n" +  // 4: no port
                      "\n" +                                           // blank: not counted
                      banner("203.0.113.5", 104, ac, "2026-11-20T08:15:30.000000").dump() + "\n" +
                      std::string("\xff\xfe\x00garbage\n", 11) +       // 7: not UTF-8, not JSON
                      banner("203.0.113.5", 104, ac, "2026-09-01T00:00:00.000000").dump();  // no newline at the end
  const std::string plain = temp_file(lines), gz = temp_file(gzip(lines));
  Collected c;
  collect_file(plain, c);
  EXPECT_EQ(c.malformed, 4u);
  ASSERT_EQ(c.skipped.size(), 4u);
  EXPECT_EQ(c.skipped[0], plain + ":2: not JSON");
  EXPECT_NE(c.skipped[2].find(":4: "), std::string::npos);
  EXPECT_NE(c.skipped[3].find(":7: "), std::string::npos);
  collect_file(gz, c);
  EXPECT_EQ(c.malformed, 8u);
  EXPECT_EQ(c.banners, 6u);
  ASSERT_EQ(c.dicom.size(), 1u);
  const Entry& e = c.dicom.begin()->second;
  EXPECT_EQ(e.observations, 6u);
  EXPECT_EQ(e.first_seen, "2026-09-01T00:00:00Z");
  EXPECT_EQ(e.last_seen, "2026-11-20T08:15:30Z");
  EXPECT_TRUE(c.errors.empty());

  // Cut short: the error is said once, and the partial last line is not also counted as malformed.
  const std::string z = gzip(lines);
  const std::string cut = temp_file(z.substr(0, z.size() / 2));
  Collected d;
  collect_file(cut, d);
  ASSERT_EQ(d.errors.size(), 1u);
  EXPECT_LE(d.malformed, 4u);
  std::remove(plain.c_str());
  std::remove(gz.c_str());
  std::remove(cut.c_str());
}

TEST(Shodan, APrettyPrintedDocumentAndABrokenFirstLine) {
  json host = {{"ip", "198.51.100.4"},
               {"services", {{{"port", 104}, {"service_name", "DICOM"}, {"observed_at", "2026-11-22T10:00:00Z"}}}}};
  const std::string doc = temp_file(host.dump(2));
  Collected c;
  collect_file(doc, c);
  EXPECT_EQ(c.malformed, 0u);
  EXPECT_EQ(c.dicom.size(), 1u);
  // A JSON Lines file whose first line is broken is read line by line all the same.
  const std::string lines = temp_file("{\n" + banner("203.0.113.5", 104, ac_bytes()).dump() + "\n");
  Collected d;
  collect_file(lines, d);
  EXPECT_EQ(d.malformed, 1u);
  EXPECT_EQ(d.dicom.size(), 1u);
  std::remove(doc.c_str());
  std::remove(lines.c_str());
}

TEST(Shodan, QueriesForNetblocksAndOrganisations) {
  std::string e;
  const std::string q = queries_for_netblocks({"192.0.2.0/24", "2001:db8::/32"}, e);
  EXPECT_EQ(e, "");
  EXPECT_NE(q.find("net:192.0.2.0/24,2001:db8::/32 port:104,11112,4242,2761,2762"), std::string::npos);
  EXPECT_NE(q.find("ip: \"192.0.2.0/24\" or ip: \"2001:db8::/32\""), std::string::npos);
  EXPECT_NE(q.find("shodan download"), std::string::npos);
  for (const char* bad : {"192.0.2.0/33", "example.org", "192.0.2.0/", "1.2.3.4/x"}) {
    e.clear();
    EXPECT_EQ(queries_for_netblocks({bad}, e), "") << bad;
    EXPECT_NE(e.find(bad), std::string::npos);
  }
  e.clear();
  EXPECT_NE(queries_for_org("Example Hospital", e).find("org:\"Example Hospital\""), std::string::npos);
  EXPECT_EQ(queries_for_org("a\" OR 1", e), "");
  EXPECT_NE(e, "");
}

TEST(Shodan, ReportShowsWhatWasSeenNextToToday) {
  dg::report::Results r;
  const std::string path = temp_file(
      json{{"type", "service"}, {"source", "shodan"}, {"address", "203.0.113.5"}, {"port", 104}, {"protocol", "dimse"},
           {"exposure", "ae-open"}, {"seen_last", "2026-11-20T08:15:30Z"}}.dump() + "\n" +
      json{{"type", "finding"}, {"check", "dimse.ae.any-called"}, {"target", "203.0.113.5:104"}}.dump() + "\n" +
      json{{"type", "finding"}, {"check", "exposure.internet"}, {"target", "203.0.113.5:104"}}.dump() + "\n" +
      json{{"type", "service"}, {"source", "shodan"}, {"address", "203.0.113.6"}, {"port", 104}, {"protocol", "dimse"},
           {"exposure", "reachable"}, {"seen_last", nullptr}}.dump() + "\n" +
      json{{"type", "service"}, {"address", "203.0.113.5"}, {"port", 104}, {"protocol", "dimse"},
           {"exposure", "query-open"}}.dump() + "\n" +
      json{{"type", "finding"}, {"check", "dimse.query.open"}, {"target", "203.0.113.5:104"}}.dump() + "\n" +
      json{{"type", "summary"}, {"command", "scan"}, {"mode", "assess"}}.dump() + "\n");
  ASSERT_EQ(dg::report::load({path}, r), "");
  EXPECT_EQ(r.services.size(), 1u);
  EXPECT_EQ(r.observed.size(), 2u);
  EXPECT_FALSE(r.has("dimse.ae.any-called"));  // what Shodan saw is not counted as measured today
  EXPECT_TRUE(r.has("exposure.internet"));
  const auto rows = dg::report::observed_rows(r);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].seen, "2026-11-20");
  EXPECT_EQ(rows[0].proved, "ae-open: dimse.ae.any-called, exposure.internet");
  EXPECT_EQ(rows[0].today, "query-open: dimse.query.open");
  EXPECT_TRUE(rows[0].still_open);
  EXPECT_EQ(rows[1].today, "no DICOM answer now");
  std::remove(path.c_str());
}

TEST(Shodan, AFileWithNothingButMalformedLinesIsAnError) {
  const std::string junk = temp_file("not an export\n{\"foo\": 1}\n");
  Collected c;
  collect_file(junk, c);
  EXPECT_EQ(c.malformed, 2u);
  ASSERT_EQ(c.errors.size(), 1u);  // never read as "nothing seen"
  EXPECT_NE(c.errors[0].find("no Shodan banner or Censys host"), std::string::npos);
  const std::string empty = temp_file("");
  Collected d;
  collect_file(empty, d);  // an empty export is an export that saw nothing
  EXPECT_TRUE(d.errors.empty());
  std::remove(junk.c_str());
  std::remove(empty.c_str());
}
