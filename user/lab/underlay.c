// SPDX-License-Identifier: Apache-2.0
/*
 * The lab's underlay: the network the nodes would share in a rack, made of
 * one Linux bridge standing for the switch, and a router behind it to "the
 * outside" (the internet, as far as the cluster can tell).
 *
 *   netns xcl-out:  eth0 198.51.100.1/24 (lab serve: 80/TCP, 53/UDP; answers
 *                   │                     with the address it saw)
 *                   │ route 192.168.77.0/24 via .254, and no other: no way back
 *                   │ to a pod's own address, only to a masqueraded one
 *   netns xcl-ul:   ul-out 198.51.100.254/24, forwarding
 *                   br0 192.168.77.254/24 ── ul-n1 ── ul-n2 ── ... (ports)
 *                                              │        │
 *   netns xcl-n1:  ul0 192.168.77.1/24, default via .254  (xcnid --underlay-dev ul0)
 *   netns xcl-n2:           ul0 192.168.77.2/24
 *
 * In a dual stack lab every one of these links has an IPv6 address too
 * (underlay.h: fd00:77::<i>/64 on the nodes, the router ::254, the outside
 * 2001:db8:100::1/64), with routes as IPv4's; in an ipv6 lab it has that
 * address alone, no IPv4 one (an IPv6-only cluster's nodes: Geneve over IPv6,
 * NodePorts and the outside's probes over IPv6). No link autoconfigures
 * one (no SLAAC, no router solicitation, no DAD): the switch carries the
 * nodes' traffic and nothing else, as in an IPv4 lab, but for the MLD reports
 * of the addresses as they are added. The router, the nodes and the outside
 * have a static link-local address each, which the kernel needs to solicit a
 * neighbour (underlay.h, LAB_UL_LL6 and LAB_OUT_LL6).
 *
 * Everything is made over netlink from this process: a socket opened inside a
 * netns stays bound to it, so this process only steps into a namespace for
 * the moment it takes to open one, and never runs anything there.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lab/underlay.h"
#include "lib/system/nl.h"
#include "lib/system/util.h"

/* The bridge stands for a switch, not a firewall: bridged IPv4 must not go through iptables. */
#define BR_NF_CALL "/proc/sys/net/bridge/bridge-nf-call-iptables"
#define IP_FORWARD "/proc/sys/net/ipv4/ip_forward"
#define IP6_FORWARD "/proc/sys/net/ipv6/conf/all/forwarding"

/*
 * Opens a netlink socket in the named netns; with sysctl (a /proc/sys path)
 * also writes val there, /proc/sys/net being the namespace of whoever opens
 * the file. Comes back to this thread's netns whatever happens.
 */
static int nl_open_in(const char *netns, struct nl *nl, const char *sysctl, const char *val)
{
	char path[PATH_MAX];
	int self, fd, sfd, err;

	lab_netns_path(netns, path, sizeof(path));
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return -errno;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		fprintf(stderr, "lab: %s: %s\n", path, strerror(-err));
		goto out_self;
	}
	err = nl_netns_enter(fd);
	if (err) {
		fprintf(stderr, "lab: entering %s: %s\n", netns, strerror(-err));
		goto out_fd;
	}
	err = nl_open(nl);
	if (!err && sysctl) {
		/* Best effort: without br_netfilter its file does not exist, and that is fine. */
		sfd = open(sysctl, O_WRONLY | O_CLOEXEC);
		if (sfd >= 0) {
			if (write(sfd, val, strlen(val)) < 0)
				fprintf(stderr, "lab: warning: %s in %s: %s\n", sysctl, netns,
					strerror(errno));
			close(sfd);
		}
	}
	if (nl_netns_enter(self)) {
		/* Every later step would act on the wrong namespace: stop here. */
		fprintf(stderr, "lab: cannot return from netns %s: %s\n", netns, strerror(errno));
		abort();
	}
	if (err)
		fprintf(stderr, "lab: netlink in %s: %s\n", netns, strerror(-err));
out_fd:
	close(fd);
out_self:
	close(self);
	return err;
}

