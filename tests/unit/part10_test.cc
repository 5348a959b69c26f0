// The Part 10 reader: preamble, File Meta group, transfer syntax, dataset start and encoding, deflated datasets.
#include "dicom/part10.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <memory>

#include "analysis.h"
#include "builder.h"
#include "dicom/writer.h"

using namespace dg::dicom;
using dgtest::Bytes;

namespace {

struct Count : Visitor {
  std::vector<Tag> tags;
  void element(const Element& e, std::span<const std::uint8_t>) override { tags.push_back(e.tag); }
};

// The clean test dataset written in another encoding.
Bytes dataset_in(Encoding enc) {
  return encode(enc, [](ElementWriter& w) {
    w.element(kSOPClassUID, kUI, dgtest::kSopClass);
    w.element(kSOPInstanceUID, kUI, dgtest::kSopInstance);
    w.element(tag(0x10, 0x10), vr("PN"), "TEST^PATIENT");
    w.us(tag(0x28, 0x10), 4);
    w.us(tag(0x28, 0x11), 4);
    w.element(kPixelData, kOW, Bytes(32, 0x11));
  });
}

// A Part 10 file written with the writer: preamble, "DICM", the File Meta group, then the dataset.
Bytes part10_file(const std::string& ts, const Bytes& ds, const Bytes& preamble = Bytes(128, 0)) {
  Bytes f = preamble;
  f.insert(f.end(), {'D', 'I', 'C', 'M'});
  ElementWriter w(f, kExplicitLittle);
  w.begin_group(0x0002);
  w.element(tag(2, 1), kOB, Bytes{0, 1});
  w.element(tag(2, 2), kUI, dgtest::kSopClass);
  w.element(tag(2, 3), kUI, dgtest::kSopInstance);
  w.element(tag(2, 0x10), kUI, ts);
  w.end_group();
  w.raw(ds);
  EXPECT_TRUE(w.finish());
  return f;
}

}  // namespace

TEST(Part10, PreambleMarkerAndMeta) {
  Bytes pre(128, 0);
  pre[0] = 'M';
  pre[1] = 'Z';
  const Bytes ds = dgtest::dataset();
  const Bytes f = part10_file(uids::kExplicitLE, ds, pre);
  ASSERT_TRUE(part10::has_marker(f));
  EXPECT_EQ(part10::preamble(f).size(), 128u);
  EXPECT_EQ(part10::preamble(f)[1], 'Z');
  EXPECT_FALSE(part10::has_marker(Bytes(131, 0)));
  EXPECT_FALSE(part10::has_marker(ds));
  EXPECT_TRUE(part10::preamble(Bytes(100, 0)).empty());

  Count seen;
  const part10::FileMeta m = part10::read_meta(f, &seen);
  EXPECT_TRUE(m.explicit_vr);
  EXPECT_TRUE(m.walk.issues.empty());
  EXPECT_FALSE(m.walk.fatal);
  EXPECT_EQ(m.dataset_start, f.size() - ds.size());
  EXPECT_TRUE(m.has_group_length);
  ASSERT_TRUE(m.has_version);
  EXPECT_EQ(m.version, (Bytes{0, 1}));
  EXPECT_EQ(m.sop_class, dgtest::kSopClass);  // the NUL padding is gone
  EXPECT_EQ(m.sop_instance, dgtest::kSopInstance);
  EXPECT_EQ(m.transfer_syntax_uid, uids::kExplicitLE);
  ASSERT_TRUE(m.transfer_syntax_usable());
  EXPECT_EQ(m.transfer_syntax.name, "Explicit VR Little Endian");
  ASSERT_EQ(m.elements.size(), 5u);
  EXPECT_EQ(m.elements[4].tag, tag(2, 0x10));
  EXPECT_EQ(m.elements[0].offset, part10::kMetaOffset);
  EXPECT_EQ(seen.tags.size(), 5u);  // the caller's visitor saw the same elements
  EXPECT_EQ(part10::declared_encoding(m, std::span(f).subspan(m.dataset_start)), kExplicitLittle);
}

