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

enum class ExecKind { pe, dos_mz, elf, macho, macho_fat, java_class, script, ole, zip };
const char* exec_kind_name(ExecKind k);  // "PE", "ELF", ...
bool is_archive(ExecKind k);             // zip: reported as an archive, not an executable

struct ExecMatch {
  ExecKind kind;
  std::string detail;                 // e.g. "PE32+ x86-64", "ELF64 little-endian", "#! script"
  std::vector<std::uint64_t> points;  // offsets (relative to the start of the span) the header points at
};

// Classifies the bytes starting at s[0]. `strict` asks for a fully validated header (used when searching inside
// values, where a bare "MZ" or "#!" is common noise); the preamble uses strict=false.
std::optional<ExecMatch> classify_at(std::span<const std::uint8_t> s, bool strict);

struct ExecHit {
  std::uint64_t offset;  // within the searched span
  ExecMatch match;
};

// Searches every position of `s` for a strictly validated header. Stops after `max_hits`.
std::vector<ExecHit> find_executables(std::span<const std::uint8_t> s, std::size_t max_hits = 8);

// Finds a ZIP end-of-central-directory record in the last 64 KiB + 22 bytes of `s`; returns its offset.
std::optional<std::uint64_t> find_zip_eocd(std::span<const std::uint8_t> s);

}  // namespace dg::files