static uint32_t ip4(const char *s)
{
	struct in_addr a = {};

	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

static struct in6_addr ip6(const char *s)
{
	struct in6_addr a = {};

	inet_pton(AF_INET6, s, &a);
	return a;
}

/* Writes val to the sysctl (a /proc/sys path) as netns sees it. */
static int sysctl_in(const char *netns, const char *sysctl, const char *val)
{
	struct nl nl;
	int err = nl_open_in(netns, &nl, sysctl, val);

	if (!err)
		nl_close(&nl);
	return err;
}

/* An IPv6 address on ifindex (none made by the kernel: DAD off); EEXIST is
 * fine. spare: never the source of the host's own flows (nl_addr6_add_spare). */
static int addr6_put(struct nl *nl, int ifindex, const char *a, uint8_t plen, bool spare)
{
	struct in6_addr x = ip6(a);
	int err = spare ? nl_addr6_add_spare(nl, ifindex, &x, plen) :
			  nl_addr6_add(nl, ifindex, &x, plen);

	return err == -EEXIST ? 0 : err;
}

static int addr6_add(struct nl *nl, int ifindex, const char *a, uint8_t plen)
{
	return addr6_put(nl, ifindex, a, plen, false);
}

int lab_node_ip6(const struct lab *lab, const struct lab_node *n, char *buf, size_t len)
{
	const char *dot = strrchr(n->ip, '.');

	buf[0] = '\0';
	if (!(lab->family & LAB_FAM_V6))
		return 0;
	if (!dot || !dot[1] || strlen(dot + 1) > 3)
		return -EINVAL;
	return snprintf(buf, len, LAB_UL_PREFIX6 "%s", dot + 1) >= (int)len ? -EINVAL : 0;
}

const char *lab_node_addr(const struct lab *lab, const struct lab_node *n, char *buf, size_t len)
{
	if (lab_node_ul6only(lab, n) && lab_node_ip6(lab, n, buf, len) == 0)
		return buf;
	return n->ip;
}

static int nl_fail(const char *what, const char *netns, struct nl *nl, int err)
{
	return said(err, "lab: %s in %s: %s%s%s\n", what, netns, strerror(-err),
		    nl->errmsg[0] ? ": " : "", nl->errmsg);
}

/* The netns name made and recorded (*made) for down: 0 or -errno (said). */
static int netns_make(struct lab *lab, bool *made, const char *name)
{
	int err = lab_netns_create(name);

	if (err)
		return err;
	/* Recorded only now: down must never delete a netns of this name it did not make. */
	*made = true;
	return lab_state_save(lab);
}

/* The netns name, if the lab made it (*made: cleared once it is gone). */
static int netns_unmake(bool *made, const char *name)
{
	int err = *made ? lab_netns_delete(name) : 0;

	*made &= err != 0;
	return err;
}

int lab_underlay_create(struct lab *lab)
{
	struct nl_link br;
	struct nl nl;
	int err;

	err = netns_make(lab, &lab->underlay, LAB_UL_NETNS);
	if (err)
		return err;
	err = nl_open_in(LAB_UL_NETNS, &nl, BR_NF_CALL, "0\n");
	if (err)
		return err;
	err = nl_bridge_add(&nl, LAB_UL_BRIDGE);
	if (err) {
		nl_fail("creating bridge " LAB_UL_BRIDGE, LAB_UL_NETNS, &nl, err);
		goto out;
	}
	err = nl_link_get(&nl, LAB_UL_BRIDGE, &br);
	/* No IPv6 autoconfiguration (link-local, SLAAC, router solicitations): nothing but
	 * the nodes' traffic crosses the switch. Addresses of an ipv6 or dual lab are
	 * static, below (the file's head says which and why). */
	if (!err)
		err = nl_link_up_ipv4(&nl, br.ifindex, "xcni lab underlay switch");
	if (err)
		nl_fail("bringing up " LAB_UL_BRIDGE, LAB_UL_NETNS, &nl, err);
	/* The router to the outside sits on the switch too: the nodes' default gateway
	 * (of IPv6 alone in an ipv6 lab). */
	if (!err && !lab_ul_v6only(lab))
		err = nl_addr_add(&nl, br.ifindex, ip4(LAB_UL_GW), LAB_UL_PLEN, RT_SCOPE_UNIVERSE);
	if (err == -EEXIST)
		err = 0;
	else if (err)
		nl_fail("addressing " LAB_UL_BRIDGE " with " LAB_UL_GW, LAB_UL_NETNS, &nl, err);
	if (!err && (lab->family & LAB_FAM_V6)) {
		err = addr6_add(&nl, br.ifindex, LAB_UL_GW6, LAB_UL_PLEN6) ?:
		      addr6_add(&nl, br.ifindex, LAB_UL_LL6, 64);
		if (!err)
			err = sysctl_in(LAB_UL_NETNS, IP6_FORWARD, "1\n");
		if (err)
			nl_fail("addressing " LAB_UL_BRIDGE " with " LAB_UL_GW6, LAB_UL_NETNS, &nl, err);
	}
out:
	nl_close(&nl);
	return err;
}

/*
 * A native XDP program that passes every frame, on the bridge end of a node
 * whose ul0 runs native XDP. A veth's native XDP_TX (and XDP_REDIRECT into a
 * veth) puts the frame in the peer's XDP ring, and the kernel schedules the
 * peer's NAPI to take it only when the peer has a native XDP program
 * (veth_xdp_flush): with none, the frame is counted sent (ul0's
 * rx_queue_0_xdp_tx) and sits in the ring until something else polls it,
 * the lab's fast path delivered nothing (measured:
 * docs/decisions/veth-peer-xdp.md). GRO on the peer enables the ring but not that flush. The
 * program is two instructions, loaded here rather than from an object, and
 * declares fragments (BPF_F_XDP_HAS_FRAGS) so the veth keeps the node's
 * GSO; it goes with xcl-ul. 0 or -errno (said).
 */
static int ul_port_xdp_pass(struct nl *ul, const char *port, int ifindex)
{
	const struct bpf_insn pass[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, o, .prog_flags = BPF_F_XDP_HAS_FRAGS);
	int fd, err;

	fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "xcni_lab_pass", "GPL", pass, 2, &o);
	if (fd < 0) {
		err = -errno;
		return said(err, "lab: %s: loading its XDP pass program: %s\n", port,
			    strerror(-err));
	}
	err = nl_link_set_xdp(ul, ifindex, fd, XDP_FLAGS_DRV_MODE);
	if (err)
		nl_fail("native XDP pass program on the underlay port", LAB_UL_NETNS, ul, err);
	close(fd);
	return err;
}

