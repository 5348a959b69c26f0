// dicomguard ca init|issue|renew|list: a small private CA for DICOM nodes (the work is in ca/ca.h).
#include <cstdio>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>

#include "ca/ca.h"
#include "cli/commands.h"

namespace dg::cli {

namespace {
struct CaFlags {
  std::string dir, key = "ec", name, only;
  std::vector<std::string> names, ips;
  std::string ae;
  int days = 0, within = 30;
  bool json = false;
};

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
  return s;
}

int fail(const char* sub, const std::string& e) {
  std::fprintf(stderr, "dicomguard ca %s: %s\n", sub, e.c_str());
  return kExitError;
}
}  // namespace

Action add_ca(CLI::App& app) {
  auto* sub = app.add_subcommand("ca", "A small private CA for DICOM nodes: certificates with serverAuth and "
                                       "clientAuth, the AE title recorded (docs/ca.md)");
  sub->require_subcommand(1);
  auto f = std::make_shared<CaFlags>();
  const auto key_check = CLI::IsMember({"ec", "rsa"});

  auto* init = sub->add_subcommand("init", "Create the CA (root certificate and key) in DIR");
  init->add_option("DIR", f->dir, "The CA folder (created, mode 0700)")->required();
  init->add_option("--key", f->key, "Root key: ec (ECDSA P-256, default) or rsa (RSA-3072)")->check(key_check);
  init->add_option("--days", f->days, "Lifetime of the root in days (default: 3650)");
  init->add_option("--name", f->name, "Name in the CN 'dicomguard private CA NAME' (default: this host's name)");

  auto* issue = sub->add_subcommand("issue", "Issue a certificate (and key) for a DICOM node");
  issue->add_option("DIR", f->dir, "The CA folder")->required();
  issue->add_option("--name", f->names, "DNS name of the node (repeatable; the first names the files)")->required();
  issue->add_option("--ip", f->ips, "IP address of the node (repeatable)");
  issue->add_option("--ae", f->ae, "The node's AE title (at most 16 characters)")->required();
  issue->add_option("--days", f->days, "Lifetime in days (default: 90)");
  issue->add_option("--key", f->key, "Key: ec (ECDSA P-256, default) or rsa (RSA-3072)")->check(key_check);

  auto* renew = sub->add_subcommand("renew", "Re-issue (new key and serial, same names and AE) certificates "
                                             "expiring soon");
  renew->add_option("DIR", f->dir, "The CA folder")->required();
  renew->add_option("--within", f->within, "Renew those expiring within this many days (default: 30)");
  renew->add_option("--name", f->only, "Only this certificate (its first DNS name)");
  renew->add_option("--days", f->days, "Lifetime of the new certificates in days (default: 90)");

  auto* list = sub->add_subcommand("list", "What was issued: names, AE, expiry, days left");
  list->add_option("DIR", f->dir, "The CA folder")->required();
  list->add_flag("--json", f->json, "One {\"type\":\"certificate\"} JSON object per issuance (docs/json-lines.md)");

  return [f, init, issue, renew, list]() {
    const ca::KeyKind kind = f->key == "rsa" ? ca::KeyKind::rsa : ca::KeyKind::ec;
    if (init->parsed()) {
      ca::InitOptions o;
      o.dir = f->dir;
      o.key = kind;
      o.days = f->days ? f->days : 3650;
      o.name = f->name;
      ca::InitResult r;
      if (std::string e = ca::init(o, r); !e.empty()) return fail("init", e);
      std::printf("ca init: %s (%s, serial %s, valid until %s)\n  root certificate: %s  (give this file to every "
                  "DICOM node as its trust anchor)\n  root key: %s  (mode 0600: keep it private and backed up)\n",
                  r.subject.c_str(), ca::key_kind_name(kind), r.serial.c_str(), r.not_after.c_str(),
                  r.cert_path.c_str(), r.key_path.c_str());
      return kExitClean;
    }
    if (issue->parsed()) {
      ca::IssueOptions o;
      o.dir = f->dir;
      o.names = f->names;
      o.ips = f->ips;
      o.ae = f->ae;
      o.days = f->days ? f->days : 90;
      o.key = kind;
      ca::Entry e;
      if (std::string err = ca::issue(o, e); !err.empty()) return fail("issue", err);
      std::printf("ca issue: %s (AE %s; DNS %s%s%s; %s; serial %s; valid until %s)\n  certificate: %s/%s\n  key: "
                  "%s/%s  (mode 0600)\n  chain: %s/%s\n",
                  e.name.c_str(), e.ae.c_str(), join(e.dns).c_str(), e.ip.empty() ? "" : "; IP ",
                  join(e.ip).c_str(), e.key.c_str(), e.serial.c_str(), e.not_after.c_str(), f->dir.c_str(),
                  e.cert.c_str(), f->dir.c_str(), e.key_file.c_str(), f->dir.c_str(), e.chain.c_str());
      return kExitClean;
    }
    if (renew->parsed()) {
      std::vector<ca::Renewed> done;
      if (std::string e = ca::renew(f->dir, f->within, f->only, f->days ? f->days : 90, done); !e.empty())
        return fail("renew", e);
      for (const auto& r : done)
        std::printf("ca renew: %s (AE %s) renewed: serial %s (expired or expiring %s) -> %s, valid until %s\n",
                    r.new_entry.name.c_str(), r.new_entry.ae.c_str(), r.old_entry.serial.c_str(),
                    r.old_entry.not_after.c_str(), r.new_entry.serial.c_str(), r.new_entry.not_after.c_str());
      if (done.empty()) std::printf("ca renew: nothing expires within %d days\n", f->within);
      return kExitClean;
    }
    std::vector<ca::Entry> entries;
    if (std::string e = ca::list(f->dir, entries); !e.empty()) return fail("list", e);
    const std::time_t now = std::time(nullptr);
    for (const auto& e : entries) {
      if (f->json) {
        std::printf("%s\n", ca::certificate_json(e, now).dump().c_str());
        continue;
      }
      const long left = e.days_left(now);
      std::printf("%-24s AE %-16s %-10s until %s (%ld days%s)  serial %s  %s%s%s\n", e.name.c_str(), e.ae.c_str(),
                  e.status.c_str(), e.not_after.c_str(), left, left < 0 ? ", EXPIRED" : "", e.serial.c_str(),
                  join(e.dns).c_str(), e.ip.empty() ? "" : ",", join(e.ip).c_str());
    }
    if (!f->json && entries.empty()) std::printf("ca list: nothing issued yet\n");
    return kExitClean;
  };
}

}  // namespace dg::cli
