#include "files/active_content.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <chrono>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace dg::files {
namespace {

using Counts = std::map<std::string, std::uint64_t>;

std::span<const std::uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::string zlib_compress(const std::string& in) {
  uLongf n = compressBound(static_cast<uLong>(in.size()));
  std::string out(n, '\0');
  EXPECT_EQ(compress2(reinterpret_cast<Bytef*>(out.data()), &n, reinterpret_cast<const Bytef*>(in.data()),
                      static_cast<uLong>(in.size()), 9),
            Z_OK);
  out.resize(n);
  return out;
}

// Raw deflate (no zlib header), as some PDF writers produce.
std::string raw_deflate(const std::string& in) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, static_cast<uLong>(in.size())), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// `megabytes` MB of zeros through zlib, without holding them in memory.
std::string zeros_bomb(std::size_t megabytes) {
  z_stream zs{};
  EXPECT_EQ(deflateInit(&zs, 9), Z_OK);
  const std::string zeros(1u << 20, '\0');
  std::string out;
  char buf[1 << 16];
  for (std::size_t i = 0; i < megabytes; ++i) {
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(zeros.data()));
    zs.avail_in = static_cast<uInt>(zeros.size());
    const int flush = i + 1 == megabytes ? Z_FINISH : Z_NO_FLUSH;
    int ret;
    do {
      zs.next_out = reinterpret_cast<Bytef*>(buf);
      zs.avail_out = sizeof buf;
      ret = deflate(&zs, flush);
      out.append(buf, sizeof buf - zs.avail_out);
    } while (zs.avail_out == 0 || (flush == Z_FINISH && ret != Z_STREAM_END));
  }
  deflateEnd(&zs);
  return out;
}

std::string pdf_header() { return "%PDF-1.7\n%\xE2\xE3\xCF\xD3\n"; }

std::string stream_object(int num, const std::string& dict, const std::string& data) {
  return std::to_string(num) + " 0 obj\n<<" + dict + " /Length " + std::to_string(data.size()) + ">>\nstream\n" +
         data + "\nendstream\nendobj\n";
}

std::string benign_pdf() {
  return pdf_header() +
         "1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
         "2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n"
         "3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>\nendobj\n" +
         stream_object(4, "/Filter /FlateDecode", zlib_compress("BT /F1 12 Tf 72 712 Td (Hello) Tj ET")) +
         "trailer\n<< /Root 1 0 R /Size 5 >>\n%%EOF\n";
}

TEST(ActiveContentSniff, Types) {
  EXPECT_EQ(sniff_content_type(bytes_of(benign_pdf())), "application/pdf");
  EXPECT_EQ(sniff_content_type(bytes_of(std::string(100, ' ') + "%PDF-1.4\n")), "application/pdf");
  EXPECT_EQ(sniff_content_type(bytes_of("<?xml version=\"1.0\"?><a/>")), "text/xml");
  EXPECT_EQ(sniff_content_type(bytes_of("\xEF\xBB\xBF\n  <ClinicalDocument/>")), "text/xml");
  EXPECT_EQ(sniff_content_type(bytes_of(std::string("\xFF\xFE<\0?\0x\0", 8))), "text/xml");
  EXPECT_EQ(sniff_content_type(bytes_of(std::string("\0<\0a\0>", 6))), "text/xml");
  EXPECT_EQ(sniff_content_type(bytes_of("solid cube\nfacet normal 0 0 1\nendsolid cube\n")), "model/stl");
  std::string stl(84 + 2 * 50, '\0');
  stl[80] = 2;
  EXPECT_EQ(sniff_content_type(bytes_of(stl)), "model/stl");
  EXPECT_EQ(sniff_content_type(bytes_of("# cube\nmtllib a.mtl\nv 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")),
            "model/obj");
  EXPECT_EQ(sniff_content_type(bytes_of("# material\nnewmtl red\nKd 1 0 0\nillum 2\nmap_Kd red.png\n")),
            "model/mtl");
  EXPECT_EQ(sniff_content_type(bytes_of("hello world, this is text\n")), "unknown");
  EXPECT_EQ(sniff_content_type(bytes_of("")), "unknown");
  EXPECT_EQ(sniff_content_type(bytes_of("< not xml")), "unknown");
}

TEST(ActiveContentPdf, BenignHasNothing) {
  const ActiveContent r = scan_pdf(bytes_of(benign_pdf()));
  EXPECT_EQ(r.content_type, "application/pdf");
  EXPECT_TRUE(r.counts.empty());
  EXPECT_FALSE(r.active());
  EXPECT_EQ(r.streams_inflated, 1u);
  EXPECT_FALSE(r.limits_hit);
}

