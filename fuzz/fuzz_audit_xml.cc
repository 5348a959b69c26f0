// libFuzzer target for the A.5 audit message validation: the hardened libxml2 parse, the embedded RELAX NG schema
// and the semantic rules, on what a sender puts after the syslog header.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "audit/xml_validate.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto f = dg::audit::validate_message(std::string_view(reinterpret_cast<const char*>(data), size));
  (void)f;
  return 0;
}
