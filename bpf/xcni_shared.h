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

/*
 * Default sizes (docs/decisions/map-sizes.md). The maps of local pods and of
 * the cluster's state (policy, Services, names, the prefilter's hashes) are
 * sized for a kind cluster: every hash but the LRUs is allocated entry by
 * entry, so its cost is 16 bytes a slot of its bucket array plus its
 * entries; the LPM tries (ipcache, polrange, polcidr, prefilter) cost their
 * entries alone and keep their room for a large cluster. xcnid sizes the
 * per-node maps of flows (conntrack, SNAT, affinity, ...) from the node
 * (agent/pins.c map_sizes_node); these are then their ceilings for the
 * packet tests. --map-max sizes any.
 */
#ifndef XCNI_MAX_ENDPOINTS
#define XCNI_MAX_ENDPOINTS 4096 /* local pods: the kubelet's --max-pods is 110 by default */
#endif
#ifndef XCNI_MAX_CT
#define XCNI_MAX_CT 262144
#endif
#ifndef XCNI_EVENTS_BYTES
#define XCNI_EVENTS_BYTES (1 << 20)
#endif
#ifndef XCNI_MAX_IPCACHE
#define XCNI_MAX_IPCACHE 262144
#endif
#ifndef XCNI_MAX_POLICY
#define XCNI_MAX_POLICY 65536
#endif
#ifndef XCNI_MAX_POLRANGE
#define XCNI_MAX_POLRANGE 262144
#endif
#ifndef XCNI_MAX_POLCIDR
#define XCNI_MAX_POLCIDR 65536
#endif
#ifndef XCNI_MAX_NODES
#define XCNI_MAX_NODES 4096
#endif
#ifndef XCNI_MAX_PREFILTER
#define XCNI_MAX_PREFILTER 262144
#endif
#ifndef XCNI_MAX_PREFILTER6
#define XCNI_MAX_PREFILTER6 65536
#endif
#ifndef XCNI_MAX_PF16
#define XCNI_MAX_PF16 16384
#endif
#ifndef XCNI_MAX_PF24
#define XCNI_MAX_PF24 65536
#endif
/* Fragments: the shares (one an endpoint, one the node's: xcni_frag, xcni_frag6),
 * the datagrams a share tracks at once, and how long a datagram whose last
 * fragment was not seen holds its place (see struct xcni_frag_share). */
#ifndef XCNI_MAX_FRAG
#define XCNI_MAX_FRAG 8192
#endif
#ifndef XCNI_FRAG_PER_EP
#define XCNI_FRAG_PER_EP 16
#endif
/* The fragment shares of sources outside the cluster (bpf/lib/frag.h,
 * frag_owner): XCNI_FRAG_OUTSIDE_SHARES of them, keyed from XCNI_FRAG_OUTSIDE
 * down to XCNI_FRAG_OUTSIDE_MIN, a source hashed into one by its address (an
 * IPv6 source by its /56) and the node's secret (xcni_frag_outside_share); no endpoint's ep_id
 * (cni/conf.c xcni_ep_id). In an outside share one source (the same unit)
 * holds at most XCNI_FRAG_PER_SRC places: one host sharing a share with
 * another leaves it the rest (docs/decisions/fragment-shares.md). */
#define XCNI_FRAG_OUTSIDE 0xffffffffu
#ifndef XCNI_FRAG_OUTSIDE_SHARES
#define XCNI_FRAG_OUTSIDE_SHARES 64 /* a power of two */
#endif
#define XCNI_FRAG_OUTSIDE_MIN (XCNI_FRAG_OUTSIDE - (XCNI_FRAG_OUTSIDE_SHARES - 1))
#ifndef XCNI_FRAG_PER_SRC
#define XCNI_FRAG_PER_SRC (XCNI_FRAG_PER_EP / 2)
#endif
#ifndef XCNI_FRAG_LIFE_NS
#define XCNI_FRAG_LIFE_NS 2000000000ULL
#endif
/* The events' shares (xcni_evshare): more than a node's pods (the kubelet's
 * --max-pods, 110 by default), not XCNI_MAX_ENDPOINTS: it is per CPU. */
#ifndef XCNI_MAX_EVSHARES
#define XCNI_MAX_EVSHARES 4096
#endif
#ifndef XCNI_MAX_IDENTITIES
#define XCNI_MAX_IDENTITIES 16384
#endif
#ifndef XCNI_MAX_POLICIES
#define XCNI_MAX_POLICIES 16384
#endif
#ifndef XCNI_MAX_PODNAMES
#define XCNI_MAX_PODNAMES 16384
#endif
/* Services (kube-proxy replacement): frontends, backend slots, backends,
 * reverse-NAT entries, ClientIP affinity, Maglev tables. */
#ifndef XCNI_MAX_SVC
#define XCNI_MAX_SVC 16384
#endif
#ifndef XCNI_MAX_SVCSLOTS
#define XCNI_MAX_SVCSLOTS 65536
#endif
#ifndef XCNI_MAX_BACKENDS
#define XCNI_MAX_BACKENDS 65536
#endif
#ifndef XCNI_MAX_REVNAT
#define XCNI_MAX_REVNAT 16384
#endif
#ifndef XCNI_MAX_AFFINITY
#define XCNI_MAX_AFFINITY 262144
#endif
#ifndef XCNI_MAX_MAGLEV
#define XCNI_MAX_MAGLEV 4096
#endif
#ifndef XCNI_MAX_SOCK_RN
#define XCNI_MAX_SOCK_RN 65536
#endif
/* Socket LB's owners (pods: cgroups) counted at once; each may hold
 * xcni_sock_rn's size / XCNI_SOCK_OWN_SHARE records (512 of 65,536), the pods
 * together all but its / XCNI_SOCK_NODE_SHARE (8,192), which stays the node's
 * own sockets'; their total is xcni_sock_own's entry XCNI_SOCK_OWN_PODS (no
 * cgroup's id). An owner is found in at most XCNI_SOCK_CG_LEVELS levels of
 * cgroups, past at most XCNI_SOCK_TIERS cgroups grouping pods. */
#ifndef XCNI_MAX_SOCK_OWN
#define XCNI_MAX_SOCK_OWN 4096
#endif
#define XCNI_SOCK_OWN_SHARE 128
#define XCNI_SOCK_NODE_SHARE 8
#define XCNI_SOCK_OWN_PODS 0
#define XCNI_SOCK_CG_LEVELS 16
#define XCNI_SOCK_TIERS 8
/* Maglev table size: a prime; every Maglev table of a node has this many slots. */
#ifndef XCNI_MAGLEV_M
#define XCNI_MAGLEV_M 16381
#endif

