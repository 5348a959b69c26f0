// pdu::Associate: every item and sub-item of an A-ASSOCIATE-RQ/AC decoded or kept raw, byte-identical re-encoding,
// and one rule for lengths that overflow their container. The vectors are written byte by byte here, or are real
// PDUs captured from DCMTK 3.6.7 on loopback (tests/data/pdu, made by tools/capture_pdu.py all tests/data/pdu).
#include "dicom/associate.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <iterator>

using namespace dg::dicom;
using Bytes = std::vector<std::uint8_t>;

namespace {

constexpr const char* kCt = "1.2.840.10008.5.1.4.1.1.2";
constexpr const char* kExplicitLE = "1.2.840.10008.1.2.1";
constexpr const char* kImplicitLE = "1.2.840.10008.1.2";

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes b;
  for (const Bytes& p : parts) b.insert(b.end(), p.begin(), p.end());
  return b;
}
Bytes s(std::string_view text) { return Bytes(text.begin(), text.end()); }
Bytes be16(std::size_t n) { return {static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)}; }
// A 2-byte length and the text (the fields inside sub-items 0x54, 0x56-0x59).
Bytes field(std::string_view text) { return cat({be16(text.size()), s(text)}); }
Bytes item(std::uint8_t type, const Bytes& value, std::uint8_t reserved = 0) {
  return cat({{type, reserved}, be16(value.size()), value});
}
// A whole A-ASSOCIATE-RQ (type 1) or -AC (type 2) around the given items.
Bytes associate(std::uint8_t type, const Bytes& items) {
  Bytes body = cat({{0, 1, 0, 0}, s("STORESCP        "), s("DICOMGUARD      "), Bytes(32, 0), items});
  const std::size_t n = body.size();
  return cat({{type, 0, static_cast<std::uint8_t>(n >> 24), static_cast<std::uint8_t>(n >> 16),
               static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)},
              body});
}
Bytes app_context() { return item(0x10, s(dg::dicom::uids::kApplicationContext)); }

Bytes load(const std::string& name) {
  std::ifstream in(std::string(DG_TEST_DATA_DIR) + "/pdu/" + name, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}
const std::vector<std::string>& captures() {
  static const std::vector<std::string> v = {"echoscu-rq.bin",       "storescu-rq.bin",       "getscu-rq.bin",
                                             "storescp-ac-echo.bin", "storescp-ac-store.bin", "storescp-ac-neg.bin",
                                             "storescp-ac-get.bin"};
  return v;
}

std::string error_of(const Bytes& b) {
  std::string err;
  return pdu::parse_associate(b, err) ? std::string() : err;
}

}  // namespace

TEST(ItemReader, WalksItemsAndNamesWhatOverflows) {
  const Bytes b = cat({item(0x30, s("1.2")), item(0x40, {})});
  pdu::ItemReader r(b, "the test");
  auto a = r.next();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->type, 0x30);
  EXPECT_EQ(a->value.size(), 3u);
  auto c = r.next();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->type, 0x40);
  EXPECT_TRUE(c->value.empty());
  EXPECT_FALSE(r.next());
  EXPECT_TRUE(r.error().empty());

  const Bytes over = {0x40, 0, 0, 4, '1', '.', '2'};
  pdu::ItemReader o(over, "presentation context 1");
  EXPECT_FALSE(o.next());
  EXPECT_EQ(o.error(), "transfer syntax item (0x40) length 4 runs past the end of presentation context 1 (3 bytes left)");
  EXPECT_FALSE(o.next());  // stays stopped

  const Bytes tail = cat({item(0x52, s("1")), {0x55, 0}});
  pdu::ItemReader t(tail, "the user information");
  EXPECT_TRUE(t.next());
  EXPECT_FALSE(t.next());
  EXPECT_EQ(t.error(), "truncated item header at the end of the user information (2 bytes left)");
}

