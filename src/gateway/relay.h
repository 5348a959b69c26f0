// One association through the gateway, sans I/O: bytes from the client and from the upstream go in (read straight
// into the PDU being assembled, so a P-DATA PDU is never copied on the way through), PDUs to send come out. The
// relay runs the route's filter chain on the A-ASSOCIATE-RQ and on every command, answers denials itself (an
// A-ASSOCIATE-RJ, or a failure status for a command on an accepted association) and A-ABORTs both sides on a
// protocol violation from either. Commands are parsed from the command fragments only; of a dataset only the
// first fragment of a C-STORE is read (its Study Instance UID and Patient ID, for the audit trail) and a C-FIND
// identifier is kept (bounded) for the Query audit message. server.cc moves bytes; fuzz_gateway feeds both sides.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "dicom/associate.h"
#include "dicom/pdu.h"
#include "gateway/policy.h"

namespace dg::gateway {

using Bytes = std::vector<std::uint8_t>;
enum class Side : std::uint8_t { client, upstream };
const char* side_name(Side s);

struct RelayLimits {
  // The largest PDU either side may send (the Maximum Length sub-items are lowered to it on the way through, so
  // a conforming peer never sends more); anything larger is a protocol violation.
  std::uint32_t max_pdu = 1u << 20;
  std::uint32_t max_command = 64 * 1024;      // a command set (all its fragments)
  std::uint32_t max_identifier = 64 * 1024;   // a C-FIND identifier kept for the audit trail
};

// A C-STORE (or a C-GET's store back to the client) that finished: what the audit trail counts.
struct Instance {
  Side from = Side::client;  // who sent the object
  std::string sop_class, study_uid, patient_id;
  std::uint16_t status = 0;
};

// What happened, for the connection log and the audit trail. Called synchronously from the relay's methods.
class RelayEvents {
 public:
  virtual ~RelayEvents() = default;
  // The chain refused the association (the client got an A-ASSOCIATE-RJ).
  virtual void rejected(const dicom::pdu::Associate& rq, const Decision& d) = 0;
  // The upstream answered the (forwarded) request: accepted (ac set) or rejected (rj set).
  virtual void upstream_answered(const dicom::pdu::Associate& rq, const dicom::pdu::Associate* ac,
                                 const dicom::pdu::AssociateRj* rj) = 0;
  // A request from the client, and what the chain decided.
  virtual void command(const CommandInfo& c, const Decision& d) = 0;
  virtual void instance(const Instance& i) = 0;
  // A C-FIND's identifier (whole, or its first max_identifier bytes: truncated).
  virtual void query(const CommandInfo& c, std::span<const std::uint8_t> identifier, const std::string& ts_uid,
                     bool truncated) = 0;
  // A C-MOVE or C-GET whose final response came back.
  virtual void retrieve_done(const CommandInfo& c, std::uint16_t status, int completed, int failed, int warning) = 0;
  // A protocol violation: `side` broke the protocol; both sides are aborted.
  virtual void violation(Side side, const std::string& what) = 0;
};

class Relay {
 public:
  struct Output {
    std::vector<Bytes> to_client, to_upstream;  // in order
    bool connect = false;  // the request passed the chain: open the upstream, then call upstream_connected()
    bool close = false;    // send what is queued, then close both sides
  };
  enum class State : std::uint8_t { awaiting_rq, connecting, awaiting_ac, data, released, closed };

  Relay(const Chain& chain, Peer peer, RelayEvents& events, RelayLimits limits = {});

  // Where to read the next bytes from that side into (the rest of the PDU being assembled); empty when that side
  // is not to be read now (the upstream before it is connected, both while waiting or after the end).
  std::span<std::uint8_t> read_buffer(Side s);
  // `n` bytes were read into read_buffer(s).
  Output received(Side s, std::size_t n);
  // Convenience for tests and the fuzzer: copies `bytes` through read_buffer/received.
  Output feed(Side s, std::span<const std::uint8_t> bytes);

  Output upstream_connected();
  Output upstream_failed(const std::string& why);
  // That side closed its connection (or the I/O failed).
  Output closed(Side s);
  // A timeout or a drain deadline: both sides get an A-ABORT.
  Output abort(const std::string& why);
  // Gives back a buffer that was sent, for reuse.
  void recycle(Bytes&& b);

  State state() const { return state_; }
  // The peer as known after the TLS handshake (the client certificate's identities).
  void set_peer(Peer p) { peer_ = std::move(p); }
  // How the association ended: "released", "aborted-by-client", "aborted-by-upstream", "rejected",
  // "upstream-rejected", "upstream-unreachable", "violation", "aborted" (by the gateway), "lost-client",
  // "lost-upstream"; "" while it runs.
  const std::string& ending() const { return ending_; }
  const dicom::pdu::Associate& request() const { return rq_; }
  bool mid_pdu(Side s) const;  // part of a PDU has arrived on that side (the slowloris timer)

 private:
  struct Inbound {
    Bytes pdu;
    std::size_t have = 0, need = 6;
  };
  struct Pending {  // a request forwarded upstream, waiting for its response
    CommandInfo info;
    Instance instance;
  };
  struct Message {  // the message being received on one side
    Bytes command;
    std::vector<Bytes> held;  // the PDV items of a command not yet whole
    std::uint8_t context = 0;
    bool in_command = false, in_data = false;
    bool drop = false;  // a denied command: its data fragments are dropped
    Decision denial;
    CommandInfo info;
    bool first_data = true;
    Bytes identifier;
    bool identifier_truncated = false;
  };

  Output on_pdu(Side s, Bytes&& pdu);
  void on_client_pdu(Bytes&& pdu, Output& out);
  void on_upstream_pdu(Bytes&& pdu, Output& out);
  void pdata(Side s, Bytes&& pdu, Output& out);
  bool command_complete(Side s, Message& m, Output& out);  // false: violation raised
  void deny_answer(const Message& m, Output& out);
  void violation(Side s, const std::string& what, std::uint8_t reason, Output& out);
  void forward(Side to, Bytes&& b, Output& out) { (to == Side::client ? out.to_client : out.to_upstream).push_back(std::move(b)); }
  Bytes take_buffer();

  const Chain& chain_;
  Peer peer_;
  RelayEvents& events_;
  RelayLimits limits_;
  State state_ = State::awaiting_rq;
  std::string ending_;
  void end(Output& out, const char* how) {
    out.close = true;
    state_ = State::closed;
    if (ending_.empty()) ending_ = how;
  }
  Inbound in_[2];
  Message msg_[2];
  dicom::pdu::Associate rq_;
  Bytes rq_out_;  // the request as forwarded
  std::map<std::uint8_t, bool> contexts_;  // accepted context -> explicit VR (from the AC)
  std::map<std::uint8_t, std::string> context_ts_;
  std::map<std::uint16_t, Pending> pending_[2];  // by message ID, per side that sent the request
  std::vector<Bytes> spare_;
};

// Lowers every Maximum Length sub-item to `cap` (0, which means unlimited, included), adding one when there is
// none. Returns whether anything changed.
bool cap_max_length(dicom::pdu::Associate& a, std::uint32_t cap);

}  // namespace dg::gateway
