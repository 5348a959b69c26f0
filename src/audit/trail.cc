#include "audit/trail.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

#include "net/tls_context.h"
#include "util/durable_write.h"

namespace dg::audit {

using Clock = std::chrono::steady_clock;

// ------------------------------------------------------------------------------------------------ URLs

Destination parse_destination(const std::string& url) {
  auto bad = [&](const std::string& why) { return std::invalid_argument("audit URL '" + url + "': " + why); };
  Destination d;
  d.url = url;
  if (url.rfind("file:", 0) == 0) {
    d.kind = Destination::Kind::file;
    d.path = url.substr(5);
    if (d.path.empty()) throw bad("file: needs a path (file:/var/log/dicomguard-audit.log)");
    return d;
  }
  const auto sep = url.find("://");
  if (sep == std::string::npos)
    throw bad("expected syslog+tls://HOST:PORT, syslog+tcp://HOST:PORT, syslog+udp://HOST:PORT or file:PATH");
  const std::string scheme = url.substr(0, sep);
  if (scheme == "syslog+tls") d.kind = Destination::Kind::tls;
  else if (scheme == "syslog+tcp") d.kind = Destination::Kind::tcp;
  else if (scheme == "syslog+udp") d.kind = Destination::Kind::udp;
  else throw bad("unknown scheme '" + scheme + "' (syslog+tls, syslog+tcp, syslog+udp or file)");
  std::string rest = url.substr(sep + 3);
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  std::string port;
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string::npos) throw bad("missing ']' after the IPv6 address");
    d.host = rest.substr(1, close - 1);
    in6_addr a6{};
    if (inet_pton(AF_INET6, d.host.c_str(), &a6) != 1) throw bad("'" + d.host + "' is not an IPv6 address");
    if (close + 1 >= rest.size() || rest[close + 1] != ':') throw bad("a port is required ([ADDRESS]:PORT)");
    port = rest.substr(close + 2);
  } else {
    const auto colon = rest.rfind(':');
    if (colon == std::string::npos) throw bad("a port is required (HOST:PORT)");
    d.host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (d.host.find(':') != std::string::npos) throw bad("an IPv6 address goes in brackets: [::1]:6514");
    if (d.host.find_first_of("/@?# ") != std::string::npos) throw bad("'" + d.host + "' is not a host name");
  }
  if (d.host.empty()) throw bad("the host is empty");
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos)
    throw bad("the port '" + port + "' is not a number 1..65535");
  const long p = std::stol(port);
  if (p < 1 || p > 65535) throw bad("the port " + port + " is not in 1..65535");
  d.port = static_cast<std::uint16_t>(p);
  return d;
}

// ------------------------------------------------------------------------------------------------ the spool
//
// Segment files seg-NNNNNNNNNN.log hold records "SEQ SP LEN SP MSG LF", appended and fdatasync'ed before submit()
// returns. One cursor file per destination (cursor-HASH: "SEQ SEG OFFSET") says where that destination is; it is
// replaced with util::write_durably. A segment every cursor has left is deleted.

namespace {

struct Pos {
  std::uint64_t seg = 1, off = 0, seq = 1;  // seq: the sequence number of the record at (seg, off)
};

std::string seg_name(const std::string& dir, std::uint64_t n) {
  char b[32];
  std::snprintf(b, sizeof b, "seg-%010llu.log", static_cast<unsigned long long>(n));
  return dir + "/" + b;
}

std::string hash_name(const std::string& url) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : url) h = (h ^ c) * 1099511628211ull;
  char b[40];
  std::snprintf(b, sizeof b, "cursor-%016llx", static_cast<unsigned long long>(h));
  return b;
}

