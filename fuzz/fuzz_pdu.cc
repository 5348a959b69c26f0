// libFuzzer target for the Upper Layer PDU parser and the DIMSE command reader: what a stranger's server sends,
// and what a client sends dicomguard lab. An A-ASSOCIATE-RQ/AC that parses must re-encode to its own bytes, parse
// again to the same structure, and its summaries must survive their own encoders.
#include <cstddef>
#include <cstdint>

#include "dicom/associate.h"
#include "dicom/dimse.h"
#include "dicom/pdu.h"

namespace pdu = dg::dicom::pdu;

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

void associate_round_trips(std::span<const std::uint8_t> in) {
  std::string err;
  auto a = pdu::parse_associate(in, err);
  if (!a) {
    check(!err.empty());
    return;
  }
  const std::vector<std::uint8_t> bytes = pdu::encode(*a);
  check(bytes == a->original);  // byte-identical when nothing was changed
  check(a->original.size() <= in.size());
  auto again = pdu::parse_associate(bytes, err);
  check(again && *again == *a);
  for (const auto* id : a->user_items<pdu::UserIdentityRq>()) (void)id->username();

  // The summaries the probe and the lab read, through their own encoders and back.
  const pdu::AssociateRq rq = pdu::summary_rq(*a);
  auto rq2 = pdu::parse_associate(pdu::encode(rq), err);
  check(rq2 && pdu::summary_rq(*rq2) == rq);
  pdu::AssociateAc ac = pdu::summary_ac(*a);
  auto ac2 = pdu::parse_associate(pdu::encode(ac), err);
  if (ac.max_pdu == 0) ac.max_pdu = 16384;  // what encode(AssociateAc) sends when none is set
  check(ac2 && pdu::summary_ac(*ac2) == ac);
  if (a->type == 2) {
    const pdu::Parsed p = pdu::parse(in);
    check(p.ac && pdu::summary_ac(*a) == *p.ac);
  } else {
    check(pdu::parse_rq(in, err) == pdu::summary_rq(*a));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> in(data, size);
  auto p = pdu::parse(in);
  for (const auto& pdv : p.pdvs) {
    if (pdv.data.size() > size) __builtin_trap();
    (void)dg::dicom::dimse::parse_response(pdv.data);
  }
  if (p.rj) (void)pdu::rj_reason_name(p.rj->source, p.rj->reason);
  (void)dg::dicom::dimse::parse_response(in);
  // What a client sends the lab (an A-ASSOCIATE-RQ and query identifiers), and what a relay forwards.
  std::string err;
  (void)pdu::parse_rq(in, err);
  associate_round_trips(in);
  // The same bytes as the body of an A-ASSOCIATE-RQ and an AC: the item walk at every level, whatever the header.
  if (size <= pdu::kMaxPduLength - 68) {
    for (std::uint8_t type : {1, 2}) {
      std::vector<std::uint8_t> b = {type, 0};
      const std::uint32_t n = static_cast<std::uint32_t>(size + 68);
      b.insert(b.end(), {static_cast<std::uint8_t>(n >> 24), static_cast<std::uint8_t>(n >> 16),
                         static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n), 0, 1, 0, 0});
      b.resize(6 + 68, ' ');
      b.insert(b.end(), in.begin(), in.end());
      associate_round_trips(b);
    }
  }
  (void)dg::dicom::dimse::parse_identifier(in, true);
  (void)dg::dicom::dimse::parse_identifier(in, false);
  return 0;
}