/* Bump when a key or value below changes layout; xcnid refuses a mismatch. */
#define XCNI_ABI_VERSION 23 /* 5: ct entry grew backend_id and rev_nat; 6: two reasons more
			     * (the metrics array grew), ct pad fields became nat_port/nat_addr;
			     * 7: the IPv6 maps (endpoints6, ifindex6, polkey6, ct6, frag6,
			     * ipcache6, prefilter6) and XCNI_DROP_EXTHDR (the metrics array grew);
			     * 8: polcidr keys hold IPv6 prefixes too (v6, addr6); sock_rn6 (the
			     * IPv6 socket-LB reverse map); 9: the IPv6 underlay: ipcache
			     * values grew tunnel_ip6 (XCNI_IPC_TUN6), tunnel6 and tunstat6,
			     * config node_ip6; 10: XCNI_DROP_TUNNEL_FAMILY (the metrics
			     * array grew); 11: XCNI_DROP_TOO_BIG (it grew again); 12: the
			     * attacker reasons -134..-140 (it grew again); svcbe (DSR's
			     * backends by key); 13: policy values carry a verdict
			     * (XCNI_POLV_*), the policy lookup goes exact, range, any port,
			     * any protocol; XCNI_DROP_POLICY_ADMIN/BASELINE (the metrics
			     * array grew); events' pol_flags; 14: XCNI_DROP_ADDR_CONTESTED,
			     * XCNI_DROP_SRC_FRONTEND (the metrics array grew); 15: the
			     * fragment maps keyed by share (struct xcni_frag_share),
			     * XCNI_DROP_FRAG_SHARE (the metrics array grew); 16: extfe
			     * (the Service frontends under kube-proxy); 17: config
			     * pod_cidr6/svc_cidr6 (both families' ranges in one record);
			     * 18: XCNI_DROP_NAT_CLIENT (the metrics array grew), xcni_snat_cl;
			     * 19: xcni_snat_cl grew held; 20: sock_rn, sock_rn6 a hash
			     * (records charged per pod, removed at release), sock_own;
			     * 21: xcni_fqdn's value names the pattern that matched
			     * (pat_kind, pat_hash) in learned_ns's place, xcni_fqdn_pat's
			     * the rule (policy_id, rule); 22: XCNI_FQDN_ST_FRAG (xcni_fqdn_stats
			     * grew); 23: ifindex, ifindex6 values hold the endpoint too
			     * (struct xcni_pod_dev, xcni_pod_dev6) */

/*
 * frag: an IPv4 datagram in fragments -> the ports its first fragment carried.
 * Only the first fragment has the L4 header; the later ones are given its
 * ports from here and then must find the flow the first one opened in conntrack:
 * a later fragment never opens a flow, and one whose first fragment was never
 * seen is dropped (XCNI_DROP_FRAGMENT).
 */
struct xcni_frag_key {
	__be32 saddr;
	__be32 daddr;
	__be16 id;
	__u8 proto;
	__u8 pad;
};
struct xcni_frag {
	__be16 sport; /* ICMP echo: the id, as in the conntrack key */
	__be16 dport;
	__u8 icmp_type;
	__u8 is_echo;
	__u8 pad[2];
};

/*
 * The fragment maps (xcni_frag, xcni_frag6) hold shares, not datagrams: one
 * share per local endpoint (keyed by its ep_id), one for the node (key 0) and
 * XCNI_FRAG_OUTSIDE_SHARES for sources outside the cluster (the source hashed:
 * xcni_frag_outside_share), each with XCNI_FRAG_PER_EP places. A datagram
 * belongs to the local endpoint that sends it, else to its source's outside
 * share when its source is no pod, node or this host, else to the endpoint it
 * goes to, else to the node (bpf/lib/frag.h, frag_owner): a pod, a remote pod
 * flooding one pod, or an underlay host, fills that share and no other; in an
 * outside share one source holds at most XCNI_FRAG_PER_SRC places. A first fragment takes a free place (never used, its datagram's
 * last fragment passed, or older than XCNI_FRAG_LIFE_NS); with none, it is
 * refused (XCNI_DROP_FRAG_SHARE): nothing is evicted. ts_ns 0: never used.
 */
struct xcni_frag_slot {
	struct xcni_frag_key k;
	struct xcni_frag f;
	__u8 last; /* the datagram's last fragment passed: the place may be taken */
	__u8 pad[3];
	__u64 ts_ns; /* when its first fragment passed */
};
struct xcni_frag_share {
	struct xcni_frag_slot s[XCNI_FRAG_PER_EP];
};

/* endpoints: local pod IPv4 (network byte order) -> endpoint.
 * ifindex:   host-side veth ifindex -> struct xcni_pod_dev: the pod's IPv4
 *            and a copy of its endpoint (written once, with it, by the
 *            plugin), so a packet's pod is one lookup from its device. */
struct xcni_endpoint {
	__u32 ifindex; /* host-side veth */
	__u32 ep_id; /* stable per attachment, from the plugin */
	__u32 identity; /* security identity, 0 until policy assigns one */
	__u32 flags;
	__u8 pod_mac[6]; /* the pod's eth0 */
	__u8 host_mac[6]; /* the host-side veth (the pod's gateway MAC) */
	char host_if[16]; /* its name: an ifindex means nothing outside the node's netns */
};
struct xcni_pod_dev {
	__u32 addr; /* first: polkey_of's IPv4 policy key */
	struct xcni_endpoint ep;
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
	__u8 flags; /* XCNI_CT_F_* */
	/* xcni_polrev when policy last judged the flow: a packet in the flow's
	 * opening direction finding another one is judged again (policy changes
	 * apply to flows already open, not only to new ones). */
	__u32 policy_rev;
	/* Service translation (kube-proxy replacement). An XCNI_CT_F_SVC entry is
	 * keyed by the flow's tuple as the client sent it (to the frontend) and
	 * holds the backend it got; the flow's own entry, keyed by the translated
	 * tuple, holds rev_nat: the xcni_revnat index that rewrites its replies. */
	__u32 backend_id;
	__u16 rev_nat;
	/* NodePort SNAT (XCNI_CT_F_SNAT): in the flow's entry (this node's address
	 * to the backend), the client's port and address, put back as a reply's
	 * destination; in the service entry, nat_port is the port the flow was
	 * given on this node. Network order. */
	__u16 nat_port;
	__u32 nat_addr;
};

/*
 * The flow reached its destination through the host stack (kube-proxy's DNAT,
 * a NodePort, the host itself): its packets, replies included, go back through
 * the stack, where netfilter undoes what it did. Replies are never taken the
 * BPF shortcut (redirect_peer, direct encapsulation) past the NAT.
 */
#define XCNI_CT_F_STACK 0x1
/* The entry is a Service translation (keyed by the tuple to the frontend). */
#define XCNI_CT_F_SVC 0x2
/* A pod reached itself through a Service: its source was rewritten to the
 * service loopback address, and replies get the client back as destination. */
#define XCNI_CT_F_HAIRPIN 0x4
/* From outside, through the underlay, to an external frontend (NodePort,
 * externalIP, load-balancer IP): replies leave through the underlay again. */
#define XCNI_CT_F_NODEPORT 0x8
/* ... to a backend on another node: its source became this node's address
 * and nat_port, so replies come back here; nat_addr:nat_port is the client. */
#define XCNI_CT_F_SNAT 0x10
/* ... sent to a backend on another node with the frontend in a Geneve option
 * (--node-port-mode dsr): on the receiving node the flow's entry (client ->
 * backend); on the backend's node the same, rev_nat naming the frontend, so
 * replies leave that node with the frontend as source, not back through the
 * first. */
#define XCNI_CT_F_DSR 0x20
/* Picked up: the flow's first packet here did not tell which end opened it
 * (UDP and other protocols without a handshake, a TCP or SCTP flow met
 * mid-stream after its entry was evicted or expired), so the entry may hold
 * it the wrong way round. After a policy change its replies too are judged
 * again, as the flow the entry holds (bpf/lib/conntrack.h: ct_recheck), or a flow
 * picked up from its reply direction would outlive the policy that revoked it. */
#define XCNI_CT_F_PICKUP 0x40
/* The XDP NodePort fast path (xdp_underlay, bpf/lib/nodeport_xdp.h)
 * translated the flow: it opened the entry, or took over one tc opened (a
 * first packet that waited for the neighbour); the flow records say which
 * path handled a NodePort flow (xcnictl flows: service_path). */
#define XCNI_CT_F_XDP 0x80

/* Lifetimes (ns) by state; an entry past its lifetime counts as absent. */
#define XCNI_CT_TCP_SYN_NS (60ULL * 1000000000ULL)
#define XCNI_CT_TCP_EST_NS (6ULL * 3600 * 1000000000ULL)
#define XCNI_CT_TCP_CLOSE_NS (10ULL * 1000000000ULL)
#define XCNI_CT_UDP_NS (60ULL * 1000000000ULL)
/* A NodePort SNAT flow no reply has confirmed yet (its entry, and its service
 * entry, still XCNI_CT_NEW: a UDP datagram or a SYN the backend has not
 * answered): its tuple (this node:port -> backend) is held this long only, so
 * that one client's unanswered packets cannot keep the port range taken. */
#define XCNI_CT_SNAT_NEW_NS (5ULL * 1000000000ULL)
#define XCNI_CT_ICMP_NS (30ULL * 1000000000ULL)

/* How long an entry lives in its state; the programs and the tools share the rule. */
static inline __u64 xcni_ct_lifetime(__u8 state, __u8 proto)
{
	if (proto == 6 /* TCP */ || proto == 132 /* SCTP: the same states (bpf/lib/parse.h) */) {
		/* A half-closed flow may still carry data for a long time. */
		if (state == XCNI_CT_ESTABLISHED || state == XCNI_CT_CLOSING)
			return XCNI_CT_TCP_EST_NS;
		if (state == XCNI_CT_NEW)
			return XCNI_CT_TCP_SYN_NS;
		return XCNI_CT_TCP_CLOSE_NS;
	}
	if (proto == 1 /* ICMP */)
		return XCNI_CT_ICMP_NS;
	return XCNI_CT_UDP_NS;
}

/*
 * Every fate a packet can meet. Negative and below -99, so a reason can never
 * be mistaken for a TC_ACT_* (-1..8) or XDP_* (0..4) verdict.
 */
enum xcni_reason {
	/* Fates that pass the packet on. */
	XCNI_FWD_LOCAL = -100, /* redirected to a pod on this node */
	XCNI_FWD_STACK = -101, /* handed to the host stack (routing, TTL expiry) */
	XCNI_FWD_REPLY = -102, /* reply of a tracked flow, handed on */
	XCNI_PASS_ARP = -103, /* ARP, or IPv6 neighbour discovery, from the endpoint's own address */
	XCNI_FWD_ENCAP = -104, /* Geneve-encapsulated to the node hosting the destination */
	XCNI_FWD_DECAP = -105, /* Geneve from a known node, decapsulated and delivered to a pod */
	XCNI_FWD_DECAP_HOST = -106, /* Geneve from a known node, decapsulated for this node's stack */
	XCNI_PASS_UNDERLAY = -107, /* underlay traffic that is not xcni's Geneve: to the stack */
	XCNI_FWD_TOO_BIG = -108, /* too big to encapsulate: to the stack, which answers frag-needed */
	/* Drops: everything from here down. */
	XCNI_DROP_NON_IP = -109, /* neither IPv4, IPv6 nor ARP */
	XCNI_DROP_SHORT = -110, /* truncated Ethernet, ARP, IPv4 or L4 header */
	XCNI_DROP_BAD_IHL = -111, /* IHL < 5, or tot_len shorter than the header or longer than the packet */
	XCNI_DROP_FRAGMENT = -112, /* IPv4 fragment after the first, of no flow the first opened */
	XCNI_DROP_SPOOF_IP = -113, /* source IP (or ARP sender) is not the endpoint's */
	XCNI_DROP_SPOOF_MAC = -114, /* source MAC is not the endpoint's */
	XCNI_DROP_NO_ENDPOINT = -115, /* the device has no endpoint entry */
	XCNI_DROP_UNKNOWN_DST = -116, /* address in the node's pod CIDR with no endpoint */
	XCNI_DROP_CT_INVALID = -117, /* TCP segment or echo reply that neither opens nor continues a flow */
	XCNI_DROP_REDIRECT = -118, /* the redirect helper failed */
	XCNI_DROP_POLICY_EGRESS = -119, /* the source pod's egress policy allows nothing matching */
	XCNI_DROP_POLICY_INGRESS = -120, /* the destination pod's ingress policy allows nothing matching */
	XCNI_DROP_UNKNOWN_NODE = -121, /* Geneve from an address that is no known node */
	XCNI_DROP_BAD_GENEVE = -122, /* Geneve with another version, protocol or VNI, or truncated */
	XCNI_DROP_INNER_SPOOF = -123, /* inner source is not an address of the sending node */
	XCNI_DROP_NO_TUNNEL = -124, /* destination pod's node is not (or no longer) known */
	XCNI_DROP_GENEVE_INJECT = -125, /* Geneve to a node from a pod, or inside Geneve */
	XCNI_DROP_PREFILTER = -126, /* source on the underlay's prefilter deny list */
	XCNI_DROP_ENCAP = -127, /* making room for, or writing, the outer headers failed */
	XCNI_DROP_NO_BACKEND = -128, /* a Service with no backend: refused (TCP RST, ICMP unreachable) */
	XCNI_DROP_NO_LOCAL_BACKEND = -129, /* a Local traffic policy and no backend on this node */
	XCNI_DROP_NAT_NO_PORT = -130, /* NodePort to a remote backend: no free source port for its SNAT */
	XCNI_DROP_EXTHDR = -131, /* IPv6 extension headers: more than XCNI_V6_MAX_EXT, or cut short */
	/* the destination pod's node is known, but only in an underlay family this
	 * node has no address in (an IPv4-only node and an IPv6-only one) */
	XCNI_DROP_TUNNEL_FAMILY = -132,
	/* from outside to a remote backend: too big for the underlay once
	 * encapsulated; answered with ICMP fragmentation-needed (DF) or ICMPv6
	 * Packet Too Big from the frontend (lib/nodeport.h) */
	XCNI_DROP_TOO_BIG = -133,
	/* ND/MLD-typed ICMPv6 to a link-local or multicast address (to a pod:
	 * from a link-local or :: source) with a hop limit no neighbour sends
	 * (ND 255, MLD 1); to any other address it is not ND, and policy judges it */
	XCNI_DROP_BAD_ND = -134,
	/* from the underlay: a client that claims to be this node, another node,
	 * a pod, a link-local or a martian address (only Geneve from a known node
	 * may carry such sources) */
	XCNI_DROP_OUTSIDE_SPOOF = -135,
	/* from the underlay to a ClusterIP: not served outside the cluster */
	XCNI_DROP_CLUSTERIP_OUTSIDE = -136,
	/* UDP to the Geneve port leaving the node from a socket: xcni's Geneve is
	 * built in BPF, never by a process */
	XCNI_DROP_GENEVE_SOCKET = -137,
	/* a DSR option naming a frontend the inner destination is no backend of */
	XCNI_DROP_DSR_NOT_BACKEND = -138,
	/* the endpoint's policy is not programmed yet: nothing in or out */
	XCNI_DROP_POLICY_PENDING = -139,
	/* the endpoint's policy did not fit the maps: closed until it does */
	XCNI_DROP_POLICY_OVERFLOW = -140,
	/* a ClusterNetworkPolicy of the Admin tier denies it (its Deny rule matched) */
	XCNI_DROP_POLICY_ADMIN = -141,
	/* a ClusterNetworkPolicy of the Baseline tier denies it */
	XCNI_DROP_POLICY_BASELINE = -142,
	/* another live pod claims the endpoint's address: closed until one is gone */
	XCNI_DROP_ADDR_CONTESTED = -143,
	/* from outside (plain on the underlay): a source that is a Service
	 * frontend (the Service range, a frontend of the Service maps at its
	 * port, this node's NodePort): never a client, only a forged reply */
	XCNI_DROP_SRC_FRONTEND = -144,
	/* a first fragment whose share of the fragment map (its endpoint's, or the
	 * node's) has no free place: XCNI_FRAG_PER_EP datagrams of it in flight */
	XCNI_DROP_FRAG_SHARE = -145,
	/* from outside, a NodePort flow to a remote backend: its client (an IPv4
	 * address, an IPv6 /64) has used its budget of new SNAT tuples
	 * (xcni_snat_cl: XCNI_SNAT_CL_BURST, then XCNI_SNAT_CL_RATE a second) */
	XCNI_DROP_NAT_CLIENT = -146,
	/* a tail call's program missing from its program array (xcni_ovlcalls
	 * emptied: nothing pins it): the packet cannot take its next step */
	XCNI_DROP_TAIL_CALL = -147,
	XCNI_REASON_MIN = -147,
	XCNI_REASON_MAX = -100,
};

#define XCNI_NR_REASONS (XCNI_REASON_MAX - XCNI_REASON_MIN + 1)
/* Index of a reason in the metrics array. */
#define XCNI_REASON_IDX(r) ((__u32)(XCNI_REASON_MAX - (r)))

enum xcni_dir {
	XCNI_DIR_FROM_POD = 0, /* egress from the pod's view */
	XCNI_DIR_TO_POD = 1,
	XCNI_DIR_FROM_OVERLAY = 2, /* arriving on the underlay device */
	XCNI_DIR_TO_OVERLAY = 3, /* the host stack sending to a remote pod (xcni0) */
	XCNI_NR_DIRS = 4,
};
/* Policy has two sides: egress (FROM_POD) and ingress (TO_POD). */
#define XCNI_NR_POLICY_DIRS 2

/*
 * The XDP NodePort fast path (bpf/lib/nodeport_xdp.h, xcnid
 * --nodeport-acceleration): which hook handled the packets of external
 * frontends. xcni_npaccel is a per-CPU array of struct xcni_metric indexed
 * by these: translated and sent at XDP (IPv4, IPv6), or handed on to tc
 * (from_overlay) untouched, which then counts them its own way.
 */
enum {
	XCNI_NPA_XDP4 = 0,
	XCNI_NPA_XDP6 = 1,
	XCNI_NPA_TC = 2,
	XCNI_NPA_CACHE = 3, /* of XDP4 and XDP6, answered from the flow cache */
	XCNI_NPA_NR = 4,
};
#define XCNI_HAS_NPACCEL 1 /* for tools built against trees with and without it */
/* xcni_config.np_accel */
enum { XCNI_NPA_OFF = 0, XCNI_NPA_NATIVE = 1, XCNI_NPA_GENERIC = 2 };

/* metrics: per-CPU array indexed by XCNI_METRIC_IDX(reason, dir). */
#define XCNI_METRIC_IDX(r, d) (XCNI_REASON_IDX(r) * XCNI_NR_DIRS + (d))
#define XCNI_NR_METRICS (XCNI_NR_REASONS * XCNI_NR_DIRS)
struct xcni_metric {
	__u64 packets;
	__u64 bytes;
};

enum xcni_event_type {
	XCNI_EV_DROP = 1,
	XCNI_EV_VERDICT = 2, /* a policy decision on a new flow of an isolated pod */
	XCNI_EV_TRACE = 3, /* a forwarded packet, sampled (xcni_config.trace_sample) */
};

/*
 * events: ring buffer records, one per drop, per policy verdict and per
 * sampled forwarded packet (trace), each within the per-CPU budget of
 * xcni_config.events_rate (see xcni_evrate).
 */
struct xcni_event {
	__u64 ts_ns;
	__u32 ep_id;
	__u32 ifindex;
	__s32 reason;
	__u8 dir;
	__u8 proto;
	__u8 type; /* enum xcni_event_type */
	__u8 pol_dir; /* which side decided: FROM_POD = egress, TO_POD = ingress */
	__u32 saddr;
	__u32 daddr;
	__u16 sport;
	__u16 dport;
	__u32 len;
	__u32 src_identity;
	__u32 dst_identity;
	__u32 policy_id; /* 0: no policy allowed it (isolated, nothing allows) */
	__u16 rule;
	/* A flow a Service translated (kube-proxy replacement): the frontend's
	 * rev-NAT index, which is its service id (xcni_revnat, xcni_svcname), and
	 * the backend it got (xcni_backend); 0 when none. A drop-no-backend names
	 * the Service it refused for in rev_nat. rev_nat took the place of a pad
	 * that was always 0, and backend_id grew the record at its end: a reader
	 * takes a record of XCNI_EVENT_LEN_V1 bytes (programs before them) as
	 * rev_nat 0, backend_id 0. */
	__u16 rev_nat;
	__u32 backend_id;
	__u8 pol_flags; /* XCNI_POLV_* of the entry that decided (audit: it would have denied) */
	/* TCP: the packet's flags (byte 13 of its header; a denied SYN says
	 * SYN), took the place of a pad that was always 0; else its parse's. */
	__u8 tcp_flags;
	__u16 pad;
};
/* The record's length before rev_nat and backend_id: the readers accept both. */
#define XCNI_EVENT_LEN_V1 56

/*
 * An event about an IPv6 packet: the IPv4 record (saddr, daddr 0) followed by
 * the IPv6 addresses. Readers tell the two apart by the record's length, so
 * IPv4 events keep their size and older readers' layout.
 */
struct xcni_event6 {
	struct xcni_event ev;
	__u8 saddr6[16];
	__u8 daddr6[16];
};

/*
 * evrate: per-CPU array of one, what the events cost: written, refused by
 * their share's budget (xcni_evshare), refused by a full ring. Exact: each
 * CPU counts its own.
 */
struct xcni_evrate {
	/* Unused since the budget is a share's (struct xcni_evshare); kept so
	 * that the value's layout stays the one pinned maps and readers know. */
	__u64 credit_ns;
	__u64 last_ns;
	__u64 sent; /* events written to the ring */
	__u64 lost_rate; /* events the budget refused */
	__u64 lost_full; /* events the ring had no room for (the reader lags) */
};

/*
 * evshare: the events' budget, a share per owner: one a local endpoint, keyed
 * by its ep_id (the pod the event is about: the sender of what it sends, the
 * receiver of what it is sent), and one, key XCNI_EVSHARE_NODE, for every
 * event about no local endpoint (the node, packets from other nodes and from
 * outside to them). Per CPU, a token bucket whose credit is time: each event
 * spends 1e9 / events_rate ns of it, time adds it back, and it holds at most
 * one second's worth (a burst of events_rate). So a pod whose drops flood
 * spends its own share only: another pod's events go on being written
 * (docs/decisions/event-budget.md). An LRU of XCNI_MAX_EVSHARES: only
 * endpoints of this node make keys, and a share pushed out comes back full.
 */
struct xcni_evshare {
	__u64 credit_ns;
	__u64 last_ns; /* when credit was last topped up */
	__u64 lost; /* events this share's budget refused */
};
#define XCNI_EVSHARE_NODE 0 /* no ep_id is 0 (cni/conf.c xcni_ep_id) */

/*
 * ctstat: per-CPU array of two, what became of conntrack entries. Slot
 * XCNI_CTSTAT_BPF is the programs' (per CPU), slot XCNI_CTSTAT_USER xcnid's
 * (it deletes UDP flows of removed Service backends; CPU 0's value). Entries
 * leave xcni_ct only by a delete or by LRU eviction, so evictions = created
 * - deleted - entries present. pickups: TCP flows whose entry was gone
 * (evicted, expired) met mid-stream and judged again as new.
 */
struct xcni_ctstat {
	__u64 created; /* entries inserted (a key not present) */
	__u64 deleted; /* entries removed by a delete */
	__u64 pickups; /* of created: mid-stream TCP flows re-judged */
};
#define XCNI_CTSTAT_BPF 0
#define XCNI_CTSTAT_USER 1

/* Events per CPU per second when xcnid is not told otherwise. */
#define XCNI_EVENTS_RATE_DEFAULT 10000

/*
 * Security identities: one number per label set (pod labels + its namespace's
 * labels), the same on every node because it is derived from the labels alone.
 * Policy at a destination decides on the source identity.
 */
enum xcni_identity_reserved {
	XCNI_ID_ANY = 0, /* in policy keys: any peer */
	XCNI_ID_HOST = 1, /* this node */
	XCNI_ID_WORLD = 2, /* anything the ipcache does not know */
	/* a pod address xcni has no labels for (yet), or one closed (changing
	 * owner in an apply, contested): an isolated pod refuses it whatever its
	 * entries say (policy_judge) */
	XCNI_ID_UNMANAGED = 3,
	XCNI_ID_REMOTE_NODE = 6, /* another node of the cluster */
	XCNI_ID_MIN_LABELS = 256, /* label-set identities: [256, 1 << 24) */
	XCNI_ID_CIDR_BASE = 1 << 24, /* per-endpoint ipBlock groups: [1 << 24, 1 << 31) */
};

/*
 * skb->mark bit of a packet xcni handed to the node's stack itself: from_pod's
 * (a pod's packet, its source checked) and from_overlay's decapsulated ones
 * (a node's Geneve, the inner source checked against it). to_pod and
 * to_overlay take a pod source from the stack only with it: a pod's address
 * that came in any other way (plain on the underlay, a second NIC) is a
 * forgery. The stack keeps the mark while the packet stays in the node's
 * netns (a veth into another netns scrubs it, so a pod cannot set it).
 * Bit 20: clear of kube-proxy's 0x4000 (masquerade) and 0x8000 (drop), and
 * of every other bit xcni sets (none: masquerade is nftables without marks).
 */
#define XCNI_MARK_TRUSTED 0x00100000u

/* ipcache: LPM trie, IPv4 prefix -> identity (and the node to tunnel to). */
struct xcni_ipcache_key {
	__u32 prefixlen;
	__u32 addr; /* network order */
};

#define XCNI_IPC_POD (1u << 0) /* a pod address (not a node, not a CIDR) */
#define XCNI_IPC_TUN6 (1u << 1) /* its node is behind the IPv6 underlay: tunnel_ip6 */
/*
 * The tunnel endpoints: the node's underlay addresses, tunnel_ip its IPv4
 * one (as before ABI 9, so the IPv4 paths read one word as they did),
 * tunnel_ip6 its IPv6 one; both set for a node of both families, both zero
 * for a local or non-pod address. XCNI_IPC_TUN6 picks the one Geneve is sent
 * to (set: tunnel_ip6; a non-zero tunnel_ip alone says nothing of the
 * family); either is accepted as the sender of the entry's packets
 * (from_overlay: a rolling change of --tunnel-family). The address itself rather
 * than an index into a node table: no second lookup per packet, and no
 * moment where an entry names an index the agent has just given to another
 * node (16 bytes more per entry: 1.6 MB at 100k addresses).
 */
struct xcni_ipcache_val {
	__u32 identity;
	__u32 tunnel_ip; /* underlay IPv4 of the node hosting it; 0 = local or none */
	__u32 flags; /* XCNI_IPC_* */
	__u8 tunnel_ip6[16]; /* underlay IPv6 of that node; zero = local or none */
};

/*
 * Geneve (RFC 8926) over IPv4/UDP, done by the programs themselves: outer
 * IPv4 (20) + UDP (8) + Geneve (8; options only with DSR, below) + inner Ethernet (14).
 */
#define XCNI_GENEVE_PORT 6081
#define XCNI_GENEVE_PROTO_ETH 0x6558 /* Transparent Ethernet Bridging */
#define XCNI_ENCAP_LEN 50
/*
 * skb->mark bit every encapsulation sets on the Geneve it built (encap.h,
 * encap.h, nodeport.h): to_underlay, on the underlay's egress, lets
 * Geneve leave only with it. UDP to 6081 without it came from a socket (a
 * hostNetwork process), which is not the data plane. Neither kube-proxy's
 * bits (0x4000 masquerade, 0x8000 drop) nor the decapsulated-packet bit
 * (0x0100); only CAP_NET_ADMIN (SO_MARK, netfilter) can set a mark.
 */
#define XCNI_MARK_GENEVE 0x0200
/* The same over an IPv6 underlay: outer IPv6 (40) + UDP + Geneve + inner Ethernet. */
#define XCNI_ENCAP6_LEN 70
/*
 * NodePort DSR (--node-port-mode dsr): the frontend the client asked for, in
 * a Geneve option of xcni's own class (RFC 8926 3.5; 0xfff0 is in the range
 * IANA keeps for experimental use). The type's high bit makes it critical: a
 * node that cannot honour it must drop the packet rather than let the
 * backend answer from its own address. Sized for an IPv6 frontend. 24
 * bytes: the encapsulation grows to XCNI_ENCAP_DSR_LEN.
 */
/*
 * Geneve decapsulated at XDP (xcnid --overlay-decap xdp): what
 * xdp_underlay leaves in the XDP metadata area in front of the inner frame
 * (bpf_xdp_adjust_meta), for from_overlay to read as skb->data_meta. GRO
 * merges only packets whose metadata is equal: the same sender, the same
 * headers taken off. cookie: the agent's random 64 bits (xdp_underlay's
 * .bss decap_cookie, from_overlay's rodata decap_cookie; zero: off), so that
 * metadata some other program left on an skb cannot pass for this record.
 * 32 bytes: the most the kernel keeps.
 */
struct xcni_decap_meta {
	__u32 cookie[2];
	__u32 node; /* the outer source: IPv4, or the IPv6 one folded (in6_fold) */
	__u16 hdr_len; /* outer IP + UDP + Geneve + inner Ethernet, taken off */
	__u8 outer6; /* 1: the IPv6 underlay */
	__u8 inner6; /* 1: IPv6 inside */
	__u8 node6[16]; /* the outer IPv6 source (outer6), else zero */
};

/*
 * XDP's choice of a local backend's flow handed to tc
 * (bpf/lib/nodeport_cache.h writes it, nodeport.h's np_meta_read reads it):
 * the metadata area of a packet xdp_underlay passed from its flow cache's
 * tc entry, so that from_outside skips the frontend and the outside rules
 * (lb_flow_choose) and takes the flow's service entry alone. 16 bytes,
 * not xcni_decap_meta's 32: from_overlay_xdp takes only exactly those.
 */
#define XCNI_NP_META_KEYED 1 /* the key below, for tools built against older trees */
struct xcni_np_meta {
	__u32 key; /* the agent's random np_meta_key (bpf/lib/config.h) */
	__u16 rev_nat; /* the frontend XDP found (its service entry's) */
	__u8 svc_flags; /* its XCNI_SVC_F_* */
	__u8 pad;
	__u64 gen; /* xcni_npgen << 32 ^ xcni_polrev when XDP read the entry */
};

#define XCNI_GENEVE_OPT_CLASS 0xfff0
#define XCNI_GENEVE_OPT_DSR 0x81
#define XCNI_GENEVE_F_CRIT 0x40 /* Geneve header: a critical option is present */
#define XCNI_GENEVE_OPT_CRIT 0x80 /* option type: critical */
struct xcni_geneve_dsr {
	__be16 opt_class; /* XCNI_GENEVE_OPT_CLASS */
	__u8 type; /* XCNI_GENEVE_OPT_DSR */
	__u8 len; /* 3 reserved bits, then the data's length in 4-byte words: 5 */
	__u8 family; /* XCNI_AF_INET (or, later, XCNI_AF_INET6) */
	__u8 proto;
	__be16 port;
	__u8 addr[16]; /* IPv4: the first 4 bytes, the rest 0 */
};
#define XCNI_ENCAP_DSR_LEN (XCNI_ENCAP_LEN + 24)

/* tunnel: underlay IPv4 of every other node (network order) -> the node. */
struct xcni_tunnel {
	__u32 pod_cidr; /* network order */
	__u8 pod_cidr_len;
	__u8 pad[3];
	char node[64];
};

/*
 * tunnel6: underlay IPv6 (struct xcni_in6) of every other node whose underlay
 * is IPv6 -> the node (struct xcni_tunnel); tunstat6 its counters. Maps of
 * their own: the IPv4 maps' keys and readers stay as they were.
 */

/* tunstat: per-CPU counters per remote node (same key as tunnel). */
struct xcni_tunstat {
	__u64 tx_packets;
	__u64 tx_bytes;
	__u64 rx_packets;
	__u64 rx_bytes;
};

/* prefilter: LPM trie of source prefixes the underlay drops in XDP. */
struct xcni_prefilter_key {
	__u32 prefixlen;
	__u32 addr; /* network order */
};

struct xcni_prefilter_val {
	__u64 packets; /* dropped so far (atomic add) */
	__u64 bytes;
};

/*
 * prefilter6: the IPv6 deny list, same value. No hashes in front: the trie
 * is walked for every IPv6 packet (docs/decisions/prefilter-lookup.md: the figure
 * that says it is cheap enough).
 */
struct xcni_prefilter6_key {
	__u32 prefixlen;
	__u8 addr[16]; /* network order */
};

/*
 * pf16, pf24: hashes of the /16 and /24 networks the deny list touches (key:
 * the network, network order; value: how many prefixes touch it). A source
 * in neither cannot match, so most packets cost two hash lookups instead of
 * a walk down the trie: a prefix shorter than /16 marks every /16 it covers,
 * one of /16../24 every /24 it covers, a longer one its /24. The trie stays
 * the truth for the drop and its counters.
 */
#define XCNI_PF16_MASK 0xffff0000u /* host order */
#define XCNI_PF24_MASK 0xffffff00u
/* xcni_config.xdp_mode when the prefilter runs in tc (xcnid --xdp-mode tc), beside the XDP_FLAGS_* modes. */
#define XCNI_XDP_MODE_TC (1u << 16)

/*
 * polep: local pod IPv4 -> its policy state. xcnid owns it. A pod with no
 * entry, or not isolated in a direction, is allowed by default there.
 * The policy and polcidr entries of a pod live under its current version; an
 * update writes the other version, then flips this entry (one map update), so
 * the data plane sees the old policy or the new one, never a mix.
 */
#define XCNI_ISOLATED(dir) (1u << (dir)) /* bit per enum xcni_dir */
/*
 * In isolated, beside the direction bits (no layout change): the pod's policy
 * did not fit the maps (its namespace's share, or what was left), so it has no
 * entries and every new flow to or from it is dropped with
 * XCNI_DROP_POLICY_OVERFLOW (its node still reaches it, as under any policy).
 * Closed and named until a generation fits it: never open.
 */
#define XCNI_POLEP_OVERFLOW (1u << 7)
/*
 * In isolated too: the pod's egress to its own node is judged. A node always
 * reaches its pods and they it (NetworkPolicy cannot stop it), unless a
 * ClusterNetworkPolicy's tiers compiled the pod's egress: its `nodes` and
 * `networks` peers name the node's addresses as much as any other node's
 * (network-policy-api v1alpha2), so those addresses have polcidr groups,
 * looked up as another peer's; any other address of the host stays allowed.
 * With XCNI_POLEP_OVERFLOW beside it, the pod's egress to its node is closed
 * as the rest (a tier's Deny of the node never lifted by the close).
 */
#define XCNI_POLEP_HOST_EGRESS (1u << 6)
/*
 * In isolated too, always with XCNI_POLEP_OVERFLOW: another live pod claims
 * the pod's address (an IPAM bug, a stale API cache); closed like an overflow,
 * its drops XCNI_DROP_ADDR_CONTESTED, until one of the two is gone.
 */
#define XCNI_POLEP_CONTESTED (1u << 5)
/* has[dir]: which kinds of policy entries the pod has, so lookups that cannot hit are skipped. */
#define XCNI_HAS_CIDR (1u << 0) /* polcidr groups */
#define XCNI_HAS_RANGE (1u << 1) /* port ranges (polrange) */
#define XCNI_HAS_ANY_PORT (1u << 2) /* a protocol with every port */
#define XCNI_HAS_ANY_PROTO (1u << 3) /* every protocol and port */
/* egress: polcidr groups of addresses the pod's DNS answers taught it
 * (XCNI_POLCIDR_DIR_FQDN; ClusterNetworkPolicy domainNames) */
#define XCNI_HAS_FQDN (1u << 4)
struct xcni_polep {
	__u32 identity;
	__u8 version; /* 0 or 1 */
	__u8 isolated; /* XCNI_ISOLATED(XCNI_DIR_FROM_POD) = egress, (TO_POD) = ingress */
	__u8 has[XCNI_NR_POLICY_DIRS]; /* XCNI_HAS_* per direction, set by the map writer */
};

/*
 * A policy entry as the compiler produces it, and the key of polrange (LPM
 * trie). The fields after prefixlen are matched bit by bit, so wildcards sit
 * at the end: prefixlen 80 = any protocol and port (ep, peer, version, dir),
 * 96 = any port of proto, 96 + k = a port range (k leading bits of port),
 * 112 = one port. "Any peer" is an entry with peer XCNI_ID_ANY, looked up
 * separately. Only allows are stored: NetworkPolicy is a union of allows.
 *
 * The data plane keeps all but the ranges in policy, a hash (cost flat in
 * the number of rules): exact port; port 0 = any port of proto; proto 0 and
 * port 0 = anything. Ports 1-65535 and protocols TCP/UDP/SCTP never make 0.
 */
#define XCNI_POLICY_PREFIX_ANY_PROTO 80
#define XCNI_POLICY_PREFIX_ANY_PORT 96
#define XCNI_POLICY_PREFIX_FULL 112
struct xcni_policy_key {
	__u32 prefixlen;
	__u32 ep; /* the local pod's IPv4, network order */
	__u32 peer; /* peer identity (host order), XCNI_ID_ANY for any */
	__u8 version;
	__u8 dir; /* enum xcni_dir: FROM_POD = egress rule, TO_POD = ingress rule */
	__u8 proto; /* IPPROTO_* */
	__u8 pad;
	__u16 port; /* destination port, network order */
	__u16 pad2; /* never part of a prefix */
};

/* policy (hash): the same fields without the prefix length. */
struct xcni_polhash_key {
	__u32 ep;
	__u32 peer;
	__u8 version;
	__u8 dir;
	__u8 proto; /* 0: any protocol */
	__u8 pad;
	__u16 port; /* network order; 0: any port */
	__u16 pad2;
};

/*
 * flags of xcni_policy_val: the verdict. 0 is what every entry was before
 * ClusterNetworkPolicy: NetworkPolicy allows. For a pod a ClusterNetworkPolicy
 * selects (or one in audit mode) the compiler writes its whole decision per
 * peer and port (docs/architecture.md, "Tiers"), denials included, so one
 * lookup still decides: the most specific entry of the most specific peer.
 */
#define XCNI_POLV_DENY (1u << 0) /* the flow is denied */
#define XCNI_POLV_AUDIT (1u << 1) /* ... in audit mode only: it passes, reported */
#define XCNI_POLV_TIER_SHIFT 2 /* bits 2-3: enum xcni_tier, what decided */
#define XCNI_POLV_TIER(f) (((f) >> XCNI_POLV_TIER_SHIFT) & 3)
/*
 * bits 7-15: for people only, the Pass the walk went through before what
 * decided (the number of an xcni_rulename entry keyed {0, pass, RULENAME_PASS};
 * 0: none, or more Pass rules than fit). Above the 7 bits a verdict's events
 * carry, so the programs never see it.
 */
#define XCNI_POLV_PASS_SHIFT 7
#define XCNI_POLV_PASS_MAX 511
#define XCNI_POLV_PASS(f) (((f) >> XCNI_POLV_PASS_SHIFT) & XCNI_POLV_PASS_MAX)
enum xcni_tier {
	XCNI_TIER_NP = 0, /* NetworkPolicy (policy_id 0 with DENY: isolated, nothing allows) */
	XCNI_TIER_ADMIN = 1,
	XCNI_TIER_BASELINE = 2,
	XCNI_TIER_DEFAULT = 3, /* no tier decided: allowed (policy_id 0) */
};

/* Which rule decided: the policy (xcni_polname) and the rule's index. */
struct xcni_policy_val {
	__u32 policy_id;
	__u16 rule; /* index into the policy's ingress or egress list */
	__u16 flags; /* XCNI_POLV_* */
	__u64 packets; /* new flows it allowed (atomic add) */
};

/*
 * polcidr: LPM trie, (local pod, direction, family, peer prefix) -> a group
 * identity standing for the ipBlock rules that contain that prefix (excepts
 * carved out). Policy keys use the group as peer. IPv4 and IPv6 prefixes
 * share the trie: v6 is part of every prefix, so an ipBlock of one family
 * never matches a peer of the other. Groups are numbered across both
 * families of a pod's direction, so one policy entry layout serves both.
 */
#define XCNI_POLCIDR_PREFIX_BASE 64
struct xcni_polcidr_key {
	__u32 prefixlen; /* 64 + prefix length of the address */
	__u32 ep;
	__u8 version;
	__u8 dir;
	__u8 v6; /* 0: addr (IPv4), 1: addr6 */
	__u8 pad;
	union {
		__u32 addr; /* IPv4, network order; the other 12 bytes zero */
		__u8 addr6[16]; /* IPv6, network order */
	};
};

/*
 * polname: policy id -> its name, for the CLI and events. A
 * ClusterNetworkPolicy (cluster-scoped) has ns XCNI_POLNAME_CNP "<tier>
 * <priority>" (no namespace has a capital or a space), e.g. "cnp:Admin 10".
 */
#define XCNI_POLNAME_CNP "cnp:"
struct xcni_polname {
	char ns[64];
	char name[256];
};

/*
 * rulename: the rules of ClusterNetworkPolicies, for people (xcnictl, flows;
 * the programs never read it): {policy id, rule index, direction} -> the
 * rule's action and name (rules with a name only), and {0, pass number,
 * XCNI_RULENAME_PASS} -> the Pass rule a verdict entry's XCNI_POLV_PASS
 * names (policy_id, rule and dir in the value say which).
 */
#define XCNI_RULENAME_PASS 0xff
#define XCNI_RULENAME_LEN 104 /* the API's 100 characters and a NUL */
#ifndef XCNI_MAX_RULENAMES
#define XCNI_MAX_RULENAMES 16384
#endif
struct xcni_rulename_key {
	__u32 policy_id;
	__u16 rule;
	__u8 dir; /* enum xcni_dir, or XCNI_RULENAME_PASS */
	__u8 pad;
};
struct xcni_rulename {
	__u32 policy_id;
	__u16 rule;
	__u8 dir;
	__u8 action; /* 0 Accept, 1 Deny, 2 Pass */
	char name[XCNI_RULENAME_LEN];
};

/*
 * polsel: local pod IPv4 (network order) -> the NetworkPolicies that select
 * it, per direction (XCNI_DIR_FROM_POD = egress, TO_POD = ingress): those
 * that isolate it, which an "isolated, nothing allows" drop can name. For
 * people: the programs never read it. A new map beside the others (no
 * layout of an existing one changes); n[dir] counts every such policy, ids
 * holds the first XCNI_POLSEL_IDS by namespace/name (xcni_polname).
 */
#define XCNI_POLSEL_IDS 8
struct xcni_polsel {
	__u32 n[XCNI_NR_POLICY_DIRS];
	__u32 ids[XCNI_NR_POLICY_DIRS][XCNI_POLSEL_IDS];
};

/* podname: pod IPv4 (network order) -> the pod, for every pod of the cluster. */
struct xcni_podname {
	char ns[64];
	char name[256];
	char node[64];
};

/* identity: id -> its label set, canonical ("k8s:app=web,ns:kubernetes.io/..."). */
struct xcni_idlabels {
	char labels[1024];
};

/*
 * svcname: service id (= its frontend's rev-NAT index, xcni_svc.id) -> the
 * Service and port it is, for the CLI and events; the programs never read
 * it. Written before the first xcni_svc entry naming the id and deleted
 * after the last one is gone; a frontend that changes Service gets a new id,
 * so an id never names another Service while a flow or event may carry it.
 */
struct xcni_svcname {
	char ns[64];
	char name[64]; /* a Service name is a DNS-1035 label: at most 63 */
	char port[16]; /* the Service port's name (an IANA_SVC_NAME, at most 15), "" if none */
};

/* polrev: array of one __u32, the policy revision (see bpf/lib/maps.h). */

/*
 * Services in BPF (kube-proxy replacement; docs/architecture.md "Services in
 * BPF"). Addresses are 16 bytes plus a family everywhere, so IPv6 needs no
 * second layout: an IPv4 address takes the first 4 bytes, the rest are zero.
 *
 *   svc:     frontend (address, port, protocol, scope) -> service entry
 *   svcslot: (service id, version, slot) -> backend id; slots [0, count) are
 *            the active backends, [count, count + count_term) the terminating
 *            ones, used only when no active one is left (as kube-proxy does)
 *   backend: backend id -> address, port, state
 *   revnat:  rev_nat index (kept in the flow's conntrack entry) -> the frontend
 *            a reply's source is rewritten to
 *   affinity (LRU): (service id, client) -> backend, last used
 *   maglev:  hash of maps, (service id << 1 | version) -> array of
 *            XCNI_MAGLEV_M backend ids, built in userspace (user/lib/services/maglev.c)
 *   svcbe:   (service id, backend address, port, family) -> 1: the backends
 *            of a frontend by key, for DSR, which must accept only a backend
 *            of the frontend an option names (bpf/lib/nodeport.h) without a walk
 *            of its slots. It holds what the live and the replaced version
 *            name (never more entries than xcni_svcslot)
 *
 * A change to a service is written under the version its entry does not use
 * (slots, Maglev table), then the entry is flipped in one update (version,
 * counts, flags, revision), then the old version is deleted: the data plane
 * sees the old backend set or the new one, never a mix. Backends are written
 * before any slot names them and deleted after none does.
 */
#define XCNI_AF_INET 2 /* AF_INET */
#define XCNI_AF_INET6 10 /* AF_INET6 */
/* Affinity of a socket-level translation: the client is its network namespace
 * (client[0..7]: the netns cookie); at connect time it has no address yet. */
#define XCNI_AF_NETNS 255

enum xcni_svc_scope {
	XCNI_SCOPE_EXT = 0, /* every frontend has one: all its backends, or the
			     * node-local ones under externalTrafficPolicy=Local */
	XCNI_SCOPE_INT = 1, /* traffic from inside the cluster, when it differs
			     * (XCNI_SVC_F_TWO_SCOPES) */
};

/*
 * extfe: the Service frontends xcnid reads when kube-proxy translates the
 * Services (no --kube-proxy-replacement: no Service maps), keyed as
 * xcni_svc (struct xcni_svc_key, scope XCNI_SCOPE_EXT, pad 0) -> 1:
 * every ClusterIP, externalIP and load-balancer ingress IP at each of its
 * Service's ports. Read only to refuse such a source from the underlay
 * (drop-src-frontend, from_plain): a forged Service reply seeds the
 * kernel's conntrack just as it would xcni's.
 */
#ifndef XCNI_MAX_EXTFE
#define XCNI_MAX_EXTFE 16384
#endif

struct xcni_svc_key {
	__u8 addr[16];
	__u16 port; /* network order */
	__u8 family; /* XCNI_AF_* */
	__u8 proto; /* IPPROTO_TCP, _UDP, _SCTP */
	__u8 scope; /* enum xcni_svc_scope */
	__u8 pad[3];
};

#define XCNI_SVC_F_AFFINITY (1u << 0) /* sessionAffinity: ClientIP */
#define XCNI_SVC_F_MAGLEV (1u << 1) /* backends by Maglev table, not at random */
/* The Local traffic policies, set where the Service has endpoints (somewhere):
 * such a frontend with no backend here drops (drop-no-local-backend), as
 * kube-proxy DROPs; without endpoints at all it is refused (REJECT). */
#define XCNI_SVC_F_ETP_LOCAL (1u << 2) /* externalTrafficPolicy: Local */
#define XCNI_SVC_F_ITP_LOCAL (1u << 3) /* internalTrafficPolicy: Local */
#define XCNI_SVC_F_TWO_SCOPES (1u << 4) /* look again under XCNI_SCOPE_INT from inside */
/* A ClusterIP: not served to clients outside the cluster (from the underlay)
 * unless xcnid --external-clusterip. NodePorts, externalIPs and load-balancer
 * IPs lack it. A bit of flags, which had room: no key or size changed. */
#define XCNI_SVC_F_CLUSTERIP (1u << 5)
/* An external frontend's (EXT) entry whose every backend is on this node
 * (externalTrafficPolicy Local with backends here, or Cluster with all of
 * them here): the XDP NodePort fast path hands its packets to tc at once,
 * with no backend chosen (nodeport_xdp.h), as it would after choosing one. */
#define XCNI_SVC_F_LOCAL_BE (1u << 6)

struct xcni_svc {
	__u32 id; /* the service's id: key of its slots, affinity and Maglev table */
	__u16 count; /* active backends: slots [0, count) */
	__u16 count_term; /* terminating backends: slots [count, count + count_term) */
	__u16 rev_nat; /* xcni_revnat index of this frontend, never 0 */
	__u8 flags; /* XCNI_SVC_F_* */
	__u8 version; /* 0 or 1: whose slots and Maglev table are live */
	__u32 affinity_s; /* ClientIP affinity timeout in seconds */
	__u32 revision; /* one more at every change the writer applied */
};

struct xcni_svcslot_key {
	__u32 svc_id;
	__u16 slot;
	__u8 version;
	__u8 pad;
};

enum xcni_backend_state {
	XCNI_BE_ACTIVE = 0, /* ready */
	XCNI_BE_TERMINATING = 1, /* terminating but serving: a fallback only */
};

struct xcni_backend {
	__u8 addr[16];
	__u16 port; /* network order */
	__u8 family; /* XCNI_AF_* */
	__u8 state; /* enum xcni_backend_state */
	__u32 pad;
};

/* svcbe's key (its value: a __u32, 1). */
struct xcni_svcbe_key {
	__u32 svc_id;
	__u16 port; /* network order */
	__u8 family; /* XCNI_AF_* */
	__u8 pad;
	__u8 addr[16];
};

struct xcni_revnat {
	__u8 addr[16];
	__u16 port; /* network order */
	__u8 family;
	__u8 pad;
};

struct xcni_affinity_key {
	__u32 svc_id;
	__u8 family;
	__u8 pad[3];
	__u8 client[16];
};

struct xcni_affinity {
	__u64 last_ns; /* bpf_ktime_get_ns() of the last new flow that used it */
	__u32 backend_id;
	__u32 pad;
};

/*
 * sock_rn (hash): socket-level load balancing's reverse NAT. The cgroup
 * connect4/sendmsg4 programs give a socket the backend instead of the
 * frontend and record (socket cookie, backend) -> frontend here; recvmsg4
 * and getpeername4 show the application the frontend again. A record lives
 * as long as its socket (removed at cgroup/sock_release) and is charged to
 * the socket's pod, its cgroup (sock_own): no record ever evicts another.
 */
struct xcni_sock_rn_key {
	__u64 cookie; /* bpf_get_socket_cookie() */
	__u32 addr; /* the backend, network order */
	__u16 port; /* network order */
	__u16 pad;
};

struct xcni_sock_rn {
	__u32 addr; /* the frontend, network order */
	__u16 port; /* network order */
	__u16 rev_nat; /* the frontend's xcni_revnat index: gone, no rewrite */
};

/* sock_rn6 (LRU): the same for IPv6 sockets (connect6/sendmsg6, recvmsg6/getpeername6). */
struct xcni_sock_rn6_key {
	__u64 cookie;
	__u8 addr[16]; /* the backend */
	__u16 port; /* network order */
	__u16 pad;
	__u32 pad2;
};

struct xcni_sock_rn6 {
	__u8 addr[16]; /* the frontend */
	__u16 port; /* network order */
	__u16 rev_nat;
};

/*
 * sock_own (LRU, keyed by a cgroup id: the pod's, or XCNI_SOCK_OWN_PODS for
 * all pods' sockets together): a pod's socket-LB records held now (one more at each record, one less as its socket is
 * released) and the translations its bound left to the per-packet path.
 */
struct xcni_sock_own {
	__u32 held;
	__u32 pad;
	__u64 over; /* past the bound (or xcni_sock_rn full): left to packets, the node's refused */
};

/*
 * sock_flow, sock_flow6 (LRU): the TCP connections socket LB gave a backend,
 * keyed by their tuple as conntrack keys them (xcni_ct_key / xcni_ct6_key:
 * pod -> backend), -> the Service's xcni_revnat index. The sockops program
 * writes it as the SYN is about to leave (the source port chosen); xcnid's
 * flow records read it, as those flows' conntrack entries name no Service
 * (their packets carry the backend from the first one).
 */
struct xcni_sock_flow {
	__u32 rev_nat;
};

/* Maglev outer key of a service's table under one version. */
static inline __u32 xcni_maglev_key(__u32 svc_id, __u8 version)
{
	return svc_id << 1 | (version & 1);
}

static inline __u32 xcni_lb_mix(__u32 h, __u32 v)
{
	return h ^ (v + 0x7f4a7c15u + (h << 6) + (h >> 2));
}

/* murmur3's 32-bit finaliser, the last step of every flow hash here (Maglev's, the
 * fragment shares', Geneve's source port): each input bit moves every output bit. */
static inline __attribute__((always_inline)) __u32 xcni_fmix32(__u32 h)
{
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

/*
 * The flow hash Maglev indexes its table with, over the tuple as the client
 * sent it (to the frontend): the same flow gets the same backend on every
 * node. One algorithm for both families: the source address's first 32-bit
 * word times the golden ratio, every other word of both addresses mixed in
 * (as they lie in memory: the same bytes give the same hash on every node;
 * IPv4 one word each, IPv6 four), then the ports and the protocol, then
 * murmur3's finaliser. saddr, daddr: the family's addresses (4 or 16
 * bytes, 4-byte aligned). Shared with userspace (the tests and xcnictl
 * explain compute the choice themselves). Always inline: six arguments are
 * one more than a BPF call takes.
 */
static inline __attribute__((always_inline)) __u32
xcni_lb_hash(__u8 family, const void *saddr, const void *daddr, __u16 sport, __u16 dport,
	     __u8 proto)
{
	const __u32 *s = (const __u32 *)saddr, *d = (const __u32 *)daddr;
	int words = family == XCNI_AF_INET6 ? 4 : 1;
	__u32 h = s[0] * 0x9e3779b1u;

	for (int i = 1; i < words; i++)
		h = xcni_lb_mix(h, s[i]);
	for (int i = 0; i < words; i++)
		h = xcni_lb_mix(h, d[i]);
	h = xcni_lb_mix(h, (__u32)sport << 16 | dport);
	return xcni_fmix32(h ^ proto);
}

/*
 * An IPv6 outside client is its /56 (one site's delegation: a host given a /56
 * sends from 256 /64s without spoofing, so a /64 unit would make it 256
 * clients): the address's first word whole and the second's first three
 * bytes. XCNI_V6_SITE_W1 masks the second word, in memory order, as both
 * sides read it (docs/decisions/snat-per-client.md).
 */
#define XCNI_V6_SITE_W1(word) \
	((word) & ((const union { __u8 b[4]; __u32 w; }){ { 0xff, 0xff, 0xff, 0 } }).w)

/*
 * The fragment share of an outside source (saddr: the family's address, 4 or
 * 16 bytes, 4-byte aligned): its IPv4 address, or an IPv6 address's /56
 * (XCNI_V6_SITE_W1), mixed with the node's secret key k0, k1 (frag_key,
 * bpf/lib/config.h: random per agent), into XCNI_FRAG_OUTSIDE - (0 ..
 * XCNI_FRAG_OUTSIDE_SHARES - 1). Keyed, so that a sender cannot pick sources
 * (spoofed or its own) that land in a victim's share: unkeyed, two addresses
 * of the victim's share filled it (docs/decisions/fragment-shares.md). Shared
 * with userspace (the tests pick sources of one share or of two).
 */
static inline __attribute__((always_inline)) __u32 xcni_frag_outside_share(__u8 family,
									   const void *saddr,
									   __u32 k0, __u32 k1)
{
	const __u32 *s = (const __u32 *)saddr;
	__u32 h = (s[0] ^ k0) * 0x9e3779b1u;

	if (family == XCNI_AF_INET6)
		h = xcni_lb_mix(h, XCNI_V6_SITE_W1(s[1]));
	h = xcni_fmix32(xcni_lb_mix(h, k1));
	return XCNI_FRAG_OUTSIDE - (h & (XCNI_FRAG_OUTSIDE_SHARES - 1));
}

/*
 * IPv6 (one node: no Geneve yet). Maps beside the IPv4 ones, which are left
 * as they were:
 *   endpoints6: local pod IPv6 -> struct xcni_endpoint (written by the plugin)
 *   ifindex6:   host-side veth ifindex -> its IPv6 and endpoint (xcni_pod_dev6)
 *   polkey6:    local pod IPv6 -> the 32-bit key its policy entries are under
 *               (ep of xcni_policy_key, xcni_polep...): its IPv4 for a dual
 *               stack pod (the programs take that one from xcni_ifindex when
 *               present), for an IPv6-only pod a key in 0.0.0.0/8, which no
 *               pod IPv4 can be (written by xcnid). So one identity rule covers
 *               both families and the policy maps keep their layout.
 *   ct6 (LRU):  struct xcni_ct6_key -> struct xcni_ct_entry
 *   frag6:      shares of fragmented datagrams -> their first fragments' L4
 *   ipcache6:   LPM trie, IPv6 prefix -> struct xcni_ipcache_val (tunnel_ip 0)
 * An IPv6 peer the ipcache6 does not know is XCNI_ID_WORLD; IPv6 ipBlock
 * prefixes are in polcidr (v6 = 1) beside the IPv4 ones.
 */
#ifndef XCNI_MAX_CT6
#define XCNI_MAX_CT6 131072
#endif
/* Extension headers walked before the L4 header; a packet with more is dropped. */
#define XCNI_V6_MAX_EXT 6
/* IPv6-only pods' policy keys: 0.0.0.0/8 (host order mask), never a pod's IPv4. */
#define XCNI_POLKEY6_MASK 0xff000000u

struct xcni_in6 {
	__u8 addr[16];
};
struct xcni_pod_dev6 {
	struct xcni_in6 addr;
	struct xcni_endpoint ep;
};

struct xcni_ct6_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport; /* ICMPv6 echo: the echo id in both ports */
	__u16 dport;
	__u8 proto;
	__u8 pad[3];
};

/*
 * A flow's addresses, ports and protocol, either family: the conntrack key of
 * its family, so each conntrack map keeps its own key (xcni_ct's 16 bytes are
 * hashed, not 40) and a reader of either key reads the one type. The data
 * path carries it in struct flow (bpf/lib/flow.h); which half is live is the
 * flow's family.
 */
union xcni_tuple {
	struct xcni_ct_key v4;
	struct xcni_ct6_key v6;
};

/* xcni_npc's value (bpf/lib/maps.h), per CPU: the agent adds its hits to the
 * flow's counters (user/agent/flows.c). */
#define XCNI_NPC_HDR 112 /* the outer headers, the largest 14 + XCNI_ENCAP6_DSR_LEN */
#ifndef XCNI_MAX_NPC
#define XCNI_MAX_NPC 8192 /* xcni_npc's ceiling; xcnid sizes it from the CPUs */
#endif
struct xcni_npc {
	__u64 gen; /* xcni_npgen when the full path planned it */
	__u64 stamp; /* then: good for XCNI_NPC_LIFE_NS */
	__u64 pkts, bytes; /* hits since, for the conntrack entries at refresh */
	union xcni_tuple xlat; /* the translated tuple (backend, SNAT or client) */
	__u32 ifindex; /* the device it came in by and goes out of */
	__u16 len_ok; /* the largest frame (before encapsulation) proven to fit */
	__u16 inner_len; /* the inner IP length the headers were written for */
	__u8 tos, ul6;
	__u8 tc; /* the flow is tc's (its backend on this node): handed on */
	__u8 pad[5];
	__u8 hdr[XCNI_NPC_HDR]; /* the frame's first 14 + encapsulation bytes */
};

/* xcni_snat (LRU, bpf/lib/nodeport_plan.h): a SNATed NodePort flow's tuple as
 * this node sends it (its address:port -> backend; union xcni_tuple, IPv4's
 * 16 bytes then zeros) -> the client, for the replies, either family: a map
 * only the SNAT writes (charged to the client's budget, xcni_snat_cl), so a
 * pod's conntrack flood, which may push the flow's entry out of xcni_ct or
 * xcni_ct6, cannot take its client. A key whose IPv6 view has proto 0 is
 * IPv4's. */
struct xcni_snat {
	__u8 client[16]; /* IPv4: the first 4 */
	__u16 cport; /* network order */
	__u16 rev_nat; /* the frontend, put back as a reply's source */
	/* Not 0: no packet of the client has confirmed the tuple yet. Opened
	 * XCNI_SNAT_WAIT; a TCP flow's SYN-ACK writes its sequence + 1 (network
	 * order), which only the client that received it acknowledges; 0 once
	 * the client's packet after the reply proved that (TCP: that number).
	 * Answered and still waiting XCNI_CT_SNAT_NEW_NS after it opened, the
	 * tuple is a spare: another client's flow takes it when it finds no
	 * free port (xcni_snat_waited). */
	__u32 ack;
	__u64 last_ns; /* opened, or answered last (the record's life) */
};

#define XCNI_SNAT_WAIT 1

/* The tuple of entry e and record sn answered, never confirmed, opened
 * XCNI_CT_SNAT_NEW_NS ago: a spare (nodeport_plan.h: taken by a new flow
 * that finds no free port) and held no longer (xcnid's count), so a
 * spoofer's answered tuples (a UDP echo, a SYN-ACK to an address that never
 * sent the SYN) cannot keep the ports from new flows, while a real flow of
 * that shape (one datagram, then a stream) keeps its port until they run
 * short. */
static inline int xcni_snat_waited(const struct xcni_ct_entry *e, const struct xcni_snat *sn,
				   __u64 now)
{
	return sn && sn->ack && e->state == XCNI_CT_ESTABLISHED && now > e->created_ns &&
	       now - e->created_ns > XCNI_CT_SNAT_NEW_NS;
}

/*
 * xcni_snat_cl (LRU, bpf/lib/nodeport_plan.h): an outside client's budget of
 * new NodePort SNAT tuples on this node, a token bucket: XCNI_SNAT_CL_BURST
 * tokens, one back every 1/XCNI_SNAT_CL_RATE s, unless xcnid says otherwise
 * (--snat-client-burst, --snat-client-rate: config.h's snat_cl_*). The client is its IPv4
 * address (a[0]; a[1] 0), or its IPv6 /56 (a[0], XCNI_V6_SITE_W1(a[1]): one
 * host may have a whole /56 to send from). A client with no token left has its own new flows
 * dropped (XCNI_DROP_NAT_CLIENT); nobody else's. An entry pushed out of the
 * LRU comes back full: only its own client gains by it.
 * held bounds what a client keeps, not only its rate: xcnid counts the
 * client's records in xcni_snat every XCNI_SNAT_HELD_S and writes the count;
 * the SNAT adds one a tuple it opens in between (so a client's expired
 * records free room at the next count only). At XCNI_SNAT_CL_MAX (xcnid
 * --snat-client-max) the client's new flows are refused as for want of a token.
 */
struct xcni_snat_cl_key {
	__u32 a[2];
	__u8 family;
	__u8 pad[3];
};

struct xcni_snat_cl {
	__u64 ts_ns; /* when tokens was last right */
	__u32 tokens;
	__u32 refused; /* new flows refused for want of a token or past held */
	__u32 held; /* its records in xcni_snat: xcnid's count, + 1 a tuple since */
	__u32 pad; /* was known: that is xcni_snat_known now, out of spoofers' reach */
};

#define XCNI_SNAT_CL_BURST 256
#define XCNI_SNAT_CL_RATE 64 /* a second */
#define XCNI_SNAT_CL_MAX 4096
/* The node's budget of new SNAT tuples, at the key of family 0: every new
 * tuple takes one while there is one; an unknown client opens none without.
 * Unconfirmed tuples live XCNI_CT_SNAT_NEW_NS: at most 4,096 + 2,048 x 5 s =
 * 14,336, half a backend's 28,232 ports (snat-per-client.md). */
#define XCNI_SNAT_NEW_BURST 4096
#define XCNI_SNAT_NEW_RATE 2048 /* a second */
#define XCNI_SNAT_HELD_S 2

struct xcni_ipcache6_key {
	__u32 prefixlen;
	__u8 addr[16];
};

/* frag6: (source, destination, fragment id) -> the first fragment's L4. */
struct xcni_frag6_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__u32 id; /* network order */
};
struct xcni_frag6 {
	__be16 sport;
	__be16 dport;
	__u8 icmp_type;
	__u8 is_echo;
	__u8 proto; /* the L4 protocol after any extension headers */
	__u8 pad;
};
/* frag6's shares, as IPv4's (struct xcni_frag_share). */
struct xcni_frag6_slot {
	struct xcni_frag6_key k;
	struct xcni_frag6 f;
	__u8 last;
	__u8 pad[3];
	__u64 ts_ns;
};
struct xcni_frag6_share {
	struct xcni_frag6_slot s[XCNI_FRAG_PER_EP];
};