TEST(Associate, DecodesEverySubItemOfARequestAndKeepsUnknownOnesInOrder) {
  // The 0x57 item with its related general SOP class list written out (two UIDs).
  const Bytes related = cat({field("1.2.840.10008.5.1.4.1.1.2.1"), field("1.2.840.10008.5.1.4.1.1.2.2")});
  const Bytes ui = cat({item(0x51, {0, 0, 0x40, 0}), item(0x52, s("1.2.3.4")), item(0x53, {0, 5, 0, 1}),
                        item(0x54, cat({field(kCt), {1, 0}})), item(0x55, s("VERSION_1")),
                        item(0x56, cat({field(kCt), {2, 0, 3, 0, 0, 0}})),
                        item(0x57, cat({field(kCt), field("1.2.840.10008.4.2"), be16(related.size()), related})),
                        item(0x58, cat({{2, 1}, field("alice"), field("s3cr3t-pw")})), item(0x7F, {1, 2, 3}, 0x11)});
  const Bytes context = cat({{1, 0, 0xFF, 0}, item(0x30, s(kCt)), item(0x40, s(kExplicitLE)), item(0x77, {9, 9}, 1),
                             item(0x40, s(kImplicitLE))});
  const Bytes b = associate(1, cat({app_context(), item(0x20, context), item(0x50, ui), item(0x99, {0xAB})}));

  std::string err;
  auto a = pdu::parse_associate(b, err);
  ASSERT_TRUE(a) << err;
  EXPECT_EQ(a->type, 1);
  EXPECT_EQ(a->called(), "STORESCP");
  EXPECT_EQ(a->calling_ae, "DICOMGUARD      ");  // the field as sent
  ASSERT_EQ(a->items.size(), 4u);
  EXPECT_EQ(std::get<pdu::ApplicationContext>(a->items[0]).name, dg::dicom::uids::kApplicationContext);

  const auto& pc = std::get<pdu::PresentationContext>(a->items[1]);
  EXPECT_EQ(pc.type, 0x20);
  EXPECT_EQ(pc.id, 1);
  EXPECT_EQ(pc.result, 0xFF);
  ASSERT_EQ(pc.sub_items.size(), 4u);
  EXPECT_EQ(std::get<pdu::AbstractSyntax>(pc.sub_items[0]).uid, kCt);
  EXPECT_EQ(std::get<pdu::TransferSyntax>(pc.sub_items[1]).uid, kExplicitLE);
  EXPECT_EQ(std::get<pdu::RawItem>(pc.sub_items[2]), (pdu::RawItem{0x77, {9, 9}, 1}));
  EXPECT_EQ(std::get<pdu::TransferSyntax>(pc.sub_items[3]).uid, kImplicitLE);

  const auto& u = std::get<pdu::UserInformation>(a->items[2]).sub_items;
  ASSERT_EQ(u.size(), 9u);
  EXPECT_EQ(std::get<pdu::MaxLength>(u[0]).max, 16384u);
  EXPECT_EQ(std::get<pdu::ImplementationClassUid>(u[1]).uid, "1.2.3.4");
  EXPECT_EQ(std::get<pdu::AsyncOperations>(u[2]), (pdu::AsyncOperations{5, 1}));
  EXPECT_EQ(std::get<pdu::RoleSelection>(u[3]), (pdu::RoleSelection{kCt, 1, 0}));
  EXPECT_EQ(std::get<pdu::ImplementationVersionName>(u[4]).name, "VERSION_1");
  EXPECT_EQ(std::get<pdu::ExtendedNegotiation>(u[5]), (pdu::ExtendedNegotiation{kCt, {2, 0, 3, 0, 0, 0}}));
  const auto& common = std::get<pdu::CommonExtendedNegotiation>(u[6]);
  EXPECT_EQ(common.sop_class_uid, kCt);
  EXPECT_EQ(common.service_class_uid, "1.2.840.10008.4.2");
  EXPECT_EQ(common.related_general_sop_classes,
            (std::vector<std::string>{"1.2.840.10008.5.1.4.1.1.2.1", "1.2.840.10008.5.1.4.1.1.2.2"}));
  const auto& id = std::get<pdu::UserIdentityRq>(u[7]);
  EXPECT_EQ(id.identity_type, 2);
  EXPECT_EQ(id.positive_response_requested, 1);
  EXPECT_EQ(id.username(), "alice");
  EXPECT_EQ(id.secondary.bytes, s("s3cr3t-pw"));
  EXPECT_EQ(std::get<pdu::RawItem>(u[8]), (pdu::RawItem{0x7F, {1, 2, 3}, 0x11}));
  EXPECT_EQ(std::get<pdu::RawItem>(a->items[3]), (pdu::RawItem{0x99, {0xAB}}));

  EXPECT_EQ(a->original, b);
  EXPECT_EQ(pdu::encode(*a), b);

  const pdu::AssociateRq rq = pdu::summary_rq(*a);
  EXPECT_EQ(rq.called_ae, "STORESCP");
  ASSERT_EQ(rq.contexts.size(), 1u);
  EXPECT_EQ(rq.contexts[0].abstract_syntax, kCt);
  EXPECT_EQ(rq.contexts[0].transfer_syntaxes, (std::vector<std::string>{kExplicitLE, kImplicitLE}));
  EXPECT_EQ(rq.max_pdu, 16384u);
  EXPECT_EQ(rq.implementation_uid, "1.2.3.4");
  EXPECT_EQ(rq.implementation_version, "VERSION_1");
  EXPECT_EQ(pdu::parse_rq(b, err), rq);
}

