// Severity levels shared by every check, sink and exit-code decision.
#pragma once

#include <optional>
#include <string_view>

namespace dg {

enum class Severity { info = 0, low = 1, medium = 2, high = 3, critical = 4 };

std::string_view to_string(Severity s);
std::optional<Severity> parse_severity(std::string_view s);

}  // namespace dg
