// HTML escaping for text and attribute values: the one escaper of every HTML page dicomguard writes (report,
// explain, rfp and mds2 tables).
#pragma once

#include <string>
#include <string_view>

namespace dg::util {

// & < > " ' as character references; everything else as is (UTF-8 passes through).
std::string html_escape(std::string_view s);

}  // namespace dg::util
