// dicomguard shodan FILE...: what Shodan or Censys saw of your DICOM services (their JSON exports), what each
// banner proves, and with --verify what is true today; --query/--org print the searches to download (the work is
// in src/shodan/).
#include <algorithm>
#include <cstdio>
#include <set>

#include "cli/cmd_scan.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "findings/tally.h"
#include "shodan/collect.h"
#include "shodan/queries.h"

namespace dg::cli {

namespace {

struct ShodanFlags {
  std::vector<std::string> files;
  std::vector<std::string> query;
  std::string org;
  bool verify = false, discover = false;
  double timeout = 5;
  std::uint64_t seed = 0;
  std::string fail_on = "medium";
  OutputFlags out;
};

int usage(const std::string& msg) {
  std::fprintf(stderr, "dicomguard shodan: %s\n", msg.c_str());
  return kExitError;
}

// Passes the verifying scan's records through and keeps its summary for ours; notes which endpoints still answer
// DICOM today.
class VerifySink : public Sink {
 public:
  explicit VerifySink(Sink& to) : to_(to) {}
  void prepare(Record& r) const override { to_.prepare(r); }
  std::string record(const Record& r) override {
    if (r.type == "service") {
      const auto& f = r.fields;
      const std::string proto = f.value("protocol", "");
      const bool dicom = proto == "dimse" || proto == "dimse-tls" || f.value("dicom", false);
      if (dicom) dicom_now.insert(shodan::endpoint(f.value("address", ""), f.value("port", 0u)));
    }
    return to_.record(r);
  }
  std::string end(const nlohmann::json& summary) override {
    scan_summary = summary;
    return {};
  }
  nlohmann::json scan_summary;
  std::set<std::string> dicom_now;

 private:
  Sink& to_;
};

int run(ShodanFlags& f) {
  if (!f.query.empty() || !f.org.empty()) {
    if (!f.files.empty() || f.verify) return usage("--query and --org print searches; give FILE... on its own run");
    if (!f.query.empty() && !f.org.empty()) return usage("--query or --org, not both");
    std::string err;
    const std::string text = f.org.empty() ? shodan::queries_for_netblocks(f.query, err)
                                           : shodan::queries_for_org(f.org, err);
    if (!err.empty()) return usage(err);
    std::fputs(text.c_str(), stdout);
    return kExitClean;
  }
  if (f.files.empty()) return usage("no FILE given (a Shodan or Censys export; --query NETBLOCK prints the searches)");
  if (f.discover && !f.verify) return usage("--discover is for --verify");
  const auto fail_on = parse_severity(f.fail_on);
  if (!fail_on) return usage("--fail-on takes critical, high, medium, low or info");

  shodan::Collected c;
  for (const auto& path : f.files) shodan::collect_file(path, c);
  for (const auto& s : c.skipped) std::fprintf(stderr, "dicomguard shodan: skipped %s\n", s.c_str());
  if (c.malformed > c.skipped.size())
    std::fprintf(stderr, "dicomguard shodan: %llu malformed lines skipped in all\n",
                 static_cast<unsigned long long>(c.malformed));
  for (const auto& e : c.errors) std::fprintf(stderr, "dicomguard shodan: %s\n", e.c_str());

  std::vector<const shodan::Entry*> entries;
  for (const auto& [key, e] : c.dicom) entries.push_back(&e);
  std::sort(entries.begin(), entries.end(), [](const shodan::Entry* a, const shodan::Entry* b) {
    if (a->latest.address != b->latest.address) return a->latest.address < b->latest.address;
    if (a->latest.port != b->latest.port) return a->latest.port < b->latest.port;
    return a->latest.source < b->latest.source;
  });

  auto sinks = f.out.make_sinks();
  Tally tally("shodan", "services");
  for (int i = 0; i < static_cast<int>(c.errors.size()); ++i) tally.add_error();
  std::vector<std::string> endpoints;  // to re-check, each once whoever saw it
  for (const shodan::Entry* e : entries) {
    Record r = shodan::make_record(*e);
    tally.add(r);
    sinks->prepare(r);
    sinks->record(r);
    const std::string ep = shodan::endpoint(e->latest);
    if (std::find(endpoints.begin(), endpoints.end(), ep) == endpoints.end()) endpoints.push_back(ep);
  }
  nlohmann::json summary = tally.summary();
  summary["inputs"] = f.files.size();
  summary["banners"] = c.banners;
  summary["not_dicom"] = c.not_dicom;
  summary["malformed"] = c.malformed;
  int code = tally.failed(*fail_on) ? kExitFindings : kExitClean;
  if (f.verify && !endpoints.empty()) {
    ScanFlags sf;
    sf.targets = endpoints;
    sf.discover = f.discover;
    sf.timeout = f.timeout;
    sf.seed = f.seed;
    sf.fail_on = f.fail_on;
    sf.progress = "never";
    VerifySink vs(*sinks);
    const int scan_code = run_scan(sf, vs);
    if (scan_code == kExitError && vs.scan_summary.is_null()) return kExitError;
    nlohmann::json v = vs.scan_summary;
    v.erase("type");
    v["endpoints"] = endpoints.size();
    std::size_t still = 0;
    for (const auto& ep : endpoints) still += vs.dicom_now.count(ep);
    v["still_dicom"] = still;
    v["not_dicom_now"] = endpoints.size() - still;
    summary["verify"] = v;
    if (scan_code == kExitFindings) code = kExitFindings;
  } else if (f.verify) {
    summary["verify"] = {{"endpoints", 0}, {"still_dicom", 0}, {"not_dicom_now", 0}};
  }
  if (std::string err = sinks->end(summary); !err.empty()) return usage(err);
  if (tally.errors()) return kExitError;
  return code;
}

}  // namespace

Action add_shodan(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "shodan", "What Shodan or Censys saw of your DICOM services (their JSON exports); --verify re-checks them now");
  auto f = std::make_shared<ShodanFlags>();
  sub->add_option("FILE", f->files,
                  "Shodan exports (shodan download / shodan parse: JSON Lines, plain or gzip) or Censys host JSON; - "
                  "for stdin");
  sub->add_option("--query", f->query, "Print the Shodan and Censys searches for these netblocks (e.g. 192.0.2.0/24)")
      ->expected(1, -1);
  sub->add_option("--org", f->org, "Print the Shodan and Censys searches for this organisation name");
  sub->add_flag("--verify", f->verify,
                "Scan each DICOM endpoint the exports name, now (only those), and write its records after them");
  sub->add_flag("--discover", f->discover, "--verify: one association per service (scan --discover) instead of the assessment");
  sub->add_option("--timeout", f->timeout, "--verify: seconds per network operation")->capture_default_str();
  sub->add_option("--seed", f->seed, "--verify: seed for the scan's random AE titles and IDs (0: random)");
  sub->add_option("--fail-on", f->fail_on, "Exit 1 when a finding is at or above this severity")->capture_default_str();
  f->out.add_to(*sub);
  sub->footer("Only the files given are read; nothing is sent to Shodan or Censys. With --verify, only the endpoints "
              "the exports name are contacted. Exit 0 clean, 1 findings at or above --fail-on, 2 usage or read error.");
  return [f]() { return run(*f); };
}

}  // namespace dg::cli
