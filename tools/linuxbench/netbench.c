/* Linux reference for WayOS's network figures (`cargo xtask bench --linux`): runs as
 * /init in a minimal initramfs under the same QEMU settings as WayOS's bench (TCG,
 * -smp 1, -icount shift=0,sleep=off,align=off, a virtio-net-pci NIC on QEMU's user
 * network), against the same host servers (xtask/src/nethost/bulk.rs), and measures the
 * same way as userland/tools/src/bin/bench/net.rs:
 *
 *   tcp_rx_instr_per_kib  connect to the host's bulk source, read BENCH_NET_BYTES to EOF
 *   tcp_tx_instr_per_kib  connect to the host's sink, write BENCH_NET_BYTES, shut down
 *                         the write side, read the host's 8-byte count
 *   udp_rtt_instr         BENCH_UDP_ROUNDS datagrams of BENCH_UDP_PAYLOAD bytes to the
 *                         host's echo server, each waited for
 *
 * Waiting for the host is not counted: a SCHED_IDLE soaker thread spins whenever nothing
 * else runs, its instructions per loop calibrated first, and each figure is the elapsed
 * instructions less the soaker's (under icount an idle guest's clock would jump to the
 * next timer instead). The sizes and ports come on the kernel command line
 * (wayos.benchnet=<source>,<sink>,<echo> and wayos.netbytes/udprounds/udppayload, which
 * xtask fills from wayos_abi::harness so nothing is copied here).
 *
 * and the disk figures of userland/tools/src/bin/bench/blk.rs, on the scratch disk that
 * wayos.disk=<n> names (the (n+1)-th virtio-blk device, /dev/vd<a+n>), the same 16 MiB
 * image in the same place as in WayOS's bench boot:
 *
 *   blk_read_instr_per_kib_4k / _1m    pread() a quarter of the disk each, cold (first
 *                                      read after boot), through the page cache
 *   blk_write_instr_per_kib_4k / _1m   pwrite() a quarter each, then fsync()
 *
 * The virtio modules (virtio_ring, virtio, virtio_pci*, failover, net_failover,
 * virtio_net, virtio_blk) are in /mod of the initramfs, loaded in that order; eth0 gets 10.0.2.15/24 via
 * 10.0.2.2 statically (DHCP is not what is measured). Prints one JSON line per figure,
 * then powers off. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static inline uint64_t now(void) {
#if defined(__x86_64__)
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
#else
    uint64_t v;
    __asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(v));
    return v;
#endif
}

static double instr_per_tick(void) {
#if defined(__x86_64__)
    return 1.0;
#else
    uint64_t f;
    __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(f));
    return 1e9 / (double)f;
#endif
}

static void report(const char *name, double per_op, const char *unit) {
    printf("{\"system\":\"linux\",\"bench\":\"%s\",\"value\":%.1f,\"unit\":\"%s\"}\n", name,
           per_op * instr_per_tick(), unit);
    fflush(stdout);
}

static void fail(const char *what) {
    printf("netbench: %s failed: %s\n", what, strerror(errno));
    fflush(stdout);
}

static _Atomic uint64_t soaked;
static _Atomic int stop;

static void *soak(void *arg) {
    (void)arg;
    struct sched_param p = {0};
    pthread_setschedparam(pthread_self(), SCHED_IDLE, &p);
    uint64_t n = 0;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        n++;
        atomic_store_explicit(&soaked, n, memory_order_relaxed);
    }
    return NULL;
}

struct mark {
    uint64_t ticks, soaked;
};
static struct mark mark(void) {
    struct mark m;
    m.soaked = atomic_load_explicit(&soaked, memory_order_relaxed);
    m.ticks = now();
    return m;
}
/* Soaker rate: ticks per loop as cal_ticks / cal_loops. */
static uint64_t cal_ticks, cal_loops;
static double busy(struct mark a, struct mark b) {
    double soak_ticks = (double)(b.soaked - a.soaked) * (double)cal_ticks / (double)cal_loops;
    double d = (double)(b.ticks - a.ticks) - soak_ticks;
    return d < 0 ? 0 : d;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static int load_modules(void) {
    static const char *mods[] = {"virtio_ring", "virtio", "virtio_pci_modern_dev",
                                 "virtio_pci_legacy_dev", "virtio_pci", "failover",
                                 "net_failover", "virtio_net", "virtio_blk"};
    for (size_t i = 0; i < sizeof mods / sizeof *mods; i++) {
        char path[64];
        snprintf(path, sizeof path, "/mod/%s.ko", mods[i]);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || syscall(SYS_finit_module, fd, "", 0) != 0) {
            fail(path);
            return -1;
        }
        close(fd);
    }
    return 0;
}

