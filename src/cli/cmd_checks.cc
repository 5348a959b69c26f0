// dicomguard checks: lists the check catalog.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "findings/catalog.h"

namespace dg::cli {

Action add_checks(CLI::App& app) {
  auto* sub = app.add_subcommand("checks", "List every check: ID, severity, title (the catalog)");
  auto json = std::make_shared<bool>(false);
  auto id = std::make_shared<std::string>();
  sub->add_flag("--json", *json, "One JSON object per check");
  sub->add_option("ID", *id, "Show one check in full: why it matters, how to fix it, mappings");
  return [json, id]() {
    const Catalog& c = Catalog::builtin();
    if (!id->empty()) {
      const CheckInfo* ci = c.find(*id);
      if (!ci) {
        std::fprintf(stderr, "dicomguard checks: no check with ID '%s' (run 'dicomguard checks' for the list)\n",
                     id->c_str());
        return kExitError;
      }
    }
    for (const CheckInfo& ci : c.all()) {
      if (!id->empty() && ci.id != *id) continue;
      if (*json) {
        nlohmann::json j{{"type", "check"}, {"id", ci.id},   {"severity", to_string(ci.severity)}, {"title", ci.title},
                         {"why", ci.why},   {"fix", ci.fix}, {"nist", ci.nist},  {"attack", ci.attack},
                         {"mnp", ci.mnp}};
        std::printf("%s\n", j.dump().c_str());
      } else if (!id->empty()) {
        std::printf("%s  (%s)\n%s\n\nWhy it matters:\n%s\n\nHow to fix:\n%s\n", ci.id.c_str(),
                    std::string(to_string(ci.severity)).c_str(), ci.title.c_str(), ci.why.c_str(), ci.fix.c_str());
        if (!ci.nist.empty()) {
          std::printf("\nNIST:");
          for (const auto& n : ci.nist) std::printf(" %s;", n.c_str());
          std::printf("\n");
        }
        if (!ci.mnp.empty()) std::printf("NSA Manageable Network Plan: %s\n", ci.mnp.c_str());
        if (!ci.attack.empty()) {
          std::printf("ATT&CK:");
          for (const auto& a : ci.attack) std::printf(" %s;", a.c_str());
          std::printf("\n");
        }
      } else {
        std::printf("%-28s %-9s %s\n", ci.id.c_str(), std::string(to_string(ci.severity)).c_str(), ci.title.c_str());
      }
    }
    return kExitClean;
  };
}

}  // namespace dg::cli
