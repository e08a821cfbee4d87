/*
 * cload.c - single-threaded epoll load generator for echo servers.
 *
 * A drop-in replacement for cmd/loadgen (same flags, same stderr phase
 * markers, same -json schema) that costs far less CPU per message, so that a
 * server pinned alone to one CPU is the bottleneck rather than the client.
 *
 * Load mode: every connection keeps -pipeline messages of -size bytes in
 * flight. Each time an echoed message has been received completely and
 * verified, the next one is queued (until the measured window ends), then the
 * remaining echoes are drained (bounded by -iotimeout). Latency is from the
 * write() that handed a message's first byte to the kernel to the read() that
 * returned its last byte (CLOCK_MONOTONIC), recorded in a log-linear histogram
 * (relative error < 1/64). Messages count only if their echo completes inside
 * [measure-start, measure-end).
 *
 * Idle mode (-idle): open -conns connections, echo one message on each, print
 * "phase=established", and hold them until SIGINT/SIGTERM or -duration.
 *
 * Messages: a 12-byte header (little-endian connection id, sequence number)
 * followed by a body that is a slice of one shared pseudo-random template
 * starting at an offset derived from a hash of (id, seq), so byte i of a
 * message is template[off(id, seq) + i]. Echoes are verified incrementally as
 * they arrive (no reassembly buffer) against the header and memcmp against the
 * template, so corruption, truncation, duplication, misordering,
 * cross-connection mixups and bytes echoed before they were sent are all
 * detected. Nothing is buffered per connection on the send side either:
 * small messages are assembled into a shared buffer just before each write(),
 * large ones are handed to writev() as header + template slice.
 *
 * WebSocket mode (-ws): every connection first upgrades (RFC 6455: GET
 * -wspath with a fixed Sec-WebSocket-Key, the 101 and its accept value
 * checked), then each message goes out as one masked binary frame (a fixed
 * masking key; the masked bytes come from four pre-masked copies of the
 * template, so large messages still go out by writev without a copy), and
 * the echoes must come back as unmasked binary frames, a message possibly
 * fragmented; the frame headers are stripped and the payload verified as
 * above. Anything else from the server (a control or text frame, reserved
 * bits, a mask, a FIN inside a message) is a verification error.
 *
 * Sockets are non-blocking with TCP_NODELAY and registered once in an
 * edge-triggered epoll set for EPOLLIN|EPOLLOUT; reads continue until a short
 * read, writes until a short write (then EPOLLOUT resumes them).
 *
 * Build: gcc -O2 -Wall -Wextra -o cload cload.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define NS_PER_MS 1000000LL
#define NS_PER_S 1000000000LL

/* ---------------------------------------------------------------- options */

enum ftype { F_STR, F_INT, F_DUR, F_BOOL };

static struct {
    const char *addr;
    long long conns, size, pipeline;
    int64_t duration, warmup, iotimeout, dialtimeout;
    const char *duration_s, *iotimeout_s, *dialtimeout_s;
    int idle, json, ws;
    long long dialconc, dialretries;
    const char *src, *wspath;
} O = {
    .addr = "127.0.0.1:9000", .conns = 100, .size = 64, .pipeline = 1,
    .duration = 5 * NS_PER_S, .warmup = NS_PER_S, .iotimeout = 10 * NS_PER_S, .dialtimeout = 60 * NS_PER_S,
    .duration_s = "5s", .iotimeout_s = "10s", .dialtimeout_s = "1m0s",
    .dialconc = 64, .dialretries = 8, .src = "", .wspath = "/",
};

static const struct flagdef {
    const char *name;
    enum ftype type;
    void *ptr;
    const char **text; /* keeps the literal value (for messages), may be NULL */
    const char *usage;
} flags[] = {
    {"addr", F_STR, &O.addr, NULL, "server address host:port (default \"127.0.0.1:9000\")"},
    {"conns", F_INT, &O.conns, NULL, "number of connections (default 100)"},
    {"dialconc", F_INT, &O.dialconc, NULL, "concurrent dials during connection setup (default 64)"},
    {"dialretries", F_INT, &O.dialretries, NULL, "retries per failed dial (default 8)"},
    {"dialtimeout", F_DUR, &O.dialtimeout, &O.dialtimeout_s, "bound on the whole connection setup (default 1m0s)"},
    {"duration", F_DUR, &O.duration, &O.duration_s, "measured duration (with -idle: maximum hold time) (default 5s)"},
    {"idle", F_BOOL, &O.idle, NULL, "open -conns connections, hold them idle until SIGINT/SIGTERM or -duration"},
    {"iotimeout", F_DUR, &O.iotimeout, &O.iotimeout_s, "how long an echo may be overdue after the run ends (default 10s)"},
    {"json", F_BOOL, &O.json, NULL, "print the result as JSON"},
    {"pipeline", F_INT, &O.pipeline, NULL, "messages in flight per connection (default 1)"},
    {"size", F_INT, &O.size, NULL, "message size in bytes (default 64)"},
    {"src", F_STR, &O.src, NULL, "comma-separated local source IPs used round-robin (e.g. 127.0.0.1,127.0.0.2)"},
    {"warmup", F_DUR, &O.warmup, NULL, "unmeasured warm-up before the measured window (default 1s)"},
    {"ws", F_BOOL, &O.ws, NULL, "WebSocket: upgrade every connection, then echo masked binary messages (with -idle: hold them)"},
    {"wspath", F_STR, &O.wspath, NULL, "-ws: request path of the handshake (default \"/\")"},
};
#define NFLAGS (sizeof flags / sizeof flags[0])

static void usage(FILE *f) {
    fprintf(f, "Usage of cload:\n");
    for (size_t i = 0; i < NFLAGS; i++) {
        const char *t = flags[i].type == F_STR ? " string" : flags[i].type == F_INT ? " int"
                      : flags[i].type == F_DUR ? " duration" : "";
        fprintf(f, "  -%s%s\n    \t%s\n", flags[i].name, t, flags[i].usage);
    }
}

static void fatalf(const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "loadgen: %s\n", msg);
    exit(2);
}

/* parse_duration accepts Go's time.ParseDuration syntax ("1m30s", "1.5s",
 * "250ms", "0"). It returns 0 on success. */
