// The audit receiver's parts (src/audit): RFC 6587 framing, the RFC 5424 header, times, the hardened A.5 XML
// validation (schema and semantic rules) of the messages our own gateway sends and of broken ones, the "audit"
// record (no patient value in it), audit expect's matching, and the report's audit item.
#include <gtest/gtest.h>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/write.hpp>
#include <string>
#include <vector>

#include "audit/expect.h"
#include "audit/message.h"
#include "audit/receiver.h"
#include "audit/record.h"
#include "audit/syslog_parse.h"
#include "audit/xml_validate.h"
#include "findings/sink.h"
#include "report/checklist.h"
#include "report/results.h"

namespace a = dg::audit;
namespace sl = dg::audit::syslog;

namespace {

std::vector<sl::Frame> frames(std::initializer_list<std::string_view> parts, std::size_t max = 100) {
  sl::Framer f(max);
  std::vector<sl::Frame> out;
  for (auto p : parts) f.feed(p, out);
  f.finish(out);
  return out;
}

a::Participant peer(const char* ae, bool req, const char* role) {
  a::Participant p;
  p.user_id = ae;
  p.requestor = req;
  p.address = "10.1.2.3";
  p.role = role;
  return p;
}

std::vector<std::string> codes(const a::AuditFacts& f) {
  std::vector<std::string> v;
  for (const auto& p : f.problems) v.push_back(p.code);
  return v;
}

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string gateway_query() {
  const std::uint8_t ds[] = {1, 2, 3};
  return a::query({}, {peer("SCU", true, "source"), peer("PACS", false, "destination")}, "1.2.840.10008.5.1.4.1.2.2.1",
                  ds, "1.2.840.10008.1.2.1");
}

}  // namespace

TEST(SyslogFraming, OctetCountingAndLfFramesSplitAnywhere) {
  auto f = frames({"5 hel", "lo3 abc", "<13>1 line one\n", "<1", "3>1 two\r\n", "tail"});
  ASSERT_EQ(f.size(), 5u);
  EXPECT_EQ(f[0].data, "hello");
  EXPECT_EQ(f[1].data, "abc");
  EXPECT_EQ(f[2].data, "<13>1 line one");
  EXPECT_EQ(f[3].data, "<13>1 two");
  EXPECT_EQ(f[4].data, "tail");  // unterminated at the end of the stream
  for (const auto& x : f) EXPECT_EQ(x.kind, sl::Frame::Kind::message);
}

TEST(SyslogFraming, OversizedFramesAreSkippedAndTheStreamGoesOn) {
  const std::string big(150, 'x');
  auto f = frames({"150 ", big, "2 ok", "<1>", big, "\n<1>after\n"});
  ASSERT_EQ(f.size(), 4u);
  EXPECT_EQ(f[0].kind, sl::Frame::Kind::oversized);
  EXPECT_EQ(f[0].size, 150u);
  EXPECT_EQ(f[1].data, "ok");
  EXPECT_EQ(f[2].kind, sl::Frame::Kind::oversized);
  EXPECT_EQ(f[3].data, "<1>after");
}

TEST(SyslogFraming, ALengthThatIsNotANumberKillsTheStream) {
  sl::Framer fr(100);
  std::vector<sl::Frame> out;
  fr.feed("12x <13>1 more", out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].kind, sl::Frame::Kind::bad_frame);
  EXPECT_TRUE(fr.dead());
  fr.feed("5 hello", out);
  EXPECT_EQ(out.size(), 1u);
  sl::Framer eleven(100);
  std::vector<sl::Frame> o2;
  eleven.feed("12345678901 x", o2);
  ASSERT_EQ(o2.size(), 1u);
  EXPECT_EQ(o2[0].kind, sl::Frame::Kind::bad_frame);
}