TEST(Associate, DecodesAnAcceptWithRolesAndAUserIdentityResponse) {
  const Bytes ui = cat({item(0x51, {0, 1, 0, 0}), item(0x52, s("1.2.3.4.5")), item(0x53, {0, 0, 0, 0}),
                        item(0x54, cat({field(kCt), {0, 1}})), item(0x59, field("ticket-bytes"))});
  const Bytes b = associate(2, cat({app_context(), item(0x21, cat({{1, 0, 0, 0}, item(0x40, s(kExplicitLE))})),
                                    item(0x21, cat({{3, 0, 3, 0}, item(0x40, s(kImplicitLE))})), item(0x50, ui)}));
  std::string err;
  auto a = pdu::parse_associate(b, err);
  ASSERT_TRUE(a) << err;
  EXPECT_EQ(a->type, 2);
  EXPECT_EQ(pdu::encode(*a), b);
  ASSERT_EQ(a->user_items<pdu::UserIdentityAc>().size(), 1u);
  EXPECT_EQ(a->user_items<pdu::UserIdentityAc>()[0]->server_response.bytes, s("ticket-bytes"));
  EXPECT_EQ(*a->user_items<pdu::RoleSelection>()[0], (pdu::RoleSelection{kCt, 0, 1}));
  EXPECT_EQ(*a->user_items<pdu::AsyncOperations>()[0], (pdu::AsyncOperations{0, 0}));

  const pdu::AssociateAc ac = pdu::summary_ac(*a);
  ASSERT_EQ(ac.contexts.size(), 2u);
  EXPECT_EQ(ac.contexts[1].id, 3);
  EXPECT_EQ(ac.contexts[1].result, 3);
  EXPECT_EQ(ac.contexts[1].transfer_syntax, kImplicitLE);
  EXPECT_EQ(ac.max_pdu, 65536u);
  EXPECT_EQ(ac.implementation_uid, "1.2.3.4.5");
  const pdu::Parsed p = pdu::parse(b);
  ASSERT_TRUE(p.ac) << p.error;
  EXPECT_EQ(*p.ac, ac);
}

