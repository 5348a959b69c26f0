// Lossless preamble sanitizer: rewrites bytes 0-127 only, proves it with SHA-256 of bytes 128..EOF, and never
// loses the original (atomic replace with a kept backup; a kill -9 at any moment leaves the old or the new file).
#pragma once

#include <string>

#include "files/analyze.h"

namespace dg::files {

struct SanitizeOptions {
  bool keep_tiff = false;       // keep a TIFF/BigTIFF preamble (dual TIFF/DICOM files)
  bool backup = true;           // keep the original in backup_dir
  std::string backup_dir;       // default: ".dicomguard-backup" inside the file's folder
  bool dry_run = false;         // say what would be done, change nothing
  bool force = false;           // rewrite the preamble even when the dataset does not parse
  std::string quarantine_dir;   // move files with executable payloads here instead of rewriting them
};

// Marker file written into every backup and quarantine folder: sanitize skips folders that hold it.
inline constexpr const char* kKeptMarker = ".dicomguard-kept";

// Builds the record for one file: type "sanitize", status = action
// (rewritten, unchanged, quarantined, would-rewrite, would-quarantine, refused, error).
Record sanitize_file(const std::string& path, const SanitizeOptions& opt, const AnalyzeOptions& aopt = {});

}  // namespace dg::files
