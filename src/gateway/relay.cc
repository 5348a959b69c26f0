#include "gateway/relay.h"

#include <algorithm>
#include <cstring>

#include "dicom/dimse.h"

namespace dg::gateway {

namespace pdu = dicom::pdu;
namespace dimse = dicom::dimse;

namespace {

constexpr std::uint8_t kAbortReasonUnspecified = 0, kAbortUnrecognizedPdu = 1, kAbortUnexpectedPdu = 2,
                       kAbortInvalidParameter = 6;

std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

Side other(Side s) { return s == Side::client ? Side::upstream : Side::client; }
int idx(Side s) { return s == Side::client ? 0 : 1; }

CommandInfo command_info(const dimse::Response& r) {
  CommandInfo c;
  c.command_field = r.command_field;
  c.service = service_of(r.command_field);
  c.message_id = (r.command_field & 0x8000) ? r.responded_id : r.message_id;
  c.sop_class = r.affected_sop_class;
  c.sop_instance = r.affected_sop_instance;
  c.move_destination = r.move_destination;
  c.has_dataset = r.has_dataset;
  return c;
}

}  // namespace

const char* side_name(Side s) { return s == Side::client ? "client" : "upstream"; }

bool cap_max_length(pdu::Associate& a, std::uint32_t cap) {
  bool changed = false, found = false;
  for (pdu::AssociateItem& item : a.items) {
    auto* ui = std::get_if<pdu::UserInformation>(&item);
    if (!ui) continue;
    for (pdu::UserSubItem& sub : ui->sub_items)
      if (auto* m = std::get_if<pdu::MaxLength>(&sub)) {
        found = true;
        if (m->max == 0 || m->max > cap) {
          m->max = cap;
          changed = true;
        }
      }
    if (!found) {
      ui->sub_items.insert(ui->sub_items.begin(), pdu::MaxLength{cap, 0});
      found = changed = true;
    }
  }
  if (!found) {
    pdu::UserInformation ui;
    ui.sub_items.push_back(pdu::MaxLength{cap, 0});
    a.items.push_back(std::move(ui));
    changed = true;
  }
  return changed;
}

Relay::Relay(const Chain& chain, Peer peer, RelayEvents& events, RelayLimits limits)
    : chain_(chain), peer_(std::move(peer)), events_(events), limits_(limits) {}

bool Relay::mid_pdu(Side s) const { return in_[idx(s)].have > 0; }

std::span<std::uint8_t> Relay::read_buffer(Side s) {
  const bool readable = s == Side::client ? (state_ == State::awaiting_rq || state_ == State::data ||
                                             state_ == State::released)
                                          : (state_ == State::awaiting_ac || state_ == State::data ||
                                             state_ == State::released);
  if (!readable) return {};
  Inbound& in = in_[idx(s)];
  if (in.pdu.size() < in.need) in.pdu.resize(in.need);
  return {in.pdu.data() + in.have, in.need - in.have};
}

Relay::Output Relay::feed(Side s, std::span<const std::uint8_t> bytes) {
  Output all;
  while (!bytes.empty()) {
    std::span<std::uint8_t> into = read_buffer(s);
    if (into.empty()) break;
    const std::size_t n = std::min(into.size(), bytes.size());
    std::memcpy(into.data(), bytes.data(), n);
    bytes = bytes.subspan(n);
    Output o = received(s, n);
    for (Bytes& b : o.to_client) all.to_client.push_back(std::move(b));
    for (Bytes& b : o.to_upstream) all.to_upstream.push_back(std::move(b));
    all.connect = all.connect || o.connect;
    all.close = all.close || o.close;
    if (all.close) break;
  }
  return all;
}

Relay::Output Relay::received(Side s, std::size_t n) {
  Output out;
  Inbound& in = in_[idx(s)];
  in.have += n;
  if (in.have < in.need) return out;
  if (in.need == 6) {
    const std::uint8_t type = in.pdu[0];
    const std::uint32_t len = be32(in.pdu.data() + 2);
    if (type < 1 || type > 7) {
      violation(s, "not a DICOM PDU (type " + std::to_string(type) + ")", kAbortUnrecognizedPdu, out);
      return out;
    }
    // A-ASSOCIATE PDUs may be larger than a P-DATA cap set small; PS3.8 bounds none of them, we do.
    const std::uint32_t cap = type <= 2 ? std::max<std::uint32_t>(limits_.max_pdu, 256 * 1024) : limits_.max_pdu;
    if (len > cap) {
      violation(s, std::string(pdu::type_name(type)) + " PDU of " + std::to_string(len) +
                       " bytes, above the maximum length", kAbortInvalidParameter, out);
      return out;
    }
    in.need = 6 + std::size_t{len};
    if (in.have < in.need) {
      if (in.pdu.size() < in.need) in.pdu.resize(in.need);
      return out;
    }
  }
  Bytes pdu_bytes = std::move(in.pdu);
  pdu_bytes.resize(in.need);
  in.pdu = take_buffer();
  in.have = 0;
  in.need = 6;
  return on_pdu(s, std::move(pdu_bytes));
}

Bytes Relay::take_buffer() {
  if (spare_.empty()) return {};
  // Kept at its size: read_buffer() grows it only when a PDU is larger, so a buffer is not zero-filled again for
  // every PDU of the same size.
  Bytes b = std::move(spare_.back());
  spare_.pop_back();
  return b;
}

void Relay::recycle(Bytes&& b) {
  if (spare_.size() < 4 && b.capacity() <= std::size_t{limits_.max_pdu} + 6) spare_.push_back(std::move(b));
}

Relay::Output Relay::on_pdu(Side s, Bytes&& p) {
  Output out;
  if (state_ == State::closed) return out;
  if (s == Side::client) on_client_pdu(std::move(p), out);
  else on_upstream_pdu(std::move(p), out);
  return out;
}

void Relay::on_client_pdu(Bytes&& p, Output& out) {
  const auto type = static_cast<pdu::Type>(p[0]);
  if (state_ == State::awaiting_rq) {
    if (type != pdu::Type::associate_rq)
      return violation(Side::client, std::string(pdu::type_name(p[0])) + " before an A-ASSOCIATE-RQ",
                       kAbortUnexpectedPdu, out);
    std::string error;
    auto rq = pdu::parse_associate(p, error);
    if (!rq) return violation(Side::client, "malformed A-ASSOCIATE-RQ: " + error, kAbortInvalidParameter, out);
    rq_ = std::move(*rq);
    Decision d = chain_.on_associate(peer_, rq_);
    if (!d.allowed) {
      events_.rejected(rq_, d);
      out.to_client.push_back(pdu::encode_rj(d.result, d.source, d.reason_code));
      return end(out, "rejected");
    }
    pdu::Associate fwd = rq_;
    if (cap_max_length(fwd, limits_.max_pdu)) rq_out_ = pdu::encode(fwd);
    else rq_out_ = rq_.original;
    state_ = State::connecting;
    out.connect = true;
    return;
  }
  switch (type) {
    case pdu::Type::p_data:
      if (state_ != State::data) return violation(Side::client, "P-DATA-TF after A-RELEASE-RQ", kAbortUnexpectedPdu, out);
      return pdata(Side::client, std::move(p), out);
    case pdu::Type::release_rq:
      if (state_ != State::data) return violation(Side::client, "a second A-RELEASE-RQ", kAbortUnexpectedPdu, out);
      state_ = State::released;
      return forward(Side::upstream, std::move(p), out);
    case pdu::Type::release_rp:  // the answer to a release the upstream asked for
      forward(Side::upstream, std::move(p), out);
      return end(out, "released");
    case pdu::Type::abort:
      forward(Side::upstream, std::move(p), out);
      return end(out, "aborted-by-client");
    default:
      return violation(Side::client, std::string(pdu::type_name(p[0])) + " on an established association",
                       kAbortUnexpectedPdu, out);
  }
}

void Relay::on_upstream_pdu(Bytes&& p, Output& out) {
  const auto type = static_cast<pdu::Type>(p[0]);
  if (state_ == State::awaiting_ac) {
    if (type == pdu::Type::associate_ac) {
      std::string error;
      auto ac = pdu::parse_associate(p, error);
      if (!ac) return violation(Side::upstream, "malformed A-ASSOCIATE-AC: " + error, kAbortInvalidParameter, out);
      for (const pdu::PresentationContext* c : ac->all<pdu::PresentationContext>()) {
        if (c->result != 0) continue;
        const auto ts = pdu::all_of<pdu::TransferSyntax>(c->sub_items);
        const std::string uid = ts.empty() ? std::string() : pdu::printable(ts.front()->uid);
        contexts_[c->id] = uid != dicom::uids::kImplicitLE;
        context_ts_[c->id] = uid;
      }
      events_.upstream_answered(rq_, &*ac, nullptr);
      if (cap_max_length(*ac, limits_.max_pdu)) out.to_client.push_back(pdu::encode(*ac));
      else forward(Side::client, std::move(p), out);
      state_ = State::data;
      return;
    }
    if (type == pdu::Type::associate_rj && p.size() >= 10) {
      pdu::AssociateRj rj{p[7], p[8], p[9]};
      events_.upstream_answered(rq_, nullptr, &rj);
      forward(Side::client, std::move(p), out);
      return end(out, "upstream-rejected");
    }
    if (type == pdu::Type::abort) {
      forward(Side::client, std::move(p), out);
      return end(out, "aborted-by-upstream");
    }
    return violation(Side::upstream, std::string(pdu::type_name(p[0])) + " instead of an A-ASSOCIATE-AC",
                     kAbortUnexpectedPdu, out);
  }
  switch (type) {
    case pdu::Type::p_data: return pdata(Side::upstream, std::move(p), out);
    case pdu::Type::release_rp:
      forward(Side::client, std::move(p), out);
      return end(out, "released");
    case pdu::Type::release_rq: return forward(Side::client, std::move(p), out);
    case pdu::Type::abort:
      forward(Side::client, std::move(p), out);
      return end(out, "aborted-by-upstream");
    default:
      return violation(Side::upstream, std::string(pdu::type_name(p[0])) + " on an established association",
                       kAbortUnexpectedPdu, out);
  }
}

// Walks the PDVs of a P-DATA-TF (PS3.8 9.3.5, Annex E): each item is a 4-byte length, the context ID, the message
// control header, then the fragment. Forwards the PDU as received unless a denied command's fragments are in it.
namespace {
Bytes pdata_header(std::size_t body) {
  const auto n = static_cast<std::uint32_t>(body);
  return {0x04, 0x00, static_cast<std::uint8_t>(n >> 24), static_cast<std::uint8_t>(n >> 16),
          static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)};
}
}  // namespace

