// dicomguard lab: DICOM services to practise on, in-process, bound to 127.0.0.1 only.
//   leaky    any called and calling AE title; C-ECHO, C-FIND (a few synthetic patients), C-MOVE, C-GET and
//            C-STORE open; plain TCP; an Orthanc-like HTTP /system that names its AE title is not provided.
//   hardened TLS only (a throwaway self-signed certificate made at start), its own called AE title, and an
//            allow-list of calling AE titles.
//   legacy   (lab --legacy) a ten-year-old modality or archive that cannot do TLS: plain TCP only, its own called
//            AE title, any calling AE title, C-ECHO and C-STORE only (ServerConfig::services).
// Stored objects are counted and discarded. The synthetic patients are clearly fake and never real data.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace dg::lab {

// The DIMSE services a server offers: every one the SCP knows, or verification and storage only (the query and
// retrieve SOP classes are then refused at association, and any other command is answered 0x0211).
enum class Services { all, echo_store };

struct ServerConfig {
  std::string name;          // "leaky", "hardened", "legacy"
  std::string ae_title;      // the called AE title this server answers to
  bool any_called = false;   // accept any called AE title
  std::set<std::string> allowed_calling;  // empty: any calling AE title
  bool tls = false;
  std::uint16_t port = 0;    // 0: an ephemeral port
  std::string bind = "127.0.0.1";  // the address to listen on (the practice servers: always loopback)
  Services services = Services::all;
};

struct Synthetic {
  std::string name, id, study_uid, date;
};
const std::vector<Synthetic>& synthetic_patients();

class Lab {
 public:
  Lab();
  ~Lab();
  // Starts a server on 127.0.0.1; returns its port. Throws std::runtime_error when it cannot listen.
  std::uint16_t add(const ServerConfig& c);
  // Runs until stop() (thread-safe) or a SIGINT/SIGTERM when handle_signals.
  void run(bool handle_signals);
  void stop();
  std::uint64_t associations() const;
  std::uint64_t stored() const;
  // Whether a C-STORE of this SOP Instance UID arrived (thread-safe).
  bool received(const std::string& sop_instance_uid) const;
  // Whether an association was accepted from this address (thread-safe).
  bool associated_from(const std::string& address) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dg::lab
