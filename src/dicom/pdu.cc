#include "dicom/pdu.h"

#include <algorithm>

#include "dicom/uids.h"

namespace dg::dicom::pdu {

namespace {

void be16(std::vector<std::uint8_t>& b, std::uint16_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}
void be32(std::vector<std::uint8_t>& b, std::uint32_t v) {
  be16(b, static_cast<std::uint16_t>(v >> 16));
  be16(b, static_cast<std::uint16_t>(v));
}
std::uint16_t rd16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }
std::uint32_t rd32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}

void ae_field(std::vector<std::uint8_t>& b, const std::string& ae) {
  std::string s = ae.substr(0, 16);
  s.resize(16, ' ');
  b.insert(b.end(), s.begin(), s.end());
}
void item(std::vector<std::uint8_t>& b, std::uint8_t type, const std::string& text) {
  b.push_back(type);
  b.push_back(0);
  be16(b, static_cast<std::uint16_t>(std::min<std::size_t>(text.size(), 0xFFFF)));
  b.insert(b.end(), text.begin(), text.begin() + static_cast<long>(std::min<std::size_t>(text.size(), 0xFFFF)));
}
void set_length(std::vector<std::uint8_t>& b, std::size_t at, std::size_t len16) {
  b[at] = static_cast<std::uint8_t>(len16 >> 8);
  b[at + 1] = static_cast<std::uint8_t>(len16);
}
std::vector<std::uint8_t> header(Type t) {
  std::vector<std::uint8_t> b = {static_cast<std::uint8_t>(t), 0, 0, 0, 0, 0};
  return b;
}
void finish(std::vector<std::uint8_t>& b) {
  const std::uint32_t len = static_cast<std::uint32_t>(b.size() - 6);
  b[2] = static_cast<std::uint8_t>(len >> 24);
  b[3] = static_cast<std::uint8_t>(len >> 16);
  b[4] = static_cast<std::uint8_t>(len >> 8);
  b[5] = static_cast<std::uint8_t>(len);
}
std::string text(const std::uint8_t* p, std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s.push_back(p[i] >= 0x20 && p[i] < 0x7F ? static_cast<char>(p[i]) : '?');
  while (!s.empty() && (s.back() == ' ' || s.back() == '?')) s.pop_back();
  while (!s.empty() && s.front() == ' ') s.erase(s.begin());
  return s;
}

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

