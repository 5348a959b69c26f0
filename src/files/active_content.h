// Looks for active content in the value of an Encapsulated Document (0042,0011): PDF (JavaScript, launch and
// open actions, embedded files, forms, links), CDA / XML (DTDs and external entities, XInclude, stylesheets,
// scripts, external references) and checks that a declared MIME type (0042,0012) fits the bytes.
//
// The bytes are hostile. Every function here is linear in the input, bounded in memory (decompression goes
// through zlib with a capped output, never sized from a declared length), never prints and never throws:
// on an internal failure (e.g. out of memory) a scan returns what it counted so far with limits_hit set.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>

namespace dg::files {

struct ActiveContentLimits {
  std::size_t max_inflated_per_stream = 8u << 20;   // bytes of decoded output scanned per stream (two stages
                                                    // of a filter chain are held at once)
  std::size_t max_inflated_total = 64u << 20;       // ... and per document
  std::size_t max_streams = 10000;                  // FlateDecode streams decompressed per document
};

struct ActiveContent {
  // Sniffed type of the bytes (not the type the caller asked to scan them as): "application/pdf", "text/xml",
  // "model/stl", "model/obj", "model/mtl" or "unknown".
  std::string content_type;
  // Marker -> occurrences; only markers seen (count > 0).
  //  PDF: "/JavaScript" "/JS" "/OpenAction" "/AA" "/Launch" "/EmbeddedFile" "/RichMedia" "/XFA" "/SubmitForm"
  //       "/URI" "/GoToR" "/GoToE" "/ImportData" -- whole name tokens after #xx decoding, in the raw file outside
  //       stream data, in unfiltered stream data, and in the decoded data of streams whose filter chain is made
  //       of FlateDecode, ASCIIHexDecode, ASCII85Decode, LZWDecode and RunLengthDecode (applied in order;
  //       object streams included).
  //  XML: "<!DOCTYPE" "<!ENTITY" "SYSTEM" "PUBLIC" (external identifiers in DOCTYPE / ENTITY declarations)
  //       "xi:include" (either XInclude namespace) "<?xml-stylesheet" (one that is not a relative reference)
  //       "<script" "javascript:" (also vbscript:) "on*" (event handler attributes such as onload)
  //       "external-reference" (attribute value or DTD system literal starting with http://, https://,
  //       file://, ftp:// or a UNC path \\host). Character references are decoded first.
  std::map<std::string, std::uint64_t> counts;
  // PDF FlateDecode streams decompressed and scanned (including object streams /ObjStm), completely or up to a
  // limit. Image streams (/Subtype /Image, not /ObjStm) are not decompressed: pixels carry no PDF syntax.
  std::uint64_t streams_inflated = 0;
  // Some stream was not (fully) scanned because of a limit or a zlib error, or an object stream used a filter
  // this module does not decode.
  bool limits_hit = false;
  // XML: stylesheets given as relative references (HL7's <?xml-stylesheet href="CDA.xsl"?>): not active.
  std::uint64_t relative_stylesheets = 0;
  bool active() const { return !counts.empty(); }
};

std::string_view sniff_content_type(std::span<const std::uint8_t> bytes);
// The same from the document's first bytes (at least its first kSniffBytes, or all of it) and its total size.
inline constexpr std::size_t kSniffBytes = 64u << 10;
std::string_view sniff_content_type(std::span<const std::uint8_t> head, std::uint64_t size);

ActiveContent scan_pdf(std::span<const std::uint8_t> bytes, const ActiveContentLimits& lim = {});
ActiveContent scan_xml(std::span<const std::uint8_t> bytes);

// Dispatches on the sniffed type (pdf -> scan_pdf, xml -> scan_xml, others: counts empty, content_type set).
ActiveContent scan_document(std::span<const std::uint8_t> bytes, const ActiveContentLimits& lim = {});

// True when a declared MIME type (e.g. the value of (0042,0012); surrounding spaces/NULs trimmed, case-insensitive,
// parameters after ';' ignored) is compatible with the bytes: application/pdf (and application/x-pdf) needs %PDF-;
// text/xml, application/xml and any text/... or application/...+xml (application/hl7-cda+xml) need XML;
// model/stl (and application/sla, model/x.stl-ascii, model/x.stl-binary) needs "solid" or a size of 84 + 50 n;
// model/obj and model/mtl need Wavefront content of that kind. Empty or other declared types -> true.
bool mime_matches(std::string_view declared_mime, std::span<const std::uint8_t> bytes);
bool mime_matches(std::string_view declared_mime, std::span<const std::uint8_t> head, std::uint64_t size);

}  // namespace dg::files
