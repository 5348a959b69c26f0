// dicomguard gateway: a DICOM-aware relay that puts TLS, AE-title and command policy in front of a device that
// cannot do them itself (the work is in gateway/: policy, relay, server, config, log; docs/gateway.md).
#include <chrono>
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/output.h"
#include "audit/trail.h"
#include "gateway/audit_observer.h"
#include "gateway/config.h"
#include "gateway/log.h"
#include "gateway/server.h"

namespace dg::cli {

namespace {
struct GatewayFlags {
  std::string config;
  gateway::RouteSpec route;
  gateway::GatewaySpec spec;
  OutputFlags out;
};
}  // namespace

Action add_gateway(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "gateway", "Relay DICOM associations with TLS, AE-title and command policy in front of a device that cannot do "
                 "them (docs/gateway.md)");
  auto f = std::make_shared<GatewayFlags>();
  gateway::RouteSpec& r = f->route;
  gateway::GatewaySpec& g = f->spec;
  sub->add_option("--config", f->config, "A TOML file of routes (docs/gateway.md); the route flags are then not used");
  sub->add_option("--listen", r.listen, "Where to listen: [ADDR:]PORT (PORT alone: every address)");
  sub->add_option("--tls-cert", r.tls_cert, "TLS on the listener: the gateway's certificate chain (PEM)");
  sub->add_option("--tls-key", r.tls_key, "TLS on the listener: its private key (PEM)");
  sub->add_option("--tls-ca", r.tls_ca, "CA certificates that issue client certificates (verified when sent)");
  sub->add_flag("--require-client-cert", r.require_client_cert, "Refuse TLS clients without a certificate from --tls-ca");
  sub->add_option("--profile", r.profile, "PS3.15 TLS profile on both sides: B.12 (default) or B.13")
      ->check(CLI::IsMember({"B.12", "B.13"}));
  sub->add_option("--upstream", r.upstream, "The device (or PACS) behind the gateway: HOST:PORT");
  sub->add_flag("--upstream-tls", r.upstream_tls, "Speak TLS to the upstream (verified against --upstream-ca)");
  sub->add_option("--upstream-ca", r.upstream_ca, "CA certificates to verify the upstream (default: the system's)");
  sub->add_option("--upstream-cert", r.upstream_cert, "The gateway's client certificate towards TLS upstreams and move destinations");
  sub->add_option("--upstream-key", r.upstream_key, "Its private key");
  sub->add_option("--allow-calling", r.allow_calling,
                  "A calling AE title allowed in (repeatable; AE@CN binds it to a client certificate's CN or DNS name)");
  sub->add_option("--called-ae", r.called_ae, "The called AE title the gateway answers to (default: any)");
  sub->add_option("--allow", r.allow, "Commands allowed (repeatable: C-ECHO C-STORE C-FIND C-MOVE C-GET N-*; default: all)");
  sub->add_option("--deny", r.deny, "Commands refused (repeatable), with status 0x0124");
  sub->add_option("--move-dest", r.move_dest,
                  "A C-MOVE destination allowed: AE=HOST:PORT, or AE=tls://HOST:PORT (repeatable; others get 0xA801)");
  sub->add_option("--move-listen", r.move_listen,
                  "Where the upstream opens C-MOVE sub-associations ([ADDR:]PORT): they are relayed to the --move-dest");
  sub->add_option("--allow-source", r.allow_source, "A client address or ADDRESS/PREFIX allowed in (repeatable; default: any)");
  sub->add_option("--max-associations", g.max_associations, "Associations at once (default: 200); more get A-ASSOCIATE-RJ transient");
  sub->add_option("--max-pdu", g.max_pdu, "The largest PDU relayed, in bytes (default: 1048576)");
  sub->add_option("--setup-timeout", g.setup_timeout, "Seconds from connect to an accepted association (default: 30)");
  sub->add_option("--idle-timeout", g.idle_timeout, "Seconds without a byte before an A-ABORT (default: 300)");
  sub->add_option("--pdu-timeout", g.pdu_timeout, "Seconds a PDU may take to arrive (default: 30; slow senders)");
  sub->add_option("--drain-timeout", g.drain_timeout, "On SIGTERM, seconds running associations get (default: 30)");
  sub->add_option("--audit", g.audit,
                  "Send the ATNA audit trail (PS3.15 A.5) to: syslog+tls://HOST:PORT, syslog+tcp://, syslog+udp://, "
                  "file:PATH (repeatable; docs/audit.md)");
  sub->add_option("--audit-spool", g.audit_spool, "Keep audit messages in this folder until sent (survives restarts)");
  sub->add_option("--audit-ca", g.audit_ca, "CA certificates to verify a syslog+tls collector (default: --tls-ca, then --upstream-ca)");
  sub->add_option("--audit-cert", g.audit_cert, "Client certificate for a syslog+tls collector (default: --upstream-cert, then --tls-cert)");
  sub->add_option("--audit-key", g.audit_key, "Its key (default: --upstream-key, then --tls-key)");
  sub->add_flag("--json", f->out.json, "Write the connection log as JSON Lines to stdout");
  sub->add_flag("-v,--verbose", f->out.verbose, "Text log: also list clean results");

