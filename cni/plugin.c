// SPDX-License-Identifier: Apache-2.0
/*
 * xcni, the CNI plugin: cmd_add, cmd_check and cmd_del side by side, then GC,
 * STATUS and VERSION. ADD undoes its own steps when a later one fails.
 *
 *   host netns                          pod netns (CNI_NETNS)
 *   xc<hash> (gateway/32) <--veth--> CNI_IFNAME (pod/32)
 *   route pod/32 dev xc<hash>           route gw/32 dev CNI_IFNAME scope link
 *                                       default via gw
 *   IPv6 (one or both families, as IPAM gives them):
 *   xc<hash> fe80::1/64                 CNI_IFNAME pod6/128 (no DAD, no RA)
 *   route pod6/128 dev xc<hash>         default via fe80::1 dev CNI_IFNAME
 *   neigh pod6 lladdr <pod MAC> PERM    neigh fe80::1 lladdr <host MAC> PERM
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/system/cidr.h"
#include "lib/system/nl.h"
#include "lib/system/readall.h"
#include "lib/system/util.h"
#include "lib/system/version.h"
#include "plugin.h"

/* ---- ADD -------------------------------------------------------------- */

/*
 * IPv4 BIG TCP on both ends of the pair: same-node TCP moves in 185K super-
 * packets instead of 64K ones. Not with the overlay (Geneve lengths are 16
 * bits), and quietly not on a kernel without it (< 6.3) unless asked for.
 */
static int big_tcp(struct cni_ctx *c, const struct xcni_dp *dp, struct netns *ns, int host_ifindex,
		   const char *pod_if)
{
	struct nl_link pl;
	int err;

	if (c->conf.big_tcp == XCNI_BIG_TCP_OFF ||
	    (c->conf.big_tcp == XCNI_BIG_TCP_AUTO && dp->pod_mtu))
		return 0;
	err = nl_link_set_gso(&ns->host, host_ifindex, XCNI_BIG_TCP_SIZE);
	if (!err)
		err = nl_link_get(&ns->pod, pod_if, &pl);
	if (!err)
		err = nl_link_set_gso(&ns->pod, pl.ifindex, XCNI_BIG_TCP_SIZE);
	if (err && c->conf.big_tcp == XCNI_BIG_TCP_AUTO)
		return 0;
	if (err)
		cni_nl_fail(c, err == -EINVAL ? &ns->host : &ns->pod, err,
			"enable BIG TCP (\"bigTCP\": true; needs Linux >= 6.3)");
	return err;
}

/* The IPv4 half: gateway on the host end, host route, pod address and routes. */
static int add_ipv4(struct cni_ctx *c, struct netns *ns, const struct nl_link *hl,
		    const struct nl_link *pl, const struct xcni_ipam *ipam)
{
	struct nl_route to_pod = { .dst = ipam->ip, .dst_len = 32, .oif = hl->ifindex,
				   .scope = RT_SCOPE_LINK };
	struct nl_route to_gw = { .dst = ipam->gw, .dst_len = 32, .oif = pl->ifindex,
				  .scope = RT_SCOPE_LINK };
	json_t *r;
	size_t i;
	int err;

	/* Each step after its failpoint (a test's injected failure). */
	if ((err = xcni_failpoint("host-addr") ?:
		   nl_addr_add(&ns->host, hl->ifindex, ipam->gw, 32, RT_SCOPE_UNIVERSE)))
		return cni_nl_fail(c, &ns->host, err, "add gateway address to host veth");
	if ((err = xcni_failpoint("host-route") ?: nl_route_add(&ns->host, &to_pod)))
		return cni_nl_fail(c, &ns->host, err, "add host route to pod");
	if ((err = xcni_failpoint("pod-addr") ?:
		   nl_addr_add(&ns->pod, pl->ifindex, ipam->ip, 32, RT_SCOPE_UNIVERSE)))
		return cni_nl_fail(c, &ns->pod, err, "add pod address");
	err = xcni_failpoint("pod-route") ?: nl_route_add(&ns->pod, &to_gw);
	json_array_foreach(ipam->routes, i, r) {
		struct nl_route rt = { .gw = ipam->gw, .oif = pl->ifindex };

		if (err)
			break;
		if (xcni_cidr4_parse(json_string_value(json_object_get(r, "dst")), &rt.dst,
				     &rt.dst_len))
			continue; /* IPv6: add_ipv6's */
		err = nl_route_add(&ns->pod, &rt);
	}
	return err ? cni_nl_fail(c, &ns->pod, err, "add pod routes") : 0;
}

/*
 * The pod end's IPv6 settings, in the pod's netns: IPv6 on (on lo too, as a
 * pod with an IPv6 address expects ::1), no duplicate address detection (the
 * link has one other end, ours: DAD would only hold the address tentative for
 * a second), no router advertisements taken (routes come from IPAM, and none
 * may come from elsewhere). *lo_was gets lo's old disable_ipv6, for undo.
 */
static int pod_ipv6_conf(struct cni_ctx *c, struct netns *ns, const char *pod_if,
			 const struct xcni_ipam *ipam, char *lo_was)
{
	char path[128], addr[INET6_ADDRSTRLEN];
	int err;

	err = nl_netns_enter(ns->pod_fd);
	if (err)
		return cni_fail(&c->err, CNI_ERR_INVALID_ENV, "CNI_NETNS %s: enter: %s",
				c->env.netns, strerror(-err)), err;
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s", pod_if);
	err = xcni_failpoint("pod-ipv6") ? -ENOENT : access(path, F_OK) ? -errno : 0;
	if (err) {
		inet_ntop(AF_INET6, &ipam->ip6, addr, sizeof(addr));
		cni_fail(&c->err, CNI_ERR_UNSUPPORTED_FIELD,
			 "ipam result: ips[%d].address %s is IPv6, but the pod network namespace %s has no IPv6 (%s: %s; kernel booted with ipv6.disable=1?)",
			 ipam->idx6, addr, c->env.netns, path, strerror(-err));
		goto out;
	}
	err = ipv6_conf("lo", "disable_ipv6", "0", lo_was);
	if (!err)
		err = ipv6_conf(pod_if, "accept_dad", "0", NULL);
	if (!err)
		err = ipv6_conf(pod_if, "accept_ra", "0", NULL);
	if (!err)
		err = ipv6_conf(pod_if, "disable_ipv6", "0", NULL);
	if (err)
		cni_fail(&c->err, CNI_ERR_IO, "pod %s: IPv6 settings (net.ipv6.conf.%s): %s",
			 c->env.netns, pod_if, strerror(-err));
out:
	nl_netns_enter(ns->host_fd);
	return err;
}