/*
 * xcni_config.flags. XCNI_CFG_F_POLICY: an xcnid enforcing NetworkPolicy
 * (following cluster state) runs on this node, so a local endpoint without a
 * polep entry has not been judged yet and is closed (XCNI_DROP_POLICY_PENDING)
 * until xcnid writes one. Unset (no agent following cluster state: the
 * plugin-only suites, `xcnid` with no source), such an endpoint is open as
 * before. xcnid sets it at start, before it pins the programs.
 */
#define XCNI_CFG_F_POLICY (1u << 0)
/* xcnid --tunnel-family ipv6: nodes with an IPv6 InternalIP are reached at
 * that one (user/lib/system/tunnel.h), for people (xcnictl config, status);
 * no program reads it. */
#define XCNI_CFG_F_TUN6 (1u << 1)
/* The policy key of a local IPv6-only pod xcnid has not keyed yet (no polkey6
 * entry): the broadcast address, never a pod's, so it has no polep entry. */
#define XCNI_POLKEY_NONE 0xffffffffu

/* config: array of one, written by xcnid (and `xcnictl config set`, both under a
 * flock on the pin directory), read by xcnictl and the plugin. */
struct xcni_config {
	__u32 abi_version; /* XCNI_ABI_VERSION of the writer */
	__u32 flags;
	__u64 started_ns; /* CLOCK_MONOTONIC when xcnid last loaded programs */
	__u32 pod_cidr; /* this node's pod CIDR, network order */
	__u8 pod_cidr_len;
	__u8 pad;
	/* Names for people (identities, policies, pods) the maps of names could
	 * not hold in the applied generation: policy applied all the same; saturates. */
	__u16 nr_names_missing;
	char node_name[64];
	__u64 applied_gen; /* cluster-state generation whose policy is in the maps */
	__u64 failed_gen; /* the last generation that could not be applied */
	char error[256]; /* why (failed_gen), for `xcnictl lab apply` and people */
	__u32 nr_identities;
	__u32 nr_policies;
	__u32 nr_endpoints_policy; /* local pods with compiled policy */
	__u32 nr_endpoints_overflow; /* of those, closed: their policy did not fit */
	/* The overlay (0s when xcnid runs without an underlay device). */
	__u32 node_ip; /* this node's underlay IPv4, network order */
	__u32 underlay_ifindex;
	__u32 vni;
	__u32 underlay_mtu;
	__u32 pod_mtu; /* what the plugin gives pods: underlay MTU - XCNI_ENCAP_LEN */
	__u32 xdp_mode; /* XDP_FLAGS_DRV_MODE or XDP_FLAGS_SKB_MODE as attached, 0 none,
			 * XCNI_XDP_MODE_TC: no XDP, the prefilter in from_overlay */
	/* Events: read by the programs per packet, set by xcnid and `xcnictl config set`. */
	__u32 trace_sample; /* trace one forwarded packet in N; 0: no traces */
	__u32 events_rate; /* events per CPU per second (all types); 0: no limit */
	/* The Service (ClusterIP) range, network order: flows to it are judged after kube-proxy's DNAT. */
	__u32 svc_cidr;
	__u8 svc_cidr_len;
	/* The XDP NodePort fast path (xcnid --nodeport-acceleration) as
	 * attached: XCNI_NPA_OFF, XCNI_NPA_NATIVE or XCNI_NPA_GENERIC. */
	__u8 np_accel;
	/* Pods of the applied generation whose address another live pod claims
	 * (the owners' closed, XCNI_POLEP_CONTESTED), every node's; saturates. */
	__u16 nr_addr_contested;
	/* This node's underlay IPv6 (zero: none, the underlay is IPv4): the
	 * outer source towards XCNI_IPC_TUN6 nodes. */
	__u8 node_ip6[16];
	/* The IPv6 pod and Service (ClusterIP) ranges, network bits only, for
	 * people and xcnictl config (ABI 17): beside the IPv4 ones above, so one
	 * record says both families; the programs read theirs from rodata. */
	__u8 pod_cidr6[16];
	__u8 svc_cidr6[16];
	__u8 pod_cidr6_len; /* 0: none */
	__u8 svc_cidr6_len; /* 0: none */
	/* Addresses of the applied generation a pod being deleted yielded to a
	 * live pod of its node (pol_yield: not contested, not closed), both
	 * families; saturates. Was padding: 0 from an older writer. */
	__u16 nr_addr_yielded;
	__u8 pad6[4];
};


