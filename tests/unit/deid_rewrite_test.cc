// The rewriter: every action at every depth, private blocks, pattern rows, the E.3 attributes, the File Meta
// group, transfer syntaxes, determinism, references, and refusals.
#include <gtest/gtest.h>

#include "deid/rewrite.h"
#include "deid_support.h"
#include "dicom/dictionary.h"

using namespace dg::deid;
using namespace dg::dicom;
using dgtest::deid::Bytes;
using dgtest::deid::contains;
using dgtest::deid::file_of;
using dgtest::deid::plan;
using dgtest::deid::read;

namespace {

const std::string kInst = "1.2.826.0.1.3680043.10.99.1";
const std::string kStudy = "1.2.826.0.1.3680043.10.99.2";

void typical(ElementWriter& w) {
  w.element(tag(8, 0x16), kUI, "1.2.840.10008.5.1.4.1.1.2");
  w.element(tag(8, 0x18), kUI, kInst);
  w.element(tag(8, 0x20), vr("DA"), "20240115");             // Study Date Z
  w.element(tag(8, 0x22), vr("DA"), "20240116");             // Acquisition Date X/Z
  w.element(tag(8, 0x2A), vr("DT"), "20240116101500");       // Acquisition DateTime X/Z/D
  w.element(tag(8, 0x50), vr("SH"), "ACCMARKER1");           // Accession Number Z
  w.element(tag(8, 0x60), kCS, "CT");
  w.element(tag(8, 0x80), kLO, "INSTMARKER");                // Institution Name X/Z/D
  w.element(tag(8, 0x81), vr("ST"), "ADDRMARKER");           // Institution Address X
  w.element(tag(8, 0x1030), kLO, "DESCMARKER");              // Study Description X (clean descriptors: C)
  w.begin_sequence(tag(8, 0x1140), Length::defined);        // Referenced Image Sequence X/Z/U*
  w.begin_item(Length::defined);
  w.element(tag(8, 0x1150), kUI, "1.2.840.10008.5.1.4.1.1.2");
  w.element(tag(8, 0x1155), kUI, kInst);
  w.end_item();
  w.end_sequence();
  w.element(tag(0x10, 0x10), vr("PN"), "NAMEMARKER^JOHN");   // Patient's Name Z
  w.element(tag(0x10, 0x20), kLO, "PIDMARKER");              // Patient ID Z/D
  w.element(tag(0x10, 0x30), vr("DA"), "19700101");          // Birth Date Z
  w.element(tag(0x10, 0x1010), vr("AS"), "054Y");            // Age X (patient characteristics: K)
  w.element(tag(0x18, 0x1000), kLO, "SERIALMARKER");         // Device Serial Number X/Z/D (device: K)
  w.element(tag(0x20, 0x0D), kUI, kStudy);                   // Study Instance UID U
  w.element(tag(0x28, 0x10), vr("US"), std::span<const std::uint8_t>(std::vector<std::uint8_t>{2, 0}));
  w.element(tag(0x28, 0x11), vr("US"), std::span<const std::uint8_t>(std::vector<std::uint8_t>{2, 0}));
  w.element(tag(0x28, 0x301), kCS, "NO");
  const std::vector<std::uint8_t> px(8, 0xAB);
  w.element(kPixelData, kOW, std::span<const std::uint8_t>(px));
}

Result run(const Bytes& in, const Plan& p = plan()) { return deidentify(in, p); }

}  // namespace