TEST(Syslog5424, HeaderFieldsAndBom) {
  sl::Message m;
  std::string why;
  ASSERT_EQ(sl::parse_5424("<85>1 2026-12-02T05:40:41.123Z gw dicomguard 42 DICOM+RFC3881 - \xEF\xBB\xBF<x/>", m, why), "")
      << why;
  EXPECT_EQ(m.priority, 85);
  EXPECT_EQ(m.hostname, "gw");
  EXPECT_EQ(m.app_name, "dicomguard");
  EXPECT_EQ(m.msgid, "DICOM+RFC3881");
  EXPECT_TRUE(m.bom);
  EXPECT_EQ(m.msg, "<x/>");
  ASSERT_EQ(sl::parse_5424("<13>1 - host app - - [a b=\"c\\\"]\"][d] msg", m, why), "") << why;
  EXPECT_EQ(m.structured_data, "[a b=\"c\\\"]\"][d]");
  EXPECT_EQ(m.msg, "msg");
  EXPECT_EQ(sl::parse_5424("<192>1 - h a - - - x", m, why), "syslog.pri");
  EXPECT_EQ(sl::parse_5424("<13>Dec  2 05:40:41 host app: x", m, why), "syslog.version");
  EXPECT_EQ(sl::parse_5424("<13>1 2026-12-02T05:40:41 h a - - - x", m, why), "syslog.timestamp");  // no zone
  EXPECT_EQ(sl::parse_5424("<13>1 - h a - - [unterminated", m, why), "syslog.structured-data");
}

TEST(Syslog5424, TimesWithZonesOnly) {
  EXPECT_DOUBLE_EQ(*sl::parse_time("1970-01-01T00:00:10Z"), 10.0);
  EXPECT_DOUBLE_EQ(*sl::parse_time("1970-01-01T01:00:10.5+01:00"), 10.5);
  EXPECT_DOUBLE_EQ(*sl::parse_time("1969-12-31T23:00:00-01:00"), 0.0);
  EXPECT_FALSE(sl::parse_time("1970-01-01T00:00:10"));
  EXPECT_FALSE(sl::parse_time("1970-01-01 00:00:10Z"));
  EXPECT_FALSE(sl::parse_time("1970-13-01T00:00:10Z"));
}

TEST(AuditXml, EveryMessageOurGatewaySendsIsValid) {
  a::Instances in;
  in.study_uid = "1.2.3";
  in.patient_id = "PAT-123";
  in.patient_name = "Doe^Jane";
  in.sop_classes["1.2.840.10008.5.1.4.1.1.2"] = 2;
  const std::vector<a::Participant> xfer{peer("SCU", true, "source"), peer("PACS", false, "destination")};
  a::Participant app = peer("123@gw", false, "");
  for (const std::string& xml :
       {a::application_activity({}, true, app), a::application_activity({}, false, app),
        a::security_alert({}, a::AlertKind::node_authentication, {peer("SCU", true, "source"), app}, "10.1.2.3",
                          "association refused"),
        a::security_alert({}, a::AlertKind::security_configuration, {app}, "123@gw", "reloaded"),
        a::begin_transferring({}, xfer, in), a::instances_transferred({}, xfer, in, 'C'), gateway_query()}) {
    const auto f = a::validate_message(xml);
    EXPECT_TRUE(f.valid()) << xml << "\n" << (f.problems.empty() ? "" : f.problems[0].code + ": " + f.problems[0].text);
    EXPECT_TRUE(f.schema_valid);
    EXPECT_TRUE(f.event_epoch.has_value());
  }
}

TEST(AuditXml, NoDtdNoEntitiesNoNetwork) {
  const std::string xxe =
      "<?xml version=\"1.0\"?><!DOCTYPE AuditMessage [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><AuditMessage>&x;"
      "</AuditMessage>";
  EXPECT_TRUE(has(codes(a::validate_message(xxe)), "xml.doctype"));
  EXPECT_TRUE(has(codes(a::validate_message("<AuditMessage>&x;</AuditMessage>")), "xml.not-well-formed"));
  EXPECT_TRUE(has(codes(a::validate_message("<AuditMessage><EventIdentification>")), "xml.not-well-formed"));
  std::string deep;
  for (int i = 0; i < 40; ++i) deep += "<a>";
  for (int i = 0; i < 40; ++i) deep += "</a>";
  EXPECT_TRUE(has(codes(a::validate_message(deep)), "xml.too-deep"));
}

