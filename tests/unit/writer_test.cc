// The element writer: what it writes walks back, in every encoding, to the same elements.
#include "dicom/writer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dicom/dimse.h"
#include "dicom/uids.h"
#include "dicom/walker.h"

using namespace dg::dicom;

namespace {

using Bytes = std::vector<std::uint8_t>;

struct Seen {
  Tag tag;
  VR vr;
  std::uint32_t length;
  int depth;
  bool fragment;
  Bytes value;
};

struct Recorder : Visitor {
  std::vector<Seen> els;
  int sequences = 0, items = 0, item_ends = 0, sequence_ends = 0;
  void element(const Element& e, std::span<const std::uint8_t> v) override {
    els.push_back({e.tag, e.vr, e.length, e.depth, e.fragment, Bytes(v.begin(), v.end())});
  }
  void sequence(const Element&) override { ++sequences; }
  void item(const Element&) override { ++items; }
  void item_end(std::uint64_t) override { ++item_ends; }
  void sequence_end(std::uint64_t) override { ++sequence_ends; }
  const Seen* find(Tag t) const {
    for (const Seen& s : els)
      if (s.tag == t) return &s;
    return nullptr;
  }
};

std::string text(const Bytes& b) { return std::string(b.begin(), b.end()); }

constexpr VR kPN = vr("PN"), kDA = vr("DA"), kLT = vr("LT");
constexpr Tag kPatientName = tag(0x0010, 0x0010), kStudyDate = tag(0x0008, 0x0020),
              kReferencedImageSequence = tag(0x0008, 0x1140), kReferencedSopClass = tag(0x0008, 0x1150),
              kReferencedSopInstance = tag(0x0008, 0x1155), kSourceImageSequence = tag(0x0008, 0x2112),
              kRows = tag(0x0028, 0x0010), kColumns = tag(0x0028, 0x0011), kImageComments = tag(0x0020, 0x4000);

// A dataset with a value of each padding kind, numbers, nested sequences of both lengths and pixel data.
void write_dataset(ElementWriter& w, Length outer, Length inner) {
  w.element(kSOPClassUID, kUI, uids::kSecondaryCapture);  // 25 characters: padded with NUL
  w.element(kStudyDate, kDA, "20240101");
  w.element(tag(0x0008, 0x0060), kCS, "OT");
  w.begin_sequence(kReferencedImageSequence, outer);
  for (int i = 0; i < 2; ++i) {
    w.begin_item(i == 0 ? Length::defined : Length::undefined);
    w.element(kReferencedSopClass, kUI, uids::kCtStorage);
    w.element(kReferencedSopInstance, kUI, "1.2.3.4." + std::to_string(i));
    w.begin_sequence(kSourceImageSequence, inner);
    w.begin_item(inner);
    w.element(kReferencedSopInstance, kUI, "1.2.3");
    w.end_item();
    w.end_sequence();
    w.end_item();
  }
  w.end_sequence();
  w.element(kPatientName, kPN, "DOE^JOHN^X");  // 10: even
  w.element(kImageComments, kLT, "odd");       // padded with a space
  w.us(kRows, 2);
  w.us(kColumns, 2);
  const Bytes pixels = {1, 2, 3, 4, 5, 6, 7, 8};
  w.element(kPixelData, kOW, pixels);
}

}  // namespace