TEST(DeidRewrite, BasicProfileActionsAndAddedAttributes) {
  const Bytes in = file_of(typical);
  const Result r = run(in);
  ASSERT_EQ(r.status, Status::written) << r.reason;
  const auto o = read(r.bytes);
  ASSERT_FALSE(o.fatal);
  EXPECT_TRUE(o.issues.empty());
  for (const char* m : {"MARKER", "PIDMARKER", "19700101", "20240115", kStudy.c_str(), kInst.c_str()})
    EXPECT_FALSE(contains(r.bytes, m)) << m;
  EXPECT_EQ(o.at("0008,0020"), "");                     // Z
  EXPECT_FALSE(o.has("0008,0081"));                     // X
  // Compound codes by the attribute's Type in the CT Image IOD: all three are Type 3 there, so X.
  EXPECT_FALSE(o.has("0008,0022"));                     // X/Z, Type 3
  EXPECT_FALSE(o.has("0008,002A"));                     // X/Z/D, Type 3
  EXPECT_FALSE(o.has("0008,0080"));                     // X/Z/D, Type 3
  EXPECT_FALSE(o.has("0008,1140"));                     // X/Z/U*, Type 3
  EXPECT_FALSE(o.has("0010,1010"));
  EXPECT_FALSE(o.has("0008,1030"));
  EXPECT_EQ(o.at("0010,0020"), map_id(plan().key, "PIDMARKER", 16));
  EXPECT_EQ(o.at("0010,0010"), o.at("0010,0020"));
  EXPECT_EQ(o.at("0020,000D"), map_uid(plan().key, kStudy));
  EXPECT_EQ(o.at("0008,0018"), map_uid(plan().key, kInst));
  EXPECT_EQ(o.at("0008,0016"), "1.2.840.10008.5.1.4.1.1.2");
  EXPECT_EQ(o.at("0028,0010"), std::string("\x02", 1));
  EXPECT_EQ(o.at("0012,0062"), "YES");
  EXPECT_NE(o.at("0012,0063").find("dicomguard"), std::string::npos);
  EXPECT_EQ(o.at("0012,0064/0008,0100"), "113100");
  EXPECT_EQ(o.at("0012,0064/0008,0102"), "DCM");
  EXPECT_EQ(o.at("0028,0303"), "REMOVED");
  // File Meta: zero preamble, the mapped instance, our implementation, the transfer syntax kept.
  EXPECT_EQ(std::count(r.bytes.begin(), r.bytes.begin() + 128, 0), 128);
  EXPECT_EQ(o.media_instance, o.at("0008,0018"));
  EXPECT_EQ(o.ts, "1.2.840.10008.1.2.1");
  EXPECT_TRUE(contains(r.bytes, kImplementationClassUid));
  EXPECT_GT(r.counts.removed, 0u);
  EXPECT_GT(r.counts.emptied, 0u);
  EXPECT_GT(r.counts.replaced, 0u);
  // Pixel data copied through.
  EXPECT_EQ(o.at("7FE0,0010"), std::string(8, '\xAB'));
}

TEST(DeidRewrite, CompoundCodesWithoutAKnownIodAreResolvedConservatively) {
  // A SOP class the IOD tables do not have: X/Z -> Z, anything with D -> D (a Type 1 attribute stays present),
  // X/Z/U* -> U (references map like the instance they point to).
  const Bytes in = file_of(typical, "1.2.840.10008.1.2.1", "1.2.826.0.1.3680043.10.99.77");
  const Result r = run(in);
  ASSERT_EQ(r.status, Status::written) << r.reason;
  const auto o = read(r.bytes);
  EXPECT_EQ(o.at("0008,0022"), "");                     // X/Z -> Z
  EXPECT_EQ(o.at("0008,002A"), "19000101000000");       // X/Z/D -> D
  EXPECT_EQ(o.at("0008,0080"), "ANONYMOUS");            // X/Z/D -> D
  EXPECT_EQ(o.at("0008,1140/0008,1155"), o.at("0008,0018"));  // references map like the instance
  EXPECT_EQ(o.at("0008,1140/0008,1150"), "1.2.840.10008.5.1.4.1.1.2");
  EXPECT_EQ(resolve("X/Z", AttributeType::type2), Action::empty);
  EXPECT_EQ(resolve("X/Z/D", AttributeType::type1), Action::dummy);
  EXPECT_EQ(resolve("X/Z/U*", AttributeType::type1), Action::uid);
  EXPECT_EQ(resolve("X/D", AttributeType::type2), Action::dummy);  // Z not offered: the conservative choice
  EXPECT_EQ(resolve("Z/D", AttributeType::type3), Action::dummy);  // X not offered
}

TEST(DeidRewrite, DeterministicAndKeyed) {
  const Bytes in = file_of(typical);
  const Result a = run(in), b = run(in), c = run(in, plan(9));
  EXPECT_EQ(a.bytes, b.bytes);
  EXPECT_NE(read(a.bytes).at("0020,000D"), read(c.bytes).at("0020,000D"));
}

