// Targets and the DIMSE probe's state machine, driven with scripted server bytes (no network).
#include <gtest/gtest.h>

#include "dicom/dimse.h"
#include "dicom/pdu.h"
#include "scan/dimse_probe.h"
#include "scan/http.h"
#include "scan/service.h"
#include "scan/vulnerable.h"
#include "scan/targets.h"
#include "builder.h"

using namespace dg::scan;
namespace pdu = dg::dicom::pdu;

namespace {

std::vector<std::string> all(const TargetSet& t) {
  std::vector<std::string> v;
  t.for_each([&](const Endpoint& e) {
    v.push_back(e.str());
    return true;
  });
  return v;
}

void be16(Bytes& b, unsigned v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}
void item(Bytes& b, std::uint8_t type, const std::string& s) {
  b.push_back(type);
  b.push_back(0);
  be16(b, static_cast<unsigned>(s.size()));
  b.insert(b.end(), s.begin(), s.end());
}
// An A-ASSOCIATE-AC accepting the given presentation context IDs with explicit VR little endian.
Bytes accept(const std::vector<int>& ids, const std::string& impl_uid = "1.2.276.0.7230010.3.0.3.6.7",
             const std::string& impl_version = "OFFIS_DCMTK_367") {
  Bytes body = {0, 1, 0, 0};
  std::string ae(16, ' ');
  body.insert(body.end(), ae.begin(), ae.end());
  body.insert(body.end(), ae.begin(), ae.end());
  body.insert(body.end(), 32, 0);
  item(body, 0x10, dg::dicom::uids::kApplicationContext);
  for (int id : ids) {
    Bytes ctx = {static_cast<std::uint8_t>(id), 0, 0, 0};
    item(ctx, 0x40, "1.2.840.10008.1.2.1");
    body.push_back(0x21);
    body.push_back(0);
    be16(body, static_cast<unsigned>(ctx.size()));
    body.insert(body.end(), ctx.begin(), ctx.end());
  }
  Bytes ui = {0x51, 0, 0, 4, 0, 0, 0x40, 0};
  item(ui, 0x52, impl_uid);
  item(ui, 0x55, impl_version);
  body.push_back(0x50);
  body.push_back(0);
  be16(body, static_cast<unsigned>(ui.size()));
  body.insert(body.end(), ui.begin(), ui.end());
  Bytes b = {2, 0, 0, 0};
  be16(b, static_cast<unsigned>(body.size()));
  b.insert(b.end(), body.begin(), body.end());
  return b;
}
Bytes reject(std::uint8_t source, std::uint8_t reason) { return {3, 0, 0, 0, 0, 4, 0, 1, source, reason}; }

// A C-xxx-RSP command set (implicit VR little endian) in one P-DATA-TF.
Bytes response(std::uint8_t ctx, std::uint16_t field, std::uint16_t status) {
  const Bytes cs = dgtest::command_fields({{0x0100, field}, {0x0120, 1}, {0x0800, 0x0101}, {0x0900, status}});
  return pdu::encode_pdata(ctx, true, true, cs);
}

}  // namespace

TEST(Targets, PortsParseListsAndRangesAndRejectNonsense) {
  std::string err;
  EXPECT_EQ(parse_ports("104,11112,4242-4244", err), (std::vector<std::uint16_t>{104, 11112, 4242, 4243, 4244}));
  EXPECT_TRUE(parse_ports("0", err).empty());
  EXPECT_TRUE(parse_ports("70000", err).empty());
  EXPECT_NE(err.find("70000"), std::string::npos);
  EXPECT_TRUE(parse_ports("20-10", err).empty());
}

TEST(Targets, CidrAndRangesEnumeratePortMajorWithExclusions) {
  TargetSet t;
  std::string err;
  t.set_ports({104, 11112});
  ASSERT_TRUE(t.add("10.0.0.0/30", err)) << err;
  ASSERT_TRUE(t.add("10.0.1.7-8", err)) << err;
  ASSERT_TRUE(t.exclude("10.0.0.2", err)) << err;
  EXPECT_EQ(all(t), (std::vector<std::string>{"10.0.0.0:104", "10.0.0.1:104", "10.0.0.3:104", "10.0.1.7:104",
                                              "10.0.1.8:104", "10.0.0.0:11112", "10.0.0.1:11112",
                                              "10.0.0.3:11112", "10.0.1.7:11112", "10.0.1.8:11112"}));
  EXPECT_EQ(t.size_hint(), 12u);  // an upper bound: exclusions are not subtracted
}

