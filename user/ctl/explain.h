/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What explain.c (the policy walk of a flow between two ends) and
 * explain_svc.c (a flow to a Service: the translation, then the policy per
 * backend) share. Internal to xcnictl explain.
 */
#ifndef XCNI_CTL_EXPLAIN_H
#define XCNI_CTL_EXPLAIN_H

#include "ctl/ctl.h"

/* The maps of the node that decides one side. */
struct node_maps {
	const char *dir; /* the pin dir they are under */
	char node[64]; /* xcni_config.node_name; "" before xcnid wrote it */
	__u32 pod_cidr; /* this node's, network order */
	__u8 pod_cidr_len;
	int ipcache, podname, polep, policy, polrange, polcidr, polname, identity, polsel;
	int rulename; /* -1: an agent without rule names */
	int ipcache6, polkey6; /* -1: maps of an agent without IPv6 */
	/* -1 when absent: a local pod's policy key as the programs find it
	 * (endpoints6, then ifindex), and the node names behind tunnel_ip
	 * (tunnel) and tunnel_ip6 (tunnel6, an agent of ABI 9 on). */
	int endpoints6, ifindex, tunnel, tunnel6;
	int endpoints, fqdn, fqdn_pat; /* -1 when absent: the addresses pods learned by name */
	/* The underlay families this node has an address in (xcni_config). */
	bool ul4, ul6;
	/* xcnid enforces policy there (XCNI_CFG_F_POLICY): a pod with no polep entry is pending. */
	bool enforcing;
	/* explain --node all: every lab node's maps, this one among them (a
	 * side is read where its pod lives); NULL when one or two dirs were given. */
	const struct node_maps *peers;
	size_t npeers;
};

/* One end of the flow, as the source node's maps see it. */
struct flow_end {
	__u32 ip; /* IPv4; for an IPv6 end the pod's policy key (0: no local pod) */
	bool v6;
	__u8 ip6[16];
	bool is_pod;
	char pod[330]; /* "ns/name" when xcni_podname knows the address */
	char node[64]; /* the node xcni_podname puts the pod on */
	struct xcni_ipcache_val ipc;
};

struct flow {
	struct flow_end src, dst;
	__u8 proto;
	__u16 port; /* host order; 0 for protocols without ports */
};

/* The Service maps of the source node, where the translation happens. */
struct svc_view {
	int svc, slot, be, maglev, name, affinity, ct, ct6; /* the last five: -1 when absent */
};

/* A node's policy maps under dir (its xcni_config read first); closed with node_maps_close. */
int node_maps_open(const struct ctl_ctx *c, const char *dir, struct node_maps *m);
void node_maps_close(struct node_maps *m);
/* Of m's peers (--node all), the maps of node; dflt when there are none or no such node. */
const struct node_maps *node_maps_of(const struct node_maps *m, const char *node,
				     const struct node_maps *dflt);
/* Whether the end arg makes the flow IPv6 (an IPv6 address, or a pod with IPv6 only). */
bool end_is_v6(const struct node_maps *m, const char *arg);
/* SRC or DST into e, on the source node's maps m (alt: the destination node's). */
int flow_end_resolve(const struct ctl_ctx *c, const struct node_maps *m,
		     const struct node_maps *alt, const char *arg, bool v6, struct flow_end *e);
/* Both sides of f walked into a record (*out); *verdict "allowed", "denied", "unknown". */
int explain_flow(const struct node_maps *sm, const struct node_maps *dm, const struct flow *f,
		 struct ptable **out, const char **verdict);
/* The source end's columns of a record. */
void end_row(struct ptable *t, const struct flow_end *e);
/*
 * explain --kubeconfig: each node's record (its agent's explain -o json; NULL
 * where none answered) as one, printed as explain prints: the egress side
 * from the source pod's node, the ingress side from the destination's, one
 * verdict for the path. 0 or -errno.
 */
int explain_merge_show(const struct ctl_ctx *c, json_t *const *recs, size_t n);
/* v's tunnel endpoint of either family into addr, the node m's tunnel maps
 * name for it into node ("" if none): addr, NULL when v has no tunnel. */
const char *tunnel_of(const struct node_maps *m, const struct xcni_ipcache_val *v,
		      char addr[INET6_ADDRSTRLEN], char *node, size_t len);

/* explain_svc.c */
/* -ENOENT quietly when the node has no Service maps at all. */
int svc_view_open(const struct ctl_ctx *c, const char *dir, struct svc_view *v);
void svc_view_close(struct svc_view *v);
/* The translation and the verdict per backend; 1 when key0 is not a frontend. */
int explain_service(const struct ctl_ctx *c, const struct node_maps *sm, const struct node_maps *dm,
		    const struct svc_view *v, const struct flow *f0,
		    const struct xcni_svc_key *key0);

#endif
