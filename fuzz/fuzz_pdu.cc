// libFuzzer target for the Upper Layer PDU parser and the DIMSE command reader: what a stranger's server sends,
// and what a client sends dicomguard lab.
#include <cstddef>
#include <cstdint>

#include "dicom/dimse.h"
#include "dicom/pdu.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> in(data, size);
  auto p = dg::dicom::pdu::parse(in);
  for (const auto& pdv : p.pdvs) {
    if (pdv.data.size() > size) __builtin_trap();
    (void)dg::dicom::dimse::parse_response(pdv.data);
  }
  if (p.rj) (void)dg::dicom::pdu::rj_reason_name(p.rj->source, p.rj->reason);
  (void)dg::dicom::dimse::parse_response(in);
  // What a client sends the lab: an A-ASSOCIATE-RQ and query identifiers.
  std::string err;
  (void)dg::dicom::pdu::parse_rq(in, err);
  (void)dg::dicom::dimse::parse_identifier(in, true);
  (void)dg::dicom::dimse::parse_identifier(in, false);
  return 0;
}
