/*
 * echo.c - minimal single-threaded epoll echo server: the ceiling reference.
 *
 * Level-triggered epoll, non-blocking sockets, one read() and at most one
 * write() per readiness event. If a write is short (peer not reading fast
 * enough) the remainder is parked in a per-connection buffer, the connection
 * waits for EPOLLOUT instead of EPOLLIN until it drains, and then resumes
 * reading. Connections that never block on write allocate nothing.
 *
 * Usage: echo [-addr host:port] [-loops N]   (-loops is accepted; always 1)
 * Build: gcc -O2 -o echo echo.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_SIZE (64 * 1024)
#define MAX_EVENTS 256

struct pending {
    size_t len, off;
    char data[];
};

static struct pending **pend; /* indexed by fd; NULL when nothing is parked */
static size_t npend;
static char buf[BUF_SIZE];

static void die(const char *what) {
    perror(what);
    exit(1);
}

static int listen_on(const char *addr) {
    char host[256];
    const char *colon = strrchr(addr, ':');
    if (!colon || (size_t)(colon - addr) >= sizeof host) {
        fprintf(stderr, "bad -addr %s (want host:port)\n", addr);
        exit(2);
    }
    memcpy(host, addr, colon - addr);
    host[colon - addr] = 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(atoi(colon + 1))};
    if (inet_pton(AF_INET, host[0] ? host : "0.0.0.0", &sa.sin_addr) != 1) {
        fprintf(stderr, "bad IPv4 host %s\n", host);
        exit(2);
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) die("bind");
    if (listen(fd, 65535) < 0) die("listen");
    return fd;
}

static void set_interest(int ep, int fd, unsigned events) {
    struct epoll_event ev = {.events = events, .data.fd = fd};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) < 0) die("epoll_ctl mod");
}

static void close_conn(int fd) {
    if ((size_t)fd < npend && pend[fd]) {
        free(pend[fd]);
        pend[fd] = NULL;
    }
    close(fd); /* also removes fd from the epoll set */
}

static void park(int ep, int fd, const char *p, size_t len) {
    if ((size_t)fd >= npend) {
        size_t n = npend ? npend : 1024;
        while (n <= (size_t)fd) n *= 2;
        pend = realloc(pend, n * sizeof *pend);
        if (!pend) die("realloc");
        memset(pend + npend, 0, (n - npend) * sizeof *pend);
        npend = n;
    }
    struct pending *pd = malloc(sizeof *pd + len);
    if (!pd) die("malloc");
    pd->len = len;
    pd->off = 0;
    memcpy(pd->data, p, len);
    pend[fd] = pd;
    set_interest(ep, fd, EPOLLOUT);
}

static void on_readable(int ep, int fd) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        close_conn(fd);
        return;
    }
    if (n < 0) return;
    ssize_t w = write(fd, buf, n);
    if (w < 0) {
        if (errno != EAGAIN && errno != EINTR) {
            close_conn(fd);
            return;
        }
        w = 0;
    }
    if (w < n) park(ep, fd, buf + w, n - w);
}

static void on_writable(int ep, int fd) {
    struct pending *pd = pend[fd];
    ssize_t w = write(fd, pd->data + pd->off, pd->len - pd->off);
    if (w < 0) {
        if (errno != EAGAIN && errno != EINTR) close_conn(fd);
        return;
    }
    pd->off += w;
    if (pd->off == pd->len) {
        free(pd);
        pend[fd] = NULL;
        set_interest(ep, fd, EPOLLIN);
    }
}

static void accept_all(int ep, int lfd) {
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) perror("accept4");
            return; /* EAGAIN, or EMFILE etc.: retried on the next event */
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            perror("epoll_ctl add");
            close(fd);
        }
    }
}

int main(int argc, char **argv) {
    const char *addr = "127.0.0.1:9000";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] == '-' && a[1] == '-') a++;
        if (strcmp(a, "-addr") == 0 && i + 1 < argc) {
            addr = argv[++i];
        } else if (strncmp(a, "-addr=", 6) == 0) {
            addr = a + 6;
        } else if (strcmp(a, "-loops") == 0 && i + 1 < argc) {
            if (atoi(argv[++i]) > 1) fprintf(stderr, "echo: single-threaded, ignoring -loops\n");
        } else if (strncmp(a, "-loops=", 7) == 0) {
            /* accepted and ignored */
        } else {
            fprintf(stderr, "usage: %s [-addr host:port] [-loops N]\n", argv[0]);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    int lfd = listen_on(addr);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1");
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) die("epoll_ctl listen");

    struct epoll_event events[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(ep, events, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            unsigned e = events[i].events;
            if (fd == lfd) {
                accept_all(ep, lfd);
            } else if ((size_t)fd < npend && pend[fd]) {
                if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_writable(ep, fd);
            } else if (e & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                on_readable(ep, fd);
            }
        }
    }
}
