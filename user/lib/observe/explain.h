/* SPDX-License-Identifier: Apache-2.0 */
/*
 * explain's core: the lookups bpf/lib/policy.h makes for a new flow's first
 * packet, walked in the same order on a node's live maps, into one record
 * (a ptable of explain_cols). xcnictl explain prints it; the agent answers
 * request=explain with it (user/agent/flows_serve.c), in its loop. Nothing
 * here prints: an error is said in the buffer explain_maps_open was given.
 */
#ifndef XCNI_POLICY_EXPLAIN_H
#define XCNI_POLICY_EXPLAIN_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>

#include "xcni_shared.h"
#include "lib/policy/nearmiss.h"
#include "lib/policy/polsync.h"
#include "lib/system/print.h"

struct node_maps;
struct flow_end;
/* How a caller opens dir/name: the fd or -errno, said by the opener (xcnictl
 * checks each map's layout); quiet: a map explain can do without. */
typedef int node_map_open_fn(const char *dir, const char *name, bool quiet);
/* An isolated side's near misses (self -> other egress, other -> self
 * ingress; proto/port host order) into buf, "; "-joined, "" for none. */
typedef void node_near_fn(void *arg, const struct node_maps *m, const struct flow_end *self,
			  const struct flow_end *other, enum nm_part dir, __u8 proto, __u16 port,
			  char *buf, size_t len);

/* The maps of the node that decides one side. */
struct node_maps {
	const char *dir; /* the pin dir they are under */
	char node[64]; /* xcni_config.node_name; "" before xcnid wrote it */
	__u32 pod_cidr; /* this node's, network order */
	__u8 pod_cidr_len;
	int ipcache, podname, polep, policy, polrange, polcidr, polname, identity, polsel;
	int rulename; /* -1: an agent without rule names */
	int ipcache6; /* -1: maps of an agent without IPv6 (nor k6.polkey6) */
	struct polkey6_maps k6; /* a local pod's IPv6 policy key */
	/* -1 when absent: the node names behind tunnel_ip (tunnel) and
	 * tunnel_ip6 (tunnel6, an agent of ABI 9 on). */
	int tunnel, tunnel6;
	int endpoints, fqdn, fqdn_pat; /* -1 when absent: the addresses pods learned by name */
	/* The underlay families this node has an address in (xcni_config). */
	bool ul4, ul6;
	/* xcnid enforces policy there (XCNI_CFG_F_POLICY): a pod with no polep entry is pending. */
	bool enforcing;
	/* explain --node all: every lab node's maps, this one among them (a
	 * side is read where its pod lives); NULL when one or two dirs were given. */
	const struct node_maps *peers;
	size_t npeers;
	/* Where an error is said (explain_maps_open's why); the near misses, NULL: none. */
	char *why;
	size_t whylen;
	node_near_fn *near;
	void *near_arg;
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

/* The columns of explain's record (src_text ... verdict). */
extern const struct pt_col explain_cols[];
extern const size_t explain_ncols;

/*
 * A node's policy maps under dir (its xcni_config read first), through open
 * (NULL: plain bpf_obj_get, said in why); errors of this and every call on
 * m are said in why (len bytes, which must outlive m). Closed with
 * explain_maps_close. 0 or -errno.
 */
int explain_maps_open(const char *dir, struct node_maps *m, node_map_open_fn *open, char *why,
		   size_t len);
void explain_maps_close(struct node_maps *m);
/* Of m's peers (--node all), the maps of node; dflt when there are none or no such node. */
const struct node_maps *explain_maps_of(const struct node_maps *m, const char *node,
				     const struct node_maps *dflt);
/* Whether the end arg makes the flow IPv6 (an IPv6 address, or a pod with IPv6 only). */
bool explain_end_is_v6(const struct node_maps *m, const char *arg);
/* SRC or DST into e, on the source node's maps m (alt: the destination node's). */
int explain_end_resolve(const struct node_maps *m, const struct node_maps *alt, const char *arg,
		     bool v6, struct flow_end *e);
/* Both sides of f walked into a record (*out); *verdict "allowed", "denied", "unknown". */
int explain_flow(const struct node_maps *sm, const struct node_maps *dm, const struct flow *f,
		 struct ptable **out, const char **verdict);
/* The source end's columns of a record. */
void explain_end_row(struct ptable *t, const struct flow_end *e);
/* v's tunnel endpoint of either family into addr, the node m's tunnel maps
 * name for it into node ("" if none): addr, NULL when v has no tunnel. */
const char *explain_tunnel_of(const struct node_maps *m, const struct xcni_ipcache_val *v,
		      char addr[INET6_ADDRSTRLEN], char *node, size_t len);
/*
 * The NetworkPolicies that select local pod ip for dir (xcni_polsel, names
 * from xcni_polname) into buf: "x/a, x/b" ("x/a,x/b" for JSON), the first
 * XCNI_POLSEL_IDS by name, then " and N more" in text. How many select it:
 * 0 when nothing says (no entry, or maps of an agent without polsel).
 */
unsigned int xcni_isolating_policies(int selfd, int namefd, __u32 ip, __u8 dir, bool json, char *buf,
				size_t len);
const char *xcni_reserved_identity(__u32 id);
/* "80/TCP", "53/udp", "9/sctp", "icmp": 0 or -EINVAL (not said: PORT_PROTO_WANT says what is). */
int explain_port_proto(const char *s, __u8 *proto, __u16 *port);
#define PORT_PROTO_WANT "expected PORT/tcp, PORT/udp or PORT/sctp with PORT 1 to 65535, or icmp"

#endif