/*
 * The host end routes IPv6 for its pod: IPv6 on, forwarding on. The kernel
 * forwards IPv6 only when net.ipv6.conf.all.forwarding is set (the per-device
 * switch alone is not enough), so that is set too, as ip_forward is for IPv4,
 * and said on stderr: a node interface that takes its default route from
 * router advertisements keeps it only with accept_ra=2 once forwarding is on.
 */
static int host_ipv6_conf(struct cni_ctx *c, const char *host_if)
{
	char was = '1';
	int err;

	err = ipv6_conf(host_if, "disable_ipv6", "0", NULL);
	if (!err)
		err = ipv6_conf(host_if, "forwarding", "1", NULL);
	if (!err)
		err = ipv6_conf("all", "forwarding", "1", &was);
	if (err)
		return cni_fail(&c->err, CNI_ERR_IO,
				"host veth %s: IPv6 settings (net.ipv6.conf.%s, .all.forwarding): %s",
				host_if, host_if, strerror(-err)), err;
	if (was != '1')
		fprintf(stderr,
			"xcni: note: turned on IPv6 forwarding (net.ipv6.conf.all.forwarding=1) for IPv6 pods; interfaces taking routes from router advertisements need accept_ra=2\n");
	return 0;
}

/*
 * The IPv6 half. The pod routes via fe80::1 (XCNI_GW6), which the host end
 * holds, and reaches it through a permanent neighbour entry written here:
 * the pod never solicits its gateway, as from_pod drops IPv6 until the data
 * plane judges it. Likewise the host reaches the pod without soliciting it.
 */
static int add_ipv6(struct cni_ctx *c, struct netns *ns, const struct nl_link *hl,
		    const struct nl_link *pl, const struct xcni_ipam *ipam, char *lo_was)
{
	struct nl_route to_pod = { .af = AF_INET6, .dst6 = ipam->ip6, .dst_len = 128,
				   .oif = hl->ifindex };
	struct in6_addr gw6;
	json_t *r;
	size_t i;
	int err;

	inet_pton(AF_INET6, XCNI_GW6, &gw6);
	if ((err = pod_ipv6_conf(c, ns, pl->name, ipam, lo_was) ?: host_ipv6_conf(c, hl->name)))
		return err;
	/* Each step after its failpoint (a test's injected failure), as add_ipv4's. */
	if ((err = xcni_failpoint("host-addr6") ?:
		   nl_addr6_add(&ns->host, hl->ifindex, &gw6, 64)))
		return cni_nl_fail(c, &ns->host, err, "add gateway address " XCNI_GW6 " to host veth");
	if ((err = xcni_failpoint("host-route6") ?: nl_route_add(&ns->host, &to_pod) ?:
		   nl_neigh6_add(&ns->host, hl->ifindex, &ipam->ip6, pl->mac)))
		return cni_nl_fail(c, &ns->host, err, "add host IPv6 route and neighbour entry for the pod");
	if ((err = xcni_failpoint("pod-addr6") ?:
		   nl_addr6_add(&ns->pod, pl->ifindex, &ipam->ip6, 128)))
		return cni_nl_fail(c, &ns->pod, err, "add pod IPv6 address");
	if ((err = xcni_failpoint("pod-neigh6") ?:
		   nl_neigh6_add(&ns->pod, pl->ifindex, &gw6, hl->mac)))
		return cni_nl_fail(c, &ns->pod, err, "add the neighbour entry for the gateway in the pod");
	err = xcni_failpoint("pod-route6");
	json_array_foreach(ipam->routes, i, r) {
		struct nl_route rt = { .af = AF_INET6, .gw6 = gw6, .oif = pl->ifindex };

		if (err)
			break;
		if (xcni_cidr6_parse(json_string_value(json_object_get(r, "dst")), &rt.dst6,
				     &rt.dst_len))
			continue; /* IPv4: add_ipv4's */
		err = nl_route_add(&ns->pod, &rt);
	}
	return err ? cni_nl_fail(c, &ns->pod, err, "add pod IPv6 routes") : 0;
}

/* One ADD's state: what it has made so far, so that a failure undoes exactly that. */
struct add {
	struct cni_attach a;
	struct xcni_ipam ipam;
	struct nl_link hl, pl;
	struct netns ns;
	struct cni_proc ipam_proc;
	struct xcni_dp dp;
	struct xcni_endpoint ep;
	char lo6_was;
	const char *attached; /* the attachment this call made (NULL: none) */
	json_t *ires;
	int have_lease, have_link, have_ep, have_ep6;
};

