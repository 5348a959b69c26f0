// The lab's SCP, sans I/O: what ServerConfig::services changes (the legacy archive of `lab --legacy` offers
// C-ECHO and C-STORE only) and the called AE title check, with PDUs built by our own codec.
#include "lab/scp.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "dicom/dimse.h"
#include "dicom/pdu.h"
#include "dicom/uids.h"

using namespace dg;
namespace pdu = dg::dicom::pdu;
namespace dimse = dg::dicom::dimse;
namespace uids = dg::dicom::uids;
using Bytes = std::vector<std::uint8_t>;

namespace {

struct Events : lab::ScpEvents {
  void associated(const std::string&) override { ++associations; }
  void stored(const std::string& uid) override { stored_uids.push_back(uid); }
  int associations = 0;
  std::vector<std::string> stored_uids;
};

lab::ServerConfig legacy() {
  lab::ServerConfig c{"legacy", "LEGACY_PACS", false, {}, false, 0};
  c.services = lab::Services::echo_store;
  return c;
}

pdu::AssociateRq rq(const std::string& called) {
  pdu::AssociateRq r;
  r.called_ae = called;
  r.calling_ae = "OLD_CT_4";
  r.implementation_uid = "1.2.826.0.1.3680043.10.1427.99";
  r.contexts = {{1, uids::kVerification, {uids::kExplicitLE}},
                {3, uids::kStudyRootFind, {uids::kExplicitLE}},
                {5, uids::kCtStorage, {uids::kExplicitLE, uids::kImplicitLE}}};
  return r;
}

// The only PDU of an output, parsed.
pdu::Parsed only(const lab::Scp::Output& out) {
  EXPECT_EQ(out.send.size(), 1u);
  return out.send.empty() ? pdu::Parsed{} : pdu::parse(out.send[0]);
}

std::map<std::uint8_t, std::uint8_t> results(const pdu::Parsed& p) {
  std::map<std::uint8_t, std::uint8_t> m;
  if (p.ac)
    for (const auto& c : p.ac->contexts) m[c.id] = c.result;
  return m;
}

dimse::Response response(const lab::Scp::Output& out) {
  const pdu::Parsed p = only(out);
  EXPECT_EQ(p.type, 4);
  EXPECT_FALSE(p.pdvs.empty());
  return p.pdvs.empty() ? dimse::Response{} : dimse::parse_response(p.pdvs[0].data);
}

}  // namespace

TEST(LabScp, LegacyAcceptsVerificationAndStorageOnly) {
  const auto cfg = legacy();
  Events ev;
  lab::Scp scp(cfg, ev, "127.0.0.1");
  const pdu::Parsed ac = only(scp.on_bytes(pdu::encode(rq("LEGACY_PACS"))));
  ASSERT_EQ(ac.type, 2);
  EXPECT_EQ(results(ac), (std::map<std::uint8_t, std::uint8_t>{{1, 0}, {3, 3}, {5, 0}}));
  EXPECT_EQ(ev.associations, 1);

  const auto echo = response(scp.on_bytes(pdu::encode_pdata(1, true, true, dimse::echo_rq(7))));
  EXPECT_EQ(echo.command_field, dimse::c_echo_rsp);
  EXPECT_EQ(echo.status, 0x0000);

  Bytes store = pdu::encode_pdata(5, true, true, dimse::store_rq(9, uids::kCtStorage, "1.2.826.0.1.3680043.10.1427.99.1"));
  const Bytes body = pdu::encode_pdata(5, false, true, Bytes(64, 0));
  store.insert(store.end(), body.begin(), body.end());
  const auto stored = response(scp.on_bytes(store));
  EXPECT_EQ(stored.command_field, dimse::c_store_rsp);
  EXPECT_EQ(stored.status, 0x0000);
  EXPECT_EQ(ev.stored_uids, std::vector<std::string>{"1.2.826.0.1.3680043.10.1427.99.1"});

  // A C-FIND-RQ on the storage context (the only way to send one): unrecognized operation, nothing matched.
  Bytes both = pdu::encode_pdata(5, true, true, dimse::find_rq(8, uids::kStudyRootFind));
  const Bytes ds = pdu::encode_pdata(5, false, true, dimse::study_identifier("", true));
  both.insert(both.end(), ds.begin(), ds.end());
  const auto out = scp.on_bytes(both);
  const auto find = response(out);
  EXPECT_EQ(find.command_field, 0x8020);
  EXPECT_EQ(find.status, 0x0211);
  EXPECT_FALSE(out.close);
}

TEST(LabScp, AllServicesAcceptQueryToo) {
  lab::ServerConfig cfg{"leaky", "LEAKY_PACS", true, {}, false, 0};
  Events ev;
  lab::Scp scp(cfg, ev, "127.0.0.1");
  const pdu::Parsed ac = only(scp.on_bytes(pdu::encode(rq("ANYTHING"))));
  ASSERT_EQ(ac.type, 2);
  EXPECT_EQ(results(ac), (std::map<std::uint8_t, std::uint8_t>{{1, 0}, {3, 0}, {5, 0}}));
}

TEST(LabScp, LegacyRejectsAnotherCalledAe) {
  const auto cfg = legacy();
  Events ev;
  lab::Scp scp(cfg, ev, "127.0.0.1");
  const auto out = scp.on_bytes(pdu::encode(rq("LEAKY_PACS")));
  const pdu::Parsed rj = only(out);
  ASSERT_EQ(rj.type, 3);
  ASSERT_TRUE(rj.rj);
  EXPECT_EQ(rj.rj->reason, 7);  // called AE title not recognized
  EXPECT_TRUE(out.close);
  EXPECT_EQ(ev.associations, 0);
}

TEST(LabScp, LegacyAbortsATlsClientHello) {
  const auto cfg = legacy();
  Events ev;
  lab::Scp scp(cfg, ev, "127.0.0.1");
  // The first bytes of a TLS 1.2 ClientHello record: content type 22 is no PDU type.
  const Bytes hello = {0x16, 0x03, 0x01, 0x00, 0xF0, 0x01, 0x00, 0x00, 0xEC, 0x03, 0x03};
  const auto out = scp.on_bytes(hello);
  EXPECT_TRUE(out.close);
  EXPECT_EQ(ev.associations, 0);
  if (!out.send.empty()) {
    EXPECT_EQ(pdu::parse(out.send[0]).type, 7);  // an A-ABORT, if anything
  }
}
