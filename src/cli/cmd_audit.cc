// dicomguard audit listen | check | expect: an ATNA syslog collector that validates every audit message it
// receives (PS3.15 A.5), the same validation for saved messages, and what a scan should have made each device
// send. The work is in audit/ (receiver, syslog_parse, xml_validate, record, expect); docs/audit.md.
#include <fcntl.h>
#include <unistd.h>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "audit/expect.h"
#include "audit/receiver.h"
#include "audit/record.h"
#include "audit/xml_validate.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "findings/sink.h"

namespace dg::cli {

namespace {

struct AuditFlags {
  OutputFlags out;
  audit::ReceiverOptions rx;
  int udp = -1, tcp = -1, tls = -1;
  std::string output;
  double duration = 0, max_skew = 2.0, message_timeout = 10, idle_timeout = 300;
  std::vector<std::string> files;
};

int fail(const char* what, const std::string& e) {
  std::fprintf(stderr, "dicomguard audit %s: %s\n", what, e.c_str());
  return kExitError;
}

// -o FILE: JSON Lines appended line by line; each record's lines are flushed to the file before the next is made
// (a killed process leaves whole lines), and fdatasync'ed at least every 100 ms and at the end (group commit: one
// fdatasync per message would cap a collector at a few hundred messages a second). An existing file is appended
// to, never replaced.
class DurableJsonl : public Sink {
 public:
  explicit DurableJsonl(std::FILE* f) : f_(f), inner_(make_jsonl_sink(f)) {}
  ~DurableJsonl() override {
    if (f_) std::fclose(f_);
  }
  std::string record(const Record& r) override {
    std::string e = inner_->record(r);
    if (e.empty() && std::fflush(f_) != 0) e = std::string("cannot write -o: ") + std::strerror(errno);
    dirty_ = true;
    if (e.empty() && std::chrono::steady_clock::now() - last_sync_ >= std::chrono::milliseconds(100)) e = sync();
    return e;
  }
  std::string end(const nlohmann::json& s) override {
    std::string e = inner_->end(s);
    if (e.empty() && std::fflush(f_) != 0) e = std::string("cannot write -o: ") + std::strerror(errno);
    dirty_ = true;
    return e.empty() ? sync() : e;
  }
  std::string sync() {
    if (!dirty_) return "";
    dirty_ = false;
    last_sync_ = std::chrono::steady_clock::now();
    if (fdatasync(fileno(f_)) != 0) return std::string("cannot write -o: ") + std::strerror(errno);
    return "";
  }