TEST(Writer, RoundTripsThroughTheWalkerInAllFourEncodings) {
  for (Encoding enc : {kExplicitLittle, kImplicitLittle, kExplicitBig, Encoding{false, true}}) {
    for (Length outer : {Length::defined, Length::undefined}) {
      SCOPED_TRACE(::testing::Message() << "explicit " << enc.explicit_vr << " big " << enc.big_endian << " outer "
                                        << (outer == Length::defined ? "defined" : "undefined"));
      Bytes b;
      ElementWriter w(b, enc);
      write_dataset(w, outer, outer == Length::defined ? Length::undefined : Length::defined);
      ASSERT_TRUE(w.finish());
      EXPECT_EQ(w.written(), b.size());
      EXPECT_EQ(b.size() % 2, 0u);

      Recorder r;
      const WalkResult res = walk(b, 0, enc, r);
      EXPECT_TRUE(res.issues.empty()) << (res.issues.empty() ? "" : problem_name(res.issues[0].problem));
      EXPECT_FALSE(res.fatal);
      EXPECT_EQ(res.end, b.size());
      EXPECT_TRUE(res.has_pixel_data);
      EXPECT_EQ(res.max_depth_seen, 2u);
      EXPECT_EQ(r.sequences, 3);
      EXPECT_EQ(r.sequence_ends, 3);
      EXPECT_EQ(r.items, 4);
      EXPECT_EQ(r.item_ends, 4);
      ASSERT_EQ(r.els.size(), 14u);

      const Seen* uid = r.find(kSOPClassUID);
      ASSERT_NE(uid, nullptr);
      EXPECT_EQ(uid->length, 26u);
      EXPECT_EQ(text(uid->value), std::string(uids::kSecondaryCapture) + '\0');
      EXPECT_EQ(text(r.find(kImageComments)->value), "odd ");
      EXPECT_EQ(text(r.find(kPatientName)->value), "DOE^JOHN^X");
      if (enc.explicit_vr) {
        EXPECT_EQ(r.find(kImageComments)->vr, kLT);
      }
      const Seen* rows = r.find(kRows);
      ASSERT_EQ(rows->value.size(), 2u);
      EXPECT_EQ(rd16(rows->value.data(), enc.big_endian), 2);
      // Depths: the nested items' elements are one and two levels down.
      int deepest = 0;
      for (const Seen& s : r.els) deepest = std::max(deepest, s.depth);
      EXPECT_EQ(deepest, 2);
      EXPECT_EQ(text(r.els[4].value), std::string("1.2.3.4.0") + '\0');  // 9 characters: padded
      EXPECT_EQ(r.els[4].depth, 1);
      EXPECT_EQ(text(r.els[5].value), std::string("1.2.3") + '\0');
      EXPECT_EQ(r.els[5].depth, 2);
    }
  }
}

TEST(Writer, ExplicitLittleEndianBytesAreThePs35Layout) {
  Bytes b;
  ElementWriter w(b, kExplicitLittle);
  w.element(kPatientName, kPN, "A^B");                   // short form, padded with a space
  w.element(tag(0x0009, 0x1001), kOB, Bytes{0xAB});      // long form, padded with 0
  w.element(kSOPInstanceUID, kUI, "1.2.3");              // padded with NUL
  ASSERT_TRUE(w.finish());
  const Bytes want = {0x10, 0x00, 0x10, 0x00, 'P', 'N', 4, 0, 'A', '^', 'B', ' ',
                      0x09, 0x00, 0x01, 0x10, 'O', 'B', 0, 0, 2, 0, 0, 0, 0xAB, 0x00,
                      0x08, 0x00, 0x18, 0x00, 'U', 'I', 6, 0, '1', '.', '2', '.', '3', 0};
  EXPECT_EQ(b, want);
  // Big endian: numbers and tags byte-swapped, VR characters as they are.
  Bytes be;
  ElementWriter wb(be, kExplicitBig);
  wb.us(kRows, 0x0102);
  wb.ul(tag(0x0009, 0x1002), 0x01020304);
  ASSERT_TRUE(wb.finish());
  EXPECT_EQ(be, (Bytes{0x00, 0x28, 0x00, 0x10, 'U', 'S', 0, 2, 1, 2,
                       0x00, 0x09, 0x10, 0x02, 'U', 'L', 0, 4, 1, 2, 3, 4}));
  // Implicit VR: tag and a 4-byte length, no VR.
  Bytes im;
  ElementWriter wi(im, kImplicitLittle);
  wi.element(kPatientName, kPN, "AB");
  ASSERT_TRUE(wi.finish());
  EXPECT_EQ(im, (Bytes{0x10, 0x00, 0x10, 0x00, 2, 0, 0, 0, 'A', 'B'}));
}

TEST(Writer, UndefinedLengthsEndWithDelimiters) {
  Bytes b;
  ElementWriter w(b, kExplicitLittle);
  w.begin_sequence(kReferencedImageSequence);
  w.begin_item();
  w.element(kReferencedSopInstance, kUI, "1.2");
  w.end_item();
  w.end_sequence();
  ASSERT_TRUE(w.finish());
  const Bytes want = {0x08, 0x00, 0x40, 0x11, 'S', 'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,  // SQ, undefined length
                      0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF,                  // item, undefined length
                      0x08, 0x00, 0x55, 0x11, 'U', 'I', 4, 0, '1', '.', '2', 0,
                      0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0,                              // item delimiter
                      0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0};                             // sequence delimiter
  EXPECT_EQ(b, want);
}

