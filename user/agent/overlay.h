/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xcnid's overlay: the underlay device (XDP prefilter, tc decapsulation), the
 * overlay device xcni0 the host routes remote pod CIDRs to (tc
 * encapsulation), and the tunnel view built from Node objects.
 */
#ifndef XCNID_OVERLAY_H
#define XCNID_OVERLAY_H

#include <linux/types.h>
#include <stdbool.h>
#include <string.h>

#include "xcni_shared.h"
#include "lib/system/attach.h"

struct bpf_object;

#include "lib/cluster/store.h"

struct from_pod;
struct opts;
struct from_overlay;
struct snat_held;
struct to_overlay;
struct to_underlay;
struct xdp_underlay;

enum xdp_want {
	XDP_WANT_AUTO, /* native where the driver has it, else generic */
	XDP_WANT_NATIVE,
	XDP_WANT_GENERIC,
	XDP_WANT_OFF,
	XDP_WANT_TC, /* no XDP: the prefilter in from_overlay (tc ingress) */
};

/*
 * A map's size other than the built-in default: xcnid --map-max NAME=N (user:
 * never changed), or the agent's own (pins.c map_sizes_node: from the node;
 * check_pinned_layout: what a pinned map already is). The last entry naming a
 * map wins; the agent's come first.
 */
struct map_max {
	char name[16];
	__u32 n;
	__u32 asked; /* n before a pinned map's size was kept (pinned_keep); 0: n */
	__u32 flags; /* with has_flags: a pinned map's, kept */
	bool user, has_flags;
};
#define MAP_MAX_OVERRIDES 48 /* --map-max's */
#define MAP_MAX_ALL 128 /* with the agent's own */

/* Sets every override that names a map of obj; the number of maps set. */
int map_max_apply(struct bpf_object *obj, const struct map_max *mm, int n);

struct overlay {
	/* asked for */
	struct map_max *map_max; /* the sizes, applied on load to every object */
	int nmap_max;
	const char *underlay; /* device name; NULL: no overlay */
	__u32 node_ip; /* network order; 0: the underlay's first IPv4 */
	/* The IPv6 underlay address: --node-ip with an IPv6 address, or (no
	 * --node-ip) the underlay's first global IPv6. All 0: none. */
	__u8 node_ip6[16];
	/* --tunnel-family ipv6: a node of both families reaches every node
	 * that has an IPv6 InternalIP at that one (tunnel_underlay6). */
	bool prefer6;
	/* The other nodes are reached at their IPv6 InternalIP wherever they
	 * have one, and Geneve costs XCNI_ENCAP6_LEN: IPv6 only (node_ip 0), or
	 * both with prefer6 (tunnel_underlay6, set by overlay_resolve). False
	 * on a node with both by default: IPv4 to the nodes that have an IPv4
	 * InternalIP, IPv6 to the IPv6-only ones (tunnel_fam). */
	bool underlay6;
	/* Each family over its own underlay (pol_opts' same_fam): set by xcnid
	 * where the kernel lacks Geneve between families (probe
	 * adjust-room-decap-l3), kept by overlay_resolve only on a node of
	 * both families with underlay6 false. IPv6 then goes to the other
	 * nodes' IPv6 InternalIP, and the pods' MTU is the IPv6 underlay's. */
	bool same_fam;
	__u32 vni;
	enum xdp_want xdp_want;
	bool lb; /* --kube-proxy-replacement: the NodePort fast path may be attached */
	/* from_overlay's and xdp_underlay's snat_cl_burst, snat_cl_tok_ns,
	 * snat_cl_max (--snat-client-burst, --snat-client-rate,
	 * --snat-client-max; 0: the programs' defaults) */
	__u32 snat_cl_burst;
	__u32 snat_cl_tok_ns;
	__u32 snat_cl_max;
	/* --nodeport-acceleration: XCNI_NPA_NATIVE or XCNI_NPA_GENERIC (the NodePort
	 * fast path in xdp_underlay, attached so), XCNI_NPA_OFF; np_accel_mode: how
	 * it ended up attached (native falls back to generic, logged). */
	__u8 np_accel;
	__u8 np_accel_mode;
	/* --overlay-decap xdp: Geneve from the nodes decapsulated in xdp_underlay
	 * (native XDP only: lib/decap_xdp.h), so that GRO merges the inner flow.
	 * decap_cookie:
	 * the random record cookie both programs share (struct xcni_decap_meta),
	 * kept across restarts (XCNI_PIN_DECAP_COOKIE, overlay.c). */
	bool decap_xdp;
	bool decap_cookie_kept; /* the pinned one, an earlier agent's */
	__u32 decap_cookie[2];
	/* --attach / XCNI_ATTACH: TCX (else tc clsact where missing), or tc forced;
	 * tc also puts XDP on through netlink rather than a bpf_link. */
	enum xcni_attach attach;
	/* found and made */
	int underlay_ifindex;
	unsigned int underlay_mtu;
	int dev_ifindex; /* xcni0 */
	__u32 xdp_mode; /* XDP_FLAGS_DRV_MODE or XDP_FLAGS_SKB_MODE, 0 if none */
	/* A node with both addresses has an IPv6 tunnel to some node (the last
	 * overlay_sync_nodes): the pods' MTU is then the IPv6 underlay's. */
	bool tun6_used;
	/* The nodes no underlay family reaches (tunnel_fam 0), as last
	 * logged: each is named once when it becomes one, not per generation. */
	char **unreach;
	size_t nunreach;
	struct from_overlay *in;
	struct to_overlay *out;
	struct to_underlay *ul_out;
	struct xdp_underlay *xdp;
	struct snat_held *held; /* with lb: the clients' SNAT tuples counted */
};

/* This node has an IPv6 underlay address (only, or beside its IPv4 one). */
static inline bool overlay_has6(const struct overlay *ov)
{
	static const __u8 none[16];

	return memcmp(ov->node_ip6, none, 16) != 0;
}

/*
 * The MTU of xcni0 and of new pods (one place for xcni0, xcni_config and the
 * log): the underlay's less what Geneve adds there, the worst of the
 * families in use: XCNI_ENCAP6_LEN on the IPv6 underlay, or on a node with
 * both addresses once some node is reached over IPv6 (or IPv6 always is:
 * same_fam); else XCNI_ENCAP_LEN.
 */
static inline unsigned int overlay_pod_mtu(const struct overlay *ov)
{
	bool v6 = ov->underlay6 || ov->same_fam || (ov->tun6_used && overlay_has6(ov));

	return ov->underlay_mtu - (v6 ? XCNI_ENCAP6_LEN : XCNI_ENCAP_LEN);
}

/* Finds the underlay device and its address. 0 or -errno (said why). */
int overlay_resolve(struct overlay *ov);
/* Loads the overlay programs with the node's settings, o's (agent/settings.c),
 * after from_pod pinned the maps. */
int overlay_load(struct overlay *ov, const char *pin_dir, const struct opts *o);
/* Creates or adopts xcni0 and attaches (or swaps in) the four programs. */
int overlay_attach(struct overlay *ov, const char *pin_dir);
/* The tunnel map, counters and xcni0 routes for the Nodes of the cluster. */
int overlay_sync_nodes(struct overlay *ov, const struct cluster *c, const char *node_name);
void overlay_free(struct overlay *ov);
/*
 * Removes what overlay_attach made on this node, whichever way it was
 * attached: the underlay's programs (TCX links or tc filters, the clsact
 * qdisc xcnid made, XDP) and xcni0 with its routes. 0 or -errno.
 */
int overlay_uninstall(const char *pin_dir, const char *underlay);

#endif