TEST(AuditXml, SchemaAndSemanticRules) {
  std::string q = gateway_query();
  // Schema: an outcome outside 0/4/8/12.
  std::string bad = q;
  bad.replace(bad.find("EventOutcomeIndicator=\"0\""), 25, "EventOutcomeIndicator=\"3\"");
  auto f = a::validate_message(bad);
  EXPECT_FALSE(f.schema_valid);
  EXPECT_TRUE(has(codes(f), "schema.invalid"));
  // Semantic: an EventID the DCM list does not have, valid against the schema.
  std::string unknown = q;
  unknown.replace(unknown.find("csd-code=\"110112\""), 17, "csd-code=\"110199\"");
  f = a::validate_message(unknown);
  EXPECT_TRUE(f.schema_valid);
  EXPECT_TRUE(has(codes(f), "event.unknown-id"));
  // A time without a zone: the schema takes it, A.5.2 does not.
  std::string local = q;
  const auto z = local.find("Z\" EventOutcomeIndicator");
  ASSERT_NE(z, std::string::npos);
  local.erase(z, 1);
  f = a::validate_message(local);
  EXPECT_TRUE(f.schema_valid);
  EXPECT_TRUE(has(codes(f), "time.not-utc"));
  // Security Alert without its EventTypeCode.
  std::string alert = a::security_alert({}, a::AlertKind::node_authentication, {peer("SCU", true, "source")}, "", "");
  const auto t = alert.find("<EventTypeCode");
  alert.erase(t, alert.find("/>", t) + 2 - t);
  f = a::validate_message(alert);
  EXPECT_TRUE(f.schema_valid);
  EXPECT_TRUE(has(codes(f), "event.type-code"));
  // A query without the requesting participant.
  const std::uint8_t ds[] = {1};
  f = a::validate_message(a::query({}, {peer("SCU", false, "source"), peer("PACS", false, "destination")}, "1.2", ds, "1.2"));
  EXPECT_TRUE(has(codes(f), "participant.no-requestor"));
}

TEST(AuditRecord, HashesObjectIdsAndNeverCarriesPatientValues) {
  a::Instances in;
  in.study_uid = "1.2.3";
  in.patient_id = "PAT-SECRET-77";
  in.patient_name = "Secret^Person";
  const std::string xml = a::instances_transferred(
      {}, {peer("SCU", true, "source"), peer("PACS", false, "destination")}, in, 'C');
  a::Received r;
  r.transport = "tls";
  r.sender = "10.1.2.3";
  r.sender_port = 5000;
  r.at = std::chrono::system_clock::now();
  r.data = a::syslog_frame(xml);
  r.size = r.data.size();
  a::Recorder rec;
  const dg::Record out = rec.record(r);
  const std::string line = dg::jsonl_record_line(out);
  EXPECT_EQ(out.status, "valid") << line;
  EXPECT_EQ(line.find("PAT-SECRET-77"), std::string::npos);
  EXPECT_EQ(line.find("Secret"), std::string::npos);
  EXPECT_NE(line.find(a::short_hash("PAT-SECRET-77")), std::string::npos);
  EXPECT_TRUE(out.findings.empty());  // TLS, valid, on time
  // The same over UDP: audit.plaintext once per sender.
  r.transport = "udp";
  EXPECT_EQ(rec.record(r).findings.size(), 1u);
  EXPECT_EQ(rec.record(r).findings.size(), 0u);
  // An hour late: clock skew.
  r.transport = "tls";
  r.at += std::chrono::hours(1);
  const auto late = rec.record(r);
  ASSERT_EQ(late.findings.size(), 1u);
  EXPECT_EQ(late.findings[0].check, "audit.clock-skew");
}

