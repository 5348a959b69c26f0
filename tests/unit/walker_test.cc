#include "dicom/walker.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "builder.h"
#include "dicom/dictionary.h"

using namespace dg::dicom;
using namespace dgtest;

namespace {
struct Rec : Visitor {
  std::vector<Element> els;
  int seqs = 0;
  void element(const Element& e, std::span<const std::uint8_t>) override { els.push_back(e); }
  void sequence(const Element&) override { ++seqs; }
};
WalkResult run(const Bytes& b, Encoding enc = {}, Rec* out = nullptr) {
  Rec r;
  auto w = walk({b.data(), b.size()}, 0, enc, out ? *out : r);
  return w;
}
std::vector<Problem> problems(const WalkResult& w) {
  std::vector<Problem> p;
  for (auto& i : w.issues) p.push_back(i.problem);
  return p;
}
}  // namespace

TEST(Dictionary, KnowsStandardTagsAndRepeatingGroups) {
  ASSERT_NE(lookup(tag(0x0010, 0x0010)), nullptr);
  EXPECT_STREQ(lookup(tag(0x0010, 0x0010))->keyword, "PatientName");
  EXPECT_EQ(implicit_vr(tag(0x0010, 0x0010)), vr("PN"));
  ASSERT_NE(lookup(tag(0x6002, 0x3000)), nullptr);  // (60xx,3000) Overlay Data
  EXPECT_STREQ(lookup(tag(0x6002, 0x3000))->keyword, "OverlayData");
  EXPECT_EQ(lookup(tag(0x0009, 0x0010)), nullptr);  // private
  EXPECT_TRUE(dict_allows(*lookup(kPixelData), kOW));
  EXPECT_TRUE(dict_allows(*lookup(kPixelData), kOB));
}

TEST(Walker, CleanDatasetHasNoIssues) {
  Rec r;
  auto w = run(dataset(), {}, &r);
  EXPECT_TRUE(w.issues.empty());
  EXPECT_FALSE(w.fatal);
  EXPECT_EQ(w.end, dataset().size());
  EXPECT_EQ(r.els.size(), 6u);
  EXPECT_TRUE(w.has_pixel_data);
}

TEST(Walker, LengthPastEndIsFatalAndNamesTheElement) {
  Bytes d = el(0x10, 0x10, "PN", str("A^B"), false, 1000);
  auto w = run(d);
  ASSERT_TRUE(w.fatal);
  ASSERT_EQ(w.issues.size(), 1u);
  EXPECT_EQ(w.issues[0].problem, Problem::length_past_end);
  EXPECT_EQ(w.issues[0].tag, tag(0x10, 0x10));
  EXPECT_EQ(w.issues[0].offset, 0u);
}

TEST(Walker, OutOfOrderAndDuplicateTags) {
  Bytes d;
  append(d, el(0x10, 0x20, "LO", str("ID")));
  append(d, el(0x10, 0x10, "PN", str("A^B")));
  append(d, el(0x10, 0x20, "LO", str("ID")));
  auto w = run(d);
  EXPECT_EQ(problems(w), (std::vector<Problem>{Problem::tag_order, Problem::duplicate_tag}));
  EXPECT_EQ(w.issues[0].offset, 10u);
}

TEST(Walker, GroupLengthWrongVrAndWrongValue) {
  Bytes d;
  Bytes v;
  put32(v, 99);
  append(d, el(0x8, 0x0, "UL", v));  // says 99 bytes, group has 10
  append(d, el(0x8, 0x60, "CS", str("MR")));
  append(d, el(0x10, 0x0, "US", Bytes{0, 0}));
  append(d, el(0x10, 0x10, "PN", str("A^B")));
  auto w = run(d);
  auto p = problems(w);
  EXPECT_NE(std::find(p.begin(), p.end(), Problem::group_length_value), p.end());
  EXPECT_NE(std::find(p.begin(), p.end(), Problem::group_length_vr), p.end());
}

TEST(Walker, UndefinedLengthOnAStringIsFatal) {
  Bytes d = el(0x0040, 0xA160, "UT", {}, false, 0xFFFFFFFFu);  // (0040,A160) Text Value is UT
  auto w = run(d);
  EXPECT_EQ(problems(w), std::vector<Problem>{Problem::undefined_length});
  EXPECT_TRUE(w.fatal);
}

