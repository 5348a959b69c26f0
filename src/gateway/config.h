// The gateway's settings as written by a user: flags for one route (cli/cmd_gateway.cc) or a TOML file
// (--config, docs/gateway.md) for several. One builder turns both into a Config, so a flag and its TOML key
// are checked by the same code and mean the same.
#pragma once

#include <string>
#include <vector>

#include "gateway/server.h"

namespace dg::gateway {

struct CallingSpec {
  std::string ae, identity;
  std::vector<std::string> allow, deny;
};

struct RouteSpec {
  std::string name = "default";
  std::string listen;                       // [ADDR:]PORT
  std::string tls_cert, tls_key, tls_ca;
  bool require_client_cert = false;
  std::string profile = "B.12";
  std::string upstream;                     // HOST:PORT
  bool upstream_tls = false;
  std::string upstream_ca, upstream_cert, upstream_key;
  std::vector<std::string> allow_calling;   // AE or AE@CN
  std::vector<CallingSpec> calling;         // TOML [[route.calling]]: per calling AE commands
  std::string called_ae;
  std::vector<std::string> allow, deny;     // C-ECHO ... N-*
  std::vector<std::string> move_dest;       // AE=HOST:PORT or AE=tls://HOST:PORT
  std::string move_listen;                  // [ADDR:]PORT: where the upstream opens C-MOVE sub-associations
  std::vector<std::string> allow_source;    // address blocks
};

struct GatewaySpec {
  std::vector<RouteSpec> routes;
  unsigned max_associations = 200;
  unsigned max_pdu = 1u << 20;
  int setup_timeout = 30, idle_timeout = 300, pdu_timeout = 30, drain_timeout = 30;
  std::vector<std::string> audit;
  std::string audit_spool;
  std::string audit_ca, audit_cert, audit_key;  // the syslog+tls client (default: the upstream's, then the listener's)
};

// Reads a TOML file (toml++). Throws std::invalid_argument naming the file, line and key.
GatewaySpec parse_toml_file(const std::string& path);
GatewaySpec parse_toml(const std::string& text, const std::string& source_name);

// Checks everything (addresses, ports, AE titles, commands, TLS files: contexts are made once here to prove the
// certificates and keys load) and builds the Config. A --move-listen adds a reverse route named NAME-move.
// Throws std::invalid_argument with a message a user can act on.
Config build_config(const GatewaySpec& spec);

}  // namespace dg::gateway
