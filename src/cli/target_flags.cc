#include "cli/target_flags.h"

#include <cstdio>

namespace dg::cli {

bool build_targets(const char* cmd, const TargetFlags& f, scan::TargetSet& targets) {
  std::string err;
  auto ports = scan::parse_ports(f.ports, err);
  if (ports.empty()) {
    std::fprintf(stderr, "dicomguard %s: --ports: %s\n", cmd, err.c_str());
    return false;
  }
  targets.set_ports(ports);
  for (const auto& t : f.targets)
    if (!targets.add(t, err)) {
      std::fprintf(stderr, "dicomguard %s: %s\n", cmd, err.c_str());
      return false;
    }
  for (const auto& l : f.lists)
    if (!targets.add_file(l, err)) {
      std::fprintf(stderr, "dicomguard %s: %s\n", cmd, err.c_str());
      return false;
    }
  for (const auto& e : f.exclude)
    if (!targets.exclude(e, err)) {
      std::fprintf(stderr, "dicomguard %s: --exclude: %s\n", cmd, err.c_str());
      return false;
    }
  if (targets.blocks().empty()) {
    std::fprintf(stderr, "dicomguard %s: no targets (give TARGET... or -iL FILE)\n", cmd);
    return false;
  }
  return true;
}

}  // namespace dg::cli