/* XCNI_LAB_UL_NIC's two names; -EINVAL (said) if it is not NODE_DEV:SWITCH_DEV. */
static int nic_split(const char *spec, char dev[2][IF_NAMESIZE])
{
	const char *colon = strchr(spec, ':');
	size_t l0 = colon ? (size_t)(colon - spec) : 0;

	if (!l0 || l0 >= IF_NAMESIZE || !colon[1] || strlen(colon + 1) >= IF_NAMESIZE)
		return said(-EINVAL, "lab: XCNI_LAB_UL_NIC=%s: want NODE_DEV:SWITCH_DEV\n", spec);
	snprintf(dev[0], IF_NAMESIZE, "%.*s", (int)l0, spec);
	snprintf(dev[1], IF_NAMESIZE, "%s", colon + 1);
	return 0;
}

int lab_underlay_nic_take(struct lab_node *n)
{
	const char *spec = getenv("XCNI_LAB_UL_NIC");
	char dev[2][IF_NAMESIZE];
	int err;

	if (!spec || !*spec)
		return 0;
	err = nic_split(spec, dev);
	for (int k = 0; !err && k < 2; k++)
		if (!if_nametoindex(dev[k]))
			err = said(-ENODEV, "lab: XCNI_LAB_UL_NIC=%s: no network device %s here\n",
				   spec, dev[k]);
	if (!err)
		snprintf(n->nic, sizeof(n->nic), "%s", spec);
	return err;
}

/*
 * Moves the NICs n->nic names between the lab's netns (root: its fd) and
 * their places: NODE_DEV into the node as ul0, SWITCH_DEV into xcl-ul as
 * its port (back: each under its own name again). A NIC is not deleted
 * with its netns as a veth is: the kernel hands it back to the initial
 * netns under the name it had there, where a second lab up would not find
 * it; so lab down returns them by name.
 */