TEST(Targets, ExplicitPortsAndIpv6) {
  TargetSet t;
  std::string err;
  t.set_ports({104});
  ASSERT_TRUE(t.add("[::1]:11112", err)) << err;
  ASSERT_TRUE(t.add("127.0.0.1:4242", err)) << err;
  ASSERT_TRUE(t.add("fd00::/127", err)) << err;
  EXPECT_EQ(all(t), (std::vector<std::string>{"[fd00::]:104", "[fd00::1]:104", "[::1]:11112", "127.0.0.1:4242"}));
  EXPECT_FALSE(t.add("fd00::/64", err));
  EXPECT_NE(err.find("/104"), std::string::npos);
  EXPECT_FALSE(t.add("10.0.0.9-3", err));
  EXPECT_FALSE(t.add("10.0.0.0/33", err));
}

TEST(Targets, WholeIpv4SpaceIsEnumeratedLazily) {
  TargetSet t;
  std::string err;
  t.set_ports({104});
  ASSERT_TRUE(t.add("0.0.0.0/0", err));
  EXPECT_EQ(t.size_hint(), 1ull << 32);
  TargetSet::Cursor c(t);
  EXPECT_EQ(c.next()->str(), "0.0.0.0:104");
  EXPECT_EQ(c.next()->str(), "0.0.0.1:104");
}

TEST(DimseProbe, RejectedRandomCalledAeThenAcceptedDefaultIsRecorded) {
  DimseOptions o;
  o.seed = 7;
  DimseProbe p({*parse_addr("127.0.0.1"), 104, {}}, o);
  Step s = p.begin();
  ASSERT_EQ(s.kind, Step::Kind::connect);
  EXPECT_FALSE(s.tls);
  s = p.on_connected({}, {});
  ASSERT_EQ(s.kind, Step::Kind::send);
  EXPECT_EQ(s.out[0], 1);  // A-ASSOCIATE-RQ
  // Our identity on the wire, never another product's.
  const std::string rq(s.out.begin(), s.out.end());
  EXPECT_NE(rq.find(kImplementationUid), std::string::npos);
  EXPECT_NE(rq.find(kImplementationVersion), std::string::npos);

  s = p.on_data(reject(1, 7));  // called AE title not recognized
  ASSERT_EQ(s.kind, Step::Kind::connect);
  s = p.on_connected({}, {});
  ASSERT_EQ(s.kind, Step::Kind::send);
  const std::string rq2(s.out.begin(), s.out.end());
  EXPECT_NE(rq2.find(default_called_aes()[0]), std::string::npos);

  s = p.on_data(accept({1}));  // only Verification (context 1)
  ASSERT_EQ(s.kind, Step::Kind::send);  // C-ECHO
  s = p.on_data(response(1, 0x8030, 0x0000));
  ASSERT_EQ(s.kind, Step::Kind::send);  // A-RELEASE-RQ
  EXPECT_EQ(s.out[0], 5);
  s = p.on_data(Bytes{6, 0, 0, 0, 0, 4, 0, 0, 0, 0});
  EXPECT_EQ(s.kind, Step::Kind::finish);

  const DimseResult& r = p.result();
  EXPECT_EQ(r.answer, "dicom");
  EXPECT_EQ(r.called_enforced, true);
  EXPECT_EQ(r.calling_enforced, false);
  EXPECT_EQ(r.default_called, default_called_aes()[0]);
  EXPECT_TRUE(r.released);
  EXPECT_EQ(r.echo.category, CommandCategory::success);
  auto rec = dimse_record(r);
  std::set<std::string> ids;
  for (const auto& f : rec.findings) ids.insert(f.check);
  std::set<std::string> want{"dimse.ae.default-called", "dimse.ae.any-calling", "dimse.echo.open", "dimse.plaintext"};
  if (!lookup("DCMTK", "3.6.7").empty()) want.insert("product.vulnerable");  // the identity our fake server sends
  EXPECT_EQ(ids, want);
  EXPECT_EQ(rec.fields["exposure"], "ae-open");
  EXPECT_EQ(rec.fields["product"]["version"], "3.6.7");
}

TEST(DimseProbe, CallingAeRejectStopsTheMatrix) {
  DimseProbe p({*parse_addr("127.0.0.1"), 104, {}}, {});
  p.begin();
  p.on_connected({}, {});
  EXPECT_EQ(p.on_data(reject(1, 3)).kind, Step::Kind::finish);
  EXPECT_EQ(p.result().calling_enforced, true);
  EXPECT_FALSE(p.result().called_enforced.has_value());
  EXPECT_TRUE(dimse_record(p.result()).findings.size() == 1);  // dimse.plaintext only
}