TEST(Walker, OddLengthAndVrMismatch) {
  Bytes d;
  Bytes odd = {'A', 'B', 'C'};
  append(d, el(0x8, 0x60, "CS", odd));
  append(d, el(0x10, 0x10, "LO", str("A^B")));  // PN in the dictionary
  auto w = run(d);
  EXPECT_EQ(problems(w), (std::vector<Problem>{Problem::odd_length, Problem::vr_mismatch}));
}

TEST(Walker, InvalidVrStopsTheWalk) {
  Bytes d = el(0x10, 0x10, "PN", str("A^B"));
  d.insert(d.end(), {0x10, 0x00, 0x20, 0x00, 'z', 'z', 2, 0, 'X', 'Y'});
  auto w = run(d);
  EXPECT_EQ(problems(w), std::vector<Problem>{Problem::invalid_vr});
  EXPECT_TRUE(w.stopped_at_boundary);
  EXPECT_EQ(w.end, 12u);
}

TEST(Walker, SequencesDefinedAndUndefinedNest) {
  Bytes inner = el(0x8, 0x100, "SH", str("CODE"));
  Bytes sq_undef = el(0x8, 0x1115, "SQ", {}, false, 0xFFFFFFFFu);
  append(sq_undef, item(inner, true));
  append(sq_undef, item(inner, false));
  append(sq_undef, seq_delim());
  Rec r;
  auto w = run(sq_undef, {}, &r);
  EXPECT_TRUE(w.issues.empty()) << problem_name(w.issues[0].problem);
  EXPECT_EQ(r.els.size(), 2u);
  EXPECT_EQ(r.els[0].depth, 1);
  EXPECT_EQ(r.els[0].parent, tag(0x8, 0x1115));
}

TEST(Walker, MissingDelimiterAtEndOfData) {
  Bytes sq = el(0x8, 0x1115, "SQ", {}, false, 0xFFFFFFFFu);
  append(sq, item(el(0x8, 0x100, "SH", str("CODE")), false));
  auto w = run(sq);
  EXPECT_EQ(problems(w), std::vector<Problem>{Problem::delimiter_imbalance});
}

TEST(Walker, StrayDelimiterIsReported) {
  Bytes d = el(0x8, 0x60, "CS", str("MR"));
  append(d, item_delim());
  append(d, el(0x10, 0x10, "PN", str("A^B")));
  auto w = run(d);
  EXPECT_EQ(problems(w), std::vector<Problem>{Problem::delimiter_imbalance});
  EXPECT_FALSE(w.fatal);
}

TEST(Walker, ExcessNestingIsCapped) {
  // 100 nested undefined-length sequences: capped at 64 levels without recursion or a crash.
  Bytes d;
  for (int i = 0; i < 100; ++i) {
    append(d, el(0x8, 0x1115, "SQ", {}, false, 0xFFFFFFFFu));
    Bytes h;
    put16(h, 0xFFFE); put16(h, 0xE000); put32(h, 0xFFFFFFFFu);
    append(d, h);
  }
  auto w = run(d);
  ASSERT_TRUE(w.fatal);
  EXPECT_EQ(w.issues.back().problem, Problem::excess_nesting);
}

TEST(Walker, EncapsulatedFragmentsAreVisited) {
  Bytes px = el(0x7FE0, 0x10, "OB", {}, false, 0xFFFFFFFFu);
  append(px, item({}));                       // basic offset table
  append(px, item(Bytes(10, 0xAB)));
  append(px, item(Bytes(6, 0xCD)));
  append(px, seq_delim());
  Rec r;
  auto w = run(px, {}, &r);
  EXPECT_TRUE(w.issues.empty());
  ASSERT_EQ(r.els.size(), 3u);
  EXPECT_TRUE(r.els[1].fragment);
  EXPECT_EQ(r.els[1].length, 10u);
  EXPECT_TRUE(w.has_pixel_data);
}

TEST(Walker, ImplicitLittleEndianUsesTheDictionary) {
  Bytes d;
  append(d, iel(0x8, 0x60, str("CT")));
  append(d, iel(0x10, 0x10, str("A^B")));
  Rec r;
  auto w = run(d, {false, false}, &r);
  EXPECT_TRUE(w.issues.empty());
  ASSERT_EQ(r.els.size(), 2u);
  EXPECT_EQ(r.els[1].vr, vr("PN"));
}