static void set_addr(struct sockaddr *sa, const char *ip) {
    struct sockaddr_in *sin = (struct sockaddr_in *)sa;
    memset(sin, 0, sizeof *sin);
    sin->sin_family = AF_INET;
    inet_pton(AF_INET, ip, &sin->sin_addr);
}

static int up(int s, const char *name) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0) return -1;
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    return ioctl(s, SIOCSIFFLAGS, &ifr);
}

static int configure(void) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "eth0");
    set_addr(&ifr.ifr_addr, "10.0.2.15");
    if (ioctl(s, SIOCSIFADDR, &ifr) != 0) { fail("SIOCSIFADDR eth0"); return -1; }
    set_addr(&ifr.ifr_netmask, "255.255.255.0");
    if (ioctl(s, SIOCSIFNETMASK, &ifr) != 0) { fail("SIOCSIFNETMASK"); return -1; }
    if (up(s, "eth0") != 0 || up(s, "lo") != 0) { fail("SIOCSIFFLAGS"); return -1; }
    struct rtentry rt;
    memset(&rt, 0, sizeof rt);
    set_addr(&rt.rt_dst, "0.0.0.0");
    set_addr(&rt.rt_genmask, "0.0.0.0");
    set_addr(&rt.rt_gateway, "10.0.2.2");
    rt.rt_flags = RTF_UP | RTF_GATEWAY;
    rt.rt_dev = "eth0";
    if (ioctl(s, SIOCADDRT, &rt) != 0) { fail("SIOCADDRT"); return -1; }
    close(s);
    return 0;
}

/* The value of `key=` on the kernel command line, or NULL. */
static char cmdline[4096];
static const char *param(const char *key) {
    size_t n = strlen(key);
    for (char *w = strtok(strdup(cmdline), " \n"); w; w = strtok(NULL, " \n"))
        if (strncmp(w, key, n) == 0 && w[n] == '=') return w + n + 1;
    return NULL;
}

static int connect_host(int port) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "10.0.2.2", &a.sin_addr);
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) { fail("connect"); close(s); return -1; }
    return s;
}

static double tcp_rx(int port, uint64_t bytes) {
    static char buf[16384];
    struct mark a = mark();
    int s = connect_host(port);
    if (s < 0) return -1;
    uint64_t total = 0;
    for (;;) {
        ssize_t n = read(s, buf, sizeof buf);
        if (n < 0) { fail("tcp_rx read"); return -1; }
        if (n == 0) break;
        total += (uint64_t)n;
    }
    close(s);
    struct mark b = mark();
    if (total != bytes) { printf("netbench: tcp_rx got %lu bytes\n", (unsigned long)total); return -1; }
    return busy(a, b);
}

static double tcp_tx(int port, uint64_t bytes) {
    static char chunk[16384];
    for (size_t i = 0; i < sizeof chunk; i++) chunk[i] = (char)(i % 251);
    struct mark a = mark();
    int s = connect_host(port);
    if (s < 0) return -1;
    uint64_t left = bytes;
    while (left > 0) {
        size_t n = left < sizeof chunk ? left : sizeof chunk;
        ssize_t w = write(s, chunk, n);
        if (w <= 0) { fail("tcp_tx write"); return -1; }
        left -= (uint64_t)w;
    }
    shutdown(s, SHUT_WR);
    uint64_t counted = 0;
    size_t got = 0;
    while (got < 8) {
        ssize_t n = read(s, (char *)&counted + got, 8 - got);
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(s);
    struct mark b = mark();
    if (got != 8 || counted != bytes) { printf("netbench: tcp_tx host counted %lu\n", (unsigned long)counted); return -1; }
    return busy(a, b);
}

static int round_trip(int s, char *msg, size_t len, uint32_t i) {
    static char back[65536];
    memcpy(msg, &i, sizeof i);
    if (send(s, msg, len, 0) != (ssize_t)len) { fail("udp send"); return -1; }
    for (;;) {
        ssize_t n = recv(s, back, sizeof back, 0);
        if (n < 0) { fail("udp recv"); return -1; }
        if ((size_t)n == len && memcmp(back, msg, len) == 0) return 0;
    }
}

static double udp_rtt(int port, int rounds, size_t payload) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "10.0.2.2", &a.sin_addr);
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) { fail("udp connect"); return -1; }
    char *msg = calloc(1, payload);
    if (round_trip(s, msg, payload, 0xffffffffu) != 0) return -1;
    struct mark m0 = mark();
    for (int i = 0; i < rounds; i++)
        if (round_trip(s, msg, payload, (uint32_t)i) != 0) return -1;
    struct mark m1 = mark();
    close(s);
    return busy(m0, m1);
}