static int parse_duration(const char *s, int64_t *out) {
    static const struct { const char *u; uint64_t ns; } units[] = {
        {"ns", 1}, {"us", 1000}, {"\xc2\xb5s", 1000}, {"\xce\xbcs", 1000},
        {"ms", 1000000}, {"s", 1000000000}, {"m", 60000000000ULL}, {"h", 3600000000000ULL},
    };
    const char *p = s;
    int neg = 0;
    if (*p == '-' || *p == '+') neg = *p++ == '-';
    if (strcmp(p, "0") == 0) {
        *out = 0;
        return 0;
    }
    if (*p == 0) return -1;
    uint64_t total = 0;
    while (*p) {
        uint64_t ip = 0, fp = 0;
        double scale = 1;
        int digits = 0;
        for (; *p >= '0' && *p <= '9'; p++, digits++) {
            if (ip > (UINT64_MAX - 9) / 10) return -1;
            ip = ip * 10 + (uint64_t)(*p - '0');
        }
        if (*p == '.') {
            for (p++; *p >= '0' && *p <= '9'; p++, digits++) {
                if (fp < UINT64_MAX / 100) { /* further digits are insignificant */
                    fp = fp * 10 + (uint64_t)(*p - '0');
                    scale *= 10;
                }
            }
        }
        if (digits == 0) return -1;
        size_t best = 0;
        uint64_t unit = 0;
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
            size_t l = strlen(units[i].u);
            if (l > best && strncmp(p, units[i].u, l) == 0) best = l, unit = units[i].ns;
        }
        if (unit == 0) return -1; /* missing or unknown unit */
        p += best;
        if (ip > (uint64_t)INT64_MAX / unit) return -1;
        uint64_t v = ip * unit + (uint64_t)((double)fp * ((double)unit / scale));
        if (v > (uint64_t)INT64_MAX - total) return -1;
        total += v;
    }
    *out = neg ? -(int64_t)total : (int64_t)total;
    return 0;
}

static int parse_int(const char *s, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 0);
    if (errno || end == s || *end) return -1;
    *out = v;
    return 0;
}

static int parse_bool(const char *s, int *out) {
    static const char *t[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *f[] = {"0", "f", "F", "FALSE", "false", "False"};
    for (size_t i = 0; i < 6; i++) {
        if (strcmp(s, t[i]) == 0) return *out = 1, 0;
        if (strcmp(s, f[i]) == 0) return *out = 0, 0;
    }
    return -1;
}

/* parse_flags follows Go's flag package: -name, --name, -name=value,
 * -name value (non-bool only); parsing stops at "--" or the first non-flag. */
static void parse_flags(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || a[1] == 0) break;
        a++;
        if (a[0] == '-') {
            a++;
            if (a[0] == 0) break; /* "--" */
        }
        if (a[0] == '-' || a[0] == '=') {
            fprintf(stderr, "bad flag syntax: %s\n", argv[i]);
            usage(stderr);
            exit(2);
        }
        char name[64];
        const char *eq = strchr(a, '='), *val = NULL;
        size_t nl = eq ? (size_t)(eq - a) : strlen(a);
        if (nl >= sizeof name) nl = sizeof name - 1;
        memcpy(name, a, nl);
        name[nl] = 0;
        if (eq) val = eq + 1;
        if (strcmp(name, "h") == 0 || strcmp(name, "help") == 0) {
            usage(stderr);
            exit(0);
        }
        const struct flagdef *f = NULL;
        for (size_t k = 0; k < NFLAGS; k++)
            if (strcmp(flags[k].name, name) == 0) f = &flags[k];
        if (!f) {
            fprintf(stderr, "flag provided but not defined: -%s\n", name);
            usage(stderr);
            exit(2);
        }
        if (!val && f->type != F_BOOL) {
            if (i + 1 >= argc) {
                fprintf(stderr, "flag needs an argument: -%s\n", name);
                usage(stderr);
                exit(2);
            }
            val = argv[++i];
        }
        int bad = 0;
        switch (f->type) {
        case F_STR: *(const char **)f->ptr = val; break;
        case F_INT: bad = parse_int(val, f->ptr); break;
        case F_DUR: bad = parse_duration(val, f->ptr); break;
        case F_BOOL:
            if (val) bad = parse_bool(val, f->ptr);
            else *(int *)f->ptr = 1;
            break;
        }
        if (bad) {
            fprintf(stderr, "invalid value \"%s\" for flag -%s: parse error\n", val, name);
            usage(stderr);
            exit(2);
        }
        if (f->text) *f->text = val;
    }
}

/* ------------------------------------------------------------------ clock */

static inline int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static void phase(const char *name, const char *extra) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char line[256];
    int n = snprintf(line, sizeof line, "loadgen: phase=%s unix_ns=%lld %s\n", name,
                     (long long)ts.tv_sec * NS_PER_S + ts.tv_nsec, extra);
    if (n > (int)sizeof line - 1) n = (int)sizeof line - 1;
    if (write(2, line, (size_t)n) < 0) { /* nobody to tell */ }
}

/* -------------------------------------------------------------- histogram */

#define SUB_BITS 6
#define SUB (1 << SUB_BITS)
#define MAX_EXP 40
#define NBUCKETS ((MAX_EXP + 2) * SUB)

static struct {
    uint64_t counts[NBUCKETS];
    uint64_t total, sum, max;
} H;

static inline int bucket_of(uint64_t v) {
    if (v < 2 * SUB) return (int)v;
    int e = (64 - __builtin_clzll(v)) - (SUB_BITS + 1);
    if (e > MAX_EXP) return NBUCKETS - 1;
    return e * SUB + (int)(v >> e);
}

static uint64_t bucket_hi(int i) {
    int e = i / SUB - 1;
    if (e < 0) e = 0;
    uint64_t m = (uint64_t)(i - e * SUB);
    return ((m + 1) << e) - 1;
}

static inline void hist_record(uint64_t v) {
    H.counts[bucket_of(v)]++;
    H.total++;
    H.sum += v;
    if (v > H.max) H.max = v;
}

static uint64_t hist_quantile(double q) {
    if (H.total == 0) return 0;
    double x = q * (double)H.total;
    uint64_t rank = (uint64_t)x;
    if ((double)rank < x) rank++;
    if (rank < 1) rank = 1;
    uint64_t seen = 0;
    for (int i = 0; i < NBUCKETS; i++) {
        seen += H.counts[i];
        if (seen >= rank) {
            uint64_t hi = bucket_hi(i);
            return hi < H.max ? hi : H.max;
        }
    }
    return H.max;
}

/* ---------------------------------------------------------------- pattern */

#define HDR 12       /* id (4) + seq (8), little-endian */
#define SLIDE 65521  /* distinct body offsets into the template (prime) */

static uint8_t *tmpl; /* size + SLIDE pseudo-random bytes */

