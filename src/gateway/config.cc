#include "gateway/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

namespace dg::gateway {

namespace {

[[noreturn]] void bad(const std::string& route, const std::string& what) {
  throw std::invalid_argument((route.empty() ? std::string() : "route " + route + ": ") + what);
}

std::string check_ae(const std::string& route, const std::string& ae, const char* what) {
  if (ae.empty() || ae.size() > 16) bad(route, std::string(what) + " '" + ae + "' is not 1 to 16 characters");
  for (char c : ae)
    if (c < 0x20 || c > 0x7E || c == '\\') bad(route, std::string(what) + " '" + ae + "' has a character AE titles may not hold");
  if (ae.find_first_not_of(' ') == std::string::npos) bad(route, std::string(what) + " is all spaces");
  return ae;
}

std::set<Service> services(const std::string& route, const std::vector<std::string>& names, const char* flag) {
  std::set<Service> out;
  for (const std::string& n : names) {
    auto s = parse_service(n);
    if (!s) bad(route, std::string(flag) + " " + n + ": not one of C-ECHO, C-STORE, C-FIND, C-MOVE, C-GET, N-*");
    out.insert(*s);
  }
  return out;
}

MoveDestination move_destination(const std::string& route, const std::string& spec) {
  const auto eq = spec.find('=');
  if (eq == std::string::npos) bad(route, "--move-dest " + spec + ": not AE=HOST:PORT");
  MoveDestination d;
  d.ae = check_ae(route, spec.substr(0, eq), "move destination AE title");
  std::string where = spec.substr(eq + 1);
  if (where.rfind("tls://", 0) == 0) {
    d.tls = true;
    where = where.substr(6);
  }
  try {
    const Endpoint e = Endpoint::parse(where);
    d.host = e.host;
    d.port = e.port;
  } catch (const std::invalid_argument& e) {
    bad(route, "--move-dest " + spec + ": " + e.what());
  }
  return d;
}

Endpoint endpoint(const std::string& route, const std::string& text, bool port_only, const char* flag) {
  try {
    return Endpoint::parse(text, port_only);
  } catch (const std::invalid_argument& e) {
    bad(route, std::string(flag) + ": " + e.what());
  }
}

std::string aes128_first(const std::string& list) {
  std::vector<std::string> first, rest;
  std::string item;
  std::istringstream in(list);
  while (std::getline(in, item, ':'))
    (item.find("AES128-GCM") != std::string::npos || item.find("AES_128_GCM") != std::string::npos ? first : rest)
        .push_back(item);
  std::string out;
  for (const auto* v : {&first, &rest})
    for (const std::string& i : *v) out += (out.empty() ? "" : ":") + i;
  return out;
}

void build_routes(const RouteSpec& r, const GatewaySpec& g, std::vector<Route>& out) {
  const std::string& n = r.name;
  if (r.listen.empty()) bad(n, "--listen [ADDR:]PORT is required");
  if (r.upstream.empty()) bad(n, "--upstream HOST:PORT is required");
  Route route;
  route.name = n;
  route.listen = endpoint(n, r.listen, true, "--listen");
  route.upstream = endpoint(n, r.upstream, false, "--upstream");

  net::TlsPolicy profile;
  try {
    profile = net::TlsPolicy::from_profile(r.profile);
  } catch (const std::invalid_argument&) {
    bad(n, "--profile " + r.profile + ": not a TLS profile (B.12 or B.13)");
  }
  if (r.profile != "B.12" && r.profile != "B.13") bad(n, "--profile " + r.profile + ": the gateway offers B.12 or B.13 only");

  if (r.tls_cert.empty() != r.tls_key.empty()) bad(n, "--tls-cert and --tls-key go together");
  route.tls = !r.tls_cert.empty();
  if (!route.tls && (r.require_client_cert || !r.tls_ca.empty()))
    bad(n, "--tls-ca and --require-client-cert need TLS on the listener (--tls-cert, --tls-key)");
  if (r.require_client_cert && r.tls_ca.empty()) bad(n, "--require-client-cert needs --tls-ca (the CA that issues client certificates)");
  route.tls_policy = profile;
  route.tls_policy.cert_file = r.tls_cert;
  route.tls_policy.key_file = r.tls_key;
  route.tls_policy.ca_file = r.tls_ca;
  route.tls_policy.verify_peer = !r.tls_ca.empty();
  route.tls_policy.peer_optional = !r.require_client_cert;
  route.tls_policy.alpn = {"dicom"};
  // Of the profile's suites, AES-128-GCM first and chosen by our order: as strong as the profile asks, and the
  // cheapest per byte on hardware with AES instructions (bench/gateway).
  route.tls_policy.ciphers = aes128_first(route.tls_policy.ciphers);
  route.tls_policy.ciphersuites = aes128_first(route.tls_policy.ciphersuites);
  route.tls_policy.server_preference = true;  // selected when a client offers it (the registered ALPN ID)

  route.upstream_tls = r.upstream_tls;
  const bool tls_dest = std::any_of(r.move_dest.begin(), r.move_dest.end(),
                                    [](const std::string& m) { return m.find("=tls://") != std::string::npos; });
  if (!r.upstream_tls && !tls_dest && (!r.upstream_ca.empty() || !r.upstream_cert.empty()))
    bad(n, "--upstream-ca/--upstream-cert need --upstream-tls or a tls:// --move-dest");
  if (r.upstream_cert.empty() != r.upstream_key.empty()) bad(n, "--upstream-cert and --upstream-key go together");
  route.upstream_policy = profile;
  route.upstream_policy.verify_peer = true;  // the upstream is always verified: against --upstream-ca or the system store
  route.upstream_policy.ca_file = r.upstream_ca;
  route.upstream_policy.cert_file = r.upstream_cert;
  route.upstream_policy.key_file = r.upstream_key;
  route.upstream_policy.alpn.clear();

  Policy& p = route.policy;
  if (!r.called_ae.empty()) p.called_ae = check_ae(n, r.called_ae, "--called-ae");
  for (const std::string& s : r.allow_source) {
    auto b = AddressBlock::parse(s);
    if (!b) bad(n, "--allow-source " + s + ": not an address or ADDRESS/PREFIX");
    p.sources.push_back(*b);
  }
  for (const std::string& a : r.allow_calling) {
    CallingRule rule;
    const auto at = a.find('@');
    rule.ae = check_ae(n, a.substr(0, at), "--allow-calling AE title");
    if (at != std::string::npos) {
      rule.identity = a.substr(at + 1);
      if (rule.identity.empty()) bad(n, "--allow-calling " + a + ": nothing after @");
      if (!route.tls || r.tls_ca.empty()) bad(n, "--allow-calling " + a + ": AE@CN needs client certificates (--tls-ca)");
    }
    p.calling.push_back(rule);
  }
  for (const CallingSpec& c : r.calling) {
    CallingRule rule;
    rule.ae = check_ae(n, c.ae, "calling AE title");
    rule.identity = c.identity;
    if (!rule.identity.empty() && (!route.tls || r.tls_ca.empty())) bad(n, "calling " + c.ae + ": cn needs client certificates (tls_ca)");
    rule.allow = services(n, c.allow, "allow");
    rule.deny = services(n, c.deny, "deny");
    p.calling.push_back(rule);
  }
  p.allow = services(n, r.allow, "--allow");
  p.deny = services(n, r.deny, "--deny");
  for (const std::string& m : r.move_dest) {
    MoveDestination d = move_destination(n, m);
    if (p.move_destinations.count(d.ae)) bad(n, "--move-dest " + d.ae + " given twice");
    p.move_destinations[d.ae] = d;
  }
  // The TLS contexts are made once now, so a missing file or a key that does not match is said at start.
  try {
    if (route.tls) net::make_context(route.tls_policy, net::Role::server);
    bool tls_out = route.upstream_tls;
    for (const auto& [ae, d] : p.move_destinations) tls_out = tls_out || d.tls;
    if (tls_out) net::make_context(route.upstream_policy, net::Role::client);
  } catch (const std::exception& e) {
    bad(n, e.what());
  }
  out.push_back(route);

  if (!r.move_listen.empty()) {
    if (p.move_destinations.empty()) bad(n, "--move-listen needs at least one --move-dest");
    Route rev;
    rev.name = n + "-move";
    rev.reverse = true;
    rev.listen = endpoint(n, r.move_listen, true, "--move-listen");
    rev.upstream_policy = route.upstream_policy;
    rev.policy.move_destinations = p.move_destinations;
    rev.policy.called_is_move_destination = true;
    rev.policy.allow = {Service::store, Service::echo};
    // Sub-associations come from the upstream only.
    out.push_back(rev);
  } else if (!p.move_destinations.empty() && !p.deny.count(Service::move)) {
    // Without a reverse route the upstream opens the sub-association to the destination itself: the gateway still
    // decides which destinations may be named.
  }
  (void)g;
}

template <class T>
T get_or(const toml::table& t, const char* key, T def) {
  if (const auto* node = t.get(key)) {
    if (auto v = node->value<T>()) return *v;
    std::ostringstream where;
    where << node->source().begin;
    throw std::invalid_argument(std::string("key ") + key + " has the wrong type (" + where.str() + ")");
  }
  return def;
}

std::vector<std::string> strings(const toml::table& t, const char* key) {
  std::vector<std::string> out;
  const auto* node = t.get(key);
  if (!node) return out;
  if (const auto* s = node->as_string()) return {s->get()};
  const auto* arr = node->as_array();
  if (!arr) throw std::invalid_argument(std::string("key ") + key + " must be a string or a list of strings");
  for (const auto& v : *arr) {
    auto s = v.value<std::string>();
    if (!s) throw std::invalid_argument(std::string("key ") + key + " must list strings");
    out.push_back(*s);
  }
  return out;
}

void known_keys(const toml::table& t, std::initializer_list<const char*> keys, const std::string& where) {
  for (const auto& [k, v] : t) {
    bool ok = false;
    for (const char* key : keys) ok = ok || k.str() == key;
    if (!ok) {
      std::ostringstream pos;
      pos << v.source().begin;
      throw std::invalid_argument("unknown key '" + std::string(k.str()) + "' in " + where + " (" + pos.str() + ")");
    }
  }
}

}  // namespace

GatewaySpec parse_toml(const std::string& text, const std::string& source_name) {
  toml::table root;
  try {
    root = toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    std::ostringstream m;
    m << source_name << ": " << e.description() << " (" << e.source().begin << ")";
    throw std::invalid_argument(m.str());
  }
  GatewaySpec g;
  try {
    known_keys(root, {"route", "max_associations", "max_pdu", "setup_timeout", "idle_timeout", "pdu_timeout",
                      "drain_timeout", "audit", "audit_spool", "audit_ca", "audit_cert", "audit_key"},
               "the top level");
    g.max_associations = static_cast<unsigned>(get_or<std::int64_t>(root, "max_associations", g.max_associations));
    g.max_pdu = static_cast<unsigned>(get_or<std::int64_t>(root, "max_pdu", g.max_pdu));
    g.setup_timeout = static_cast<int>(get_or<std::int64_t>(root, "setup_timeout", g.setup_timeout));
    g.idle_timeout = static_cast<int>(get_or<std::int64_t>(root, "idle_timeout", g.idle_timeout));
    g.pdu_timeout = static_cast<int>(get_or<std::int64_t>(root, "pdu_timeout", g.pdu_timeout));
    g.drain_timeout = static_cast<int>(get_or<std::int64_t>(root, "drain_timeout", g.drain_timeout));
    g.audit = strings(root, "audit");
    g.audit_spool = get_or<std::string>(root, "audit_spool", "");
    g.audit_ca = get_or<std::string>(root, "audit_ca", "");
    g.audit_cert = get_or<std::string>(root, "audit_cert", "");
    g.audit_key = get_or<std::string>(root, "audit_key", "");
    const auto* routes = root.get_as<toml::array>("route");
    if (!routes || routes->empty()) throw std::invalid_argument("no [[route]]");
    for (const auto& node : *routes) {
      const auto* t = node.as_table();
      if (!t) throw std::invalid_argument("[[route]] must be tables");
      RouteSpec r;
      r.name = get_or<std::string>(*t, "name", "route" + std::to_string(g.routes.size() + 1));
      known_keys(*t, {"name", "listen", "tls_cert", "tls_key", "tls_ca", "require_client_cert", "profile", "upstream",
                      "upstream_tls", "upstream_ca", "upstream_cert", "upstream_key", "allow_calling", "calling",
                      "called_ae", "allow", "deny", "move_dest", "move_listen", "allow_source"},
                 "route " + r.name);
      r.listen = get_or<std::string>(*t, "listen", "");
      if (r.listen.empty())
        if (auto port = (*t)["listen"].value<std::int64_t>()) r.listen = std::to_string(*port);
      r.tls_cert = get_or<std::string>(*t, "tls_cert", "");
      r.tls_key = get_or<std::string>(*t, "tls_key", "");
      r.tls_ca = get_or<std::string>(*t, "tls_ca", "");
      r.require_client_cert = get_or<bool>(*t, "require_client_cert", false);
      r.profile = get_or<std::string>(*t, "profile", "B.12");
      r.upstream = get_or<std::string>(*t, "upstream", "");
      r.upstream_tls = get_or<bool>(*t, "upstream_tls", false);
      r.upstream_ca = get_or<std::string>(*t, "upstream_ca", "");
      r.upstream_cert = get_or<std::string>(*t, "upstream_cert", "");
      r.upstream_key = get_or<std::string>(*t, "upstream_key", "");
      r.allow_calling = strings(*t, "allow_calling");
      r.called_ae = get_or<std::string>(*t, "called_ae", "");
      r.allow = strings(*t, "allow");
      r.deny = strings(*t, "deny");
      r.move_dest = strings(*t, "move_dest");
      r.move_listen = get_or<std::string>(*t, "move_listen", "");
      r.allow_source = strings(*t, "allow_source");
      if (const auto* calling = t->get_as<toml::array>("calling"))
        for (const auto& cn : *calling) {
          const auto* ct = cn.as_table();
          if (!ct) throw std::invalid_argument("route " + r.name + ": [[route.calling]] must be tables");
          known_keys(*ct, {"ae", "cn", "allow", "deny"}, "route " + r.name + " calling");
          CallingSpec c;
          c.ae = get_or<std::string>(*ct, "ae", "");
          c.identity = get_or<std::string>(*ct, "cn", "");
          c.allow = strings(*ct, "allow");
          c.deny = strings(*ct, "deny");
          r.calling.push_back(c);
        }
      g.routes.push_back(r);
    }
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(source_name + ": " + e.what());
  }
  return g;
}

GatewaySpec parse_toml_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::invalid_argument("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_toml(ss.str(), path);
}

Config build_config(const GatewaySpec& g) {
  Config c;
  if (g.routes.empty()) throw std::invalid_argument("no route");
  std::set<std::string> names;
  for (const RouteSpec& r : g.routes) {
    if (!names.insert(r.name).second) bad(r.name, "two routes have this name");
    build_routes(r, g, c.routes);
  }
  if (g.max_associations == 0) throw std::invalid_argument("--max-associations must be at least 1");
  if (g.max_pdu < 4096 || g.max_pdu > (16u << 20)) throw std::invalid_argument("--max-pdu must be 4096 .. 16777216");
  for (int t : {g.setup_timeout, g.idle_timeout, g.pdu_timeout, g.drain_timeout})
    if (t < 1) throw std::invalid_argument("timeouts are at least 1 second");
  c.limits.max_associations = g.max_associations;
  c.limits.relay.max_pdu = g.max_pdu;
  c.limits.setup_timeout = std::chrono::seconds(g.setup_timeout);
  c.limits.idle_timeout = std::chrono::seconds(g.idle_timeout);
  c.limits.pdu_timeout = std::chrono::seconds(g.pdu_timeout);
  c.limits.drain_timeout = std::chrono::seconds(g.drain_timeout);
  return c;
}

}  // namespace dg::gateway