// Parses the record at off of fd (file size size). Returns the record's total length, 0 when there is none (end
// or a torn/invalid tail).
std::size_t parse_record(int fd, std::uint64_t off, std::uint64_t size, std::uint64_t& seq, std::string* msg) {
  if (off >= size) return 0;
  char head[48];
  const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(sizeof head, size - off));
  const auto got = pread(fd, head, want, static_cast<off_t>(off));
  if (got <= 0) return 0;
  std::uint64_t vals[2] = {0, 0};
  std::size_t i = 0;
  for (int k = 0; k < 2; ++k) {
    const std::size_t start = i;
    while (i < static_cast<std::size_t>(got) && head[i] >= '0' && head[i] <= '9' && i - start < 20)
      vals[k] = vals[k] * 10 + static_cast<std::uint64_t>(head[i++] - '0');
    if (i == start || i >= static_cast<std::size_t>(got) || head[i] != ' ') return 0;
    ++i;
  }
  const std::uint64_t total = i + vals[1] + 1;
  if (vals[1] > (64u << 20) || off + total > size) return 0;
  char lf = 0;
  if (pread(fd, &lf, 1, static_cast<off_t>(off + total - 1)) != 1 || lf != '\n') return 0;
  if (msg) {
    msg->resize(vals[1]);
    if (vals[1] && pread(fd, msg->data(), vals[1], static_cast<off_t>(off + i)) != static_cast<ssize_t>(vals[1]))
      return 0;
  }
  seq = vals[0];
  return static_cast<std::size_t>(total);
}

std::string errno_text(int e) { return std::strerror(e); }

}  // namespace

struct Spool {
  std::string dir;
  std::size_t segment_bytes;
  int lock_fd = -1;
  int wfd = -1;
  std::uint64_t wseg = 1, wsize = 0, next_seq = 1, oldest = 1;

