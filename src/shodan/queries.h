// The Shodan and Censys searches an administrator runs for their own networks (by netblock or by organisation
// name) to download what those engines saw of their DICOM services, and the commands that download them.
#pragma once

#include <string>
#include <vector>

namespace dg::shodan {

// Netblocks "192.0.2.0/24", "2001:db8::/32" or single addresses; `error` names the first one that is not.
std::string queries_for_netblocks(const std::vector<std::string>& netblocks, std::string& error);
std::string queries_for_org(const std::string& org, std::string& error);

}  // namespace dg::shodan