TEST(ActiveContentPdf, PlainMarkersCountedExactly) {
  const std::string pdf = pdf_header() +
                          "1 0 obj\n<< /Type /Catalog /Pages 2 0 R /OpenAction 5 0 R /AA << /O 5 0 R >> "
                          "/Names << /EmbeddedFiles 7 0 R /JavaScript 8 0 R >> /AcroForm << /XFA 9 0 R >> >>\nendobj\n"
                          "5 0 obj\n<< /S /JavaScript /JS (app.alert\\(1\\)) >>\nendobj\n"
                          "6 0 obj\n<< /S /Launch /F (cmd.exe) >>\nendobj\n"
                          "10 0 obj\n<< /Type /EmbeddedFile >>\nendobj\n"
                          "11 0 obj\n<</S/URI/URI(http://example.com)>>\nendobj\n"
                          "12 0 obj\n<</S/SubmitForm/Type/RichMedia>>\nendobj\n"
                          "trailer\n<< /Root 1 0 R >>\n%%EOF\n";
  const ActiveContent r = scan_pdf(bytes_of(pdf));
  const Counts want = {{"/OpenAction", 1}, {"/AA", 1},     {"/JavaScript", 2}, {"/XFA", 1},
                       {"/JS", 1},         {"/Launch", 1}, {"/EmbeddedFile", 1}, {"/URI", 2},
                       {"/SubmitForm", 1}, {"/RichMedia", 1}};
  EXPECT_EQ(r.counts, want);  // "/EmbeddedFiles" is another name: not counted
  EXPECT_TRUE(r.active());
  EXPECT_EQ(r.streams_inflated, 0u);
  EXPECT_FALSE(r.limits_hit);
}

TEST(ActiveContentPdf, NameTokensMustMatchWhole) {
  const std::string pdf = pdf_header() +
                          "1 0 obj\n<< /JSX 1 /AAPL 2 /JavaScriptX 3 /URIs 4 /XJS 5 /JavaScrip 6 >>\nendobj\n"
                          "2 0 obj\n<< /JS/AA[/URI]/JS(x)/AA<</XFA%c\n/Launch{/SubmitForm}>> >>\nendobj\n%%EOF\n";
  const ActiveContent r = scan_pdf(bytes_of(pdf));
  const Counts want = {{"/JS", 2}, {"/AA", 2}, {"/URI", 1}, {"/XFA", 1}, {"/Launch", 1}, {"/SubmitForm", 1}};
  EXPECT_EQ(r.counts, want);
}

TEST(ActiveContentPdf, HexEscapesInNamesAreDecoded) {
  const std::string pdf = pdf_header() +
                          "1 0 obj\n<< /Open#41ction 2 0 R /#41#41 3 0 R >>\nendobj\n"
                          "2 0 obj\n<< /S /J#61vaScript /#4a#53 (x) >>\nendobj\n"
                          "3 0 obj\n<< /S /#4C#61#75#6E#63#68 /J#53X 1 /J#5 2 /JS#zz 3 >>\nendobj\n%%EOF\n";
  const ActiveContent r = scan_pdf(bytes_of(pdf));
  const Counts want = {{"/OpenAction", 1}, {"/AA", 1}, {"/JavaScript", 1}, {"/JS", 1}, {"/Launch", 1}};
  EXPECT_EQ(r.counts, want);
}

std::string objstm_pdf(const std::string& filter_key) {
  const std::string objects =
      "1 0 2 52 "
      "<< /Type /Catalog /Pages 3 0 R /OpenAction 2 0 R >> "
      "<< /S /JavaScript /JS (app.alert\\(1\\)) >>";
  return pdf_header() +
         stream_object(5, "/Type /ObjStm /N 2 /First 9 /Filter " + filter_key, zlib_compress(objects)) +
         "6 0 obj\n<< /Type /XRef /Root 1 0 R >>\nendobj\nstartxref\n0\n%%EOF\n";
}

TEST(ActiveContentPdf, ObjectStreamIsInflatedAndScanned) {
  for (const char* filter : {"/FlateDecode", "/Fl", "[/FlateDecode]", "/Fl#61teDecode"}) {
    SCOPED_TRACE(filter);
    const ActiveContent r = scan_pdf(bytes_of(objstm_pdf(filter)));
    const Counts want = {{"/OpenAction", 1}, {"/JavaScript", 1}, {"/JS", 1}};
    EXPECT_EQ(r.counts, want);
    EXPECT_EQ(r.streams_inflated, 1u);
    EXPECT_FALSE(r.limits_hit);
  }
}

TEST(ActiveContentPdf, RawDeflateWithoutZlibHeader) {
  const std::string pdf = pdf_header() + stream_object(1, "/Type/ObjStm/Filter/FlateDecode",
                                                       raw_deflate("<< /OpenAction 2 0 R >>")) + "%%EOF\n";
  const ActiveContent r = scan_pdf(bytes_of(pdf));
  EXPECT_EQ(r.counts, (Counts{{"/OpenAction", 1}}));
  EXPECT_EQ(r.streams_inflated, 1u);
  EXPECT_FALSE(r.limits_hit);
}