/*
 * Egress by DNS name (ClusterNetworkPolicy domainNames; bpf/lib/dns.h,
 * docs/decisions/fqdn-in-bpf.md). The cluster DNS's answers into a pod are
 * read in to_pod; an A or AAAA answer for a name a pattern of that pod names
 * puts the address in xcni_fqdn for that pod, with the answer's TTL held
 * between a minimum and a maximum.
 *
 * Names are kept flat: the wire form's labels (length byte, then the bytes,
 * lower-cased), without the root's zero, at most XCNI_FQDN_NAME_MAX bytes.
 * A pattern's key hashes its suffix's flat bytes taken from the last to the
 * first (xcni_fqdn_step from XCNI_FQDN_HASH_INIT), so a name's every suffix
 * at a label boundary is one more step of one pass from the right; its value
 * holds the suffix's bytes, compared on a hit: the hash indexes, never
 * decides.
 */
#ifndef XCNI_FQDN_PER_POD
#define XCNI_FQDN_PER_POD 64 /* addresses learned per pod; a power of two */
#endif
#ifndef XCNI_MAX_FQDN
#define XCNI_MAX_FQDN 65536 /* addresses learned, all pods */
#endif
#ifndef XCNI_MAX_FQDN_PAT
#define XCNI_MAX_FQDN_PAT 16384 /* (pod, pattern) pairs */
#endif
#ifndef XCNI_MAX_DNS_SRV
#define XCNI_MAX_DNS_SRV 256 /* the DNS Service's frontends and backends */
#endif
#define XCNI_FQDN_NAME_MAX 254
#define XCNI_FQDN_HASH_INIT 0xcbf29ce484222325ULL
#define XCNI_FQDN_TTL_MIN 5 /* seconds, when fqdn_ttl_min is 0 */
#define XCNI_FQDN_TTL_MAX 86400 /* seconds, when fqdn_ttl_max is 0 */