static inline uint64_t mix64(uint64_t x) { /* splitmix64 finalizer */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static inline uint64_t msg_key(uint32_t id, uint64_t seq) {
    return mix64(mix64((uint64_t)id + 0x9e3779b97f4a7c15ULL) ^ seq);
}

/* msg_body returns the template slice message (id, seq) is taken from:
 * byte i >= HDR of the message is msg_body(id, seq)[i]. */
static inline const uint8_t *msg_body(uint32_t id, uint64_t seq) {
    return tmpl + msg_key(id, seq) % SLIDE;
}

static inline void make_hdr(uint8_t *h, uint32_t id, uint64_t seq) {
    for (int i = 0; i < 4; i++) h[i] = (uint8_t)(id >> (8 * i));
    for (int i = 0; i < 8; i++) h[4 + i] = (uint8_t)(seq >> (8 * i));
}

/* gen_range writes bytes [a, b) of message (id, seq) to dst. */
static void gen_range(uint8_t *dst, uint32_t id, uint64_t seq, size_t a, size_t b) {
    size_t i = a;
    if (i < HDR) {
        uint8_t h[HDR];
        make_hdr(h, id, seq);
        for (; i < b && i < HDR; i++) *dst++ = h[i];
    }
    if (i < b) memcpy(dst, msg_body(id, seq) + i, b - i);
}

/* verify_range checks src against bytes [a, b) of message (id, seq). It
 * returns the message offset of the first wrong byte (and the expected byte in
 * *want), or SIZE_MAX. */
static size_t verify_range(const uint8_t *src, uint32_t id, uint64_t seq, size_t a, size_t b, uint8_t *want) {
    size_t i = a;
    src -= a;
    if (i < HDR) {
        uint8_t h[HDR];
        make_hdr(h, id, seq);
        for (; i < b && i < HDR; i++)
            if (src[i] != h[i]) return *want = h[i], i;
    }
    const uint8_t *t = msg_body(id, seq);
    if (i < b && memcmp(src + i, t + i, b - i) != 0) {
        while (src[i] == t[i]) i++;
        return *want = t[i], i;
    }
    return SIZE_MAX;
}

static void make_template(size_t size) {
    size_t n = size + SLIDE;
    tmpl = malloc(n);
    if (!tmpl) fatalf("out of memory (template of %zu bytes)", n);
    uint64_t x = 0x2545F4914F6CDD1DULL;
    for (size_t i = 0; i < n; i++) {
        x ^= x >> 12; /* xorshift64* */
        x ^= x << 25;
        x ^= x >> 27;
        tmpl[i] = (uint8_t)((x * 0x2545F4914F6CDD1DULL) >> 56);
    }
}

/* ---------------------------------------------------------------- errors */

static int nerrors;
static char first_error[1024];

static void add_error(const char *fmt, ...) {
    if (nerrors++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(first_error, sizeof first_error, fmt, ap);
        va_end(ap);
    }
}

/* ----------------------------------------------------------- connections */

enum state { ST_NEW, ST_CONNECTING, ST_UPGRADE, ST_HANDSHAKE, ST_BACKOFF, ST_READY, ST_LOAD, ST_DONE, ST_DEAD };

struct conn {
    int fd;
    uint32_t id;
    uint8_t state;
    uint32_t attempts;
    uint64_t gen;        /* messages queued so far: seq < gen are in flight or done */
    uint64_t wseq;       /* first message not completely written */
    uint64_t rseq;       /* first message not completely received */
    uint32_t woff, roff; /* bytes of wseq written / of rseq received */
    uint8_t hdr[HDR];    /* received header bytes of message rseq */
    int64_t deadline;    /* connect/handshake deadline, or end of backoff */
    int64_t backoff;
    uint64_t *tsend;     /* [pipeline]: when message seq's first byte was written */
    /* -ws only. woff counts the frame's header and key too; roff only
     * the message. */
    char *ubuf;          /* the upgrade response so far (ST_UPGRADE) */
    uint32_t ulen;
    uint8_t fh[10];      /* received bytes of a frame header */
    uint8_t fhn;         /* how many */
    uint8_t inpay;       /* the header is whole: fleft payload bytes follow */
    uint8_t fin, frag;   /* the frame's FIN; inside a fragmented message */
    uint64_t fleft;
    uint64_t mseq;       /* rseq when the current message's first frame began */
};

static struct conn *conns;
static uint64_t *tsend_all;
static int epfd;
static size_t msize, pipe_n;

#define RBUF_SIZE (256 * 1024)
#define WBUF_SIZE (256 * 1024)
static uint8_t rbuf[RBUF_SIZE], wbuf[WBUF_SIZE];

static struct {
    int64_t start, end;   /* measured window [start, end) in CLOCK_MONOTONIC ns */
    uint64_t messages;    /* echoes completed inside the window */
} G;

static char cerr[768]; /* message of the last per-connection failure */
static int cerr_errno;  /* its errno (0: EOF or verification) */

enum { IO_OK = 0, IO_ERR = 1, IO_VERIFY = 2 };

static int io_error(struct conn *c, const char *op, int err) {
    const char *why = err ? strerror(err) : "unexpected EOF";
    cerr_errno = err;
    snprintf(cerr, sizeof cerr, "conn %u %s (seq %llu, %u/%zu bytes of the echo received): %s", c->id, op,
             (unsigned long long)c->rseq, c->roff, msize, why);
    return IO_ERR;
}

/* ------------------------------------------------------------- websocket */

/* With -ws a message goes out as npre bytes of frame header and masking
 * key (wpre), then the message masked with WS_MASK. mtmpl[r] is the
 * template masked as if it started at key offset r:
 * mtmpl[r][j] = tmpl[j] ^ WS_MASK[(j + r) % 4]. Without -ws npre is 0 and
 * a message goes out as it is. */
static const uint8_t WS_MASK[4] = {0x5a, 0xc3, 0x17, 0x9e};
static uint8_t wpre[14];
static size_t npre;
static size_t wsz; /* bytes of one message on the wire: npre + msize */
static uint8_t *mtmpl[4];

/* The Sec-WebSocket-Key of every connection (RFC 6455's example) and the
 * Sec-WebSocket-Accept a server must answer it with. */
#define WS_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define WS_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

static void ws_setup(void) {
    size_t n = 0;
    wpre[n++] = 0x82; /* FIN, binary */
    if (msize <= 125) {
        wpre[n++] = 0x80 | (uint8_t)msize;
    } else if (msize <= 65535) {
        wpre[n++] = 0x80 | 126;
        wpre[n++] = (uint8_t)(msize >> 8);
        wpre[n++] = (uint8_t)msize;
    } else {
        wpre[n++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--) wpre[n++] = (uint8_t)((uint64_t)msize >> (8 * i));
    }
    memcpy(wpre + n, WS_MASK, 4);
    npre = n + 4;
    size_t tn = msize + SLIDE;
    for (int r = 0; r < 4; r++) {
        mtmpl[r] = malloc(tn);
        if (!mtmpl[r]) fatalf("out of memory (masked template of %zu bytes)", tn);
        for (size_t j = 0; j < tn; j++) mtmpl[r][j] = tmpl[j] ^ WS_MASK[(j + (size_t)r) & 3];
    }
}

/* ws_body is msg_body masked: byte i >= HDR of message (id, seq) masked
 * (with the key starting at the message's first byte) is
 * ws_body(id, seq)[i]. */
static inline const uint8_t *ws_body(uint32_t id, uint64_t seq) {
    size_t o = msg_key(id, seq) % SLIDE;
    return mtmpl[(4 - (o & 3)) & 3] + o;
}

/* gen_wire writes bytes [a, b) of message (id, seq) as it goes on the wire
 * (with -ws: frame header, key, masked message) to dst. */
static void gen_wire(uint8_t *dst, uint32_t id, uint64_t seq, size_t a, size_t b) {
    if (!npre) {
        gen_range(dst, id, seq, a, b);
        return;
    }
    size_t i = a;
    for (; i < b && i < npre; i++) *dst++ = wpre[i];
    if (i == b) return;
    size_t k = i - npre, end = b - npre; /* message offsets */
    if (k < HDR) {
        uint8_t h[HDR];
        make_hdr(h, id, seq);
        for (; k < end && k < HDR; k++) *dst++ = h[k] ^ WS_MASK[k & 3];
    }
    if (k < end) memcpy(dst, ws_body(id, seq) + k, end - k);
}

/* Messages of at least IOV_MIN bytes are written with writev straight from
 * the template (header + body slice) instead of being copied into wbuf. */
#define IOV_MIN 2048
#define NIOV 64
static struct iovec iov[NIOV];
static uint8_t iov_hdr[NIOV / 2][HDR];

/* fill_out describes the next unwritten bytes of c (at most about
 * WBUF_SIZE, or NIOV/3 messages) in iov and returns the iovec count. */
static int fill_out(struct conn *c, size_t *total) {
    size_t len = 0, off = c->woff;
    uint64_t s = c->wseq;
    int n = 0;
    if (msize < IOV_MIN) {
        while (s < c->gen && len < WBUF_SIZE) {
            size_t take = wsz - off;
            if (take > WBUF_SIZE - len) take = WBUF_SIZE - len;
            gen_wire(wbuf + len, c->id, s, off, off + take);
            len += take;
            off += take;
            if (off == wsz) s++, off = 0;
        }
        iov[n++] = (struct iovec){wbuf, len};
    } else {
        for (int m = 0; s < c->gen && m < NIOV / 3 && len < 4 * WBUF_SIZE; m++, s++, off = 0) {
            len += wsz - off;
            if (off < npre) {
                iov[n++] = (struct iovec){wpre + off, npre - off};
                off = npre;
            }
            size_t k = off - npre; /* message offset */
            if (k < HDR) {
                make_hdr(iov_hdr[m], c->id, s);
                if (npre)
                    for (int i = 0; i < HDR; i++) iov_hdr[m][i] ^= WS_MASK[i & 3];
                iov[n++] = (struct iovec){iov_hdr[m] + k, HDR - k};
                k = HDR;
            }
            iov[n++] = (struct iovec){(void *)((npre ? ws_body(c->id, s) : msg_body(c->id, s)) + k), msize - k};
        }
    }
    *total = len;
    return n;
}

/* flush writes the queued but unwritten messages, regenerating their bytes. */
static int flush(struct conn *c) {
    while (c->wseq < c->gen) {
        size_t len;
        int niov = fill_out(c, &len);
        int64_t t = now_ns();
        ssize_t n = niov == 1 ? write(c->fd, iov[0].iov_base, len) : writev(c->fd, iov, niov);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return IO_OK;
            if (errno == EINTR) continue;
            cerr_errno = errno;
            snprintf(cerr, sizeof cerr, "conn %u write (seq %llu): %s", c->id, (unsigned long long)c->wseq,
                     strerror(cerr_errno));
            return IO_ERR;
        }
        size_t left = (size_t)n;
        while (left > 0) {
            if (c->woff == 0) c->tsend[c->wseq % pipe_n] = (uint64_t)t;
            size_t take = wsz - c->woff;
            if (take > left) take = left;
            c->woff += (uint32_t)take;
            left -= take;
            if (c->woff == wsz) c->wseq++, c->woff = 0;
        }
        if ((size_t)n < len) return IO_OK; /* send buffer full: wait for EPOLLOUT */
    }
    return IO_OK;
}