static int ul_nic_move(struct nl *ul, struct nl *nn, const struct lab_node *n, bool back)
{
	char dev[2][IF_NAMESIZE], pname[IF_NAMESIZE + 8], path[PATH_MAX];
	const char *name[2] = { LAB_UL_DEV, pname }, *where[2] = { n->netns, LAB_UL_NETNS };
	struct nl *in[2] = { nn, ul }, root = {}, *src;
	struct nl_link l;
	int fd, self, err;

	err = nic_split(n->nic, dev);
	snprintf(pname, sizeof(pname), "ul-%s", n->name);
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (!err)
		err = self < 0 ? -errno : nl_open(&root);
	for (int k = 0; !err && k < 2; k++) {
		src = back ? in[k] : &root;
		lab_netns_path(where[k], path, sizeof(path));
		fd = back ? -1 : open(path, O_RDONLY | O_CLOEXEC);
		err = !back && fd < 0 ? -errno : nl_link_get(src, back ? name[k] : dev[k], &l);
		/* A program the agent left (not its bpf_link: gone with its pins) stays behind. */
		if (!err && back && l.xdp_attached)
			nl_link_set_xdp(src, l.ifindex, -1, 0);
		if (!err)
			err = nl_link_move(src, l.ifindex, back ? self : fd, back ? dev[k] : name[k]);
		if (err)
			err = said(err, "lab: node %s: NIC %s %s %s: %s %s\n", n->name,
				   back ? name[k] : dev[k], back ? "back from" : "into", where[k],
				   strerror(-err), src->errmsg);
		xcni_close(&fd);
	}
	nl_close(&root);
	xcni_close(&self);
	return err;
}

int lab_underlay_nic_return(const struct lab_node *n)
{
	struct nl ul, nn;
	int err;

	if (!*n->nic)
		return 0;
	err = nl_open_in(LAB_UL_NETNS, &ul, NULL, NULL);
	if (err)
		return err;
	err = nl_open_in(n->netns, &nn, NULL, NULL);
	if (!err) {
		err = ul_nic_move(&ul, &nn, n, true);
		nl_close(&nn);
	}
	nl_close(&ul);
	return err;
}

