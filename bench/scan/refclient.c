/* The reference client of bench/scan: the least a discovery client must do per DICOM service, so its rate is the
 * measured capacity of the listeners on this machine.
 *
 * Reads ip:port lines (IPv4) and, with up to MAX_INFLIGHT connections at once (epoll, non-blocking connect), per
 * target: connects, sends one A-ASSOCIATE-RQ (PS3.8 9.3.2: protocol version 1, called AE "ANY-SCP", calling AE
 * "REFCLIENT", application context 1.2.840.10008.3.1.1.1, one presentation context, id 1: Verification
 * 1.2.840.10008.1.1 in Implicit VR Little Endian 1.2.840.10008.1.2, user information: maximum length 16384 and an
 * implementation class UID), reads the whole A-ASSOCIATE-AC or -RJ, and after an AC sends A-RELEASE-RQ, reads
 * the A-RELEASE-RP and closes. That is what `dicomguard scan --discover` does against a listener that accepts.
 *
 * MAX_INFLIGHT defaults to 1024, dicomguard's default --max-inflight (src/cli/cmd_scan.h), and like dicomguard it
 * is capped by the open-file limit (raised to its hard limit) minus 64. dicomguard's other limit, --per-host 2,
 * does not bind in the benchmark: every target has its own address and gets one connection.
 *
 * Prints one line: targets N accepted A rejected R failed F seconds S (accepted: AC and RP read; rejected: RJ
 * read; failed: anything else, within TIMEOUT seconds per target, default 5).
 *
 * Usage: refclient TARGETS [MAX_INFLIGHT] [TIMEOUT]      Build: cc -O2 -o refclient refclient.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum state { CONNECTING, SENDING_RQ, READING_AC, READING_RP };
struct conn {
  int fd;
  enum state st;
  size_t sent;          /* bytes of the current request written */
  unsigned char hdr[6]; /* PDU header being read */
  size_t hgot;
  uint32_t left;        /* PDU body bytes still to read */
  double deadline;
};

static unsigned char rq[512];
static size_t rq_len;
static const unsigned char release_rq[10] = {0x05, 0, 0, 0, 0, 4, 0, 0, 0, 0};
static long accepted, rejected, failed;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static unsigned char* put_item(unsigned char* p, unsigned type, const void* v, size_t n) {
  *p++ = (unsigned char)type;
  *p++ = 0;
  *p++ = (unsigned char)(n >> 8);
  *p++ = (unsigned char)n;
  memcpy(p, v, n);
  return p + n;
}
static unsigned char* put_uid(unsigned char* p, unsigned type, const char* uid) {
  return put_item(p, type, uid, strlen(uid)); /* UIDs in PDU items are not padded (PS3.8 9.3.2.2, F) */
}

static void build_rq(void) {
  unsigned char pc[128], ui[96], *q;
  unsigned char* p = rq + 6;
  *p++ = 0, *p++ = 1; /* protocol version 1 */
  *p++ = 0, *p++ = 0;
  memset(p, ' ', 32);
  memcpy(p, "ANY-SCP", 7);
  memcpy(p + 16, "REFCLIENT", 9);
  p += 32;
  memset(p, 0, 32);
  p += 32;
  p = put_uid(p, 0x10, "1.2.840.10008.3.1.1.1");
  q = pc;
  *q++ = 1, *q++ = 0, *q++ = 0, *q++ = 0; /* presentation context id 1 */
  q = put_uid(q, 0x30, "1.2.840.10008.1.1");
  q = put_uid(q, 0x40, "1.2.840.10008.1.2");
  p = put_item(p, 0x20, pc, (size_t)(q - pc));
  const unsigned char max_len[4] = {0, 0, 0x40, 0}; /* 16384 */
  q = put_item(ui, 0x51, max_len, 4);
  q = put_uid(q, 0x52, "2.25.191961103792601308979158547841924003648");
  p = put_item(p, 0x50, ui, (size_t)(q - ui));
  rq_len = (size_t)(p - rq);
  uint32_t body = (uint32_t)(rq_len - 6);
  rq[0] = 0x01, rq[1] = 0;
  rq[2] = (unsigned char)(body >> 24), rq[3] = (unsigned char)(body >> 16);
  rq[4] = (unsigned char)(body >> 8), rq[5] = (unsigned char)body;
}

static int epfd;
static long active;

static void finish(struct conn* c, long* outcome) {
  ++*outcome;
  close(c->fd); /* also removes it from the epoll set */
  c->fd = -1;
  --active;
}

static void watch(struct conn* c, uint32_t events, int op) {
  struct epoll_event ev = {.events = events, .data.ptr = c};
  if (epoll_ctl(epfd, op, c->fd, &ev) != 0) finish(c, &failed);
}

/* Writes the rest of the current request; returns 1 when it is all written. */
static int send_rest(struct conn* c, const unsigned char* buf, size_t len) {
  while (c->sent < len) {
    ssize_t n = send(c->fd, buf + c->sent, len - c->sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EAGAIN) return 0;
    if (n <= 0) {
      finish(c, &failed);
      return -1;
    }
    c->sent += (size_t)n;
  }
  return 1;
}

static void on_connected(struct conn* c) {
  c->st = SENDING_RQ;
  c->sent = 0;
  int r = send_rest(c, rq, rq_len);
  if (r < 0) return;
  if (r == 0) return watch(c, EPOLLOUT, EPOLL_CTL_MOD);
  c->st = READING_AC;
  watch(c, EPOLLIN, EPOLL_CTL_MOD);
}