TEST(Part10, MetaProblemsAreReportedNotThrown) {
  // Missing transfer syntax: the dataset's encoding is sniffed from its bytes.
  Bytes f(128, 0);
  f.insert(f.end(), {'D', 'I', 'C', 'M'});
  ElementWriter w(f, kExplicitLittle);
  w.element(tag(2, 2), kUI, dgtest::kSopClass);
  ASSERT_TRUE(w.finish());
  const Bytes ds = dataset_in(kExplicitBig);
  f.insert(f.end(), ds.begin(), ds.end());
  const part10::FileMeta m = part10::read_meta(f);
  EXPECT_FALSE(m.has_transfer_syntax);
  EXPECT_FALSE(m.has_group_length);
  EXPECT_FALSE(m.transfer_syntax_usable());
  EXPECT_EQ(part10::declared_encoding(m, std::span(f).subspan(m.dataset_start)), kExplicitBig);
  // An unknown transfer syntax is not usable.
  const part10::FileMeta u = part10::read_meta(part10_file("1.2.3.4.5", dgtest::dataset()));
  EXPECT_TRUE(u.has_transfer_syntax);
  EXPECT_FALSE(u.transfer_syntax.known);
  EXPECT_FALSE(u.transfer_syntax_usable());
  // A meta group in implicit VR: said, and walked as such.
  Bytes g(128, 0);
  g.insert(g.end(), {'D', 'I', 'C', 'M'});
  const Bytes implicit_meta = encode(kImplicitLittle, [](ElementWriter& iw) {
    iw.begin_group(0x0002);
    iw.element(tag(2, 0x10), kUI, uids::kImplicitLE);
    iw.end_group();
  });
  g.insert(g.end(), implicit_meta.begin(), implicit_meta.end());
  const part10::FileMeta im = part10::read_meta(g);
  EXPECT_FALSE(im.explicit_vr);
  EXPECT_EQ(im.transfer_syntax_uid, uids::kImplicitLE);
  EXPECT_EQ(im.dataset_start, g.size());
  // Truncated and empty files.
  for (std::size_t n : {0u, 100u, 132u, 135u, 140u}) {
    const Bytes cut(f.begin(), f.begin() + std::min(n, f.size()));
    const part10::FileMeta c = part10::read_meta(cut);
    EXPECT_LE(c.dataset_start, std::max<std::uint64_t>(cut.size(), part10::kMetaOffset));
  }
}

TEST(Part10, TheDatasetsRealEncodingIsFoundWhenTheDeclaredOneFails) {
  // Implicit VR little endian bytes labelled explicit VR little endian.
  const Bytes ds = dataset_in(kImplicitLittle);
  std::vector<std::unique_ptr<Count>> visitors;
  std::vector<Encoding> tried;
  auto visitor = [&](std::size_t attempt, Encoding e) -> Visitor& {
    EXPECT_EQ(attempt, visitors.size());
    tried.push_back(e);
    visitors.push_back(std::make_unique<Count>());
    return *visitors.back();
  };
  const part10::DatasetWalk w = part10::walk_dataset(ds, 1000, kExplicitLittle, visitor);
  EXPECT_TRUE(w.fallback);
  EXPECT_EQ(w.encoding, kImplicitLittle);
  ASSERT_EQ(w.attempt, 1u);
  EXPECT_EQ(tried, (std::vector<Encoding>{kExplicitLittle, kImplicitLittle}));
  EXPECT_FALSE(w.walk.fatal);
  EXPECT_EQ(w.walk.end, ds.size());
  EXPECT_EQ(visitors[1]->tags.size(), 6u);
  EXPECT_EQ(w.walk.issues.size(), 0u);

  // Declared right: one walk, no fallback.
  visitors.clear();
  tried.clear();
  const part10::DatasetWalk ok = part10::walk_dataset(ds, 1000, kImplicitLittle, visitor);
  EXPECT_FALSE(ok.fallback);
  EXPECT_EQ(ok.attempt, 0u);
  EXPECT_EQ(tried.size(), 1u);

  // Data after the pixel data is the end of the dataset, not a wrong encoding.
  Bytes trailing = dataset_in(kExplicitLittle);
  for (int i = 0; i < 16; ++i) trailing.push_back(0xEE);
  visitors.clear();
  tried.clear();
  const part10::DatasetWalk t = part10::walk_dataset(trailing, 0, kExplicitLittle, visitor);
  EXPECT_FALSE(t.fallback);
  EXPECT_TRUE(t.walk.fatal);
  EXPECT_TRUE(part10::ends_at_trailing_data(t.walk));
  EXPECT_EQ(tried.size(), 1u);
  EXPECT_EQ(part10::encoding_name(kExplicitBig), "explicit VR big endian");
}

