// The DIMSE probe: what a stranger can do with a DICOM service, proved without touching patient data.
// Per service: an AE-title matrix (random called and calling AE, then well-known defaults), one association
// proposing the main service classes, C-ECHO, a STUDY-level C-FIND for a random never-existing Patient ID,
// C-MOVE and C-GET of a random never-existing study to a random destination, and A-RELEASE every time.
// Plain TCP first; when the answer looks like TLS (an alert, a silent close) the same probe runs inside TLS.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "dicom/pdu_stream.h"
#include "scan/probe.h"
#include "scan/targets.h"
#include "util/random_seed.h"

namespace dg::scan {

// Our identity on the wire: our own implementation class UID (a UUID-derived 2.25 UID) and version name.
inline constexpr const char* kImplementationUid = "2.25.319038944579669305514170399698418424328";
inline constexpr const char* kImplementationVersion = "DICOMGUARD_010";

struct DimseOptions {
  bool discover = false;        // one association (random AEs, Verification only), classify, release
  bool try_tls = true;          // retry inside TLS when plain TCP gets a TLS-like answer or none
  bool tls_only = false;        // start with TLS (e.g. a port known to be DICOM-TLS)
  bool count_records = false;   // opt-in: count the matches of a universal STUDY-level query (the number only)
  bool active_store = false;    // opt-in: C-STORE one labelled synthetic object (dimse::test_object)
  // opt-in, with active_store: once the test object is stored, C-MOVE its study to this destination AE title,
  // which names an address and port of ours ("10.0.0.5:40123"): a server that sends it there moves studies to
  // any address a stranger names. Only our own test object can be moved.
  std::string move_probe_ae;
  Ms timeout{5000};             // per step: connect, handshake, each reply
  std::vector<std::string> called_aes;  // AE titles to try after a random one is refused (learned or given)
  std::uint64_t seed = 0;       // 0: random
};

// The AE titles a scan tries when a random called AE title is refused: product defaults and common names.
const std::vector<std::string>& default_called_aes();
// The SOP classes one association proposes, and how many of them are storage classes.
const std::vector<const char*>& proposed_classes();
std::size_t proposed_storage_classes();

struct AssocAttempt {
  std::string called, calling;
  bool tls = false;
  std::string outcome;  // accepted, rejected, aborted, not-dicom, closed, reset, timeout, refused, tls-failed, error
  int rj_result = -1, rj_source = -1, rj_reason = -1;
  std::string detail;   // decoded reject/abort reason, or the socket error
  bool retried = false; // a transport failure after the port had answered DICOM: the same attempt was made again
  std::string source;   // where the called AE title came from: random, given (--called-ae or learned), default
};

// How a command ended: its status's category, or what stopped it (the JSON "result").
enum class CommandCategory : std::uint8_t {
  none,         // not sent, or nothing decided yet
  success, pending, warning, failure, cancel,
  aborted,      // refused by A-ABORT
  dropped,      // the connection closed or was reset before an answer
  no_response,  // no answer within the timeout, or one without a status
};
const char* category_name(CommandCategory c);  // "success", ..., "no-response"; none: "no-response"
bool succeeded(CommandCategory c);             // success or warning

struct CommandResult {
  bool sent = false;
  std::string sop_class;
  int status = -1;          // final status, -1 when none arrived
  CommandCategory category = CommandCategory::none;  // success, pending, warning, failure, cancel, aborted (refused by A-ABORT), dropped (the
                            // connection closed or was reset before an answer), no-response
  std::uint64_t pending = 0;  // pending responses (matches); their datasets are discarded unread
  int completed = -1, failed = -1, warning = -1;  // sub-operations (C-MOVE/C-GET)
  std::string error;
};

struct DimseResult {
  Endpoint ep;
  bool discover = false;           // --discover: only Verification was proposed (storage was not tried)
  bool tcp_open = false;           // a TCP connection was made
  std::string answer;              // dicom, tls-only, http, not-dicom, silent, refused, unreachable, timeout, ...
  std::string banner;              // first bytes of a non-DICOM answer, printable only (no more than 32)
  bool answer_tls = false;         // the answer (DICOM or not) came inside TLS
  bool tls = false;                // DICOM was found inside TLS
  std::string tls_version, alpn;
  std::vector<AssocAttempt> attempts;
  std::optional<bool> called_enforced, calling_enforced;  // nullopt: not measured
  std::string accepted_called;     // the called AE title of the accepted association
  std::string known_called;        // the accepted called AE title when it was not random (given, learned or default)
  std::string default_called;      // set when a built-in default AE title was accepted after a random one was not
  std::string implementation_uid, implementation_version;
  std::uint32_t max_pdu = 0;
  std::vector<std::string> accepted;  // abstract syntaxes accepted
  CommandResult echo, find, move, get, count, store, move_probe;
  std::string stored_instance_uid;  // --active-store: the UID of the object stored (to find and delete it)
  std::string stored_study_uid;
  std::string move_probe_destination;
  std::string move_destination;    // the random AE title a C-MOVE named
  bool released = false;
  std::string release_note;
  int transport_retries = 0;       // connections tried again after a refusal or reset from a port that spoke DICOM
  std::string incomplete;          // why the AE matrix or the commands stopped short (transport failures)