TEST(DeidRewrite, Options) {
  const Bytes in = file_of(typical);
  Plan p = plan();
  p.options.retain_uids = p.options.retain_device_identity = p.options.retain_institution_identity =
      p.options.retain_patient_characteristics = p.options.retain_long_full_dates = true;
  Result r = run(in, p);
  ASSERT_EQ(r.status, Status::written);
  auto o = read(r.bytes);
  EXPECT_EQ(o.at("0020,000D"), kStudy);
  EXPECT_EQ(o.at("0008,0018"), kInst);
  EXPECT_EQ(o.media_instance, kInst);
  EXPECT_EQ(o.at("0018,1000"), "SERIALMARKER");
  EXPECT_EQ(o.at("0008,0080"), "INSTMARKER");
  EXPECT_EQ(o.at("0010,1010"), "054Y");
  EXPECT_EQ(o.at("0008,0022"), "20240116");
  EXPECT_EQ(o.at("0028,0303"), "UNMODIFIED");
  EXPECT_EQ(o.at("0010,0030"), "");  // no option keeps the birth date... except modified dates? (Z/C is not a row)
  std::set<std::string> codes;
  for (const auto& [path, v] : o.values)
    if (path.find("0012,0064") == 0 && path.find("0008,0100") != std::string::npos) codes.insert(v);
  EXPECT_GE(r.counts.kept, 5u);

  p = plan();
  p.options.retain_long_modified_dates = true;
  p.date_shift_range = 100;
  r = run(in, p);
  o = read(r.bytes);
  const int d = date_shift_days(p.key, "PIDMARKER", 100);
  EXPECT_EQ(o.at("0008,0022"), shift_da("20240116", d));
  EXPECT_EQ(o.at("0008,002A"), shift_dt("20240116101500", d));
  EXPECT_EQ(o.at("0028,0303"), "MODIFIED");
  EXPECT_NE(o.at("0012,0063").find("date-shift-range 100"), std::string::npos);

  p = plan();
  p.options.clean_descriptors = true;
  r = run(in, p);
  o = read(r.bytes);
  EXPECT_EQ(o.at("0008,1030"), "ANONYMOUS");
  EXPECT_GE(r.counts.cleaned, 1u);
  EXPECT_FALSE(contains(r.bytes, "DESCMARKER"));
}

TEST(DeidRewrite, MethodCodesNameEveryOption) {
  Options o;
  o.retain_safe_private = o.retain_uids = o.retain_device_identity = o.retain_institution_identity =
      o.retain_patient_characteristics = o.retain_long_full_dates = o.clean_descriptors =
          o.clean_structured_content = o.clean_graphics = true;
  std::set<std::string> got;
  for (const auto& [c, m] : method_codes(o)) got.insert(c);
  EXPECT_EQ(got, (std::set<std::string>{"113100", "113103", "113104", "113105", "113106", "113108", "113109",
                                        "113110", "113111", "113112"}));
  o = {};
  o.retain_long_modified_dates = true;
  EXPECT_EQ(method_codes(o).back().first, "113107");
}

TEST(DeidRewrite, NestedSequencesFiveDeep) {
  const Bytes in = file_of([](ElementWriter& w) {
    w.element(tag(8, 0x18), kUI, kInst);
    // Five levels of a sequence the table does not list (kept, walked into), each item holding a name.
    for (int i = 0; i < 5; ++i) {
      w.begin_sequence(tag(0x0040, 0xA730), i % 2 ? Length::defined : Length::undefined);  // Content Sequence D
      w.begin_item(i % 2 ? Length::undefined : Length::defined);
      w.element(tag(8, 0x1155), kUI, kInst);
      w.element(tag(0x10, 0x10), vr("PN"), "DEEPMARKER");
      w.element(tag(0x40, 0xA160), vr("UT"), "TEXTMARKER");  // Text Value: not listed
      w.begin_sequence(tag(0x40, 0xA043), Length::defined);  // Concept Name Code Sequence: not listed
      w.begin_item(Length::defined);
      w.element(tag(8, 0x100), vr("SH"), "121071");
      w.element(tag(8, 0x102), vr("SH"), "DCM");
      w.element(tag(8, 0x104), kLO, "Finding");
      w.end_item();
      w.end_sequence();
    }
    for (int i = 0; i < 5; ++i) {
      w.end_item();
      w.end_sequence();
    }
    w.element(tag(0x10, 0x20), kLO, "P");
  });
  const Result r = run(in);
  ASSERT_EQ(r.status, Status::written) << r.reason;
  EXPECT_FALSE(contains(r.bytes, "DEEPMARKER"));
  EXPECT_FALSE(contains(r.bytes, "TEXTMARKER"));
  EXPECT_FALSE(contains(r.bytes, kInst));
  const auto o = read(r.bytes);
  EXPECT_FALSE(o.fatal);
  EXPECT_TRUE(o.issues.empty());
  const std::string deep = "0040,A730/0040,A730/0040,A730/0040,A730/0040,A730/";
  EXPECT_EQ(o.at(deep + "0008,1155"), map_uid(plan().key, kInst));
  EXPECT_TRUE(o.has(deep + "0010,0010"));
  EXPECT_EQ(o.at(deep + "0040,A160"), "ANONYMOUS");  // free text inside a D sequence: a dummy
  EXPECT_EQ(o.at(deep + "0040,A043/0008,0104"), "Finding");  // coded entries stay
}

