// PS3.15 Table E.3.10-1 Safe Private Attributes (edition 2026d, data/deid/safe_private_attributes.json), the list
// the Retain Safe Private Option keeps: matched by private creator and element offset, never by raw tag. The
// block number comes from the Private Creator element (gggg,00xx) that reserves (gggg,xx00-xxFF) (PS3.5 7.8.1).
#pragma once

#include <cstdint>
#include <string_view>

namespace dg::deid {

// True when (group, xx + offset) under the private creator `creator` is in the table (creator compared after
// trailing spaces and NULs are removed; hex digits without regard to case).
bool is_safe_private(std::uint16_t group, std::uint8_t offset, std::string_view creator);
// Rows read from the table (for tests).
std::size_t safe_private_rows();

}  // namespace dg::deid
