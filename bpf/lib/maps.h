/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Every map of the data plane, BTF-defined and pinned by name. */
#ifndef XCNI_MAPS_H
#define XCNI_MAPS_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>

#include "../xcni_shared.h"
#include "flow.h"
/* bpf_helpers.h's offsetof is no constant expression (_Static_assert wants
 * one), and <stddef.h> defines its own only when it comes first. */
#undef offsetof
#define offsetof(type, member) __builtin_offsetof(type, member)

/* Key 0 of an array map, in .rodata, none on the stack: no frame pays for it
 * (the chains at the verifier's 512 bytes), and 6.1 keeps apart paths that left
 * a stack slot zero and paths that wrote it, where a zero key is written only if
 * its lookup runs (docs/decisions/kernel-matrix.md). */
static const __u32 map_zero = 0;

/* A map's definition by kind: XCNI_MAP for a program's scratch (not pinned),
 * XCNI_PINNED for one shared by name with xcnid and the other programs,
 * XCNI_PINNED_NP for one whose entries are allocated as they come. Only the
 * LRUs (and arrays) are preallocated: an LRU evicts from its own elements,
 * and the programs insert into them per packet; every other hash is written
 * by xcnid, the plugin or a few per-connection paths (fragments, DNS
 * answers, socket LB), and pays for an entry only while it holds one
 * (docs/decisions/map-sizes.md). */
#define XCNI_MAP(type_, max, key_t, value_t)                                                 \
	__uint(type, type_);                                                                 \
	__uint(max_entries, max);                                                            \
	__type(key, key_t);                                                                  \
	__type(value, value_t)
#define XCNI_PINNED(type_, max, key_t, value_t)                                              \
	XCNI_MAP(type_, max, key_t, value_t);                                                \
	__uint(pinning, LIBBPF_PIN_BY_NAME)
#define XCNI_PINNED_NP(type_, max, key_t, value_t)                                           \
	XCNI_PINNED(type_, max, key_t, value_t);                                             \
	__uint(map_flags, BPF_F_NO_PREALLOC)

struct {
	XCNI_PINNED_NP(BPF_MAP_TYPE_HASH, XCNI_MAX_ENDPOINTS, __u32, struct xcni_endpoint);
} xcni_endpoints SEC(".maps");

/* IPv6 (see xcni_shared.h): endpoints, policy keys, conntrack, fragments, ipcache. */
struct {
	XCNI_PINNED_NP(BPF_MAP_TYPE_HASH, XCNI_MAX_ENDPOINTS, struct xcni_in6, struct xcni_endpoint);
} xcni_endpoints6 SEC(".maps");

struct {
	XCNI_PINNED_NP(BPF_MAP_TYPE_HASH, XCNI_MAX_ENDPOINTS, __u32, struct xcni_pod_dev);
} xcni_ifindex SEC(".maps");

struct {
	XCNI_PINNED_NP(BPF_MAP_TYPE_HASH, XCNI_MAX_ENDPOINTS, __u32, struct xcni_pod_dev6);
} xcni_ifindex6 SEC(".maps");

struct {
	XCNI_PINNED(BPF_MAP_TYPE_LRU_HASH, XCNI_MAX_CT, struct xcni_ct_key, struct xcni_ct_entry);
} xcni_ct SEC(".maps");

struct {
	XCNI_PINNED(BPF_MAP_TYPE_LRU_HASH, XCNI_MAX_CT6, struct xcni_ct6_key, struct xcni_ct_entry);
} xcni_ct6 SEC(".maps");

/*
 * While xcni_ct (xcni_ct6) grows, in the one slot of xcni_ctprev
 * (xcni_ctprev6): the old table, until xcnid's catch-up after the take-over
 * (agent/grow.c). A lookup that misses the table looks there, an entry made or
 * deleted is so there too: the programs taken over and those not yet never miss
 * each other's flows. Empty otherwise (docs/decisions/map-growth.md).
 */
#define XCNI_CT_INNER(key_t) XCNI_MAP(BPF_MAP_TYPE_LRU_HASH, 1, key_t, struct xcni_ct_entry)
struct xcni_ct_inner { XCNI_CT_INNER(struct xcni_ct_key); };
struct xcni_ct6_inner { XCNI_CT_INNER(struct xcni_ct6_key); };
#define XCNI_CTPREV(inner) __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS); __uint(max_entries, 1); \
	__type(key, __u32); __uint(pinning, LIBBPF_PIN_BY_NAME); __array(values, struct inner)
