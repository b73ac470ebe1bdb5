/* (A) single-thread epoll, level-triggered, non-blocking; per ready fd one recv + one send */
#include "common.h"
#include <sys/epoll.h>
int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 8080, maxsecs = argc > 2 ? atoi(argv[2]) : 300;
    common_init(argc > 3 ? argv[3] : "stats_epoll", maxsecs);
    int lfd = make_listener(port), ep = epoll_create1(0);
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = lfd }, evs[1024];
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    char buf[4096];
    while (!stop_flag) {
        int n = epoll_wait(ep, evs, 1024, -1);
        if (n < 0) { if (errno == EINTR) continue; perror("epoll_wait"); break; }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd) {
                for (;;) {
                    int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
                    if (c < 0) break;
                    st->accepts++; mstate[c] = 0;
                    struct epoll_event e = { .events = EPOLLIN, .data.fd = c };
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &e);
                }
                continue;
            }
            ssize_t r = recv(fd, buf, sizeof buf, 0);
            if (r <= 0) {
                if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
                close(fd); st->closes++;   /* close removes it from epoll */
                continue;
            }
            int k = count_reqs(fd, buf, (int)r);
            while (k > 0) {
                int m = k > MAXCOPIES ? MAXCOPIES : k;
                ssize_t w = send(fd, respbuf, m * RESPLEN, MSG_NOSIGNAL);
                if (w != (ssize_t)(m * RESPLEN)) { st->errs++; break; }
                st->reqs += m; k -= m;
            }
        }
    }
    final_report("epoll");
    return 0;
}
