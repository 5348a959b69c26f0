// deid --verify: an output of deid is clean; the original, a half-done output and a leaky one are not, and the
// findings name tags, never values.
#include "deid/verify.h"

#include <gtest/gtest.h>

#include <set>

#include "deid/rewrite.h"
#include "deid_support.h"

using namespace dg::deid;
using namespace dg::dicom;
using dgtest::deid::Bytes;
using dgtest::deid::file_of;
using dgtest::deid::plan;

namespace {

const std::string kInst = "1.2.826.0.1.3680043.10.77.1";
const std::string kStudy = "1.2.826.0.1.3680043.10.77.2";

void study(ElementWriter& w) {
  w.element(tag(8, 0x16), kUI, "1.2.840.10008.5.1.4.1.1.2");
  w.element(tag(8, 0x18), kUI, kInst);
  w.element(tag(8, 0x20), vr("DA"), "20240115");
  w.element(tag(8, 0x50), vr("SH"), "ACCMARKER1");
  w.element(tag(8, 0x60), kCS, "CT");
  w.element(tag(8, 0x81), vr("ST"), "ADDRMARKER");  // Institution Address: X
  w.element(tag(0x9, 0x10), kLO, "ACME PRIVATE");   // a private block of an unknown creator
  w.element(tag(0x9, 0x1001), kLO, "PRIVMARKER");
  w.element(tag(0x10, 0x10), vr("PN"), "NAMEMARKER^JOHN");
  w.element(tag(0x10, 0x20), kLO, "PIDMARKER");
  w.element(tag(0x20, 0x0D), kUI, kStudy);
  w.element(tag(0x28, 0x301), kCS, "NO");
}

std::set<std::string> checks(const dg::Record& r) {
  std::set<std::string> s;
  for (const auto& f : r.findings) s.insert(f.check);
  return s;
}

Against against(const Bytes& in) {
  Against a;
  collect_against(in, a);
  return a;
}

}  // namespace

TEST(DeidVerify, AnOutputOfDeidIsClean) {
  const Bytes in = file_of(study, "1.2.840.10008.1.2.1", "1.2.840.10008.5.1.4.1.1.2", kInst);
  const Result r = deidentify(in, plan());
  ASSERT_EQ(r.status, Status::written) << r.reason;
  const Against a = against(in);
  EXPECT_EQ(a.files, 1u);
  EXPECT_TRUE(a.uids.count(kStudy));
  const dg::Record v = verify_file("out.dcm", r.bytes, &a);
  EXPECT_EQ(v.status, "clean") << v.findings.size() << " findings, first "
                               << (v.findings.empty() ? "" : v.findings[0].check + " " + v.findings[0].evidence.dump());
  EXPECT_TRUE(v.fields["deidentified"].get<bool>());
  EXPECT_GT(v.fields["values_searched"].get<std::size_t>(), 5u);
  EXPECT_GT(v.fields["attributes"].get<std::uint64_t>(), 5u);
  // Without --against too.
  EXPECT_EQ(verify_file("out.dcm", r.bytes, nullptr).status, "clean");
}

TEST(DeidVerify, TheOriginalIsFullOfResiduals) {
  const Bytes in = file_of(study, "1.2.840.10008.1.2.1", "1.2.840.10008.5.1.4.1.1.2", kInst);
  const Against a = against(in);
  const dg::Record v = verify_file("in.dcm", in, &a);
  EXPECT_EQ(v.status, "residual");
  EXPECT_EQ(checks(v), (std::set<std::string>{"deid.residual.attribute", "deid.residual.private", "deid.residual.uid",
                                              "deid.residual.value"}));
  EXPECT_FALSE(v.fields["deidentified"].get<bool>());
  // No value of the file in any finding.
  const std::string dump = [&] {
    std::string s;
    for (const auto& f : v.findings) s += f.title + f.evidence.dump();
    return s + v.fields.dump();
  }();
  for (const char* m : {"MARKER", "ACME", "1.2.826.0.1.3680043.10.77"}) EXPECT_EQ(dump.find(m), std::string::npos) << m;
}

