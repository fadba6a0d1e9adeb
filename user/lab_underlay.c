// SPDX-License-Identifier: Apache-2.0
/*
 * The lab's underlay: the network the nodes would share in a rack, made of
 * one Linux bridge standing for the switch.
 *
 *   netns xcl-ul:   br0 ── ul-n1 ── ul-n2 ── ... (ports, no addresses)
 *                           │        │
 *   netns xcl-n1:  ul0 192.168.77.1/24   (xcnid --underlay-dev ul0: Geneve in BPF)
 *   netns xcl-n2:           ul0 192.168.77.2/24
 *
 * Everything is made over netlink from this process: a socket opened inside a
 * netns stays bound to it, so this process only steps into a namespace for
 * the moment it takes to open one, and never runs anything there.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lab.h"
#include "lib/nl.h"

/* The bridge stands for a switch, not a firewall: bridged IPv4 must not go through iptables. */
#define BR_NF_CALL "/proc/sys/net/bridge/bridge-nf-call-iptables"

/*
 * Opens a netlink socket in the named netns; with sysctl_off (a /proc/sys
 * path) also writes 0 there, /proc/sys/net being the namespace of whoever
 * opens the file. Comes back to this thread's netns whatever happens.
 */
static int nl_open_in(const char *netns, struct nl *nl, const char *sysctl_off)
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
	if (!err && sysctl_off) {
		/* Best effort: without br_netfilter the file does not exist, and that is fine. */
		sfd = open(sysctl_off, O_WRONLY | O_CLOEXEC);
		if (sfd >= 0) {
			if (write(sfd, "0\n", 2) < 0)
				fprintf(stderr, "lab: warning: %s in %s: %s\n", sysctl_off, netns,
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

static int nl_fail(const char *what, const char *netns, struct nl *nl, int err)
{
	fprintf(stderr, "lab: %s in %s: %s%s%s\n", what, netns, strerror(-err),
		nl->errmsg[0] ? ": " : "", nl->errmsg);
	return err;
}

int lab_underlay_create(struct lab *lab)
{
	struct nl_link br;
	struct nl nl;
	int err;

	err = lab_netns_create(LAB_UL_NETNS);
	if (err)
		return err;
	/* Recorded only now: down must never delete a netns of this name it did not make. */
	lab->underlay = true;
	err = lab_state_save(lab);
	if (err)
		return err;
	err = nl_open_in(LAB_UL_NETNS, &nl, BR_NF_CALL);
	if (err)
		return err;
	err = nl_bridge_add(&nl, LAB_UL_BRIDGE);
	if (err) {
		nl_fail("creating bridge " LAB_UL_BRIDGE, LAB_UL_NETNS, &nl, err);
		goto out;
	}
	err = nl_link_get(&nl, LAB_UL_BRIDGE, &br);
	/* IPv4 only: no IPv6 link-local, so nothing but the nodes' traffic crosses the switch. */
	if (!err)
		err = nl_link_up_ipv4(&nl, br.ifindex, "xcni lab underlay switch");
	if (err)
		nl_fail("bringing up " LAB_UL_BRIDGE, LAB_UL_NETNS, &nl, err);
out:
	nl_close(&nl);
	return err;
}

int lab_underlay_join(const struct lab_node *n)
{
	struct nl_link br, port, dev;
	char path[PATH_MAX], pname[IF_NAMESIZE + 8];
	struct in_addr ip;
	struct nl ul, nn;
	int nsfd, err;

	if (inet_pton(AF_INET, n->ip, &ip) != 1) {
		fprintf(stderr, "lab: node %s: underlay address '%s' is not IPv4\n", n->name, n->ip);
		return -EINVAL;
	}
	snprintf(pname, sizeof(pname), "ul-%s", n->name);
	lab_netns_path(n->netns, path, sizeof(path));
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0) {
		err = -errno;
		fprintf(stderr, "lab: %s: %s\n", path, strerror(-err));
		return err;
	}
	err = nl_open_in(LAB_UL_NETNS, &ul, NULL);
	if (err)
		goto out_ns;
	err = nl_open_in(n->netns, &nn, NULL);
	if (err)
		goto out_ul;
	/*
	 * Nothing below is undone on failure: both ends live in namespaces that
	 * lab down deletes, and a veth goes with either of its namespaces.
	 */
	err = nl_veth_add(&ul, pname, LAB_UL_DEV, nsfd, LAB_UL_MTU);
	if (err) {
		nl_fail("creating veth " LAB_UL_DEV, LAB_UL_NETNS, &ul, err);
		goto out_nn;
	}
	err = nl_link_get(&ul, LAB_UL_BRIDGE, &br);
	if (!err)
		err = nl_link_get(&ul, pname, &port);
	if (!err)
		err = nl_link_set_master(&ul, port.ifindex, br.ifindex);
	if (!err)
		err = nl_link_up_ipv4(&ul, port.ifindex, n->name);
	if (err) {
		nl_fail("plugging the node's port into " LAB_UL_BRIDGE, LAB_UL_NETNS, &ul, err);
		goto out_nn;
	}
	err = nl_link_get(&nn, LAB_UL_DEV, &dev);
	if (!err)
		err = nl_addr_add(&nn, dev.ifindex, ip.s_addr, LAB_UL_PLEN, RT_SCOPE_UNIVERSE);
	if (!err)
		err = nl_link_up_ipv4(&nn, dev.ifindex, "xcni lab underlay");
	if (err)
		nl_fail("addressing " LAB_UL_DEV, n->netns, &nn, err);
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
	int err;

	if (!lab->underlay)
		return 0;
	/* The bridge and every port go with the namespace; the nodes' ul0 with their peers. */
	err = lab_netns_delete(LAB_UL_NETNS);
	if (!err)
		lab->underlay = false;
	return err;
}