struct { XCNI_CTPREV(xcni_ct_inner); } xcni_ctprev SEC(".maps");
struct { XCNI_CTPREV(xcni_ct6_inner); } xcni_ctprev6 SEC(".maps");

/*
 * Fragments: an endpoint's share (or the node's, key 0) -> its datagrams (see
 * struct xcni_frag_share). Not an LRU, where one sender's first fragments evict
 * everyone's; not preallocated: a share is made by the first fragment of its
 * owner (from xcni_fragstage's empty one) and removed with the endpoint
 * (cni/dataplane.c).
 */
struct {
	XCNI_PINNED_NP(BPF_MAP_TYPE_HASH, XCNI_MAX_FRAG, __u32, struct xcni_frag_share);
} xcni_frag SEC(".maps");

struct {
	XCNI_PINNED_NP(BPF_MAP_TYPE_HASH, XCNI_MAX_FRAG, __u32, struct xcni_frag6_share);
} xcni_frag6 SEC(".maps");

struct {
	XCNI_PINNED(BPF_MAP_TYPE_PERCPU_ARRAY, XCNI_NR_METRICS, __u32, struct xcni_metric);
} xcni_metrics SEC(".maps");

/* The XDP NodePort fast path's counters (XCNI_NPA_*: nodeport_xdp.h). */
struct {
	XCNI_PINNED(BPF_MAP_TYPE_PERCPU_ARRAY, XCNI_NPA_NR, __u32, struct xcni_metric);
} xcni_npaccel SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, XCNI_EVENTS_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xcni_events SEC(".maps");

/*
 * A first fragment's entry for xcni_frag or xcni_frag6, staged by the parser
 * and written at the program's exit only when the packet was let through
 * (frag_commit): a forged or refused first fragment must not
 * overwrite another source's entry nor leave one of its own. A last fragment
 * is staged too, so that the exit frees its datagram's place once it passed.
 * Per CPU, off the stack, not pinned: it lives for one packet.
 */
struct xcni_fragstage {
	/* [0] the packet as it arrived; [1] as parsed again after a rewrite
	 * (a Service's translation), which the translated later fragments,
	 * parsed again too, look up. */
	struct xcni_frag_key k[2];
	struct xcni_frag f[2];
	struct xcni_frag6_key k6[2];
	struct xcni_frag6 f6[2];
	/* a later fragment's key (frag_later), the share being
	 * looked at (a map key off the stack); at the exit, the first
	 * fragment being placed (frag_put) */
	struct xcni_frag_key lk;
	struct xcni_frag6_key lk6;
	/* what frag_find found for it */
	struct xcni_frag lf;
	struct xcni_frag6 lf6;
	__u32 owner;
	__u64 now; /* frag_commit's */
	/* a last fragment's datagram: its share and place (frag_later's), the
	 * first fragment's time there, as [0] and [1] above */
	__u32 last_owner[2];
	__u32 last_idx[2];
	__u64 last_ts[2];
	/* never written: what a new share starts from */
	struct xcni_frag_share empty;
	struct xcni_frag6_share empty6;
};

struct {
	XCNI_MAP(BPF_MAP_TYPE_PERCPU_ARRAY, 1, __u32, struct xcni_fragstage);
} xcni_fragstage SEC(".maps");

/* What became of conntrack entries: created, deleted, picked up (see xcni_shared.h). */
struct {
	XCNI_PINNED(BPF_MAP_TYPE_PERCPU_ARRAY, 2, __u32, struct xcni_ctstat);
} xcni_ctstat SEC(".maps");

/* What the events cost and lost, per CPU. */
struct {
	XCNI_PINNED(BPF_MAP_TYPE_PERCPU_ARRAY, 1, __u32, struct xcni_evrate);
} xcni_evrate SEC(".maps");

/* The events' budget (xcni_config.events_rate), a share per local endpoint
 * and one for the node (struct xcni_evshare). */
struct {
	XCNI_PINNED(BPF_MAP_TYPE_LRU_PERCPU_HASH, XCNI_MAX_EVSHARES, __u32, struct xcni_evshare);
} xcni_evshare SEC(".maps");

struct {
	XCNI_PINNED(BPF_MAP_TYPE_ARRAY, 1, __u32, struct xcni_config);
} xcni_config SEC(".maps");