/* consume verifies n echoed bytes received at time t. */
static int consume(struct conn *c, const uint8_t *p, size_t n, int64_t t) {
    while (n > 0) {
        size_t take = msize - c->roff;
        if (take > n) take = n;
        size_t sent = c->woff > npre ? c->woff - npre : 0; /* of message wseq */
        if (c->rseq > c->wseq || (c->rseq == c->wseq && c->roff + take > sent)) {
            snprintf(cerr, sizeof cerr,
                     "verify: conn %u seq %llu: echo of bytes never sent (%zu bytes received, only %zu of the message written)",
                     c->id, (unsigned long long)c->rseq, c->roff + take, c->rseq == c->wseq ? sent : 0);
            return IO_VERIFY;
        }
        if (c->roff < HDR) {
            size_t h = HDR - c->roff < take ? HDR - c->roff : take;
            memcpy(c->hdr + c->roff, p, h);
        }
        uint8_t want = 0;
        size_t bad = verify_range(p, c->id, c->rseq, c->roff, c->roff + take, &want);
        if (bad != SIZE_MAX) {
            int len = snprintf(cerr, sizeof cerr, "verify: conn %u seq %llu: echo mismatch at byte %zu of %zu (got 0x%02x, want 0x%02x)",
                               c->id, (unsigned long long)c->rseq, bad, msize, p[bad - c->roff], want);
            if (c->roff + take >= HDR && len > 0 && (size_t)len < sizeof cerr) {
                uint32_t gid = 0;
                uint64_t gseq = 0;
                for (int i = 3; i >= 0; i--) gid = gid << 8 | c->hdr[i];
                for (int i = 11; i >= 4; i--) gseq = gseq << 8 | c->hdr[i];
                snprintf(cerr + len, sizeof cerr - (size_t)len, "; received header says conn %u seq %llu", gid,
                         (unsigned long long)gseq);
            }
            return IO_VERIFY;
        }
        c->roff += (uint32_t)take;
        p += take;
        n -= take;
        if (c->roff == msize) {
            if (t >= G.start && t < G.end) {
                hist_record((uint64_t)(t - (int64_t)c->tsend[c->rseq % pipe_n]));
                G.messages++;
            }
            c->rseq++;
            c->roff = 0;
            if (t < G.end) c->gen++; /* keep -pipeline messages in flight */
        }
    }
    return IO_OK;
}

/* ws_consume strips the frame headers from n bytes received on a -ws
 * connection and verifies the payload with consume. The server must
 * answer each message with unmasked binary frames: one, or a fragmented
 * message (binary, continuations, the last with FIN); a FIN must end
 * exactly one message. Anything else is a verification error. */