TEST(Part10, RawDatasetsWithoutPreambleAreFound) {
  for (Encoding enc : {kExplicitLittle, kImplicitLittle, kExplicitBig}) {
    const Bytes ds = dataset_in(enc);
    std::optional<Count> c;
    const auto raw = part10::walk_raw_dataset(ds, [&](std::size_t, Encoding) -> Visitor& { return c.emplace(); });
    ASSERT_TRUE(raw);
    EXPECT_EQ(raw->encoding, enc);
    EXPECT_EQ(c->tags.size(), 6u);
  }
  const Bytes noise = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  EXPECT_FALSE(part10::walk_raw_dataset(noise, [&](std::size_t, Encoding) -> Visitor& {
    static Count unused;
    return unused;
  }));
}

TEST(Part10, DeflatedDatasetsAreWalkedThroughABoundedWindow) {
  const Bytes ds = dgtest::dataset();
  const Bytes z = dgtest::deflate_raw(ds);
  {
    part10::DeflatedDataset d(z, 1u << 20, 4096);
    Count c;
    const WalkResult w = d.walk(c);
    EXPECT_FALSE(w.fatal);
    EXPECT_EQ(c.tags.size(), 6u);
    d.drain();
    EXPECT_TRUE(d.complete());
    EXPECT_FALSE(d.corrupt());
    EXPECT_EQ(d.consumed(), z.size());
    EXPECT_EQ(d.inflated(), ds.size());
    EXPECT_EQ(d.after(), part10::DeflatedDataset::After::nothing);
    EXPECT_GE(d.window().window(), 64u);
  }
  {
    // A gzip-style trailer after the stream is benign; other bytes are data after the dataset.
    Bytes with_trailer = z;
    const auto crc = static_cast<std::uint32_t>(crc32(0, ds.data(), static_cast<uInt>(ds.size())));
    dgtest::put32(with_trailer, crc);
    dgtest::put32(with_trailer, static_cast<std::uint32_t>(ds.size()));
    part10::DeflatedDataset d(with_trailer, 1u << 20, 4096);
    Count c;
    d.walk(c);
    d.drain();
    EXPECT_EQ(d.after(), part10::DeflatedDataset::After::gzip_trailer);
    Bytes with_data = z;
    with_data.insert(with_data.end(), {'M', 'Z', 0, 0});
    part10::DeflatedDataset e(with_data, 1u << 20, 4096);
    e.walk(c);
    e.drain();
    EXPECT_EQ(e.after(), part10::DeflatedDataset::After::data);
  }
  {
    // A bomb: the cap stops it, and the element it cuts is the cap's doing.
    Bytes big = dgtest::el(0x0009, 0x1010, "OB", Bytes(1u << 20, 0));
    const Bytes bomb = dgtest::deflate_raw(big);  // the dataset keeps a view of it: it must outlive d
    part10::DeflatedDataset d(bomb, 4096, 1024);
    Count c;
    const WalkResult w = d.walk(c);
    EXPECT_TRUE(w.fatal);
    EXPECT_TRUE(d.cut_by_cap(w));
    EXPECT_TRUE(d.stream().limit());
    d.drain();
    EXPECT_FALSE(d.complete());
    EXPECT_EQ(d.inflated(), 4096u);
  }
  {
    const Bytes junk = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    part10::DeflatedDataset d(junk, 1u << 20, 4096);
    Count c;
    d.walk(c);
    d.drain();
    EXPECT_TRUE(d.corrupt());
    EXPECT_FALSE(d.complete());
  }
}

TEST(Part10, AFileWrittenWithTheWriterReadsBackInEveryTransferSyntax) {
  for (const char* ts : {uids::kExplicitLE, uids::kImplicitLE, uids::kExplicitBE}) {
    const TransferSyntax t = transfer_syntax(ts);
    const Encoding enc{t.explicit_vr, t.big_endian};
    const Bytes f = part10_file(ts, dataset_in(enc));
    const part10::FileMeta m = part10::read_meta(f);
    ASSERT_TRUE(m.transfer_syntax_usable()) << ts;
    const auto ds = std::span<const std::uint8_t>(f).subspan(m.dataset_start);
    const Encoding declared = part10::declared_encoding(m, ds);
    EXPECT_EQ(declared, enc);
    Count c;
    const part10::DatasetWalk w =
        part10::walk_dataset(ds, m.dataset_start, declared, [&](std::size_t, Encoding) -> Visitor& { return c; });
    EXPECT_FALSE(w.fallback);
    EXPECT_TRUE(w.walk.issues.empty());
    EXPECT_EQ(c.tags.size(), 6u);
    // The file analysis agrees: clean.
    const auto r = dgtest::an(f);
    EXPECT_EQ(r.verdict, dg::files::Verdict::clean) << dgtest::all_output(r);
  }
}