TEST(ActiveContentPdf, UnfilteredStreamDataIsScanned) {
  const std::string pdf =
      pdf_header() + stream_object(1, "/Type /ObjStm /N 1 /First 4", "2 0 << /S /JavaScript /JS (x) >>") + "%%EOF\n";
  const ActiveContent r = scan_pdf(bytes_of(pdf));
  EXPECT_EQ(r.counts, (Counts{{"/JavaScript", 1}, {"/JS", 1}}));
  EXPECT_EQ(r.streams_inflated, 0u);
}

TEST(ActiveContentPdf, ImageStreamsAreNotInflated) {
  // Pixels carry no PDF syntax: even if they happen to decode to "/JS ", nothing is counted.
  const std::string pdf = pdf_header() +
                          stream_object(1, "/Type /XObject /Subtype /Image /Width 4 /Height 1 /Filter /FlateDecode",
                                        zlib_compress("/JS /AA /URI ")) +
                          "%%EOF\n";
  const ActiveContent r = scan_pdf(bytes_of(pdf));
  EXPECT_TRUE(r.counts.empty());
  EXPECT_EQ(r.streams_inflated, 0u);
  EXPECT_FALSE(r.limits_hit);
}

TEST(ActiveContentPdf, OpaqueFilterOnObjectStreamIsReported) {
  for (const char* filter : {"/JBIG2Decode", "/Crypt", "[/FlateDecode /DCTDecode]", "5 0 R"}) {
    SCOPED_TRACE(filter);
    const std::string pdf =
        pdf_header() + stream_object(1, std::string("/Type /ObjStm /Filter ") + filter, "opaque /JS bytes") +
        stream_object(2, "/Subtype /Image /Filter /DCTDecode", "\xFF\xD8/JS \xFF\xD9") + "%%EOF\n";
    const ActiveContent r = scan_pdf(bytes_of(pdf));
    EXPECT_TRUE(r.counts.empty());  // encoded and JPEG data are not PDF syntax
    EXPECT_TRUE(r.limits_hit);      // the object stream could not be scanned
  }
}

TEST(ActiveContentPdf, CorruptFlateStreamSetsLimitsHit) {
  const std::string pdf = pdf_header() + "1 0 obj\n<< /OpenAction 2 0 R >>\nendobj\n" +
                          stream_object(2, "/Filter /FlateDecode", "this is not deflate data /JS") + "%%EOF\n";
  const ActiveContent r = scan_pdf(bytes_of(pdf));
  EXPECT_EQ(r.counts, (Counts{{"/OpenAction", 1}}));
  EXPECT_TRUE(r.limits_hit);
}

TEST(ActiveContentPdf, TruncatedStreamScansWhatInflated) {
  std::string plain = "<< /OpenAction 2 0 R >> ";
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) plain += static_cast<char>('a' + rng() % 26);  // incompressible tail
  const std::string z = zlib_compress(plain);
  const std::string pdf = pdf_header() + "1 0 obj\n<< /Filter /FlateDecode >>\nstream\n" + z.substr(0, z.size() / 2);
  const ActiveContent r = scan_pdf(bytes_of(pdf));
  EXPECT_EQ(r.counts, (Counts{{"/OpenAction", 1}}));
  EXPECT_EQ(r.streams_inflated, 1u);
  EXPECT_TRUE(r.limits_hit);
}

TEST(ActiveContentPdf, ZlibBombHitsLimitQuickly) {
  const std::string bomb = zeros_bomb(100);  // 100 MB of zeros
  ASSERT_LT(bomb.size(), 1u << 20);
  const std::string pdf = pdf_header() + stream_object(1, "/Type /ObjStm /Filter /FlateDecode", bomb) +
                          "2 0 obj\n<< /OpenAction 3 0 R >>\nendobj\n%%EOF\n";
  const auto t0 = std::chrono::steady_clock::now();
  const ActiveContent r = scan_pdf(bytes_of(pdf));
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  EXPECT_TRUE(r.limits_hit);
  EXPECT_EQ(r.streams_inflated, 1u);
  EXPECT_EQ(r.counts, (Counts{{"/OpenAction", 1}}));  // scanning went on after the bomb
  EXPECT_LT(elapsed, std::chrono::seconds(5));
}