std::vector<std::uint8_t> encode(const AssociateRq& rq) {
  std::vector<std::uint8_t> b = header(Type::associate_rq);
  be16(b, 1);  // protocol version
  be16(b, 0);
  ae_field(b, rq.called_ae);
  ae_field(b, rq.calling_ae);
  b.insert(b.end(), 32, 0);
  item(b, 0x10, uids::kApplicationContext);
  for (const ContextRq& c : rq.contexts) {
    const std::size_t at = b.size();
    b.insert(b.end(), {0x20, 0, 0, 0, c.id, 0, 0, 0});
    item(b, 0x30, c.abstract_syntax);
    for (const std::string& ts : c.transfer_syntaxes) item(b, 0x40, ts);
    set_length(b, at + 2, b.size() - at - 4);
  }
  const std::size_t ui = b.size();
  b.insert(b.end(), {0x50, 0, 0, 0});
  b.insert(b.end(), {0x51, 0, 0, 4});
  be32(b, rq.max_pdu);
  item(b, 0x52, rq.implementation_uid);
  if (!rq.implementation_version.empty()) item(b, 0x55, rq.implementation_version.substr(0, 16));
  set_length(b, ui + 2, b.size() - ui - 4);
  finish(b);
  return b;
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
  be32(b, static_cast<std::uint32_t>(data.size() + 2));
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

namespace {

// Walks the variable items of an A-ASSOCIATE-AC (or RQ) body; every item length is checked against what is left.
bool parse_ac_items(const std::uint8_t* p, std::size_t n, AssociateAc& ac, std::string& error) {
  std::size_t i = 0;
  while (i < n) {
    if (n - i < 4) {
      error = "truncated item header";
      return false;
    }
    const std::uint8_t type = p[i];
    const std::size_t len = rd16(p + i + 2);
    if (len > n - i - 4) {
      error = "item length past the end of the PDU";
      return false;
    }
    const std::uint8_t* v = p + i + 4;
    if (type == 0x21 && len >= 4) {  // presentation context (AC)
      ContextAc c{v[0], v[2], {}};
      std::size_t j = 4;
      while (j + 4 <= len) {
        const std::size_t sl = rd16(v + j + 2);
        if (sl > len - j - 4) {
          error = "sub-item length past the end of its presentation context";
          return false;
        }
        if (v[j] == 0x40) c.transfer_syntax = text(v + j + 4, sl);
        j += 4 + sl;
      }
      if (ac.contexts.size() < 256) ac.contexts.push_back(std::move(c));
    } else if (type == 0x50) {  // user information
      std::size_t j = 0;
      while (j + 4 <= len) {
        const std::uint8_t st = v[j];
        const std::size_t sl = rd16(v + j + 2);
        if (sl > len - j - 4) {
          error = "sub-item length past the end of the user information";
          return false;
        }
        const std::uint8_t* sv = v + j + 4;
        if (st == 0x51 && sl == 4) ac.max_pdu = rd32(sv);
        if (st == 0x52) ac.implementation_uid = text(sv, std::min<std::size_t>(sl, 64));
        if (st == 0x55) ac.implementation_version = text(sv, std::min<std::size_t>(sl, 16));
        j += 4 + sl;
      }
    }
    i += 4 + len;
  }
  return true;
}

}  // namespace

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
      if (n < 68) {
        r.error = "A-ASSOCIATE-AC shorter than its fixed fields";
        return r;
      }
      AssociateAc ac;
      ac.called_ae = text(body + 4, 16);
      ac.calling_ae = text(body + 20, 16);
      if (!parse_ac_items(body + 68, n - 68, ac, r.error)) return r;
      r.ac = std::move(ac);
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

std::optional<AssociateRq> parse_rq(std::span<const std::uint8_t> b, std::string& error) {
  auto total = total_length(b, error);
  if (!total) return std::nullopt;
  if (b[0] != 1 || b.size() < *total || *total < 6 + 68) {
    error = "not a complete A-ASSOCIATE-RQ";
    return std::nullopt;
  }
  const std::uint8_t* body = b.data() + 6;
  const std::size_t n = *total - 6;
  AssociateRq rq;
  rq.called_ae = text(body + 4, 16);
  rq.calling_ae = text(body + 20, 16);
  std::size_t i = 68;
  while (i < n) {
    if (n - i < 4) {
      error = "truncated item header";
      return std::nullopt;
    }
    const std::uint8_t type = body[i];
    const std::size_t len = rd16(body + i + 2);
    if (len > n - i - 4) {
      error = "item length past the end of the PDU";
      return std::nullopt;
    }
    const std::uint8_t* v = body + i + 4;
    if (type == 0x20 && len >= 4 && rq.contexts.size() < 128) {
      ContextRq c{v[0], {}, {}};
      std::size_t j = 4;
      while (j + 4 <= len) {
        const std::size_t sl = rd16(v + j + 2);
        if (sl > len - j - 4) {
          error = "sub-item length past the end of its presentation context";
          return std::nullopt;
        }
        if (v[j] == 0x30) c.abstract_syntax = text(v + j + 4, std::min<std::size_t>(sl, 64));
        if (v[j] == 0x40 && c.transfer_syntaxes.size() < 64)
          c.transfer_syntaxes.push_back(text(v + j + 4, std::min<std::size_t>(sl, 64)));
        j += 4 + sl;
      }
      rq.contexts.push_back(std::move(c));
    } else if (type == 0x50) {
      std::size_t j = 0;
      while (j + 4 <= len) {
        const std::size_t sl = rd16(v + j + 2);
        if (sl > len - j - 4) break;
        if (v[j] == 0x51 && sl == 4) rq.max_pdu = rd32(v + j + 4);
        if (v[j] == 0x52) rq.implementation_uid = text(v + j + 4, std::min<std::size_t>(sl, 64));
        if (v[j] == 0x55) rq.implementation_version = text(v + j + 4, std::min<std::size_t>(sl, 16));
        j += 4 + sl;
      }
    }
    i += 4 + len;
  }
  return rq;
}

std::vector<std::uint8_t> encode(const AssociateAc& ac) {
  std::vector<std::uint8_t> b = header(Type::associate_ac);
  be16(b, 1);
  be16(b, 0);
  ae_field(b, ac.called_ae);
  ae_field(b, ac.calling_ae);
  b.insert(b.end(), 32, 0);
  item(b, 0x10, uids::kApplicationContext);
  for (const ContextAc& c : ac.contexts) {
    const std::size_t at = b.size();
    b.insert(b.end(), {0x21, 0, 0, 0, c.id, 0, c.result, 0});
    item(b, 0x40, c.transfer_syntax);
    set_length(b, at + 2, b.size() - at - 4);
  }
  const std::size_t ui = b.size();
  b.insert(b.end(), {0x50, 0, 0, 0});
  b.insert(b.end(), {0x51, 0, 0, 4});
  be32(b, ac.max_pdu ? ac.max_pdu : 16384);
  item(b, 0x52, ac.implementation_uid);
  if (!ac.implementation_version.empty()) item(b, 0x55, ac.implementation_version.substr(0, 16));
  set_length(b, ui + 2, b.size() - ui - 4);
  finish(b);
  return b;
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
