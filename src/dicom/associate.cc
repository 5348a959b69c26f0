#include "dicom/associate.h"

#include <fmt/format.h>

#include <algorithm>
#include <ostream>

namespace dg::dicom::pdu {

namespace {

using Bytes = std::vector<std::uint8_t>;
using View = std::span<const std::uint8_t>;

std::uint16_t rd16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }
std::uint32_t rd32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}
std::string str(View v) { return std::string(v.begin(), v.end()); }
Bytes bytes(View v) { return Bytes(v.begin(), v.end()); }
View view(const std::string& s) { return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}; }

// Bounded reads of the fields inside one sub-item's value; the first field that does not fit is an error naming
// the sub-item and the field.
class Fields {
 public:
  Fields(View v, std::uint8_t type, const char* where = "the item") : v_(v), type_(type), where_(where) {}
  bool at_end() const { return pos_ == v_.size(); }
  bool u8(std::uint8_t& x, const char* what) {
    if (!need(1, what)) return false;
    x = v_[pos_++];
    return true;
  }
  bool u16(std::uint16_t& x, const char* what) {
    if (!need(2, what)) return false;
    x = rd16(v_.data() + pos_);
    pos_ += 2;
    return true;
  }
  // A 2-byte length and that many bytes.
  bool chunk(View& x, const char* what) {
    std::uint16_t n = 0;
    if (!u16(n, what)) return false;
    if (n > v_.size() - pos_) {
      error = fmt::format("{} item (0x{:02X}): {} length {} runs past the end of {} ({} bytes left)",
                          item_name(type_), type_, what, n, where_, v_.size() - pos_);
      return false;
    }
    x = v_.subspan(pos_, n);
    pos_ += n;
    return true;
  }
  View rest() {
    View r = v_.subspan(pos_);
    pos_ = v_.size();
    return r;
  }
  bool done() {
    if (pos_ == v_.size()) return true;
    const std::size_t extra = v_.size() - pos_;
    error = fmt::format("{} item (0x{:02X}): {} byte{} after its last field", item_name(type_), type_, extra,
                        extra == 1 ? "" : "s");
    return false;
  }
  std::string error;

 private:
  bool need(std::size_t n, const char* what) {
    if (n <= v_.size() - pos_) return true;
    error = fmt::format("{} item (0x{:02X}): {} runs past the end of {} ({} bytes left)", item_name(type_), type_,
                        what, where_, v_.size() - pos_);
    return false;
  }
  View v_;
  std::size_t pos_ = 0;
  std::uint8_t type_;
  const char* where_;
};

// One user information sub-item. Fixed-size ones of another size stay raw, as PS3.8 readers have always ignored a
// 0x51 of the wrong size; the variable ones must be filled exactly by their fields.
bool decode_user_item(const ItemView& it, UserSubItem& out, std::string& error) {
  const View v = it.value;
  Fields f(v, it.type);
  switch (it.type) {
    case 0x51:
      if (v.size() != 4) break;
      out = MaxLength{rd32(v.data()), it.reserved};
      return true;
    case 0x52:
      out = ImplementationClassUid{str(v), it.reserved};
      return true;
    case 0x53:
      if (v.size() != 4) break;
      out = AsyncOperations{rd16(v.data()), rd16(v.data() + 2), it.reserved};
      return true;
    case 0x54: {
      View uid;
      RoleSelection r;
      if (!f.chunk(uid, "SOP class UID") || !f.u8(r.scu_role, "SCU role") || !f.u8(r.scp_role, "SCP role") ||
          !f.done())
        break;
      r.sop_class_uid = str(uid);
      r.reserved = it.reserved;
      out = std::move(r);
      return true;
    }
    case 0x55:
      out = ImplementationVersionName{str(v), it.reserved};
      return true;
    case 0x56: {
      View uid;
      if (!f.chunk(uid, "SOP class UID")) break;
      out = ExtendedNegotiation{str(uid), bytes(f.rest()), it.reserved};
      return true;
    }
    case 0x57: {
      View sop, service, related;
      if (!f.chunk(sop, "SOP class UID") || !f.chunk(service, "service class UID") ||
          !f.chunk(related, "related general SOP class identification") || !f.done())
        break;
      CommonExtendedNegotiation c{str(sop), str(service), {}, it.reserved};
      Fields list(related, it.type, "its related general SOP class identification");
      View uid;
      while (!list.at_end() && list.chunk(uid, "related general SOP class UID"))
        c.related_general_sop_classes.push_back(str(uid));
      if (!list.error.empty()) {
        f.error = std::move(list.error);
        break;
      }
      out = std::move(c);
      return true;
    }
    case 0x58: {
      UserIdentityRq u;
      View primary, secondary;
      if (!f.u8(u.identity_type, "user identity type") ||
          !f.u8(u.positive_response_requested, "positive response requested") ||
          !f.chunk(primary, "primary field") || !f.chunk(secondary, "secondary field") || !f.done())
        break;
      u.primary.bytes = bytes(primary);
      u.secondary.bytes = bytes(secondary);
      u.reserved = it.reserved;
      out = std::move(u);
      return true;
    }
    case 0x59: {
      View response;
      if (!f.chunk(response, "server response") || !f.done()) break;
      out = UserIdentityAc{Secret{bytes(response)}, it.reserved};
      return true;
    }
    default:
      break;
  }
  if (!f.error.empty()) {
    error = std::move(f.error);
    return false;
  }
  out = RawItem{it.type, bytes(v), it.reserved};
  return true;
}

