// What `deid` runs besides de-identifying: the residual-PHI verifier (cmd_deid_verify.cc).
#pragma once

#include <string>
#include <vector>

#include "cli/output.h"

namespace dg::cli {

struct VerifyFlags {
  std::string outdir;               // --verify OUTDIR
  std::vector<std::string> against;  // --against INPUT (files or folders)
  int jobs = 0;
  const OutputFlags* out = nullptr;
};

// dicomguard deid --verify OUTDIR [--against INPUT]: one {"type":"verify"} record per file of OUTDIR (its
// .quarantine folder left out) and a summary of command "deid-verify". Exit 0 when every file is clean, 1 when one
// holds residual patient data (or is not a readable DICOM file), 2 on a usage or I/O error.
int run_deid_verify(const VerifyFlags& f);

}  // namespace dg::cli
