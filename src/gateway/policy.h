// The gateway's policy, as a filter chain in the Envoy style: every filter sees the association request, then
// every command on an accepted association, and answers continue or a denial. A denial carries the DICOM answer
// the client gets: an A-ASSOCIATE-RJ (result, source, reason of PS3.8 Table 9-21) for an association, a failure
// status (PS3.7 Annex C) for a command. Sans I/O: the relay (gateway/relay) runs the chain, the server supplies
// what it knows of the peer (address, certificate identity).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "dicom/associate.h"

namespace dg::gateway {

// The DIMSE services a policy names (--allow / --deny): C-ECHO, C-STORE, C-FIND, C-MOVE, C-GET, N-* (every
// N- service: N-EVENT-REPORT, N-GET, N-SET, N-ACTION, N-CREATE, N-DELETE). C-CANCEL is always let through: it only
// stops what was allowed.
enum class Service : std::uint8_t { echo, store, find, move, get, normalized, cancel, unknown };
const char* service_name(Service s);  // "C-ECHO", ... "N-*"
std::optional<Service> parse_service(std::string_view name);  // case-insensitive; "N-*" and "N-SET" etc. -> N-*
Service service_of(std::uint16_t command_field);               // requests and responses alike

// An address block: "10.1.2.0/24", "::1", "127.0.0.1" (a host is a /32 or /128).
struct AddressBlock {
  std::array<std::uint8_t, 16> bytes{};
  bool v6 = false;
  int prefix = 0;
  static std::optional<AddressBlock> parse(std::string_view text);
  bool contains(std::string_view address) const;
  std::string text;
};

// A calling AE title allowed in, optionally bound to a client-certificate identity (AE@CN: the certificate's
// subject CN or one of its SAN DNS names must equal CN). Commands: empty = the route's allow/deny.
struct CallingRule {
  std::string ae;
  std::string identity;             // "" = any (or no) certificate
  std::set<Service> allow, deny;    // per calling AE (the TOML file's [[route.calling]]); empty: the route's
};

struct MoveDestination {
  std::string ae, host;
  std::uint16_t port = 0;
  bool tls = false;  // AE=tls://HOST:PORT: the sub-association leaves the gateway in TLS
};

struct Policy {
  std::vector<AddressBlock> sources;        // empty: any source address
  std::vector<CallingRule> calling;         // empty: any calling AE title
  std::string called_ae;                    // "" = any called AE title
  bool called_is_move_destination = false;  // the reverse route: the called AE must be one of move_destinations
  std::set<Service> allow, deny;            // allow empty = everything not denied
  std::map<std::string, MoveDestination> move_destinations;  // C-MOVE destinations allowed (empty: none)
  unsigned max_contexts = 128;              // PS3.8: at most 128 presentation contexts
};

// What the filters are told about the association.
struct Peer {
  std::string address;                  // the client's IP address
  bool tls = false;
  std::vector<std::string> identities;  // client certificate subject CN and SAN DNS names (verified chain only)
};

struct CommandInfo {
  std::uint16_t command_field = 0;
  Service service = Service::unknown;
  std::uint16_t message_id = 0;
  std::string sop_class, sop_instance, move_destination;
  bool has_dataset = false;
};

struct Decision {
  bool allowed = true;
  std::string filter;   // the filter that denied ("source", "calling-ae", ...)
  std::string reason;   // plain words, no patient data
  // Association denials: PS3.8 Table 9-21.
  std::uint8_t result = 1, source = 1, reason_code = 1;
  // Command denials: the failure status (0x0124 refused: not authorized; 0xA801 move destination unknown).
  std::uint16_t status = 0x0124;
  static Decision ok() { return {}; }
  static Decision reject(std::string filter, std::string reason, std::uint8_t result, std::uint8_t source,
                         std::uint8_t code);
  static Decision refuse(std::string filter, std::string reason, std::uint16_t status);
};

class Filter {
 public:
  virtual ~Filter() = default;
  virtual const char* name() const = 0;
  virtual Decision on_associate(const Peer&, const dicom::pdu::Associate&) { return Decision::ok(); }
  virtual Decision on_command(const Peer&, const dicom::pdu::Associate&, const CommandInfo&) {
    return Decision::ok();
  }
};

// The chain a route runs, in order: source address, calling/called AE (bound to the certificate identity),
// presentation contexts, command policy (per calling AE), C-MOVE destinations. The first denial wins.
class Chain {
 public:
  explicit Chain(Policy p);
  Chain(const Chain&) = delete;  // the filters hold references into policy_
  Chain& operator=(const Chain&) = delete;
  Decision on_associate(const Peer& peer, const dicom::pdu::Associate& rq) const;
  Decision on_command(const Peer& peer, const dicom::pdu::Associate& rq, const CommandInfo& c) const;
  const Policy& policy() const { return policy_; }

 private:
  Policy policy_;
  std::vector<std::unique_ptr<Filter>> filters_;
};

}  // namespace dg::gateway