/*
 * polrev: array of one __u32, the policy revision. xcnid alone writes it, one
 * more after every policy change it applied (policy maps, identities,
 * ipcache); conntrack entries judged under another revision are judged again.
 * Not a field of xcni_config: `xcnictl config set` rewrites that whole value
 * and could bring an old revision back.
 */
struct {
	XCNI_PINNED(BPF_MAP_TYPE_ARRAY, 1, __u32, __u32);
} xcni_polrev SEC(".maps");

/* Policy state: xcnid fills these from cluster state (see xcni_shared.h). */
struct {
	XCNI_PINNED_NP(BPF_MAP_TYPE_LPM_TRIE, XCNI_MAX_IPCACHE,
		struct xcni_ipcache_key, struct xcni_ipcache_val);
} xcni_ipcache SEC(".maps");

struct {
	XCNI_PINNED_NP(BPF_MAP_TYPE_LPM_TRIE, XCNI_MAX_IPCACHE,
		struct xcni_ipcache6_key, struct xcni_ipcache_val);
} xcni_ipcache6 SEC(".maps");

struct {
	XCNI_PINNED_NP(BPF_MAP_TYPE_HASH, XCNI_MAX_ENDPOINTS, __u32, struct xcni_polep);
} xcni_polep SEC(".maps");

struct {
	XCNI_PINNED_NP(BPF_MAP_TYPE_HASH, XCNI_MAX_POLICY,
		struct xcni_polhash_key, struct xcni_policy_val);
} xcni_policy SEC(".maps");

struct {
	XCNI_PINNED_NP(BPF_MAP_TYPE_LPM_TRIE, XCNI_MAX_POLRANGE,
		struct xcni_policy_key, struct xcni_policy_val);
} xcni_polrange SEC(".maps");

struct {
	XCNI_PINNED_NP(BPF_MAP_TYPE_LPM_TRIE, XCNI_MAX_POLCIDR, struct xcni_polcidr_key, __u32);
} xcni_polcidr SEC(".maps");

/* The overlay: the other nodes, their counters, the underlay's deny list. */
struct {
	XCNI_PINNED_NP(BPF_MAP_TYPE_HASH, XCNI_MAX_NODES, __u32, struct xcni_tunnel);
} xcni_tunnel SEC(".maps");

/* The IPv6 underlay: the other nodes by their underlay IPv6, their counters. */
struct {
	XCNI_PINNED_NP(BPF_MAP_TYPE_HASH, XCNI_MAX_NODES, struct xcni_in6, struct xcni_tunnel);
} xcni_tunnel6 SEC(".maps");

struct {
	XCNI_PINNED_NP(BPF_MAP_TYPE_PERCPU_HASH, XCNI_MAX_NODES, __u32, struct xcni_tunstat);
} xcni_tunstat SEC(".maps");

struct {
	XCNI_PINNED_NP(BPF_MAP_TYPE_PERCPU_HASH, XCNI_MAX_NODES, struct xcni_in6, struct xcni_tunstat);
} xcni_tunstat6 SEC(".maps");

struct {
	XCNI_PINNED_NP(BPF_MAP_TYPE_LPM_TRIE, XCNI_MAX_PREFILTER,
		struct xcni_prefilter_key, struct xcni_prefilter_val);
} xcni_prefilter SEC(".maps");

struct {
	XCNI_PINNED_NP(BPF_MAP_TYPE_LPM_TRIE, XCNI_MAX_PREFILTER6,
		struct xcni_prefilter6_key, struct xcni_prefilter_val);
} xcni_prefilter6 SEC(".maps");

struct {
	XCNI_PINNED_NP(BPF_MAP_TYPE_HASH, XCNI_MAX_PF16, __u32, __u32);
} xcni_pf16 SEC(".maps");

struct {
	XCNI_PINNED_NP(BPF_MAP_TYPE_HASH, XCNI_MAX_PF24, __u32, __u32);
} xcni_pf24 SEC(".maps");

/*
 * Services (kube-proxy replacement): see xcni_shared.h. xcnid writes them;
 * the programs read all but xcni_affinity, which they write too.
 */
struct {
	XCNI_PINNED_NP(BPF_MAP_TYPE_HASH, XCNI_MAX_SVC, struct xcni_svc_key, struct xcni_svc);
} xcni_svc SEC(".maps");