TEST(DeidRewrite, PrivateBlocksWithAndWithoutSafeCreators) {
  const Bytes in = file_of([](ElementWriter& w) {
    w.element(tag(8, 0x18), kUI, kInst);
    w.element(tag(0x00E1, 0x0010), kLO, "ELSCINT1");
    w.element(tag(0x00E1, 0x0011), kLO, "ACME PRIVMARKER");
    w.element(tag(0x00E1, 0x1021), vr("DS"), "12.5");        // safe: ELSCINT1 (00E1,xx21)
    w.element(tag(0x00E1, 0x1022), kLO, "PRIVMARKER1");      // not in the table
    w.element(tag(0x00E1, 0x1121), vr("DS"), "99.5");        // same offset, unsafe creator
    w.element(tag(0x0009, 0x0010), kLO, "OTHER");
    w.element(tag(0x0009, 0x1001), kLO, "PRIVMARKER2");
  });
  Result r = run(in);
  auto o = read(r.bytes);
  for (const auto& [path, v] : o.values) EXPECT_FALSE(group(static_cast<Tag>(std::stoul(path.substr(0, 4), nullptr, 16) << 16)) & 1) << path;
  EXPECT_FALSE(contains(r.bytes, "PRIVMARKER"));
  EXPECT_FALSE(contains(r.bytes, "ELSCINT1"));

  Plan p = plan();
  p.options.retain_safe_private = true;
  r = run(in, p);
  o = read(r.bytes);
  EXPECT_TRUE(o.issues.empty());
  EXPECT_EQ(o.at("00E1,0010"), "ELSCINT1");
  EXPECT_EQ(o.at("00E1,1021"), "12.5");
  EXPECT_FALSE(o.has("00E1,1022"));
  EXPECT_FALSE(o.has("00E1,0011"));
  EXPECT_FALSE(o.has("00E1,1121"));
  EXPECT_FALSE(o.has("0009,0010"));
  EXPECT_FALSE(contains(r.bytes, "PRIVMARKER"));
}

TEST(DeidRewrite, PatternRowsCurvesAndOverlays) {
  const Bytes in = file_of([](ElementWriter& w) {
    w.element(tag(8, 0x18), kUI, kInst);
    w.element(tag(0x5000, 0x0005), vr("US"), std::span<const std::uint8_t>(std::vector<std::uint8_t>{1, 0}));
    w.element(tag(0x5000, 0x3000), kOW, std::span<const std::uint8_t>(std::vector<std::uint8_t>(4, 0xCD)));
    w.element(tag(0x6000, 0x0010), vr("US"), std::span<const std::uint8_t>(std::vector<std::uint8_t>{8, 0}));
    w.element(tag(0x6000, 0x3000), kOW, std::span<const std::uint8_t>(std::vector<std::uint8_t>(8, 0xEE)));
    w.element(tag(0x6000, 0x4000), vr("LT"), "OVLMARKER");
  });
  Result r = run(in);
  auto o = read(r.bytes);
  EXPECT_FALSE(o.has("5000,0005"));
  EXPECT_FALSE(o.has("5000,3000"));
  EXPECT_FALSE(o.has("6000,3000"));
  EXPECT_FALSE(o.has("6000,4000"));
  EXPECT_TRUE(o.has("6000,0010"));
  Plan p = plan();
  p.options.clean_graphics = true;
  r = run(in, p);
  o = read(r.bytes);
  EXPECT_EQ(o.at("6000,3000"), "");  // zeroed (trailing NULs trimmed by the reader)
  EXPECT_EQ(o.at("6000,4000"), "ANONYMOUS");
  EXPECT_TRUE(o.has("5000,3000"));
  EXPECT_FALSE(contains(r.bytes, "OVLMARKER"));
  EXPECT_FALSE(contains(r.bytes, std::string(4, '\xCD')));
}