  Spool(std::string d, std::size_t seg_bytes) : dir(std::move(d)), segment_bytes(seg_bytes) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw std::runtime_error("cannot create the audit spool " + dir + ": " + ec.message());
    lock_fd = open((dir + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd < 0) throw std::runtime_error("cannot open " + dir + "/lock: " + errno_text(errno));
    if (flock(lock_fd, LOCK_EX | LOCK_NB) != 0)
      throw std::runtime_error("the audit spool " + dir + " is in use by another process");
    std::vector<std::uint64_t> segs;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      const std::string n = e.path().filename().string();
      if (n.size() == 18 && n.rfind("seg-", 0) == 0 && n.ends_with(".log")) segs.push_back(std::stoull(n.substr(4, 10)));
    }
    std::sort(segs.begin(), segs.end());
    if (segs.empty()) segs.push_back(1);
    oldest = segs.front();
    wseg = segs.back();
    wfd = open(seg_name(dir, wseg).c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (wfd < 0) throw std::runtime_error("cannot open " + seg_name(dir, wseg) + ": " + errno_text(errno));
    if (!util::fsync_dir(dir)) throw std::runtime_error("cannot sync the audit spool " + dir + ": " + errno_text(errno));
    // The last segment may end with a torn record (a kill during submit(), which had not returned): cut it.
    struct stat st{};
    fstat(wfd, &st);
    std::uint64_t off = 0, seq = 0;
    bool any = false;
    while (std::size_t n = parse_record(wfd, off, static_cast<std::uint64_t>(st.st_size), seq, nullptr)) {
      off += n;
      next_seq = seq + 1;
      any = true;
    }
    if (off != static_cast<std::uint64_t>(st.st_size)) {
      if (ftruncate(wfd, static_cast<off_t>(off)) != 0 || fsync(wfd) != 0)
        throw std::runtime_error("cannot repair " + seg_name(dir, wseg) + ": " + errno_text(errno));
    }
    wsize = off;
    // An empty last segment: the sequence continues from the segment before it.
    for (auto it = segs.rbegin(); !any && it != segs.rend(); ++it) {
      if (*it == wseg) continue;
      const int fd = open(seg_name(dir, *it).c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      fstat(fd, &st);
      std::uint64_t o = 0;
      while (std::size_t n = parse_record(fd, o, static_cast<std::uint64_t>(st.st_size), seq, nullptr)) {
        o += n;
        next_seq = seq + 1;
        any = true;
      }
      close(fd);
    }
  }
  ~Spool() {
    if (wfd >= 0) close(wfd);
    if (lock_fd >= 0) close(lock_fd);
  }

  // Under the Trail's spool mutex.
  std::string append(const std::string& msg) {
    if (wsize >= segment_bytes) {
      const std::uint64_t n = wseg + 1;
      const int fd = open(seg_name(dir, n).c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
      if (fd < 0) return "cannot create " + seg_name(dir, n) + ": " + errno_text(errno);
      util::fsync_dir(dir);
      close(wfd);
      wfd = fd;
      wseg = n;
      wsize = 0;
    }
    std::string rec = std::to_string(next_seq) + " " + std::to_string(msg.size()) + " ";
    rec += msg;
    rec += '\n';
    if (!util::write_all(wfd, rec.data(), rec.size()) || fdatasync(wfd) != 0) {
      const int e = errno;
      if (ftruncate(wfd, static_cast<off_t>(wsize)) != 0) { /* the torn tail is cut at the next start */ }
      return "cannot write the audit spool " + seg_name(dir, wseg) + ": " + errno_text(e);
    }
    wsize += rec.size();
    ++next_seq;
    return "";
  }
};

// ------------------------------------------------------------------------------------------------ transports

namespace {

struct Link {
  int fd = -1;
  SSL* ssl = nullptr;
  bool connected() const { return fd >= 0; }
  void reset() {
    if (ssl) SSL_free(ssl);
    ssl = nullptr;
    if (fd >= 0) close(fd);
    fd = -1;
  }
};

bool is_ip(const std::string& h) {
  in6_addr a6{};
  in_addr a4{};
  return inet_pton(AF_INET, h.c_str(), &a4) == 1 || inet_pton(AF_INET6, h.c_str(), &a6) == 1;
}

std::string ssl_error_text() {
  std::string s;
  while (unsigned long e = ERR_get_error()) {
    char b[256];
    ERR_error_string_n(e, b, sizeof b);
    if (!s.empty()) s += "; ";
    s += b;
  }
  return s.empty() ? "TLS error" : s;
}

}  // namespace

struct Dest {
  Destination d;
  std::string cursor_path;
  std::thread thread;
  // Under Trail::Impl::m.
  std::deque<std::string> queue;  // no spool
  Pos cursor;                     // spool: the next record to send
  Pos persisted;                  // spool: what the cursor file says
  std::size_t since_commit = 0;
  DestinationStats st;
  Link link;
  int file_fd = -1;
  bool file_dirty = false;
  std::chrono::milliseconds backoff{0};
  // Reader of spool segments (this destination's thread only).
  int rfd = -1;
  std::uint64_t rseg = 0;
};

struct Trail::Impl {
  TrailOptions opt;
  std::vector<std::unique_ptr<Dest>> dests;
  std::unique_ptr<Spool> spool;
  std::unique_ptr<asio::ssl::context> tls;
  mutable std::mutex m;
  std::condition_variable cv;       // new message, or stop
  std::condition_variable progress; // something was sent or committed
  bool stop = false;
  TrailStats totals;

  // ---- spool reading (dest thread; takes m briefly for the writer's end)
  bool next_from_spool(Dest& ds, std::string& msg, Pos& after) {
    std::uint64_t wseg, wsize;
    {
      std::lock_guard lk(m);
      wseg = spool->wseg;
      wsize = spool->wsize;
    }
    Pos p = ds.cursor;
    for (;;) {
      if (p.seg > wseg) return false;
      if (ds.rseg != p.seg || ds.rfd < 0) {
        if (ds.rfd >= 0) close(ds.rfd);
        ds.rfd = open(seg_name(spool->dir, p.seg).c_str(), O_RDONLY | O_CLOEXEC);
        ds.rseg = p.seg;
        if (ds.rfd < 0) {
          if (p.seg < wseg) {  // removed (an orphaned cursor): go on with the next one
            p = Pos{p.seg + 1, 0, p.seq};
            continue;
          }
          return false;
        }
      }
      std::uint64_t size = wsize;
      if (p.seg < wseg) {
        struct stat sst{};
        fstat(ds.rfd, &sst);
        size = static_cast<std::uint64_t>(sst.st_size);
      }
      std::uint64_t seq = 0;
      if (std::size_t n = parse_record(ds.rfd, p.off, size, seq, &msg)) {
        after = Pos{p.seg, p.off + n, seq + 1};
        if (seq != p.seq) {  // a cursor made before any record (or an old spool): re-sync
          std::lock_guard lk(m);
          ds.cursor.seq = seq;
        }
        return true;
      }
      if (p.seg < wseg) {
        p = Pos{p.seg + 1, 0, p.seq};
        std::lock_guard lk(m);
        ds.cursor = p;
        continue;
      }
      return false;
    }
  }

  bool has_message(const Dest& ds) const {  // under m
    if (!spool) return !ds.queue.empty();
    return ds.cursor.seq < spool->next_seq;
  }

  std::uint64_t pending(const Dest& ds) const {  // under m
    if (!spool) return ds.queue.size();
    return spool->next_seq > ds.cursor.seq ? spool->next_seq - ds.cursor.seq : 0;
  }

  std::string persist(Dest& ds) {  // dest thread, not under m
    if (ds.file_fd >= 0 && ds.file_dirty) {
      // EINVAL: a special file (a pipe, /dev/null) that cannot be synced; there is nothing to make durable.
      if (fdatasync(ds.file_fd) != 0 && errno != EINVAL) return "cannot sync " + ds.d.path + ": " + errno_text(errno);
      ds.file_dirty = false;
    }
    if (!spool) return "";
    Pos c;
    {
      std::lock_guard lk(m);
      c = ds.cursor;
    }
    if (c.seg == ds.persisted.seg && c.off == ds.persisted.off) return "";
    const std::string text = std::to_string(c.seq) + " " + std::to_string(c.seg) + " " + std::to_string(c.off) +
                             "\n# " + ds.d.url + "\n";
    if (auto e = util::write_durably(ds.cursor_path, text); !e.empty()) return e;
    std::lock_guard lk(m);
    ds.persisted = c;
    ds.since_commit = 0;
    // Segments every destination has left behind (and that are not being written) go.
    std::uint64_t low = spool->wseg;
    for (const auto& o : dests) low = std::min(low, o->persisted.seg);
    while (spool->oldest < low) {
      unlink(seg_name(spool->dir, spool->oldest).c_str());
      ++spool->oldest;
    }
    progress.notify_all();
    return "";
  }

  // ---- network
  bool wait_fd(int fd, short events, Clock::time_point until) {
    for (;;) {
      {
        std::lock_guard lk(m);
        if (stop) return false;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
      if (left <= 0) return false;
      pollfd p{fd, events, 0};
      const int r = poll(&p, 1, static_cast<int>(std::min<long long>(left, 100)));
      if (r > 0) return true;
      if (r < 0 && errno != EINTR) return false;
    }
  }

  std::string connect(Dest& ds) {
    const bool dgram = ds.d.kind == Destination::Kind::udp;
    addrinfo hints{};
    hints.ai_socktype = dgram ? SOCK_DGRAM : SOCK_STREAM;
    addrinfo* res = nullptr;
    const std::string port = std::to_string(ds.d.port);
    if (int e = getaddrinfo(ds.d.host.c_str(), port.c_str(), &hints, &res); e != 0)
      return "cannot resolve " + ds.d.host + ": " + gai_strerror(e);
    std::string err = "no address for " + ds.d.host;
    for (addrinfo* a = res; a; a = a->ai_next) {
      const int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
      if (fd < 0) continue;
      if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0 ||
          (errno == EINPROGRESS && wait_fd(fd, POLLOUT, Clock::now() + opt.connect_timeout))) {
        int so = 0;
        socklen_t len = sizeof so;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &len);
        if (so == 0) {
          ds.link.fd = fd;
          break;
        }
        err = "cannot connect to " + ds.d.url + ": " + errno_text(so);
      } else {
        err = "cannot connect to " + ds.d.url + ": " + (errno == EINPROGRESS ? "timed out" : errno_text(errno));
      }
      close(fd);
    }
    freeaddrinfo(res);
    if (!ds.link.connected()) return err;
    if (ds.d.kind != Destination::Kind::tls) return "";
    SSL* ssl = SSL_new(tls->native_handle());
    ds.link.ssl = ssl;
    SSL_set_fd(ssl, ds.link.fd);
    const std::string name = opt.server_name.empty() ? ds.d.host : opt.server_name;
    if (!is_ip(name)) {
      SSL_set_tlsext_host_name(ssl, name.c_str());
      SSL_set1_host(ssl, name.c_str());
    } else {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str());
    }
    const auto until = Clock::now() + opt.connect_timeout;
    for (;;) {
      ERR_clear_error();
      const int r = SSL_connect(ssl);
      if (r == 1) return confirm_tls13(ds);
      const int e = SSL_get_error(ssl, r);
      if ((e == SSL_ERROR_WANT_READ && wait_fd(ds.link.fd, POLLIN, until)) ||
          (e == SSL_ERROR_WANT_WRITE && wait_fd(ds.link.fd, POLLOUT, until)))
        continue;
      std::string why = e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? "timed out" : ssl_error_text();
      if (const long v = SSL_get_verify_result(ssl); v != X509_V_OK)
        why = std::string("certificate not trusted: ") + X509_verify_cert_error_string(v);
      ds.link.reset();
      return "TLS handshake with " + ds.d.url + " failed: " + why;
    }
  }