  return [f]() {
    auto load = [f]() {
      gateway::GatewaySpec spec = f->spec;
      if (!f->config.empty()) {
        gateway::GatewaySpec file = gateway::parse_toml_file(f->config);
        return gateway::build_config(file);
      }
      spec.routes = {f->route};
      return gateway::build_config(spec);
    };
    gateway::Config cfg;
    try {
      cfg = load();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "dicomguard gateway: %s\n", e.what());
      return kExitError;
    }
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    // The audit trail: its settings are read once (a reload changes routes, not where the trail goes).
    gateway::GatewaySpec audit_spec = f->spec;
    if (!f->config.empty()) {
      try {
        audit_spec = gateway::parse_toml_file(f->config);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "dicomguard gateway: %s\n", e.what());
        return kExitError;
      }
    }
    const gateway::RouteSpec first = f->config.empty() ? f->route : audit_spec.routes.front();
    auto pick = [](std::initializer_list<std::string> v) {
      for (const std::string& s : v)
        if (!s.empty()) return s;
      return std::string();
    };
    std::unique_ptr<audit::Trail> trail;
    if (!audit_spec.audit.empty()) {
      audit::TrailOptions to;
      to.spool_dir = audit_spec.audit_spool;
      to.ca_file = pick({audit_spec.audit_ca, first.tls_ca, first.upstream_ca});
      to.cert_file = pick({audit_spec.audit_cert, first.upstream_cert, first.tls_cert});
      to.key_file = pick({audit_spec.audit_key, first.upstream_key, first.tls_key});
      try {
        trail = std::make_unique<audit::Trail>(audit_spec.audit, to);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "dicomguard gateway: --audit: %s\n", e.what());
        return kExitError;
      }
    } else if (!audit_spec.audit_spool.empty()) {
      std::fprintf(stderr, "dicomguard gateway: --audit-spool needs --audit\n");
      return kExitError;
    }
    auto sinks = f->out.make_sinks();
    gateway::LogObserver log(*sinks);
    std::unique_ptr<gateway::AuditObserver> auditor;
    std::vector<gateway::Observer*> all = {&log};
    if (trail) {
      auditor = std::make_unique<gateway::AuditObserver>(*trail);
      all.push_back(auditor.get());
    }
    gateway::FanOut observers(all);
    gateway::Server server(cfg, observers, [load]() { return load(); });
    try {
      server.listen();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "dicomguard gateway: %s\n", e.what());
      return kExitError;
    }
    const auto t0 = std::chrono::steady_clock::now();
    server.run(true);
    if (auditor) {
      auditor->stop();
      trail->flush(std::chrono::steady_clock::now() + std::chrono::seconds(10));
    }
    const std::string err =
        sinks->end(log.summary(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()));
    if (!log.error().empty() || !err.empty()) {
      std::fprintf(stderr, "dicomguard gateway: %s\n", (log.error().empty() ? err : log.error()).c_str());
      return kExitError;
    }
    return kExitClean;
  };
}

}  // namespace dg::cli
