#include "report/pdf.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <vector>

extern char** environ;

namespace dg::report {

std::string find_chromium() {
  const char* path = std::getenv("PATH");
  std::string p = path ? path : "/usr/bin:/bin";
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
    std::size_t start = 0;
    while (start <= p.size()) {
      const std::size_t end = p.find(':', start);
      const std::string dir = p.substr(start, end == std::string::npos ? std::string::npos : end - start);
      const std::string cand = (dir.empty() ? "." : dir) + "/" + name;
      if (::access(cand.c_str(), X_OK) == 0) return cand;
      if (end == std::string::npos) break;
      start = end + 1;
    }
  }
  return {};
}

std::string print_pdf(const std::string& chromium, const std::string& html_path, const std::string& pdf_path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path html = fs::absolute(html_path, ec);
  const fs::path pdf = fs::absolute(pdf_path, ec);
  char tmpl[] = "/tmp/dicomguard-chromium-XXXXXX";
  if (!::mkdtemp(tmpl)) return "cannot make a temporary profile folder";
  const std::string profile = tmpl;
  std::vector<std::string> args = {chromium,
                                   "--headless",
                                   "--no-sandbox",
                                   "--disable-gpu",
                                   "--disable-background-networking",
                                   "--disable-component-update",
                                   "--disable-sync",
                                   "--disable-quic",
                                   "--no-first-run",
                                   "--disable-default-apps",
                                   "--disable-extensions",
                                   "--disable-domain-reliability",
                                   // Chromium's own background requests (updates, accounts, time) never leave the
                                   // machine: a dead proxy on loopback and no name resolution.
                                   "--proxy-server=http://127.0.0.1:9",
                                   "--host-resolver-rules=MAP * ~NOTFOUND",
                                   "--no-pdf-header-footer",
                                   "--user-data-dir=" + profile,
                                   "--print-to-pdf=" + pdf.string(),
                                   "file://" + html.string()};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, chromium.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  std::string err;
  if (rc != 0) {
    err = "cannot start " + chromium;
  } else {
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (true) {
      const pid_t w = ::waitpid(pid, &status, WNOHANG);
      if (w == pid) break;
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        err = "Chromium did not finish printing within 120 s";
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (err.empty() && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) err = "Chromium failed to print the report";
    if (err.empty() && (!fs::exists(pdf, ec) || fs::file_size(pdf, ec) == 0)) err = "Chromium wrote no PDF";
  }
  fs::remove_all(profile, ec);
  return err;
}

}  // namespace dg::report
