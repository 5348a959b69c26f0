// The gateway's filter chain and relay without a network: what each denial answers, what is forwarded unchanged,
// what a protocol violation does to both sides, and the configuration's checks.
#include <gtest/gtest.h>

#include <fstream>

#include "dicom/associate.h"
#include "dicom/dimse.h"
#include "dicom/pdu.h"
#include "gateway/config.h"
#include "gateway/policy.h"
#include "gateway/relay.h"

namespace dg::gateway {
namespace {

namespace pdu = dicom::pdu;
namespace dimse = dicom::dimse;

struct Recorder : RelayEvents {
  std::vector<Decision> rejections, commands;
  std::vector<std::string> violations;
  std::vector<Instance> instances;
  int queries = 0;
  void rejected(const pdu::Associate&, const Decision& d) override { rejections.push_back(d); }
  void upstream_answered(const pdu::Associate&, const pdu::Associate*, const pdu::AssociateRj*) override {}
  void command(const CommandInfo&, const Decision& d) override { commands.push_back(d); }
  void instance(const Instance& i) override { instances.push_back(i); }
  void query(const CommandInfo&, std::span<const std::uint8_t>, const std::string&, bool) override { ++queries; }
  void retrieve_done(const CommandInfo&, std::uint16_t, int, int, int) override {}
  void violation(Side, const std::string& w) override { violations.push_back(w); }
};

pdu::AssociateRq request(const std::string& calling = "MODALITY", const std::string& called = "PACS",
                         std::uint32_t max_pdu = 16384) {
  pdu::AssociateRq rq;
  rq.calling_ae = calling;
  rq.called_ae = called;
  rq.max_pdu = max_pdu;
  rq.implementation_uid = "1.2.3.4";
  rq.contexts = {{1, dicom::uids::kVerification, {dicom::uids::kImplicitLE}},
                 {3, "1.2.840.10008.5.1.4.1.1.7", {dicom::uids::kImplicitLE}}};
  return rq;
}

std::vector<std::uint8_t> accept_all() {
  pdu::AssociateAc ac;
  ac.called_ae = "PACS";
  ac.calling_ae = "MODALITY";
  ac.max_pdu = 16384;
  ac.implementation_uid = "1.2.3.5";
  ac.contexts = {{1, 0, dicom::uids::kImplicitLE}, {3, 0, dicom::uids::kImplicitLE}};
  return pdu::encode(ac);
}

struct Harness {
  explicit Harness(Policy p = {}, RelayLimits limits = {}) : chain(std::move(p)), relay(chain, Peer{"127.0.0.1"}, ev, limits) {}
  // RQ from the client, the upstream connected and accepting: returns the RQ as the upstream got it.
  std::vector<std::uint8_t> associate(const pdu::AssociateRq& rq = request()) {
    auto out = relay.feed(Side::client, pdu::encode(rq));
    EXPECT_TRUE(out.connect);
    auto up = relay.upstream_connected();
    EXPECT_EQ(up.to_upstream.size(), 1u);
    auto ac = relay.feed(Side::upstream, accept_all());
    EXPECT_EQ(ac.to_client.size(), 1u);
    EXPECT_EQ(relay.state(), Relay::State::data);
    return up.to_upstream.front();
  }
  Chain chain;
  Recorder ev;
  Relay relay;
};

std::uint16_t status_of(const std::vector<std::uint8_t>& pdata) {
  auto parsed = pdu::parse(pdata);
  EXPECT_EQ(parsed.pdvs.size(), 1u);
  return dimse::parse_response(parsed.pdvs.front().data).status;
}

TEST(GatewayPolicy, AddressBlocks) {
  auto b = AddressBlock::parse("10.1.0.0/16");
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->contains("10.1.200.3"));
  EXPECT_FALSE(b->contains("10.2.0.1"));
  EXPECT_TRUE(b->contains("::ffff:10.1.0.9"));  // an IPv4-mapped address is matched as IPv4
  EXPECT_TRUE(AddressBlock::parse("::1")->contains("::1"));
  EXPECT_FALSE(AddressBlock::parse("::1")->contains("127.0.0.1"));
  EXPECT_FALSE(AddressBlock::parse("10.0.0.0/33"));
  EXPECT_FALSE(AddressBlock::parse("not-an-address"));
}

TEST(GatewayPolicy, ServiceNames) {
  EXPECT_EQ(parse_service("c-store"), Service::store);
  EXPECT_EQ(parse_service("N-SET"), Service::normalized);
  EXPECT_EQ(parse_service("N-*"), Service::normalized);
  EXPECT_FALSE(parse_service("C-DANCE"));
  EXPECT_EQ(service_of(0x8021), Service::move);
  EXPECT_EQ(service_of(0x0140), Service::normalized);
}

TEST(GatewayRelay, CalledAeRejectedWithReason7AndNothingForwarded) {
  Policy p;
  p.called_ae = "PACS";
  Harness h(p);
  auto out = h.relay.feed(Side::client, pdu::encode(request("MODALITY", "OTHER")));
  EXPECT_FALSE(out.connect);
  EXPECT_TRUE(out.close);
  ASSERT_EQ(out.to_client.size(), 1u);
  EXPECT_EQ(out.to_client[0], pdu::encode_rj(1, 1, 7));
  EXPECT_TRUE(out.to_upstream.empty());
  ASSERT_EQ(h.ev.rejections.size(), 1u);
  EXPECT_EQ(h.ev.rejections[0].filter, "ae-title");
}

TEST(GatewayRelay, CallingAeBoundToCertificateIdentity) {
  Policy p;
  p.calling.push_back({"MODALITY", "ct1.example", {}, {}});
  {
    Chain c(p);
    Recorder ev;
    Relay r(c, Peer{"127.0.0.1", true, {"other.example"}}, ev);
    auto out = r.feed(Side::client, pdu::encode(request()));
    ASSERT_EQ(out.to_client.size(), 1u);
    EXPECT_EQ(out.to_client[0], pdu::encode_rj(1, 1, 3));
  }
  Chain c(p);
  Recorder ev;
  Relay r(c, Peer{"127.0.0.1", true, {"ct1.example"}}, ev);
  EXPECT_TRUE(r.feed(Side::client, pdu::encode(request())).connect);
}

TEST(GatewayRelay, SourceAddressRejected) {
  Policy p;
  p.sources.push_back(*AddressBlock::parse("10.0.0.0/8"));
  Harness h(p);
  auto out = h.relay.feed(Side::client, pdu::encode(request()));
  ASSERT_EQ(out.to_client.size(), 1u);
  EXPECT_EQ(out.to_client[0], pdu::encode_rj(1, 1, 1));
}

TEST(GatewayRelay, RequestForwardedByteIdenticalAndMaxLengthCapped) {
  {
    Harness h;
    EXPECT_EQ(h.associate(), pdu::encode(request()));
  }
  RelayLimits limits;
  limits.max_pdu = 65536;
  Harness h({}, limits);
  const auto fwd = h.associate(request("MODALITY", "PACS", 0));  // 0: unlimited, as the client says
  std::string error;
  auto a = pdu::parse_associate(fwd, error);
  ASSERT_TRUE(a) << error;
  ASSERT_EQ(a->user_items<pdu::MaxLength>().size(), 1u);
  EXPECT_EQ(a->user_items<pdu::MaxLength>()[0]->max, 65536u);
}

TEST(GatewayRelay, AllowedCommandPassesUnchangedAndResponsesReturn) {
  Harness h;
  h.associate();
  const auto echo = pdu::encode_pdata(1, true, true, dimse::echo_rq(7));
  auto out = h.relay.feed(Side::client, echo);
  ASSERT_EQ(out.to_upstream.size(), 1u);
  EXPECT_EQ(out.to_upstream[0], echo);
  const auto rsp = pdu::encode_pdata(1, true, true,
                                     dimse::response_command(dicom::uids::kVerification, 0x8030, 7, 0, false));
  auto back = h.relay.feed(Side::upstream, rsp);
  ASSERT_EQ(back.to_client.size(), 1u);
  EXPECT_EQ(back.to_client[0], rsp);
  ASSERT_EQ(h.ev.commands.size(), 1u);
  EXPECT_TRUE(h.ev.commands[0].allowed);
}

TEST(GatewayRelay, DeniedStoreDropsItsDataAndAnswers0124AfterTheLastFragment) {
  Policy p;
  p.deny = {Service::store};
  Harness h(p);
  h.associate();
  const auto cmd = dimse::store_rq(9, "1.2.840.10008.5.1.4.1.1.7", "1.2.3.9");
  // The command in two fragments, then the data set in two.
  auto a = h.relay.feed(Side::client, pdu::encode_pdata(3, true, false, std::span(cmd).first(10)));
  EXPECT_TRUE(a.to_upstream.empty());
  auto b = h.relay.feed(Side::client, pdu::encode_pdata(3, true, true, std::span(cmd).subspan(10)));
  EXPECT_TRUE(b.to_upstream.empty());
  EXPECT_TRUE(b.to_client.empty());
  const std::vector<std::uint8_t> data(1000, 0x20);
  auto c = h.relay.feed(Side::client, pdu::encode_pdata(3, false, false, data));
  EXPECT_TRUE(c.to_upstream.empty());
  EXPECT_TRUE(c.to_client.empty());
  auto d = h.relay.feed(Side::client, pdu::encode_pdata(3, false, true, data));
  EXPECT_TRUE(d.to_upstream.empty());
  ASSERT_EQ(d.to_client.size(), 1u);
  EXPECT_EQ(status_of(d.to_client[0]), 0x0124);
  EXPECT_FALSE(d.close);  // the association goes on
  // The next command passes.
  auto e = h.relay.feed(Side::client, pdu::encode_pdata(1, true, true, dimse::echo_rq(10)));
  EXPECT_EQ(e.to_upstream.size(), 1u);
}

TEST(GatewayRelay, FragmentedAllowedCommandIsForwardedInItsFragments) {
  Harness h;
  h.associate();
  const auto cmd = dimse::echo_rq(3);
  const auto first = pdu::encode_pdata(1, true, false, std::span(cmd).first(12));
  const auto last = pdu::encode_pdata(1, true, true, std::span(cmd).subspan(12));
  EXPECT_TRUE(h.relay.feed(Side::client, first).to_upstream.empty());
  auto out = h.relay.feed(Side::client, last);
  ASSERT_EQ(out.to_upstream.size(), 2u);
  EXPECT_EQ(out.to_upstream[0], first);
  EXPECT_EQ(out.to_upstream[1], last);
}

TEST(GatewayRelay, MoveToUnknownDestinationIs0xA801) {
  Policy p;
  p.move_destinations["WS"] = {"WS", "127.0.0.1", 104, false};
  Harness h(p);
  h.associate();
  auto out = h.relay.feed(Side::client, pdu::encode_pdata(3, true, true, dimse::move_rq(4, dicom::uids::kStudyRootMove, "EVIL")));
  EXPECT_TRUE(out.to_upstream.empty());  // held: its identifier follows
  auto id = h.relay.feed(Side::client, pdu::encode_pdata(3, false, true, dimse::move_identifier("1.2.3", false)));
  EXPECT_TRUE(id.to_upstream.empty());
  ASSERT_EQ(id.to_client.size(), 1u);
  EXPECT_EQ(status_of(id.to_client[0]), 0xA801);
}

TEST(GatewayRelay, ProtocolViolationsAbortBothSides) {
  {
    Harness h;
    auto out = h.relay.feed(Side::client, pdu::encode_pdata(1, true, true, dimse::echo_rq(1)));
    ASSERT_EQ(out.to_client.size(), 1u);
    EXPECT_EQ(out.to_client[0][0], 0x07);  // P-DATA before an association: A-ABORT
    EXPECT_TRUE(out.close);
  }
  Harness h;
  h.associate();
  auto out = h.relay.feed(Side::client, pdu::encode_pdata(5, true, true, dimse::echo_rq(1)));  // context 5 unknown
  ASSERT_EQ(out.to_client.size(), 1u);
  ASSERT_EQ(out.to_upstream.size(), 1u);
  EXPECT_EQ(out.to_client[0][0], 0x07);
  EXPECT_EQ(out.to_upstream[0][0], 0x07);
  EXPECT_EQ(h.ev.violations.size(), 1u);
  // A PDU above the limit is refused from its header, before any of it is held.
  Harness small({}, RelayLimits{4096, 65536, 65536});
  small.associate();
  std::vector<std::uint8_t> huge = {0x04, 0x00, 0x00, 0x10, 0x00, 0x00};  // 1 MiB declared
  auto big = small.relay.feed(Side::client, huge);
  EXPECT_TRUE(big.close);
  EXPECT_EQ(small.relay.read_buffer(Side::client).size(), 0u);
}

TEST(GatewayConfig, TomlRoutesAndClearErrors) {
  const std::string text = R"([[route]]
name = "ct"
listen = "127.0.0.1:11112"
upstream = "127.0.0.1:104"
called_ae = "PACS"
deny = ["C-MOVE"]
allow_source = ["10.0.0.0/8"]
[[route.calling]]
ae = "CT1"
allow = ["C-STORE", "C-ECHO"]
)";
  Config c = build_config(parse_toml(text, "t.toml"));
  ASSERT_EQ(c.routes.size(), 1u);
  const Route& r = c.routes[0];
  EXPECT_EQ(r.name, "ct");
  EXPECT_EQ(r.listen.port, 11112);
  EXPECT_EQ(r.policy.called_ae, "PACS");
  EXPECT_EQ(r.policy.deny, std::set<Service>{Service::move});
  ASSERT_EQ(r.policy.calling.size(), 1u);
  EXPECT_EQ(r.policy.calling[0].allow, (std::set<Service>{Service::store, Service::echo}));
  EXPECT_THROW(parse_toml("[[route]]\nlisten = 1\nupstream = \"h:1\"\ntypo = 2\n", "t.toml"), std::invalid_argument);
  EXPECT_THROW(parse_toml("not toml at all [", "t.toml"), std::invalid_argument);
  GatewaySpec g;
  RouteSpec bad;
  bad.listen = "11112";
  bad.upstream = "127.0.0.1:104";
  bad.allow_calling = {"CT1@ct1.example"};  // AE@CN without client certificates
  g.routes = {bad};
  EXPECT_THROW(build_config(g), std::invalid_argument);
  bad.allow_calling.clear();
  bad.move_listen = "11113";  // a reverse route without destinations
  g.routes = {bad};
  EXPECT_THROW(build_config(g), std::invalid_argument);
  bad.move_dest = {"WS=tls://127.0.0.1:2762"};
  g.routes = {bad};
  Config rev = build_config(g);
  ASSERT_EQ(rev.routes.size(), 2u);
  EXPECT_TRUE(rev.routes[1].reverse);
  EXPECT_TRUE(rev.routes[1].policy.move_destinations.at("WS").tls);
}

}  // namespace
}  // namespace dg::gateway

namespace dg::gateway {
namespace {

TEST(GatewayRelay, CommandSetsThatBreakPs37AreAbortedNotForwarded) {
  Harness h;
  h.associate();
  auto cmd = dimse::echo_rq(1);
  cmd[8] += 2;  // the group length counts two bytes that are not there
  auto out = h.relay.feed(Side::client, pdu::encode_pdata(1, true, true, cmd));
  ASSERT_EQ(out.to_upstream.size(), 1u);
  EXPECT_EQ(out.to_upstream[0][0], 0x07);  // the upstream gets an A-ABORT, not the command
  EXPECT_TRUE(out.close);
  // A Command Field no service has: 0x0211, and nothing forwarded.
  Harness u;
  u.associate();
  const auto odd = dimse::response_command(dicom::uids::kVerification, 0x0777, 2, 0, false);
  // response_command writes a Status; the field 0x0777 is a request nobody defines.
  auto o2 = u.relay.feed(Side::client, pdu::encode_pdata(1, true, true, odd));
  EXPECT_TRUE(o2.to_upstream.empty());
  ASSERT_EQ(o2.to_client.size(), 1u);
  EXPECT_EQ(status_of(o2.to_client[0]), 0x0211);
}

}  // namespace
}  // namespace dg::gateway