/*
 * The verdict. A pattern's rule_ref is 1 + the index of its rule among the
 * pod's egress rules that name a domain, in tier order (at most
 * XCNI_FQDN_RULES_MAX of them; later ones are not compiled). For rule j the
 * compiler writes the pod's egress polcidr entries again under dir
 * XCNI_POLCIDR_DIR_FQDN + j: every prefix a rule names and a /0 of each
 * family, each to the group of the decision for an address there that was
 * learned through rule j (rules before it that hold the address by network
 * still decide first). A learned address outside the cluster (identity
 * world) is looked up there; an entry past its expiry by more than
 * XCNI_FQDN_GRACE_S seconds counts no more (the resolver's cache may hand
 * the address out a little after the TTL; a flow opened before goes on as
 * conntrack keeps it).
 */
#define XCNI_POLCIDR_DIR_FQDN 2
#define XCNI_FQDN_RULES_MAX 64
#define XCNI_FQDN_GRACE_S 5

static inline __u64 xcni_fqdn_step(__u64 h, __u8 c)
{
	return (h ^ c) * 0x100000001b3ULL;
}

/* A source whose answers count: the DNS Service's ClusterIP and its
 * endpoints, port included (network order); IPv4 in addr[0..3]. */
struct xcni_dns_srv_key {
	__u8 family; /* XCNI_AF_INET, XCNI_AF_INET6 */
	__u8 pad;
	__be16 port;
	__u8 addr[16];
};

