/* I/O floors for the `dicomguard files` benchmark.
 *
 * Walks a tree with nftw(3) (physical walk, symlinks not followed) and, for
 * each regular file, opens it, reads it and closes it. That is the least any
 * per-file checker has to do, so its time is the floor the benchmark compares
 * dicomguard against.
 *
 *   iofloor DIR...               1 thread: walk, open, read the first 8 KiB, close (the original floor)
 *   iofloor -t N DIR...          N reader threads: the walk (nftw, one more thread) feeds a bounded queue
 *                                of paths, the N readers open, read the first 8 KiB, close
 *   iofloor -t N -a DIR...       the same, but every byte of each file is read (what a payload search
 *                                must at least do)
 *
 * Memory stays flat: the queue holds at most QUEUE_PATHS paths.
 * Prints: files=N bytes=B errors=E   (exit 0, or 1 if any file could not be read,
 *                                     2 on usage error or a failed walk)
 * Build:  cc -O2 -pthread -o iofloor iofloor.c
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEAD 8192
#define WHOLE_BUF (128 * 1024)
#define QUEUE_PATHS 4096

static unsigned long long n_files, n_bytes, n_errors;
static int whole;  /* -a: read every byte */

/* Opens, reads (the head or everything), closes. Returns bytes read, or -1. */
static long long read_one(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t want = whole ? (size_t)-1 : HEAD;
    unsigned long long got = 0;
    for (;;) {
        size_t room = whole ? cap : (size_t)(want - got);
        if (room == 0)
            break;
        ssize_t r = read(fd, buf + (whole ? 0 : got), room);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            close(fd);
            return -1;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    return (long long)got;
}

/* ---------------------------------------------------------------- 1 thread */
static int visit1(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)ftw;
    if (type != FTW_F || !S_ISREG(st->st_mode))
        return 0;
    static char buf[WHOLE_BUF];
    long long got = read_one(path, buf, sizeof buf);
    if (got < 0) {
        n_errors++;
        return 0;
    }
    n_files++;
    n_bytes += (unsigned long long)got;
    return 0;
}

/* ---------------------------------------------------------------- N threads */
static char *queue[QUEUE_PATHS];
static size_t q_head, q_tail; /* q_tail - q_head paths waiting */
static int walk_done;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER, not_full = PTHREAD_COND_INITIALIZER;

static int visitN(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)ftw;
    if (type != FTW_F || !S_ISREG(st->st_mode))
        return 0;
    char *copy = strdup(path);
    if (!copy)
        return -1;
    pthread_mutex_lock(&mu);
    while (q_tail - q_head == QUEUE_PATHS)
        pthread_cond_wait(&not_full, &mu);
    queue[q_tail++ % QUEUE_PATHS] = copy;
    pthread_cond_signal(&not_empty);
    pthread_mutex_unlock(&mu);
    return 0;
}

static void *reader(void *arg)
{
    (void)arg;
    char *buf = malloc(WHOLE_BUF);
    unsigned long long files = 0, bytes = 0, errors = 0;
    char *batch[64];
    for (;;) {
        size_t k = 0;
        pthread_mutex_lock(&mu);
        while (q_tail == q_head && !walk_done)
            pthread_cond_wait(&not_empty, &mu);
        while (k < 64 && q_head != q_tail)
            batch[k++] = queue[q_head++ % QUEUE_PATHS];
        pthread_cond_broadcast(&not_full);
        pthread_mutex_unlock(&mu);
        if (k == 0)
            break; /* walk done and queue empty */
        for (size_t i = 0; i < k; i++) {
            long long got = read_one(batch[i], buf, WHOLE_BUF);
            if (got < 0)
                errors++;
            else {
                files++;
                bytes += (unsigned long long)got;
            }
            free(batch[i]);
        }
    }
    free(buf);
    pthread_mutex_lock(&mu);
    n_files += files;
    n_bytes += bytes;
    n_errors += errors;
    pthread_mutex_unlock(&mu);
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = 0, opt;
    while ((opt = getopt(argc, argv, "t:a")) != -1) {
        if (opt == 't')
            threads = atoi(optarg);
        else if (opt == 'a')
            whole = 1;
        else
            threads = -1;
    }
    if (optind >= argc || threads < 0 || threads > 256 || (whole && threads == 0)) {
        fprintf(stderr, "usage: %s [-t THREADS [-a]] DIR...\n", argv[0]);
        return 2;
    }
    pthread_t tid[256];
    for (int t = 0; t < threads; t++)
        if (pthread_create(&tid[t], NULL, reader, NULL) != 0) {
            fprintf(stderr, "iofloor: cannot start a thread\n");
            return 2;
        }
    int rc = 0;
    for (int i = optind; i < argc && rc == 0; i++) {
        if (nftw(argv[i], threads ? visitN : visit1, 64, FTW_PHYS) != 0) {
            fprintf(stderr, "iofloor: cannot walk %s: %s\n", argv[i], strerror(errno));
            rc = 2;
        }
    }
    if (threads) {
        pthread_mutex_lock(&mu);
        walk_done = 1;
        pthread_cond_broadcast(&not_empty);
        pthread_mutex_unlock(&mu);
        for (int t = 0; t < threads; t++)
            pthread_join(tid[t], NULL);
    }
    if (rc)
        return rc;
    printf("files=%llu bytes=%llu errors=%llu\n", n_files, n_bytes, n_errors);
    return n_errors ? 1 : 0;
}