TEST(Writer, DefinedLengthsAreComputedWhenTheyClose) {
  Bytes b;
  ElementWriter w(b, kImplicitLittle);
  w.begin_sequence(kReferencedImageSequence, Length::defined);
  w.begin_item(Length::defined);
  w.element(kReferencedSopInstance, kUI, "1.2");
  w.end_item();
  w.end_sequence();
  ASSERT_TRUE(w.finish());
  ASSERT_EQ(b.size(), 8u + 8u + 12u);
  EXPECT_EQ(rd32(b.data() + 4, false), 20u);   // item header and its element
  EXPECT_EQ(rd32(b.data() + 12, false), 12u);  // the element
}

TEST(Writer, GroupLengthsAreComputedAndTheWalkerAgrees) {
  for (Encoding enc : {kExplicitLittle, kImplicitLittle, kExplicitBig}) {
    Bytes b;
    ElementWriter w(b, enc);
    w.begin_group(0x0008);
    w.element(kSOPClassUID, kUI, uids::kSecondaryCapture);
    w.element(kStudyDate, kDA, "20240101");
    w.begin_sequence(kReferencedImageSequence, Length::undefined);
    w.begin_item(Length::defined);
    w.begin_group(0x0008);  // a group length inside an item, too
    w.element(kReferencedSopInstance, kUI, "1.2.3");
    w.end_group();
    w.end_item();
    w.end_sequence();
    w.end_group();
    w.begin_group(0x0010);
    w.element(kPatientName, kPN, "X");
    w.end_group();
    ASSERT_TRUE(w.finish());
    const std::uint32_t declared = rd32(b.data() + 8, enc.big_endian);  // after an 8-byte header either way
    EXPECT_EQ(declared, b.size() - 12 - (12 + 8 + 2));  // up to group 0010: its group length and one element
    Recorder r;
    const WalkResult res = walk(b, 0, enc, r);
    EXPECT_TRUE(res.issues.empty()) << problem_name(res.issues.empty() ? Problem::tag_order : res.issues[0].problem);
    EXPECT_EQ(res.end, b.size());
  }
}

TEST(Writer, GroupLengthOfACommandSet) {
  const Bytes cs = dimse::echo_rq(7);
  Recorder r;
  const WalkResult res = walk(cs, 0, kImplicitLittle, r);
  EXPECT_TRUE(res.issues.empty());
  ASSERT_FALSE(r.els.empty());
  EXPECT_EQ(r.els[0].tag, tag(0, 0));
  EXPECT_EQ(rd32(r.els[0].value.data(), false), cs.size() - 12);
  const dimse::Response p = dimse::parse_response(cs);
  EXPECT_EQ(p.command_field, dimse::c_echo_rq);
  EXPECT_EQ(p.message_id, 7);
  EXPECT_EQ(p.affected_sop_class, uids::kVerification);
}

TEST(Writer, EncapsulatedPixelDataFragments) {
  Bytes b;
  ElementWriter w(b, kExplicitLittle);
  w.us(kRows, 1);
  w.begin_sequence(kPixelData, Length::undefined, kOB);
  w.fragment({});                        // an empty Basic Offset Table
  w.fragment(Bytes{0xFF, 0xD8, 0xFF});   // odd: padded with 0
  w.end_sequence();
  ASSERT_TRUE(w.finish());
  Recorder r;
  const WalkResult res = walk(b, 0, kExplicitLittle, r);
  EXPECT_TRUE(res.issues.empty());
  EXPECT_TRUE(res.has_pixel_data);
  ASSERT_EQ(r.els.size(), 3u);
  EXPECT_TRUE(r.els[1].fragment);
  EXPECT_EQ(r.els[1].length, 0u);
  EXPECT_EQ(r.els[2].value, (Bytes{0xFF, 0xD8, 0xFF, 0x00}));
}

TEST(Writer, AnUndefinedLengthUnSequenceHoldsImplicitLittleEndianItems) {
  Bytes b;
  ElementWriter w(b, kExplicitBig);
  w.begin_sequence(tag(0x0009, 0x1010), Length::undefined, kUN);
  EXPECT_EQ(w.encoding(), kImplicitLittle);
  w.begin_item(Length::defined);
  w.element(kReferencedSopInstance, kUI, "1.2");
  w.end_item();
  w.end_sequence();
  EXPECT_EQ(w.encoding(), kExplicitBig);
  w.us(kRows, 1);
  ASSERT_TRUE(w.finish());
  Recorder r;
  const WalkResult res = walk(b, 0, kExplicitBig, r);
  EXPECT_TRUE(res.issues.empty());
  ASSERT_EQ(r.els.size(), 2u);
  EXPECT_EQ(r.els[0].tag, kReferencedSopInstance);
  EXPECT_EQ(r.els[0].depth, 1);
  EXPECT_EQ(rd16(r.els[1].value.data(), true), 1);
}