bool decode_context(const ItemView& it, PresentationContext& pc, std::string& error) {
  const View v = it.value;
  pc = PresentationContext{it.type, v[0], v[2], {}, it.reserved, v[1], v[3]};
  ItemReader sub(v.subspan(4), "presentation context " + std::to_string(v[0]));
  while (auto s = sub.next()) {
    if (s->type == 0x30) pc.sub_items.push_back(AbstractSyntax{str(s->value), s->reserved});
    else if (s->type == 0x40) pc.sub_items.push_back(TransferSyntax{str(s->value), s->reserved});
    else pc.sub_items.push_back(RawItem{s->type, bytes(s->value), s->reserved});
  }
  error = sub.error();
  return error.empty();
}

bool decode_user_information(const ItemView& it, UserInformation& ui, std::string& error) {
  ui.reserved = it.reserved;
  ItemReader sub(it.value, "the user information");
  while (auto s = sub.next()) {
    UserSubItem u;
    if (!decode_user_item(*s, u, error)) return false;
    ui.sub_items.push_back(std::move(u));
  }
  error = sub.error();
  return error.empty();
}

// ---- encoding ----

void be16(Bytes& b, std::uint16_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}
void be32(Bytes& b, std::uint32_t v) {
  be16(b, static_cast<std::uint16_t>(v >> 16));
  be16(b, static_cast<std::uint16_t>(v));
}

// The value of one item under construction; a field longer than its 2-byte length can say spoils it.
struct Value {
  Bytes b;
  bool ok = true;
  void chunk(View x) {
    if (x.size() > 0xFFFF) ok = false;
    be16(b, static_cast<std::uint16_t>(x.size()));
    b.insert(b.end(), x.begin(), x.end());
  }
  void raw(View x) { b.insert(b.end(), x.begin(), x.end()); }
};

// Appends one item; an item whose value does not fit 16 bits of length is left out, never written with a lie.
void put(Bytes& out, std::uint8_t type, std::uint8_t reserved, const Value& v) {
  if (!v.ok || v.b.size() > 0xFFFF) return;
  out.push_back(type);
  out.push_back(reserved);
  be16(out, static_cast<std::uint16_t>(v.b.size()));
  out.insert(out.end(), v.b.begin(), v.b.end());
}
void put(Bytes& out, std::uint8_t type, std::uint8_t reserved, View bytes_) {
  Value v;
  v.raw(bytes_);
  put(out, type, reserved, v);
}

void encode_sub(Bytes& out, const ContextSubItem& s) {
  if (auto* a = std::get_if<AbstractSyntax>(&s)) return put(out, 0x30, a->reserved, view(a->uid));
  if (auto* t = std::get_if<TransferSyntax>(&s)) return put(out, 0x40, t->reserved, view(t->uid));
  const auto& r = std::get<RawItem>(s);
  put(out, r.type, r.reserved, r.value);
}

