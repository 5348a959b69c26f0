#include "lab/scp.h"

#include "dicom/pdu.h"
#include "dicom/uids.h"

namespace dg::lab {

namespace pdu = dicom::pdu;
namespace dimse = dicom::dimse;
namespace uids = dicom::uids;

namespace {

constexpr const char* kLabUid = "2.25.319038944579669305514170399698418424328.1";
constexpr const char* kLabVersion = "DICOMGUARD_LAB_010";
constexpr std::size_t kMaxDataset = 16u << 20;

bool supported(const std::string& as, Services services) {
  if (services == Services::echo_store) return as == uids::kVerification || uids::is_storage(as);
  return as == uids::kVerification || as == uids::kStudyRootFind || as == uids::kStudyRootMove ||
         as == uids::kStudyRootGet || as == uids::kPatientRootFind || as == uids::kPatientRootMove ||
         as == uids::kPatientRootGet || uids::is_storage(as);
}

std::vector<const Synthetic*> matches(const dimse::Identifier& id) {
  std::vector<const Synthetic*> m;
  for (const Synthetic& s : synthetic_patients()) {
    const bool pid = id.patient_id.empty() || id.patient_id == "*" || id.patient_id == s.id;
    const bool name = id.patient_name.empty() || id.patient_name == "*" || id.patient_name == s.name;
    const bool study = id.study_uid.empty() || id.study_uid == s.study_uid;
    if (pid && name && study) m.push_back(&s);
  }
  return m;
}

}  // namespace

Scp::Scp(const ServerConfig& cfg, ScpEvents& events, std::string peer_address)
    : cfg_(cfg), events_(events), peer_(std::move(peer_address)) {}

void Scp::refuse(Output& out, Bytes p) {
  out.send.push_back(std::move(p));
  out.close = true;
}

Scp::Output Scp::on_bytes(std::span<const std::uint8_t> bytes) {
  Output out;
  reader_.feed(bytes);
  Bytes p;
  while (!out.close && reader_.next(p)) on_pdu(p, out);
  if (!out.close && !reader_.error().empty()) refuse(out, pdu::encode_abort(2, 0));
  return out;
}

void Scp::associate(const Bytes& p, Output& out) {
  std::string err;
  auto rq = pdu::parse_rq(p, err);
  if (!rq) return refuse(out, pdu::encode_abort(2, 1));
  if (!cfg_.any_called && rq->called_ae != cfg_.ae_title) return refuse(out, pdu::encode_rj(1, 1, 7));
  if (!cfg_.allowed_calling.empty() && !cfg_.allowed_calling.count(rq->calling_ae))
    return refuse(out, pdu::encode_rj(1, 1, 3));
  pdu::AssociateAc ac;
  ac.called_ae = rq->called_ae;
  ac.calling_ae = rq->calling_ae;
  ac.implementation_uid = kLabUid;
  ac.implementation_version = kLabVersion;
  for (const auto& c : rq->contexts) {
    pdu::ContextAc r{c.id, 3, uids::kImplicitLE};
    if (supported(c.abstract_syntax, cfg_.services)) {
      r.result = 4;
      for (const auto& ts : c.transfer_syntaxes)
        if (ts == uids::kExplicitLE || (ts == uids::kImplicitLE && r.result != 0)) {
          r.result = 0;
          r.transfer_syntax = ts;
        }
      if (r.result == 0) explicit_vr_[c.id] = r.transfer_syntax == uids::kExplicitLE;
    }
    ac.contexts.push_back(r);
  }
  associated_ = true;
  events_.associated(peer_);
  out.send.push_back(pdu::encode(ac));
}

void Scp::on_pdu(const Bytes& p, Output& out) {
  if (!associated_) return associate(p, out);
  const auto parsed = pdu::parse(p);
  switch (parsed.type) {
    case 5: return refuse(out, pdu::encode_release_rp());
    case 7: out.close = true; return;  // A-ABORT: nothing more to say
    case 4: break;
    default: return refuse(out, pdu::encode_abort(2, 2));
  }
  for (const auto& v : parsed.pdvs) {
    if (!explicit_vr_.count(v.context_id)) return refuse(out, pdu::encode_abort(2, 6));
    Bytes& target = v.command ? cmd_ : data_;
    if (target.size() + v.data.size() > kMaxDataset) return refuse(out, pdu::encode_abort(2, 0));
    target.insert(target.end(), v.data.begin(), v.data.end());
    if (!v.last) continue;
    if (v.command) {
      pending_cmd_ = dimse::parse_response(cmd_);
      cmd_.clear();
      cmd_ctx_ = v.context_id;
      have_cmd_ = pending_cmd_.error.empty();
      if (!have_cmd_) return refuse(out, pdu::encode_abort(2, 6));
      if (!pending_cmd_.has_dataset) run(out);
    } else if (have_cmd_) {
      run(out);
    }
  }
}

void Scp::respond(Output& out, std::uint16_t field, std::uint16_t status, const Bytes* dataset, int rem, int done,
                  int failed, int warn) {
  Bytes b = pdu::encode_pdata(cmd_ctx_, true, true,
                              dimse::response_command(pending_cmd_.affected_sop_class, field, pending_cmd_.message_id,
                                                      status, dataset != nullptr, rem, done, failed, warn));
  if (dataset) {
    Bytes d = pdu::encode_pdata(cmd_ctx_, false, true, *dataset);
    b.insert(b.end(), d.begin(), d.end());
  }
  out.send.push_back(std::move(b));
}

void Scp::run(Output& out) {
  have_cmd_ = false;
  const bool ev = explicit_vr_[cmd_ctx_];
  const std::uint16_t field = pending_cmd_.command_field;
  Bytes ds;
  ds.swap(data_);
  if (cfg_.services == Services::echo_store && field != dimse::c_echo_rq && field != dimse::c_store_rq)
    return respond(out, static_cast<std::uint16_t>(field | 0x8000), 0x0211);  // unrecognized operation
  switch (field) {
    case dimse::c_echo_rq: return respond(out, dimse::c_echo_rsp, 0x0000);
    case dimse::c_store_rq:
      events_.stored(pending_cmd_.affected_sop_instance);
      return respond(out, dimse::c_store_rsp, 0x0000);
    case dimse::c_find_rq: {
      const auto id = dimse::parse_identifier(ds, ev);
      if (!id.ok) return respond(out, dimse::c_find_rsp, 0xA900);  // identifier does not match SOP class
      for (const Synthetic* s : matches(id)) {
        Bytes m = dimse::study_match(s->name, s->id, s->study_uid, s->date, ev);
        respond(out, dimse::c_find_rsp, 0xFF00, &m);
      }
      return respond(out, dimse::c_find_rsp, 0x0000);
    }
    case dimse::c_move_rq:
    case dimse::c_get_rq: {
      const auto id = dimse::parse_identifier(ds, ev);
      const std::uint16_t rsp = field == dimse::c_move_rq ? dimse::c_move_rsp : dimse::c_get_rsp;
      const auto m = id.ok ? matches(id) : std::vector<const Synthetic*>{};
      if (m.empty()) return respond(out, rsp, 0x0000, nullptr, 0, 0, 0, 0);
      // The lab sends no images anywhere: a retrieve of a real study is refused for lack of resources.
      return respond(out, rsp, 0xA702, nullptr, 0, 0, static_cast<int>(m.size()), 0);
    }
    default: return respond(out, static_cast<std::uint16_t>(field | 0x8000), 0x0211);  // unrecognized operation
  }
}

}  // namespace dg::lab