TEST(ActiveContentPdf, TotalAndStreamCountLimits) {
  std::string pdf = pdf_header();
  for (int i = 1; i <= 5; ++i)
    pdf += stream_object(i, "/Type/ObjStm/Filter/FlateDecode", zlib_compress("<< /JS (x) >>" + std::string(1000, ' ')));
  pdf += "%%EOF\n";

  const ActiveContent all = scan_pdf(bytes_of(pdf));
  EXPECT_EQ(all.counts, (Counts{{"/JS", 5}}));
  EXPECT_EQ(all.streams_inflated, 5u);
  EXPECT_FALSE(all.limits_hit);

  ActiveContentLimits few;
  few.max_streams = 2;
  const ActiveContent r1 = scan_pdf(bytes_of(pdf), few);
  EXPECT_EQ(r1.counts, (Counts{{"/JS", 2}}));
  EXPECT_EQ(r1.streams_inflated, 2u);
  EXPECT_TRUE(r1.limits_hit);

  ActiveContentLimits small_total;
  small_total.max_inflated_total = 2500;  // two full streams (1013 bytes each), then a partial one
  const ActiveContent r2 = scan_pdf(bytes_of(pdf), small_total);
  EXPECT_EQ(r2.counts, (Counts{{"/JS", 3}}));
  EXPECT_EQ(r2.streams_inflated, 3u);
  EXPECT_TRUE(r2.limits_hit);

  ActiveContentLimits small_stream;
  small_stream.max_inflated_per_stream = 5;  // "<< /J": the name is cut, so it is not counted
  const ActiveContent r3 = scan_pdf(bytes_of(pdf), small_stream);
  EXPECT_TRUE(r3.counts.empty());
  EXPECT_EQ(r3.streams_inflated, 5u);
  EXPECT_TRUE(r3.limits_hit);
}

TEST(ActiveContentPdf, EveryTruncationIsSafe) {
  const std::string full = objstm_pdf("/FlateDecode") + benign_pdf();
  for (std::size_t n = 0; n <= full.size(); ++n) {
    const std::string cut = full.substr(0, n);
    const ActiveContent r = scan_document(bytes_of(cut));
    for (const auto& [k, v] : r.counts) EXPECT_GT(v, 0u) << k;
    EXPECT_LE(r.counts.size(), 3u);
  }
}

TEST(ActiveContentPdf, GarbageIsSafe) {
  std::mt19937 rng(42);
  const char* pieces[] = {"%PDF-1.7\n", "stream\n", "endstream", " obj ", "/FlateDecode", "/Fl ", "/JS ", "<<",
                          ">>",         "/#4A#53 ", "#",        "\r\n",  "/ObjStm", "/Image", "\x78\x9c", "/"};
  for (int iter = 0; iter < 300; ++iter) {
    std::string s;
    const int parts = static_cast<int>(rng() % 200);
    for (int i = 0; i < parts; ++i) {
      if (rng() % 3 == 0) {
        s += pieces[rng() % std::size(pieces)];
      } else {
        for (int j = static_cast<int>(rng() % 16); j > 0; --j) s += static_cast<char>(rng());
      }
    }
    const ActiveContent r = scan_pdf(bytes_of(s));
    for (const auto& [k, v] : r.counts) EXPECT_GT(v, 0u) << k;
    (void)scan_xml(bytes_of(s));
    (void)mime_matches("application/pdf", bytes_of(s));
  }
}

TEST(ActiveContentPdf, PathologicalInputsStayFast) {
  const auto t0 = std::chrono::steady_clock::now();
  std::string many_streams = pdf_header();
  for (int i = 0; i < 100000; ++i) many_streams += " obj <</Filter/Fl>> stream\nx";  // no endstream anywhere
  const ActiveContent r1 = scan_pdf(bytes_of(many_streams));
  EXPECT_TRUE(r1.limits_hit);  // the first stream's data is not deflate
  EXPECT_EQ(r1.streams_inflated, 0u);

  std::string many_names = pdf_header();
  for (int i = 0; i < 1000000; ++i) many_names += "/JS";
  EXPECT_EQ(scan_pdf(bytes_of(many_names)).counts, (Counts{{"/JS", 1000000}}));

  std::string objs = pdf_header();
  for (int i = 0; i < 200000; ++i) objs += "objx stream\n endstream ";
  (void)scan_pdf(bytes_of(objs));

  const std::string long_name = pdf_header() + "/" + std::string(4u << 20, 'J');
  EXPECT_TRUE(scan_pdf(bytes_of(long_name)).counts.empty());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
}

TEST(ActiveContentXml, DoctypeWithExternalEntity) {
  const std::string xml =
      "<?xml version=\"1.0\"?>\n"
      "<!DOCTYPE foo [\n  <!ELEMENT foo ANY >\n  <!ENTITY xxe SYSTEM \"file:///etc/passwd\" >]>\n"
      "<foo>&xxe;</foo>\n";
  const ActiveContent r = scan_xml(bytes_of(xml));
  EXPECT_EQ(r.content_type, "text/xml");
  const Counts want = {{"<!DOCTYPE", 1}, {"<!ENTITY", 1}, {"SYSTEM", 1}, {"external-reference", 1}};
  EXPECT_EQ(r.counts, want);
  EXPECT_EQ(scan_document(bytes_of(xml)).counts, want);
}

TEST(ActiveContentXml, PublicDoctypeAndParameterEntity) {
  const std::string xml =
      "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\" "
      "\"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd\" [\n"
      "<!-- <!ENTITY hidden SYSTEM \"x\"> -->\n"
      "<!ENTITY % remote SYSTEM 'https://evil.example/x.dtd'> %remote;\n"
      "<!ENTITY note \"contains SYSTEM in a literal ]> \">\n"
      "]>\n<html/>";
  const ActiveContent r = scan_xml(bytes_of(xml));
  const Counts want = {{"<!DOCTYPE", 1}, {"<!ENTITY", 2}, {"PUBLIC", 1}, {"SYSTEM", 1}, {"external-reference", 2}};
  EXPECT_EQ(r.counts, want);
}