// Every length that can overflow, at every level: each one is an error that names the item, never a read past it.
TEST(Associate, AnOverflowingLengthAtAnyLevelIsAnErrorNamingTheItem) {
  struct Case {
    const char* what;
    Bytes items;
    const char* expect;  // in the error
  };
  const Bytes ctx_head = {1, 0, 0, 0};
  auto ui = [](const Bytes& sub) { return item(0x50, sub); };
  auto over = [](std::uint8_t type, const Bytes& value, std::size_t claimed) {
    return cat({{type, 0}, be16(claimed), value});
  };
  const std::vector<Case> cases = {
      {"item past the PDU", cat({app_context(), over(0x50, {}, 10)}), "user information item (0x50) length 10"},
      {"truncated item header", cat({app_context(), {0x50, 0}}), "truncated item header at the end of the A-ASSOCIATE"},
      {"abstract syntax past its context", item(0x20, cat({ctx_head, over(0x30, s(kCt), 40)})),
       "abstract syntax item (0x30) length 40 runs past the end of presentation context 1"},
      {"transfer syntax past its context", item(0x21, cat({ctx_head, over(0x40, s(kCt), 26)})),
       "transfer syntax item (0x40) length 26 runs past the end of presentation context 1"},
      {"unknown sub-item past its context", item(0x20, cat({ctx_head, over(0x66, {1}, 2)})),
       "unknown item (0x66) length 2"},
      {"truncated sub-item header", item(0x20, cat({ctx_head, item(0x30, s(kCt)), {0x40}})),
       "truncated item header at the end of presentation context 1"},
      {"user information sub-item", ui(over(0x52, s("1.2"), 4)),
       "implementation class UID item (0x52) length 4 runs past the end of the user information"},
      {"truncated user information sub-item", ui(cat({item(0x51, {0, 0, 1, 0}), {0x52, 0, 0}})),
       "truncated item header at the end of the user information"},
      {"role selection UID", ui(item(0x54, cat({be16(30), s(kCt), {1, 0}}))),
       "SCP/SCU role selection item (0x54): SOP class UID length 30 runs past the end of the item"},
      {"role selection roles", ui(item(0x54, cat({field(kCt), {1}}))),
       "SCP/SCU role selection item (0x54): SCP role runs past the end"},
      {"role selection extra byte", ui(item(0x54, cat({field(kCt), {1, 0, 0}}))),
       "SCP/SCU role selection item (0x54): 1 byte after its last field"},
      {"extended negotiation UID", ui(item(0x56, cat({be16(99), s(kCt)}))),
       "SOP class extended negotiation item (0x56): SOP class UID length 99"},
      {"common extended negotiation SOP class", ui(item(0x57, cat({be16(99), s(kCt)}))),
       "SOP class common extended negotiation item (0x57): SOP class UID length 99"},
      {"common extended negotiation service class", ui(item(0x57, cat({field(kCt), be16(99), s("1.2")}))),
       "service class UID length 99"},
      {"common extended negotiation list", ui(item(0x57, cat({field(kCt), field("1.2"), be16(9), field("1.2")}))),
       "related general SOP class identification length 9"},
      {"common extended negotiation list entry",
       ui(item(0x57, cat({field(kCt), field("1.2"), be16(5), be16(7), s("1.2")}))),
       "related general SOP class UID length 7 runs past the end of its related general SOP class identification"},
      {"user identity primary field", ui(item(0x58, cat({{1, 0}, be16(8), s("alice"), be16(0)}))),
       "user identity item (0x58): primary field length 8 runs past the end of the item (7 bytes left)"},
      {"user identity secondary field", ui(item(0x58, cat({{2, 0}, field("alice"), be16(10), s("s3cr3t-pw")}))),
       "user identity item (0x58): secondary field length 10 runs past the end of the item (9 bytes left)"},
      {"user identity without its secondary length", ui(item(0x58, cat({{1, 0}, field("alice")}))),
       "user identity item (0x58): secondary field runs past the end"},
      {"user identity extra bytes", ui(item(0x58, cat({{1, 0}, field("alice"), field(""), {0}}))),
       "user identity item (0x58): 1 byte after its last field"},
      {"user identity response", ui(item(0x59, cat({be16(5), s("tick")}))),
       "user identity server response item (0x59): server response length 5"},
  };
  for (const Case& c : cases) {
    for (std::uint8_t type : {1, 2}) {
      const Bytes b = associate(type, c.items);
      const std::string err = error_of(b);
      EXPECT_NE(err.find(c.expect), std::string::npos) << c.what << ": " << err;
      EXPECT_EQ(err.find("s3cr3t"), std::string::npos) << c.what;
      std::string e2;
      EXPECT_FALSE(pdu::parse_rq(b, e2)) << c.what;
      if (type == 2) {
        EXPECT_FALSE(pdu::parse(b).ac) << c.what;
      }
    }
  }
}