TEST(Walker, ExplicitBigEndian) {
  Bytes d;
  append(d, el(0x8, 0x60, "CS", str("CT"), true));
  append(d, el(0x28, 0x10, "US", Bytes{0, 4}, true));
  Rec r;
  auto w = run(d, {true, true}, &r);
  EXPECT_TRUE(w.issues.empty());
  ASSERT_EQ(r.els.size(), 2u);
  EXPECT_EQ(r.els[1].tag, tag(0x28, 0x10));
}

TEST(Walker, UnknownVrWithUndefinedLengthIsAnImplicitSequence) {
  Bytes d = el(0x0009, 0x1010, "UN", {}, false, 0xFFFFFFFFu);
  Bytes it;
  append(it, iel(0x0008, 0x0100, str("X")));
  append(d, item(it, true));
  append(d, seq_delim());
  Rec r;
  auto w = run(d, {}, &r);
  EXPECT_TRUE(w.issues.empty());
  ASSERT_EQ(r.els.size(), 1u);
  EXPECT_EQ(r.els[0].tag, tag(0x8, 0x100));
}

TEST(Walker, ItemLongerThanItsSequenceIsFatal) {
  Bytes content = el(0x8, 0x100, "SH", str("CODE"));
  Bytes it = item(content);
  Bytes d = el(0x8, 0x1115, "SQ", it, false, static_cast<std::uint32_t>(it.size() - 4));
  auto w = run(d);
  ASSERT_TRUE(w.fatal);
}

TEST(Walker, ElementCountIsCapped) {
  Bytes d;
  for (int i = 0; i < 50; ++i) append(d, el(0x0009, static_cast<std::uint16_t>(0x1000 + i), "OB", Bytes{}));
  Rec r;
  Limits lim;
  lim.max_elements = 10;
  auto w = walk({d.data(), d.size()}, 0, {}, r, lim);
  ASSERT_TRUE(w.fatal);
  EXPECT_EQ(w.issues.back().problem, Problem::too_many_elements);
}

// An undefined-length item inside a defined-length sequence is bounded by the sequence: its content may not run
// past the sequence's end (found by fuzz_pdu: the walker read past the buffer).
TEST(Walker, UndefinedItemIsBoundedByItsDefinedSequence) {
  Bytes content = el(0x8, 0x100, "SH", str("CODE"));
  Bytes body = item(content, true);  // undefined-length item with its delimiter
  // The sequence's length covers the item header and half of the element: the element header crosses the end.
  Bytes cut(body.begin(), body.begin() + 8 + 6);
  Bytes d = el(0x8, 0x1115, "SQ", cut, false, static_cast<std::uint32_t>(cut.size()));
  append(d, el(0x10, 0x10, "PN", str("A^B")));  // bytes after the sequence must not complete the cut element
  Rec r;
  auto w = run(d, {}, &r);
  ASSERT_TRUE(w.fatal);
  EXPECT_EQ(w.issues.back().problem, Problem::truncated_header);
  EXPECT_TRUE(r.els.empty());
}

TEST(Walker, UndefinedItemEndingWithItsDefinedSequenceIsClosedThere) {
  Bytes content = el(0x8, 0x100, "SH", str("CODE"));
  Bytes it = item(content, true);
  Bytes no_delim(it.begin(), it.end() - 8);  // the item delimiter is missing
  Bytes d = el(0x8, 0x1115, "SQ", no_delim, false, static_cast<std::uint32_t>(no_delim.size()));
  append(d, el(0x10, 0x10, "PN", str("A^B")));
  Rec r;
  auto w = run(d, {}, &r);
  EXPECT_FALSE(w.fatal);
  EXPECT_EQ(problems(w), std::vector<Problem>{Problem::delimiter_imbalance});
  ASSERT_EQ(r.els.size(), 2u);
  EXPECT_EQ(r.els[0].depth, 1);
  EXPECT_EQ(r.els[1].tag, tag(0x10, 0x10));
  EXPECT_EQ(r.els[1].depth, 0);
}

