/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * SCTP's checksum under NAT. It is CRC32c (Castagnoli) over the whole SCTP
 * packet, common header to the last chunk, with the checksum field taken as
 * 0 (RFC 9260 6.8 and appendix A, RFC 3309), stored as the little-endian
 * 32-bit value of the reflected CRC. There is no pseudo header: a new IP
 * address leaves it as it is (only the IPv4 header checksum changes); a new
 * port changes it.
 *
 * A port is not rewritten by computing the CRC again over the packet: that
 * reads every byte of it (a loop over the payload), and it would turn a
 * packet that arrived corrupted into one that passes. CRC32c is affine over
 * GF(2): for two packets of the same length L that differ by D,
 * crc(M ^ D) = crc(M) ^ lin(D), where lin(D) is the CRC of D without the
 * initial value and final XOR. D is non-zero in the port's two bytes only,
 * the first four of the packet, so lin(D) = D(x) * x^(8L) mod P(x): a few
 * multiplications modulo P, whatever the packet's length, and no byte after
 * the common header read. The stored CRC gets lin(D) XORed in, so a correct
 * one stays correct and a wrong one stays wrong by the same error, as the
 * incremental one's complement update does for TCP and UDP.
 *
 * A stored 0 stays 0: RFC 9653 lets peers that agreed on it send 0 instead
 * of the CRC, as a UDP checksum of 0 means none. A packet whose CRC is left
 * to be computed on transmit (CHECKSUM_PARTIAL, csum_not_inet: the sender
 * offloaded it, which veth allows) has its field filled over by the kernel
 * after we wrote it, so the update is harmless there; a BPF program cannot
 * tell the two apart (no helper reads ip_summed or sets csum_not_inet, and
 * bpf_csum_diff and the l4_csum helpers know only the one's complement sum).
 */
#ifndef XCNI_SCTP_H
#define XCNI_SCTP_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <stddef.h>

#include "maps.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "sctp.h reads the stored CRC and the port delta as little-endian words"
#endif

/* CRC32c's polynomial, reflected (bit 31 is x^0). */
#define XCNI_CRC32C_POLY 0x82f63b78u
#define XCNI_SCTP_CSUM_OFF 8

/* a(x) * b(x) mod P(x), both reflected. Branch-free: the verifier walks one path. */
static __always_inline __u32 crc32c_mul(__u32 a, __u32 b)
{
	__u32 prod = 0;

	for (int i = 0; i < 32; i++) {
		prod ^= b & -((a >> (31 - i)) & 1); /* a has x^i: add b * x^i */
		b = (b >> 1) ^ (XCNI_CRC32C_POLY & -(b & 1)); /* b *= x */
	}
	return prod;
}

/*
 * x^(8 * 2^k) mod P(x), reflected, k = 0..15: the shift of a CRC by 2^k zero
 * bytes. Each is the square of the one before (the first is x^8);
 * tests/bpf/svc_sctp.c checks the update against a plain CRC32c at lengths that
 * set every bit up to 2^10.
 */
static const __u32 crc32c_x8pow[16] = {
	0x00800000, 0x00008000, 0x82f63b78, 0x6ea2d55c, 0x18b8ea18, 0x510ac59a,
	0xb82be955, 0xb8fdb1e7, 0x88e56f72, 0x74c360a4, 0xe4172b16, 0x0d65762a,
	0x35d73a62, 0x28461564, 0xbf455269, 0xe2ea32dc,
};

/*
 * The port at l4 + port_off (0 source, 2 destination) of the SCTP packet
 * whose common header is at l4 and which is len bytes long (common header to
 * the last chunk) goes from the old port to the new (network order, packed
 * as SCTP_PORTS(old, new): BPF calls take five arguments), its CRC updated
 * for it (see above). The family does not matter: the CRC covers no
 * IP header. 0, or -1 (a length that cannot hold an SCTP packet, or a helper
 * failed: nothing or only the port was written). The caller drops it.
 *
 * Inline: lb6_nat (inside lb6_translate_call, a global function below from_pod6)
 * has no room for one more frame in the verifier's 512 bytes; IPv4 calls it
 * from lb4_nat through the
 * global sctp4_nat_port, verified once on its own (as lb4_icmp_rev_nat), its
 * loops out of the callers' paths. The stores recompute skb->csum, so a
 * CHECKSUM_COMPLETE packet's sum stays true.
 */
#define SCTP_PORTS(old, new) ((__u32)(__u16)(old) | (__u32)(__u16)(new) << 16)

static __always_inline int sctp_nat_port_len(struct __sk_buff *skb, __u32 l4, __u32 port_off,
					     __u32 ports, __u32 len)
{
	__be16 port = (__be16)(ports >> 16);
	__u32 crc, shift = 0x80000000u; /* x^0 */
	__u32 delta = (ports ^ (ports >> 16)) & 0xffff;

	if (!skb || port_off > 2 || len < XCNI_SCTP_CSUM_OFF + 4 || len > 0xffff ||
	    bpf_skb_load_bytes(skb, l4 + XCNI_SCTP_CSUM_OFF, &crc, 4))
		return -1;
	if (bpf_skb_store_bytes(skb, l4 + port_off, &port, 2, BPF_F_RECOMPUTE_CSUM))
		return -1;
	if (!crc || !delta)
		return 0;
	for (int k = 0; k < 16; k++)
		if (len & (1u << k))
			shift = crc32c_mul(shift, crc32c_x8pow[k]);
	/* The packet's first four bytes as a word: the port's two at port_off. */
	crc ^= crc32c_mul(delta << (8 * port_off), shift);
	return bpf_skb_store_bytes(skb, l4 + XCNI_SCTP_CSUM_OFF, &crc, 4, BPF_F_RECOMPUTE_CSUM) ? -1
												: 0;
}

/*
 * sctp_nat_port_len for an IPv4 packet right after Ethernet, its SCTP
 * packet's length from the IPv4 total length. -2 for the first of IPv4
 * fragments, nothing written: the CRC covers the reassembled packet, whose
 * length the first fragment does not tell (SCTP fragments messages into
 * chunks itself and keeps its packets under the path MTU, so this is rare;
 * the same port needs no update and passes). Else as sctp_nat_port_len.
 */
__attribute__((noinline)) int sctp4_nat_port(struct __sk_buff *skb, __u32 l4, __u32 port_off,
					    __u32 old_port, __u32 new_port)
{
	__be16 tot_len, frag_off;
	__u32 len;

	if (!skb || l4 < ETH_HLEN + sizeof(struct iphdr) || l4 > ETH_HLEN + 60 ||
	    bpf_skb_load_bytes(skb, ETH_HLEN + offsetof(struct iphdr, tot_len), &tot_len, 2) ||
	    bpf_skb_load_bytes(skb, ETH_HLEN + offsetof(struct iphdr, frag_off), &frag_off, 2))
		return -1;
	if (frag_off & bpf_htons(0x2000)) /* MF: more fragments follow */
		return -2;
	len = bpf_ntohs(tot_len);
	if (len < l4 - ETH_HLEN)
		return -1;
	return sctp_nat_port_len(skb, l4, port_off, SCTP_PORTS(old_port, new_port),
				 len - (l4 - ETH_HLEN));
}

#endif
