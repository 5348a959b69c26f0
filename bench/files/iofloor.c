/* I/O floor for the `dicomguard files` benchmark.
 *
 * Walks a tree with nftw(3) (physical walk, symlinks not followed) and, for
 * each regular file, opens it, reads at most its first 8 KiB and closes it.
 * That is the least any per-file checker has to do, so its time is the floor
 * the benchmark compares dicomguard against.
 *
 * Usage: iofloor DIR...
 * Prints: files=N bytes=B errors=E   (exit 0, or 1 if any file could not be read,
 *                                     2 on usage error or a failed walk)
 * Build:  cc -O2 -o iofloor iofloor.c
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static unsigned long long n_files, n_bytes, n_errors;

static int visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)ftw;
    if (type != FTW_F || !S_ISREG(st->st_mode))
        return 0;
    static char buf[8192];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        n_errors++;
        return 0;
    }
    size_t got = 0;
    while (got < sizeof buf) {
        ssize_t r = read(fd, buf + got, sizeof buf - got);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            n_errors++;
            break;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    n_files++;
    n_bytes += got;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        if (nftw(argv[i], visit, 64, FTW_PHYS) != 0) {
            fprintf(stderr, "iofloor: cannot walk %s: %s\n", argv[i], strerror(errno));
            return 2;
        }
    }
    printf("files=%llu bytes=%llu errors=%llu\n", n_files, n_bytes, n_errors);
    return n_errors ? 1 : 0;
}