/* The veth pair, named and up on both ends: refused first if either name is in use. */
static int add_links(struct cni_ctx *c, struct add *s, const char *alias)
{
	int err;

	/* Refuse before creating anything if a name is in use. */
	if (nl_link_get(&s->ns.pod, s->a.pod_if, &s->pl) == 0) {
		err = cni_fail(&c->err, CNI_ERR_INVALID_ENV,
			       "CNI_IFNAME %s: an interface of that name already exists in %s",
			       s->a.pod_if, s->a.netns);
		return err;
	}
	if (nl_link_get(&s->ns.host, s->a.host_if, &s->hl) == 0) {
		err = cni_fail(&c->err, CNI_ERR_INVALID_ENV,
			       "host interface %s for container %s/%s already exists (ADD twice without DEL?)",
			       s->a.host_if, c->env.container_id, s->a.pod_if);
		return err;
	}

	err = xcni_failpoint("veth");
	if (!err)
		err = nl_veth_add(&s->ns.host, s->a.host_if, s->a.pod_if, s->ns.pod_fd, s->a.mtu);
	if (err) {
		cni_nl_fail(c, &s->ns.host, err, "create veth pair");
		if (err == -EEXIST)
			c->err.code = CNI_ERR_INVALID_ENV;
		return err;
	}
	s->have_link = 1;
	xcni_killpoint("veth-unnamed");
	err = nl_link_get(&s->ns.host, s->a.host_if, &s->hl);
	if (!err && (err = big_tcp(c, &s->dp, &s->ns, s->hl.ifindex, s->a.pod_if)))
		return err;
	if (!err)
		err = nl_link_up_ipv4(&s->ns.host, s->hl.ifindex, alias);
	if (err) {
		cni_nl_fail(c, &s->ns.host, err, "set up host veth");
		return err;
	}
	memcpy(s->a.host_mac, s->hl.mac, 6);
	err = nl_link_get(&s->ns.pod, s->a.pod_if, &s->pl);
	if (!err)
		err = nl_link_up_ipv4(&s->ns.pod, s->pl.ifindex, NULL);
	if (err) {
		cni_nl_fail(c, &s->ns.pod, err, "set up pod interface");
		return err;
	}
	memcpy(s->a.pod_mac, s->pl.mac, 6);
	return 0;
}

/* The pod's endpoint entries (one per family) and the state record: the pod is on. */
static int add_publish(struct cni_ctx *c, struct add *s)
{
	int err;

	s->ep.ifindex = (__u32)s->hl.ifindex;
	s->ep.ep_id = xcni_ep_id(c->env.container_id, c->env.ifname);
	memcpy(s->ep.pod_mac, s->a.pod_mac, 6);
	memcpy(s->ep.host_mac, s->a.host_mac, 6);
	snprintf(s->ep.host_if, sizeof(s->ep.host_if), "%s", s->a.host_if);
	/*
	 * One entry per family: endpoints (IPv4) and endpoints6, each with the
	 * device's mapping (ifindex, ifindex6). The programs judge a dual-stack
	 * pod's IPv6 under its IPv4 (one policy for both families).
	 */
	err = xcni_failpoint("endpoint");
	if (err)
		cni_fail(&c->err, CNI_ERR_IO, "endpoint map: injected failure");
	else if (s->ipam.has4)
		err = xcni_dp_endpoint_add(&s->dp, s->ipam.ip, &s->ep, &c->err);
	if (err)
		return err;
	s->have_ep = s->ipam.has4;
	if (s->ipam.has6 && (err = xcni_dp_endpoint6_add(&s->dp, &s->ipam.ip6, &s->ep, &c->err)))
		return err;
	s->have_ep6 = s->ipam.has6;

	if (s->ipam.has4)
		enable_forwarding();
	err = xcni_failpoint("state");
	if (err)
		cni_fail(&c->err, CNI_ERR_IO, "state record: injected failure");
	else
		err = xcni_state_write(&c->conf, &c->env, s->a.host_if, &s->ipam, s->attached,
				       &c->err);
	return err;
}

/* A failed ADD undone: entries, attachment, link, loopback, the lease given back. */
static void add_undo(struct cni_ctx *c, struct add *s)
{
	char buf[INET_ADDRSTRLEN], buf6[INET6_ADDRSTRLEN];

	if (s->have_ep6)
		xcni_dp_endpoint6_del(&s->dp, &s->ipam.ip6, s->ep.ep_id);
	if (s->have_ep)
		xcni_dp_endpoint_del(&s->dp, s->ipam.ip, s->ep.ep_id);
	/* Only what this call attached: the pins of an existing attachment have its name. */
	if (s->attached)
		xcni_dp_detach(&s->dp, s->hl.ifindex, s->a.host_if, s->attached);
	/* Deleting the host end takes the peer, addresses and routes with it. */
	if (s->have_link && nl_link_get(&s->ns.host, s->a.host_if, &s->hl) == 0)
		nl_link_del(&s->ns.host, s->hl.ifindex);
	/* The pod's loopback is the one thing in its netns that outlives the link. */
	if (s->lo6_was == '1' && nl_netns_enter(s->ns.pod_fd) == 0) {
		ipv6_conf("lo", "disable_ipv6", "1", NULL);
		nl_netns_enter(s->ns.host_fd);
	}
	if (s->ipam_proc.pid >= 0) {
		/* IPAM was still running when an earlier step failed: let it finish. */
		struct cni_err saved = c->err;

		json_decref(s->ires);
		s->ires = NULL;
		if (ipam_finish(c, &s->ipam_proc, "ADD", c->env.container_id, c->env.ifname,
				c->env.netns, &s->ires) == 0) {
			s->have_lease = 1;
			/* Only so the message below names the address given back. */
			xcni_ipam_parse(s->ires, &s->ipam, &c->err);
		}
		c->err = saved;
	}
	if (s->have_lease) {
		struct cni_err saved = c->err;
		json_t *dres = NULL;

		if (ipam_call(c, "DEL", c->env.container_id, c->env.ifname, c->env.netns, &dres))
			fprintf(stderr, "xcni: releasing the lease after a failed ADD: %s\n",
				c->err.msg);
		json_decref(dres);
		c->err = saved;
	}
	fprintf(stderr, "xcni: ADD %s/%s failed, undone: %s (pod address %s%s%s)\n",
		c->env.container_id, c->env.ifname, c->err.msg,
		s->ipam.has4 ? xcni_ip4_str(s->ipam.ip, buf) : s->ipam.has6 ? "" : "none",
		s->ipam.has4 && s->ipam.has6 ? ", " : "",
		s->ipam.has6 ? inet_ntop(AF_INET6, &s->ipam.ip6, buf6, sizeof(buf6)) : "");
}