/* The Service frontends under kube-proxy (xcni_shared.h): from_plain's refusal only. */
struct {
	XCNI_PINNED_NP(BPF_MAP_TYPE_HASH, XCNI_MAX_EXTFE, struct xcni_svc_key, __u32);
} xcni_extfe SEC(".maps");

struct {
	XCNI_PINNED_NP(BPF_MAP_TYPE_HASH, XCNI_MAX_SVCSLOTS, struct xcni_svcslot_key, __u32);
} xcni_svcslot SEC(".maps");

struct {
	XCNI_PINNED_NP(BPF_MAP_TYPE_HASH, XCNI_MAX_BACKENDS, __u32, struct xcni_backend);
} xcni_backend SEC(".maps");

/* Never more entries than xcni_svcslot (xcni_shared.h): sized alike. */
struct {
	XCNI_PINNED_NP(BPF_MAP_TYPE_HASH, XCNI_MAX_SVCSLOTS, struct xcni_svcbe_key, __u32);
} xcni_svcbe SEC(".maps");

struct {
	XCNI_PINNED_NP(BPF_MAP_TYPE_HASH, XCNI_MAX_REVNAT, __u16, struct xcni_revnat);
} xcni_revnat SEC(".maps");

struct {
	XCNI_PINNED(BPF_MAP_TYPE_LRU_HASH, XCNI_MAX_AFFINITY,
		struct xcni_affinity_key, struct xcni_affinity);
} xcni_affinity SEC(".maps");

/*
 * Socket-level load balancing's reverse NAT (sock_lb.bpf.c): a hash, not an
 * LRU, so one pod's sockets never push out another's records; each is
 * charged to its pod (xcni_sock_own) and removed as its socket is released.
 */
struct {
	XCNI_PINNED_NP(BPF_MAP_TYPE_HASH, XCNI_MAX_SOCK_RN,
		struct xcni_sock_rn_key, struct xcni_sock_rn);
} xcni_sock_rn SEC(".maps");

/* ... and for IPv6 sockets (connect6, sendmsg6). */
struct {
	XCNI_PINNED_NP(BPF_MAP_TYPE_HASH, XCNI_MAX_SOCK_RN,
		struct xcni_sock_rn6_key, struct xcni_sock_rn6);
} xcni_sock_rn6 SEC(".maps");

/* Each pod's (cgroup's) socket-LB records: its bound; and all pods' together.
 * An LRU: a count evicted (4,096 other owners busier) restarts at 0. */
struct {
	XCNI_PINNED(BPF_MAP_TYPE_LRU_HASH, XCNI_MAX_SOCK_OWN, __u64, struct xcni_sock_own);
} xcni_sock_own SEC(".maps");

/*
 * A socket's own list of its xcni_sock_rn[6] records (socket storage: it
 * goes with the socket), so that sock_release finds and removes them and
 * gives its pod back their charge. XCNI_SOCK_SLOTS a socket: a UDP socket
 * sending to more backends at once has the further ones left to packets.
 */
#define XCNI_SOCK_SLOTS 4
struct xcni_sock_slot {
	__u8 addr[16]; /* the backend (IPv4: the first 4) */
	__u16 port; /* network order */
	__u8 family; /* XCNI_AF_*; 0: free */
	__u8 pad;
};

struct xcni_sock_slots {
	__u64 owner; /* the cgroup id charged (sock_owner_id): its xcni_sock_own key */
	struct xcni_sock_slot s[XCNI_SOCK_SLOTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct xcni_sock_slots);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xcni_sock_sk SEC(".maps");

/* TCP connections socket LB translated, by their conntrack tuple -> the Service. */
struct {
	XCNI_PINNED(BPF_MAP_TYPE_LRU_HASH, XCNI_MAX_SOCK_RN,
		struct xcni_ct_key, struct xcni_sock_flow);
} xcni_sock_flow SEC(".maps");

struct {
	XCNI_PINNED(BPF_MAP_TYPE_LRU_HASH, XCNI_MAX_SOCK_RN,
		struct xcni_ct6_key, struct xcni_sock_flow);
} xcni_sock_flow6 SEC(".maps");

/* One Maglev table: XCNI_MAGLEV_M backend ids. */
struct xcni_maglev_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XCNI_MAGLEV_M);
	__type(key, __u32);
	__type(value, __u32);
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, XCNI_MAX_MAGLEV);
	__type(key, __u32); /* xcni_maglev_key(service id, version) */
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct xcni_maglev_inner);
} xcni_maglev SEC(".maps");