/* A whole PDU of this type was read. */
static void on_pdu(struct conn* c, unsigned type) {
  if (c->st == READING_AC && type == 0x02) {
    c->st = READING_RP;
    c->sent = 0;
    int r = send_rest(c, release_rq, sizeof release_rq);
    if (r == 0) finish(c, &failed); /* 10 bytes into an empty socket buffer do not block */
    return;
  }
  if (c->st == READING_AC && type == 0x03) return finish(c, &rejected);
  if (c->st == READING_RP && type == 0x06) return finish(c, &accepted);
  finish(c, &failed);
}

static void on_readable(struct conn* c) {
  unsigned char buf[65536];
  for (;;) {
    ssize_t n = recv(c->fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) return finish(c, &failed);
    size_t i = 0;
    while (i < (size_t)n || (c->hgot == 6 && c->left == 0)) {
      if (c->hgot < 6) {
        c->hdr[c->hgot++] = buf[i++];
        if (c->hgot == 6)
          c->left = (uint32_t)c->hdr[2] << 24 | (uint32_t)c->hdr[3] << 16 | (uint32_t)c->hdr[4] << 8 | c->hdr[5];
        continue;
      }
      size_t take = (size_t)n - i < c->left ? (size_t)n - i : c->left;
      i += take;
      c->left -= (uint32_t)take;
      if (c->left == 0) {
        c->hgot = 0;
        on_pdu(c, c->hdr[0]);
        if (c->fd < 0) return;
      }
    }
  }
}

static void start(struct conn* c, const struct sockaddr_in* sa, double timeout) {
  memset(c, 0, sizeof *c);
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) {
    ++failed;
    return;
  }
  ++active;
  c->deadline = now() + timeout;
  c->st = CONNECTING;
  if (connect(c->fd, (const struct sockaddr*)sa, sizeof *sa) == 0) {
    watch(c, EPOLLIN, EPOLL_CTL_ADD);
    if (c->fd >= 0) on_connected(c);
  } else if (errno == EINPROGRESS) {
    watch(c, EPOLLOUT, EPOLL_CTL_ADD);
  } else {
    finish(c, &failed);
  }
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: refclient TARGETS [MAX_INFLIGHT] [TIMEOUT]\n");
    return 2;
  }
  long max_inflight = argc > 2 ? atol(argv[2]) : 1024;
  double timeout = argc > 3 ? atof(argv[3]) : 5.0;
  FILE* f = fopen(argv[1], "r");
  if (!f) {
    perror(argv[1]);
    return 2;
  }
  size_t cap = 1024, n = 0;
  struct sockaddr_in* targets = malloc(cap * sizeof *targets);
  char line[256];
  while (fgets(line, sizeof line, f)) {
    char* colon = strrchr(line, ':');
    if (!colon) continue;
    *colon = 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    if (inet_pton(AF_INET, line, &sa.sin_addr) != 1) {
      fprintf(stderr, "refclient: not an IPv4 address: %s\n", line);
      return 2;
    }
    if (n == cap) targets = realloc(targets, (cap *= 2) * sizeof *targets);
    targets[n++] = sa;
  }
  fclose(f);

  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    long files = (long)rl.rlim_cur;
    long cap_files = files > 64 ? files - 64 : 1;
    if (max_inflight > cap_files) max_inflight = cap_files;
  }
  if (max_inflight < 1) max_inflight = 1;

  build_rq();
  epfd = epoll_create1(EPOLL_CLOEXEC);
  struct conn* conns = calloc((size_t)max_inflight, sizeof *conns);
  long* free_slots = malloc((size_t)max_inflight * sizeof *free_slots);
  long nfree = 0;
  for (long i = max_inflight - 1; i >= 0; --i) conns[i].fd = -1, free_slots[nfree++] = i;

  const double t0 = now();
  double last_sweep = t0;
  size_t next = 0;
  struct epoll_event evs[256];
  for (;;) {
    while (next < n && nfree > 0) {
      struct conn* c = &conns[free_slots[--nfree]];
      start(c, &targets[next++], timeout);
      if (c->fd < 0) free_slots[nfree++] = c - conns;
    }
    if (active == 0 && next == n) break;
    int k = epoll_wait(epfd, evs, 256, 100);
    for (int i = 0; i < k; ++i) {
      struct conn* c = evs[i].data.ptr;
      if (c->fd < 0) continue;
      if (c->st == CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) finish(c, &failed);
        else on_connected(c);
      } else if (c->st == SENDING_RQ) {
        int r = send_rest(c, rq, rq_len);
        if (r > 0) {
          c->st = READING_AC;
          watch(c, EPOLLIN, EPOLL_CTL_MOD);
        }
      } else {
        on_readable(c);
      }
      if (c->fd < 0) free_slots[nfree++] = c - conns;
    }
    double t = now();
    if (t - last_sweep >= 0.1) {
      last_sweep = t;
      for (long i = 0; i < max_inflight; ++i)
        if (conns[i].fd >= 0 && conns[i].deadline < t) {
          finish(&conns[i], &failed);
          free_slots[nfree++] = i;
        }
    }
  }
  printf("targets %zu accepted %ld rejected %ld failed %ld seconds %.3f\n", n, accepted, rejected, failed,
         now() - t0);
  return 0;
}