  // In TLS 1.3 the client's handshake ends before the server has checked the client's certificate: a collector
  // that refuses it answers our first records with an alert, and those records are lost. So after a TLS 1.3
  // handshake we wait (up to tls13_confirm) for what the server sends once it accepted us (its session tickets)
  // or for its alert, before anything is written.
  std::string confirm_tls13(Dest& ds) {
    if (SSL_version(ds.link.ssl) != TLS1_3_VERSION) return "";
    const auto until = Clock::now() + opt.tls13_confirm;
    if (wait_fd(ds.link.fd, POLLIN, until) && !alive(ds)) {
      std::string why = ssl_error_text();
      ds.link.reset();
      return "TLS handshake with " + ds.d.url + " failed: the collector closed the connection (" + why + ")";
    }
    return "";
  }

  // A collector that closed its side (or sent something): not written into, reconnect first.
  bool alive(Dest& ds) {
    char b[512];
    if (!ds.link.ssl) {
      for (;;) {
        const ssize_t n = recv(ds.link.fd, b, sizeof b, MSG_DONTWAIT);
        if (n > 0) continue;  // collectors send nothing on syslog; discard
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
      }
    }
    for (;;) {
      ERR_clear_error();
      const int n = SSL_read(ds.link.ssl, b, sizeof b);
      if (n > 0) continue;
      return SSL_get_error(ds.link.ssl, n) == SSL_ERROR_WANT_READ;  // session tickets only, still open
    }
  }