int lab_underlay_join(const struct lab *lab, const struct lab_node *n, bool xdp_peer)
{
	struct nl_link br, port, dev;
	struct nl_route gw, gw6;
	char path[PATH_MAX], pname[IF_NAMESIZE + 8], a6[LAB_ADDR6_LEN], ll[LAB_ADDR6_LEN];
	struct in_addr ip;
	struct nl ul, nn;
	int nsfd, err;

	if (inet_pton(AF_INET, n->ip, &ip) != 1)
		return said(-EINVAL,
			    "lab: node %s: underlay address '%s' is not IPv4\n", n->name, n->ip);
	if (lab_node_ip6(lab, n, a6, sizeof(a6)))
		return said(-EINVAL,
			    "lab: node %s: no IPv6 underlay address from '%s'\n", n->name, n->ip);
	snprintf(pname, sizeof(pname), "ul-%s", n->name);
	lab_netns_path(n->netns, path, sizeof(path));
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0) {
		err = -errno;
		return said(err, "lab: %s: %s\n", path, strerror(-err));
	}
	err = nl_open_in(LAB_UL_NETNS, &ul, NULL, NULL);
	if (err)
		goto out_ns;
	/*
	 * A Kubernetes node routes (kubelet wants ip_forward on; kind's nodes
	 * have it): a node with no pod yet must still forward a NodePort
	 * request that kube-proxy DNATs to another node's backend. A new netns
	 * copies the host's value, so without this the lab depended on it.
	 */
	err = nl_open_in(n->netns, &nn, IP_FORWARD, "1\n");
	if (err)
		goto out_ul;
	/*
	 * Nothing below is undone on failure: both ends live in namespaces that
	 * lab down deletes, and a veth goes with either of its namespaces.
	 */
	err = *n->nic ? ul_nic_move(&ul, &nn, n, false) : nl_veth_add(&ul, pname, LAB_UL_DEV, nsfd, LAB_UL_MTU);
	if (err) {
		if (!*n->nic) /* ul_nic_move said */
			nl_fail("creating veth " LAB_UL_DEV, LAB_UL_NETNS, &ul, err);
		goto out_nn;
	}
	err = nl_link_get(&ul, LAB_UL_BRIDGE, &br);
	if (!err)
		err = nl_link_get(&ul, pname, &port);
	if (!err && *n->nic)
		err = nl_link_set_mtu(&ul, port.ifindex, LAB_UL_MTU);
	if (!err)
		err = nl_link_set_master(&ul, port.ifindex, br.ifindex);
	if (!err)
		err = nl_link_up_ipv4(&ul, port.ifindex, n->name);
	if (err) {
		nl_fail("plugging the node's port into " LAB_UL_BRIDGE, LAB_UL_NETNS, &ul, err);
		goto out_nn;
	}
	/* A NIC's XDP_TX goes out on the wire: only a veth's peer needs the pass program. */
	if (xdp_peer && !*n->nic && (err = ul_port_xdp_pass(&ul, pname, port.ifindex)))
		goto out_nn;
	err = nl_link_get(&nn, LAB_UL_DEV, &dev);
	if (!err && *n->nic)
		err = nl_link_set_mtu(&nn, dev.ifindex, LAB_UL_MTU);
	/* A node of an ipv6 lab (or an --ipv6-only-nodes one) has no IPv4 address
	 * on the underlay (n->ip only numbers it). */
	if (!err && !lab_node_ul6only(lab, n))
		err = nl_addr_add(&nn, dev.ifindex, ip.s_addr, LAB_UL_PLEN, RT_SCOPE_UNIVERSE);
	if (!err)
		err = nl_link_up_ipv4(&nn, dev.ifindex, "xcni lab underlay");
	if (err) {
		nl_fail("addressing " LAB_UL_DEV, n->netns, &nn, err);
		goto out_nn;
	}
	/* Everything that is not the cluster is out there, through the underlay's router. */
	gw = (struct nl_route){ .gw = ip4(LAB_UL_GW), .oif = dev.ifindex };
	err = lab_node_ul6only(lab, n) ? 0 : nl_route_add(&nn, &gw);
	if (err) {
		nl_fail("default route via " LAB_UL_GW, n->netns, &nn, err);
		goto out_nn;
	}
	if (!*a6)
		goto out_nn;
	/* IPv6 likewise; the node forwards it too (a NodePort's request to a pod). */
	err = addr6_add(&nn, dev.ifindex, a6, LAB_UL_PLEN6);
	snprintf(ll, sizeof(ll), LAB_UL_LL6_PREFIX "%s", a6 + strlen(LAB_UL_PREFIX6));
	if (!err)
		err = addr6_add(&nn, dev.ifindex, ll, 64);
	gw6 = (struct nl_route){ .af = AF_INET6, .gw6 = ip6(LAB_UL_GW6), .oif = dev.ifindex };
	if (!err)
		err = nl_route_add(&nn, &gw6);
	if (!err)
		err = sysctl_in(n->netns, IP6_FORWARD, "1\n");
	if (err)
		nl_fail("IPv6 on " LAB_UL_DEV " (default via " LAB_UL_GW6 ")", n->netns, &nn, err);
out_nn:
	nl_close(&nn);
out_ul:
	nl_close(&ul);
out_ns:
	close(nsfd);
	return err;
}

int lab_underlay_delete(struct lab *lab)
{
	/* The bridge and every port go with the namespace; the nodes' ul0 with their peers. */
	return netns_unmake(&lab->underlay, LAB_UL_NETNS);
}

