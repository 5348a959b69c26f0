// DICOM Upper Layer PDUs (PS3.8 section 9.3): building what a probe sends and parsing, with bounds, what a
// stranger's server answers. Parsing never throws and never allocates from a declared length.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace dg::dicom::pdu {

enum class Type : std::uint8_t {
  associate_rq = 1, associate_ac = 2, associate_rj = 3, p_data = 4, release_rq = 5, release_rp = 6, abort = 7
};
const char* type_name(std::uint8_t t);

inline constexpr std::uint32_t kMaxPduLength = 1u << 20;  // larger declared lengths are refused, not read

// The fields of an A-ASSOCIATE-RQ that the probe sends and the lab reads. The whole PDU, every item and sub-item
// kept (user identity, role selection, extended negotiation, unknown ones), is pdu::Associate (dicom/associate.h).
struct ContextRq {
  std::uint8_t id;  // odd, 1..255
  std::string abstract_syntax;
  std::vector<std::string> transfer_syntaxes;
  bool operator==(const ContextRq&) const = default;
};

struct AssociateRq {
  std::string called_ae, calling_ae;  // up to 16 characters; padded with spaces
  std::vector<ContextRq> contexts;
  std::uint32_t max_pdu = 16384;
  std::string implementation_uid, implementation_version;
  bool operator==(const AssociateRq&) const = default;
};
std::vector<std::uint8_t> encode(const AssociateRq& rq);
std::vector<std::uint8_t> encode_release_rq();
std::vector<std::uint8_t> encode_release_rp();
std::vector<std::uint8_t> encode_abort(std::uint8_t source = 0, std::uint8_t reason = 0);
// One P-DATA-TF with one PDV (a whole command or dataset fragment).
std::vector<std::uint8_t> encode_pdata(std::uint8_t context_id, bool command, bool last,
                                       std::span<const std::uint8_t> data);

// The fields of an A-ASSOCIATE-AC that the probe reads and the lab sends (the whole PDU: pdu::Associate).
struct ContextAc {
  std::uint8_t id;
  std::uint8_t result;  // 0 acceptance, 1 user-rejection, 2 no-reason, 3 abstract syntax not supported, 4 TS not supported
  std::string transfer_syntax;
  bool operator==(const ContextAc&) const = default;
};
struct AssociateAc {
  std::string called_ae, calling_ae;  // as echoed by the server (trimmed)
  std::vector<ContextAc> contexts;
  std::uint32_t max_pdu = 0;
  std::string implementation_uid, implementation_version;
  bool operator==(const AssociateAc&) const = default;
};
struct AssociateRj {
  std::uint8_t result = 0, source = 0, reason = 0;
};
struct Abort {
  std::uint8_t source = 0, reason = 0;
};
struct Pdv {
  std::uint8_t context_id;
  bool command;
  bool last;
  std::vector<std::uint8_t> data;  // a copy: a Parsed never points into the buffer it came from
};

struct Parsed {
  std::uint8_t type = 0;
  std::string error;  // empty when the PDU is well formed
  std::optional<AssociateAc> ac;
  std::optional<AssociateRj> rj;
  std::optional<Abort> abort;
  std::vector<Pdv> pdvs;
};

// From the first 6 bytes: the whole PDU's length (header included), or nullopt when the type is unknown or the
// declared length is above kMaxPduLength. `error` says which.
std::optional<std::uint32_t> total_length(std::span<const std::uint8_t> header6, std::string& error);
// Parses one complete PDU (header and body). An A-ASSOCIATE-AC is read by parse_associate() (every item checked)
// and summarized (summary_ac); the body of an A-ASSOCIATE-RQ is not read here.
Parsed parse(std::span<const std::uint8_t> pdu);

// The acceptor side (dicomguard lab): an A-ASSOCIATE-RQ read with bounds (parse_associate, then summary_rq), and
// the answers to it.
std::optional<AssociateRq> parse_rq(std::span<const std::uint8_t> pdu, std::string& error);
std::vector<std::uint8_t> encode(const AssociateAc& ac);
std::vector<std::uint8_t> encode_rj(std::uint8_t result, std::uint8_t source, std::uint8_t reason);

// PS3.8 Table 9-21: plain-language result, source and reason of an A-ASSOCIATE-RJ, and of an A-ABORT.
const char* rj_result_name(std::uint8_t result);
const char* rj_source_name(std::uint8_t source);
const char* rj_reason_name(std::uint8_t source, std::uint8_t reason);
const char* abort_source_name(std::uint8_t source);
const char* abort_reason_name(std::uint8_t reason);

}  // namespace dg::dicom::pdu