TEST(Associate, ShortFixedFieldsStayRawAsBefore) {
  // A 0x51 of 3 bytes, a 0x53 of 2 and a presentation context of 3 bytes are not decoded (PS3.8 readers have
  // always passed over them); they are kept and re-encoded.
  const Bytes b = associate(2, cat({app_context(), item(0x21, {1, 0, 0}),
                                    item(0x50, cat({item(0x51, {0, 0, 1}), item(0x53, {0, 1})}))}));
  std::string err;
  auto a = pdu::parse_associate(b, err);
  ASSERT_TRUE(a) << err;
  EXPECT_EQ(std::get<pdu::RawItem>(a->items[1]), (pdu::RawItem{0x21, {1, 0, 0}}));
  EXPECT_TRUE(a->user_items<pdu::MaxLength>().empty());
  EXPECT_EQ(a->user_items<pdu::RawItem>().size(), 2u);
  EXPECT_EQ(pdu::encode(*a), b);
  const pdu::AssociateAc ac = pdu::summary_ac(*a);
  EXPECT_TRUE(ac.contexts.empty());
  EXPECT_EQ(ac.max_pdu, 0u);
}

TEST(Associate, HeaderAndReservedFieldsSurviveTheRoundTrip) {
  Bytes b = associate(1, cat({item(0x10, s(dg::dicom::uids::kApplicationContext), 0x42)}));
  b[1] = 0x11;        // PDU header reserved byte
  b[9] = 0x22;        // second reserved byte after the protocol version
  b[6 + 4] = 0x01;    // a non-printable byte in the called AE title
  b[6 + 40] = 0x33;   // in the 32 reserved bytes
  std::string err;
  auto a = pdu::parse_associate(b, err);
  ASSERT_TRUE(a) << err;
  EXPECT_EQ(a->header_reserved, 0x11);
  EXPECT_EQ(a->reserved, 0x22);
  EXPECT_EQ(a->called(), "?TORESCP");
  EXPECT_EQ(std::get<pdu::ApplicationContext>(a->items[0]).reserved, 0x42);
  EXPECT_EQ(pdu::encode(*a), b);
  // Bytes after the PDU are not part of it; fewer bytes than declared, or another PDU type, are errors.
  Bytes longer = b;
  longer.push_back(0);
  EXPECT_EQ(pdu::parse_associate(longer, err)->original, b);
  EXPECT_FALSE(pdu::parse_associate(std::span(b.data(), b.size() - 1), err));
  EXPECT_EQ(err, "PDU shorter than its declared length");
  EXPECT_FALSE(pdu::parse_associate(pdu::encode_release_rq(), err));
  EXPECT_NE(err.find("A-RELEASE-RQ"), std::string::npos);
  Bytes short_fixed = {1, 0, 0, 0, 0, 4, 0, 1, 0, 0};
  EXPECT_FALSE(pdu::parse_associate(short_fixed, err));
  EXPECT_EQ(err, "A-ASSOCIATE-RQ shorter than its fixed fields");
}