/* The attachment's names: host veth, pod interface, netns, MTU and link alias. */
static int add_names(struct cni_ctx *c, struct add *s, char *alias, size_t alias_len)
{
	int err;

	xcni_host_ifname(c->env.container_id, c->env.ifname, s->a.host_if);
	snprintf(s->a.pod_if, sizeof(s->a.pod_if), "%s", c->env.ifname);
	snprintf(s->a.netns, sizeof(s->a.netns), "%s", c->env.netns);
	s->a.mtu = xcni_dp_pod_mtu(&s->dp, c->conf.mtu);
	err = xcni_link_alias(c->conf.name, c->env.container_id, c->env.ifname, alias, alias_len);
	if (err)
		cni_fail(&c->err, CNI_ERR_INVALID_CONFIG,
			 "network name and CNI_CONTAINERID together are too long for a link alias");
	return err;
}

/* The programs on the host veth, then the state directory the record goes in. */
static int add_attach(struct cni_ctx *c, struct add *s)
{
	int err = xcni_failpoint("attach");

	if (err) {
		cni_fail(&c->err, XCNI_ERR_NETLINK, "attach: injected failure");
		return err;
	}
	err = xcni_dp_attach(&s->dp, c->conf.attach, s->hl.ifindex, s->a.host_if, &s->attached,
			     &c->err);
	return err ? err : xcni_state_dir_make(&c->conf, &c->err);
}

static int cmd_add(struct cni_ctx *c)
{
	struct add s = { .ns = { .host_fd = -1, .pod_fd = -1 },
			 .ipam_proc = { .pid = -1, .out_fd = -1 },
			 .dp = { .from_fd = -1, .to_fd = -1, .ep_fd = -1, .if_fd = -1, .ep6_fd = -1,
				 .if6_fd = -1 } };
	char alias[256];
	json_t *res;
	int err;

	/*
	 * Without the agent's programs a pod would get no policy: refuse, runtimes
	 * retry. Checked before IPAM, so a node whose xcnid is down does not
	 * take and give back a lease on every retry; it costs four bpf(2) calls.
	 */
	err = xcni_dp_open(&s.dp, c->conf.pin_dir, &c->err);
	trace_mark("dp_open");
	if (err)
		goto out;
	/*
	 * Then IPAM, before anything else: the exec'd IPAM plugin (host-local
	 * is a Go binary) takes ten times longer than all our netlink work, so
	 * ADD costs IPAM plus whatever is not overlapped with it. Everything up
	 * to ipam_finish() runs while it does. The price is on the refusals
	 * below: a lease taken for an ADD we then refuse is given back (undo
	 * waits for IPAM and DELs it). If the attachment exists already, IPAM
	 * itself refuses a duplicate and nothing of it is freed.
	 */
	err = ipam_start(c, &s.ipam_proc, "ADD", c->env.container_id, c->env.ifname,
			 c->env.netns);
	trace_mark("ipam_spawn");
	if (err)
		goto out;
	xcni_killpoint("ipam-started");

	err = netns_open(c, &s.ns, c->env.netns);
	trace_mark("netns");
	if (err)
		goto undo;
	err = add_names(c, &s, alias, sizeof(alias));
	if (err)
		goto undo;

	err = add_links(c, &s, alias);
	trace_mark("links");
	if (err)
		goto undo;

	/*
	 * The programs go on before the endpoint entry exists, while IPAM runs:
	 * until ADD returns nothing runs in the pod and nothing routes to it,
	 * so there is no traffic for from_pod to drop for want of an entry.
	 */
	err = add_attach(c, &s);
	trace_mark("attach");
	if (err)
		goto undo;

	err = ipam_finish(c, &s.ipam_proc, "ADD", c->env.container_id, c->env.ifname,
			  c->env.netns, &s.ires);
	trace_mark("ipam_wait");
	if (err)
		goto undo;
	s.have_lease = 1;
	err = xcni_ipam_parse(s.ires, &s.ipam, &c->err);
	if (err)
		goto undo;

	if (s.ipam.has4 && (err = add_ipv4(c, &s.ns, &s.hl, &s.pl, &s.ipam)))
		goto undo;
	if (s.ipam.has6 && (err = add_ipv6(c, &s.ns, &s.hl, &s.pl, &s.ipam, &s.lo6_was)))
		goto undo;
	trace_mark("addrs");

	err = add_publish(c, &s);
	trace_mark("publish");
	if (err)
		goto undo;
	xcni_killpoint("result");

	res = xcni_result_build(c->conf.cni_version, &s.a, &s.ipam);
	json_dumpf(res, stdout, JSON_COMPACT);
	fputc('\n', stdout);
	json_decref(res);
	trace_mark("result");
	err = 0;
	goto out;

undo:
	add_undo(c, &s);
out:
	xcni_dp_close(&s.dp);
	xcni_ipam_free(&s.ipam);
	json_decref(s.ires);
	netns_close(&s.ns);
	return err;
}

/* ---- CHECK ------------------------------------------------------------ */

static int drift(struct cni_ctx *c, const char *fmt, const char *a, const char *b)
{
	char m[256];

	snprintf(m, sizeof(m), fmt, a, b);
	return cni_fail(&c->err, XCNI_ERR_DRIFT, "CHECK %s/%s: %s", c->env.container_id,
			c->env.ifname, m);
}

/*
 * An IPv6 address of prevResult (addr): on the pod end, with the host route,
 * both neighbour entries and the pod's IPv6 settings ADD made.
 */