void encode_sub(Bytes& out, const UserSubItem& s) {
  Value v;
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        std::uint8_t type = 0;
        if constexpr (std::is_same_v<T, MaxLength>) {
          type = 0x51;
          be32(v.b, x.max);
        } else if constexpr (std::is_same_v<T, ImplementationClassUid>) {
          type = 0x52;
          v.raw(view(x.uid));
        } else if constexpr (std::is_same_v<T, AsyncOperations>) {
          type = 0x53;
          be16(v.b, x.invoked);
          be16(v.b, x.performed);
        } else if constexpr (std::is_same_v<T, RoleSelection>) {
          type = 0x54;
          v.chunk(view(x.sop_class_uid));
          v.b.push_back(x.scu_role);
          v.b.push_back(x.scp_role);
        } else if constexpr (std::is_same_v<T, ImplementationVersionName>) {
          type = 0x55;
          v.raw(view(x.name));
        } else if constexpr (std::is_same_v<T, ExtendedNegotiation>) {
          type = 0x56;
          v.chunk(view(x.sop_class_uid));
          v.raw(x.application_info);
        } else if constexpr (std::is_same_v<T, CommonExtendedNegotiation>) {
          type = 0x57;
          v.chunk(view(x.sop_class_uid));
          v.chunk(view(x.service_class_uid));
          Value list;
          for (const std::string& uid : x.related_general_sop_classes) list.chunk(view(uid));
          v.ok = v.ok && list.ok;
          v.chunk(list.b);
        } else if constexpr (std::is_same_v<T, UserIdentityRq>) {
          type = 0x58;
          v.b.push_back(x.identity_type);
          v.b.push_back(x.positive_response_requested);
          v.chunk(x.primary.bytes);
          v.chunk(x.secondary.bytes);
        } else if constexpr (std::is_same_v<T, UserIdentityAc>) {
          type = 0x59;
          v.chunk(x.server_response.bytes);
        } else {
          static_assert(std::is_same_v<T, RawItem>);
          type = x.type;
          v.raw(x.value);
        }
        put(out, type, x.reserved, v);
      },
      s);
}

void encode_item(Bytes& out, const AssociateItem& item) {
  if (auto* a = std::get_if<ApplicationContext>(&item)) return put(out, 0x10, a->reserved, view(a->name));
  if (auto* r = std::get_if<RawItem>(&item)) return put(out, r->type, r->reserved, r->value);
  Value v;
  if (auto* pc = std::get_if<PresentationContext>(&item)) {
    v.b = {pc->id, pc->reserved_1, pc->result, pc->reserved_3};
    for (const ContextSubItem& s : pc->sub_items) encode_sub(v.b, s);
    return put(out, pc->type, pc->reserved, v);
  }
  const auto& ui = std::get<UserInformation>(item);
  for (const UserSubItem& s : ui.sub_items) encode_sub(v.b, s);
  put(out, 0x50, ui.reserved, v);
}

void ae_field(Bytes& b, const std::string& ae) {
  std::string s = ae.substr(0, 16);
  s.resize(16, ' ');
  b.insert(b.end(), s.begin(), s.end());
}

// The summaries and back. encode(AssociateRq/Ac) has always sent the application context, the presentation
// contexts, then the user information with the maximum length, the implementation class UID and, when set, the
// version name (cut at 16 characters).
PresentationContext context_of(const ContextRq& c) {
  PresentationContext pc{0x20, c.id, 0, {AbstractSyntax{c.abstract_syntax}}};
  for (const std::string& ts : c.transfer_syntaxes) pc.sub_items.push_back(TransferSyntax{ts});
  return pc;
}
PresentationContext context_of(const ContextAc& c) {
  return PresentationContext{0x21, c.id, c.result, {TransferSyntax{c.transfer_syntax}}};
}

template <class Summary>
Associate from_summary(std::uint8_t type, const Summary& s, std::uint32_t max_pdu) {
  Associate a;
  a.type = type;
  a.called_ae = s.called_ae;
  a.calling_ae = s.calling_ae;
  a.items.push_back(ApplicationContext{});
  for (const auto& c : s.contexts) a.items.push_back(context_of(c));
  UserInformation ui{{MaxLength{max_pdu}, ImplementationClassUid{s.implementation_uid}}};
  if (!s.implementation_version.empty())
    ui.sub_items.push_back(ImplementationVersionName{s.implementation_version.substr(0, 16)});
  a.items.push_back(std::move(ui));
  return a;
}

