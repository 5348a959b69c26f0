// A-ASSOCIATE-RQ and -AC kept whole (PS3.8 9.3.2-9.3.3 and Annex D, PS3.7 Annex D.3.3): every item and sub-item
// in the order it came, the known ones decoded and the others as raw bytes, and the PDU as received. encode() gives
// the same bytes back when nothing was changed, so a relay can forward the original, or a changed copy, and decide
// on the parse. One bounded walk (ItemReader) reads every level of items.
#pragma once

#include <array>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "dicom/pdu.h"
#include "dicom/uids.h"

namespace dg::dicom::pdu {

// ---- The one walk over PS3.8 items: type (1 byte), reserved (1), length (2, big endian), value ----

struct ItemView {
  std::uint8_t type = 0;
  std::uint8_t reserved = 0;
  std::span<const std::uint8_t> value;  // points into the walked bytes
};

// Walks the items that fill `bytes` exactly. A header that does not fit in what is left, or a declared length
// above what is left, ends the walk with an error naming the item and its container ("the A-ASSOCIATE-RQ",
// "presentation context 3", "the user information"); nothing past the end is ever read.
class ItemReader {
 public:
  ItemReader(std::span<const std::uint8_t> bytes, std::string container)
      : bytes_(bytes), container_(std::move(container)) {}
  // The next item; nullopt at the end or on an error (then error() is set and the walk stays stopped).
  std::optional<ItemView> next();
  const std::string& error() const { return error_; }

 private:
  std::span<const std::uint8_t> bytes_;
  std::size_t pos_ = 0;
  std::string container_, error_;
};

// Plain-language name of an item or sub-item type ("presentation context", "user identity", ...; "unknown").
const char* item_name(std::uint8_t type);

// A name, title or UID as the summaries (AssociateRq/AssociateAc) show it: bytes outside printable ASCII become
// '?', then trailing spaces and '?' (padding) and leading spaces are cut.
std::string printable(std::string_view bytes);

// ---- Items and sub-items. Every one keeps its reserved header byte (PS3.8: sent as 0, not tested on receipt);
// names and UIDs are the exact value bytes (padding included): printable() gives their text. ----

// Any item or sub-item not decoded here: an unknown type, a type out of its place (a 0x30 among the user
// information), or a fixed-size sub-item of another size (a 0x51 of 3 bytes, as PS3.8 readers have always ignored).
struct RawItem {
  std::uint8_t type = 0;
  std::vector<std::uint8_t> value;
  std::uint8_t reserved = 0;
  bool operator==(const RawItem&) const = default;
};

struct ApplicationContext {  // 0x10
  std::string name = uids::kApplicationContext;
  std::uint8_t reserved = 0;
  bool operator==(const ApplicationContext&) const = default;
};

struct AbstractSyntax {  // 0x30
  std::string uid;
  std::uint8_t reserved = 0;
  bool operator==(const AbstractSyntax&) const = default;
};
struct TransferSyntax {  // 0x40
  std::string uid;
  std::uint8_t reserved = 0;
  bool operator==(const TransferSyntax&) const = default;
};
using ContextSubItem = std::variant<AbstractSyntax, TransferSyntax, RawItem>;

// 0x20 (proposed, in an RQ) or 0x21 (answered, in an AC). A value shorter than the 4 fixed bytes is a RawItem.
struct PresentationContext {
  std::uint8_t type = 0x20;
  std::uint8_t id = 1;
  std::uint8_t result = 0;  // AC: 0 acceptance .. 4 (see ContextAc); RQ: a reserved byte (DCMTK sends 0xFF), kept
  std::vector<ContextSubItem> sub_items;
  std::uint8_t reserved = 0;    // the item header's reserved byte
  std::uint8_t reserved_1 = 0;  // value byte 2
  std::uint8_t reserved_3 = 0;  // value byte 4
  bool operator==(const PresentationContext&) const = default;
};

struct MaxLength {  // 0x51, 4 bytes
  std::uint32_t max = 16384;
  std::uint8_t reserved = 0;
  bool operator==(const MaxLength&) const = default;
};
struct ImplementationClassUid {  // 0x52
  std::string uid;
  std::uint8_t reserved = 0;
  bool operator==(const ImplementationClassUid&) const = default;
};
struct AsyncOperations {  // 0x53, 4 bytes: maximum operations invoked, performed (0 = unlimited)
  std::uint16_t invoked = 1, performed = 1;
  std::uint8_t reserved = 0;
  bool operator==(const AsyncOperations&) const = default;
};
struct RoleSelection {  // 0x54, one per SOP class
  std::string sop_class_uid;
  std::uint8_t scu_role = 0, scp_role = 0;  // RQ: 1 = proposed; AC: 1 = accepted
  std::uint8_t reserved = 0;
  bool operator==(const RoleSelection&) const = default;
};
struct ImplementationVersionName {  // 0x55
  std::string name;
  std::uint8_t reserved = 0;
  bool operator==(const ImplementationVersionName&) const = default;
};
struct ExtendedNegotiation {  // 0x56
  std::string sop_class_uid;
  std::vector<std::uint8_t> application_info;  // service class application information (PS3.4), as sent
  std::uint8_t reserved = 0;
  bool operator==(const ExtendedNegotiation&) const = default;
};
struct CommonExtendedNegotiation {  // 0x57
  std::string sop_class_uid, service_class_uid;
  std::vector<std::string> related_general_sop_classes;
  std::uint8_t reserved = 0;
  bool operator==(const CommonExtendedNegotiation&) const = default;
};

// Credential bytes (a passcode, a Kerberos ticket, a SAML assertion, a JWT, a server's answer to one): kept only to
// be forwarded or compared. Nothing here turns them into text; gtest prints "<secret, N bytes>".
struct Secret {
  std::vector<std::uint8_t> bytes;
  bool operator==(const Secret&) const = default;
};
void PrintTo(const Secret& s, std::ostream* os);

struct UserIdentityRq {  // 0x58 (PS3.7 D.3.3.7.1)
  std::uint8_t identity_type = 1;  // 1 username, 2 username and passcode, 3 Kerberos, 4 SAML, 5 JWT
  std::uint8_t positive_response_requested = 0;
  Secret primary;    // the username (types 1 and 2: see username()), else the ticket, assertion or token
  Secret secondary;  // the passcode (type 2); empty otherwise
  std::uint8_t reserved = 0;
  // The username of types 1 and 2 (printable()); nullopt for the other types, whose primary field is a credential.
  std::optional<std::string> username() const;
  bool operator==(const UserIdentityRq&) const = default;
};
struct UserIdentityAc {  // 0x59 (PS3.7 D.3.3.7.2)
  Secret server_response;
  std::uint8_t reserved = 0;
  bool operator==(const UserIdentityAc&) const = default;
};

using UserSubItem = std::variant<MaxLength, ImplementationClassUid, AsyncOperations, RoleSelection,
                                 ImplementationVersionName, ExtendedNegotiation, CommonExtendedNegotiation,
                                 UserIdentityRq, UserIdentityAc, RawItem>;

struct UserInformation {  // 0x50
  std::vector<UserSubItem> sub_items;
  std::uint8_t reserved = 0;
  bool operator==(const UserInformation&) const = default;
};

using AssociateItem = std::variant<ApplicationContext, PresentationContext, UserInformation, RawItem>;

// The alternatives of type T in a list of items or sub-items, in order.
template <class T, class Variant>
std::vector<const T*> all_of(const std::vector<Variant>& items) {
  std::vector<const T*> out;
  for (const Variant& v : items)
    if (const T* t = std::get_if<T>(&v)) out.push_back(t);
  return out;
}

struct Associate {
  std::uint8_t type = 1;             // 1 A-ASSOCIATE-RQ, 2 A-ASSOCIATE-AC
  std::uint8_t header_reserved = 0;  // PDU byte 2
  std::uint16_t protocol_version = 1;
  std::uint16_t reserved = 0;
  std::string called_ae, calling_ae;  // the 16-byte fields as received; encode() pads with spaces or cuts to 16
  std::array<std::uint8_t, 32> reserved_32{};
  std::vector<AssociateItem> items;    // the variable items, in order
  std::vector<std::uint8_t> original;  // the PDU parsed (header included); empty for one built here