static int check_ipv6(struct cni_ctx *c, struct netns *ns, const struct nl_link *hl,
		      const struct nl_link *pl, const char *addr)
{
	struct nl_route hr = { .af = AF_INET6, .dst_len = 128, .oif = hl->ifindex };
	struct in6_addr ip6, gw6;
	uint8_t plen;
	char v = 0;

	if (xcni_cidr6_parse(addr, &ip6, &plen))
		return drift(c, "prevResult address %s is not an IPv6 CIDR%s", addr, "");
	inet_pton(AF_INET6, XCNI_GW6, &gw6);
	if (nl_addr6_has(&ns->pod, pl->ifindex, &ip6, plen) != 1)
		return drift(c, "address %s missing on %s", addr, c->env.ifname);
	hr.dst6 = ip6;
	if (nl_route_has(&ns->host, &hr) != 1)
		return drift(c, "host route to %s via %s missing", addr, hl->name);
	if (nl_neigh6_has(&ns->host, hl->ifindex, &ip6, pl->mac) != 1)
		return drift(c, "host neighbour entry for %s on %s missing", addr, hl->name);
	if (nl_neigh6_has(&ns->pod, pl->ifindex, &gw6, hl->mac) != 1)
		return drift(c, "neighbour entry for the gateway " XCNI_GW6 " on %s missing in %s",
			     c->env.ifname, c->env.netns);
	/* IPv6 switched off on the pod end takes its address with it, but say why. */
	if (nl_netns_enter(ns->pod_fd) == 0) {
		ipv6_conf(c->env.ifname, "disable_ipv6", NULL, &v);
		nl_netns_enter(ns->host_fd);
	}
	if (v != '0')
		return drift(c, "IPv6 is disabled on %s (net.ipv6.conf.%s.disable_ipv6)",
			     c->env.ifname, c->env.ifname);
	return 0;
}

/* CHECK: the pod's interface as prevResult and the config say (name, MAC, veth, MTU, up). */
static int check_pod_link(struct cni_ctx *c, json_t *prev, struct netns *ns, struct xcni_dp *dp,
			  struct nl_link *pl)
{
	const char *want_mac = NULL;
	int pod_idx = -1;
	json_t *it;
	char mac[18];
	size_t i;

	json_array_foreach(json_object_get(prev, "interfaces"), i, it) {
		const char *n = json_string_value(json_object_get(it, "name"));
		const char *sb = json_string_value(json_object_get(it, "sandbox"));

		if (n && sb && sb[0] && strcmp(n, c->env.ifname) == 0) {
			pod_idx = (int)i;
			want_mac = json_string_value(json_object_get(it, "mac"));
		}
	}
	if (pod_idx < 0)
		return drift(c, "prevResult has no interface %s%s in the sandbox", c->env.ifname, "");
	if (nl_link_get(&ns->pod, c->env.ifname, pl))
		return drift(c, "interface %s missing in %s", c->env.ifname, c->env.netns);
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", pl->mac[0], pl->mac[1],
		 pl->mac[2], pl->mac[3], pl->mac[4], pl->mac[5]);
	if (want_mac && strcasecmp(want_mac, mac) != 0)
		return drift(c, "MAC is %s, prevResult says %s", mac, want_mac);
	if (strcmp(pl->kind, "veth") != 0)
		return drift(c, "interface kind is \"%s\", not %s", pl->kind, "veth");
	if (pl->mtu != xcni_dp_pod_mtu(dp, c->conf.mtu)) {
		char a[16], b[16];

		snprintf(a, sizeof(a), "%u", pl->mtu);
		snprintf(b, sizeof(b), "%u", xcni_dp_pod_mtu(dp, c->conf.mtu));
		return drift(c, "MTU is %s, config says %s", a, b);
	}
	if (!(pl->flags & IFF_UP))
		return drift(c, "interface %s is down%s", c->env.ifname, "");
	return 0;
}

/* CHECK: the host end, the pod's peer, with the data plane attached where ADD attached it. */
static int check_host_link(struct cni_ctx *c, struct netns *ns, struct xcni_dp *dp,
			   const struct nl_link *pl, char *host_if, struct nl_link *hl)
{
	char attach[8];
	uint32_t rec_ip;

	xcni_host_ifname(c->env.container_id, c->env.ifname, host_if);
	if (nl_link_get(&ns->host, host_if, hl))
		return drift(c, "host veth %s missing%s", host_if, "");
	if (hl->link != pl->ifindex || strcmp(hl->kind, "veth") != 0)
		return drift(c, "host interface %s is not the peer of %s", host_if, c->env.ifname);
	/* The record says which attach point ADD took; without one, either will do. */
	xcni_state_read(&c->conf, host_if, &rec_ip, attach, sizeof(attach));
	if (attach[0] ? xcni_dp_attached(dp, attach, hl->ifindex, host_if) != 0 :
			xcni_dp_attached(dp, "tcx", hl->ifindex, host_if) != 0 &&
			xcni_dp_attached(dp, "tc", hl->ifindex, host_if) != 0)
		return drift(c, "data plane programs not attached to %s (%s)", host_if,
			     attach[0] ? attach : "neither TCX nor tc");
	return 0;
}

/*
 * CHECK: each address of prevResult on the pod's interface, with its host
 * route (IPv4) and its endpoint entry, this attachment's (IPv6: under an
 * xcnid with the IPv6 maps).
 */
static int check_addresses(struct cni_ctx *c, json_t *prev, struct netns *ns, struct xcni_dp *dp,
			   const struct nl_link *pl, const char *host_if, const struct nl_link *hl)
{
	__u32 ep_id = xcni_ep_id(c->env.container_id, c->env.ifname);
	json_t *it;
	size_t i;
	int err;

	json_array_foreach(json_object_get(prev, "ips"), i, it) {
		const char *addr = json_string_value(json_object_get(it, "address"));
		struct nl_route hr = { .dst_len = 32, .oif = hl->ifindex };
		struct xcni_endpoint ep;
		uint32_t ip;
		uint8_t plen;

		if (addr && strchr(addr, ':')) {
			struct in6_addr a6;
			uint8_t plen6;

			err = check_ipv6(c, ns, hl, pl, addr);
			if (err)
				return err;
			if (dp->ep6_fd >= 0 && !xcni_cidr6_parse(addr, &a6, &plen6) &&
			    (xcni_dp_endpoint6_get(dp, &a6, &ep) || ep.ifindex != (__u32)hl->ifindex ||
			     ep.ep_id != ep_id))
				return drift(c, "endpoint6 map entry for %s missing or not %s's", addr,
					     host_if);
			continue;
		}
		if (!addr || xcni_cidr4_parse(addr, &ip, &plen))
			continue;
		if (nl_addr_has(&ns->pod, pl->ifindex, ip, plen) != 1)
			return drift(c, "address %s missing on %s", addr, c->env.ifname);
		hr.dst = ip;
		if (nl_route_has(&ns->host, &hr) != 1)
			return drift(c, "host route to %s via %s missing", addr, host_if);
		if (xcni_dp_endpoint_get(dp, ip, &ep) || ep.ifindex != (__u32)hl->ifindex ||
		    ep.ep_id != ep_id)
			return drift(c, "endpoint map entry for %s missing or not %s's", addr, host_if);
	}
	return 0;
}