// What parse_rq() and parse() have always reported: text trimmed, UIDs cut at 64 characters (the AC's transfer
// syntax is not cut), the last abstract syntax, up to 64 transfer syntaxes of a proposed context.
void add_context(const PresentationContext& pc, std::vector<ContextRq>& out) {
  ContextRq c{pc.id, {}, {}};
  for (const ContextSubItem& s : pc.sub_items) {
    if (auto* as = std::get_if<AbstractSyntax>(&s)) c.abstract_syntax = printable(std::string_view(as->uid).substr(0, 64));
    if (auto* ts = std::get_if<TransferSyntax>(&s); ts && c.transfer_syntaxes.size() < 64)
      c.transfer_syntaxes.push_back(printable(std::string_view(ts->uid).substr(0, 64)));
  }
  out.push_back(std::move(c));
}
void add_context(const PresentationContext& pc, std::vector<ContextAc>& out) {
  ContextAc c{pc.id, pc.result, {}};
  for (const TransferSyntax* ts : all_of<TransferSyntax>(pc.sub_items)) c.transfer_syntax = printable(ts->uid);
  out.push_back(std::move(c));
}

// The contexts of one direction (0x20 or 0x21, the first `max_contexts` of them) and the last of each user
// information field.
template <class Summary>
Summary summarize(const Associate& a, std::uint8_t context_type, std::size_t max_contexts) {
  Summary s;
  s.called_ae = a.called();
  s.calling_ae = a.calling();
  for (const PresentationContext* pc : a.all<PresentationContext>())
    if (pc->type == context_type && s.contexts.size() < max_contexts) add_context(*pc, s.contexts);
  for (const MaxLength* m : a.user_items<MaxLength>()) s.max_pdu = m->max;
  for (const ImplementationClassUid* u : a.user_items<ImplementationClassUid>())
    s.implementation_uid = printable(std::string_view(u->uid).substr(0, 64));
  for (const ImplementationVersionName* v : a.user_items<ImplementationVersionName>())
    s.implementation_version = printable(std::string_view(v->name).substr(0, 16));
  return s;
}

}  // namespace

std::optional<ItemView> ItemReader::next() {
  if (!error_.empty() || pos_ == bytes_.size()) return std::nullopt;
  const std::size_t left = bytes_.size() - pos_;
  if (left < 4) {
    error_ = fmt::format("truncated item header at the end of {} ({} bytes left)", container_, left);
    return std::nullopt;
  }
  const std::uint8_t* p = bytes_.data() + pos_;
  const std::size_t len = rd16(p + 2);
  if (len > left - 4) {
    error_ = fmt::format("{} item (0x{:02X}) length {} runs past the end of {} ({} bytes left)", item_name(p[0]),
                         p[0], len, container_, left - 4);
    return std::nullopt;
  }
  pos_ += 4 + len;
  return ItemView{p[0], p[1], {p + 4, len}};
}

const char* item_name(std::uint8_t type) {
  switch (type) {
    case 0x10: return "application context";
    case 0x20: return "presentation context";
    case 0x21: return "presentation context (answer)";
    case 0x30: return "abstract syntax";
    case 0x40: return "transfer syntax";
    case 0x50: return "user information";
    case 0x51: return "maximum length";
    case 0x52: return "implementation class UID";
    case 0x53: return "asynchronous operations window";
    case 0x54: return "SCP/SCU role selection";
    case 0x55: return "implementation version name";
    case 0x56: return "SOP class extended negotiation";
    case 0x57: return "SOP class common extended negotiation";
    case 0x58: return "user identity";
    case 0x59: return "user identity server response";
    default: return "unknown";
  }
}

std::string printable(std::string_view b) {
  std::string s;
  for (unsigned char c : b) s.push_back(c >= 0x20 && c < 0x7F ? static_cast<char>(c) : '?');
  while (!s.empty() && (s.back() == ' ' || s.back() == '?')) s.pop_back();
  const std::size_t first = s.find_first_not_of(' ');
  return first == std::string::npos ? std::string() : s.substr(first);
}

