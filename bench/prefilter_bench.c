// SPDX-License-Identifier: Apache-2.0
/*
 * prefilter_bench: what the underlay's XDP prefilter (bpf/xdp_underlay.bpf.c)
 * costs per packet, and the pieces of a drop-rate comparison against
 * iptables. See bench/README.md ("prefilter"). Subcommands:
 *
 *   cost N...                 ns/packet through BPF_PROG_TEST_RUN with N random
 *                             /24../32 prefixes in xcni_prefilter: a probe whose
 *                             source no entry covers (a miss, the worst case
 *                             for the trie walk) and one that hits
 *   cost6 N...                the same for IPv6: N random /32../128 prefixes in
 *                             xcni_prefilter6 (no hashes in front: the trie
 *                             alone), a 64-byte IPv6 UDP probe that misses and
 *                             one that hits
 *   gen N SEED DENY           N prefixes to stdout, one a line, DENY (A.B.C.D/L)
 *                             last: the deny list, for iptables and for xdp
 *   xdp IFNAME MODE FILE      loads xdp_underlay, fills xcni_prefilter from FILE
 *                             (gen's output), attaches it (native|generic) to
 *                             IFNAME, prints "ready", and on stdin EOF prints the
 *                             drop counter of the last prefix and detaches
 *   flood SRC DST SECS        UDP (18 B payload) from SRC to DST:9 with
 *                             sendmmsg for SECS seconds; prints packets sent
 *
 * The programs and maps come from the skeleton (build/gen/xdp_underlay.skel.h,
 * which embeds build/bpf/xdp_underlay.bpf.o); the maps are pinned in a temp dir
 * under /sys/fs/bpf, removed on exit, so no running xcnid is touched.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "xcni_shared.h"
#include "xdp_underlay.skel.h"
#include "lib/policy/prefilter.h"

/* The /16 and /24 hashes in front of the trie (xcnictl prefilter add fills them too). */
static int fd16 = -1, fd24 = -1;

#define REPEAT 1000000 /* test runs per timing */
#define TIMINGS 7 /* timings per figure; the median is reported */

static char pin_dir[] = "/sys/fs/bpf/xpfb-XXXXXX";
static bool pinned;

static int libbpf_quiet(enum libbpf_print_level lvl, const char *fmt, va_list ap)
{
	return lvl == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

/* xorshift64*: reproducible prefixes for a given seed, without libc's state. */
static __u64 rnd_state = 0x9e3779b97f4a7c15ULL;
static __u32 rnd(void)
{
	rnd_state ^= rnd_state >> 12;
	rnd_state ^= rnd_state << 25;
	rnd_state ^= rnd_state >> 27;
	return (__u32)((rnd_state * 0x2545f4914f6cdd1dULL) >> 32);
}

static __u32 mask(unsigned int len)
{
	return len ? ~0u << (32 - len) : 0;
}

/* A random /24../32 (host order) that does not cover avoid (host order). */
static void rnd_prefix(__u32 avoid, __u32 *addr, unsigned int *len)
{
	do {
		*len = 24 + rnd() % 9;
		*addr = rnd() & mask(*len);
	} while ((avoid & mask(*len)) == *addr);
}

static int load(struct xdp_underlay **skel)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = pin_dir);
	int err;

	if (!mkdtemp(pin_dir)) {
		err = -errno;
		fprintf(stderr, "mkdtemp %s: %s (is bpffs mounted?)\n", pin_dir, strerror(errno));
		return err;
	}
	pinned = true;
	*skel = xdp_underlay__open_opts(&oo);
	if (!*skel)
		return -errno;
	err = xdp_underlay__load(*skel);
	if (err) {
		fprintf(stderr, "loading xdp_underlay: %s\n", strerror(-err));
		return err;
	}
	fd16 = bpf_map__fd((*skel)->maps.xcni_pf16);
	fd24 = bpf_map__fd((*skel)->maps.xcni_pf24);
	return 0;
}

/* The pins go with the bench: nothing of it outlives the run. */
static void unpin(struct xdp_underlay *skel)
{
	if (skel)
		bpf_object__unpin_maps(skel->obj, NULL);
	if (pinned)
		rmdir(pin_dir);
	xdp_underlay__destroy(skel);
}