enum { XCNI_FQDN_EXACT = 1, XCNI_FQDN_WILD = 2 };

/* A pattern that applies to pod ep_id: EXACT, the whole name; WILD (`*.` +
 * suffix), a name of at least one more label ending in suffix. */
struct xcni_fqdn_pat_key {
	__u32 ep_id;
	__u32 kind;
	__u64 hash;
};

struct xcni_fqdn_pat {
	__u32 rule_ref; /* the agent's reference to the rule that names it */
	__u16 prio; /* lower first: several patterns matching, the lowest's rule */
	__u8 len; /* of name */
	__u8 pad;
	/* For people (flows, explain): the rule as a verdict entry names it, its
	 * policy (xcni_polname) and index in the policy's egress list. */
	__u32 policy_id;
	__u16 rule;
	__u16 pad2;
	__u8 name[256]; /* the flat suffix (WILD) or name (EXACT) */
};

/* An address a pod's answers taught it. */
struct xcni_fqdn_key {
	__u32 ep_id;
	__u8 family;
	__u8 pad[3];
	__u8 addr[16];
};

struct xcni_fqdn_val {
	__u64 expires_ns; /* bpf_ktime_get_ns's clock */
	/* The pattern the question matched, its xcni_fqdn_pat key with the pod's
	 * ep_id: the one name flows, explain and fqdn list print. */
	__u64 pat_hash;
	__u32 ttl; /* as answered, seconds */
	__u16 rule_ref;
	__u8 pat_kind; /* XCNI_FQDN_EXACT, XCNI_FQDN_WILD */
	__u8 pad;
};

