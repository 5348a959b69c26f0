#include "scan/dimse_probe.h"

#include <algorithm>
#include <fmt/format.h>

#include "dicom/dimse.h"
#include "dicom/pdu.h"
#include "util/random_seed.h"

namespace dg::scan {

namespace pdu = dicom::pdu;
namespace dimse = dicom::dimse;
namespace uids = dicom::uids;

const char* category_name(CommandCategory c) {
  switch (c) {
    case CommandCategory::success: return "success";
    case CommandCategory::pending: return "pending";
    case CommandCategory::warning: return "warning";
    case CommandCategory::failure: return "failure";
    case CommandCategory::cancel: return "cancel";
    case CommandCategory::aborted: return "aborted";
    case CommandCategory::dropped: return "dropped";
    case CommandCategory::none:
    case CommandCategory::no_response: return "no-response";
  }
  return "no-response";
}

bool succeeded(CommandCategory c) { return c == CommandCategory::success || c == CommandCategory::warning; }

namespace {

CommandCategory from_status(dimse::Category c) {
  switch (c) {
    case dimse::Category::success: return CommandCategory::success;
    case dimse::Category::pending: return CommandCategory::pending;
    case dimse::Category::cancel: return CommandCategory::cancel;
    case dimse::Category::warning: return CommandCategory::warning;
    case dimse::Category::failure: return CommandCategory::failure;
  }
  return CommandCategory::failure;
}

constexpr std::uint64_t kMaxBytesPerService = 64u << 20;  // a server that never stops talking is cut off
constexpr std::uint64_t kMaxPending = 1'000'000;           // answers counted before the query is abandoned
// A port that has answered DICOM and then refuses or resets a connection is busy, not gone: single-connection
// servers close their listener during an association and reopen it a moment later. Tried again after 50, 100,
// 200, 400, 800 and 1600 ms (3.2 s in all) before the failure stops the probe.
constexpr int kMaxConnectRetries = 6;

bool transient(Failure f) { return f == Failure::refused || f == Failure::reset || f == Failure::closed; }

std::string printable(std::span<const std::uint8_t> b);

}  // namespace

// The service classes one association proposes (PS3.4): which a stranger gets is the point of the scan.
const std::vector<const char*>& proposed_classes() {
  static const std::vector<const char*> v = {
      uids::kVerification,
      uids::kStudyRootFind, uids::kStudyRootMove, uids::kStudyRootGet,
      uids::kPatientRootFind, uids::kPatientRootMove, uids::kPatientRootGet,
      uids::kWorklistFind, uids::kStorageCommitment, uids::kMpps,
      uids::kCtStorage, uids::kMrStorage, uids::kCrStorage, uids::kDxStorage, uids::kMgStorage, uids::kUsStorage,
      uids::kSecondaryCapture, uids::kXaStorage, uids::kNmStorage, uids::kPetStorage, uids::kBasicTextSr,
      uids::kEncapsulatedPdf,
  };
  return v;
}

std::size_t proposed_storage_classes() {
  std::size_t n = 0;
  for (const char* uid : proposed_classes()) n += uids::is_storage(uid);
  return n;
}

namespace {

std::string printable(std::span<const std::uint8_t> b) {
  std::string s;
  for (std::size_t i = 0; i < b.size() && s.size() < 32; ++i) {
    const std::uint8_t c = b[i];
    if (c == '\r' || c == '\n') break;
    s.push_back(c >= 0x20 && c < 0x7F ? static_cast<char>(c) : '.');
  }
  return s;
}

}  // namespace

const std::vector<std::string>& default_called_aes() {
  // Product defaults (Orthanc, dcm4chee, DCMTK's tools, Conquest, ...) and names sites commonly use.
  static const std::vector<std::string> v = {"ANY-SCP", "ORTHANC", "DCM4CHEE", "STORESCP", "ACME_STORE",
                                             "CONQUESTSRV1", "PACS", "DCMQRSCP", "DICOM", "SERVER"};
  return v;
}

DimseProbe::DimseProbe(Endpoint ep, DimseOptions opt) : opt_(std::move(opt)) {
  r_.ep = std::move(ep);
  r_.discover = opt_.discover;
  rng_.seed(opt_.seed ? opt_.seed : util::random_seed());
  auto add = [this](const std::string& ae, bool builtin) {
    for (const auto& c : candidates_)
      if (c.first == ae) return;
    candidates_.emplace_back(ae, builtin);
  };
  if (!opt_.discover) {  // discovery makes one association: no titles to try after a refusal, no C-FIND/C-MOVE
    for (const auto& ae : opt_.called_aes) add(ae, false);
    for (const auto& ae : default_called_aes()) add(ae, true);
    patient_id_ = "DGPROBE" + random_digits(16);  // matches no one; no wildcard characters
    study_uid_ = "2.25." + random_digits(38);
    r_.move_destination = random_ae();
  }
}

std::string DimseProbe::random_digits(int n) {
  std::string s;
  std::uniform_int_distribution<int> d(0, 9);
  s.push_back(static_cast<char>('1' + std::uniform_int_distribution<int>(0, 8)(rng_)));
  while (static_cast<int>(s.size()) < n) s.push_back(static_cast<char>('0' + d(rng_)));
  return s;
}

std::string DimseProbe::random_ae() {
  static const char kChars[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  std::uniform_int_distribution<int> d(0, sizeof kChars - 2);
  std::string s = "DG";
  for (int i = 0; i < 10; ++i) s.push_back(kChars[d(rng_)]);
  return s;  // 12 characters: "DG" marks our probes in the server's log
}

Step DimseProbe::begin() {
  called_ = random_ae();
  called_is_random_ = true;
  calling_ = random_ae();
  tls_now_ = opt_.tls_only;
  tried_tls_ = opt_.tls_only;
  state_ = State::connecting;
  return Step::connect(tls_now_, opt_.timeout);
}

Step DimseProbe::on_connected(const std::string& tls_version, const std::string& alpn) {
  r_.tcp_open = true;
  if (tls_now_) {
    r_.tls_version = tls_version;
    r_.alpn = alpn;
  }
  return associate();
}

Step DimseProbe::associate() {
  pdu::AssociateRq rq;
  rq.called_ae = called_;
  rq.calling_ae = calling_;
  rq.implementation_uid = kImplementationUid;
  rq.implementation_version = kImplementationVersion;
  contexts_.clear();
  if (opt_.discover) {
    // Discovery classifies by the answer to the request (AC, RJ or abort) and names the product from the
    // A-ASSOCIATE-AC: one Verification context in the default transfer syntax (PS3.5 10.1, which every AE
    // supports) is all it needs; 22 contexts cost the listener their negotiation and nothing is learned from them.
    rq.contexts.push_back({1, uids::kVerification, {uids::kImplicitLE}});
    contexts_.push_back({1, uids::kVerification});
  } else {
    std::uint8_t id = 1;
    for (const char* as : proposed_classes()) {
      rq.contexts.push_back({id, as, {uids::kExplicitLE, uids::kImplicitLE}});
      contexts_.push_back({id, as});
      id = static_cast<std::uint8_t>(id + 2);
    }
  }
  reader_.clear();
  any_bytes_ = false;
  state_ = State::await_assoc;
  return Step::send(pdu::encode(rq), opt_.timeout);
}

Step DimseProbe::on_data(std::span<const std::uint8_t> bytes) {
  bytes_in_ += bytes.size();
  if (bytes_in_ > kMaxBytesPerService) {
    r_.release_note = "the server sent more than 64 MiB; the connection was closed";
    return finish();
  }
  const bool first = !any_bytes_;
  any_bytes_ = true;
  reader_.feed(bytes);
  if (state_ == State::await_assoc && first && !bytes.empty() && (bytes[0] < 1 || bytes[0] > 7))
    return classify_non_dicom(reader_.pending());
  std::vector<std::uint8_t> p;
  while (reader_.next(p)) {
    Step s = on_pdu(p);
    if (s.kind != Step::Kind::receive) return s;
  }
  if (!reader_.error().empty()) {
    if (state_ == State::await_assoc) return classify_non_dicom(reader_.pending());
    slot(current_).error = "malformed PDU: " + reader_.error();
    return finish();
  }
  return Step::receive(opt_.timeout);
}

Step DimseProbe::classify_non_dicom(std::span<const std::uint8_t> b) {
  record_attempt({called_, calling_, tls_now_, "not-dicom", -1, -1, -1, {}});
  const bool tls_record = b.size() >= 2 && (b[0] == 0x15 || b[0] == 0x16) && b[1] == 0x03;
  if (tls_record && !tls_now_) {
    r_.answer = "tls";
    r_.attempts.back().detail = "the answer is a TLS record";
    return retry_in_tls_or_finish();
  }
  r_.answer_tls = tls_now_;
  if (b.size() >= 5 && std::equal(b.begin(), b.begin() + 5, "HTTP/")) r_.answer = "http";
  else r_.answer = "not-dicom";
  r_.banner = printable(b);
  r_.attempts.back().detail = "the answer is not a DICOM PDU";
  return finish();
}

Step DimseProbe::retry_in_tls_or_finish() {
  if (!opt_.try_tls || tried_tls_) return finish();
  tried_tls_ = true;
  tls_now_ = true;
  called_ = random_ae();
  called_is_random_ = true;
  calling_ = random_ae();
  default_i_ = 0;
  state_ = State::connecting;
  return Step::connect(true, opt_.timeout);
}

void DimseProbe::record_attempt(AssocAttempt a) {
  a.source = called_is_random_ ? "random" : called_is_builtin_ ? "default" : "given";
  r_.attempts.push_back(std::move(a));
}

Step DimseProbe::retry_connection(Failure f, const std::string& detail) {
  AssocAttempt a{called_, calling_, tls_now_, failure_name(f), -1, -1, -1, detail};
  a.retried = true;
  record_attempt(a);
  ++r_.transport_retries;
  const Ms delay(50 << connect_retries_);
  ++connect_retries_;
  state_ = State::connecting;
  return Step::connect_after(delay, tls_now_, opt_.timeout);
}

Step DimseProbe::on_failure(Failure f, const std::string& detail) {
  switch (state_) {
    case State::connecting:
      if (r_.is_dicom() && transient(f) && connect_retries_ < kMaxConnectRetries) return retry_connection(f, detail);
      if (tls_now_ || r_.is_dicom()) record_attempt({called_, calling_, tls_now_, failure_name(f), -1, -1, -1, detail});
      if (r_.is_dicom())
        r_.incomplete = fmt::format("the port answered DICOM, then {} {} connection{} in a row ({}); the probe stopped there",
                                    f == Failure::refused ? "refused" : "failed", connect_retries_ + 1,
                                    connect_retries_ ? "s" : "", failure_name(f));
      if (tls_now_ && f == Failure::tls_failed && !r_.is_dicom()) r_.answer = "tls-handshake-failed";
      else if (r_.answer.empty()) r_.answer = failure_name(f);  // a first failure names the answer
      return finish();
    case State::await_assoc: {
      if (r_.is_dicom() && !any_bytes_ && transient(f) && connect_retries_ < kMaxConnectRetries)
        return retry_connection(f, detail);
      record_attempt({called_, calling_, tls_now_, failure_name(f), -1, -1, -1, detail});
      if (!any_bytes_ && !tls_now_ && !r_.is_dicom()) {
        // Plain TCP connected, our A-ASSOCIATE-RQ got no DICOM answer: a TLS server reading our bytes as a bad
        // ClientHello closes or stays silent. Try TLS.
        r_.answer = "silent";
        return retry_in_tls_or_finish();
      }
      if (r_.is_dicom())
        r_.incomplete = fmt::format("the port answered DICOM, then gave no answer to an association request ({})",
                                    failure_name(f));
      // Inside TLS: the handshake worked but no DICOM answer came (TLS 1.3 servers that require a client
      // certificate send their refusal here).
      if (!r_.is_dicom()) r_.answer = tls_now_ ? "tls-no-dicom-answer" : "silent";
      return finish();
    }
    case State::await_response: {
      CommandResult& res = slot(current_);
      res.error = std::string("connection ") + failure_name(f) + " while waiting for the response";
      if (res.category == CommandCategory::none)
        res.category = f == Failure::closed || f == Failure::reset ? CommandCategory::dropped : CommandCategory::no_response;
      // A server that drops the connection on one command (instead of an A-ABORT) is asked the remaining ones on
      // a new association, as after an abort.
      if ((f == Failure::closed || f == Failure::reset) && !queue_.empty() && resumes_ < 3) {
        ++resumes_;
        resuming_ = true;
        state_ = State::connecting;
        return Step::connect_after(Ms(50), tls_now_, opt_.timeout);
      }
      return finish();
    }
    case State::await_release:
      r_.release_note = std::string("no A-RELEASE-RP: ") + failure_name(f);
      return finish();
    case State::done:
      return finish();
  }
  return finish();
}

Step DimseProbe::on_pdu(const std::vector<std::uint8_t>& p) {
  const pdu::Parsed parsed = pdu::parse(p);
  if (state_ == State::await_assoc) {
    // Only the three answers PS3.8 allows to an A-ASSOCIATE-RQ prove a DICOM service.
    if (parsed.ac || parsed.rj || parsed.abort) {
      r_.answer = "dicom";
      r_.tls = tls_now_;
    }
    AssocAttempt a{called_, calling_, tls_now_, {}, -1, -1, -1, {}};
    connect_retries_ = 0;  // the server answered: a later failure starts a new count
    if (parsed.ac) {
      a.outcome = "accepted";
      record_attempt(a);
      return on_accept(p);
    }
    if (parsed.rj) {
      a.outcome = "rejected";
      a.rj_result = parsed.rj->result;
      a.rj_source = parsed.rj->source;
      a.rj_reason = parsed.rj->reason;
      a.detail = std::string(pdu::rj_result_name(parsed.rj->result)) + ", " +
                 pdu::rj_source_name(parsed.rj->source) + ", " +
                 pdu::rj_reason_name(parsed.rj->source, parsed.rj->reason);
      record_attempt(a);
      if (resuming_) return finish();
      return next_attempt_after_reject(r_.attempts.back());
    }
    if (parsed.abort) {
      a.outcome = "aborted";
      a.detail = std::string(pdu::abort_source_name(parsed.abort->source)) + ", " +
                 pdu::abort_reason_name(parsed.abort->reason);
      record_attempt(a);
      return finish();
    }
    a.outcome = "not-dicom";
    a.detail = parsed.error.empty() ? std::string("unexpected ") + pdu::type_name(parsed.type) : parsed.error;
    record_attempt(a);
    if (!r_.is_dicom()) r_.answer = "not-dicom";
    return finish();
  }
  if (state_ == State::await_release) {
    if (parsed.type == static_cast<std::uint8_t>(pdu::Type::release_rp)) {
      r_.released = true;
      return finish();
    }
    if (parsed.type == static_cast<std::uint8_t>(pdu::Type::p_data)) return Step::receive(opt_.timeout);
    r_.release_note = std::string("answered the release with ") + pdu::type_name(parsed.type);
    return finish();
  }
  if (state_ == State::await_response) return on_command_pdu(p);
  return Step::receive(opt_.timeout);
}

Step DimseProbe::next_attempt_after_reject(const AssocAttempt& a) {
  const bool random_called = called_is_random_;
  if (a.rj_source == 1 && a.rj_reason == 7) {  // called AE title not recognized
    r_.called_enforced = true;
  } else if (a.rj_source == 1 && a.rj_reason == 3) {  // calling AE title not recognized
    r_.calling_enforced = true;
    if (!random_called) {
      r_.called_enforced = true;  // a known called AE got past the called check: it is the right one
      r_.known_called = called_;
    }
    return finish();
  } else {
    return finish();  // no reason that tells us about AE titles (busy, no reason given, ...)
  }
  if (opt_.discover || default_i_ >= candidates_.size()) return finish();
  called_ = candidates_[default_i_].first;
  called_is_builtin_ = candidates_[default_i_].second;
  ++default_i_;
  called_is_random_ = false;
  calling_ = random_ae();
  state_ = State::connecting;
  return Step::connect(tls_now_, opt_.timeout);
}

Step DimseProbe::on_accept(const std::vector<std::uint8_t>& p) {
  const pdu::Parsed parsed = pdu::parse(p);
  const pdu::AssociateAc& ac = *parsed.ac;
  if (resuming_) {  // a new association after the server aborted one: carry on with the remaining commands
    resuming_ = false;
    for (Context& mine : contexts_) mine.accepted = false;
    for (const pdu::ContextAc& c : ac.contexts)
      for (Context& mine : contexts_)
        if (mine.id == c.id && c.result == 0) {
          mine.accepted = true;
          mine.explicit_vr = c.transfer_syntax == uids::kExplicitLE;
        }
    return next_command();
  }
  r_.accepted_called = called_;
  if (called_is_random_) {
    r_.called_enforced = false;
  } else {
    r_.known_called = called_;
    if (called_is_builtin_) r_.default_called = called_;
  }
  r_.calling_enforced = false;  // every calling AE title we use is random
  r_.implementation_uid = ac.implementation_uid;
  r_.implementation_version = ac.implementation_version;
  r_.max_pdu = ac.max_pdu;
  for (const pdu::ContextAc& c : ac.contexts) {
    for (Context& mine : contexts_) {
      if (mine.id != c.id || c.result != 0) continue;
      mine.accepted = true;
      mine.explicit_vr = c.transfer_syntax == uids::kExplicitLE;
      r_.accepted.push_back(mine.abstract_syntax);
    }
  }
  queue_.clear();
  if (!opt_.discover) {
    if (accepted_context({uids::kVerification})) queue_.push_back(Cmd::echo);
    if (accepted_context({uids::kStudyRootFind, uids::kPatientRootFind})) queue_.push_back(Cmd::find);
    if (accepted_context({uids::kStudyRootMove, uids::kPatientRootMove})) queue_.push_back(Cmd::move);
    if (accepted_context({uids::kStudyRootGet, uids::kPatientRootGet})) queue_.push_back(Cmd::get);
    if (opt_.count_records && accepted_context({uids::kStudyRootFind})) queue_.push_back(Cmd::count);
    if (opt_.active_store && accepted_context({uids::kSecondaryCapture})) queue_.push_back(Cmd::store);
  }
  std::reverse(queue_.begin(), queue_.end());
  return next_command();
}

const DimseProbe::Context* DimseProbe::accepted_context(std::initializer_list<const char*> classes) const {
  for (const char* uid : classes)
    for (const Context& c : contexts_)
      if (c.accepted && c.abstract_syntax == uid) return &c;
  return nullptr;
}

CommandResult& DimseProbe::slot(Cmd c) {
  switch (c) {
    case Cmd::echo: return r_.echo;
    case Cmd::find: return r_.find;
    case Cmd::move: return r_.move;
    case Cmd::get: return r_.get;
    case Cmd::count: return r_.count;
    case Cmd::store: return r_.store;
    case Cmd::move_probe: return r_.move_probe;
  }
  return r_.echo;
}

Step DimseProbe::next_command() {
  if (queue_.empty()) return release();
  current_ = queue_.back();
  queue_.pop_back();
  const Context* ctx = nullptr;
  Bytes cmd, data;
  const std::uint16_t id = ++message_id_;
  switch (current_) {
    case Cmd::echo:
      ctx = accepted_context({uids::kVerification});
      cmd = dimse::echo_rq(id);
      break;
    case Cmd::find:
      ctx = accepted_context({uids::kStudyRootFind, uids::kPatientRootFind});
      cmd = dimse::find_rq(id, ctx->abstract_syntax);
      data = dimse::study_identifier(patient_id_, ctx->explicit_vr);
      break;
    case Cmd::move:
      ctx = accepted_context({uids::kStudyRootMove, uids::kPatientRootMove});
      cmd = dimse::move_rq(id, ctx->abstract_syntax, r_.move_destination);
      data = dimse::move_identifier(study_uid_, ctx->explicit_vr,
                                    ctx->abstract_syntax == uids::kPatientRootMove ? patient_id_ : std::string());
      break;
    case Cmd::get:
      ctx = accepted_context({uids::kStudyRootGet, uids::kPatientRootGet});
      cmd = dimse::get_rq(id, ctx->abstract_syntax);
      data = dimse::move_identifier(study_uid_, ctx->explicit_vr,
                                    ctx->abstract_syntax == uids::kPatientRootGet ? patient_id_ : std::string());
      break;
    case Cmd::store: {
      ctx = accepted_context({uids::kSecondaryCapture});
      r_.stored_instance_uid = "2.25." + random_digits(38);
      r_.stored_study_uid = "2.25." + random_digits(38);
      cmd = dimse::store_rq(id, ctx->abstract_syntax, r_.stored_instance_uid);
      data = dimse::test_object(r_.stored_study_uid, "2.25." + random_digits(38), r_.stored_instance_uid,
                                ctx->explicit_vr);
      break;
    }
    case Cmd::move_probe:
      ctx = accepted_context({uids::kStudyRootMove});
      r_.move_probe_destination = opt_.move_probe_ae;
      cmd = dimse::move_rq(id, ctx->abstract_syntax, opt_.move_probe_ae);
      data = dimse::move_identifier(r_.stored_study_uid, ctx->explicit_vr);
      break;
    case Cmd::count:
      ctx = accepted_context({uids::kStudyRootFind});
      cmd = dimse::find_rq(id, ctx->abstract_syntax);
      data = dimse::universal_study_identifier(ctx->explicit_vr);
      break;
  }
  CommandResult& res = slot(current_);
  res.sent = true;
  res.sop_class = ctx->abstract_syntax;
  Bytes out = pdu::encode_pdata(ctx->id, true, true, cmd);
  if (!data.empty()) {
    Bytes d = pdu::encode_pdata(ctx->id, false, true, data);
    out.insert(out.end(), d.begin(), d.end());
  }
  command_buf_.clear();
  state_ = State::await_response;
  return Step::send(std::move(out), opt_.timeout);
}

Step DimseProbe::on_command_pdu(const std::vector<std::uint8_t>& p) {
  const pdu::Parsed parsed = pdu::parse(p);
  CommandResult& res = slot(current_);
  if (parsed.abort) {
    // Some servers (Orthanc) refuse a command by aborting the association: that is an answer, "refused".
    res.error = std::string("the server aborted the association: ") + pdu::abort_source_name(parsed.abort->source) +
                ", " + pdu::abort_reason_name(parsed.abort->reason);
    res.category = CommandCategory::aborted;
    if (queue_.empty() || resumes_ >= 3) return finish();
    ++resumes_;
    resuming_ = true;
    state_ = State::connecting;
    return Step::connect(tls_now_, opt_.timeout);
  }
  if (parsed.type == static_cast<std::uint8_t>(pdu::Type::release_rq)) {
    res.error = "the server asked to release the association";
    res.category = CommandCategory::no_response;
    return finish();
  }
  if (parsed.type != static_cast<std::uint8_t>(pdu::Type::p_data) || !parsed.error.empty()) {
    res.error = parsed.error.empty() ? std::string("unexpected ") + pdu::type_name(parsed.type) : parsed.error;
    res.category = CommandCategory::no_response;
    return finish();
  }
  for (const pdu::Pdv& v : parsed.pdvs) {
    if (!v.command) continue;  // datasets of pending answers are discarded unread: they may hold patient data
    if (command_buf_.size() + v.data.size() > 65536) {
      res.error = "a command set larger than 64 KiB";
      return finish();
    }
    command_buf_.insert(command_buf_.end(), v.data.begin(), v.data.end());
    if (!v.last) continue;
    const dimse::Response rsp = dimse::parse_response(command_buf_);
    command_buf_.clear();
    if (!rsp.error.empty() || !rsp.has_status) {
      res.error = rsp.error.empty() ? "response without a status" : rsp.error;
      res.category = CommandCategory::no_response;
      return finish();
    }
    const dimse::Category cat = dimse::status_category(rsp.status);
    if (cat == dimse::Category::pending) {
      if (++res.pending > kMaxPending) {
        res.error = "more than 1,000,000 answers; stopped counting";
        return finish();
      }
      continue;
    }
    res.status = rsp.status;
    res.category = from_status(cat);
    res.completed = rsp.completed;
    res.failed = rsp.failed;
    res.warning = rsp.warning;
    // Our own test object is stored: ask the server to move it to an address we named.
    if (current_ == Cmd::store && (cat == dimse::Category::success || cat == dimse::Category::warning) && !opt_.move_probe_ae.empty() &&
        accepted_context({uids::kStudyRootMove}))
      queue_.push_back(Cmd::move_probe);
    return next_command();
  }
  return Step::receive(opt_.timeout);
}

Step DimseProbe::release() {
  state_ = State::await_release;
  return Step::send(pdu::encode_release_rq(), opt_.timeout);
}

Step DimseProbe::finish() {
  state_ = State::done;

  if (r_.answer.empty()) r_.answer = "silent";
  return Step::finish();
}

}  // namespace dg::scan
