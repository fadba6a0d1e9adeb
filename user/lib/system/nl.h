/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One netlink helper over libmnl. Every call returns 0 or -errno; when the
 * kernel attached an extended-ack message to an error it is kept in
 * nl->errmsg so callers can say what the kernel said.
 */
#ifndef XCNI_NL_H
#define XCNI_NL_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

struct mnl_socket;

struct nl {
	struct mnl_socket *sock;
	unsigned int portid;
	unsigned int seq;
	char errmsg[256];
};

struct nl_link {
	int ifindex;
	char name[IF_NAMESIZE];
	char kind[16];
	char alias[256];
	uint8_t mac[6];
	unsigned int mtu;
	unsigned int flags;
	int link; /* IFLA_LINK: the veth peer's ifindex */
	int link_netnsid; /* IFLA_LINK_NETNSID: the peer's netns as this one numbers it, or -1 */
	uint8_t xdp_attached; /* IFLA_XDP_ATTACHED: XDP_ATTACHED_NONE, _DRV, _SKB, _HW, _MULTI */
	uint32_t xdp_drv_prog; /* the native (driver) XDP program's id, 0 if none */
	int addr_gen_mode; /* IFLA_INET6_ADDR_GEN_MODE (IN6_ADDR_GEN_MODE_*), -1: no IPv6 */
};

/* A route of either family: af AF_INET (0 is taken as it) or AF_INET6, its
 * addresses in network byte order (dst, gw, prefsrc; dst6, gw6, prefsrc6); a
 * gateway or preferred source of all zeros is none. */
struct nl_route {
	int af;
	union { uint32_t dst; struct in6_addr dst6; };
	uint8_t dst_len;
	union { uint32_t gw; struct in6_addr gw6; };
	int oif;
	uint8_t scope;
	union { uint32_t prefsrc; struct in6_addr prefsrc6; };
};

/* Opens a route netlink socket in the calling thread's current netns. */
int nl_open(struct nl *nl);
void nl_close(struct nl *nl);

/* Creates a veth pair: name in this netns, peer in peer_ns_fd (or here if < 0). */
int nl_veth_add(struct nl *nl, const char *name, const char *peer, int peer_ns_fd,
		unsigned int mtu);
int nl_link_del(struct nl *nl, int ifindex);
/* Moves the link ifindex into the netns ns_fd, named name there. */
int nl_link_move(struct nl *nl, int ifindex, int ns_fd, const char *name);
/* Sets (or clears) the link flags in change to their values in flags (IFF_*). */
int nl_link_set_flags(struct nl *nl, int ifindex, unsigned int flags, unsigned int change);
/* Sets the link's GSO and GRO maximum sizes, IPv4 BIG TCP's included. */
int nl_link_set_gso(struct nl *nl, int ifindex, unsigned int size);
/* Sets an existing link's MTU. */
int nl_link_set_mtu(struct nl *nl, int ifindex, unsigned int mtu);
int nl_link_get(struct nl *nl, const char *name, struct nl_link *out);
/*
 * The link ifindex of the netns this one numbers netnsid (IFLA_TARGET_NETNSID:
 * a veth's peer, from the nl_link's link and link_netnsid), or of this netns
 * when netnsid < 0.
 */
int nl_link_get_index(struct nl *nl, int ifindex, int netnsid, struct nl_link *out);
/* Attaches the XDP program fd to ifindex (flags: XDP_FLAGS_*), or detaches with fd -1. */
int nl_link_set_xdp(struct nl *nl, int ifindex, int fd, uint32_t flags);
/*
 * Sets the link up and, if alias is not NULL, its alias; what the link has
 * already is not written again (a link already so is left without a state
 * change, which would make IPv6 send its MLD reports again).
 */
int nl_link_up(struct nl *nl, int ifindex, const char *alias);
/*
 * The same, for a link that carries IPv4 only: no IPv6 link-local address is
 * generated, so the link sends no router solicitations or neighbour discovery
 * (MLD reports still go out when it comes up: it joins ff02::2 where the node
 * forwards).
 */
int nl_link_up_ipv4(struct nl *nl, int ifindex, const char *alias);
typedef int (*nl_link_cb)(const struct nl_link *l, void *arg);
int nl_link_dump(struct nl *nl, nl_link_cb cb, void *arg);