int lab_outside_create(struct lab *lab)
{
	static const char *const out4[] = { LAB_OUT_IP, LAB_OUT_IP_B, LAB_OUT_IP_C };
	struct nl_link out, eth, lo;
	struct nl_route back;
	char path[PATH_MAX];
	struct nl ul, on;
	int nsfd, err;

	err = netns_make(lab, &lab->outside, LAB_OUT_NETNS);
	if (err)
		return err;
	lab_netns_path(LAB_OUT_NETNS, path, sizeof(path));
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0) {
		err = -errno;
		return said(err, "lab: %s: %s\n", path, strerror(-err));
	}
	/* The underlay's netns routes between the switch and the outside. */
	err = nl_open_in(LAB_UL_NETNS, &ul, IP_FORWARD, "1\n");
	if (err)
		goto out_ns;
	err = nl_open_in(LAB_OUT_NETNS, &on, NULL, NULL);
	if (err)
		goto out_ul;
	/* As for the nodes, nothing is undone here: lab down deletes both namespaces.
	 * An ipv6 lab's outside and router have no IPv4 address (below, IPv6's). */
	err = nl_veth_add(&ul, LAB_OUT_UL_DEV, LAB_OUT_DEV, nsfd, LAB_UL_MTU);
	if (!err)
		err = nl_link_get(&ul, LAB_OUT_UL_DEV, &out);
	if (!err && !lab_ul_v6only(lab))
		err = nl_addr_add(&ul, out.ifindex, ip4(LAB_OUT_GW), LAB_OUT_PLEN, RT_SCOPE_UNIVERSE);
	if (!err)
		err = nl_link_up_ipv4(&ul, out.ifindex, "xcni lab: to the outside");
	if (err) {
		nl_fail("the link to the outside (" LAB_OUT_UL_DEV ")", LAB_UL_NETNS, &ul, err);
		goto out_on;
	}
	err = nl_link_get(&on, LAB_OUT_DEV, &eth);
	for (size_t k = 0; !err && !lab_ul_v6only(lab) && k < ARRAY_SIZE(out4); k++)
		err = nl_addr_add(&on, eth.ifindex, ip4(out4[k]), LAB_OUT_PLEN, RT_SCOPE_UNIVERSE);
	if (!err)
		err = nl_link_up_ipv4(&on, eth.ifindex, "xcni lab: the outside");
	if (!err)
		err = nl_link_get(&on, "lo", &lo);
	if (!err)
		err = nl_link_up(&on, lo.ifindex, NULL);
	/* Back to the nodes' addresses only: what the internet knows of a cluster. */
	back = (struct nl_route){ .dst = ip4(LAB_UL_PREFIX "0"), .dst_len = LAB_UL_PLEN,
				  .gw = ip4(LAB_OUT_GW), .oif = eth.ifindex };
	if (!err && !lab_ul_v6only(lab))
		err = nl_route_add(&on, &back);
	if (err) {
		nl_fail("addressing " LAB_OUT_DEV, LAB_OUT_NETNS, &on, err);
		goto out_on;
	}
	if (lab->family & LAB_FAM_V6) {
		struct nl_route back6 = { .af = AF_INET6, .dst6 = ip6(LAB_UL_PREFIX6),
					  .dst_len = LAB_UL_PLEN6, .gw6 = ip6(LAB_OUT_GW6),
					  .oif = eth.ifindex };
		static const struct { const char *a; uint8_t plen; bool spare; } a6[] = {
			{ LAB_OUT_IP6, LAB_OUT_PLEN6, false }, { LAB_OUT_LL6, 64, false },
			{ LAB_OUT_IP6_B, LAB_OUT_PLEN6, true }, { LAB_OUT_IP6_C, LAB_OUT_PLEN6, true } };

		err = addr6_add(&ul, out.ifindex, LAB_OUT_GW6, LAB_OUT_PLEN6) ?:
		      addr6_add(&ul, out.ifindex, LAB_UL_LL6, 64);
		if (err) {
			nl_fail("addressing " LAB_OUT_UL_DEV " with " LAB_OUT_GW6, LAB_UL_NETNS, &ul,
				err);
			goto out_on;
		}
		/* The outside's own flows keep LAB_OUT_IP6 as their source (the
		 * suites name the client by it): the names' addresses are spare.
		 * Its link-local address is its neighbour probes' source (underlay.h). */
		for (size_t i = 0; !err && i < ARRAY_SIZE(a6); i++)
			err = addr6_put(&on, eth.ifindex, a6[i].a, a6[i].plen, a6[i].spare);
		if (!err)
			err = nl_route_add(&on, &back6);
		if (err)
			nl_fail("addressing " LAB_OUT_DEV " with " LAB_OUT_IP6, LAB_OUT_NETNS, &on, err);
	}
out_on:
	nl_close(&on);
out_ul:
	nl_close(&ul);
out_ns:
	close(nsfd);
	return err;
}

int lab_outside_delete(struct lab *lab)
{
	if (lab->outside)
		lab_proc_stop(&lab->outside_server);
	/* Its link to xcl-ul goes with it. */
	return netns_unmake(&lab->outside, LAB_OUT_NETNS);
}

int lab_outside_serve(struct lab *lab)
{
	static char *const specs[] = LAB_OUT_PORTS;
	char log[PATH_MAX];
	int err;

	lab_path(lab, log, sizeof(log), "outside.log");
	err = lab_serve_spawn(LAB_OUT_NETNS, "outside", specs, ARRAY_SIZE(specs),
			      true, log, &lab->outside_server);
	if (!err)
		err = lab_state_save(lab);
	return err;
}
