// What an internet search engine (Shodan, Censys) saw on one port of one address at one time, read from its
// export: the fields dicomguard uses, nothing else (no location, no raw HTML kept past recognition).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dg::shodan {

struct Observation {
  std::string source;     // "shodan" or "censys"
  std::string address;    // as the export writes it (IPv4 or IPv6 text)
  std::uint16_t port = 0;
  std::string transport = "tcp";
  std::string seen;       // UTC, "YYYY-MM-DDTHH:MM:SSZ"; empty when the export gave no readable time
  std::string module;     // Shodan's _shodan.module, Censys' service name (lower case): "dicom", "http", ...
  std::string data;       // the banner as bytes (Shodan's "data" with code points <= 0xFF as bytes; Censys'
                          // banner_hex decoded, else its banner)
  std::string product, version;                 // as the search engine named them
  std::string http_title, http_server, http_location, http_auth;  // HTTP response fields when there was one
  int http_status = -1;
  std::string http_body;  // the first 64 KiB of the HTML, for recognition only (never written out)
  bool http = false;
  bool tls = false;
  std::vector<std::string> tls_versions;  // Shodan's ssl.versions ("TLSv1.2", "-SSLv3": offered / refused)
  std::string org, asn;
  std::vector<std::string> hostnames;
};

// "address:port" as scan names targets (an IPv6 address in brackets): findings' targets and --verify's.
inline std::string endpoint(const std::string& address, unsigned port) {
  return (address.find(':') != std::string::npos ? "[" + address + "]" : address) + ":" + std::to_string(port);
}
inline std::string endpoint(const Observation& o) { return endpoint(o.address, o.port); }

}  // namespace dg::shodan