static int ws_consume(struct conn *c, const uint8_t *p, size_t n, int64_t t) {
    while (n > 0) {
        if (!c->inpay) {
            c->fh[c->fhn++] = *p++;
            n--;
            size_t need = 2;
            if (c->fhn >= 2) {
                uint8_t l7 = c->fh[1] & 0x7f;
                need += l7 == 126 ? 2 : l7 == 127 ? 8 : 0;
            }
            if (c->fhn < need) continue;
            uint8_t b0 = c->fh[0], b1 = c->fh[1], op = b0 & 0x0f;
            uint64_t len = b1 & 0x7f;
            if (len == 126) {
                len = (uint64_t)c->fh[2] << 8 | c->fh[3];
            } else if (len == 127) {
                len = 0;
                for (int i = 2; i < 10; i++) len = len << 8 | c->fh[i];
            }
            c->fhn = 0;
            if ((b0 & 0x70) || (b1 & 0x80) || op != (c->frag ? 0 : 2)) {
                snprintf(cerr, sizeof cerr,
                         "verify: conn %u seq %llu: unexpected frame from the server (0x%02x 0x%02x: opcode %u%s%s; want %s)",
                         c->id, (unsigned long long)c->rseq, b0, b1, op, (b0 & 0x70) ? ", reserved bits set" : "",
                         (b1 & 0x80) ? ", masked" : "", c->frag ? "a continuation frame" : "an unmasked binary frame");
                return IO_VERIFY;
            }
            if (!c->frag) c->mseq = c->rseq;
            c->fin = b0 >> 7;
            c->fleft = len;
            c->inpay = 1;
        }
        size_t take = c->fleft < n ? (size_t)c->fleft : n;
        if (take) {
            int rc = consume(c, p, take, t);
            if (rc) return rc;
            p += take;
            n -= take;
            c->fleft -= take;
        }
        if (c->fleft == 0) {
            c->inpay = 0;
            c->frag = !c->fin;
            if (c->fin && (c->roff != 0 || c->rseq != c->mseq + 1)) {
                snprintf(cerr, sizeof cerr,
                         "verify: conn %u: a message frame ended (FIN) after %llu whole messages and %u bytes, want one message",
                         c->id, (unsigned long long)(c->rseq - c->mseq), c->roff);
                return IO_VERIFY;
            }
        }
    }
    return IO_OK;
}

/* on_readable reads until the socket is drained (edge-triggered). */
static int on_readable(struct conn *c) {
    for (;;) {
        ssize_t n = read(c->fd, rbuf, sizeof rbuf);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return IO_OK;
            if (errno == EINTR) continue;
            return io_error(c, "read", errno);
        }
        if (n == 0) return io_error(c, "read", 0);
        int64_t t = now_ns();
        int rc = npre ? ws_consume(c, rbuf, (size_t)n, t) : consume(c, rbuf, (size_t)n, t);
        if (rc) return rc;
        if ((size_t)n < sizeof rbuf) return IO_OK; /* short read: drained */
    }
}

/* service handles a readiness event of an active connection. The event mask
 * comes from tcp_poll at epoll_wait time: without EPOLLOUT the send buffer is
 * full and a write would only return EAGAIN (tcp_poll has then set
 * SOCK_NOSPACE, so an EPOLLOUT edge follows once space frees up). */
static int service(struct conn *c, uint32_t ev) {
    if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        int rc = on_readable(c);
        if (rc) return rc;
    }
    return c->wseq < c->gen && (ev & EPOLLOUT) ? flush(c) : IO_OK;
}

/* ------------------------------------------------------------ dialing */

static struct sockaddr_storage target;
static socklen_t target_len;
static struct sockaddr_storage *srcs;
static size_t nsrc;

static void resolve(const char *hostport, int numeric, struct sockaddr_storage *out, socklen_t *outlen) {
    char host[256];
    const char *port = "0";
    const char *colon = strrchr(hostport, ':');
    size_t hl = strlen(hostport);
    if (colon) {
        hl = (size_t)(colon - hostport);
        port = colon + 1;
    }
    if (hl >= sizeof host) fatalf("address too long: %s", hostport);
    memcpy(host, hostport, hl);
    host[hl] = 0;
    char *h = host;
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') h[hl - 1] = 0, h++;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = numeric ? AI_NUMERICHOST : 0}, *res;
    int rc = getaddrinfo(h[0] ? h : NULL, port, &hints, &res);
    if (rc) fatalf("%s \"%s\": %s", numeric ? "bad source address" : "cannot resolve", hostport, gai_strerror(rc));
    memcpy(out, res->ai_addr, res->ai_addrlen);
    *outlen = res->ai_addrlen;
    freeaddrinfo(res);
}

static void parse_src(void) {
    if (!O.src[0]) return;
    char *list = strdup(O.src), *save = NULL;
    for (char *f = strtok_r(list, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
        while (*f == ' ') f++;
        char *e = f + strlen(f);
        while (e > f && e[-1] == ' ') *--e = 0;
        char buf[300];
        if (strchr(f, ':') && f[0] != '[') snprintf(buf, sizeof buf, "[%s]:0", f); /* bare IPv6 */
        else snprintf(buf, sizeof buf, "%s:0", f);
        srcs = realloc(srcs, (nsrc + 1) * sizeof *srcs);
        socklen_t l;
        resolve(buf, 1, &srcs[nsrc], &l);
        if (srcs[nsrc].ss_family != target.ss_family) fatalf("source address %s is not in the family of %s", f, O.addr);
        nsrc++;
    }
    free(list);
}

static int retryable(int err) {
    switch (err) {
    case EAGAIN: case ECONNREFUSED: case ETIMEDOUT: case ECONNRESET: case ECONNABORTED:
    case EADDRNOTAVAIL: case EADDRINUSE: case EINTR: case ENOBUFS: case EPIPE:
        return 1;
    }
    return 0;
}

static struct {
    int64_t retries;
    long established;
    int failed;
    char why[800];
} D;

static void dial_fatal(struct conn *c, const char *why) {
    if (D.failed) return;
    /* per-connection I/O and verification messages already name the conn */
    int named = strncmp(why, "conn ", 5) == 0 || strncmp(why, "verify: ", 8) == 0;
    D.failed = 1;
    if (named) snprintf(D.why, sizeof D.why, "%s", why);
    else snprintf(D.why, sizeof D.why, "conn %u: %s", c->id, why);
}

static void close_conn(struct conn *c) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
}

/* attempt_failed closes c and schedules a retry, or gives up on the setup. */
static void attempt_failed(struct conn *c, int err, const char *why, int64_t now) {
    close_conn(c);
    if (!retryable(err) || c->attempts >= (uint64_t)O.dialretries) {
        c->state = ST_DEAD;
        dial_fatal(c, why);
        return;
    }
    c->attempts++;
    D.retries++;
    c->state = ST_BACKOFF;
    c->deadline = now + c->backoff;
    c->backoff = c->backoff * 2 < 500 * NS_PER_MS ? c->backoff * 2 : 500 * NS_PER_MS;
}

/* established makes c ready, or in -idle mode starts the echo that proves
 * the server serves it. */
static void established(struct conn *c, int64_t now) {
    if (!O.idle) {
        c->state = ST_READY;
        D.established++;
        return;
    }
    /* handshake: echo one verified message so the server surely serves us */
    c->state = ST_HANDSHAKE;
    c->deadline = now + O.iotimeout;
    c->gen = 1;
    c->wseq = c->rseq = 0;
    c->woff = c->roff = 0;
    if (flush(c)) attempt_failed(c, cerr_errno ? cerr_errno : EPIPE, cerr, now);
}

