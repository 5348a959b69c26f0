// The check catalog: one entry per stable check ID, loaded from data/checks.json (embedded at build time).
// The report, SARIF rules and `dicomguard checks` all read it; nothing repeats its text.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "findings/severity.h"

namespace dg {

struct CheckInfo {
  std::string id;
  Severity severity;
  std::string title;
  std::string why;   // why it matters, for a PACS administrator or a CISO
  std::string fix;   // how to fix it
  std::vector<std::string> nist;    // NIST SP 1800-24 / CSF mappings
  std::vector<std::string> attack;  // MITRE ATT&CK technique IDs
  std::string mnp;                  // the NSA Manageable Network Plan step that fixes or prevents it
};

class Catalog {
 public:
  static const Catalog& builtin();
  const CheckInfo* find(std::string_view id) const;
  const std::vector<CheckInfo>& all() const { return checks_; }

  // Parses a catalog document; throws std::runtime_error with a clear message on a bad entry.
  static Catalog parse(std::string_view json_text);

 private:
  std::vector<CheckInfo> checks_;
};

}  // namespace dg
