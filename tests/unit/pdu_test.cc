#include "dicom/pdu.h"

#include <gtest/gtest.h>

#include "dicom/dimse.h"

using namespace dg::dicom;

namespace {
std::vector<std::uint8_t> ac_bytes() {
  // A-ASSOCIATE-AC as a server sends it: one accepted context with Explicit VR LE, user information.
  std::vector<std::uint8_t> b = {0x02, 0, 0, 0, 0, 0, 0, 1, 0, 0};
  std::string called = "STORESCP        ", calling = "DICOMGUARD      ";
  b.insert(b.end(), called.begin(), called.end());
  b.insert(b.end(), calling.begin(), calling.end());
  b.insert(b.end(), 32, 0);
  auto item = [&](std::uint8_t t, const std::string& s) {
    b.insert(b.end(), {t, 0, static_cast<std::uint8_t>(s.size() >> 8), static_cast<std::uint8_t>(s.size())});
    b.insert(b.end(), s.begin(), s.end());
  };
  item(0x10, uids::kApplicationContext);
  const std::string ts = "1.2.840.10008.1.2.1";
  b.insert(b.end(), {0x21, 0, 0, static_cast<std::uint8_t>(8 + ts.size()), 1, 0, 0, 0});
  item(0x40, ts);
  const std::string uid = "1.2.276.0.7230010.3.0.3.6.7", ver = "OFFIS_DCMTK_367";
  const std::size_t ui_len = 8 + 4 + uid.size() + 4 + ver.size();
  b.insert(b.end(), {0x50, 0, 0, static_cast<std::uint8_t>(ui_len), 0x51, 0, 0, 4, 0, 0, 0x40, 0});
  item(0x52, uid);
  item(0x55, ver);
  const std::uint32_t len = static_cast<std::uint32_t>(b.size() - 6);
  b[2] = len >> 24; b[3] = (len >> 16) & 0xFF; b[4] = (len >> 8) & 0xFF; b[5] = len & 0xFF;
  return b;
}
}  // namespace

TEST(Pdu, ParsesAnAssociateAc) {
  auto b = ac_bytes();
  auto p = pdu::parse(b);
  ASSERT_TRUE(p.error.empty()) << p.error;
  ASSERT_TRUE(p.ac);
  EXPECT_EQ(p.ac->called_ae, "STORESCP");
  ASSERT_EQ(p.ac->contexts.size(), 1u);
  EXPECT_EQ(p.ac->contexts[0].result, 0);
  EXPECT_EQ(p.ac->contexts[0].transfer_syntax, "1.2.840.10008.1.2.1");
  EXPECT_EQ(p.ac->max_pdu, 16384u);
  EXPECT_EQ(p.ac->implementation_uid, "1.2.276.0.7230010.3.0.3.6.7");
  EXPECT_EQ(p.ac->implementation_version, "OFFIS_DCMTK_367");
}

TEST(Pdu, EveryTruncationAndLengthLieIsAnError) {
  auto b = ac_bytes();
  for (std::size_t n = 0; n < b.size(); ++n) {
    auto p = pdu::parse(std::span(b.data(), n));
    EXPECT_FALSE(p.error.empty()) << n;
  }
  // An item that claims more bytes than the PDU has.
  auto c = ac_bytes();
  c[6 + 68 + 2] = 0xFF;
  EXPECT_FALSE(pdu::parse(c).error.empty());
  // A declared length above the limit is refused from the header alone.
  std::string err;
  std::vector<std::uint8_t> h = {0x04, 0, 0x7F, 0xFF, 0xFF, 0xFF};
  EXPECT_FALSE(pdu::total_length(h, err));
  std::vector<std::uint8_t> http = {'H', 'T', 'T', 'P', '/', '1'};
  EXPECT_FALSE(pdu::total_length(http, err));
  EXPECT_NE(err.find("not a DICOM PDU"), std::string::npos);
}

TEST(Pdu, RejectAbortAndReasons) {
  std::vector<std::uint8_t> rj = {0x03, 0, 0, 0, 0, 4, 0, 1, 1, 7};
  auto p = pdu::parse(rj);
  ASSERT_TRUE(p.rj);
  EXPECT_STREQ(pdu::rj_result_name(p.rj->result), "rejected-permanent");
  EXPECT_STREQ(pdu::rj_reason_name(p.rj->source, p.rj->reason), "called-AE-title-not-recognized");
  auto ab = pdu::encode_abort(2, 1);
  auto q = pdu::parse(ab);
  ASSERT_TRUE(q.abort);
  EXPECT_STREQ(pdu::abort_reason_name(q.abort->reason), "unrecognized-PDU");
}

TEST(Pdu, PdataRoundTripCarriesADimseCommand) {
  auto cmd = dimse::echo_rq(7);
  auto b = pdu::encode_pdata(1, true, true, cmd);
  auto p = pdu::parse(b);
  ASSERT_TRUE(p.error.empty());
  ASSERT_EQ(p.pdvs.size(), 1u);
  EXPECT_TRUE(p.pdvs[0].command);
  EXPECT_TRUE(p.pdvs[0].last);
  auto r = dimse::parse_response(p.pdvs[0].data);
  EXPECT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(r.command_field, dimse::c_echo_rq);
  EXPECT_FALSE(r.has_dataset);
}

TEST(Pdu, AssociateRqLayout) {
  pdu::AssociateRq rq{"ANY-SCP", "DICOMGUARD", {{1, uids::kVerification, {"1.2.840.10008.1.2"}}}, 16384,
                      "1.2.826.0.1.3680043.10.1411", "DICOMGUARD_010"};
  auto b = pdu::encode(rq);
  EXPECT_EQ(b[0], 1);
  std::string err;
  EXPECT_EQ(pdu::total_length(b, err), b.size());
  EXPECT_EQ(std::string(b.begin() + 10, b.begin() + 26), "ANY-SCP         ");
  EXPECT_EQ(std::string(b.begin() + 26, b.begin() + 42), "DICOMGUARD      ");
}

TEST(Dimse, StatusCategories) {
  EXPECT_STREQ(dimse::category_name(dimse::status_category(0x0000)), "success");
  EXPECT_STREQ(dimse::category_name(dimse::status_category(0xFF00)), "pending");
  EXPECT_STREQ(dimse::category_name(dimse::status_category(0xA701)), "failure");
  EXPECT_STREQ(dimse::category_name(dimse::status_category(0xB000)), "warning");
  std::vector<std::uint8_t> junk = {0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0x7F};
  EXPECT_FALSE(dimse::parse_response(junk).error.empty());
}
