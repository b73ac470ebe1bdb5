/* shared helpers: stats in a mmap'd file, request counting, signals */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <signal.h>
#include <errno.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

static const char RESP[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}";
#define RESPLEN (sizeof(RESP) - 1)
#define MAXCOPIES 64
static char respbuf[RESPLEN * MAXCOPIES];

struct stats { volatile uint64_t reqs, accepts, closes, errs; };
static struct stats *st;
static volatile sig_atomic_t stop_flag;
static void on_sig(int s) { (void)s; stop_flag = 1; }

/* per-connection state: how many chars of "\r\n\r\n" are matched at the tail */
static unsigned char mstate[65536];

static int count_reqs(int fd, const char *p, int n) {
    static const char pat[4] = {'\r', '\n', '\r', '\n'};
    int k = mstate[fd], c = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] == pat[k]) { if (++k == 4) { c++; k = 0; } }
        else k = (p[i] == '\r') ? 1 : 0;
    }
    mstate[fd] = k;
    return c;
}

static void common_init(const char *statpath, int maxsecs) {
    for (int i = 0; i < MAXCOPIES; i++) memcpy(respbuf + i * RESPLEN, RESP, RESPLEN);
    int fd = open(statpath, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ftruncate(fd, 4096) < 0) { perror("statfile"); exit(1); }
    st = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (st == MAP_FAILED) { perror("mmap"); exit(1); }
    close(fd);
    struct sigaction sa; memset(&sa, 0, sizeof sa); sa.sa_handler = on_sig; /* no SA_RESTART */
    sigaction(SIGTERM, &sa, NULL); sigaction(SIGINT, &sa, NULL); sigaction(SIGALRM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    alarm(maxsecs);               /* hard self-stop */
}

static int make_listener(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (void *)&a, sizeof a) < 0 || listen(fd, 4096) < 0) { perror("listen"); exit(1); }
    return fd;
}

static void final_report(const char *name) {
    struct rusage ru; getrusage(RUSAGE_SELF, &ru);
    double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    fprintf(stderr, "%s: reqs=%llu accepts=%llu closes=%llu errs=%llu utime=%.3f stime=%.3f cpu_us_per_req=%.2f nvcsw=%ld nivcsw=%ld\n",
            name, (unsigned long long)st->reqs, (unsigned long long)st->accepts, (unsigned long long)st->closes,
            (unsigned long long)st->errs, ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
            ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6, st->reqs ? cpu * 1e6 / st->reqs : 0.0, ru.ru_nvcsw, ru.ru_nivcsw);
}