TEST(ActiveContentXml, CdaWithXInclude) {
  const std::string xml =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<ClinicalDocument xmlns=\"urn:hl7-org:v3\" xmlns:xi=\"http://www.w3.org/2001/XInclude\">\n"
      "  <component><xi:include href=\"https://evil.example/payload.xml\" parse=\"xml\"/></component>\n"
      "</ClinicalDocument>\n";
  const ActiveContent r = scan_document(bytes_of(xml));
  EXPECT_EQ(r.content_type, "text/xml");
  EXPECT_EQ(r.counts, (Counts{{"xi:include", 1}, {"external-reference", 1}}));
}

TEST(ActiveContentXml, XIncludeUnderAnotherPrefix) {
  const std::string xml =
      "<doc xmlns:inc=\"http://www.w3.org/2001/XInclude\"><inc:include href=\"local.xml\"/></doc>";
  EXPECT_EQ(scan_xml(bytes_of(xml)).counts, (Counts{{"xi:include", 1}}));
  EXPECT_TRUE(scan_xml(bytes_of("<doc><include href=\"a\"/></doc>")).counts.empty());
}

TEST(ActiveContentXml, BenignCda) {
  const std::string xml =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<!-- a comment that mentions <script> and <!DOCTYPE> -->\n"
      "<ClinicalDocument xmlns=\"urn:hl7-org:v3\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"\n"
      "    xsi:schemaLocation=\"urn:hl7-org:v3 CDA.xsd\">\n"
      "  <typeId root=\"2.16.840.1.113883.1.3\" extension=\"POCD_HD000040\"/>\n"
      "  <title>Report</title>\n"
      "  <component><structuredBody><component><section><text>\n"
      "    See http://example.org (plain text) and a <![CDATA[ <script>x</script> ]]> section.\n"
      "  </text></section></component></structuredBody></component>\n"
      "</ClinicalDocument>\n";
  const ActiveContent r = scan_document(bytes_of(xml));
  EXPECT_EQ(r.content_type, "text/xml");
  EXPECT_TRUE(r.counts.empty());
  EXPECT_FALSE(r.active());
  EXPECT_FALSE(r.limits_hit);
}

TEST(ActiveContentXml, StylesheetScriptAndJavascript) {
  const std::string xml =
      "<?xml-stylesheet type=\"text/xsl\" href=\"http://evil.example/cda.xsl\"?>\n"
      "<ClinicalDocument xmlns=\"urn:hl7-org:v3\">\n"
      "<linkHtml href=\"JavaScript:alert(1)\">a</linkHtml>\n"
      "<linkHtml href='&#106;avascript:alert(2)'>b</linkHtml>\n"
      "<linkHtml href=\"  java&#x09;script:alert(3)\">c</linkHtml>\n"
      "<a style=\"x:url(javascript:1)\" onclick=javascript:go()>d</a>\n"
      "<SCRIPT type=\"text/javascript\">var javascript_x = 1;</SCRIPT><html:script/>\n"
      "<observationMedia><value><reference value=\"\\\\fileserver\\share\\x.png\"/></value></observationMedia>\n"
      "<reference value='FTP://host/x'/><reference value=\"file:///c:/x\"/><reference value=\"#local\"/>\n"
      "</ClinicalDocument>\n";
  const ActiveContent r = scan_xml(bytes_of(xml));
  const Counts want = {{"<?xml-stylesheet", 1}, {"<script", 2}, {"javascript:", 5}, {"external-reference", 4},
                       {"on*", 1}};
  EXPECT_EQ(r.counts, want);
}

std::string to_utf16(const std::string& ascii, bool little_endian, bool bom) {
  std::string out;
  if (bom) out += little_endian ? "\xFF\xFE" : "\xFE\xFF";
  for (char c : ascii) {
    if (little_endian) {
      out += c;
      out += '\0';
    } else {
      out += '\0';
      out += c;
    }
  }
  return out;
}

TEST(ActiveContentXml, Utf16IsNarrowed) {
  const std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-16\"?><!DOCTYPE a SYSTEM \"http://x/a.dtd\"><a/>";
  const Counts want = {{"<!DOCTYPE", 1}, {"SYSTEM", 1}, {"external-reference", 1}};
  for (bool le : {true, false}) {
    for (bool bom : {true, false}) {
      const std::string doc = to_utf16(xml, le, bom);
      const ActiveContent r = scan_document(bytes_of(doc));
      EXPECT_EQ(r.content_type, "text/xml") << le << bom;
      EXPECT_EQ(r.counts, want) << le << bom;
      EXPECT_TRUE(mime_matches("text/xml", bytes_of(doc)));
    }
  }
}