/* Deletes every entry: each size starts from an empty trie (and empty hashes). */
static int trie_clear(int fd)
{
	struct xcni_prefilter_key k;
	__u32 net;

	while (!bpf_map_get_next_key(fd, NULL, &k))
		if (bpf_map_delete_elem(fd, &k))
			return -errno;
	while (!bpf_map_get_next_key(fd16, NULL, &net))
		bpf_map_delete_elem(fd16, &net);
	while (!bpf_map_get_next_key(fd24, NULL, &net))
		bpf_map_delete_elem(fd24, &net);
	return 0;
}

static int trie_add(int fd, __u32 addr, unsigned int len)
{
	struct xcni_prefilter_key k = { .prefixlen = len, .addr = htonl(addr) };
	struct xcni_prefilter_val v = {};

	/* As xcnictl does it: the networks marked, then the trie entry. A duplicate
	 * random prefix is fine: the trie holds one fewer, its mark counts twice. */
	if (xcni_prefilter_mark(fd16, fd24, &k, 1)) {
		fprintf(stderr, "marking a prefix: %s\n", strerror(errno));
		return -errno;
	}
	if (bpf_map_update_elem(fd, &k, &v, BPF_ANY)) {
		fprintf(stderr, "adding a prefix: %s\n", strerror(errno));
		return -errno;
	}
	return 0;
}

/* Ethernet + IPv4 + UDP, 64 bytes, from src (host order). */
static void probe(unsigned char *pkt, size_t len, __u32 src)
{
	struct ethhdr *eth = (void *)pkt;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);

	memset(pkt, 0, len);
	memcpy(eth->h_dest, "\x02\0\0\0\0\x01", ETH_ALEN);
	memcpy(eth->h_source, "\x02\0\0\0\0\x02", ETH_ALEN);
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->tot_len = htons(len - sizeof(*eth));
	ip->saddr = htonl(src);
	ip->daddr = htonl(0xc0a84d01); /* 192.168.77.1, the node */
	udp->source = htons(40000);
	udp->dest = htons(9);
	udp->len = htons(len - sizeof(*eth) - sizeof(*ip));
}

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return (x > y) - (x < y);
}

/* Median ns per run of prog on pkt; the verdict must be want. */
static int time_prog(int prog_fd, unsigned char *pkt, size_t len, __u32 want, __u32 *ns)
{
	__u32 t[TIMINGS];

	for (int i = 0; i < TIMINGS; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len,
			    .repeat = REPEAT);

		if (bpf_prog_test_run_opts(prog_fd, &o)) {
			fprintf(stderr, "BPF_PROG_TEST_RUN: %s\n", strerror(errno));
			return -errno;
		}
		if (o.retval != want) {
			fprintf(stderr, "verdict %u, expected %u: the probe did not %s\n",
				o.retval, want, want == XDP_DROP ? "hit" : "miss");
			return -EPROTO;
		}
		t[i] = o.duration;
	}
	qsort(t, TIMINGS, sizeof(t[0]), cmp_u32);
	*ns = t[TIMINGS / 2];
	return 0;
}

/* The program loaded, the trie of a family (v6) and the table's header. */
static int cost_open(struct xdp_underlay **skel, bool v6, int *fd, int *prog)
{
	int err = load(skel);

	if (err)
		return err;
	*fd = bpf_map__fd(v6 ? (*skel)->maps.xcni_prefilter6 : (*skel)->maps.xcni_prefilter);
	*prog = bpf_program__fd((*skel)->progs.xdp_underlay);
	printf("%-10s %12s %12s %12s\n", "entries", "miss ns/pkt", "hit ns/pkt", "fill ms");
	return 0;
}

/*
 * One row of a cost table: the miss probe timed, then (n entries) the hit
 * probe and the time filling took. With 0 entries: the floor (parsing, one
 * lookup of an empty trie, test-run overhead).
 */