  std::string send_stream(Dest& ds, const std::string& frame) {
    const auto until = Clock::now() + std::chrono::seconds(10);
    std::size_t done = 0;
    while (done < frame.size()) {
      if (ds.link.ssl) {
        ERR_clear_error();
        const int r = SSL_write(ds.link.ssl, frame.data() + done, static_cast<int>(frame.size() - done));
        if (r > 0) {
          done += static_cast<std::size_t>(r);
          continue;
        }
        const int e = SSL_get_error(ds.link.ssl, r);
        if ((e == SSL_ERROR_WANT_WRITE && wait_fd(ds.link.fd, POLLOUT, until)) ||
            (e == SSL_ERROR_WANT_READ && wait_fd(ds.link.fd, POLLIN, until)))
          continue;
        return "cannot send to " + ds.d.url + ": " + (e == SSL_ERROR_SYSCALL ? errno_text(errno) : ssl_error_text());
      }
      const ssize_t n = ::send(ds.link.fd, frame.data() + done, frame.size() - done, MSG_NOSIGNAL);
      if (n > 0) {
        done += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && wait_fd(ds.link.fd, POLLOUT, until)) continue;
      return "cannot send to " + ds.d.url + ": " + (n < 0 ? errno_text(errno) : "timed out");
    }
    return "";
  }