// Walks the PDVs of a P-DATA-TF (PS3.8 9.3.5, Annex E): each item is a 4-byte length, the context ID, the message
// control header, then the fragment. The PDU is forwarded as received unless it holds part of a command that is
// not yet whole (held until its last fragment, then sent in its original fragments) or of a denied command
// (dropped): then it is rebuilt from the PDVs that go on.
void Relay::pdata(Side s, Bytes&& p, Output& out) {
  Message& m = msg_[idx(s)];
  const Side to = other(s);
  std::size_t pos = 6;
  bool all_kept = true;
  Bytes rebuilt;
  auto flush = [&] {
    if (rebuilt.empty()) return;
    Bytes pd = pdata_header(rebuilt.size());
    pd.insert(pd.end(), rebuilt.begin(), rebuilt.end());
    forward(to, std::move(pd), out);
    rebuilt.clear();
  };
  while (pos < p.size()) {
    if (p.size() - pos < 6) return violation(s, "a PDV header cut short", kAbortInvalidParameter, out);
    const std::uint32_t len = be32(p.data() + pos);
    if (len < 2 || len > p.size() - pos - 4)
      return violation(s, "a PDV length that does not fit its P-DATA-TF", kAbortInvalidParameter, out);
    const std::uint8_t ctx = p[pos + 4], mch = p[pos + 5];
    const bool is_command = mch & 1, last = mch & 2;
    const std::span<const std::uint8_t> frag(p.data() + pos + 6, len - 2);
    const std::span<const std::uint8_t> item(p.data() + pos, 4 + std::size_t{len});
    pos += 4 + std::size_t{len};
    if (!contexts_.count(ctx))
      return violation(s, "a PDV on presentation context " + std::to_string(ctx) + ", which was not accepted",
                       kAbortInvalidParameter, out);
    bool keep = true;
    if (is_command) {
      if (m.in_data) return violation(s, "a command fragment inside a dataset", kAbortUnexpectedPdu, out);
      if (!m.in_command) {
        m.in_command = true;
        m.command.clear();
        m.held.clear();
        m.context = ctx;
      } else if (ctx != m.context) {
        return violation(s, "a command continued on another presentation context", kAbortInvalidParameter, out);
      }
      if (m.command.size() + frag.size() > limits_.max_command)
        return violation(s, "a command set larger than " + std::to_string(limits_.max_command) + " bytes",
                         kAbortInvalidParameter, out);
      m.command.insert(m.command.end(), frag.begin(), frag.end());
      if (!last) {
        // Held until the command is whole and decided.
        m.held.emplace_back(item.begin(), item.end());
        keep = false;
      } else {
        m.in_command = false;
        if (!command_complete(s, m, out)) return;
        keep = !m.drop;
        if (keep && !m.held.empty()) {
          flush();
          for (Bytes& h : m.held) {
            Bytes pd = pdata_header(h.size());
            pd.insert(pd.end(), h.begin(), h.end());
            forward(to, std::move(pd), out);
          }
          all_kept = false;
        }
        m.held.clear();
        if (m.drop && !m.info.has_dataset) {
          deny_answer(m, out);
          m.drop = false;
        }
        m.in_data = m.info.has_dataset;
        m.first_data = true;
      }
    } else {
      if (!m.in_data) return violation(s, "a data fragment without a command", kAbortUnexpectedPdu, out);
      if (ctx != m.context)
        return violation(s, "a dataset on another presentation context than its command", kAbortInvalidParameter,
                         out);
      keep = !m.drop;
      const bool request = !(m.info.command_field & 0x8000);
      if (!m.drop && request) {
        if (m.info.service == Service::store && m.first_data) {
          // The first fragment of an object: its Study Instance UID and Patient ID, for the audit trail.
          dimse::Identifier id = dimse::parse_identifier(frag, contexts_[ctx]);
          auto it = pending_[idx(s)].find(m.info.message_id);
          if (it != pending_[idx(s)].end()) {
            it->second.instance.study_uid = id.study_uid;
            it->second.instance.patient_id = id.patient_id;
          }
        }
        if (m.info.service == Service::find && s == Side::client) {
          const std::size_t room = limits_.max_identifier - std::min<std::size_t>(m.identifier.size(), limits_.max_identifier);
          const std::size_t take = std::min(room, frag.size());
          m.identifier.insert(m.identifier.end(), frag.begin(), frag.begin() + static_cast<long>(take));
          if (take < frag.size()) m.identifier_truncated = true;
          if (last) {
            events_.query(m.info, m.identifier, context_ts_[ctx], m.identifier_truncated);
            m.identifier.clear();
            m.identifier_truncated = false;
          }
        }
      }
      m.first_data = false;
      if (last) {
        m.in_data = false;
        if (m.drop) {
          deny_answer(m, out);
          m.drop = false;
        }
      }
    }
    if (keep) rebuilt.insert(rebuilt.end(), item.begin(), item.end());
    else all_kept = false;
  }
  if (all_kept) {
    forward(to, std::move(p), out);
    return;
  }
  flush();
  recycle(std::move(p));
}

