/* fsync_prewritten MODE N SIZE PATH: N times pwrite SIZE bytes then fdatasync, into PATH.
   MODE a: each write extends the file (the order log today); MODE p: the file's space is
   written with zeros and synced first, so the writes land inside it. Prints the CPU
   (getrusage) and wall time an operation. Removes PATH when done. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double cpu_us(void) {
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1e6 + r.ru_utime.tv_usec + r.ru_stime.tv_usec;
}

int main(int argc, char **argv) {
    if (argc != 5 || (argv[1][0] != 'a' && argv[1][0] != 'p')) {
        fprintf(stderr, "usage: %s a|p N SIZE PATH\n", argv[0]);
        return 2;
    }
    char mode = argv[1][0];
    int n = atoi(argv[2]), size = atoi(argv[3]);
    const char *path = argv[4];
    unlink(path);
    int fd = open(path, O_RDWR | O_CREAT, 0600);
    if (fd < 0) { perror(path); return 1; }
    char *buf = malloc(size);
    memset(buf, 'x', size);
    if (mode == 'p') {
        char *zeros = calloc(1, 1 << 20);
        for (long off = 0; off < (long)n * size + (1 << 20); off += 1 << 20)
            if (pwrite(fd, zeros, 1 << 20, off) != 1 << 20) { perror("pwrite"); return 1; }
        fsync(fd);
    }
    struct timespec a, b;
    double c0 = cpu_us();
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < n; i++) {
        if (pwrite(fd, buf, size, (long)i * size) != size || fdatasync(fd) != 0) { perror("write"); return 1; }
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double cpu = cpu_us() - c0, wall = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3;
    printf("%s %d %.1f %.1f\n", mode == 'a' ? "growing" : "pre-written", size, cpu / n, wall / n);
    close(fd);
    unlink(path);
    return 0;
}
