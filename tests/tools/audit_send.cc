// Drives audit::Trail for tests/integration/test_audit.py (there is no gateway yet).
//   audit_send [--url URL]... [--spool DIR] [--ca F --cert F --key F] [--count N] [--tag T]
//              [--hold | --commands] [--flush SECONDS] [--no-bom]
// Submits N messages of each kind (application start, security alert, begin transferring, instances transferred,
// query, application stop); each carries "T-SEQ" (SEQ from 1) in a participant's UserName, so a collector's log
// shows order and duplicates. --count 0 submits nothing (a restart that only sends what is spooled).
// Prints "submitted N" once submit() returned for all; --hold then waits for stdin to close (the test kills us);
// then flushes until everything is sent or --flush seconds pass, prints the counters, exits 0 when all was sent.
// --commands: after the first batch, reads lines from stdin: "send N TAG" submits N of each kind tagged TAG
// (sequence numbers go on) and prints "submitted K"; "stats" prints "pending P sent S"; EOF flushes as above.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "audit/message.h"
#include "audit/trail.h"

using namespace dg::audit;

int main(int argc, char** argv) {
  std::vector<std::string> urls;
  TrailOptions o;
  int count = 1;
  std::string tag = "m";
  bool hold = false, commands = false;
  double flush_s = 30;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--url") urls.push_back(next());
    else if (a == "--spool") o.spool_dir = next();
    else if (a == "--ca") o.ca_file = next();
    else if (a == "--cert") o.cert_file = next();
    else if (a == "--key") o.key_file = next();
    else if (a == "--count") count = std::stoi(next());
    else if (a == "--tag") tag = next();
    else if (a == "--hold") hold = true;
    else if (a == "--commands") commands = true;
    else if (a == "--flush") flush_s = std::stod(next());
    else if (a == "--no-bom") o.syslog.bom = false;
    else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  o.reconnect_max = std::chrono::milliseconds(500);
  try {
    Trail trail(urls, o);
    int seq = 0;
    Common c;
    c.source_id = "dicomguard-test";
    c.enterprise_site = "Test & <Site>";
    Participant gw{"DICOMGUARD", "1234@gw", "", false, "127.0.0.1", "application"};
    Instances in{"1.2.826.0.1.3680043.2.1125.1", {{"1.2.840.10008.5.1.4.1.1.2", 3}, {"1.2.840.10008.5.1.4.1.1.4", 1}},
                 "PAT-1", "Doe^Jane"};
    const std::string ds = std::string("\x08\x00\x52\x00\x06\x00\x00\x00STUDY ", 14);
    auto who = [&](const char* role, bool req) {
      return Participant{role[0] == 's' ? "MODALITY" : "PACS", "", tag + "-" + std::to_string(++seq), req,
                         role[0] == 's' ? "127.0.0.2" : "pacs.local", role};
    };
    auto batch = [&](int how_many) {
      for (int n = 0; n < how_many; ++n) {
        std::vector<std::string> msgs;
        Participant app = gw;
        app.user_name = tag + "-" + std::to_string(++seq);
        msgs.push_back(application_activity(c, true, app));
        Common bad = c;
        bad.outcome = Outcome::minor_failure;
        bad.outcome_description = "TLS handshake failed: certificate <untrusted> & \"expired\"";
        msgs.push_back(security_alert(bad, AlertKind::node_authentication, {gw, who("source", true)}, "127.0.0.2",
                                      "unknown CA"));
        msgs.push_back(begin_transferring(c, {who("source", true), who("destination", false)}, in));
        msgs.push_back(instances_transferred(c, {who("source", true), who("destination", false)}, in, 'C'));
        msgs.push_back(query(c, {who("source", true), who("destination", false)}, "1.2.840.10008.5.1.4.1.2.2.1",
                             std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(ds.data()), ds.size()),
                             "1.2.840.10008.1.2.1"));
        app.user_name = tag + "-" + std::to_string(++seq);
        msgs.push_back(application_activity(c, false, app));
        for (auto& m : msgs)
          if (!trail.submit(std::move(m))) std::fprintf(stderr, "submit failed: %s\n", trail.stats().last_error.c_str());
      }
    };
    batch(count);
    std::printf("submitted %d\n", seq);
    std::fflush(stdout);
    if (hold) {
      std::string line;
      while (std::getline(std::cin, line)) {
      }
    }
    if (commands) {
      std::string line;
      while (std::getline(std::cin, line)) {
        char t[64] = {};
        int n = 0;
        if (std::sscanf(line.c_str(), "send %d %63s", &n, t) == 2) {
          tag = t;
          batch(n);
          std::printf("submitted %d\n", seq);
        } else if (line == "stats") {
          const auto s = trail.stats();
          std::uint64_t pending = 0;
          for (const auto& d : s.destinations) pending += d.pending;
          std::printf("pending %llu sent %llu\n", static_cast<unsigned long long>(pending),
                      static_cast<unsigned long long>(s.sent));
        }
        std::fflush(stdout);
      }
    }
    const bool all = trail.flush(std::chrono::steady_clock::now() +
                                 std::chrono::milliseconds(static_cast<long>(flush_s * 1000)));
    const auto s = trail.stats();
    std::printf("sent %llu spooled %llu dropped %llu all %d\n", static_cast<unsigned long long>(s.sent),
                static_cast<unsigned long long>(s.spooled), static_cast<unsigned long long>(s.dropped), all ? 1 : 0);
    for (const auto& d : s.destinations)
      std::printf("dest %s sent %llu pending %llu error %s\n", d.url.c_str(), static_cast<unsigned long long>(d.sent),
                  static_cast<unsigned long long>(d.pending), d.last_error.c_str());
    return all ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "audit_send: %s\n", e.what());
    return 2;
  }
}