TEST(DimseProbe, TlsAlertOrSilenceLeadsToATlsRetry) {
  DimseProbe p({*parse_addr("127.0.0.1"), 2762, {}}, {});
  p.begin();
  p.on_connected({}, {});
  Step s = p.on_data(Bytes{0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46});  // TLS alert record
  ASSERT_EQ(s.kind, Step::Kind::connect);
  EXPECT_TRUE(s.tls);

  DimseProbe q({*parse_addr("127.0.0.1"), 2762, {}}, {});
  q.begin();
  q.on_connected({}, {});
  s = q.on_failure(Failure::closed, "eof");
  ASSERT_EQ(s.kind, Step::Kind::connect);
  EXPECT_TRUE(s.tls);
  s = q.on_failure(Failure::tls_failed, "handshake failure");
  EXPECT_EQ(s.kind, Step::Kind::finish);
  EXPECT_EQ(q.result().answer, "tls-handshake-failed");
  EXPECT_TRUE(dimse_record(q.result()).type.empty());  // not proven to be DICOM: not a service record
}

TEST(DimseProbe, HttpAnswerIsClassifiedNotFollowed) {
  DimseOptions o;
  o.try_tls = false;
  DimseProbe p({*parse_addr("127.0.0.1"), 8042, {}}, o);
  p.begin();
  p.on_connected({}, {});
  const std::string http = "HTTP/1.1 400 Bad Request\r\n\r\n";
  EXPECT_EQ(p.on_data(Bytes(http.begin(), http.end())).kind, Step::Kind::finish);
  EXPECT_EQ(p.result().answer, "http");
  EXPECT_EQ(p.result().banner, "HTTP/1.1 400 Bad Request");
}

TEST(DimseProbe, PendingAnswersAreCountedNotRead) {
  DimseProbe p({*parse_addr("127.0.0.1"), 104, {}}, {});
  p.begin();
  p.on_connected({}, {});
  // Context 3 is Study Root FIND (the second proposed class).
  Step s = p.on_data(accept({3}));
  ASSERT_EQ(s.kind, Step::Kind::send);
  for (int i = 0; i < 3; ++i) {
    Bytes pending = response(3, 0x8020, 0xFF00);
    Bytes data = pdu::encode_pdata(3, false, true, Bytes{0x10, 0, 0x10, 0, 4, 0, 0, 0, 'X', 'Y', 'Z', ' '});
    pending.insert(pending.end(), data.begin(), data.end());
    ASSERT_EQ(p.on_data(pending).kind, Step::Kind::receive);
  }
  s = p.on_data(response(3, 0x8020, 0x0000));
  EXPECT_EQ(s.out[0], 5);  // release
  EXPECT_EQ(p.result().find.pending, 3u);
  EXPECT_EQ(p.result().find.category, CommandCategory::success);
}

TEST(DimseProbe, ResponsesSplitAcrossReadsAreReassembled) {
  DimseProbe p({*parse_addr("127.0.0.1"), 104, {}}, {});
  p.begin();
  p.on_connected({}, {});
  Bytes ac = accept({1});
  Step s;
  for (std::size_t i = 0; i < ac.size(); ++i) s = p.on_data(Bytes{ac[i]});
  ASSERT_EQ(s.kind, Step::Kind::send);  // C-ECHO once the whole A-ASSOCIATE-AC arrived
  EXPECT_EQ(p.result().implementation_version, "OFFIS_DCMTK_367");
}

namespace {
std::span<const std::uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
}  // namespace

TEST(Http, ContentLengthChunkedAndEndOfConnectionBodies) {
  std::string err;
  const std::string cl = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: x\r\n\r\nhello";
  EXPECT_FALSE(http::parse(bytes_of(cl.substr(0, cl.size() - 1)), false, err).has_value());
  auto r = http::parse(bytes_of(cl), false, err);
  ASSERT_TRUE(r) << err;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello");
  EXPECT_EQ(*r->header("server"), "x");

  const std::string ch = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
  r = http::parse(bytes_of(ch), false, err);
  ASSERT_TRUE(r) << err;
  EXPECT_EQ(r->body, "abcde");

  const std::string eof = "HTTP/1.0 200 OK\r\n\r\nuntil close";
  EXPECT_FALSE(http::parse(bytes_of(eof), false, err).has_value());
  r = http::parse(bytes_of(eof), true, err);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "until close");
}

TEST(Http, LimitsAndNonHttpAreErrors) {
  std::string err;
  EXPECT_FALSE(http::parse(bytes_of("SSH-2.0-OpenSSH\r\n"), false, err).has_value());
  EXPECT_EQ(err, "not an HTTP response");
  err.clear();
  EXPECT_FALSE(http::parse(bytes_of("HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n"), false, err));
  EXPECT_FALSE(err.empty());
  err.clear();
  EXPECT_FALSE(http::parse(bytes_of("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"), false, err));
  EXPECT_EQ(err, "malformed chunk size");
}