TEST(AuditExpect, RejectedAssociationsNeedASecurityAlertFromThatHost) {
  const auto svc = nlohmann::json::parse(R"({"type":"service","address":"10.0.0.5","port":104,"protocol":"dimse",
    "associations":[{"outcome":"rejected"},{"outcome":"accepted"}],"commands_refused":[],
    "find":{"result":"success","status":"0000"}})");
  auto audit = nlohmann::json::parse(R"({"type":"audit","status":"valid","valid":true,"transport":"tls",
    "sender":"10.0.0.5","event_id":"110113"})");
  auto other = nlohmann::json::parse(R"({"type":"audit","status":"valid","valid":true,"transport":"tls",
    "sender":"10.0.0.9","event_id":"110112"})");
  auto recs = a::expect({svc}, {audit, other});
  ASSERT_EQ(recs.size(), 1u);
  ASSERT_EQ(recs[0].findings.size(), 1u);  // the Query came from another host
  EXPECT_EQ(recs[0].findings[0].check, "audit.missing-event");
  EXPECT_EQ(recs[0].fields["missing"], nlohmann::json::array({"110112"}));
  other["sender"] = "10.0.0.5";
  EXPECT_TRUE(a::expect({svc}, {audit, other})[0].findings.empty());
}

TEST(AuditChecklist, PassOnlyWithValidTlsMessagesFromEveryScannedHost) {
  using dg::report::ItemStatus;
  auto judge = [](std::initializer_list<const char*> lines) {
    dg::report::Results r;
    for (const char* l : lines) dg::report::add_line(l, r);
    for (const auto& it : dg::report::checklist(r))
      if (it.id == "audit") return it;
    throw std::runtime_error("no audit item");
  };
  const char* svc = R"({"type":"service","address":"10.0.0.5","port":104,"protocol":"dimse"})";
  const char* svc2 = R"({"type":"service","address":"10.0.0.6","port":104,"protocol":"dimse"})";
  const char* tls = R"({"type":"audit","status":"valid","valid":true,"transport":"tls","sender":"10.0.0.5"})";
  const char* udp = R"({"type":"audit","status":"valid","valid":true,"transport":"udp","sender":"10.0.0.5"})";
  const char* bad = R"({"type":"audit","status":"invalid","valid":false,"transport":"tls","sender":"10.0.0.5"})";
  EXPECT_EQ(judge({svc}).status, ItemStatus::not_measured);
  EXPECT_EQ(judge({svc, tls}).status, ItemStatus::pass);
  EXPECT_EQ(judge({tls}).status, ItemStatus::not_measured);  // nobody says which hosts should send
  EXPECT_EQ(judge({svc, tls, udp}).status, ItemStatus::fail);
  EXPECT_EQ(judge({svc, tls, bad}).status, ItemStatus::fail);
  const auto silent = judge({svc, svc2, tls});
  EXPECT_EQ(silent.status, ItemStatus::fail);
  EXPECT_NE(silent.evidence.find("10.0.0.6"), std::string::npos);
}

TEST(AuditReceiver, TcpMessagesAndAnOversizedOneOnOneConnection) {
  asio::io_context io;
  std::vector<a::Received> got;
  a::ReceiverOptions o;
  o.bind = "127.0.0.1";
  o.tcp_port = 0;
  o.max_message = 32768;
  a::Receiver rx(io, o, [&](a::Received r) {
    got.push_back(std::move(r));
    if (got.size() == 3) io.stop();
  });
  const auto port = rx.listening().at(0).second;
  std::thread sender([port] {
    asio::io_context cio;
    asio::ip::tcp::socket s(cio);
    s.connect({asio::ip::make_address("127.0.0.1"), port});
    const std::string big(40000, 'x');
    const std::string data = "5 hello" + std::to_string(big.size()) + " " + big + "<13>1 - h a - - - lf\n";
    asio::write(s, asio::buffer(data));
    char c;
    asio::error_code ec;
    s.read_some(asio::buffer(&c, 1), ec);  // until the receiver is stopped
  });
  io.run();
  rx.stop();
  sender.join();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].data, "hello");
  EXPECT_EQ(got[1].kind, a::Received::Kind::refused);
  EXPECT_EQ(got[1].reason, "message.too-large");
  EXPECT_EQ(got[2].data, "<13>1 - h a - - - lf");
  EXPECT_EQ(got[2].transport, "tcp");
}