void PrintTo(const Secret& s, std::ostream* os) { *os << "<secret, " << s.bytes.size() << " bytes>"; }

std::optional<std::string> UserIdentityRq::username() const {
  if (identity_type != 1 && identity_type != 2) return std::nullopt;
  return printable(std::string_view(reinterpret_cast<const char*>(primary.bytes.data()), primary.bytes.size()));
}

std::optional<Associate> parse_associate(std::span<const std::uint8_t> b, std::string& error) {
  auto total = total_length(b, error);
  if (!total) return std::nullopt;
  if (b.size() < *total) {
    error = "PDU shorter than its declared length";
    return std::nullopt;
  }
  if (b[0] != 1 && b[0] != 2) {
    error = std::string("not an A-ASSOCIATE-RQ or -AC but an ") + type_name(b[0]);
    return std::nullopt;
  }
  const View body = b.subspan(6, *total - 6);
  if (body.size() < 68) {
    error = std::string(type_name(b[0])) + " shorter than its fixed fields";
    return std::nullopt;
  }
  Associate a;
  a.type = b[0];
  a.header_reserved = b[1];
  a.protocol_version = rd16(body.data());
  a.reserved = rd16(body.data() + 2);
  a.called_ae = str(body.subspan(4, 16));
  a.calling_ae = str(body.subspan(20, 16));
  std::copy_n(body.data() + 36, 32, a.reserved_32.begin());
  ItemReader items(body.subspan(68), std::string("the ") + type_name(b[0]));
  while (auto it = items.next()) {
    if (it->type == 0x10) {
      a.items.push_back(ApplicationContext{str(it->value), it->reserved});
    } else if ((it->type == 0x20 || it->type == 0x21) && it->value.size() >= 4) {
      PresentationContext pc;
      if (!decode_context(*it, pc, error)) return std::nullopt;
      a.items.push_back(std::move(pc));
    } else if (it->type == 0x50) {
      UserInformation ui;
      if (!decode_user_information(*it, ui, error)) return std::nullopt;
      a.items.push_back(std::move(ui));
    } else {
      a.items.push_back(RawItem{it->type, bytes(it->value), it->reserved});
    }
  }
  if (!items.error().empty()) {
    error = items.error();
    return std::nullopt;
  }
  a.original.assign(b.begin(), b.begin() + *total);
  return a;
}

std::vector<std::uint8_t> encode(const Associate& a) {
  Bytes body;
  be16(body, a.protocol_version);
  be16(body, a.reserved);
  ae_field(body, a.called_ae);
  ae_field(body, a.calling_ae);
  body.insert(body.end(), a.reserved_32.begin(), a.reserved_32.end());
  for (const AssociateItem& item : a.items) encode_item(body, item);
  Bytes b = {a.type, a.header_reserved};
  be32(b, static_cast<std::uint32_t>(body.size()));
  b.insert(b.end(), body.begin(), body.end());
  return b;
}

Associate to_associate(const AssociateRq& rq) { return from_summary(1, rq, rq.max_pdu); }
Associate to_associate(const AssociateAc& ac) { return from_summary(2, ac, ac.max_pdu ? ac.max_pdu : 16384); }
AssociateRq summary_rq(const Associate& a) { return summarize<AssociateRq>(a, 0x20, 128); }
AssociateAc summary_ac(const Associate& a) { return summarize<AssociateAc>(a, 0x21, 256); }

std::optional<AssociateRq> parse_rq(std::span<const std::uint8_t> b, std::string& error) {
  if (b.empty() || b[0] != 1) {
    error = "not an A-ASSOCIATE-RQ";
    return std::nullopt;
  }
  auto a = parse_associate(b, error);
  if (!a) return std::nullopt;
  return summary_rq(*a);
}

std::vector<std::uint8_t> encode(const AssociateRq& rq) { return encode(to_associate(rq)); }
std::vector<std::uint8_t> encode(const AssociateAc& ac) { return encode(to_associate(ac)); }

}  // namespace dg::dicom::pdu
