// Recognises executable and archive headers in untrusted bytes, validating each one so that random pixel
// data does not raise false alarms, and follows header pointers (PE e_lfanew, ELF program/section headers,
// Mach-O segments, fat-binary slices) so a caller can name the DICOM element that holds the payload.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace dg::files {

// What a loader, a shell or a viewer accepts as the start of something it runs or opens (the preamble rules),
// or what a program embedded in a value starts with (the strict rules).
enum class ExecKind { pe, dos_mz, elf, macho, macho_fat, java_class, script, shell_text, ole, lnk, html, zip };
const char* exec_kind_name(ExecKind k);  // "PE", "ELF", ...
bool is_archive(ExecKind k);             // zip: reported as an archive, not an executable

struct ExecMatch {
  ExecKind kind;
  std::string detail;                 // e.g. "PE32+ x86-64", "ELF64 little-endian", "#! script"
  std::vector<std::uint64_t> points;  // offsets (relative to the start of the span) the header points at
};

// Classifies the bytes starting at s[0]. `strict` asks for a fully validated header (used when searching inside
// values, where a bare "MZ" or "#!" is common noise); the preamble uses strict=false, where the rule is what the
// operating system's loader accepts at offset 0 of a file: Linux binfmt_elf checks the 4-byte ELF magic and
// ignores the class, data and version ident bytes; binfmt_script takes "#!", blanks (spaces or tabs), and any
// interpreter name; bash and sh run a file that execve refuses as a shell script unless a NUL comes before the
// first newline in its first 80 bytes (bash's check_binary_file); Windows starts a .lnk shortcut's target and
// runs an HTML application (.hta) with mshta. `s` may extend past the bytes of interest: header pointers are
// validated against all of it.
std::optional<ExecMatch> classify_at(std::span<const std::uint8_t> s, bool strict);
// Text that bash and sh run as a script (the last of the preamble rules: a PDF or HTML header is text too).
std::optional<ExecMatch> classify_shell_text(std::span<const std::uint8_t> s);
// bash's own test (check_binary_file) for a file execve refused: it runs it as a script unless a NUL byte comes
// before the first line break in its first 80 bytes.
bool bash_runs_as_script(std::span<const std::uint8_t> s);

// Formats a reader opens when they start a file: PDF (readers accept "%PDF-" anywhere in the first 1024
// bytes), RTF, HTML without script. Not programs, but the file then also opens as a document.
enum class DocumentKind { pdf, rtf, html };
const char* document_kind_name(DocumentKind k);
// The document format the preamble starts, if any.
std::optional<DocumentKind> classify_document_preamble(std::span<const std::uint8_t> preamble);
// Where HTML script starts in s ("<script", "<hta:application", or an on...= event handler), or npos.
std::size_t find_html_script(std::span<const std::uint8_t> s);

struct ExecHit {
  std::uint64_t offset;  // within the searched span
  ExecMatch match;
};

struct SearchOptions {
  std::size_t max_hits = 8;
  // Bytes after the searched span that header pointers may be validated against (the rest of the file, so a
  // program whose header points past its element is still recognised).
  std::span<const std::uint8_t> extent = {};
  bool script_at_start = true;  // a "#!" script at offset 0 counts (not for text values, which hold text anyway)
};

// Searches every position of `s` for a strictly validated header. Stops after `max_hits`.
std::vector<ExecHit> find_executables(std::span<const std::uint8_t> s, std::size_t max_hits = 8);
// True when s holds a two-byte prefix of a header searched for (a cheap test before a real search).
bool has_candidate(std::span<const std::uint8_t> s);
std::vector<ExecHit> find_executables(std::span<const std::uint8_t> s, const SearchOptions& o);

// A ZIP end-of-central-directory record that ends exactly at the end of `s` (every ZIP reader starts from it,
// whatever precedes the archive) and whose central directory is where it says (at its offset, or just before
// the record as in self-extracting archives). Returns the record's offset.
std::optional<std::uint64_t> find_zip_eocd(std::span<const std::uint8_t> s);

}  // namespace dg::files