#define UBUF 2048 /* longest upgrade response accepted */

/* ws_upgrade sends c's upgrade request (-ws). */
static void ws_upgrade(struct conn *c, int64_t now) {
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: " WS_KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     O.wspath, O.addr);
    if (n < 0 || (size_t)n >= sizeof req) fatalf("-wspath too long");
    if (!c->ubuf && !(c->ubuf = malloc(UBUF))) fatalf("out of memory");
    c->ulen = 0;
    c->fhn = c->inpay = c->frag = 0;
    c->state = ST_UPGRADE;
    c->deadline = now + O.iotimeout;
    ssize_t w = write(c->fd, req, (size_t)n);
    if (w != n) {
        char why[300];
        int e = w < 0 ? errno : EPIPE;
        snprintf(why, sizeof why, "websocket upgrade request: write: %s", w < 0 ? strerror(e) : "short write");
        attempt_failed(c, e, why, now);
    }
}

/* ws_upgrade_read reads the server's answer to the upgrade request: a
 * 101 with the right accept value, and nothing after it. */
static void ws_upgrade_read(struct conn *c, uint32_t ev, int64_t now) {
    char why[400];
    if (!(ev & (EPOLLIN | EPOLLERR | EPOLLHUP))) return;
    for (;;) {
        if (c->ulen == UBUF) {
            snprintf(why, sizeof why, "websocket upgrade: a response head longer than %d bytes", UBUF);
            break;
        }
        ssize_t n = read(c->fd, c->ubuf + c->ulen, UBUF - c->ulen);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            if (errno == EINTR) continue;
            int e = errno;
            snprintf(why, sizeof why, "websocket upgrade: read: %s", strerror(e));
            attempt_failed(c, e, why, now);
            return;
        }
        if (n == 0) {
            attempt_failed(c, ECONNRESET, "websocket upgrade: the server closed the connection", now);
            return;
        }
        c->ulen += (uint32_t)n;
        const char *end = memmem(c->ubuf, c->ulen, "\r\n\r\n", 4);
        if (!end) continue;
        size_t head = (size_t)(end - c->ubuf) + 4;
        const char *eol = memchr(c->ubuf, '\r', c->ulen);
        int line = (int)(eol - c->ubuf);
        if (strncmp(c->ubuf, "HTTP/1.1 101 ", 13) != 0) {
            snprintf(why, sizeof why, "websocket upgrade refused: %.*s", line > 200 ? 200 : line, c->ubuf);
            break;
        }
        if (!memmem(c->ubuf, head, WS_ACCEPT, strlen(WS_ACCEPT))) {
            snprintf(why, sizeof why, "websocket upgrade: no Sec-WebSocket-Accept: " WS_ACCEPT " in the 101");
            break;
        }
        if (head != c->ulen) {
            snprintf(why, sizeof why, "websocket upgrade: %zu bytes after the 101 before any message", c->ulen - head);
            break;
        }
        free(c->ubuf);
        c->ubuf = NULL;
        established(c, now);
        return;
    }
    close_conn(c);
    c->state = ST_DEAD;
    dial_fatal(c, why);
}

/* connected goes on with a connection whose connect succeeded. */
static void connected(struct conn *c, int64_t now) {
    if (O.ws) ws_upgrade(c, now);
    else established(c, now);
}

static void start_attempt(struct conn *c, int64_t now) {
    char why[300];
    int fd = socket(target.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(why, sizeof why, "socket: %s", strerror(errno));
        c->state = ST_DEAD;
        dial_fatal(c, why);
        return;
    }
    c->fd = fd;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (nsrc) {
        const struct sockaddr_storage *s = &srcs[c->id % nsrc];
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (bind(fd, (const struct sockaddr *)s, s->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                                            : sizeof(struct sockaddr_in)) < 0) {
            int e = errno;
            snprintf(why, sizeof why, "bind source address: %s", strerror(e));
            attempt_failed(c, e, why, now);
            return;
        }
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.u32 = c->id};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        snprintf(why, sizeof why, "epoll_ctl: %s", strerror(errno));
        close_conn(c);
        c->state = ST_DEAD;
        dial_fatal(c, why);
        return;
    }
    c->deadline = now + 3 * NS_PER_S; /* per-attempt connect timeout */
    if (connect(fd, (const struct sockaddr *)&target, target_len) == 0) {
        connected(c, now);
    } else if (errno == EINPROGRESS) {
        c->state = ST_CONNECTING;
    } else {
        int e = errno;
        snprintf(why, sizeof why, "dial tcp %s: connect: %s", O.addr, strerror(e));
        attempt_failed(c, e, why, now);
    }
}

static void on_dial_event(struct conn *c, uint32_t ev, int64_t now) {
    char why[300];
    if (c->state == ST_CONNECTING) {
        int err = 0;
        socklen_t l = sizeof err;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0) err = errno;
        if (err == 0 && (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == EPOLLOUT) {
            connected(c, now);
        } else if (err != 0 && err != EINPROGRESS && err != EALREADY) {
            snprintf(why, sizeof why, "dial tcp %s: connect: %s", O.addr, strerror(err));
            attempt_failed(c, err, why, now);
        } else if (ev & (EPOLLERR | EPOLLHUP)) {
            snprintf(why, sizeof why, "dial tcp %s: connect: connection closed", O.addr);
            attempt_failed(c, ECONNRESET, why, now);
        }
    } else if (c->state == ST_UPGRADE) {
        ws_upgrade_read(c, ev, now);
    } else if (c->state == ST_HANDSHAKE) {
        int rc = service(c, ev);
        if (rc == IO_VERIFY) {
            close_conn(c);
            c->state = ST_DEAD;
            dial_fatal(c, cerr);
        } else if (rc == IO_ERR) {
            attempt_failed(c, cerr_errno ? cerr_errno : ECONNRESET, cerr, now); /* EOF: server dropped us */
        } else if (c->rseq == 1) {
            c->state = ST_READY;
            D.established++;
        }
    }
}

static int ms_until(int64_t deadline, int64_t now) {
    if (deadline <= now) return 0;
    int64_t ms = (deadline - now + NS_PER_MS - 1) / NS_PER_MS;
    return ms > 1000 ? 1000 : (int)ms;
}

#define MAXEV 512
static struct epoll_event evs[MAXEV];

/* dial_all opens all connections, at most -dialconc at a time, each retried
 * up to -dialretries times with backoff, all within -dialtimeout. It returns
 * 0 on success; otherwise it has closed everything and set D.why. */