  // "" sent; "drop:..." the message cannot be carried (counted, skipped); else an error (retried after backoff).
  std::string deliver(Dest& ds, const std::string& msg) {
    if (ds.d.kind == Destination::Kind::file) {
      if (ds.file_fd < 0) {
        ds.file_fd = open(ds.d.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (ds.file_fd < 0) return "cannot open " + ds.d.path + ": " + errno_text(errno);
      }
      std::string line;
      line.reserve(msg.size() + 1);
      for (char ch : msg) {
        if (ch == '\n') line += "&#10;";
        else if (ch == '\r') line += "&#13;";
        else line += ch;
      }
      line += '\n';
      if (!util::write_all(ds.file_fd, line.data(), line.size())) {
        const std::string e = "cannot write " + ds.d.path + ": " + errno_text(errno);
        close(ds.file_fd);
        ds.file_fd = -1;
        return e;
      }
      ds.file_dirty = true;
      return "";
    }
    if (ds.link.connected() && ds.d.kind != Destination::Kind::udp && !alive(ds)) {
      ds.link.reset();
      std::lock_guard lk(m);
      ds.st.connected = false;
    }
    if (!ds.link.connected()) {
      if (auto e = connect(ds); !e.empty()) return e;
      std::lock_guard lk(m);
      ds.st.connected = true;
    }
    if (ds.d.kind == Destination::Kind::udp) {
      const ssize_t n = ::send(ds.link.fd, msg.data(), msg.size(), MSG_NOSIGNAL);
      if (n == static_cast<ssize_t>(msg.size())) return "";
      if (n < 0 && errno == EMSGSIZE) return "drop:a message of " + std::to_string(msg.size()) + " bytes is too large for UDP";
      const std::string e = "cannot send to " + ds.d.url + ": " + errno_text(errno);
      ds.link.reset();
      return e;
    }
    // RFC 5425 / RFC 6587 octet counting: MSG-LEN SP SYSLOG-MSG.
    const std::string frame = std::to_string(msg.size()) + " " + msg;
    if (auto e = send_stream(ds, frame); !e.empty()) {
      ds.link.reset();
      std::lock_guard lk(m);
      ds.st.connected = false;
      return e;
    }
    return "";
  }

  void run(Dest& ds) {
    // SIGPIPE from OpenSSL's write() on a closed socket stays pending on this thread instead of killing us.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::string msg;
    for (;;) {
      bool got = false;
      Pos after;
      {
        std::unique_lock lk(m);
        cv.wait(lk, [&] { return stop || has_message(ds); });
        if (stop) break;
        if (!spool) {
          msg = ds.queue.front();
          got = true;
        }
      }
      if (spool) got = next_from_spool(ds, msg, after);
      if (!got) {
        // Written but not yet readable (rare); wait for the writer.
        std::unique_lock lk(m);
        cv.wait_for(lk, std::chrono::milliseconds(20));
        continue;
      }
      std::string err = deliver(ds, msg);
      const bool dropped = err.rfind("drop:", 0) == 0;
      if (!err.empty() && !dropped) {
        {
          std::lock_guard lk(m);
          ds.st.last_error = totals.last_error = err;
          ds.backoff = std::clamp(ds.backoff * 2, opt.reconnect_min, opt.reconnect_max);
        }
        persist(ds);
        std::unique_lock lk(m);
        cv.wait_for(lk, ds.backoff, [&] { return stop; });
        if (stop) break;
        continue;
      }
      bool commit = false;
      {
        std::lock_guard lk(m);
        ds.backoff = std::chrono::milliseconds(0);
        if (dropped) {
          ++ds.st.dropped;
          ++totals.dropped;
          ds.st.last_error = totals.last_error = err.substr(5);
        } else {
          ++ds.st.sent;
          ++totals.sent;
        }
        if (!spool) ds.queue.pop_front();
        else ds.cursor = after;
        ++ds.since_commit;
        commit = ds.since_commit >= opt.commit_every || !has_message(ds);
      }
      if (commit) {
        if (auto e = persist(ds); !e.empty()) {
          std::lock_guard lk(m);
          ds.st.last_error = totals.last_error = e;
        }
      }
      progress.notify_all();
    }
    persist(ds);
    if (ds.link.ssl) SSL_shutdown(ds.link.ssl);  // close_notify (not waited for)
    if (ds.rfd >= 0) close(ds.rfd);
    if (ds.file_fd >= 0) close(ds.file_fd);
    ds.link.reset();
    // A SIGPIPE left pending on this thread is consumed, so that it is never delivered elsewhere.
    timespec zero{0, 0};
    while (sigtimedwait(&set, nullptr, &zero) > 0) {
    }
  }
};

Trail::Trail(std::vector<std::string> urls, TrailOptions options) : impl_(std::make_unique<Impl>()) {
  Impl& I = *impl_;
  I.opt = std::move(options);
  if (urls.empty()) throw std::invalid_argument("audit: no destination URL");
  for (const auto& u : urls) {
    auto ds = std::make_unique<Dest>();
    ds->d = parse_destination(u);
    ds->st.url = u;
    I.dests.push_back(std::move(ds));
  }
  for (const auto& ds : I.dests)
    if (ds->d.kind == Destination::Kind::tls && !I.tls) {
      net::TlsPolicy p;
      p.verify_peer = true;
      p.ca_file = I.opt.ca_file;
      p.cert_file = I.opt.cert_file;
      p.key_file = I.opt.key_file;
      p.min_version = "TLSv1.2";
      I.tls = net::make_context(p, net::Role::client);
    }
  if (!I.opt.spool_dir.empty()) {
    I.spool = std::make_unique<Spool>(I.opt.spool_dir, I.opt.segment_bytes);
    for (auto& ds : I.dests) {
      ds->cursor_path = I.opt.spool_dir + "/" + hash_name(ds->d.url);
      Pos c{I.spool->oldest, 0, 0};
      bool have = false;
      if (FILE* f = std::fopen(ds->cursor_path.c_str(), "r")) {
        unsigned long long seq = 0, seg = 0, off = 0;
        if (std::fscanf(f, "%llu %llu %llu", &seq, &seg, &off) == 3) {
          c = Pos{seg, off, seq};
          have = true;
        }
        std::fclose(f);
      }
      if (!have || c.seg < I.spool->oldest) {
        // No cursor yet: from the oldest record kept. Its sequence number is read from the record itself.
        c = Pos{I.spool->oldest, 0, 0};
        const int fd = open(seg_name(I.spool->dir, c.seg).c_str(), O_RDONLY | O_CLOEXEC);
        std::uint64_t seq = I.spool->next_seq;
        if (fd >= 0) {
          struct stat st{};
          fstat(fd, &st);
          if (!parse_record(fd, 0, static_cast<std::uint64_t>(st.st_size), seq, nullptr)) seq = I.spool->next_seq;
          close(fd);
        }
        if (c.seg != I.spool->wseg || I.spool->wsize == 0) seq = std::min(seq, I.spool->next_seq);
        c.seq = seq;
      }
      ds->cursor = ds->persisted = c;
      if (!have) {
        const std::string text = std::to_string(c.seq) + " " + std::to_string(c.seg) + " " + std::to_string(c.off) +
                                 "\n# " + ds->d.url + "\n";
        if (auto e = util::write_durably(ds->cursor_path, text); !e.empty()) throw std::runtime_error(e);
      }
    }
  }
  for (auto& ds : I.dests) {
    Dest* p = ds.get();
    p->thread = std::thread([&I, p] { I.run(*p); });
  }
}

Trail::~Trail() {
  flush(Clock::now() + impl_->opt.close_timeout);
  {
    std::lock_guard lk(impl_->m);
    impl_->stop = true;
  }
  impl_->cv.notify_all();
  for (auto& ds : impl_->dests)
    if (ds->thread.joinable()) ds->thread.join();
}

bool Trail::submit(std::string message) {
  Impl& I = *impl_;
  std::string framed = syslog_frame(message, I.opt.syslog);
  {
    std::lock_guard lk(I.m);
    ++I.totals.submitted;
    if (I.spool) {
      if (auto e = I.spool->append(framed); !e.empty()) {
        ++I.totals.dropped;
        I.totals.last_error = e;
        return false;
      }
      ++I.totals.spooled;
    } else {
      bool all = true;
      for (auto& ds : I.dests) {
        if (ds->queue.size() >= I.opt.queue_limit) {
          ++ds->st.dropped;
          ++I.totals.dropped;
          all = false;
          continue;
        }
        ds->queue.push_back(framed);
      }
      if (!all) {
        I.totals.last_error = "audit queue full: message dropped";
        I.cv.notify_all();
        return false;
      }
    }
  }
  I.cv.notify_all();
  return true;
}

bool Trail::flush(Clock::time_point deadline) {
  Impl& I = *impl_;
  std::unique_lock lk(I.m);
  auto done = [&] {
    for (const auto& ds : I.dests) {
      if (I.pending(*ds)) return false;
      if (I.spool && (ds->persisted.seg != ds->cursor.seg || ds->persisted.off != ds->cursor.off)) return false;
    }
    return true;
  };
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    I.progress.wait_until(lk, std::min(deadline, Clock::now() + std::chrono::milliseconds(50)));
  }
  return true;
}

TrailStats Trail::stats() const {
  const Impl& I = *impl_;
  std::lock_guard lk(I.m);
  TrailStats s = I.totals;
  for (const auto& ds : I.dests) {
    DestinationStats d = ds->st;
    d.pending = I.pending(*ds);
    s.destinations.push_back(d);
  }
  return s;
}

}  // namespace dg::audit
