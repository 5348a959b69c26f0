// dicomguard demo: the whole tool end to end on this machine only. Starts the practice lab on 127.0.0.1, scans
// it (TLS graded too), checks a bundled sample set of synthetic files (polyglots, active documents, malformed
// files), writes the report, says where it is, and stops the lab.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <thread>
#include <vector>

#include "cli/cmd_files.h"
#include "cli/cmd_scan.h"
#include "cli/commands.h"
#include "findings/sink.h"
#include "gateway/config.h"
#include "gateway/log.h"
#include "gateway/server.h"
#include "lab/lab.h"
#include "lab/samples.h"
#include "report/checklist.h"
#include "report/results.h"

extern char** environ;

namespace dg::cli {

namespace fs = std::filesystem;

namespace {

// Runs this binary with `args` (the report), its standard output into `out_path`; returns its exit code (-1: not
// started).
int run_self(const std::vector<std::string>& args, const std::string& out_path) {
  std::vector<std::string> full = {"dicomguard"};
  full.insert(full.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : full) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, "/proc/self/exe", &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return -1;
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Keeps the summary a run ends with, so that the demo can say it in the text sink's words.
class SummaryOf : public Sink {
 public:
  explicit SummaryOf(nlohmann::json& out) : out_(out) {}
  std::string record(const Record&) override { return {}; }
  std::string end(const nlohmann::json& summary) override {
    out_ = summary;
    return {};
  }

 private:
  nlohmann::json& out_;
};

// JSON Lines into `path` and the summary into `summary`; nullptr when the file cannot be opened.
std::unique_ptr<MultiSink> sinks_into(const std::string& path, std::FILE*& file, nlohmann::json& summary) {
  file = std::fopen(path.c_str(), "w");
  if (!file) return nullptr;
  auto m = std::make_unique<MultiSink>();
  m->add(make_jsonl_sink(file));
  m->add(std::make_unique<SummaryOf>(summary));
  return m;
}


// The fix, measured: the legacy archive scanned as it is (plain DIMSE), then the gateway put in front of it with a
// certificate from a private CA made here, and its port scanned and graded. Writes before.jsonl and after.jsonl;
// returns "" or what failed.
std::string demo_fix(const fs::path& dir, std::uint16_t legacy, const std::string& before, const std::string& after) {
  const std::string target = "127.0.0.1:" + std::to_string(legacy);
  nlohmann::json summary;
  std::FILE* file = nullptr;
  auto sinks = sinks_into(before, file, summary);
  if (!sinks) return "cannot write " + before;
  ScanFlags sf;
  sf.targets = {target};
  sf.called_aes = {"LEGACY_PACS"};
  sf.progress = "never";
  const int rb = run_scan(sf, *sinks);
  if (std::fclose(file) != 0 || rb < 0 || rb > 1) return "the scan of the legacy archive failed";
  std::printf("   before: %s\n", text_summary(summary).c_str());

  const std::string ca = (dir / "ca").string();
  std::error_code ec;
  fs::remove_all(ca, ec);
  if (run_self({"ca", "init", ca, "--name", "demo"}, (dir / "ca.log").string()) != 0 ||
      run_self({"ca", "issue", ca, "--name", "localhost", "--ip", "127.0.0.1", "--ae", "LEGACY_PACS"},
               (dir / "ca-issue.log").string()) != 0 ||
      run_self({"ca", "issue", ca, "--name", "scanner.demo", "--ae", "DGSCAN"}, (dir / "ca-issue-scanner.log").string()) != 0)
    return "dicomguard ca could not issue the gateway's certificate";
  gateway::GatewaySpec spec;
  gateway::RouteSpec route;
  route.name = "legacy";
  route.listen = "127.0.0.1:0";
  route.tls_cert = ca + "/issued/localhost-chain.pem";
  route.tls_key = ca + "/issued/localhost.key";
  route.tls_ca = ca + "/ca.crt";
  route.require_client_cert = true;  // mutual TLS: the scan below presents a certificate from the same CA
  route.allow_calling = {"MODALITY1@scanner.demo"};  // one calling AE, bound to one certificate
  route.upstream = target;
  route.called_ae = "LEGACY_PACS";
  spec.routes = {route};
  std::FILE* log_file = std::fopen((dir / "gateway.jsonl").c_str(), "w");
  if (!log_file) return "cannot write gateway.jsonl";
  auto log_sink = make_jsonl_sink(log_file);
  gateway::LogObserver log(*log_sink);
  std::unique_ptr<gateway::Server> server;
  std::uint16_t port = 0;
  try {
    server = std::make_unique<gateway::Server>(gateway::build_config(spec), log);
    port = server->listen().at(0);
  } catch (const std::exception& e) {
    std::fclose(log_file);
    return std::string("the gateway did not start: ") + e.what();
  }
  std::thread gw([&server] { server->run(false); });
  const std::string gw_target = "127.0.0.1:" + std::to_string(port);
  std::printf("   dicomguard gateway --listen %s --tls-cert %s/issued/localhost-chain.pem --tls-key ... --tls-ca %s/ca.crt "
              "--require-client-cert --allow-calling MODALITY1@scanner.demo --upstream %s --called-ae LEGACY_PACS\n",
              gw_target.c_str(), ca.c_str(), ca.c_str(), target.c_str());
  std::fflush(stdout);
  std::string error;
  file = nullptr;
  auto after_sinks = sinks_into(after, file, summary);
  if (!after_sinks) {
    error = "cannot write " + after;
  } else {
    ScanFlags af;
    af.targets = {gw_target};
    af.called_aes = {"LEGACY_PACS"};
    af.tls_full = true;
    af.ca_file = ca + "/ca.crt";
    af.tls_cert = ca + "/issued/scanner.demo.crt";
    af.tls_key = ca + "/issued/scanner.demo.key";
    af.progress = "never";
    const int ra = run_scan(af, *after_sinks);
    if (std::fclose(file) != 0 || ra < 0 || ra > 1) error = "the scan of the gateway failed";
    else std::printf("   after:  %s\n", text_summary(summary).c_str());
  }
  server->stop();
  gw.join();
  log_sink->end(log.summary(0));
  std::fclose(log_file);
  return error;
}
}  // namespace

Action add_demo(CLI::App& app) {
  auto* sub = app.add_subcommand("demo", "Run everything on this machine only: start the practice lab, scan it (with "
                                         "TLS), check bundled sample files, write the report");
  auto out = std::make_shared<std::string>("dicomguard-demo");
  sub->add_option("--out", *out, "Folder for the results and the report (default: ./dicomguard-demo)");
  return [out]() {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::create_directories(*out, ec);
    if (ec) {
      std::fprintf(stderr, "dicomguard demo: cannot create %s: %s\n", out->c_str(), ec.message().c_str());
      return kExitError;
    }
    const fs::path dir = fs::absolute(*out, ec);
    const std::string samples = (dir / "samples").string();
    int n = 0;
    try {
      fs::remove_all(samples, ec);
      n = lab::write_samples(samples);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "dicomguard demo: %s\n", e.what());
      return kExitError;
    }
    lab::Lab l;
    std::uint16_t leaky = 0, hardened = 0, legacy = 0;
    try {
      leaky = l.add({"leaky", "LEAKY_PACS", true, {}, false, 0});
      hardened = l.add({"hardened", "HARDENED_PACS", false, {"LAB_VIEWER"}, true, 0});
      lab::ServerConfig c{"legacy", "LEGACY_PACS", false, {}, false, 0};
      c.services = lab::Services::echo_store;
      legacy = l.add(c);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "dicomguard demo: lab: %s\n", e.what());
      return kExitError;
    }
    std::thread lab_thread([&l] { l.run(false); });
    const std::string t1 = "127.0.0.1:" + std::to_string(leaky), t2 = "127.0.0.1:" + std::to_string(hardened);
    std::printf("== 1. the lab on 127.0.0.1: a leaky PACS at %s and a hardened TLS-only one at %s\n", t1.c_str(),
                t2.c_str());
    const std::string scan = (dir / "scan.jsonl").string(), files = (dir / "files.jsonl").string(),
                      report = (dir / "report.html").string(), md = (dir / "report.md").string(),
                      key = (dir / "demo.key").string(), deid_out = (dir / "deid").string(),
                      verify = (dir / "verify.jsonl").string();
    std::printf("== 2. dicomguard scan %s %s --called-ae HARDENED_PACS --tls-full --json > %s\n", t1.c_str(), t2.c_str(),
                scan.c_str());
    std::fflush(stdout);
    nlohmann::json scan_summary, files_summary;
    std::FILE* scan_file = nullptr;
    int rs = -1;
    if (auto sinks = sinks_into(scan, scan_file, scan_summary)) {
      ScanFlags sf;
      sf.targets = {t1, t2};
      sf.called_aes = {"HARDENED_PACS"};
      sf.tls_full = true;
      sf.progress = "never";
      rs = run_scan(sf, *sinks);
      if (std::fclose(scan_file) != 0) rs = -1;
    }
    std::printf("   %s\n", text_summary(scan_summary).c_str());
    const std::string before = (dir / "before.jsonl").string(), after = (dir / "after.jsonl").string();
    std::printf("== 3. the fix for a device that cannot do TLS: a legacy archive at 127.0.0.1:%u (plain DICOM only), then "
                "dicomguard gateway in front of it with a certificate from dicomguard ca\n", legacy);
    std::fflush(stdout);
    const std::string fix = demo_fix(dir, legacy, before, after);
    l.stop();
    lab_thread.join();
    if (!fix.empty()) {
      std::fprintf(stderr, "dicomguard demo: %s\n", fix.c_str());
      return kExitError;
    }
    std::printf("== 4. dicomguard files %s --json > %s   (%d synthetic samples)\n", samples.c_str(), files.c_str(), n);
    std::fflush(stdout);
    std::FILE* files_file = nullptr;
    int rf = -1;
    if (auto sinks = sinks_into(files, files_file, files_summary)) {
      FilesFlags ff;
      ff.paths = {samples};
      ff.progress = "never";
      rf = run_files(ff, *sinks);
      if (std::fclose(files_file) != 0) rf = -1;
    }
    std::printf("   %s\n", text_summary(files_summary).c_str());
    if (rs < 0 || rs > 1 || rf < 0 || rf > 1) {
      std::fprintf(stderr, "dicomguard demo: scan (exit %d) or files (exit %d) failed\n", rs, rf);
      return kExitError;
    }
    std::printf("== 5. dicomguard deid %s -o %s --key-file %s, then deid --verify %s --against %s --json > %s\n",
                samples.c_str(), deid_out.c_str(), key.c_str(), deid_out.c_str(), samples.c_str(), verify.c_str());
    std::fflush(stdout);
    fs::remove(key, ec);  // a fresh demo key each run (a key is never replaced by --new-key)
    fs::remove_all(deid_out, ec);
    const int rk = run_self({"deid", "--new-key", key}, (dir / "deid-key.log").string());
    const int rd = rk == 0 ? run_self({"deid", samples, "-o", deid_out, "--key-file", key}, (dir / "deid.log").string()) : -1;
    const int rv = rd == 0 || rd == 1 ? run_self({"deid", "--verify", deid_out, "--against", samples, "--json"}, verify) : -1;
    if (rv < 0 || rv > 1) {
      std::fprintf(stderr, "dicomguard demo: deid (exit %d) or deid --verify (exit %d) failed\n", rd, rv);
      return kExitError;
    }
    {
      report::Results v;
      report::load({verify}, v);
      std::size_t clean = 0;
      for (const auto& f : v.verified) clean += f.value("status", "") == "clean";
      std::printf("   %zu de-identified samples written (those that may show burned-in text set apart in %s/.quarantine), "
                  "%zu of %zu verified clean against the originals\n",
                  v.verified.size(), deid_out.c_str(), clean, v.verified.size());
    }
    std::printf("== 6. dicomguard report scan.jsonl files.jsonl verify.jsonl --before before.jsonl --after after.jsonl "
                "-o %s\n", report.c_str());
    std::fflush(stdout);
    if (run_self({"report", scan, files, verify, "--before", before, "--after", after, "-o", report},
                 (dir / "report.log").string()) != 0 ||
        run_self({"report", scan, files, verify, "--before", before, "--after", after, "-o", md},
                 (dir / "report-md.log").string()) != 0) {
      std::fprintf(stderr, "dicomguard demo: the report could not be written\n");
      return kExitError;
    }
    report::Results r;
    report::load({scan, files, verify}, r);
    std::printf("\nThe checklist:\n");
    for (const auto& it : report::checklist(r))
      std::printf("  %-13s %s\n", it.status == report::ItemStatus::not_measured ? "NOT MEASURED" : it.status == report::ItemStatus::pass ? "PASS" : "FAIL",
                  it.title.c_str());
    {
      report::Results b, a;
      report::load({before}, b);
      report::load({after}, a);
      std::printf("\nThe fix (legacy archive, then the gateway in front of it):\n");
      for (const auto& c : report::compare(b, a))
        if (c.changed())
          std::printf("  %-13s -> %-13s %s\n", report::status_label(c.before.status), report::status_label(c.after.status),
                      c.before.title.c_str());
    }
    std::printf("\nReport: %s (open it in a browser; it prints with the checklist on page 1)\n", report.c_str());
    std::printf("Also: %s (Markdown), %s, %s and %s (JSON Lines); 'dicomguard matrix %s %s' shows the threat matrix.\n",
                md.c_str(), scan.c_str(), files.c_str(), verify.c_str(), scan.c_str(), files.c_str());
    std::printf("Told for people: 'dicomguard explain am-i-exposed --audience ciso %s %s' (every topic and audience: "
                "'dicomguard explain'); for a purchase: 'dicomguard rfp --check %s --check %s --check %s'.\n",
                scan.c_str(), files.c_str(), scan.c_str(), files.c_str(), verify.c_str());
    return kExitClean;
  };
}

}  // namespace dg::cli