static int cost_row(int prog, unsigned char *miss, unsigned char *hit, size_t len, long n,
		    const struct timespec *t0, const struct timespec *t1)
{
	__u32 ns_miss, ns_hit;
	int err;

	if ((err = time_prog(prog, miss, len, XDP_PASS, &ns_miss)))
		return err;
	if (!n) {
		printf("%-10ld %12u %12s %12s\n", n, ns_miss, "-", "-");
		return 0;
	}
	if ((err = time_prog(prog, hit, len, XDP_DROP, &ns_hit)))
		return err;
	printf("%-10ld %12u %12u %12.0f\n", n, ns_miss, ns_hit,
	       (t1->tv_sec - t0->tv_sec) * 1e3 + (t1->tv_nsec - t0->tv_nsec) / 1e6);
	fflush(stdout);
	return 0;
}

/* Ethernet + IPv6 + UDP, 64 bytes (a 2-byte payload), from src. */
static void probe6(unsigned char *pkt, size_t len, const __u8 src[16])
{
	struct ethhdr *eth = (void *)pkt;
	struct ipv6hdr *ip6 = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip6 + 1);

	memset(pkt, 0, len);
	memcpy(eth->h_dest, "\x02\0\0\0\0\x01", ETH_ALEN);
	memcpy(eth->h_source, "\x02\0\0\0\0\x02", ETH_ALEN);
	eth->h_proto = htons(ETH_P_IPV6);
	ip6->version = 6;
	ip6->hop_limit = 64;
	ip6->nexthdr = IPPROTO_UDP;
	ip6->payload_len = htons(len - sizeof(*eth) - sizeof(*ip6));
	memcpy(&ip6->saddr, src, 16);
	inet_pton(AF_INET6, "2001:db8:77::1", &ip6->daddr); /* the node */
	udp->source = htons(40000);
	udp->dest = htons(9);
	udp->len = ip6->payload_len;
}

/* Host bits of a /len off, in place. */
static void mask6(__u8 a[16], unsigned int len)
{
	for (unsigned int i = 0; i < 16; i++)
		a[i] &= (__u8)(0xff00u >> (len >= (i + 1) * 8 ? 8 : len > i * 8 ? len - i * 8 : 0));
}