struct {
	XCNI_PINNED_NP(BPF_MAP_TYPE_HASH, XCNI_MAX_ENDPOINTS, struct xcni_in6, __u32);
} xcni_polkey6 SEC(".maps");

/*
 * Names for people (xcnictl, events); the programs never read them. Not
 * preallocated: sized for a big cluster, they held ~207 MiB of kernel memory
 * a node from the start (xcni_podname 114, xcni_identity 68.5, xcni_polname
 * 24.5) and took ~0.6 s of each xcnid start to fill free lists; the agent
 * writes them from user space, where an allocation per entry costs nothing
 * that matters. Pinned ones of an older build are made again (names_map,
 * user/agent/xcnid.c).
 */
struct {
	XCNI_PINNED_NP(BPF_MAP_TYPE_HASH, XCNI_MAX_POLICIES, __u32, struct xcni_polname);
} xcni_polname SEC(".maps");

struct {
	XCNI_PINNED_NP(BPF_MAP_TYPE_HASH, XCNI_MAX_RULENAMES,
		struct xcni_rulename_key, struct xcni_rulename);
} xcni_rulename SEC(".maps");

struct {
	XCNI_PINNED_NP(BPF_MAP_TYPE_HASH, XCNI_MAX_ENDPOINTS, __u32, struct xcni_polsel);
} xcni_polsel SEC(".maps");

/* By service id. */
struct {
	XCNI_PINNED_NP(BPF_MAP_TYPE_HASH, XCNI_MAX_REVNAT, __u32, struct xcni_svcname);
} xcni_svcname SEC(".maps");

struct {
	XCNI_PINNED_NP(BPF_MAP_TYPE_HASH, XCNI_MAX_IDENTITIES, __u32, struct xcni_idlabels);
} xcni_identity SEC(".maps");

struct {
	XCNI_PINNED_NP(BPF_MAP_TYPE_HASH, XCNI_MAX_PODNAMES, __u32, struct xcni_podname);
} xcni_podname SEC(".maps");

/*
 * The IPv6 Service and NodePort paths' maps, and the value types of their
 * scratch room (per CPU, not pinned: it lives for one packet).
 */

/* What encapsulation needs from the packet, read before anything rewrites it
 * (a store invalidates every packet pointer). */
struct encap_in {
	__u16 inner_len; /* the inner IP packet's length (IPv4 tot_len, IPv6 40 + payload) */
	__u16 sport; /* the outer UDP source port: the inner flow's hash */
	__be16 inner_proto; /* ETH_P_IP or ETH_P_IPV6: the inner Ethernet's type */
	__u8 tos; /* IPv4 TOS, IPv6 traffic class: copied to the outer header */
	__u8 macs[2 * ETH_ALEN]; /* the inner Ethernet's destination and source */
	__u32 label; /* the outer IPv6 flow label (IPv6 underlay): flow_label_of */
};

/* What a translation did, for the rest of from_pod6. */
struct lb6_state {
	struct xcni_ct6_key orig; /* the tuple as the client sent it (the service entry's key) */
	__u32 backend_id;
	__u16 rev_nat; /* the frontend's, also when it had no backend (the event names it) */
	__u8 ct_flags; /* XCNI_CT_F_HAIRPIN for the flow's entry, or 0 */
	__u8 created; /* this packet made the service entry */
	__u8 translated;
	__u8 svc_flags; /* the frontend's XCNI_SVC_F_* (externalTrafficPolicy for NodePorts) */
	__u8 pad[2];
};

/* IPv4's translation state: on its caller's stack (svc_ct the flow's service
 * entry, whose state follows the flow's), or in lb6_tmp's st4 (from_pod's:
 * svc_ct unset there, a map value holds no pointer). */
struct lb4_state {
	struct xcni_ct_entry *svc_ct;
	__u32 backend_id;
	__u8 ct_flags; /* XCNI_CT_F_HAIRPIN for the flow's entry, or 0 */
	__u8 translated;
	__u8 created; /* this packet made the service entry */
	__u8 svc_flags; /* the frontend's XCNI_SVC_F_* */
	struct xcni_ct_key orig; /* the tuple as the client sent it */
};

/*
 * Room off the stack (per CPU, not pinned): from_pod6 and the global
 * functions it calls share the verifier's 512 bytes, and a translation's
 * state and the conntrack entry it builds would take it past them. A tc
 * program is not re-entered on its CPU, so one slot serves a packet at a time.
 */
