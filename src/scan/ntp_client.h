// The UDP side of the --ntp pass: for each host, one NTP client request (mode 3) and one mode 6 READVAR request
// to its NTP port, from a connected UDP socket of its own (so an ICMP port unreachable ends it at once), many
// hosts at a time with poll(2), each within the timeout. The bytes are built and parsed by scan/ntp.h; this file
// only sends, waits and stamps times.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "scan/ntp.h"
#include "scan/targets.h"

namespace dg::scan::ntp {

struct QueryOptions {
  std::uint16_t port = 123;
  std::chrono::milliseconds timeout{5000};  // per host, for both answers
  std::size_t concurrency = 256;            // hosts in flight at once
  bool mode6 = true;                        // also send the READVAR request
};

// One Result per address, in order; nts_* are left for the caller (the session's NTS-KE probe).
std::vector<Result> query(const std::vector<Addr>& hosts, const QueryOptions& opt);

}  // namespace dg::scan::ntp