/* Per pod: the addresses it holds in the order learned; when full the
 * oldest slot's address leaves xcni_fqdn for the new one. */
struct xcni_fqdn_slot {
	__u8 family; /* 0: free */
	__u8 pad[3];
	__u8 addr[16];
};

struct xcni_fqdn_ring {
	__u64 next; /* slots handed out: one atomic fetch-and-add each (lib/dns.h) */
	struct xcni_fqdn_slot slot[XCNI_FQDN_PER_POD];
};

/* xcni_fqdn_stats' counters (per CPU). */
enum {
	XCNI_FQDN_ST_ANSWERS, /* answers from a DNS source parsed */
	XCNI_FQDN_ST_NOT_SERVER, /* looked like an answer, not from a DNS source */
	XCNI_FQDN_ST_MATCHED, /* question names a pattern of the pod */
	XCNI_FQDN_ST_LEARNED, /* addresses written (new or renewed) */
	XCNI_FQDN_ST_EVICTED, /* a pod's oldest address gone for a new one */
	XCNI_FQDN_ST_FULL, /* xcni_fqdn full: an address not learned */
	XCNI_FQDN_ST_GIVEUP, /* malformed, out of bounds: the parse stopped */
	XCNI_FQDN_ST_IGNORED, /* a record not learned: class, owner off the chain */
	XCNI_FQDN_ST_FRAG, /* an IP fragment of an answer: never read (not a whole message) */
	XCNI_FQDN_NR_STATS,
};

#endif
