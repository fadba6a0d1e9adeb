// SPDX-License-Identifier: Apache-2.0
/*
 * np_flood: 64-byte UDP frames (60 on the wire before the FCS: Ethernet,
 * IPv4 or IPv6, UDP, payload to fill), one flow, as fast as one CPU can
 * send them, for bench/nodeport-xdp.sh.
 *
 *   np_flood IFNAME DST_MAC SRC_IP DST_IP DST_PORT SECONDS
 *
 * A packet socket (SOCK_RAW, PACKET_QDISC_BYPASS) on IFNAME, frames in
 * batches of 64 through sendmmsg. Unlike trafgen, a frame the path refuses
 * (ENOBUFS, EAGAIN: a full backlog on the receiving CPU) is counted and
 * the flood goes on: where the generator and the receive path are on
 * different CPUs the generator outruns the path, and the rate is counted at
 * the receiver. Prints one line after SECONDS:
 *   sent=N refused=M secs=S rate=N/S
 * The source MAC is IFNAME's; SRC_IP and DST_IP both IPv4 or both IPv6.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netpacket/packet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_ether.h>

#define FRAME 60
#define BATCH 64

static uint32_t sum16(const uint8_t *b, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (n & 1)
		s += (uint32_t)b[n - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* The frame after the Ethernet header; its length (FRAME - 14), or 0. */
static size_t build(uint8_t *ip, const char *src, const char *dst, unsigned int dport)
{
	size_t l3, ulen;
	uint8_t *u;
	uint32_t ps;

	if (inet_pton(AF_INET, src, ip + 12) == 1 && inet_pton(AF_INET, dst, ip + 16) == 1) {
		l3 = 20;
		ulen = FRAME - 14 - l3;
		ip[0] = 0x45;
		put16(ip + 2, (uint32_t)(l3 + ulen));
		put16(ip + 6, 0x4000);
		ip[8] = 64;
		ip[9] = IPPROTO_UDP;
		put16(ip + 10, fold(sum16(ip, 20)));
		ps = sum16(ip + 12, 8);
	} else if (inet_pton(AF_INET6, src, ip + 8) == 1 && inet_pton(AF_INET6, dst, ip + 24) == 1) {
		l3 = 40;
		/* IPv6 needs 62 bytes before the payload: the smallest frame is 70 + FCS. */
		ulen = 16;
		ip[0] = 0x60;
		put16(ip + 4, (uint32_t)ulen);
		ip[6] = IPPROTO_UDP;
		ip[7] = 64;
		ps = sum16(ip + 8, 32);
	} else {
		return 0;
	}
	u = ip + l3;
	put16(u, 40000);
	put16(u + 2, dport);
	put16(u + 4, (uint32_t)ulen);
	for (size_t i = 8; i < ulen; i++)
		u[i] = 0x41;
	ps += IPPROTO_UDP + (uint32_t)ulen + sum16(u, ulen);
	put16(u + 6, fold(ps));
	return l3 + ulen;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	uint8_t frame[128] = {};
	struct sockaddr_ll ll = { .sll_family = AF_PACKET };
	struct mmsghdr msgs[BATCH];
	struct iovec iov;
	struct ifreq ifr = {};
	unsigned long long sent = 0, refused = 0;
	unsigned int mac[6], dport;
	double secs, t0, t;
	size_t len;
	int fd, one = 1, n;
	char *end;

	if (argc != 7) {
		fprintf(stderr, "usage: np_flood IFNAME DST_MAC SRC_IP DST_IP DST_PORT SECONDS\n");
		return 2;
	}
	if (sscanf(argv[2], "%x:%x:%x:%x:%x:%x", &mac[0], &mac[1], &mac[2], &mac[3], &mac[4],
		   &mac[5]) != 6) {
		fprintf(stderr, "np_flood: DST_MAC %s: six hex bytes with colons\n", argv[2]);
		return 2;
	}
	dport = (unsigned int)strtoul(argv[5], &end, 10);
	if (*end || !dport || dport > 65535) {
		fprintf(stderr, "np_flood: DST_PORT %s: 1..65535\n", argv[5]);
		return 2;
	}
	secs = strtod(argv[6], &end);
	if (*end || secs <= 0 || secs > 600) {
		fprintf(stderr, "np_flood: SECONDS %s: more than 0, at most 600\n", argv[6]);
		return 2;
	}
	len = build(frame + 14, argv[3], argv[4], dport);
	if (!len) {
		fprintf(stderr, "np_flood: %s -> %s: two IPv4 or two IPv6 addresses\n", argv[3], argv[4]);
		return 2;
	}
	len += 14;
	for (int i = 0; i < 6; i++)
		frame[i] = (uint8_t)mac[i];
	put16(frame + 12, frame[14] >> 4 == 6 ? ETH_P_IPV6 : ETH_P_IP);

	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0) {
		perror("np_flood: socket");
		return 1;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", argv[1]);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr)) {
		fprintf(stderr, "np_flood: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	memcpy(frame + 6, ifr.ifr_hwaddr.sa_data, 6);
	ll.sll_ifindex = (int)if_nametoindex(argv[1]);
	ll.sll_halen = 6;
	memcpy(ll.sll_addr, frame, 6);
	if (setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)))
		perror("np_flood: PACKET_QDISC_BYPASS (going on through the qdisc)");
	iov = (struct iovec){ frame, len };
	for (int i = 0; i < BATCH; i++)
		msgs[i].msg_hdr = (struct msghdr){ .msg_name = &ll, .msg_namelen = sizeof(ll),
						   .msg_iov = &iov, .msg_iovlen = 1 };

	t0 = now();
	do {
		for (int k = 0; k < 16; k++) {
			n = sendmmsg(fd, msgs, BATCH, 0);
			if (n > 0) {
				sent += (unsigned long long)n;
				if (n < BATCH)
					refused++;
			} else if (errno == ENOBUFS || errno == EAGAIN) {
				/* A frame the path refused; the batch's rest is tried again. */
				refused++;
			} else {
				fprintf(stderr, "np_flood: sendmmsg: %s\n", strerror(errno));
				return 1;
			}
		}
		t = now();
	} while (t - t0 < secs);
	printf("sent=%llu refused=%llu secs=%.3f rate=%.0f\n", sent, refused, t - t0,
	       (double)sent / (t - t0));
	return 0;
}