/* CHECK: each route of prevResult in the pod. */
static int check_routes(struct cni_ctx *c, json_t *prev, struct netns *ns, const struct nl_link *pl)
{
	json_t *it;
	size_t i;

	json_array_foreach(json_object_get(prev, "routes"), i, it) {
		const char *dst = json_string_value(json_object_get(it, "dst"));
		const char *gw = json_string_value(json_object_get(it, "gw"));
		struct xcni_prefix p;
		struct nl_route rt;

		if (!dst || xcni_prefix_parse(dst, 0, &p))
			continue;
		/* The IPv4 routes go by their gateway alone, the IPv6 ones by the pod's link too. */
		rt = (struct nl_route){ .af = p.family == 6 ? AF_INET6 : AF_INET, .dst_len = p.len,
					.oif = p.family == 6 ? pl->ifindex : 0 };
		memcpy(&rt.dst6, p.addr, 16);
		if (gw && inet_pton(rt.af, gw, &rt.gw6) != 1)
			continue;
		if (nl_route_has(&ns->pod, &rt) != 1)
			return drift(c, "route %s via %s missing in the pod", dst, gw ? gw : "-");
	}
	return 0;
}

static int cmd_check(struct cni_ctx *c)
{
	json_t *prev = c->conf.prev_result, *ires = NULL;
	struct xcni_dp dp = { .from_fd = -1, .to_fd = -1, .ep_fd = -1, .if_fd = -1, .ep6_fd = -1,
			      .if6_fd = -1 };
	struct nl_link hl, pl;
	struct netns ns;
	char host_if[IF_NAMESIZE];
	int err;

	if (!prev)
		return cni_fail(&c->err, CNI_ERR_INVALID_CONFIG,
				"network config: CHECK needs \"prevResult\"");
	err = netns_open(c, &ns, c->env.netns);
	if (!err)
		err = xcni_dp_open(&dp, c->conf.pin_dir, &c->err);
	if (!err)
		err = check_pod_link(c, prev, &ns, &dp, &pl);
	if (!err)
		err = check_host_link(c, &ns, &dp, &pl, host_if, &hl);
	if (!err)
		err = check_addresses(c, prev, &ns, &dp, &pl, host_if, &hl);
	if (!err)
		err = check_routes(c, prev, &ns, &pl);
	if (!err)
		err = ipam_call(c, "CHECK", c->env.container_id, c->env.ifname, c->env.netns, &ires);
	xcni_dp_close(&dp);
	json_decref(ires);
	netns_close(&ns);
	return err;
}

/* ---- DEL -------------------------------------------------------------- */

static int del_attachment(struct cni_ctx *c, struct nl *host, const struct xcni_dp *dp,
			  const char *cid, const char *ifname, const char *netns)
{
	char host_if[IF_NAMESIZE], want[256], have_cid[256], have_if[IF_NAMESIZE];
	struct cni_proc p;
	struct nl_link hl;
	json_t *res = NULL;
	int err, lerr = 0, have_link;

	/* Unregistering a netdev waits for RCU; let IPAM release meanwhile. */
	err = ipam_start(c, &p, "DEL", cid, ifname, netns);
	if (err)
		return err;
	xcni_killpoint("del-ipam");
	xcni_host_ifname(cid, ifname, host_if);
	have_link = nl_link_get(host, host_if, &hl) == 0;
	/*
	 * The link goes first, its programs with it; then the TCX link pins.
	 * The other way round each unpinned TCX link is detached from a live
	 * device, which the kernel does holding RTNL across a whole RCU grace
	 * period (tcx_link_release: synchronize_rcu), twice a pod, stalling
	 * every netlink writer on the host meanwhile (a node's other ADDs and
	 * DELs); released after its device went, a link has nothing to detach.
	 */
	if (have_link) {
		/*
		 * Only a link this network made for this attachment is ours to delete:
		 * its alias says so. The kernel takes no alias at creation, so an ADD
		 * killed between creating the veth and naming it leaves one without:
		 * a veth with no alias under the name derived from this attachment's
		 * container ID and interface is that one.
		 */
		xcni_link_alias(c->conf.name, cid, ifname, want, sizeof(want));
		if ((xcni_link_alias_parse(hl.alias, c->conf.name, have_cid, sizeof(have_cid),
					   have_if, sizeof(have_if)) == 0 &&
		     strcmp(hl.alias, want) == 0) ||
		    (!hl.alias[0] && strcmp(hl.kind, "veth") == 0)) {
			lerr = nl_link_del(host, hl.ifindex);
			if (lerr == -ENODEV)
				lerr = 0;
			if (lerr)
				cni_nl_fail(c, host, lerr, "delete host veth");
			else
				have_link = 0; /* its ifindex may be another pod's by now */
		}
	}
	xcni_killpoint("del-link");
	if (dp) {
		/* The record knows the IP even when the link is gone, and the attach point. */
		char attach[8];
		uint32_t ip;
		int have_rec = xcni_state_read(&c->conf, host_if, &ip, attach, sizeof(attach));

		xcni_dp_detach(dp, have_link ? hl.ifindex : 0, host_if, attach[0] ? attach : NULL);
		xcni_killpoint("del-detach");
		__u32 ep_id = xcni_ep_id(cid, ifname);

		if (ip)
			xcni_dp_endpoint_del(dp, ip, ep_id);
		/* No record (ADD died between the entry and the record), or an
		 * IPv6 entry (the record keeps the IPv4 only): found by endpoint
		 * id, a walk of the maps (endpoints6 alone when the IPv4 is known). */
		if (!ip && !have_rec)
			xcni_dp_gc(dp, &ep_id, 1);
		else
			xcni_dp_gc6(dp, &ep_id, 1);
		xcni_killpoint("del-endpoint");
	}
	if (lerr) {
		struct cni_err saved = c->err;

		ipam_finish(c, &p, "DEL", cid, ifname, netns, &res);
		json_decref(res);
		c->err = saved;
		return lerr;
	}
	err = ipam_finish(c, &p, "DEL", cid, ifname, netns, &res);
	json_decref(res);
	if (err)
		return err;
	xcni_killpoint("del-lease");
	xcni_state_remove(&c->conf, host_if);
	return 0;
}