TEST(Associate, RealDcmtkPdusRoundTripByteForByte) {
  for (const std::string& name : captures()) {
    const Bytes b = load(name);
    ASSERT_GT(b.size(), 74u) << name << ": missing from tests/data/pdu";
    std::string err;
    auto a = pdu::parse_associate(b, err);
    ASSERT_TRUE(a) << name << ": " << err;
    EXPECT_EQ(pdu::encode(*a), b) << name;
    EXPECT_TRUE(a->all<pdu::RawItem>().empty()) << name;  // DCMTK sends nothing we do not know
    auto again = pdu::parse_associate(pdu::encode(*a), err);
    ASSERT_TRUE(again) << name;
    EXPECT_EQ(*again, *a) << name;
    if (a->type == 2) {
      const pdu::Parsed p = pdu::parse(b);
      ASSERT_TRUE(p.ac) << name << ": " << p.error;
      EXPECT_EQ(*p.ac, pdu::summary_ac(*a));
      EXPECT_EQ(p.ac->implementation_uid, "1.2.276.0.7230010.3.0.3.6.7");
      EXPECT_EQ(p.ac->implementation_version, "OFFIS_DCMTK_367");
    } else {
      EXPECT_EQ(pdu::parse_rq(b, err), pdu::summary_rq(*a)) << name;
    }
  }
}

TEST(Associate, StorescuNegotiationItemsAreDecoded) {
  // storescu -xf tools/capture_pdu.cfg Neg --user alice --password s3cr3t-pw --pos-response
  std::string err;
  auto a = pdu::parse_associate(load("storescu-rq.bin"), err);
  ASSERT_TRUE(a) << err;
  const auto contexts = a->all<pdu::PresentationContext>();
  ASSERT_EQ(contexts.size(), 3u);
  EXPECT_EQ(contexts[0]->result, 0xFF);  // DCMTK's reserved byte, kept
  const auto roles = a->user_items<pdu::RoleSelection>();
  ASSERT_EQ(roles.size(), 2u);
  EXPECT_EQ(*roles[0], (pdu::RoleSelection{kCt, 1, 1}));
  EXPECT_EQ(*roles[1], (pdu::RoleSelection{"1.2.840.10008.5.1.4.1.1.7", 0, 1}));
  const auto ext = a->user_items<pdu::ExtendedNegotiation>();
  ASSERT_EQ(ext.size(), 1u);
  EXPECT_EQ(*ext[0], (pdu::ExtendedNegotiation{kCt, {2, 0, 3, 0, 0, 0}}));
  const auto ids = a->user_items<pdu::UserIdentityRq>();
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_EQ(ids[0]->identity_type, 2);
  EXPECT_EQ(ids[0]->positive_response_requested, 1);
  EXPECT_EQ(ids[0]->username(), "alice");
  EXPECT_EQ(ids[0]->secondary, pdu::Secret{s("s3cr3t-pw")});
  EXPECT_EQ(::testing::PrintToString(ids[0]->secondary), "<secret, 9 bytes>");

  auto ac = pdu::parse_associate(load("storescp-ac-neg.bin"), err);
  ASSERT_TRUE(ac) << err;
  ASSERT_EQ(ac->user_items<pdu::RoleSelection>().size(), 2u);
  EXPECT_EQ(ac->user_items<pdu::ExtendedNegotiation>().size(), 1u);
  auto get = pdu::parse_associate(load("getscu-rq.bin"), err);
  ASSERT_TRUE(get) << err;
  EXPECT_EQ(get->all<pdu::PresentationContext>().size(), 121u);
  EXPECT_EQ(get->user_items<pdu::RoleSelection>().size(), 120u);  // the SCP role for each storage class
}

TEST(Associate, AnyOneByteChangeParsesToAnErrorOrRoundTrips) {
  for (const char* name : {"echoscu-rq.bin", "storescu-rq.bin", "storescp-ac-neg.bin"}) {
    const Bytes b = load(name);
    ASSERT_FALSE(b.empty()) << name;
    for (std::size_t i = 6; i < b.size(); ++i) {
      for (std::uint8_t delta : {1, 0x80}) {
        Bytes m = b;
        m[i] = static_cast<std::uint8_t>(m[i] + delta);
        std::string err;
        auto a = pdu::parse_associate(m, err);
        if (a) {
          EXPECT_EQ(pdu::encode(*a), m) << name << " byte " << i;
        } else {
          EXPECT_FALSE(err.empty());
        }
      }
    }
  }
}

