// Target flags shared by scan and tls: TARGET..., -iL FILE, -p PORTS, --exclude.
#pragma once

#include <string>
#include <vector>

#include "scan/targets.h"

namespace dg::cli {

struct TargetFlags {
  std::vector<std::string> targets, lists, exclude;
  std::string ports;
};

// Fills `out`; on a usage error prints "dicomguard CMD: ..." to stderr and returns false.
bool build_targets(const char* cmd, const TargetFlags& f, scan::TargetSet& out);

}  // namespace dg::cli