  bool is_dicom() const { return answer == "dicom"; }
  bool association_accepted() const { return !accepted_called.empty() || !accepted.empty(); }
};

class DimseProbe : public Probe {
 public:
  DimseProbe(Endpoint ep, DimseOptions opt);
  Step begin() override;
  Step on_connected(const std::string& tls_version, const std::string& alpn) override;
  Step on_data(std::span<const std::uint8_t> bytes) override;
  Step on_failure(Failure f, const std::string& detail) override;
  const DimseResult& result() const { return r_; }

 private:
  enum class State : std::uint8_t { connecting, await_assoc, await_response, await_release, done };
  enum class Cmd : std::uint8_t { echo, find, move, get, count, store, move_probe };
  struct Context {
    std::uint8_t id;
    std::string abstract_syntax;
    bool accepted = false;
    bool explicit_vr = false;
  };

  Step associate();
  Step next_attempt_after_reject(const AssocAttempt& a);
  Step on_pdu(const std::vector<std::uint8_t>& pdu);
  Step on_accept(const std::vector<std::uint8_t>& pdu);
  Step next_command();
  Step on_command_pdu(const std::vector<std::uint8_t>& pdu);
  Step release();
  Step classify_non_dicom(std::span<const std::uint8_t> first);
  Step retry_in_tls_or_finish();
  Step retry_connection(Failure f, const std::string& detail);
  void record_attempt(AssocAttempt a);  // an association attempt, with where its called AE title came from
  Step finish();
  CommandResult& slot(Cmd c);
  std::string random_ae();
  std::string random_digits(int n);
  const Context* accepted_context(std::initializer_list<const char*> sop_classes) const;

  DimseOptions opt_;
  DimseResult r_;
  util::SplitMix64 rng_;
  State state_ = State::connecting;
  bool tls_now_ = false;
  bool tried_tls_ = false;
  bool any_bytes_ = false;
  std::string called_, calling_;
  bool called_is_random_ = true;
  std::size_t default_i_ = 0;   // next entry of the called AE candidates
  std::vector<std::pair<std::string, bool>> candidates_;  // AE title, from the built-in default list
  bool called_is_builtin_ = false;
  bool resuming_ = false;  // reconnecting after an abort to run the remaining commands
  int resumes_ = 0;
  int connect_retries_ = 0;  // consecutive transport failures of the current attempt
  std::vector<Context> contexts_;
  std::vector<Cmd> queue_;
  Cmd current_{};
  std::uint16_t message_id_ = 0;
  Bytes command_buf_;
  std::string patient_id_, study_uid_;
  std::uint64_t bytes_in_ = 0;
  dicom::pdu::StreamReader reader_;
};

}  // namespace dg::scan