  std::string called() const { return printable(called_ae); }
  std::string calling() const { return printable(calling_ae); }
  template <class T>
  std::vector<const T*> all() const {
    return all_of<T>(items);
  }
  // Sub-items of type T of every user information item, in order.
  template <class T>
  std::vector<const T*> user_items() const {
    std::vector<const T*> out;
    for (const UserInformation* ui : all<UserInformation>())
      for (const T* t : all_of<T>(ui->sub_items)) out.push_back(t);
    return out;
  }
  bool operator==(const Associate&) const = default;
};

// Parses one complete A-ASSOCIATE-RQ or -AC (header included; bytes after its declared length are not part of it).
// Bounded like parse(): the declared PDU length is checked against kMaxPduLength and the bytes present, every item
// and field length against its container, before anything is read; a known sub-item whose fields do not fill it
// exactly is an error. Nothing is allocated beyond the bytes present.
std::optional<Associate> parse_associate(std::span<const std::uint8_t> pdu, std::string& error);

// The PDU bytes: the same as `original` for a parsed Associate that was not changed. An item whose value would not
// fit its 16-bit length is left out (a parsed one never has one).
std::vector<std::uint8_t> encode(const Associate& a);

// The summaries the probe and the lab use, and back: to_associate() builds what encode(AssociateRq/Ac) sends;
// summary_rq/summary_ac read what parse_rq()/parse() report (trimmed text, at most 128 (RQ) or 256 (AC) contexts,
// UIDs cut at 64 and version names at 16 characters, the last of repeated sub-items).
Associate to_associate(const AssociateRq& rq);
Associate to_associate(const AssociateAc& ac);
AssociateRq summary_rq(const Associate& a);
AssociateAc summary_ac(const Associate& a);

}  // namespace dg::dicom::pdu