static int cmd_del(struct cni_ctx *c)
{
	struct xcni_dp dp;
	struct cni_err ignored;
	struct netns ns;
	int err, have_dp;

	/* Without xcnid there are no entries to remove: DEL still frees the rest. */
	have_dp = xcni_dp_open(&dp, c->conf.pin_dir, &ignored) == 0;
	/* The netns may be gone or unnamed: DEL never needs it. */
	err = netns_open(c, &ns, NULL);
	if (!err)
		err = del_attachment(c, &ns.host, have_dp ? &dp : NULL, c->env.container_id,
				     c->env.ifname, c->env.netns ? c->env.netns : "");
	netns_close(&ns);
	if (have_dp)
		xcni_dp_close(&dp);
	return err;
}

/* ---- GC --------------------------------------------------------------- */

static int is_valid_attachment(struct cni_ctx *c, const char *cid, const char *ifname)
{
	json_t *v;
	size_t i;

	json_array_foreach(c->conf.valid_attachments, i, v) {
		const char *vc = json_string_value(json_object_get(v, "containerID"));
		const char *vi = json_string_value(json_object_get(v, "ifname"));

		if (vc && vi && strcmp(vc, cid) == 0 && strcmp(vi, ifname) == 0)
			return 1;
	}
	return 0;
}

struct gc_arg {
	struct cni_ctx *c;
	json_t *stale; /* array of [cid, ifname] */
};

static void gc_add(json_t *stale, const char *cid, const char *ifname)
{
	json_t *v;
	size_t i;

	json_array_foreach(stale, i, v)
		if (strcmp(json_string_value(json_array_get(v, 0)), cid) == 0 &&
		    strcmp(json_string_value(json_array_get(v, 1)), ifname) == 0)
			return;
	json_array_append_new(stale, json_pack("[s,s]", cid, ifname));
}

static int gc_link_cb(const struct nl_link *l, void *arg)
{
	struct gc_arg *g = arg;
	char cid[256], ifname[IF_NAMESIZE];

	if (xcni_link_alias_parse(l->alias, g->c->conf.name, cid, sizeof(cid), ifname,
				  sizeof(ifname)) == 0 &&
	    !is_valid_attachment(g->c, cid, ifname))
		gc_add(g->stale, cid, ifname);
	return 0;
}

static void gc_rec_cb(const char *cid, const char *ifname, void *arg)
{
	struct gc_arg *g = arg;

	if (!is_valid_attachment(g->c, cid, ifname))
		gc_add(g->stale, cid, ifname);
}

static int cmd_gc(struct cni_ctx *c)
{
	struct gc_arg g = { c, json_array() };
	struct xcni_dp dp;
	struct cni_err ignored;
	int have_dp = 0;
	struct netns ns;
	json_t *v, *res = NULL;
	size_t i;
	int err;

	err = netns_open(c, &ns, NULL);
	if (err)
		goto out;
	err = nl_link_dump(&ns.host, gc_link_cb, &g);
	if (err) {
		cni_nl_fail(c, &ns.host, err, "list links");
		goto out;
	}
	xcni_state_foreach(&c->conf, gc_rec_cb, &g);

	have_dp = xcni_dp_open(&dp, c->conf.pin_dir, &ignored) == 0;
	json_array_foreach(g.stale, i, v) {
		err = del_attachment(c, &ns.host, have_dp ? &dp : NULL,
				     json_string_value(json_array_get(v, 0)),
				     json_string_value(json_array_get(v, 1)), "");
		if (err)
			goto out;
	}
	/* Entries whose device vanished without a DEL, fragment shares of no endpoint. */
	if (have_dp) {
		xcni_dp_gc(&dp, NULL, 0);
		xcni_dp_share_gc(&dp);
	}
	/* IPAM plugins that know GC (spec 1.1.0) clean up what we never recorded. */
	if (ipam_supports(c, "1.1.0")) {
		c->ipam_ver = NULL;
		c->ipam_cache_read = true; /* it speaks GC's version: nothing to look up */
		err = ipam_call(c, "GC", NULL, NULL, NULL, &res);
	}
out:
	if (have_dp)
		xcni_dp_close(&dp);
	json_decref(res);
	json_decref(g.stale);
	netns_close(&ns);
	return err;
}

/* ---- STATUS ----------------------------------------------------------- */

