#include "gateway/policy.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace dg::gateway {

namespace pdu = dicom::pdu;

const char* service_name(Service s) {
  switch (s) {
    case Service::echo: return "C-ECHO";
    case Service::store: return "C-STORE";
    case Service::find: return "C-FIND";
    case Service::move: return "C-MOVE";
    case Service::get: return "C-GET";
    case Service::normalized: return "N-*";
    case Service::cancel: return "C-CANCEL";
    case Service::unknown: break;
  }
  return "unknown";
}

std::optional<Service> parse_service(std::string_view name) {
  std::string u(name);
  for (char& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (u == "C-ECHO") return Service::echo;
  if (u == "C-STORE") return Service::store;
  if (u == "C-FIND") return Service::find;
  if (u == "C-MOVE") return Service::move;
  if (u == "C-GET") return Service::get;
  static const char* const normalized[] = {"N-*", "N-EVENT-REPORT", "N-GET", "N-SET", "N-ACTION", "N-CREATE",
                                           "N-DELETE"};
  for (const char* n : normalized)
    if (u == n) return Service::normalized;
  return std::nullopt;
}

Service service_of(std::uint16_t field) {
  switch (field & 0x7FFF) {
    case 0x0030: return Service::echo;
    case 0x0001: return Service::store;
    case 0x0020: return Service::find;
    case 0x0021: return Service::move;
    case 0x0010: return Service::get;
    case 0x0FFF: return Service::cancel;
    case 0x0100: case 0x0110: case 0x0120: case 0x0130: case 0x0140: case 0x0150: return Service::normalized;
    default: return Service::unknown;
  }
}

std::optional<AddressBlock> AddressBlock::parse(std::string_view text) {
  AddressBlock b;
  b.text = std::string(text);
  std::string host(text);
  int prefix = -1;
  if (auto slash = host.find('/'); slash != std::string::npos) {
    const std::string p = host.substr(slash + 1);
    host.resize(slash);
    if (p.empty() || p.size() > 3 || !std::all_of(p.begin(), p.end(), ::isdigit)) return std::nullopt;
    prefix = std::stoi(p);
  }
  if (inet_pton(AF_INET, host.c_str(), b.bytes.data()) == 1) {
    b.v6 = false;
    if (prefix < 0) prefix = 32;
    if (prefix > 32) return std::nullopt;
  } else if (inet_pton(AF_INET6, host.c_str(), b.bytes.data()) == 1) {
    b.v6 = true;
    if (prefix < 0) prefix = 128;
    if (prefix > 128) return std::nullopt;
  } else {
    return std::nullopt;
  }
  b.prefix = prefix;
  return b;
}

bool AddressBlock::contains(std::string_view address) const {
  std::array<std::uint8_t, 16> a{};
  std::string s(address);
  bool is_v6 = false;
  if (inet_pton(AF_INET, s.c_str(), a.data()) == 1) {
    is_v6 = false;
  } else if (inet_pton(AF_INET6, s.c_str(), a.data()) == 1) {
    is_v6 = true;
    // An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is matched as IPv4.
    static const std::uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    if (!v6 && std::memcmp(a.data(), mapped, 12) == 0) {
      std::memmove(a.data(), a.data() + 12, 4);
      is_v6 = false;
    }
  } else {
    return false;
  }
  if (is_v6 != v6) return false;
  const int full = prefix / 8, rest = prefix % 8;
  if (std::memcmp(a.data(), bytes.data(), static_cast<std::size_t>(full)) != 0) return false;
  if (rest == 0) return true;
  const std::uint8_t mask = static_cast<std::uint8_t>(0xFF << (8 - rest));
  return (a[static_cast<std::size_t>(full)] & mask) == (bytes[static_cast<std::size_t>(full)] & mask);
}

Decision Decision::reject(std::string filter, std::string reason, std::uint8_t result, std::uint8_t source,
                          std::uint8_t code) {
  Decision d;
  d.allowed = false;
  d.filter = std::move(filter);
  d.reason = std::move(reason);
  d.result = result;
  d.source = source;
  d.reason_code = code;
  return d;
}

Decision Decision::refuse(std::string filter, std::string reason, std::uint16_t status) {
  Decision d;
  d.allowed = false;
  d.filter = std::move(filter);
  d.reason = std::move(reason);
  d.status = status;
  return d;
}

namespace {

const CallingRule* rule_for(const Policy& p, const std::string& calling, const Peer& peer) {
  for (const CallingRule& r : p.calling) {
    if (r.ae != calling) continue;
    if (r.identity.empty()) return &r;
    if (std::find(peer.identities.begin(), peer.identities.end(), r.identity) != peer.identities.end()) return &r;
  }
  return nullptr;
}

class SourceFilter : public Filter {
 public:
  explicit SourceFilter(const Policy& p) : p_(p) {}
  const char* name() const override { return "source"; }
  Decision on_associate(const Peer& peer, const pdu::Associate&) override {
    if (p_.sources.empty()) return Decision::ok();
    for (const AddressBlock& b : p_.sources)
      if (b.contains(peer.address)) return Decision::ok();
    return Decision::reject(name(), "source address not allowed", 1, 1, 1);
  }

 private:
  const Policy& p_;
};

class AeFilter : public Filter {
 public:
  explicit AeFilter(const Policy& p) : p_(p) {}
  const char* name() const override { return "ae-title"; }
  Decision on_associate(const Peer& peer, const pdu::Associate& rq) override {
    if (!p_.called_ae.empty() && rq.called() != p_.called_ae)
      return Decision::reject(name(), "called AE title not recognized", 1, 1, 7);
    if (p_.called_is_move_destination && !p_.move_destinations.count(rq.called()))
      return Decision::reject(name(), "called AE title is not an allowed move destination", 1, 1, 7);
    if (p_.calling.empty()) return Decision::ok();
    const std::string calling = rq.calling();
    if (rule_for(p_, calling, peer)) return Decision::ok();
    const bool known = std::any_of(p_.calling.begin(), p_.calling.end(),
                                   [&](const CallingRule& r) { return r.ae == calling; });
    return Decision::reject(name(),
                            known ? "calling AE title not bound to this client certificate"
                                  : "calling AE title not recognized",
                            1, 1, 3);
  }

 private:
  const Policy& p_;
};

// Presentation contexts as PS3.8 9.3.2.2 allows them: odd, distinct IDs, at most 128, each with an abstract
// syntax and at least one transfer syntax. An RQ outside that is refused, not forwarded to a device that may
// not survive it.
class ContextFilter : public Filter {
 public:
  explicit ContextFilter(const Policy& p) : p_(p) {}
  const char* name() const override { return "presentation-contexts"; }
  Decision on_associate(const Peer&, const pdu::Associate& rq) override {
    const auto contexts = rq.all<pdu::PresentationContext>();
    if (contexts.empty()) return Decision::reject(name(), "no presentation context proposed", 1, 1, 1);
    if (contexts.size() > p_.max_contexts)
      return Decision::reject(name(), "more presentation contexts than allowed", 1, 1, 1);
    std::set<std::uint8_t> ids;
    for (const pdu::PresentationContext* c : contexts) {
      if (c->id % 2 == 0 || !ids.insert(c->id).second)
        return Decision::reject(name(), "presentation context IDs not odd and distinct", 1, 1, 1);
      if (pdu::all_of<pdu::AbstractSyntax>(c->sub_items).size() != 1 ||
          pdu::all_of<pdu::TransferSyntax>(c->sub_items).empty())
        return Decision::reject(name(), "a presentation context without one abstract and a transfer syntax", 1, 1,
                                1);
    }
    return Decision::ok();
  }

 private:
  const Policy& p_;
};

class CommandFilter : public Filter {
 public:
  explicit CommandFilter(const Policy& p) : p_(p) {}
  const char* name() const override { return "command"; }
  Decision on_command(const Peer& peer, const pdu::Associate& rq, const CommandInfo& c) override {
    if (c.service == Service::cancel) return Decision::ok();
    const std::set<Service>* allow = &p_.allow;
    const std::set<Service>* deny = &p_.deny;
    if (const CallingRule* r = rule_for(p_, rq.calling(), peer)) {
      if (!r->allow.empty() || !r->deny.empty()) {
        allow = &r->allow;
        deny = &r->deny;
      }
    }
    // A Command Field no DIMSE service has: 0x0211 Unrecognized Operation (PS3.7 C.5.7), never forwarded.
    if (c.service == Service::unknown) return Decision::refuse(name(), "unrecognized operation", 0x0211);
    if (deny->count(c.service) || (!allow->empty() && !allow->count(c.service)))
      return Decision::refuse(name(), std::string(service_name(c.service)) + " not allowed for this calling AE",
                              0x0124);
    return Decision::ok();
  }

 private:
  const Policy& p_;
};

class MoveDestinationFilter : public Filter {
 public:
  explicit MoveDestinationFilter(const Policy& p) : p_(p) {}
  const char* name() const override { return "move-destination"; }
  Decision on_command(const Peer&, const pdu::Associate&, const CommandInfo& c) override {
    if (c.service != Service::move || c.command_field != 0x0021) return Decision::ok();
    if (p_.move_destinations.count(c.move_destination)) return Decision::ok();
    return Decision::refuse(name(), "move destination not allowed", 0xA801);
  }

 private:
  const Policy& p_;
};

}  // namespace

Chain::Chain(Policy p) : policy_(std::move(p)) {
  filters_.push_back(std::make_unique<SourceFilter>(policy_));
  filters_.push_back(std::make_unique<AeFilter>(policy_));
  filters_.push_back(std::make_unique<ContextFilter>(policy_));
  filters_.push_back(std::make_unique<CommandFilter>(policy_));
  filters_.push_back(std::make_unique<MoveDestinationFilter>(policy_));
}

Decision Chain::on_associate(const Peer& peer, const pdu::Associate& rq) const {
  for (const auto& f : filters_)
    if (Decision d = f->on_associate(peer, rq); !d.allowed) return d;
  return Decision::ok();
}

Decision Chain::on_command(const Peer& peer, const pdu::Associate& rq, const CommandInfo& c) const {
  for (const auto& f : filters_)
    if (Decision d = f->on_command(peer, rq, c); !d.allowed) return d;
  return Decision::ok();
}

}  // namespace dg::gateway