// The stream walk (through a small window) must agree with the walk of the same bytes held whole: the same
// elements and issues where the span walk completes, and a fatal stop wherever it stops.
namespace {
struct ChunkStream : ByteStream {
  const Bytes& b;
  std::size_t pos = 0, chunk;
  ChunkStream(const Bytes& bytes, std::size_t c) : b(bytes), chunk(c) {}
  std::size_t read(std::span<std::uint8_t> out) override {
    const std::size_t n = std::min({out.size(), b.size() - pos, chunk});
    std::copy_n(b.begin() + static_cast<std::ptrdiff_t>(pos), n, out.begin());
    pos += n;
    return n;
  }
};
struct Events : Visitor {
  std::vector<std::string> log;
  void element(const Element& e, std::span<const std::uint8_t> v) override {
    log.push_back(fmt::format("e {} {} {} {}", tag_string(e.tag), e.offset, e.depth, e.truncated ? e.length : v.size()));
  }
  void sequence(const Element& e) override { log.push_back(fmt::format("s {} {}", tag_string(e.tag), e.offset)); }
  void item(const Element& e) override { log.push_back(fmt::format("i {}", e.offset)); }
  void item_end(std::uint64_t end) override { log.push_back(fmt::format("ie {}", end)); }
  void sequence_end(std::uint64_t end) override { log.push_back(fmt::format("se {}", end)); }
};
void expect_same_walk(const Bytes& d, Encoding enc, std::size_t window, std::size_t chunk) {
  Events a, b;
  const WalkResult ws = walk({d.data(), d.size()}, 100, enc, a);
  ChunkStream cs(d, chunk);
  StreamWindow win(cs, window);
  const WalkResult wt = walk(win, 100, enc, b);
  if (!ws.fatal) {
    ASSERT_FALSE(wt.fatal);
    EXPECT_EQ(problems(ws), problems(wt));
    EXPECT_EQ(ws.elements, wt.elements);
    EXPECT_EQ(ws.end, wt.end);
    EXPECT_EQ(a.log, b.log);
  } else {
    EXPECT_TRUE(wt.fatal);
  }
}
Bytes nested_sample() {
  Bytes inner = item(el(0x0008, 0x1150, "UI", str("1.2.3", '\0')) , true);
  Bytes seq = el(0x0008, 0x1140, "SQ", {}, false, 0xFFFFFFFFu);
  append(seq, inner);
  append(seq, item(el(0x0008, 0x1155, "UI", str("1.2.3.4", '\0'))));
  append(seq, seq_delim());
  Bytes d;
  append(d, el(0x0008, 0x0016, "UI", str("1.2.840.10008.5.1.4.1.1.7", '\0')));
  append(d, seq);
  append(d, el(0x0009, 0x0010, "LO", str("PRIVATE")));
  append(d, el(0x0009, 0x1001, "OB", Bytes(300, 0x5A)));
  Bytes px = el(0x7FE0, 0x10, "OB", {}, false, 0xFFFFFFFFu);
  append(px, item({}));
  append(px, item(Bytes(200, 0x33)));
  append(px, seq_delim());
  append(d, px);
  return d;
}
}  // namespace

TEST(Walker, StreamWalkAgreesWithTheSpanWalk) {
  const Bytes d = nested_sample();
  for (std::size_t window : {64u, 100u, 4096u})
    for (std::size_t chunk : {1u, 7u, 4096u}) expect_same_walk(d, {}, window, chunk);
  // Every truncation, and every single-byte corruption, of the sample.
  for (std::size_t n = 0; n < d.size(); ++n) expect_same_walk(Bytes(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(n)), {}, 4096, 13);
  std::uint32_t x = 7;
  for (int k = 0; k < 3000; ++k) {
    Bytes m = d;
    x = x * 1103515245 + 12345;
    m[(x >> 8) % m.size()] ^= static_cast<std::uint8_t>(1u << ((x >> 4) & 7));
    expect_same_walk(m, {}, 4096, 61);
  }
}

TEST(Walker, ValuesLongerThanTheWindowAreGivenByTheirStart) {
  Bytes d = el(0x0009, 0x1001, "OB", Bytes(10000, 0x5A));
  append(d, el(0x0009, 0x1002, "OB", Bytes(10, 0x5B)));
  struct V : Visitor {
    std::vector<std::pair<std::size_t, bool>> got;
    void element(const Element& e, std::span<const std::uint8_t> v) override { got.emplace_back(v.size(), e.truncated); }
  } v;
  ChunkStream cs(d, 333);
  StreamWindow win(cs, 1024);
  const WalkResult w = walk(win, 0, {}, v);
  EXPECT_FALSE(w.fatal);
  ASSERT_EQ(v.got.size(), 2u);
  EXPECT_EQ(v.got[0], (std::pair<std::size_t, bool>{1024, true}));
  EXPECT_EQ(v.got[1], (std::pair<std::size_t, bool>{10, false}));
  EXPECT_EQ(w.end, d.size());
}
