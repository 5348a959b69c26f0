#include "shodan/queries.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include "shodan/classify.h"

namespace dg::shodan {

namespace {

bool netblock_ok(const std::string& n) {
  const auto slash = n.find('/');
  const std::string addr = n.substr(0, slash);
  unsigned char buf[16];
  const bool v6 = addr.find(':') != std::string::npos;
  if (inet_pton(v6 ? AF_INET6 : AF_INET, addr.c_str(), buf) != 1) return false;
  if (slash == std::string::npos) return true;
  const std::string len = n.substr(slash + 1);
  if (len.empty() || len.size() > 3 || len.find_first_not_of("0123456789") != std::string::npos) return false;
  return std::stoi(len) <= (v6 ? 128 : 32);
}

std::string ports() {
  std::string p;
  for (unsigned port : kDicomPorts) p += (p.empty() ? "" : ",") + std::to_string(port);
  return p;
}

std::string censys_ports() {
  std::string p;
  for (unsigned port : kDicomPorts) p += (p.empty() ? "" : ", ") + std::to_string(port);
  return p;
}

// The searches, given Shodan's and Censys' filter for "our" hosts.
std::string render(const std::string& what, const std::string& shodan_filter, const std::string& censys_filter,
                   const std::string& file_stem) {
  std::string s;
  s += fmt::format("# Searches for the DICOM services of {}: run them yourself, with your own accounts.\n", what);
  s += "# dicomguard sends nothing to Shodan or Censys; it reads what you download.\n\n";
  s += "## Shodan (https://www.shodan.io/search, or the shodan CLI: pip install shodan; shodan init KEY)\n\n";
  const std::string q1 = fmt::format("{} port:{}", shodan_filter, ports());
  const std::string q2 = fmt::format("{} \"DICOM\"", shodan_filter);
  const std::string q3 = fmt::format("{} http.title:\"Orthanc\"", shodan_filter);
  const std::string q4 = fmt::format("{} \"application/dicom+json\"", shodan_filter);
  for (const auto& q : {q1, q2, q3, q4}) s += "    " + q + "\n";
  s += "\n  Download each (the export is gzip JSON Lines, one banner per line):\n\n";
  s += fmt::format("    shodan download --limit -1 {}-ports '{}'\n", file_stem, q1);
  s += fmt::format("    shodan download --limit -1 {}-dicom '{}'\n", file_stem, q2);
  s += fmt::format("    shodan download --limit -1 {}-orthanc '{}'\n", file_stem, q3);
  s += fmt::format("    shodan download --limit -1 {}-dicomweb '{}'\n", file_stem, q4);
  s += "\n## Censys (https://search.censys.io, or the censys CLI: pip install censys; censys config)\n\n";
  const std::string c1 = fmt::format(
      "{} and (services.service_name: DICOM or services.port: {{{}}} or services.http.response.html_title: "
      "\"Orthanc\" or services.http.response.body: \"application/dicom+json\")",
      censys_filter, censys_ports());
  s += "    " + c1 + "\n";
  s += "\n  Download the hosts (JSON):\n\n";
  s += fmt::format("    censys search '{}' --index-type hosts --pages -1 > {}-censys.json\n", c1, file_stem);
  s += "\n## Then\n\n";
  s += fmt::format("    dicomguard shodan {0}-*.json.gz {0}-censys.json             # what they saw\n", file_stem);
  s += fmt::format(
      "    dicomguard shodan --verify --json {0}-*.json.gz {0}-censys.json > seen.jsonl   # and what is true today\n",
      file_stem);
  s += "    dicomguard report seen.jsonl --out report.html\n";
  return s;
}

}  // namespace

std::string queries_for_netblocks(const std::vector<std::string>& netblocks, std::string& error) {
  if (netblocks.empty()) {
    error = "--query needs at least one netblock (e.g. 192.0.2.0/24)";
    return {};
  }
  std::string shodan, censys, what;
  for (const auto& n : netblocks) {
    if (!netblock_ok(n)) {
      error = "'" + n + "' is not a netblock (an address, or address/prefix such as 192.0.2.0/24)";
      return {};
    }
    shodan += (shodan.empty() ? "net:" : ",") + n;
    censys += (censys.empty() ? "" : " or ") + fmt::format("ip: \"{}\"", n);
    what += (what.empty() ? "" : ", ") + n;
  }
  if (netblocks.size() > 1) censys = "(" + censys + ")";
  return render(what, shodan, censys, "mynet");
}

std::string queries_for_org(const std::string& org, std::string& error) {
  if (org.empty() || org.find_first_of("\"\\\r\n'") != std::string::npos || org.size() > 200) {
    error = "--org takes an organisation name without quotes, backslashes or line breaks";
    return {};
  }
  return render("'" + org + "'", fmt::format("org:\"{}\"", org),
                fmt::format("(autonomous_system.name: \"{0}\" or whois.organization.name: \"{0}\")", org), "myorg");
}

}  // namespace dg::shodan