int nl_addr_add(struct nl *nl, int ifindex, uint32_t addr, uint8_t plen, uint8_t scope);
/* 1 if ifindex carries addr/plen, 0 if not, -errno on failure. */
int nl_addr_has(struct nl *nl, int ifindex, uint32_t addr, uint8_t plen);

/* An IPv6 address, usable at once (no duplicate address detection). */
int nl_addr6_add(struct nl *nl, int ifindex, const struct in6_addr *addr, uint8_t plen);
/* As nl_addr6_add, deprecated (preferred lifetime 0): the host answers on it
 * but never picks it as a new flow's source (RFC 6724 rule 3). */
int nl_addr6_add_spare(struct nl *nl, int ifindex, const struct in6_addr *addr, uint8_t plen);
int nl_addr6_has(struct nl *nl, int ifindex, const struct in6_addr *addr, uint8_t plen);

/* Routes of the main table: add (exclusive); add, or replace what it holds for r's
 * destination; delete. */
int nl_route_add(struct nl *nl, const struct nl_route *r);
int nl_route_replace(struct nl *nl, const struct nl_route *r);
int nl_route_del(struct nl *nl, const struct nl_route *r);
/* The routes of family af of the main table through oif. */
typedef int (*nl_route_cb)(const struct nl_route *r, void *arg);
int nl_route_dump_oif(struct nl *nl, int af, int oif, nl_route_cb cb, void *arg);
/* The first IPv4 address on ifindex (network order), or -ENOENT. */
int nl_addr_first(struct nl *nl, int ifindex, uint32_t *addr);
/* The first global IPv6 address of ifindex (the IPv6 underlay's): 0, -ENOENT or -errno. */
int nl_addr6_first(struct nl *nl, int ifindex, struct in6_addr *addr);
/* 1 if the main table holds a route matching dst/len (and gw, oif if set). */
int nl_route_has(struct nl *nl, const struct nl_route *r);

/* A permanent IPv6 neighbour entry ip -> mac on ifindex (replacing one there). */
int nl_neigh6_add(struct nl *nl, int ifindex, const struct in6_addr *ip, const uint8_t mac[6]);
/* 1 if ifindex holds a permanent entry ip -> mac, 0 if not, -errno on failure. */
int nl_neigh6_has(struct nl *nl, int ifindex, const struct in6_addr *ip, const uint8_t mac[6]);

/*
 * How many tc filters ifindex has under parent (e.g. the clsact qdisc's
 * ingress, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS)), or -errno: before a
 * clsact qdisc goes, nobody else's filters may be left on it.
 */
int nl_tc_filter_count(struct nl *nl, int ifindex, uint32_t parent);

/* One tc filter as a dump shows it. */
struct nl_tc_filter {
	uint32_t prio; /* the lower runs first */
	uint32_t handle;
	char kind[16]; /* "bpf", "u32", "flower", ... */
	char name[64]; /* a bpf filter's program name (TCA_BPF_NAME), else "" */
	uint32_t prog_id; /* a bpf filter's program id, else 0 */
};

/*
 * The filter that runs first on parent (chain 0: the others run only when a
 * filter jumps there): the kernel dumps a hook's filters in the order it runs
 * them (by priority, then each classifier's own list). 1 with *out filled, 0
 * when there is none, or -errno.
 */
int nl_tc_filter_first(struct nl *nl, int ifindex, uint32_t parent, struct nl_tc_filter *out);

/* Enters the network namespace behind fd (setns). */
int nl_netns_enter(int fd);
/*
 * Sets the sysctl at path (under /proc/sys, in the netns the caller is in)
 * to val unless it already is (val NULL: only reads it); *was (if set) gets
 * the old first character. 0 or -errno; -ENOENT when the kernel has no such
 * setting.
 */
int xcni_sysctl(const char *path, const char *val, char *was);

/* Creates a Linux bridge (the kernel's defaults: no STP, so ports forward at once). */
int nl_bridge_add(struct nl *nl, const char *name);
/* Enslaves ifindex to the bridge (or bond) master_ifindex; 0 releases it. */
int nl_link_set_master(struct nl *nl, int ifindex, int master_ifindex);

#endif