TEST(ActiveContentXml, TruncationsAndGarbageAreSafe) {
  const std::string xml =
      "<!DOCTYPE a [<!ENTITY b SYSTEM \"file:///x\">]><a href=\"http://x\"><script/><xi:include/><?xml-stylesheet "
      "href='http://y'?><!-- c --><![CDATA[d]]></a>";
  for (std::size_t n = 0; n <= xml.size(); ++n) {
    const ActiveContent r = scan_xml(bytes_of(xml.substr(0, n)));
    for (const auto& [k, v] : r.counts) EXPECT_GT(v, 0u) << k;
  }
  EXPECT_EQ(scan_xml(bytes_of(xml)).counts.size(), 7u);
  const std::string odd = "<a b=\"unterminated <script> <c d='e' <f <!-- <![CDATA[ <? <!DOCTYPE [[[ ]]]";
  (void)scan_xml(bytes_of(odd));
  (void)scan_xml(bytes_of(std::string("\xFF\xFE<", 3)));
  (void)scan_xml(bytes_of(std::string(1u << 20, '<')));
}

TEST(ActiveContentDocument, OtherTypesAreNotScanned) {
  const ActiveContent stl = scan_document(bytes_of("solid x\n/JS <!DOCTYPE a>\nendsolid x\n"));
  EXPECT_EQ(stl.content_type, "model/stl");
  EXPECT_TRUE(stl.counts.empty());
  const ActiveContent unknown = scan_document(bytes_of("just /JS text"));
  EXPECT_EQ(unknown.content_type, "unknown");
  EXPECT_TRUE(unknown.counts.empty());
}

TEST(ActiveContentMime, Matches) {
  const std::string pdf = benign_pdf();
  const std::string xml = "<?xml version=\"1.0\"?><ClinicalDocument/>";
  std::string stl_bin(84 + 3 * 50, '\x01');
  const std::string stl_ascii = "solid part\nendsolid part\n";
  const std::string obj = "o cube\nv 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n";
  const std::string mtl = "newmtl a\nKd 1 1 1\n";

  EXPECT_TRUE(mime_matches("application/pdf", bytes_of(pdf)));
  EXPECT_TRUE(mime_matches("APPLICATION/PDF  ", bytes_of(pdf)));
  EXPECT_TRUE(mime_matches(std::string("application/pdf\0", 16), bytes_of(pdf)));
  EXPECT_TRUE(mime_matches("application/pdf; charset=binary", bytes_of(pdf)));
  EXPECT_FALSE(mime_matches("application/pdf", bytes_of(xml)));
  EXPECT_FALSE(mime_matches("application/pdf", bytes_of(std::string("MZ\x90\0", 4))));

  EXPECT_TRUE(mime_matches("text/xml", bytes_of(xml)));
  EXPECT_TRUE(mime_matches("application/xml", bytes_of(xml)));
  EXPECT_TRUE(mime_matches("application/hl7-cda+xml", bytes_of(xml)));
  EXPECT_TRUE(mime_matches("Text/XML; charset=UTF-8 ", bytes_of(xml)));
  EXPECT_FALSE(mime_matches("text/xml", bytes_of(pdf)));
  EXPECT_FALSE(mime_matches("application/hl7-cda+xml", bytes_of("MZ this is no xml")));

  EXPECT_TRUE(mime_matches("model/stl", bytes_of(stl_bin)));
  EXPECT_TRUE(mime_matches("model/stl", bytes_of(stl_ascii)));
  EXPECT_FALSE(mime_matches("model/stl", bytes_of(pdf)));
  EXPECT_FALSE(mime_matches("model/stl", bytes_of(std::string(85, '\0'))));

  EXPECT_TRUE(mime_matches("model/obj", bytes_of(obj)));
  EXPECT_FALSE(mime_matches("model/obj", bytes_of(pdf)));
  EXPECT_FALSE(mime_matches("model/obj", bytes_of(mtl)));
  EXPECT_TRUE(mime_matches("model/mtl", bytes_of(mtl)));
  EXPECT_FALSE(mime_matches("model/mtl", bytes_of(obj)));

  EXPECT_TRUE(mime_matches("image/jpeg", bytes_of(pdf)));  // no rule: no false alarm
  EXPECT_TRUE(mime_matches("", bytes_of(pdf)));
  EXPECT_TRUE(mime_matches("application/pdf", bytes_of(std::string(50, ' ') + "%PDF-1.4")));
}

}  // namespace
}  // namespace dg::files

