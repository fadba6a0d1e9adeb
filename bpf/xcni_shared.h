/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The one header shared by the BPF programs and userspace (xcnid, xcnictl,
 * the plugin): every map key, value, event and reason code lives here, so the
 * CLI and the programs can never disagree. Fixed-width types only.
 */
#ifndef XCNI_SHARED_H
#define XCNI_SHARED_H

#include <linux/types.h>

#define XCNI_PIN_ROOT "/sys/fs/bpf/xcni"

#ifndef XCNI_MAX_ENDPOINTS
#define XCNI_MAX_ENDPOINTS 65536
#endif
#ifndef XCNI_MAX_CT
#define XCNI_MAX_CT 262144
#endif
#ifndef XCNI_EVENTS_BYTES
#define XCNI_EVENTS_BYTES (1 << 20)
#endif

/* Bump when a key or value below changes layout; xcnid refuses a mismatch. */
#define XCNI_ABI_VERSION 1

/* endpoints: local pod IPv4 (network byte order) -> endpoint.
 * ifindex:   host-side veth ifindex -> the pod's IPv4, to find the endpoint
 *            of the device a packet came in on. */
struct xcni_endpoint {
	__u32 ifindex; /* host-side veth */
	__u32 ep_id; /* stable per attachment, from the plugin */
	__u32 identity; /* security identity, 0 until policy assigns one */
	__u32 flags;
	__u8 pod_mac[6]; /* the pod's eth0 */
	__u8 host_mac[6]; /* the host-side veth (the pod's gateway MAC) */
};

/* ct: the 5-tuple in the direction of the flow's first packet. */
struct xcni_ct_key {
	__u32 saddr;
	__u32 daddr;
	__u16 sport; /* ICMP echo: the echo id in both ports */
	__u16 dport;
	__u8 proto;
	__u8 pad[3];
};

enum xcni_ct_state {
	XCNI_CT_NEW = 1, /* first packet seen (TCP: SYN) */
	XCNI_CT_ESTABLISHED = 2, /* a reply was seen */
	XCNI_CT_CLOSING = 3, /* FIN seen */
	XCNI_CT_CLOSED = 4, /* RST, or FIN both ways: expires quickly */
};

struct xcni_ct_entry {
	__u64 created_ns;
	__u64 last_ns;
	__u64 pkts_orig;
	__u64 bytes_orig;
	__u64 pkts_reply;
	__u64 bytes_reply;
	__u32 ep_id; /* endpoint that opened the flow, 0 for the host */
	__u8 state; /* enum xcni_ct_state */
	__u8 fin_orig;
	__u8 fin_reply;
	__u8 pad;
};

/* Lifetimes (ns) by state; an entry past its lifetime counts as absent. */
#define XCNI_CT_TCP_SYN_NS (60ULL * 1000000000ULL)
#define XCNI_CT_TCP_EST_NS (6ULL * 3600 * 1000000000ULL)
#define XCNI_CT_TCP_CLOSE_NS (10ULL * 1000000000ULL)
#define XCNI_CT_UDP_NS (60ULL * 1000000000ULL)
#define XCNI_CT_ICMP_NS (30ULL * 1000000000ULL)

/*
 * Every fate a packet can meet. Negative and below -99, so a reason can never
 * be mistaken for a TC_ACT_* (-1..8) or XDP_* (0..4) verdict.
 */
enum xcni_reason {
	XCNI_FWD_LOCAL = -100, /* redirected to a pod on this node */
	XCNI_FWD_STACK = -101, /* handed to the host stack (routing, TTL expiry) */
	XCNI_FWD_REPLY = -102, /* reply of a tracked flow, handed on */
	XCNI_PASS_ARP = -103, /* ARP from the endpoint's own address */
	XCNI_DROP_NON_IP = -104, /* neither IPv4 nor ARP: pods are IPv4-only */
	XCNI_DROP_SHORT = -105, /* truncated Ethernet, ARP, IPv4 or L4 header */
	XCNI_DROP_BAD_IHL = -106, /* IHL < 5, or tot_len shorter than the header */
	XCNI_DROP_FRAGMENT = -107, /* IPv4 fragment: not forwarded (yet) */
	XCNI_DROP_SPOOF_IP = -108, /* source IP (or ARP sender) is not the endpoint's */
	XCNI_DROP_SPOOF_MAC = -109, /* source MAC is not the endpoint's */
	XCNI_DROP_NO_ENDPOINT = -110, /* the device has no endpoint entry */
	XCNI_DROP_UNKNOWN_DST = -111, /* address in the node's pod CIDR with no endpoint */
	XCNI_DROP_CT_INVALID = -112, /* TCP segment that neither opens nor continues a flow */
	XCNI_DROP_REDIRECT = -113, /* the redirect helper failed */
	XCNI_REASON_MIN = -113,
	XCNI_REASON_MAX = -100,
};

#define XCNI_NR_REASONS (XCNI_REASON_MAX - XCNI_REASON_MIN + 1)
/* Index of a reason in the metrics array. */
#define XCNI_REASON_IDX(r) ((__u32)(XCNI_REASON_MAX - (r)))

enum xcni_dir {
	XCNI_DIR_FROM_POD = 0, /* egress from the pod's view */
	XCNI_DIR_TO_POD = 1,
	XCNI_NR_DIRS = 2,
};

/* metrics: per-CPU array indexed by XCNI_METRIC_IDX(reason, dir). */
#define XCNI_METRIC_IDX(r, d) (XCNI_REASON_IDX(r) * XCNI_NR_DIRS + (d))
#define XCNI_NR_METRICS (XCNI_NR_REASONS * XCNI_NR_DIRS)
struct xcni_metric {
	__u64 packets;
	__u64 bytes;
};

/* events: ring buffer records, one per drop (and, later, per verdict). */
struct xcni_event {
	__u64 ts_ns;
	__u32 ep_id;
	__u32 ifindex;
	__s32 reason;
	__u8 dir;
	__u8 proto;
	__u16 pad;
	__u32 saddr;
	__u32 daddr;
	__u16 sport;
	__u16 dport;
	__u32 len;
};

/* config: array of one, written by xcnid, read by xcnictl and the plugin. */
struct xcni_config {
	__u32 abi_version; /* XCNI_ABI_VERSION of the writer */
	__u32 flags;
	__u64 started_ns; /* CLOCK_MONOTONIC when xcnid last loaded programs */
	__u32 pod_cidr; /* this node's pod CIDR, network order */
	__u8 pod_cidr_len;
	__u8 pad[3];
	char node_name[64];
};

#endif