static int dial_all(void) {
    size_t n = (size_t)O.conns, next = 0, nact = 0;
    size_t conc = O.dialconc < 1 ? 1 : (size_t)O.dialconc;
    if (conc > n) conc = n;
    size_t *act = calloc(conc, sizeof *act);
    if (!act) fatalf("out of memory");
    int64_t now = now_ns(), limit = now + O.dialtimeout;
    while ((size_t)D.established < n && !D.failed) {
        for (;;) {
            /* drop established connections from the active set, refill it */
            for (size_t i = 0; i < nact;) {
                if (conns[act[i]].state == ST_READY) act[i] = act[--nact];
                else i++;
            }
            if (nact >= conc || next >= n || D.failed) break;
            while (nact < conc && next < n && !D.failed) {
                struct conn *c = &conns[next];
                c->backoff = 5 * NS_PER_MS;
                act[nact++] = next++;
                start_attempt(c, now); /* may connect at once */
            }
        }
        if (D.failed) break;
        if (nact == 0 && next >= n) break;
        if (now >= limit) {
            if (!D.failed) snprintf(D.why, sizeof D.why, "connection setup exceeded %s", O.dialtimeout_s);
            D.failed = 1;
            break;
        }
        int64_t wake = limit;
        for (size_t i = 0; i < nact; i++)
            if (conns[act[i]].deadline < wake) wake = conns[act[i]].deadline;
        int nev = epoll_wait(epfd, evs, MAXEV, ms_until(wake, now));
        if (nev < 0 && errno != EINTR) fatalf("epoll_wait: %s", strerror(errno));
        now = now_ns();
        for (int i = 0; i < nev && !D.failed; i++) on_dial_event(&conns[evs[i].data.u32], evs[i].events, now);
        for (size_t i = 0; i < nact && !D.failed; i++) {
            struct conn *c = &conns[act[i]];
            if (c->state == ST_BACKOFF && now >= c->deadline) {
                start_attempt(c, now);
            } else if ((c->state == ST_CONNECTING || c->state == ST_UPGRADE || c->state == ST_HANDSHAKE) &&
                       now >= c->deadline) {
                char why[300];
                snprintf(why, sizeof why,
                         c->state == ST_CONNECTING ? "dial tcp %s: i/o timeout"
                         : c->state == ST_UPGRADE  ? "websocket upgrade with %s: i/o timeout"
                                                   : "handshake echo with %s: i/o timeout",
                         O.addr);
                attempt_failed(c, ETIMEDOUT, why, now);
            }
        }
    }
    free(act);
    if (D.failed) {
        for (size_t i = 0; i < n; i++) close_conn(&conns[i]);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- output */

struct result {
    const char *mode;
    double duration_s;
    long established;
    uint64_t messages;
    double msgs_per_sec, mb_per_sec;
    uint64_t p50, p90, p99, p999, max;
    double mean;
};

/* fmt_float prints f the way Go's encoding/json does: the shortest decimal
 * that round-trips, in plain notation for 1e-6 <= |f| < 1e21. */
static void fmt_float(char *out, size_t cap, double f) {
    if (f == 0) {
        snprintf(out, cap, "0");
        return;
    }
    char e[40];
    for (int p = 1; p <= 17; p++) {
        snprintf(e, sizeof e, "%.*e", p - 1, f);
        if (strtod(e, NULL) == f) break;
    }
    /* e = [-]d[.ddd]e[+-]XX */
    const char *s = e;
    int neg = *s == '-';
    if (neg) s++;
    char digits[24];
    int nd = 0;
    for (; *s && *s != 'e'; s++)
        if (*s >= '0' && *s <= '9' && nd < 23) digits[nd++] = *s;
    digits[nd] = 0;
    int exp10 = atoi(s + 1);
    double a = f < 0 ? -f : f;
    char *o = out;
    size_t left = cap;
#define PUT(ch) do { if (left > 1) { *o++ = (ch); left--; } } while (0)
    if (neg) PUT('-');
    if (a >= 1e-6 && a < 1e21) {
        if (exp10 >= 0) {
            for (int i = 0; i <= exp10; i++) PUT(i < nd ? digits[i] : '0');
            if (nd > exp10 + 1) {
                PUT('.');
                for (int i = exp10 + 1; i < nd; i++) PUT(digits[i]);
            }
        } else {
            PUT('0');
            PUT('.');
            for (int i = 0; i < -exp10 - 1; i++) PUT('0');
            for (int i = 0; i < nd; i++) PUT(digits[i]);
        }
        *o = 0;
    } else {
        PUT(digits[0]);
        if (nd > 1) {
            PUT('.');
            for (int i = 1; i < nd; i++) PUT(digits[i]);
        }
        *o = 0;
        snprintf(o, left, "e%c%d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
    }
#undef PUT
}

static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        case '<': case '>': case '&': fprintf(f, "\\u%04x", *p); break;
        default:
            if (*p < 0x20) fprintf(f, "\\u%04x", *p);
            else fputc(*p, f);
        }
    }
    fputc('"', f);
}

static void print_json(const struct result *r) {
    char d[48], mps[48], mbs[48], mean[48];
    fmt_float(d, sizeof d, r->duration_s);
    fmt_float(mps, sizeof mps, r->msgs_per_sec);
    fmt_float(mbs, sizeof mbs, r->mb_per_sec);
    fmt_float(mean, sizeof mean, r->mean);
    printf("{\n  \"mode\": \"%s\",\n  \"addr\": ", r->mode);
    json_string(stdout, O.addr);
    printf(",\n  \"conns\": %lld,\n  \"size\": %lld,\n  \"pipeline\": %lld,\n  \"duration_s\": %s,\n"
           "  \"established\": %ld,\n  \"dial_retries\": %lld,\n  \"messages\": %llu,\n"
           "  \"msgs_per_sec\": %s,\n  \"mb_per_sec\": %s,\n  \"latency\": {\n"
           "    \"p50_ns\": %llu,\n    \"p90_ns\": %llu,\n    \"p99_ns\": %llu,\n    \"p999_ns\": %llu,\n"
           "    \"max_ns\": %llu,\n    \"mean_ns\": %s\n  },\n  \"errors\": %d",
           O.conns, O.size, O.idle ? 1LL : O.pipeline, d, r->established, (long long)D.retries,
           (unsigned long long)r->messages, mps, mbs, (unsigned long long)r->p50, (unsigned long long)r->p90,
           (unsigned long long)r->p99, (unsigned long long)r->p999, (unsigned long long)r->max, mean, nerrors);
    if (first_error[0]) {
        printf(",\n  \"first_error\": ");
        json_string(stdout, first_error);
    }
    printf("\n}\n");
}

static void print_human(const struct result *r) {
    printf("mode=%s addr=%s conns=%lld size=%lld pipeline=%lld established=%ld dial_retries=%lld\n", r->mode, O.addr,
           O.conns, O.size, O.idle ? 1LL : O.pipeline, r->established, (long long)D.retries);
    if (!O.idle) {
        printf("messages=%llu in %.2fs: %.0f msgs/s, %.2f MB/s\n", (unsigned long long)r->messages, r->duration_s,
               r->msgs_per_sec, r->mb_per_sec);
        printf("latency us: p50=%.1f p90=%.1f p99=%.1f p99.9=%.1f max=%.1f mean=%.1f\n", r->p50 / 1e3, r->p90 / 1e3,
               r->p99 / 1e3, r->p999 / 1e3, r->max / 1e3, r->mean / 1e3);
    } else {
        printf("held %.2fs\n", r->duration_s);
    }
    printf("errors=%d", nerrors);
    if (first_error[0]) printf(" first: %s", first_error);
    printf("\n");
}