bool Relay::command_complete(Side s, Message& m, Output& out) {
  // PS3.7 6.3.1 and E.1: a command set starts with its group length (0000,0000) UL, which counts every byte after
  // it, and always has a Command Field. A command set that breaks either is not forwarded to a device that may
  // not survive it.
  const auto& c = m.command;
  const bool group_ok = c.size() >= 12 && c[0] == 0 && c[1] == 0 && c[2] == 0 && c[3] == 0 && c[4] == 4 &&
                        c[5] == 0 && c[6] == 0 && c[7] == 0 &&
                        (std::uint32_t{c[8]} | std::uint32_t{c[9]} << 8 | std::uint32_t{c[10]} << 16 |
                         std::uint32_t{c[11]} << 24) == c.size() - 12;
  if (!group_ok) {
    violation(s, "a command set whose group length (0000,0000) does not count its bytes", kAbortInvalidParameter, out);
    return false;
  }
  const dimse::Response r = dimse::parse_response(m.command);
  if (!r.error.empty()) {
    violation(s, "a malformed command set (" + r.error + ")", kAbortInvalidParameter, out);
    return false;
  }
  if (r.command_field == 0) {
    violation(s, "a command set without a Command Field (0000,0100)", kAbortInvalidParameter, out);
    return false;
  }
  m.info = command_info(r);
  m.drop = false;
  const bool response = r.command_field & 0x8000;
  if (!response) {
    if (s == Side::client) {
      Decision d = chain_.on_command(peer_, rq_, m.info);
      events_.command(m.info, d);
      if (!d.allowed) {
        m.drop = true;
        m.denial = d;
        return true;
      }
    }
    Pending pend;
    pend.info = m.info;
    pend.instance.from = s;
    pend.instance.sop_class = m.info.sop_class;
    if (m.info.service != Service::cancel) pending_[idx(s)][m.info.message_id] = std::move(pend);
  } else {
    // A response to a request the other side sent.
    auto& pend = pending_[idx(other(s))];
    auto it = pend.find(m.info.message_id);
    if (it != pend.end()) {
      const auto cat = dimse::status_category(r.status);
      if (cat != dimse::Category::pending) {
        const Pending& p = it->second;
        if (p.info.service == Service::store) {
          Instance i = p.instance;
          i.status = r.status;
          events_.instance(i);
        } else if (p.info.service == Service::move || p.info.service == Service::get) {
          events_.retrieve_done(p.info, r.status, r.completed, r.failed, r.warning);
        }
        pend.erase(it);
      }
    }
  }
  return true;
}