// ---------------------------------------------------------------- filter chains, predictors, dictionaries
namespace dg::files {
namespace {

std::string ascii_hex(const std::string& in) {
  static const char* d = "0123456789ABCDEF";
  std::string o;
  for (unsigned char c : in) {
    o += d[c >> 4];
    o += d[c & 15];
    if (o.size() % 64 == 0) o += '\n';
  }
  return o + ">";
}

std::string ascii85(const std::string& in) {
  std::string o;
  for (std::size_t i = 0; i < in.size(); i += 4) {
    const std::size_t n = std::min<std::size_t>(4, in.size() - i);
    std::uint32_t v = 0;
    for (std::size_t k = 0; k < 4; ++k) v = v << 8 | (k < n ? static_cast<unsigned char>(in[i + k]) : 0);
    if (n == 4 && v == 0) {
      o += 'z';
      continue;
    }
    char g[5];
    for (int k = 4; k >= 0; --k) {
      g[k] = static_cast<char>('!' + v % 85);
      v /= 85;
    }
    o.append(g, n + 1);
  }
  return o + "~>";
}

// PDF LZW (EarlyChange 1): 9- to 12-bit codes, a clear code first and when the table is full, EOD at the end.
std::string lzw(const std::string& in) {
  std::map<std::string, int> table;
  auto reset = [&] {
    table.clear();
    for (int i = 0; i < 256; ++i) table[std::string(1, static_cast<char>(i))] = i;
  };
  std::string out;
  std::uint32_t acc = 0;
  int nbits = 0, width = 9, next = 258;
  auto put = [&](int code) {
    acc = (acc << width) | static_cast<std::uint32_t>(code);
    nbits += width;
    while (nbits >= 8) {
      out += static_cast<char>((acc >> (nbits - 8)) & 0xFF);
      nbits -= 8;
    }
  };
  reset();
  put(256);
  std::string w;
  bool first = true;
  for (char c : in) {
    std::string wc = w + c;
    if (table.count(wc)) {
      w = wc;
      continue;
    }
    put(table[w]);
    // The decoder adds an entry for every code after the first since a clear, and widens one code early.
    if (!first) {
      if (next + 1 >= (1 << width) && width < 12) ++width;
    }
    first = false;
    table[wc] = next++;
    if (next >= 4094) {
      put(table.count(std::string(1, c)) ? table[std::string(1, c)] : 0);  // flush is simpler as a fresh start
      put(256);
      reset();
      next = 258;
      width = 9;
      first = true;
      w.clear();
      continue;
    }
    w = std::string(1, c);
  }
  if (!w.empty()) {
    put(table[w]);
    if (!first && next + 1 >= (1 << width) && width < 12) ++width;
  }
  put(257);
  if (nbits) out += static_cast<char>((acc << (8 - nbits)) & 0xFF);
  return out;
}

std::string run_length(const std::string& in) {
  std::string o;
  for (std::size_t i = 0; i < in.size(); i += 128) {
    const std::size_t n = std::min<std::size_t>(128, in.size() - i);
    o += static_cast<char>(n - 1);
    o += in.substr(i, n);
  }
  return o + '\x80';
}

// PNG "Up" and "Sub" rows over `columns` bytes, as writers predict object streams before Flate.
std::string png_predict(const std::string& in, std::size_t columns) {
  std::string o, prev(columns, '\0');
  for (std::size_t r = 0; r < in.size(); r += columns) {
    std::string row = in.substr(r, columns);
    row.resize(columns, ' ');
    const bool up = (r / columns) % 2 == 0;
    o += static_cast<char>(up ? 2 : 1);
    for (std::size_t i = 0; i < columns; ++i)
      o += static_cast<char>(row[i] - (up ? prev[i] : (i ? row[i - 1] : 0)));
    prev = row;
  }
  return o;
}

const std::string kObjects =
    "1 0 2 52 << /Type /Catalog /Pages 3 0 R /OpenAction 2 0 R >> << /S /JavaScript /JS (app.alert\\(1\\)) >>";
const Counts kWant = {{"/OpenAction", 1}, {"/JavaScript", 1}, {"/JS", 1}};

std::string objstm(const std::string& dict, const std::string& data) {
  return pdf_header() + stream_object(5, "/Type /ObjStm /N 2 /First 9 " + dict, data) + "%%EOF\n";
}

TEST(ActiveContentPdf, FilterChainsAreDecodedInOrder) {
  // Text varied enough to fill the LZW table past 512, 1024, 2048 and 4096 entries.
  // The markers come last, after the table has been filled and cleared.
  std::string long_objects = "%";
  std::uint32_t x = 1;
  for (int i = 0; i < 60000; ++i) {
    x = x * 1103515245 + 12345;
    long_objects += static_cast<char>('a' + (x >> 16) % 16);
  }
  long_objects += "\n" + kObjects;
  const std::pair<std::string, std::string> cases[] = {
      {"/Filter [/FlateDecode /FlateDecode]", zlib_compress(zlib_compress(kObjects))},
      {"/Filter [/ASCIIHexDecode /FlateDecode]", ascii_hex(zlib_compress(kObjects))},
      {"/Filter [/AHx /Fl]", ascii_hex(zlib_compress(kObjects))},
      {"/Filter /ASCII85Decode", ascii85(kObjects)},
      {"/Filter [/A85 /FlateDecode]", ascii85(zlib_compress(kObjects))},
      {"/Filter /LZWDecode", lzw(kObjects)},
      {"/Filter /LZWDecode", lzw(long_objects)},  // past 512 and 4096 table entries
      {"/Filter /RunLengthDecode", run_length(kObjects)},
      {"/Filter [/FlateDecode] /DecodeParms << /Predictor 12 /Columns 7 >>", zlib_compress(png_predict(kObjects, 7))},
      {"/Filter /FlateDecode /DecodeParms [<< /Predictor 15 /Columns 5 /Colors 1 >>]",
       zlib_compress(png_predict(kObjects, 5))},
  };
  for (const auto& [dict, data] : cases) {
    SCOPED_TRACE(dict);
    const ActiveContent r = scan_pdf(bytes_of(objstm(dict, data)));
    EXPECT_EQ(r.counts, kWant);
    EXPECT_FALSE(r.limits_hit);
    EXPECT_EQ(r.streams_inflated, 1u);
  }
  // The spec's own LZW example (PDF 32000-1 7.4.4.2) decodes to "-----A---B".
  const ActiveContent spec = scan_pdf(bytes_of(objstm("/Filter /LZWDecode", "\x80\x0B\x60\x50\x22\x0C\x0C\x85\x01")));
  EXPECT_FALSE(spec.limits_hit);
  EXPECT_EQ(spec.streams_inflated, 1u);
}

TEST(ActiveContentPdf, KeysEndingInObjDoNotHideTheFilter) {
  for (const char* dict : {"/Kobj 1 /Filter /FlateDecode", "/Filter /FlateDecode /Kobj 1", "/Filter /FlateDecode /X (endobj)",
                           "/DecodeParms << /Kobj 2 >> /Filter /FlateDecode"}) {
    SCOPED_TRACE(dict);
    const ActiveContent r = scan_pdf(bytes_of(objstm(dict, zlib_compress(kObjects))));
    EXPECT_EQ(r.counts, kWant);
  }
}

TEST(ActiveContentPdf, RemoteGotoImportAndEncryption) {
  const std::string pdf = pdf_header() +
                          "1 0 obj << /S /GoToR /F (\\\\\\\\host\\\\x.pdf) >> endobj\n"
                          "2 0 obj << /S /GoToE /T << /R /C /N (x) >> >> endobj\n"
                          "3 0 obj << /S /ImportData /F (x.fdf) >> endobj\n"
                          "trailer << /Root 1 0 R /Encrypt 4 0 R >>\n%%EOF\n";
  const ActiveContent r = scan_pdf(bytes_of(pdf));
  EXPECT_EQ(r.counts, (Counts{{"/GoToR", 1}, {"/GoToE", 1}, {"/ImportData", 1}, {"/Encrypt", 1}}));
}

TEST(ActiveContentXml, LongCharacterReferencesXInclude2003EventHandlersAndDataUris) {
  const std::string xml =
      "<ClinicalDocument xmlns=\"urn:hl7-org:v3\" xmlns:x=\"http://www.w3.org/2003/XInclude\">\n"
      "<linkHtml href=\"&#00000000106;avascript:alert(1)\">a</linkHtml>\n"
      "<linkHtml href=\"&#x000000000000006A;avascript:alert(2)\">b</linkHtml>\n"
      "<x:include href=\"other.xml\"/>\n"
      "<svg onload=\"alert(3)\" onset=\"x\"/>\n"
      "<reference value=\"data:text/html;base64,PHNjcmlwdD5hbGVydCg0KTwvc2NyaXB0Pg==\"/>\n"
      "<reference value=\"data:image/png;base64,iVBORw0KGgo=\"/>\n"
      "</ClinicalDocument>\n";
  const ActiveContent r = scan_xml(bytes_of(xml));
  const Counts want = {{"javascript:", 2}, {"xi:include", 1}, {"on*", 2}, {"data:", 1}};
  EXPECT_EQ(r.counts, want);
}

TEST(ActiveContentXml, RelativeStylesheetIsHl7BoilerplateRemoteOneIsNot) {
  const std::string cda = "<?xml version=\"1.0\"?>\n<?xml-stylesheet type=\"text/xsl\" href=\"CDA.xsl\"?>\n"
                          "<ClinicalDocument xmlns=\"urn:hl7-org:v3\"><title>x</title></ClinicalDocument>\n";
  const ActiveContent r = scan_xml(bytes_of(cda));
  EXPECT_TRUE(r.counts.empty());
  EXPECT_EQ(r.relative_stylesheets, 1u);
  for (const char* href : {"http://evil.example/x.xsl", "//evil.example/x.xsl", "javascript:alert(1)",
                           "data:text/xsl,x", "file:///c:/x.xsl", "\\\\\\\\host\\\\x.xsl"}) {
    SCOPED_TRACE(href);
    const std::string x = std::string("<?xml-stylesheet type=\"text/xsl\" href=\"") + href + "\"?><a/>";
    EXPECT_EQ(scan_xml(bytes_of(x)).counts.count("<?xml-stylesheet"), 1u);
  }
}

}  // namespace
}  // namespace dg::files
