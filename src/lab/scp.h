// The lab's DICOM service class provider, sans I/O like the scan's probes: bytes from the peer go in, bytes to
// send (and whether to close after them) come out. lab.cc only moves bytes between this and a connection, so
// the SCP can be tested and fuzzed without a network.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "dicom/dimse.h"
#include "dicom/pdu_stream.h"
#include "lab/lab.h"

namespace dg::lab {

using Bytes = std::vector<std::uint8_t>;

// What the SCP tells the server it runs in (counters and what arrived).
class ScpEvents {
 public:
  virtual ~ScpEvents() = default;
  virtual void associated(const std::string& peer_address) = 0;
  virtual void stored(const std::string& sop_instance_uid) = 0;
};

class Scp {
 public:
  struct Output {
    std::vector<Bytes> send;  // in order
    bool close = false;       // close once they are sent (nothing more will be read)
  };
  Scp(const ServerConfig& cfg, ScpEvents& events, std::string peer_address);
  Output on_bytes(std::span<const std::uint8_t> bytes);

 private:
  void on_pdu(const Bytes& p, Output& out);
  void associate(const Bytes& p, Output& out);
  void run(Output& out);
  void respond(Output& out, std::uint16_t field, std::uint16_t status, const Bytes* dataset = nullptr, int rem = -1,
               int done = -1, int failed = -1, int warn = -1);
  static void refuse(Output& out, Bytes pdu);

  const ServerConfig& cfg_;
  ScpEvents& events_;
  std::string peer_;
  dicom::pdu::StreamReader reader_;
  bool associated_ = false;
  std::map<std::uint8_t, bool> explicit_vr_;  // accepted context -> explicit VR little endian
  Bytes cmd_, data_;
  std::uint8_t cmd_ctx_ = 0;
  dicom::dimse::Response pending_cmd_;
  bool have_cmd_ = false;
};

}  // namespace dg::lab
