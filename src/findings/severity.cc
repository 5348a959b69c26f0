#include "findings/severity.h"

namespace dg {

std::string_view to_string(Severity s) {
  switch (s) {
    case Severity::info: return "info";
    case Severity::low: return "low";
    case Severity::medium: return "medium";
    case Severity::high: return "high";
    case Severity::critical: return "critical";
  }
  return "info";
}

std::optional<Severity> parse_severity(std::string_view s) {
  for (Severity v : {Severity::info, Severity::low, Severity::medium, Severity::high, Severity::critical})
    if (to_string(v) == s) return v;
  return std::nullopt;
}

}  // namespace dg