TEST(Writer, HeaderAndRawCopyAValueThroughAndForceLengths) {
  Bytes b;
  ElementWriter w(b, kExplicitLittle);
  const Bytes part1(100, 'a'), part2(100, 'b');
  w.header(tag(0x0009, 0x1001), kOB, 200);
  w.raw(part1);
  w.raw(part2);
  w.header(kPatientName, kPN, 1000);  // a length that runs past the data: for test files
  ASSERT_TRUE(w.finish());
  Recorder r;
  const WalkResult res = walk(b, 0, kExplicitLittle, r);
  ASSERT_TRUE(res.fatal);
  EXPECT_EQ(res.issues.back().problem, Problem::length_past_end);
  ASSERT_EQ(r.els.size(), 1u);
  EXPECT_EQ(r.els[0].value.size(), 200u);
  EXPECT_EQ(r.els[0].value[150], 'b');
}

namespace {
struct Chunks : ByteSink {
  std::vector<Bytes> writes;
  bool fail = false;
  bool write(std::span<const std::uint8_t> b) override {
    if (fail) return false;
    writes.emplace_back(b.begin(), b.end());
    return true;
  }
  Bytes all() const {
    Bytes out;
    for (const Bytes& w : writes) out.insert(out.end(), w.begin(), w.end());
    return out;
  }
};
}  // namespace

TEST(Writer, ASinkGetsTheBytesIncrementallyAndTheSameBytes) {
  const Bytes big(300u << 10, 0x42);
  auto write = [&](ElementWriter& w) {
    w.element(kPatientName, kPN, "DOE^JANE");
    w.element(tag(0x0009, 0x1001), kOB, big);
    w.begin_sequence(kReferencedImageSequence, Length::defined);
    w.begin_item(Length::defined);
    w.element(tag(0x0009, 0x1002), kOB, big);
    w.end_item();
    w.end_sequence();
    w.element(kPixelData, kOW, big);
  };
  const Bytes want = encode(kExplicitLittle, write);

  Chunks sink;
  ElementWriter w(sink, kExplicitLittle);
  w.element(kPatientName, kPN, "DOE^JANE");
  w.element(tag(0x0009, 0x1001), kOB, big);
  // Nothing was open: the large value went out at once, without waiting for finish().
  EXPECT_EQ(sink.all().size(), w.written());
  w.begin_sequence(kReferencedImageSequence, Length::defined);
  w.begin_item(Length::defined);
  w.element(tag(0x0009, 0x1002), kOB, big);
  const std::size_t before_close = sink.all().size();
  EXPECT_LT(before_close, w.written());  // held: the lengths are not known yet
  w.end_item();
  w.end_sequence();
  w.element(kPixelData, kOW, big);
  EXPECT_GT(sink.all().size(), before_close);
  ASSERT_TRUE(w.finish());
  EXPECT_EQ(sink.all(), want);
}

TEST(Writer, WhatCannotBeWrittenMakesItNotOk) {
  {
    Bytes b;
    ElementWriter w(b, kExplicitLittle);
    w.end_item();  // nothing open
    EXPECT_FALSE(w.ok());
    w.element(kPatientName, kPN, "A");
    EXPECT_TRUE(b.empty());  // later calls write nothing
  }
  {
    Bytes b;
    ElementWriter w(b, kExplicitLittle);
    w.element(kPatientName, kPN, std::string(0x10000, 'A'));  // too long for a 2-byte length
    EXPECT_FALSE(w.ok());
  }
  {
    Bytes b;
    ElementWriter w(b, kImplicitLittle);
    w.element(kPatientName, kPN, std::string(0x10000, 'A'));  // implicit VR: 4-byte lengths
    EXPECT_TRUE(w.finish());
  }
  {
    Bytes b;
    ElementWriter w(b, kExplicitLittle);
    w.begin_sequence(kReferencedImageSequence);
    EXPECT_FALSE(w.finish());  // still open
  }
  {
    Bytes b;
    ElementWriter w(b, kExplicitLittle);
    w.begin_sequence(kPatientName, Length::undefined, kPN);  // a sequence needs a 4-byte length
    EXPECT_FALSE(w.ok());
  }
  {
    Chunks sink;
    sink.fail = true;
    ElementWriter w(sink, kExplicitLittle);
    w.element(kPatientName, kPN, "A");
    EXPECT_FALSE(w.finish());
  }
}