// Every exact row of Table E.1-1 that the dictionary knows, filled with a marker of its VR: no marker survives the
// basic profile, the output walks without an issue, and every VR the table touches is written.
TEST(DeidRewrite, EveryTableRowEveryVr) {
  std::set<VR> vrs;
  int n = 0;
  const Bytes in = file_of([&](ElementWriter& w) {
    std::vector<std::pair<Tag, VR>> rows;
    for (const Row& r : table()) {
      if (r.tag_text.size() != 11 || r.tag_text.find('X') != std::string::npos) continue;
      const Tag t = static_cast<Tag>(std::stoul(r.tag_text.substr(1, 4), nullptr, 16) << 16 |
                                     std::stoul(r.tag_text.substr(6, 4), nullptr, 16));
      const DictEntry* d = lookup(t);
      if (!d || group(t) == 0x0002) continue;
      rows.emplace_back(t, d->codes[0]);
    }
    std::sort(rows.begin(), rows.end());
    for (const auto& [t, v] : rows) {
      vrs.insert(v);
      ++n;
      const std::string m = "MK" + std::to_string(n) + "X";
      if (v == kSQ) {
        w.begin_sequence(t);
        w.begin_item();
        w.element(tag(0x10, 0x10), vr("PN"), m);
        w.element(tag(0x10, 0x1000), kLO, m + "Y");  // Other Patient IDs X
        w.end_item();
        w.end_sequence();
      } else if (v == kUI) {
        w.element(t, v, "1.2.826.0.1.3680043.10.99." + std::to_string(n));
      } else if (v == vr("DA")) {
        w.element(t, v, "20240115");
      } else if (v == vr("TM")) {
        w.element(t, v, "101500");
      } else if (v == vr("DT")) {
        w.element(t, v, "20240115101500");
      } else if (v == vr("AS")) {
        w.element(t, v, "054Y");
      } else if (v == vr("DS")) {
        w.element(t, v, "6E-7");
      } else if (v == vr("IS")) {
        w.element(t, v, "+7");
      } else if (v == vr("US") || v == vr("SS")) {
        w.element(t, v, std::span<const std::uint8_t>(std::vector<std::uint8_t>{0x5A, 0x5B}));
      } else if (v == vr("UL") || v == vr("SL") || v == vr("FL") || v == vr("AT")) {
        w.element(t, v, std::span<const std::uint8_t>(std::vector<std::uint8_t>{0x5A, 0x5B, 0x5C, 0x5D}));
      } else if (v == vr("FD") || v == vr("SV") || v == vr("UV") || v == kOB || v == kOW || v == kUN) {
        w.element(t, v, std::span<const std::uint8_t>(std::vector<std::uint8_t>{0x5A, 0x5B, 0x5C, 0x5D, 0x5E, 0x5F, 0x60, 0x61}));
      } else {
        w.element(t, v, m);
      }
    }
  });
  ASSERT_GT(n, 500);
  const Result r = run(in);
  ASSERT_EQ(r.status, Status::written) << r.reason;
  const auto o = read(r.bytes);
  EXPECT_FALSE(o.fatal);
  EXPECT_TRUE(o.issues.empty()) << (o.issues.empty() ? "" : problem_name(o.issues[0].problem));
  for (int i = 1; i <= n; ++i) EXPECT_FALSE(contains(r.bytes, "MK" + std::to_string(i) + "X")) << i;
  EXPECT_FALSE(contains(r.bytes, "1.2.826.0.1.3680043.10.99."));
  EXPECT_FALSE(contains(r.bytes, "20240115"));
  EXPECT_FALSE(contains(r.bytes, "101500"));
  EXPECT_FALSE(contains(r.bytes, "054Y"));
  EXPECT_FALSE(contains(r.bytes, "6E-7"));
  EXPECT_FALSE(contains(r.bytes, "+7"));
  EXPECT_FALSE(contains(r.bytes, std::string("\x5A\x5B", 2)));
  for (const char* v : {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "SQ", "ST", "TM", "UI",
                        "UT", "US", "OB"})
    EXPECT_TRUE(vrs.count(vr(std::string_view(v, 2)))) << v;
}