 private:
  std::FILE* f_;
  std::unique_ptr<Sink> inner_;
  bool dirty_ = false;
  std::chrono::steady_clock::time_point last_sync_{};
};

std::unique_ptr<MultiSink> sinks_with_file(const AuditFlags& f, std::string& err, DurableJsonl** durable = nullptr) {
  auto sinks = f.out.make_sinks();
  if (!f.output.empty()) {
    const int fd = ::open(f.output.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    std::FILE* fp = fd >= 0 ? fdopen(fd, "a") : nullptr;
    if (!fp) {
      err = "-o " + f.output + ": " + std::strerror(errno);
      if (fd >= 0) ::close(fd);
      return nullptr;
    }
    auto d = std::make_unique<DurableJsonl>(fp);
    if (durable) *durable = d.get();
    sinks->add(std::move(d));
  }
  return sinks;
}

int listen(AuditFlags& f) {
  f.rx.udp_port = f.udp;
  f.rx.tcp_port = f.tcp;
  f.rx.tls_port = f.tls;
  f.rx.message_timeout = std::chrono::milliseconds(static_cast<long long>(f.message_timeout * 1000));
  f.rx.idle_timeout = std::chrono::milliseconds(static_cast<long long>(f.idle_timeout * 1000));
  std::string err;
  DurableJsonl* durable = nullptr;
  auto sinks = sinks_with_file(f, err, &durable);
  if (!sinks) return fail("listen", err);
  audit::Recorder recorder({f.max_skew});
  asio::io_context io;
  std::string write_error;
  auto on = [&](audit::Received r) {
    Record rec = recorder.record(r);
    sinks->prepare(rec);
    if (std::string e = sinks->record(rec); !e.empty() && write_error.empty()) write_error = e;
  };
  std::unique_ptr<audit::Receiver> rx;
  try {
    rx = std::make_unique<audit::Receiver>(io, f.rx, on);
  } catch (const std::exception& e) {
    return fail("listen", e.what());
  }
  for (const auto& [kind, port] : rx->listening())
    std::fprintf(stderr, "audit listen: %s %s:%u\n", kind.c_str(), f.rx.bind.c_str(), static_cast<unsigned>(port));
  std::fflush(stderr);
  const auto t0 = std::chrono::steady_clock::now();
  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::steady_timer timer(io), sync_timer(io);
  bool stopping = false;
  std::function<void()> sync_tick = [&]() {
    sync_timer.expires_after(std::chrono::milliseconds(100));
    sync_timer.async_wait([&](const asio::error_code& ec) {
      if (ec || stopping) return;
      if (durable)
        if (std::string e = durable->sync(); !e.empty() && write_error.empty()) write_error = e;
      sync_tick();
    });
  };
  if (durable) sync_tick();
  auto stop = [&]() {
    stopping = true;
    rx->stop();
    signals.cancel();
    timer.cancel();
    sync_timer.cancel();
  };
  signals.async_wait([&](const asio::error_code& ec, int) {
    if (!ec) stop();
  });
  if (f.duration > 0) {
    timer.expires_after(std::chrono::milliseconds(static_cast<long long>(f.duration * 1000)));
    timer.async_wait([&](const asio::error_code& ec) {
      if (!ec) stop();
    });
  }
  io.run();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  nlohmann::json summary = recorder.summary("audit-listen", secs);
  summary["connections"] = rx->connections();
  if (std::string e = sinks->end(summary); !e.empty() && write_error.empty()) write_error = e;
  if (!write_error.empty()) return fail("listen", write_error);
  return recorder.findings() ? kExitFindings : kExitClean;
}

// One saved message per line (RFC 5424 lines, a syslog file, or bare XML), or a file that is one XML document.
int check(AuditFlags& f) {
  std::string err;
  auto sinks = sinks_with_file(f, err);
  if (!sinks) return fail("check", err);
  audit::Recorder recorder({-1});
  const auto t0 = std::chrono::steady_clock::now();
  int errors = 0;
  auto emit = [&](const std::string& where, std::string data, bool too_large, std::uint64_t size) {
    audit::Received r;
    r.transport = "file";
    r.sender = where;
    r.size = size;
    if (too_large) {
      r.kind = audit::Received::Kind::refused;
      r.reason = "message.too-large";
      r.reason_text = "a line of more than " + std::to_string(audit::kMaxXmlBytes) + " bytes: skipped";
    } else {
      r.data = std::move(data);
    }
    Record rec = recorder.record(r);
    sinks->prepare(rec);
    if (std::string e = sinks->record(rec); !e.empty() && err.empty()) err = e;
  };
  for (const auto& path : f.files) {
    std::FILE* fp = std::fopen(path.c_str(), "rb");
    if (!fp) {
      std::fprintf(stderr, "dicomguard audit check: %s: %s\n", path.c_str(), std::strerror(errno));
      ++errors;
      continue;
    }
    // Bounded reading: at most kMaxXmlBytes of one line are kept.
    std::string line, whole;
    bool too_large = false, first = true, one_document = false;
    std::uint64_t size = 0, lineno = 0;
    std::vector<std::pair<std::uint64_t, std::string>> pending;
    char buf[65536];
    std::size_t n;
    auto end_line = [&]() {
      ++lineno;
      if (first) {
        first = false;
        std::string_view l = line;
        if (l.substr(0, 3) == "\xEF\xBB\xBF") l.remove_prefix(3);
        one_document = (l.substr(0, 5) == "<?xml" || l.substr(0, 13) == "<AuditMessage") &&
                       l.find("</AuditMessage>") == std::string_view::npos;
      }
      if (one_document) {
        if (whole.size() + line.size() + 1 > audit::kMaxXmlBytes) too_large = true;
        else whole += line + "\n";
      } else if (!line.empty() && line.find_first_not_of(" \t\r") != std::string::npos) {
        if (line.back() == '\r') line.pop_back();
        emit(path + ":" + std::to_string(lineno), std::move(line), too_large, size);
      }
      line.clear();
      if (!one_document) too_large = false;
      size = 0;
    };
    while ((n = std::fread(buf, 1, sizeof buf, fp)) > 0) {
      std::string_view chunk(buf, n);
      while (!chunk.empty()) {
        const std::size_t nl = chunk.find('\n');
        const std::string_view part = chunk.substr(0, nl);
        size += part.size();
        if (line.size() + part.size() > audit::kMaxXmlBytes) too_large = true;
        else if (!too_large) line.append(part);
        if (nl == std::string_view::npos) break;
        end_line();
        chunk.remove_prefix(nl + 1);
      }
    }
    const bool read_error = std::ferror(fp);
    std::fclose(fp);
    if (!line.empty() || too_large) end_line();
    if (read_error) {
      std::fprintf(stderr, "dicomguard audit check: %s: read error\n", path.c_str());
      ++errors;
      continue;
    }
    if (one_document) {
      const std::uint64_t bytes = whole.size();
      emit(path, std::move(whole), too_large, bytes);
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  nlohmann::json summary = recorder.summary("audit-check", secs);
  summary["errors"] = errors;
  if (std::string e = sinks->end(summary); !e.empty() && err.empty()) err = e;
  if (!err.empty()) return fail("check", err);
  if (errors) return kExitError;
  return recorder.findings() ? kExitFindings : kExitClean;
}

int expect(AuditFlags& f) {
  std::vector<nlohmann::json> services, audits;
  std::uint64_t skipped = 0;
  for (const auto& path : f.files) {
    std::ifstream in(path);
    if (!in) return fail("expect", path + ": " + std::strerror(errno));
    std::string line;
    while (std::getline(in, line)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) {
        ++skipped;
        continue;
      }
      const std::string t = j["type"].get<std::string>();
      if (t == "service") services.push_back(std::move(j));
      else if (t == "audit") audits.push_back(std::move(j));
    }
  }
  if (services.empty()) return fail("expect", "no {\"type\":\"service\"} record (dicomguard scan --json) in the inputs");
  if (audits.empty())
    std::fprintf(stderr, "dicomguard audit expect: no {\"type\":\"audit\"} record (dicomguard audit listen -o) in the "
                         "inputs: every expected event is missing\n");
  std::string err;
  auto sinks = sinks_with_file(f, err);
  if (!sinks) return fail("expect", err);
  const auto t0 = std::chrono::steady_clock::now();
  audit::Recorder counts;
  for (auto& r : audit::expect(services, audits)) {
    counts.count(r);
    sinks->prepare(r);
    if (std::string e = sinks->record(r); !e.empty() && err.empty()) err = e;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  nlohmann::json summary = counts.summary("audit-expect", secs);
  summary.erase("messages");
  summary.erase("by_transport");
  summary["audit_records"] = audits.size();
  if (std::string e = sinks->end(summary); !e.empty() && err.empty()) err = e;
  if (!err.empty()) return fail("expect", err);
  return counts.findings() ? kExitFindings : kExitClean;
}

}  // namespace

Action add_audit(CLI::App& app) {
  auto* sub = app.add_subcommand("audit", "ATNA audit trails: receive and validate audit messages (PS3.15 A.5) "
                                          "over syslog, check saved ones, and find the events devices failed to send");
  sub->require_subcommand(1);
  auto f = std::make_shared<AuditFlags>();

  auto* listen_cmd = sub->add_subcommand("listen", "A syslog collector (UDP, TCP, TLS) that validates every audit "
                                                   "message it receives and records one JSON line per message");
  listen_cmd->add_option("--bind", f->rx.bind, "Address to listen on (default: 0.0.0.0)");
  listen_cmd->add_option("--udp", f->udp, "UDP port (RFC 5426)")->check(CLI::Range(0, 65535));
  listen_cmd->add_option("--tcp", f->tcp, "TCP port (RFC 6587: octet counting or LF framing)")->check(CLI::Range(0, 65535));
  listen_cmd->add_option("--tls", f->tls, "TLS port (RFC 5425); needs --tls-cert and --tls-key")->check(CLI::Range(0, 65535));
  listen_cmd->add_option("--tls-cert", f->rx.tls_cert, "Our certificate chain (PEM)")->check(CLI::ExistingFile);
  listen_cmd->add_option("--tls-key", f->rx.tls_key, "Its key (PEM)")->check(CLI::ExistingFile);
  listen_cmd->add_option("--tls-ca", f->rx.tls_ca, "CA certificates that client certificates are verified against")
      ->check(CLI::ExistingFile);
  listen_cmd->add_flag("--require-client-cert", f->rx.require_client_cert,
                       "Refuse a TLS sender without a certificate from --tls-ca (RFC 5425 mutual authentication)");
  listen_cmd->add_option("-o,--output", f->output, "Append one JSON line per message to this file (whole lines, "
                                                   "fdatasync'ed every 100 ms and at the end)");
  listen_cmd->add_option("--duration", f->duration, "Stop after this many seconds (default: at SIGINT or SIGTERM)")
      ->check(CLI::NonNegativeNumber);
  listen_cmd->add_option("--max-message", f->rx.max_message, "Largest message accepted, in bytes (default: 65536, "
                                                             "at least 32768)")
      ->check(CLI::Range(32768, 16 << 20));
  listen_cmd->add_option("--max-connections", f->rx.max_connections, "TCP and TLS connections at once (default: 512)")
      ->check(CLI::Range(1, 100000));
  listen_cmd->add_option("--message-timeout", f->message_timeout, "Seconds a message started on a connection (or a "
                                                                  "TLS handshake) may take (default: 10)")
      ->check(CLI::PositiveNumber);
  listen_cmd->add_option("--idle-timeout", f->idle_timeout, "Seconds a connection may stay silent (default: 300)")
      ->check(CLI::PositiveNumber);
  listen_cmd->add_option("--max-skew", f->max_skew, "Seconds between a message's EventDateTime and its arrival "
                                                    "beyond which audit.clock-skew is reported (default: 2)")
      ->check(CLI::NonNegativeNumber);
  f->out.add_to(*listen_cmd);
  listen_cmd->footer("Exit codes: 0 every message valid and over TLS, 1 findings, 2 usage or I/O error.");

  auto* check_cmd = sub->add_subcommand("check", "Validate saved audit messages: one per line (RFC 5424 syslog "
                                                 "lines, a syslog file, or XML), or one XML document per file");
  check_cmd->add_option("FILE", f->files, "Files to check")->required();
  check_cmd->add_option("-o,--output", f->output, "Also append the JSON Lines to this file");
  f->out.add_to(*check_cmd);

  auto* expect_cmd = sub->add_subcommand("expect", "Given a scan's results and an audit capture taken while it ran, "
                                                   "say which audit events each scanned DICOM service failed to send");
  expect_cmd->add_option("RESULTS", f->files, "JSON Lines of dicomguard scan --json and audit listen -o (any mix)")
      ->required()
      ->check(CLI::ExistingFile);
  expect_cmd->add_option("-o,--output", f->output, "Also append the JSON Lines to this file");
  f->out.add_to(*expect_cmd);

  return [f, listen_cmd, check_cmd]() {
    if (listen_cmd->parsed()) return listen(*f);
    if (check_cmd->parsed()) return check(*f);
    return expect(*f);
  };
}

}  // namespace dg::cli
