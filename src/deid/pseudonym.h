// Keyed, stateless pseudonyms: the same key gives the same UID, identifier and date shift on every machine, with
// no shared state (HMAC-SHA-256, OpenSSL). Nothing here logs or returns the key.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace dg::deid {

using Key = std::array<std::uint8_t, 32>;

// Reads a key file: exactly 32 bytes. Returns "" or why not (never the key). `warning` is set when the file is
// readable by its group or others.
std::string load_key(const std::string& path, Key& key, std::string& warning);
// Writes 32 random bytes to a new file (mode 0600, refused when the file exists). Returns "" or why not.
std::string new_key(const std::string& path);

// HMAC-SHA-256(key, domain | 0x00 | value).
std::array<std::uint8_t, 32> hmac(const Key& key, std::string_view domain, std::string_view value);

// A registry UID of the standard (1.2.840.10008.*): never changed.
bool is_registry_uid(std::string_view uid);
// "2.25." + the decimal of the first 128 bits (big endian) of HMAC(key, "uid" | uid); a registry UID unchanged.
std::string map_uid(const Key& key, std::string_view uid);
// A keyed identifier of at most max_len characters (upper-case base32 of HMAC(key, "id" | value), at most 16).
std::string map_id(const Key& key, std::string_view value, std::size_t max_len);
// Whole days in [1, range] to shift a patient's dates back by (0 when range is 0): from HMAC(key, "date" |
// patient_id). Never 0 otherwise: a modified date is always a different date.
int date_shift_days(const Key& key, std::string_view patient_id, int range);
// A DA value (YYYYMMDD) shifted back by `days`; "" when it is not a valid date.
std::string shift_da(std::string_view da, int days);
// A DT value shifted back by `days` in its date part (the time and offset kept); "" when its date is invalid.
std::string shift_dt(std::string_view dt, int days);
// Lower-case hex of bytes.
std::string to_hex(const std::uint8_t* p, std::size_t n);

}  // namespace dg::deid