struct lb6_tmp {
	struct lb6_state st;
	struct xcni_ct_entry ne;
	struct xcni_affinity_key ak; /* lb6_translate's: off its 512-byte stack */
	struct icmp_err ie[2]; /* a reader of an ICMP error's, either family (icmp_err_pair) */
	/* The flow of an IPv6 global function's packet (lb6_translate_call,
	 * np6_choose_call, np6_snat_call), worked on here and copied back: their
	 * argument is memory (PTR_TO_MEM), which 6.1's verifier refuses as a map
	 * key. */
	struct flow f;
	/* from_pod's IPv6 packet (from_pod_fam zeroes it): off from_pod6's stack, and
	 * untracked by the verifier, whose 6.1 keeps a path's state apart for
	 * every field one path zeroed and another wrote. */
	struct pkt6 p6;
	/* from_pod's IPv4 translation state (from_pod_fam zeroes it): untracked,
	 * as p6 is, so 6.1 merges the paths after the translation. */
	struct lb4_state st4;
};

struct {
	XCNI_MAP(BPF_MAP_TYPE_PERCPU_ARRAY, 1, __u32, struct lb6_tmp);
} xcni_lb6_tmp SEC(".maps");

/* Either family's SNATed flows: a map of their own, written only by the SNAT
 * (each new tuple charged to its client's budget, xcni_snat_cl), so a pod's
 * conntrack flood never reaches it (docs/decisions/snat-own-map.md). */
#ifndef XCNI_MAX_SNAT
#define XCNI_MAX_SNAT 131072
#endif

/* The SNATed flow's tuple (this node's address:port -> backend; IPv4's then
 * zeros) -> its client, the frontend and the record's life. Pinned: a
 * restarted agent's programs find the flows open before. */
struct {
	XCNI_PINNED(BPF_MAP_TYPE_LRU_HASH, XCNI_MAX_SNAT, union xcni_tuple, struct xcni_snat);
} xcni_snat SEC(".maps");

/* An outside client's budget of new NodePort SNAT tuples (struct xcni_snat_cl).
 * Pinned: a restarted agent's programs keep the budgets. */
#ifndef XCNI_MAX_SNAT_CL
#define XCNI_MAX_SNAT_CL 65536
#endif
struct {
	XCNI_PINNED(BPF_MAP_TYPE_LRU_HASH, XCNI_MAX_SNAT_CL,
		struct xcni_snat_cl_key, struct xcni_snat_cl);
} xcni_snat_cl SEC(".maps");

/* The outside clients known (their xcni_snat_cl key -> when a TCP tuple of
 * theirs was last confirmed): written only by np_snat_confirm, at the ACK of
 * the backend's SYN-ACK's sequence + 1, which a blind spoofer never sees. A
 * map of its own: spoofed sources, which make xcni_snat_cl buckets at will,
 * can neither write an entry here nor push one out. Pinned, as the budgets. */
#ifndef XCNI_MAX_SNAT_KNOWN
#define XCNI_MAX_SNAT_KNOWN 8192
#endif
struct {
	XCNI_PINNED(BPF_MAP_TYPE_LRU_HASH, XCNI_MAX_SNAT_KNOWN, struct xcni_snat_cl_key, __u64);
} xcni_snat_known SEC(".maps");

/*
 * This node's IPv6 InternalIP (all 0: none), the SNAT source of an external
 * frontend that is not the node's own address; slot 0, written by xcnid at
 * every Service sync. Pinned: xcnid opens it by its path.
 */
struct xcni_self6 {
	__u8 addr[16];
};

struct {
	XCNI_PINNED(BPF_MAP_TYPE_ARRAY, 1, __u32, struct xcni_self6);
} xcni_self6 SEC(".maps");

/*
 * Room off the stack (per CPU, not pinned), as xcni_lb6_tmp: under from_overlay's
 * ovl_outside6 the frames of np6_snat_call and of what it calls would
 * pass the verifier's 512 bytes with these in them.
 */
