// The demo's bundled sample set: synthetic DICOM Part 10 files (every patient invented), clean ones and the
// dangerous kinds `dicomguard files` finds: preamble polyglots (PE, ELF, shell script), a program in a private
// element, an appended ZIP/JAR, an unexplained preamble, an encapsulated PDF with JavaScript, a CDA with an
// external entity, and malformed files.
#pragma once

#include <string>

namespace dg::lab {

// Writes the samples into `dir` (created if missing); returns how many files, or throws std::runtime_error.
int write_samples(const std::string& dir);

}  // namespace dg::lab