TEST(DeidVerify, OptionsRecordedInTheFileDecideWhatMayRemain) {
  const Bytes in = file_of(study, "1.2.840.10008.1.2.1", "1.2.840.10008.5.1.4.1.1.2", kInst);
  Plan p = plan();
  p.options.retain_uids = true;
  const Result r = deidentify(in, p);
  ASSERT_EQ(r.status, Status::written) << r.reason;
  bool found = false;
  EXPECT_TRUE(recorded_options(r.bytes, found).retain_uids);
  EXPECT_TRUE(found);
  const Against a = against(in);
  // The original UIDs are there, and allowed: the file says Retain UIDs.
  EXPECT_EQ(verify_file("out.dcm", r.bytes, &a).status, "clean");
}

TEST(DeidVerify, AValueLeftInAnUnknownPlaceIsFound) {
  const Bytes in = file_of(study, "1.2.840.10008.1.2.1", "1.2.840.10008.5.1.4.1.1.2", kInst);
  const Result r = deidentify(in, plan());
  ASSERT_EQ(r.status, Status::written);
  // A tool that copied the accession number into the Series Description's place (a text the table would act
  // on, but this output keeps): splice "ACCMARKER1" into the bytes of the clean output's method text.
  Bytes leaky = r.bytes;
  const std::string needle = "dicomguard";
  auto it = std::search(leaky.begin(), leaky.end(), needle.begin(), needle.end());
  ASSERT_NE(it, leaky.end());
  std::copy_n("ACCMARKER1", 10, it);
  const Against a = against(in);
  const dg::Record v = verify_file("out.dcm", leaky, &a);
  EXPECT_EQ(checks(v), std::set<std::string>{"deid.residual.value"});
  EXPECT_EQ(v.findings[0].evidence["source_tags"], nlohmann::json::array({"(0008,0050)"}));
}

TEST(DeidVerify, BurnedInAnnotationIsSuspected) {
  auto us = [](ElementWriter& w) {
    w.element(tag(8, 0x16), kUI, "1.2.840.10008.5.1.4.1.1.6.1");
    w.element(tag(8, 0x18), kUI, "1.2.826.0.1.3680043.10.77.9");
    w.element(tag(8, 0x60), kCS, "US");
  };
  Plan p = plan();
  p.burned_in = BurnedIn::keep;
  const Result r = deidentify(file_of(us, "1.2.840.10008.1.2.1", "1.2.840.10008.5.1.4.1.1.6.1"), p);
  ASSERT_EQ(r.status, Status::written) << r.reason;
  const dg::Record v = verify_file("us.dcm", r.bytes, nullptr);
  EXPECT_EQ(checks(v), std::set<std::string>{"deid.burned-in.suspected"});
  EXPECT_TRUE(burned_in_suspected("US", std::nullopt));
  EXPECT_FALSE(burned_in_suspected("US", std::string_view("NO")));
  EXPECT_FALSE(burned_in_suspected("CT", std::nullopt));
}

TEST(DeidVerify, WhatIsNotDicomIsSaidSo) {
  const Bytes junk(300, 'x');
  EXPECT_EQ(verify_file("x", junk, nullptr).status, "not-dicom");
  Bytes cut = file_of(study);
  cut.resize(140);
  const dg::Record v = verify_file("cut.dcm", cut, nullptr);
  EXPECT_NE(v.status, "clean");
}

TEST(DeidVerify, ADateInsideALongerRunOfDigitsIsChanceNotALeak) {
  const Bytes in = file_of(study, "1.2.840.10008.1.2.1", "1.2.840.10008.5.1.4.1.1.2", kInst);
  const Result r = deidentify(in, plan());
  ASSERT_EQ(r.status, Status::written);
  const Against a = against(in);
  auto splice = [&](const std::string& text) {
    Bytes b = r.bytes;
    const std::string at = "dicomguard";
    auto it = std::search(b.begin(), b.end(), at.begin(), at.end());
    std::copy(text.begin(), text.end(), it);
    return b;
  };
  // The Study Date's digits inside a longer number (as in a new 2.25 UID's random decimal): not the date.
  EXPECT_EQ(verify_file("out.dcm", splice("4202401157"), &a).status, "clean");
  EXPECT_EQ(verify_file("out.dcm", splice("2.20240115"), &a).status, "clean");
  // The date standing alone is.
  const dg::Record v = verify_file("out.dcm", splice(" 20240115 "), &a);
  EXPECT_EQ(checks(v), std::set<std::string>{"deid.residual.value"});
}
