/* (B) single-thread io_uring, no SQPOLL: multishot accept, multishot recv with a
   provided buffer ring, answers as IORING_OP_SEND, one submit_and_wait per iteration,
   batched CQE reaping. argv: port maxsecs statfile mode(defer|coop|none) */
#include "common.h"
#include <liburing.h>

#define NBUF 4096
#define BUFSZ 2048
#define BGID 0
enum { T_ACCEPT = 1, T_RECV = 2, T_SEND = 3, T_CLOSE = 4 };
#define UD(t, fd) (((uint64_t)(t) << 32) | (uint32_t)(fd))

static struct io_uring ring;
static struct io_uring_sqe *sqe_get(void) {
    struct io_uring_sqe *s = io_uring_get_sqe(&ring);
    while (!s) { io_uring_submit(&ring); s = io_uring_get_sqe(&ring); }
    return s;
}
static void arm_accept(int lfd) {
    struct io_uring_sqe *s = sqe_get();
    io_uring_prep_multishot_accept(s, lfd, NULL, NULL, 0);
    io_uring_sqe_set_data64(s, UD(T_ACCEPT, lfd));
}
static void arm_recv(int fd) {
    struct io_uring_sqe *s = sqe_get();
    io_uring_prep_recv_multishot(s, fd, NULL, 0, 0);
    s->flags |= IOSQE_BUFFER_SELECT; s->buf_group = BGID;
    io_uring_sqe_set_data64(s, UD(T_RECV, fd));
}
static void q_send(int fd, int m) {
    struct io_uring_sqe *s = sqe_get();
    io_uring_prep_send(s, fd, respbuf, m * RESPLEN, MSG_NOSIGNAL);
    s->flags |= IOSQE_CQE_SKIP_SUCCESS;          /* only failures produce a CQE */
    io_uring_sqe_set_data64(s, UD(T_SEND, fd));
}
static void q_close(int fd) {
    struct io_uring_sqe *s = sqe_get();
    io_uring_prep_close(s, fd);
    s->flags |= IOSQE_CQE_SKIP_SUCCESS;
    io_uring_sqe_set_data64(s, UD(T_CLOSE, fd));
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 8081, maxsecs = argc > 2 ? atoi(argv[2]) : 300;
    const char *mode = argc > 4 ? argv[4] : "defer";
    common_init(argc > 3 ? argv[3] : "stats_uring", maxsecs);
    int lfd = make_listener(port);

    struct io_uring_params p; memset(&p, 0, sizeof p);
    p.flags = IORING_SETUP_CQSIZE; p.cq_entries = 65536;
    if (!strcmp(mode, "defer")) p.flags |= IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    else if (!strcmp(mode, "coop")) p.flags |= IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN;
    int ret = io_uring_queue_init_params(4096, &ring, &p);
    if (ret < 0) { fprintf(stderr, "queue_init: %s\n", strerror(-ret)); return 1; }

    /* provided buffer ring (liburing 2.3 has no io_uring_setup_buf_ring: do it by hand) */
    size_t rsz = NBUF * sizeof(struct io_uring_buf);
    struct io_uring_buf_ring *br = mmap(NULL, rsz, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    char *bufs = malloc((size_t)NBUF * BUFSZ);
    struct io_uring_buf_reg reg = { .ring_addr = (unsigned long)br, .ring_entries = NBUF, .bgid = BGID };
    if ((ret = io_uring_register_buf_ring(&ring, &reg, 0)) < 0) { fprintf(stderr, "buf_ring: %s\n", strerror(-ret)); return 1; }
    io_uring_buf_ring_init(br);
    int mask = io_uring_buf_ring_mask(NBUF);
    for (int i = 0; i < NBUF; i++) io_uring_buf_ring_add(br, bufs + (size_t)i * BUFSZ, BUFSZ, i, mask, i);
    io_uring_buf_ring_advance(br, NBUF);

    arm_accept(lfd);
    while (!stop_flag) {
        ret = io_uring_submit_and_wait(&ring, 1);
        if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) { fprintf(stderr, "submit_and_wait: %s\n", strerror(-ret)); break; }
        struct io_uring_cqe *cqe; unsigned head, seen = 0; int bufs_back = 0;
        io_uring_for_each_cqe(&ring, head, cqe) {
            seen++;
            uint64_t ud = cqe->user_data; int t = ud >> 32, fd = (int)(uint32_t)ud, res = cqe->res;
            if (t == T_ACCEPT) {
                if (res >= 0) { st->accepts++; mstate[res] = 0; arm_recv(res); } else st->errs++;
                if (!(cqe->flags & IORING_CQE_F_MORE)) arm_accept(lfd);
            } else if (t == T_RECV) {
                if (res > 0) {
                    int bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
                    char *b = bufs + (size_t)bid * BUFSZ;
                    int k = count_reqs(fd, b, res);
                    io_uring_buf_ring_add(br, b, BUFSZ, bid, mask, bufs_back++);
                    while (k > 0) { int m = k > MAXCOPIES ? MAXCOPIES : k; q_send(fd, m); st->reqs += m; k -= m; }
                    if (!(cqe->flags & IORING_CQE_F_MORE)) arm_recv(fd);
                } else if (res == -ENOBUFS) {
                    st->errs++; arm_recv(fd);
                } else {                       /* EOF or error: multishot has ended */
                    q_close(fd); st->closes++;
                }
            } else { st->errs++; }            /* failed send/close (success CQEs skipped) */
        }
        io_uring_cq_advance(&ring, seen);
        if (bufs_back) io_uring_buf_ring_advance(br, bufs_back);
    }
    final_report(mode);
    io_uring_queue_exit(&ring);
    return 0;
}