TEST(DeidRewrite, TransferSyntaxesKept) {
  for (const std::string ts : {"1.2.840.10008.1.2", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99"}) {
    const Bytes in = file_of(typical, ts);
    const Result r = run(in);
    ASSERT_EQ(r.status, Status::written) << ts << " " << r.reason;
    const auto o = read(r.bytes);
    EXPECT_EQ(o.ts, ts);
    EXPECT_FALSE(o.fatal) << ts;
    EXPECT_TRUE(o.issues.empty()) << ts;
    EXPECT_EQ(o.at("0012,0062"), "YES") << ts;
    EXPECT_EQ(o.at("0010,0010"), map_id(plan().key, "PIDMARKER", 16)) << ts;
    EXPECT_EQ(o.at("0008,0018"), map_uid(plan().key, kInst)) << ts;
    EXPECT_FALSE(o.has("0008,1140")) << ts;  // Referenced Image Sequence X/Z/U*: Type 3 in the CT Image IOD, so X
    EXPECT_EQ(o.at("7FE0,0010"), std::string(8, '\xAB')) << ts;
    EXPECT_FALSE(contains(r.bytes, "PIDMARKER")) << ts;
    EXPECT_EQ(r.bytes, run(in).bytes) << ts;
  }
}

TEST(DeidRewrite, EncapsulatedPixelDataAndGroupLengths) {
  const Bytes in = file_of(
      [](ElementWriter& w) {
        w.begin_group(8);
        w.element(tag(8, 0x18), kUI, kInst);
        w.element(tag(8, 0x80), kLO, "A LONGER INSTITUTION NAME MARKER");
        w.end_group();
        w.element(tag(0x10, 0x20), kLO, "P");
        w.begin_sequence(kPixelData, Length::undefined, kOB);
        w.fragment({});
        const std::vector<std::uint8_t> f(10, 0x77);
        w.fragment(f);
        w.end_sequence();
      },
      "1.2.840.10008.1.2.4.50");
  const Result r = run(in);
  ASSERT_EQ(r.status, Status::written) << r.reason;
  const auto o = read(r.bytes);
  EXPECT_TRUE(o.issues.empty());  // the group length was recomputed (the walker checks it)
  EXPECT_TRUE(o.has("0008,0000"));
  EXPECT_TRUE(contains(r.bytes, std::string(10, '\x77')));
  EXPECT_EQ(o.ts, "1.2.840.10008.1.2.4.50");
}

TEST(DeidRewrite, BurnedIn) {
  auto us = [](const char* burned) {
    return file_of([burned](ElementWriter& w) {
      w.element(tag(8, 0x18), kUI, kInst);
      w.element(tag(8, 0x60), kCS, "US");
      if (burned) w.element(tag(0x28, 0x301), kCS, burned);
    });
  };
  EXPECT_EQ(run(us(nullptr)).status, Status::quarantined);
  EXPECT_EQ(run(us("YES")).status, Status::quarantined);
  EXPECT_EQ(run(us("NO")).status, Status::written);
  EXPECT_FALSE(run(us(nullptr)).bytes.empty());  // the de-identified file, for review
  Plan p = plan();
  p.burned_in = BurnedIn::fail;
  EXPECT_EQ(run(us("YES"), p).status, Status::refused);
  EXPECT_TRUE(run(us("YES"), p).bytes.empty());
  p.burned_in = BurnedIn::keep;
  EXPECT_EQ(run(us("YES"), p).status, Status::written);
  EXPECT_EQ(run(file_of(typical)).status, Status::written);  // CT with Burned In Annotation NO
}

TEST(DeidRewrite, RefusalsAndSkips) {
  // DICOMDIR
  EXPECT_EQ(run(file_of([](ElementWriter& w) { w.element(tag(4, 0x1130), kCS, "X"); }, "1.2.840.10008.1.2.1",
                       "1.2.840.10008.1.3.10"))
                .status,
            Status::refused);
  // Not DICOM
  const std::string text = "hello, this is not a DICOM file at all";
  EXPECT_EQ(run(Bytes(text.begin(), text.end())).status, Status::skipped);
  EXPECT_EQ(run(Bytes{}).status, Status::skipped);
  // Truncated at every length: refused (or written only when the cut falls between elements), never a crash.
  const Bytes full = file_of(typical);
  for (std::size_t cut = 0; cut < full.size(); ++cut) {
    const Bytes in(full.begin(), full.begin() + static_cast<long>(cut));
    const Result r = run(in);
    EXPECT_TRUE(r.status == Status::refused || r.status == Status::skipped || r.status == Status::written) << cut;
    if (r.status != Status::written) EXPECT_TRUE(r.bytes.empty());
    else EXPECT_FALSE(read(r.bytes).fatal);
  }
  // A length past the end.
  Bytes bad = file_of(typical);
  bad.resize(bad.size() - 3);
  EXPECT_EQ(run(bad).status, Status::refused);
  EXPECT_NE(run(bad).reason.find("does not parse"), std::string::npos);
}

TEST(DeidRewrite, LinkagePairs) {
  Plan p = plan();
  p.linkage = true;
  const Result r = run(file_of(typical), p);
  bool study = false, pid = false;
  for (const auto& [a, b] : r.linkage) {
    study |= a == kStudy && b == map_uid(p.key, kStudy);
    pid |= a == "PIDMARKER" && b == map_id(p.key, "PIDMARKER", 16);
  }
  EXPECT_TRUE(study);
  EXPECT_TRUE(pid);
  EXPECT_TRUE(run(file_of(typical)).linkage.empty());
}

TEST(DeidRewrite, MediaStorageUidsAgreeWithTheDataset) {
  const Bytes in = file_of(typical, "1.2.840.10008.1.2.1", "1.2.840.10008.5.1.4.1.1.2", "1.2.826.0.1.3680043.10.99.77");
  const auto o = read(run(in).bytes);
  EXPECT_EQ(o.media_instance, o.at("0008,0018"));
  EXPECT_EQ(o.media_instance, map_uid(plan().key, kInst));
}

TEST(DeidRewrite, RawDatasetWithoutPreambleGetsPart10) {
  Bytes raw;
  {
    ElementWriter w(raw, kImplicitLittle);
    typical(w);
    w.finish();
  }
  const Result r = run(raw);
  ASSERT_EQ(r.status, Status::written) << r.reason;
  const auto o = read(r.bytes);
  EXPECT_EQ(o.ts, "1.2.840.10008.1.2");
  EXPECT_TRUE(o.issues.empty());
  EXPECT_FALSE(contains(r.bytes, "PIDMARKER"));
}

// Every byte of a few files set to each of three values: a status, never a crash; an output walks again.
TEST(DeidRewrite, CorruptedBytesGiveAStatusNeverACrash) {
  for (const std::string ts : {"1.2.840.10008.1.2.1", "1.2.840.10008.1.2", "1.2.840.10008.1.2.1.99"}) {
    const Bytes good = file_of(typical, ts);
    for (std::size_t i = 128; i < good.size(); ++i)
      for (std::uint8_t v : {0x00, 0xFF, 0x53}) {
        Bytes b = good;
        b[i] = v;
        const Result r = run(b);
        if (r.status == Status::written || r.status == Status::quarantined) {
          const auto o = read(r.bytes);
          EXPECT_FALSE(o.fatal) << ts << " " << i;
          EXPECT_FALSE(contains(r.bytes, "PIDMARKER")) << ts << " " << i;
        } else {
          EXPECT_TRUE(r.bytes.empty());
        }
      }
  }
}

// fuzz_deid found it: a File Meta group without a usable transfer syntax before a big endian dataset whose first
// header sniffs as implicit VR big endian, an encoding no transfer syntax names.
TEST(DeidRewrite, NoTransferSyntaxAndImplicitBigEndianIsRefused) {
  Bytes f(132, 0);
  std::memcpy(f.data() + 128, "DICM", 4);
  {
    ElementWriter m(f, kExplicitLittle);
    m.begin_group(2);
    m.element(tag(2, 2), kUI, "1.2.840.10008.5.1.4.1.1.7");
    m.end_group();
    m.finish();
  }
  ElementWriter w(f, Encoding{false, true});
  w.element(tag(8, 0x18), kUI, kInst);
  w.element(tag(0x10, 0x20), kLO, "PIDMARKER");
  w.finish();
  const Result r = run(f);
  EXPECT_NE(r.status, Status::written);
  EXPECT_TRUE(r.bytes.empty());
}