/* Moves a quarter of the scratch disk (`bytes`) at `offset` in requests of `size`
 * (writes end with fsync): busy ticks, or -1. */
static double blk_run(int fd, off_t offset, uint64_t bytes, size_t size, int write) {
    char *buf = malloc(size);
    if (!buf) return -1;
    for (size_t i = 0; i < size; i++) buf[i] = (char)(i % 251);
    struct mark m0 = mark();
    for (uint64_t done = 0; done < bytes; done += size) {
        ssize_t n = write ? pwrite(fd, buf, size, offset + (off_t)done)
                          : pread(fd, buf, size, offset + (off_t)done);
        if (n != (ssize_t)size) { fail(write ? "pwrite" : "pread"); free(buf); return -1; }
    }
    if (write && fsync(fd) != 0) { fail("fsync"); free(buf); return -1; }
    struct mark m1 = mark();
    free(buf);
    return busy(m0, m1);
}

static void blk_figures(int dev, uint64_t disk_bytes) {
    char path[32];
    snprintf(path, sizeof path, "/dev/vd%c", 'a' + dev);
    mkdir("/dev", 0755);
    mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
    int fd = -1;
    for (int i = 0; i < 50 && fd < 0; i++) {
        fd = open(path, O_RDWR);
        if (fd < 0) sleep_ms(100);
    }
    if (fd < 0) { fail(path); return; }
    uint64_t quarter = disk_bytes / 4;
    double kib = (double)quarter / 1024.0;
    static const struct { const char *name; size_t size; int write; } runs[] = {
        {"blk_read_instr_per_kib_4k", 4096, 0},
        {"blk_read_instr_per_kib_1m", 1 << 20, 0},
        {"blk_write_instr_per_kib_4k", 4096, 1},
        {"blk_write_instr_per_kib_1m", 1 << 20, 1},
    };
    for (int i = 0; i < 4; i++) {
        double t = blk_run(fd, (off_t)(quarter * (uint64_t)i), quarter, runs[i].size, runs[i].write);
        if (t >= 0) report(runs[i].name, t / kib, "instructions/KiB");
    }
    close(fd);
}

int main(void) {
    mkdir("/proc", 0755);
    mount("proc", "/proc", "proc", 0, NULL);
    int fd = open("/proc/cmdline", O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, cmdline, sizeof cmdline - 1) : -1;
    if (n > 0) cmdline[n] = 0;
    const char *ports = param("wayos.benchnet");
    const char *nbytes = param("wayos.netbytes");
    const char *nrounds = param("wayos.udprounds");
    const char *npayload = param("wayos.udppayload");
    int source, sink, echo;
    if (!ports || !nbytes || !nrounds || !npayload ||
        sscanf(ports, "%d,%d,%d", &source, &sink, &echo) != 3) {
        printf("netbench: missing wayos.benchnet/netbytes/udprounds/udppayload\n");
    } else if (load_modules() == 0 && configure() == 0) {
        uint64_t bytes = strtoull(nbytes, NULL, 10);
        int rounds = atoi(nrounds);
        size_t payload = (size_t)atoi(npayload);
        sleep_ms(500); /* the link comes up */
        pthread_t t;
        pthread_create(&t, NULL, soak, NULL);
        sleep_ms(20);
        struct mark a = mark();
        sleep_ms(300);
        struct mark b = mark();
        cal_ticks = b.ticks - a.ticks;
        cal_loops = b.soaked - a.soaked;
        if (cal_loops == 0) {
            printf("netbench: the soaker never ran\n");
        } else {
            double kib = (double)bytes / 1024.0;
            double r = tcp_rx(source, bytes);
            if (r >= 0) report("tcp_rx_instr_per_kib", r / kib, "instructions/KiB");
            double w = tcp_tx(sink, bytes);
            if (w >= 0) report("tcp_tx_instr_per_kib", w / kib, "instructions/KiB");
            double u = udp_rtt(echo, rounds, payload);
            if (u >= 0) report("udp_rtt_instr", u / rounds, "instructions/round trip");
            const char *disk = param("wayos.disk");
            const char *dbytes = param("wayos.diskbytes");
            if (disk && dbytes) blk_figures(atoi(disk), strtoull(dbytes, NULL, 10));
            else printf("netbench: no wayos.disk/diskbytes: no disk figures\n");
        }
        atomic_store(&stop, 1);
        pthread_join(t, NULL);
    }
    printf("netbench: done\n");
    fflush(stdout);
    sync();
    reboot(RB_POWER_OFF);
    return 0;
}