struct np6_tmp {
	struct xcni_ct6_key k; /* lb_snat_port's IPv6 candidate */
	struct xcni_svc_key fk; /* ... and the frontend it must not be (snat_port_ok) */
	struct xcni_snat sn; /* np_snat_open's record; np_snat_port_call's client */
	struct xcni_ct_entry ce; /* np_snat_reopen's entry */
	/* np_snat_port_call's, off its frame (under ovl_outside6's chain):
	 * the clock, the flow's hash, the random start, the family, opens, how many
	 * tries, the first answered-never-confirmed tuple's port (0: none) */
	__u64 now;
	__u32 h, start, fam, opens, tries, spare;
	struct xcni_snat_cl_key ck, nk; /* np_snat_tokens': the client's, the node's */
	struct xcni_snat_cl ncl; /* np_snat_charge's new bucket */
	struct encap_in in;
	__u8 ul6[16]; /* node_ip6, copied where a pointer to it may be kept */
	/* the XDP fast path's (nodeport_xdp.h xdp_nodeport6), off its frame: the
	 * outer headers (struct outer_hdrs, encap.h), the FIB lookup */
	__u32 outer[14];
	struct bpf_fib_lookup fib;
};

struct {
	XCNI_MAP(BPF_MAP_TYPE_PERCPU_ARRAY, 1, __u32, struct np6_tmp);
} xcni_np6_tmp SEC(".maps");

/*
 * The XDP NodePort flow cache (lib/nodeport_cache.h): per CPU, an
 * established flow from outside (key: its tuple as the client sent it, either
 * family, union xcni_tuple) with what the full path (np_plan, npx_apply)
 * wrote for its last packet: the outer headers ready to copy, the
 * translated tuple. Filled only after the full path sent a packet of the
 * flow (XDP_TX); good for one generation (xcni_npgen) and one second.
 * LRU: a flood of new flows evicts entries, and an evicted flow takes the
 * full path again.
 */
struct {
	XCNI_PINNED(BPF_MAP_TYPE_LRU_PERCPU_HASH, XCNI_MAX_NPC, union xcni_tuple, struct xcni_npc);
} xcni_npc SEC(".maps");

/*
 * The cache's generation (array of one __u64): xcnid adds one after every
 * generation it applied (policy, nodes, Services and backends), so every
 * entry made before is refused from the next packet on.
 */
struct {
	XCNI_PINNED(BPF_MAP_TYPE_ARRAY, 1, __u32, __u64);
} xcni_npgen SEC(".maps");

/* The cache's scratch, per CPU, off the frames: the tuple and generation a
 * miss noted for the fill after the full path, and the entry it builds. */
struct npc_tmp {
	union xcni_tuple key;
	__u64 gen;
	__u32 armed, fam;
	struct xcni_npc v;
};

struct {
	XCNI_MAP(BPF_MAP_TYPE_PERCPU_ARRAY, 1, __u32, struct npc_tmp);
} xcni_npc_tmp SEC(".maps");

/*
 * Egress by DNS name (lib/dns.h writes xcni_fqdn, xcni_fqdn_ring and
 * xcni_fqdn_stats from the DNS answers into a pod; xcnid writes the
 * patterns and the sources; lib/policy.h reads xcni_fqdn for the verdict).
 */
/* The DNS Service's frontends and backends: xcnid writes them. */
struct {
	XCNI_PINNED_NP(BPF_MAP_TYPE_HASH, XCNI_MAX_DNS_SRV, struct xcni_dns_srv_key, __u32);
} xcni_dns_srv SEC(".maps");

/* The patterns that apply to each pod: xcnid writes them. */
struct {
	XCNI_PINNED_NP(BPF_MAP_TYPE_HASH, XCNI_MAX_FQDN_PAT,
		struct xcni_fqdn_pat_key, struct xcni_fqdn_pat);
} xcni_fqdn_pat SEC(".maps");

/* The addresses learned, per pod: written here alone. Not an LRU, whose
 * eviction would take another pod's: a pod's ring (xcni_fqdn_ring) holds
 * at most XCNI_FQDN_PER_POD of them and gives up its oldest for a new one. */
struct {
	XCNI_PINNED_NP(BPF_MAP_TYPE_HASH, XCNI_MAX_FQDN,
		struct xcni_fqdn_key, struct xcni_fqdn_val);
} xcni_fqdn SEC(".maps");

struct {
	XCNI_PINNED_NP(BPF_MAP_TYPE_HASH, XCNI_MAX_ENDPOINTS, __u32, struct xcni_fqdn_ring);
} xcni_fqdn_ring SEC(".maps");

struct {
	XCNI_PINNED(BPF_MAP_TYPE_PERCPU_ARRAY, XCNI_FQDN_NR_STATS, __u32, __u64);
} xcni_fqdn_stats SEC(".maps");

#endif