static int cmd_status(struct cni_ctx *c)
{
	char bin[PATH_MAX], dir[PATH_MAX];
	int err;

	err = cni_find_plugin(c->env.path, c->conf.ipam_type, bin, sizeof(bin));
	if (err)
		return cni_fail(&c->err, CNI_ERR_NOT_AVAILABLE,
				"ipam plugin \"%s\" not found in CNI_PATH (%s): pods cannot get addresses",
				c->conf.ipam_type, c->env.path ? c->env.path : "unset");
	{
		struct xcni_dp dp;

		err = xcni_dp_open(&dp, c->conf.pin_dir, &c->err);
		if (err) {
			c->err.code = CNI_ERR_NOT_AVAILABLE;
			return err;
		}
		xcni_dp_close(&dp);
	}
	snprintf(dir, sizeof(dir), "%s/%s", c->conf.state_dir, c->conf.name);
	err = xcni_mkdir_p(dir);
	if (!err && access(dir, W_OK))
		err = -errno;
	if (err)
		return cni_fail(&c->err, CNI_ERR_NOT_AVAILABLE, "state dir %s is not writable: %s",
				dir, strerror(-err));
	return 0;
}

/* ---- main ------------------------------------------------------------- */

static const char *env_nonempty(const char *k)
{
	const char *v = getenv(k);

	return v && *v ? v : NULL;
}

static int need_env(struct cni_ctx *c)
{
	const char *cmd = c->env.command;
	int add = !strcmp(cmd, "ADD"), check = !strcmp(cmd, "CHECK"), del = !strcmp(cmd, "DEL");

	if (add || check || del) {
		if (!c->env.container_id)
			return cni_fail(&c->err, CNI_ERR_INVALID_ENV, "CNI_CONTAINERID is required for %s", cmd);
		if (!xcni_valid_container_id(c->env.container_id))
			return cni_fail(&c->err, CNI_ERR_INVALID_ENV,
					"CNI_CONTAINERID \"%s\" is not a valid container ID", c->env.container_id);
		if (!c->env.ifname)
			return cni_fail(&c->err, CNI_ERR_INVALID_ENV, "CNI_IFNAME is required for %s", cmd);
		if (!xcni_valid_ifname(c->env.ifname))
			return cni_fail(&c->err, CNI_ERR_INVALID_ENV,
					"CNI_IFNAME \"%s\" is not a valid interface name", c->env.ifname);
	}
	if ((add || check) && !c->env.netns)
		return cni_fail(&c->err, CNI_ERR_INVALID_ENV, "CNI_NETNS is required for %s", cmd);
	if (!c->env.path && strcmp(cmd, "STATUS") != 0)
		return cni_fail(&c->err, CNI_ERR_INVALID_ENV, "CNI_PATH is required for %s", cmd);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct { const char *verb; int (*run)(struct cni_ctx *); } verbs[] = {
		{ "ADD", cmd_add }, { "CHECK", cmd_check }, { "DEL", cmd_del }, { "GC", cmd_gc },
		{ "STATUS", cmd_status },
	};
	struct cni_ctx c = { 0 };
	const char *ver = "1.1.0";
	size_t len = 0, v = 0;
	char *in;
	int err;

	/* For people (a runtime speaks CNI_COMMAND=VERSION): xcni --version, xcni version. */
	if (argc > 1 && (err = xcni_version_main("xcni", argc, argv)) >= 0)
		return err;

	trace_start();
	c.env.command = env_nonempty("CNI_COMMAND");
	c.env.container_id = env_nonempty("CNI_CONTAINERID");
	c.env.netns = env_nonempty("CNI_NETNS");
	c.env.ifname = env_nonempty("CNI_IFNAME");
	c.env.args = getenv("CNI_ARGS");
	c.env.path = env_nonempty("CNI_PATH");

	if (xcni_read_all(STDIN_FILENO, 0, &in, &len))
		in = NULL;
	if (!c.env.command) {
		err = cni_fail(&c.err, CNI_ERR_INVALID_ENV, "CNI_COMMAND is required");
		goto fail;
	}
	if (!strcmp(c.env.command, "VERSION")) {
		json_t *req = in ? json_loadb(in, len, 0, NULL) : NULL;
		const char *rv = json_string_value(json_object_get(req, "cniVersion"));
		json_t *out = cni_version_json(cni_version_index(rv) >= 0 ? rv : "1.1.0");

		json_dumpf(out, stdout, JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(out);
		json_decref(req);
		free(in);
		return 0;
	}
	while (v < ARRAY_SIZE(verbs) && strcmp(c.env.command, verbs[v].verb))
		v++;
	if (v == ARRAY_SIZE(verbs)) {
		err = cni_fail(&c.err, CNI_ERR_INVALID_ENV, "CNI_COMMAND \"%s\" is not a CNI verb",
			       c.env.command);
		goto fail;
	}
	if (!in) {
		err = cni_fail(&c.err, CNI_ERR_IO, "reading stdin: out of memory");
		goto fail;
	}
	err = xcni_conf_parse(in, len, &c.conf, &c.err);
	if (c.conf.cni_version[0] && cni_version_index(c.conf.cni_version) >= 0)
		ver = c.conf.cni_version;
	if (err)
		goto fail;
	if (strcmp(c.conf.type, "xcni") != 0)
		fprintf(stderr, "xcni: note: network config says type \"%s\"\n", c.conf.type);
	if (cni_version_cmp(ver, "1.1.0") < 0 &&
	    (!strcmp(c.env.command, "GC") || !strcmp(c.env.command, "STATUS"))) {
		err = cni_fail(&c.err, CNI_ERR_INCOMPATIBLE_VERSION,
			       "%s needs cniVersion 1.1.0, network config says %s", c.env.command, ver);
		goto fail;
	}
	err = need_env(&c);
	if (err)
		goto fail;
	trace_mark("conf");

	if ((err = verbs[v].run(&c)))
		goto fail;
	fflush(stdout);
	trace_write(&c, 0);
	xcni_conf_free(&c.conf);
	free(in);
	return 0;

fail: {
	json_t *j = cni_error_json(ver, &c.err);

	json_dumpf(j, stdout, JSON_COMPACT);
	fputc('\n', stdout);
	json_decref(j);
	fflush(stdout);
	if (c.env.command)
		trace_write(&c, err);
	xcni_conf_free(&c.conf);
	free(in);
	return 1;
}
}