static int cmd_cost6(int argc, char **argv)
{
	static const __u8 miss[16] = { 0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, [15] = 1 };
	struct xdp_underlay *skel = NULL;
	unsigned char pkt[64], pkt_hit[64];
	int fd, prog, err;

	err = cost_open(&skel, true, &fd, &prog);
	if (err)
		goto out;
	for (int a = 0; a < argc; a++) {
		long n = strtol(argv[a], NULL, 10);
		struct xcni_prefilter6_key k = {};
		struct xcni_prefilter_val v = {};
		struct timespec t0, t1;
		__u8 hit_src[16];

		if (n < 0 || n > XCNI_MAX_PREFILTER6) {
			fprintf(stderr, "%s: entries must be 0..%d\n", argv[a], XCNI_MAX_PREFILTER6);
			err = -EINVAL;
			goto out;
		}
		while (!bpf_map_get_next_key(fd, NULL, &k))
			if (bpf_map_delete_elem(fd, &k)) {
				err = -errno;
				goto out;
			}
		rnd_state = 0x9e3779b97f4a7c15ULL + n;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (long i = 0; i < n; i++) {
			__u8 m[16];

			do { /* a random /32../128 that does not cover the miss probe */
				for (int w = 0; w < 4; w++) {
					__u32 r = rnd();

					memcpy(k.addr + 4 * w, &r, 4);
				}
				k.prefixlen = 32 + rnd() % 97;
				mask6(k.addr, k.prefixlen);
				memcpy(m, miss, 16);
				mask6(m, k.prefixlen);
			} while (!memcmp(m, k.addr, 16));
			if (bpf_map_update_elem(fd, &k, &v, BPF_ANY)) {
				err = -errno;
				fprintf(stderr, "adding a prefix: %s\n", strerror(errno));
				goto out;
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		/* The hit: an address inside the last prefix added. */
		memcpy(hit_src, k.addr, 16);
		hit_src[15] |= (k.prefixlen < 128) ? 1 : 0;
		probe6(pkt, sizeof(pkt), miss);
		probe6(pkt_hit, sizeof(pkt_hit), hit_src);
		if ((err = cost_row(prog, pkt, pkt_hit, sizeof(pkt), n, &t0, &t1)))
			goto out;
	}
out:
	unpin(skel);
	return err;
}

static int cmd_cost(int argc, char **argv)
{
	/* The miss probe's source: no generated prefix may cover it. */
	const __u32 miss = 0xc6120001; /* 198.18.0.1 */
	struct xdp_underlay *skel = NULL;
	unsigned char pkt[64], pkt_hit[64];
	int fd, prog, err;

	err = cost_open(&skel, false, &fd, &prog);
	if (err)
		goto out;
	for (int a = 0; a < argc; a++) {
		long n = strtol(argv[a], NULL, 10);
		__u32 addr = 0, hit_src;
		unsigned int len = 32;
		struct timespec t0, t1;

		if (n < 0 || n > XCNI_MAX_PREFILTER) {
			fprintf(stderr, "%s: entries must be 0..%d\n", argv[a], XCNI_MAX_PREFILTER);
			err = -EINVAL;
			goto out;
		}
		if ((err = trie_clear(fd)))
			goto out;
		rnd_state = 0x9e3779b97f4a7c15ULL + n;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (long i = 0; i < n; i++) {
			rnd_prefix(miss, &addr, &len);
			if ((err = trie_add(fd, addr, len)))
				goto out;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		/* The hit: an address inside the last prefix added (a random one). */
		hit_src = addr | (rnd() & ~mask(len));
		probe(pkt, sizeof(pkt), miss);
		probe(pkt_hit, sizeof(pkt_hit), hit_src);
		if ((err = cost_row(prog, pkt, pkt_hit, sizeof(pkt), n, &t0, &t1)))
			goto out;
	}
out:
	unpin(skel);
	return err;
}

static int parse_prefix(const char *s, __u32 *addr, unsigned int *len)
{
	char buf[32];
	const char *sl = strchr(s, '/');
	struct in_addr a;

	if (!sl || (size_t)(sl - s) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, sl - s);
	buf[sl - s] = '\0';
	if (inet_pton(AF_INET, buf, &a) != 1)
		return -EINVAL;
	*len = strtoul(sl + 1, NULL, 10);
	*addr = ntohl(a.s_addr) & mask(*len);
	return *len > 32 ? -EINVAL : 0;
}

static int cmd_gen(int argc, char **argv)
{
	long n = argc == 3 ? strtol(argv[0], NULL, 10) : 0;
	__u32 deny, addr;
	unsigned int dlen, len;
	struct in_addr a;

	if (n < 1 || parse_prefix(argv[2], &deny, &dlen)) {
		fprintf(stderr, "gen N SEED A.B.C.D/LEN\n");
		return -EINVAL;
	}
	rnd_state += strtoull(argv[1], NULL, 10);
	/* The others never cover the deny prefix's first address, so it is the
	 * only entry (and, for iptables, the last rule) the flood matches. */
	for (long i = 0; i < n - 1; i++) {
		rnd_prefix(deny, &addr, &len);
		a.s_addr = htonl(addr);
		printf("%s/%u\n", inet_ntoa(a), len);
	}
	a.s_addr = htonl(deny);
	printf("%s/%u\n", inet_ntoa(a), dlen);
	return 0;
}

static int cmd_xdp(int argc, char **argv)
{
	struct xdp_underlay *skel = NULL;
	struct xcni_prefilter_key last = {};
	struct xcni_prefilter_val v;
	__u32 flags, addr;
	unsigned int len;
	char line[64];
	int ifindex, fd, err;
	long n = 0;
	FILE *f;

	if (argc != 3 || !(ifindex = if_nametoindex(argv[0])) ||
	    (strcmp(argv[1], "native") && strcmp(argv[1], "generic"))) {
		fprintf(stderr, "xdp IFNAME native|generic FILE (is IFNAME in this netns?)\n");
		return -EINVAL;
	}
	flags = !strcmp(argv[1], "native") ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
	f = fopen(argv[2], "r");
	if (!f) {
		fprintf(stderr, "%s: %s\n", argv[2], strerror(errno));
		return -errno;
	}
	err = load(&skel);
	if (err)
		goto out;
	fd = bpf_map__fd(skel->maps.xcni_prefilter);
	while (fgets(line, sizeof(line), f)) {
		if ((err = parse_prefix(line, &addr, &len)) || (err = trie_add(fd, addr, len)))
			goto out;
		last = (struct xcni_prefilter_key){ .prefixlen = len, .addr = htonl(addr) };
		n++;
	}
	err = bpf_xdp_attach(ifindex, bpf_program__fd(skel->progs.xdp_underlay),
			     flags | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
	if (err) {
		fprintf(stderr, "XDP (%s) on %s: %s\n", argv[1], argv[0], strerror(-err));
		goto out;
	}
	printf("ready %ld\n", n);
	fflush(stdout);
	/* The caller closes our stdin when the flood is over. */
	while (fgets(line, sizeof(line), stdin))
		;
	if (bpf_map_lookup_elem(fd, &last, &v)) {
		err = -errno;
		fprintf(stderr, "reading the counter: %s\n", strerror(errno));
	} else {
		printf("dropped %llu\n", (unsigned long long)v.packets);
	}
	bpf_xdp_detach(ifindex, flags, NULL);
out:
	fclose(f);
	unpin(skel);
	return err;
}

static int cmd_flood(int argc, char **argv)
{
	struct sockaddr_in src = { .sin_family = AF_INET }, dst = { .sin_family = AF_INET,
								  .sin_port = htons(9) };
	enum { BATCH = 64 };
	struct mmsghdr msgs[BATCH];
	struct iovec iov = { .iov_base = (char[18]){ 0 }, .iov_len = 18 };
	struct timespec now, end;
	unsigned long long sent = 0;
	int s, err = 0;

	if (argc != 3 || inet_pton(AF_INET, argv[0], &src.sin_addr) != 1 ||
	    inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1 || atoi(argv[2]) < 1) {
		fprintf(stderr, "flood SRC DST SECS\n");
		return -EINVAL;
	}
	s = socket(AF_INET, SOCK_DGRAM, 0);
	if (s < 0 || bind(s, (void *)&src, sizeof(src)) ||
	    connect(s, (void *)&dst, sizeof(dst))) {
		err = -errno;
		fprintf(stderr, "socket %s -> %s: %s\n", argv[0], argv[1], strerror(errno));
		goto out;
	}
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += atoi(argv[2]);
	do {
		int r = sendmmsg(s, msgs, BATCH, 0);

		/* A full qdisc or an ICMP error queued on the socket: go on. */
		if (r > 0)
			sent += r;
		else if (r < 0 && errno != ENOBUFS && errno != EAGAIN && errno != ECONNREFUSED) {
			err = -errno;
			fprintf(stderr, "sendmmsg: %s\n", strerror(errno));
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec < end.tv_sec || (now.tv_sec == end.tv_sec && now.tv_nsec < end.tv_nsec));
	printf("sent %llu\n", sent);
out:
	if (s >= 0)
		close(s);
	return err;
}

int main(int argc, char **argv)
{
	int err;

	libbpf_set_print(libbpf_quiet);
	if (argc < 2)
		goto usage;
	if (!strcmp(argv[1], "cost") && argc > 2)
		err = cmd_cost(argc - 2, argv + 2);
	else if (!strcmp(argv[1], "cost6") && argc > 2)
		err = cmd_cost6(argc - 2, argv + 2);
	else if (!strcmp(argv[1], "gen"))
		err = cmd_gen(argc - 2, argv + 2);
	else if (!strcmp(argv[1], "xdp"))
		err = cmd_xdp(argc - 2, argv + 2);
	else if (!strcmp(argv[1], "flood"))
		err = cmd_flood(argc - 2, argv + 2);
	else
		goto usage;
	return err ? 1 : 0;
usage:
	fprintf(stderr, "usage: prefilter_bench cost N... | cost6 N... | gen N SEED CIDR | "
			"xdp IFNAME native|generic FILE | flood SRC DST SECS\n");
	return 2;
}