TEST(Associate, EditedCopiesEncodeWhatWasChanged) {
  std::string err;
  auto a = pdu::parse_associate(load("storescu-rq.bin"), err);
  ASSERT_TRUE(a) << err;
  // A relay's edit: another called AE title, the user identity taken out.
  a->called_ae = "BACKEND";
  for (auto& item : a->items)
    if (auto* ui = std::get_if<pdu::UserInformation>(&item))
      std::erase_if(ui->sub_items, [](const pdu::UserSubItem& u) { return std::holds_alternative<pdu::UserIdentityRq>(u); });
  const Bytes out = pdu::encode(*a);
  auto b = pdu::parse_associate(out, err);
  ASSERT_TRUE(b) << err;
  EXPECT_EQ(b->called(), "BACKEND");
  EXPECT_TRUE(b->user_items<pdu::UserIdentityRq>().empty());
  EXPECT_EQ(b->user_items<pdu::RoleSelection>().size(), 2u);
  EXPECT_EQ(out.size(), a->original.size() - (4 + 2 + 2 + 5 + 2 + 9));
  // An item whose value cannot have a 16-bit length is left out, never written with a wrong one.
  a->items.emplace_back().emplace<pdu::RawItem>(pdu::RawItem{0x99, Bytes(70000, 1)});
  EXPECT_EQ(pdu::encode(*a), out);
}

TEST(Associate, TheProbeAndLabEncodersSendWhatTheyAlwaysSent) {
  // Bytes of encode(AssociateRq) and encode(AssociateAc) before pdu::Associate existed.
  auto hex = [](const Bytes& b) {
    std::string h;
    char buf[3];
    for (std::uint8_t c : b) {
      std::snprintf(buf, sizeof buf, "%02x", c);
      h += buf;
    }
    return h;
  };
  pdu::AssociateRq rq{"ANY-SCP", "DICOMGUARD", {{1, "1.2.840.10008.1.1", {kExplicitLE, kImplicitLE}},
                                               {3, "1.2.840.10008.5.1.4.1.2.2.1", {kImplicitLE}}},
                      32768, "1.2.826.0.1.3680043.10.1411", "DICOMGUARD_010_LONGER"};
  EXPECT_EQ(hex(pdu::encode(rq)),
            "01000000012100010000414e592d5343502020202020202020204449434f4d4755415244202020202020000000000000000000"
            "000000000000000000000000000000000000000000000010000015312e322e3834302e31303030382e332e312e312e31200000"
            "450100000030000011312e322e3834302e31303030382e312e3140000013312e322e3834302e31303030382e312e322e314000"
            "0011312e322e3834302e31303030382e312e3220000038030000003000001b312e322e3834302e31303030382e352e312e342e"
            "312e322e322e3140000011312e322e3834302e31303030382e312e325000003b51000004000080005200001b312e322e383236"
            "2e302e312e333638303034332e31302e31343131550000104449434f4d47554152445f3031305f4c");
  pdu::AssociateAc ac;
  ac.called_ae = "LAB";
  ac.calling_ae = "DGXYZ";
  ac.implementation_uid = "1.2.826.0.1.3680043.10.1411.2";
  ac.contexts = {{1, 0, kExplicitLE}, {3, 3, kImplicitLE}};
  EXPECT_EQ(hex(pdu::encode(ac)),
            "0200000000c6000100004c414220202020202020202020202020444758595a2020202020202020202020000000000000000000"
            "000000000000000000000000000000000000000000000010000015312e322e3834302e31303030382e332e312e312e31210000"
            "1b0100000040000013312e322e3834302e31303030382e312e322e31210000190300030040000011312e322e3834302e313030"
            "30382e312e325000002951000004000040005200001d312e322e3832362e302e312e333638303034332e31302e313431312e32");
  // And what they send reads back as what they meant.
  std::string err;
  EXPECT_EQ(pdu::parse_rq(pdu::encode(rq), err)->contexts, rq.contexts);
  EXPECT_EQ(pdu::parse(pdu::encode(ac)).ac->contexts, ac.contexts);
}