void Relay::deny_answer(const Message& m, Output& out) {
  const Bytes cmd = dimse::response_command(m.info.sop_class, static_cast<std::uint16_t>(m.info.command_field | 0x8000),
                                            m.info.message_id, m.denial.status, false);
  out.to_client.push_back(pdu::encode_pdata(m.context, true, true, cmd));
}

void Relay::violation(Side s, const std::string& what, std::uint8_t reason, Output& out) {
  events_.violation(s, what);
  // The one who broke the protocol and the other side both get an A-ABORT from the gateway (service provider).
  const Bytes abort = pdu::encode_abort(2, reason);
  out.to_client.push_back(abort);
  if (state_ == State::awaiting_ac || state_ == State::data || state_ == State::released)
    out.to_upstream.push_back(abort);
  end(out, "violation");
}

Relay::Output Relay::upstream_connected() {
  Output out;
  if (state_ != State::connecting) return out;
  state_ = State::awaiting_ac;
  out.to_upstream.push_back(std::move(rq_out_));
  return out;
}

Relay::Output Relay::upstream_failed(const std::string&) {
  Output out;
  if (state_ != State::connecting) return abort("upstream failed");
  // Rejected-transient, by the service provider (ACSE related), no reason given: try again later.
  pdu::AssociateRj rj{2, 2, 1};
  events_.upstream_answered(rq_, nullptr, &rj);
  out.to_client.push_back(pdu::encode_rj(rj.result, rj.source, rj.reason));
  end(out, "upstream-unreachable");
  return out;
}

Relay::Output Relay::closed(Side s) {
  Output out;
  if (state_ == State::closed) return out;
  // A connection lost without a release: the other side is told by an A-ABORT (service provider).
  const bool upstream_open = state_ == State::awaiting_ac || state_ == State::data || state_ == State::released;
  if (s == Side::upstream && state_ != State::awaiting_rq) out.to_client.push_back(pdu::encode_abort(2, kAbortReasonUnspecified));
  if (s == Side::client && upstream_open) out.to_upstream.push_back(pdu::encode_abort(0, kAbortReasonUnspecified));
  end(out, s == Side::client ? "lost-client" : "lost-upstream");
  return out;
}

Relay::Output Relay::abort(const std::string&) {
  Output out;
  if (state_ == State::closed) return out;
  const Bytes a = pdu::encode_abort(2, kAbortReasonUnspecified);
  out.to_client.push_back(a);
  if (state_ == State::awaiting_ac || state_ == State::data || state_ == State::released) out.to_upstream.push_back(a);
  end(out, "aborted");
  return out;
}

}  // namespace dg::gateway
