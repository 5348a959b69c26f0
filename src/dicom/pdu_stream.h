// Frames Upper Layer PDUs out of a byte stream that arrives in pieces. Bounded: a declared length above
// pdu::kMaxPduLength, or a first byte that is not a PDU type, is an error, never an allocation.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace dg::dicom::pdu {

class StreamReader {
 public:
  void feed(std::span<const std::uint8_t> bytes) { buf_.insert(buf_.end(), bytes.begin(), bytes.end()); }
  // Takes the next complete PDU (header included) into `out`. Returns false when more bytes are needed or on a
  // framing error (then error() is set and stays set).
  bool next(std::vector<std::uint8_t>& out);
  const std::string& error() const { return error_; }
  // Bytes received and not yet framed (the start of what the peer sent, for classifying non-DICOM answers).
  std::span<const std::uint8_t> pending() const { return {buf_.data() + pos_, buf_.size() - pos_}; }
  void clear() { buf_.clear(); pos_ = 0; error_.clear(); }

 private:
  std::vector<std::uint8_t> buf_;
  std::size_t pos_ = 0;
  std::string error_;
};

}  // namespace dg::dicom::pdu