/* ------------------------------------------------------------------ modes */

static void sleep_until(int64_t t) {
    for (int64_t now = now_ns(); now < t; now = now_ns()) {
        struct timespec ts = {.tv_sec = (t - now) / NS_PER_S, .tv_nsec = (t - now) % NS_PER_S};
        nanosleep(&ts, NULL);
    }
}

static void run_load(struct result *r) {
    size_t n = (size_t)O.conns;
    if (dial_all()) {
        add_error("%s", D.why);
        return;
    }
    r->established = D.established;
    int64_t now = now_ns();
    G.start = now + O.warmup;
    G.end = G.start + O.duration;
    int64_t hard = G.end + O.iotimeout;
    size_t running = 0;
    for (size_t i = 0; i < n; i++) {
        struct conn *c = &conns[i];
        c->state = ST_LOAD;
        c->gen = pipe_n;
        running++;
        if (flush(c)) {
            add_error("%s", cerr);
            close_conn(c);
            c->state = ST_DEAD;
            running--;
        }
    }
    int started = 0, ended = 0;
    while (running > 0) {
        now = now_ns();
        if (!started && now >= G.start) {
            phase("measure-start", "");
            started = 1;
        }
        if (!ended && now >= G.end) {
            phase("measure-end", "");
            ended = 1;
            for (size_t i = 0; i < n; i++) {
                struct conn *c = &conns[i];
                if (c->state == ST_LOAD && c->rseq == c->gen) c->state = ST_DONE, running--;
            }
            continue;
        }
        if (ended && now >= hard) {
            for (size_t i = 0; i < n; i++) {
                struct conn *c = &conns[i];
                if (c->state == ST_LOAD)
                    add_error("conn %u: %llu echo(es) still outstanding %s after the run ended (seq %llu, %u/%zu bytes received)",
                              c->id, (unsigned long long)(c->gen - c->rseq), O.iotimeout_s,
                              (unsigned long long)c->rseq, c->roff, msize);
            }
            break;
        }
        int timeout = ms_until(!started ? G.start : !ended ? G.end : hard, now);
        int nev = epoll_wait(epfd, evs, MAXEV, timeout);
        if (nev < 0) {
            if (errno == EINTR) continue;
            fatalf("epoll_wait: %s", strerror(errno));
        }
        for (int i = 0; i < nev; i++) {
            struct conn *c = &conns[evs[i].data.u32];
            if (c->state != ST_LOAD) continue;
            if (service(c, evs[i].events)) {
                add_error("%s", cerr);
                close_conn(c);
                c->state = ST_DEAD;
                running--;
            } else if (ended && c->rseq == c->gen) {
                c->state = ST_DONE;
                running--;
            }
        }
    }
    /* Like the Go loadgen, the markers come at their times even if every
     * connection failed early. */
    if (!started) sleep_until(G.start), phase("measure-start", "");
    if (!ended) sleep_until(G.end), phase("measure-end", "");
    for (size_t i = 0; i < n; i++) close_conn(&conns[i]);

    double secs = (double)O.duration / 1e9;
    r->duration_s = secs;
    r->messages = G.messages;
    r->msgs_per_sec = (double)G.messages / secs;
    r->mb_per_sec = (double)G.messages * (double)msize / secs / 1e6;
    r->p50 = hist_quantile(0.50);
    r->p90 = hist_quantile(0.90);
    r->p99 = hist_quantile(0.99);
    r->p999 = hist_quantile(0.999);
    r->max = H.max;
    r->mean = H.total ? (double)H.sum / (double)H.total : 0;
}

static void run_idle(struct result *r) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL); /* delivered by sigtimedwait below */
    int64_t t0 = now_ns();
    if (dial_all()) {
        add_error("%s", D.why);
        return;
    }
    r->established = D.established;
    char extra[96];
    snprintf(extra, sizeof extra, "conns=%ld setup_ms=%lld", D.established, (long long)((now_ns() - t0) / NS_PER_MS));
    phase("established", extra);
    int64_t t1 = now_ns(), until = t1 + O.duration;
    for (;;) {
        int64_t now = now_ns();
        if (now >= until) {
            phase("release", "timeout");
            break;
        }
        struct timespec ts = {.tv_sec = (until - now) / NS_PER_S, .tv_nsec = (until - now) % NS_PER_S};
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig == SIGINT || sig == SIGTERM) {
            phase("release", sig == SIGINT ? "signal=interrupt" : "signal=terminated");
            break;
        }
        if (sig < 0 && errno != EAGAIN && errno != EINTR) fatalf("sigtimedwait: %s", strerror(errno));
    }
    r->duration_s = (double)(now_ns() - t1) / 1e9;
    for (size_t i = 0; i < (size_t)O.conns; i++) close_conn(&conns[i]);
}

int main(int argc, char **argv) {
    parse_flags(argc, argv);
    if (O.conns < 1 || O.size < 1 || O.pipeline < 1 || O.duration <= 0 || O.warmup < 0)
        fatalf("need -conns, -size, -pipeline >= 1, -duration > 0 and -warmup >= 0");
    if (O.size > (1LL << 30)) fatalf("-size %lld too large (max %lld)", O.size, 1LL << 30);
    if (O.conns > (1LL << 24) || O.pipeline > (1LL << 24) || O.conns * O.pipeline > (1LL << 28))
        fatalf("-conns × -pipeline too large");
    if (O.iotimeout <= 0) O.iotimeout = NS_PER_S;
    if (O.dialretries < 0) O.dialretries = 0;
    signal(SIGPIPE, SIG_IGN);

    /* like the Go runtime: allow as many descriptors as the hard limit */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    resolve(O.addr, 0, &target, &target_len);
    parse_src();
    msize = (size_t)O.size;
    pipe_n = O.idle ? 1 : (size_t)O.pipeline;
    make_template(msize);
    if (O.ws) ws_setup();
    wsz = npre + msize;
    size_t n = (size_t)O.conns;
    conns = calloc(n, sizeof *conns);
    tsend_all = calloc(n * pipe_n, sizeof *tsend_all);
    if (!conns || !tsend_all) fatalf("out of memory for %zu connections", n);
    for (size_t i = 0; i < n; i++) {
        conns[i].fd = -1;
        conns[i].id = (uint32_t)i;
        conns[i].tsend = tsend_all + i * pipe_n;
    }
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) fatalf("epoll_create1: %s", strerror(errno));

    struct result r = {.mode = O.idle ? "idle" : "load"};
    if (O.idle) run_idle(&r);
    else run_load(&r);
    if (O.json) print_json(&r);
    else print_human(&r);
    fflush(stdout);
    return nerrors > 0 ? 1 : 0;
}
