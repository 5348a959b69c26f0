#include "dicom/pdu.h"

#include "dicom/associate.h"

#include "dicom/uids.h"

namespace dg::dicom::pdu {

namespace {

void put32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}
std::uint32_t rd32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}

std::vector<std::uint8_t> header(Type t) {
  std::vector<std::uint8_t> b = {static_cast<std::uint8_t>(t), 0, 0, 0, 0, 0};
  return b;
}
void finish(std::vector<std::uint8_t>& b) { put32(b.data() + 2, static_cast<std::uint32_t>(b.size() - 6)); }
}  // namespace

const char* type_name(std::uint8_t t) {
  switch (t) {
    case 1: return "A-ASSOCIATE-RQ";
    case 2: return "A-ASSOCIATE-AC";
    case 3: return "A-ASSOCIATE-RJ";
    case 4: return "P-DATA-TF";
    case 5: return "A-RELEASE-RQ";
    case 6: return "A-RELEASE-RP";
    case 7: return "A-ABORT";
    default: return "unknown";
  }
}

std::vector<std::uint8_t> encode_release_rq() {
  std::vector<std::uint8_t> b = header(Type::release_rq);
  b.insert(b.end(), 4, 0);
  finish(b);
  return b;
}
std::vector<std::uint8_t> encode_release_rp() {
  std::vector<std::uint8_t> b = header(Type::release_rp);
  b.insert(b.end(), 4, 0);
  finish(b);
  return b;
}
std::vector<std::uint8_t> encode_abort(std::uint8_t source, std::uint8_t reason) {
  std::vector<std::uint8_t> b = header(Type::abort);
  b.insert(b.end(), {0, 0, source, reason});
  finish(b);
  return b;
}
std::vector<std::uint8_t> encode_pdata(std::uint8_t context_id, bool command, bool last,
                                       std::span<const std::uint8_t> data) {
  std::vector<std::uint8_t> b = header(Type::p_data);
  b.resize(10);
  put32(b.data() + 6, static_cast<std::uint32_t>(data.size() + 2));
  b.push_back(context_id);
  b.push_back(static_cast<std::uint8_t>((command ? 1 : 0) | (last ? 2 : 0)));
  b.insert(b.end(), data.begin(), data.end());
  finish(b);
  return b;
}

std::optional<std::uint32_t> total_length(std::span<const std::uint8_t> h, std::string& error) {
  if (h.size() < 6) {
    error = "fewer than 6 bytes";
    return std::nullopt;
  }
  if (h[0] < 1 || h[0] > 7) {
    error = "not a DICOM PDU (type byte " + std::to_string(h[0]) + ")";
    return std::nullopt;
  }
  const std::uint32_t len = rd32(h.data() + 2);
  if (len > kMaxPduLength) {
    error = "declared PDU length " + std::to_string(len) + " is above the limit";
    return std::nullopt;
  }
  return len + 6;
}

Parsed parse(std::span<const std::uint8_t> b) {
  Parsed r;
  std::string err;
  auto total = total_length(b, err);
  if (!total) {
    r.error = err;
    if (!b.empty()) r.type = b[0];
    return r;
  }
  r.type = b[0];
  if (b.size() < *total) {
    r.error = "PDU shorter than its declared length";
    return r;
  }
  const std::uint8_t* body = b.data() + 6;
  const std::size_t n = *total - 6;
  switch (r.type) {
    case 2: {
      auto a = parse_associate(b, r.error);
      if (a) r.ac = summary_ac(*a);
      return r;
    }
    case 3:
      if (n < 4) {
        r.error = "A-ASSOCIATE-RJ shorter than 4 bytes";
        return r;
      }
      r.rj = AssociateRj{body[1], body[2], body[3]};
      return r;
    case 7:
      if (n < 4) {
        r.error = "A-ABORT shorter than 4 bytes";
        return r;
      }
      r.abort = Abort{body[2], body[3]};
      return r;
    case 4: {
      std::size_t i = 0;
      while (i < n) {
        if (n - i < 6) {
          r.error = "truncated PDV header";
          return r;
        }
        const std::uint32_t len = rd32(body + i);
        if (len < 2 || len > n - i - 4) {
          r.error = "PDV length outside its PDU";
          return r;
        }
        if (r.pdvs.size() < 4096)
          r.pdvs.push_back(Pdv{body[i + 4], (body[i + 5] & 1) != 0, (body[i + 5] & 2) != 0,
                               std::vector<std::uint8_t>(body + i + 6, body + i + 4 + len)});
        i += 4 + len;
      }
      return r;
    }
    default:
      return r;  // A-ASSOCIATE-RQ, A-RELEASE-RQ/RP: nothing a probe needs from the body
  }
}

std::vector<std::uint8_t> encode_rj(std::uint8_t result, std::uint8_t source, std::uint8_t reason) {
  std::vector<std::uint8_t> b = header(Type::associate_rj);
  b.insert(b.end(), {0, result, source, reason});
  finish(b);
  return b;
}

const char* rj_result_name(std::uint8_t result) {
  return result == 1 ? "rejected-permanent" : result == 2 ? "rejected-transient" : "unknown";
}
const char* rj_source_name(std::uint8_t source) {
  switch (source) {
    case 1: return "service-user";
    case 2: return "service-provider (ACSE)";
    case 3: return "service-provider (presentation)";
    default: return "unknown";
  }
}
const char* rj_reason_name(std::uint8_t source, std::uint8_t reason) {
  if (source == 1) {
    switch (reason) {
      case 1: return "no-reason-given";
      case 2: return "application-context-name-not-supported";
      case 3: return "calling-AE-title-not-recognized";
      case 7: return "called-AE-title-not-recognized";
      default: return "reserved";
    }
  }
  if (source == 2) return reason == 1 ? "no-reason-given" : reason == 2 ? "protocol-version-not-supported" : "reserved";
  if (source == 3) return reason == 1 ? "temporary-congestion" : reason == 2 ? "local-limit-exceeded" : "reserved";
  return "unknown";
}
const char* abort_source_name(std::uint8_t source) {
  return source == 0 ? "service-user" : source == 2 ? "service-provider" : "reserved";
}
const char* abort_reason_name(std::uint8_t reason) {
  switch (reason) {
    case 0: return "not-specified";
    case 1: return "unrecognized-PDU";
    case 2: return "unexpected-PDU";
    case 4: return "unrecognized-PDU-parameter";
    case 5: return "unexpected-PDU-parameter";
    case 6: return "invalid-PDU-parameter-value";
    default: return "reserved";
  }
}

}  // namespace dg::dicom::pdu
