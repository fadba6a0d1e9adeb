// SPDX-License-Identifier: Apache-2.0
/*
 * The netlink helper against the real kernel, in a private network namespace
 * (needs root): errors come back as -errno with the kernel's extended-ack text.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../user/lib/system/nl.h"

static int setup(void **state)
{
	static struct nl nl;

	if (unshare(CLONE_NEWNET) < 0)
		return -1;
	if (nl_open(&nl))
		return -1;
	*state = &nl;
	return 0;
}

static int teardown(void **state)
{
	nl_close(*state);
	return 0;
}

static uint32_t a4(const char *s)
{
	struct in_addr a;

	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

static void extack_message_is_kept(void **state)
{
	struct nl *nl = *state;
	struct nl_link lo;
	struct nl_route r = { .dst = a4("10.1.2.3"), .dst_len = 8, .scope = RT_SCOPE_LINK };

	assert_int_equal(nl_link_get(nl, "lo", &lo), 0);
	assert_int_equal(nl_link_up(nl, lo.ifindex, NULL), 0);
	r.oif = lo.ifindex;
	/* Host bits set under the prefix: the kernel says why in its extack. */
	assert_int_equal(nl_route_add(nl, &r), -EINVAL);
	assert_non_null(strstr(nl->errmsg, "prefix"));
}

static void veth_link_addr_route(void **state)
{
	struct nl *nl = *state;
	struct nl_link a, b;
	struct nl_route r = { .dst = a4("10.9.9.9"), .dst_len = 32, .scope = RT_SCOPE_LINK };

	assert_int_equal(nl_veth_add(nl, "xt-a", "xt-b", -1, 1400), 0);
	assert_int_equal(nl_veth_add(nl, "xt-a", "xt-c", -1, 1400), -EEXIST);
	assert_int_equal(nl_link_get(nl, "xt-a", &a), 0);
	assert_int_equal(nl_link_get(nl, "xt-b", &b), 0);
	assert_string_equal(a.kind, "veth");
	assert_int_equal(a.mtu, 1400);
	assert_int_equal(a.link, b.ifindex);
	assert_int_equal(nl_link_up(nl, a.ifindex, "xcni net c eth0"), 0);
	assert_int_equal(nl_link_get(nl, "xt-a", &a), 0);
	assert_string_equal(a.alias, "xcni net c eth0");
	assert_true(a.flags & IFF_UP);

	uint32_t first;

	assert_int_equal(nl_addr_has(nl, a.ifindex, a4("10.9.9.1"), 32), 0);
	assert_int_equal(nl_addr_first(nl, a.ifindex, &first), -ENOENT);
	assert_int_equal(nl_addr_add(nl, a.ifindex, a4("10.9.9.1"), 32, RT_SCOPE_UNIVERSE), 0);
	assert_int_equal(nl_addr_has(nl, a.ifindex, a4("10.9.9.1"), 32), 1);
	assert_int_equal(nl_addr_first(nl, a.ifindex, &first), 0);
	assert_int_equal(first, a4("10.9.9.1"));
	r.oif = a.ifindex;
	assert_int_equal(nl_route_has(nl, &r), 0);
	assert_int_equal(nl_route_add(nl, &r), 0);
	assert_int_equal(nl_route_has(nl, &r), 1);
	assert_int_equal(nl_route_add(nl, &r), -EEXIST);

	assert_int_equal(nl_link_del(nl, a.ifindex), 0);
	assert_int_equal(nl_link_get(nl, "xt-b", &b), -ENODEV);
	assert_int_equal(nl_link_del(nl, a.ifindex), -ENODEV);
}

static struct in6_addr a6(const char *s)
{
	struct in6_addr a;

	inet_pton(AF_INET6, s, &a);
	return a;
}

/* What the plugin does for an IPv6 pod: address, route via fe80::1, neighbour. */
static void ipv6_addr_route_neigh(void **state)
{
	struct nl *nl = *state;
	struct nl_link a, b;
	struct in6_addr pod = a6("fd00:1::5"), gw = a6("fe80::1");
	struct nl_route host = { .af = AF_INET6, .dst6 = pod, .dst_len = 128 };
	struct nl_route def = { .af = AF_INET6, .gw6 = gw };
	static const uint8_t other[6] = { 2, 0, 0, 0, 0, 9 };

	assert_int_equal(nl_veth_add(nl, "xt6-a", "xt6-b", -1, 1500), 0);
	assert_int_equal(nl_link_get(nl, "xt6-a", &a), 0);
	assert_int_equal(nl_link_get(nl, "xt6-b", &b), 0);
	assert_int_equal(nl_link_up_ipv4(nl, a.ifindex, NULL), 0);
	assert_int_equal(nl_link_up_ipv4(nl, b.ifindex, NULL), 0);

	assert_int_equal(nl_addr6_has(nl, b.ifindex, &pod, 128), 0);
	assert_int_equal(nl_addr6_add(nl, b.ifindex, &pod, 128), 0);
	assert_int_equal(nl_addr6_has(nl, b.ifindex, &pod, 128), 1);
	assert_int_equal(nl_addr6_has(nl, b.ifindex, &pod, 64), 0);
	assert_int_equal(nl_addr6_add(nl, b.ifindex, &pod, 128), -EEXIST);
	assert_int_equal(nl_addr6_add(nl, a.ifindex, &gw, 64), 0);
	assert_int_equal(nl_addr6_has(nl, a.ifindex, &gw, 64), 1);
	/* The first address is a global one: b's link-local ones are passed over. */
	struct in6_addr first;

	assert_int_equal(nl_addr6_first(nl, a.ifindex, &first), -ENOENT);
	assert_int_equal(nl_addr6_first(nl, b.ifindex, &first), 0);
	assert_memory_equal(&first, &pod, 16);

	host.oif = a.ifindex;
	assert_int_equal(nl_route_has(nl, &host), 0);
	assert_int_equal(nl_route_add(nl, &host), 0);
	assert_int_equal(nl_route_has(nl, &host), 1);
	/* The default route via a link-local gateway needs the device. */
	def.oif = b.ifindex;
	assert_int_equal(nl_route_add(nl, &def), 0);
	assert_int_equal(nl_route_has(nl, &def), 1);
	def.gw6 = a6("fe80::2");
	assert_int_equal(nl_route_has(nl, &def), 0);

	assert_int_equal(nl_neigh6_has(nl, b.ifindex, &gw, a.mac), 0);
	assert_int_equal(nl_neigh6_add(nl, b.ifindex, &gw, a.mac), 0);
	assert_int_equal(nl_neigh6_has(nl, b.ifindex, &gw, a.mac), 1);
	assert_int_equal(nl_neigh6_has(nl, b.ifindex, &gw, other), 0);
	assert_int_equal(nl_neigh6_has(nl, a.ifindex, &gw, a.mac), 0);
	/* Written again (a replace), it still holds one entry. */
	assert_int_equal(nl_neigh6_add(nl, b.ifindex, &gw, a.mac), 0);
	assert_int_equal(nl_link_del(nl, a.ifindex), 0);
}

static int count_cb(const struct nl_link *l, void *arg)
{
	(void)l;
	(*(int *)arg)++;
	return 0;
}

static void dump_ends(void **state)
{
	struct nl *nl = *state;
	int n = 0;

	/* A dump must end at NLMSG_DONE rather than wait for an ack that never comes. */
	assert_int_equal(nl_link_dump(nl, count_cb, &n), 0);
	assert_true(n >= 1);
}

/*
 * A veth whose peer sits in another netns (as a kind node's eth0, the lab's
 * ul0): its peer read through IFLA_TARGET_NETNSID, and whether that peer runs
 * a native XDP program (xcnid's check before native NodePort acceleration).
 */
static void veth_peer_xdp(void **state)
{
	const struct bpf_insn pass[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	struct nl *nl = *state, nlb;
	struct nl_link a, p;
	int here = open("/proc/thread-self/ns/net", O_RDONLY), there, fd;

	assert_true(here >= 0);
	assert_int_equal(unshare(CLONE_NEWNET), 0);
	there = open("/proc/thread-self/ns/net", O_RDONLY);
	assert_true(there >= 0);
	assert_int_equal(nl_open(&nlb), 0);
	assert_int_equal(setns(here, CLONE_NEWNET), 0);
	assert_int_equal(nl_veth_add(nl, "xp-a", "xp-b", there, 1500), 0);
	assert_int_equal(nl_link_get(nl, "xp-a", &a), 0);
	assert_true(a.link_netnsid >= 0);
	assert_int_equal(nl_link_get_index(nl, a.link, a.link_netnsid, &p), 0);
	assert_string_equal(p.name, "xp-b");
	assert_int_equal(p.xdp_drv_prog, 0);
	/* A native XDP program on the peer (through a socket in its netns). */
	fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "xt_pass", "GPL", pass, 2, NULL);
	assert_true(fd >= 0);
	assert_int_equal(nl_link_set_xdp(&nlb, p.ifindex, fd, XDP_FLAGS_DRV_MODE), 0);
	assert_int_equal(nl_link_get_index(nl, a.link, a.link_netnsid, &p), 0);
	assert_int_equal(p.xdp_attached, XDP_ATTACHED_DRV);
	assert_true(p.xdp_drv_prog > 0);
	assert_int_equal(nl_link_set_xdp(&nlb, p.ifindex, -1, XDP_FLAGS_DRV_MODE), 0);
	assert_int_equal(nl_link_get_index(nl, a.link, a.link_netnsid, &p), 0);
	assert_int_equal(p.xdp_drv_prog, 0);
	/* No such link there: the kernel's error. */
	assert_int_equal(nl_link_get_index(nl, 99999, a.link_netnsid, &p), -ENODEV);
	close(fd);
	nl_close(&nlb);
	assert_int_equal(nl_link_del(nl, a.ifindex), 0);
	close(there);
	close(here);
}

/* RTM_NEWLINK notifications about ifindex waiting on mon (read without blocking). */
static int link_notes(struct mnl_socket *mon, int ifindex)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	ssize_t n;
	int notes = 0;

	while ((n = recv(mnl_socket_get_fd(mon), buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; mnl_nlmsg_ok(h, (int)n);
		     h = mnl_nlmsg_next(h, (int *)&n)) {
			const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(h);

			notes += h->nlmsg_type == RTM_NEWLINK && ifm->ifi_index == ifindex;
		}
	}
	return notes;
}

/* A link's EUI-64 link-local address (fe80::/64 from its MAC), as IPv6 gives one. */
static struct in6_addr eui64_ll(const uint8_t *mac)
{
	struct in6_addr ll = { .s6_addr = { 0xfe, 0x80 } };
	const uint8_t id[8] = { mac[0] ^ 2, mac[1], mac[2], 0xff, 0xfe, mac[3], mac[4], mac[5] };

	memcpy(ll.s6_addr + 8, id, sizeof(id));
	return ll;
}

/*
 * A link brought up again as it already is (xcnid's xcni0 at every start)
 * goes through no state change: the kernel takes any alias or IPv6 address
 * mode written as one (NETDEV_CHANGE, told as an RTM_NEWLINK before the
 * request's ack), and IPv6 then sends the link's MLD reports again, which
 * to_overlay counted as drop-no-tunnel at every restart (tests/lab/decap.sh).
 */
static void link_up_again_unchanged(void **state)
{
	struct nl *nl = *state;
	struct mnl_socket *mon;
	struct nl_link a, b;

	assert_int_equal(nl_veth_add(nl, "xu-a", "xu-b", -1, 1500), 0);
	assert_int_equal(nl_link_get(nl, "xu-a", &a), 0);
	assert_int_equal(nl_link_get(nl, "xu-b", &b), 0);
	assert_int_equal(a.addr_gen_mode, IN6_ADDR_GEN_MODE_EUI64); /* a new link's */
	assert_int_equal(nl_link_up_ipv4(nl, b.ifindex, NULL), 0);
	assert_int_equal(nl_link_up_ipv4(nl, a.ifindex, "xcni overlay"), 0);
	/* Running (carrier and operstate up): no link event is still to come. */
	for (int i = 0; i < 300 && !(a.flags & IFF_RUNNING && b.flags & IFF_RUNNING); i++) {
		usleep(10000);
		assert_int_equal(nl_link_get(nl, "xu-a", &a), 0);
		assert_int_equal(nl_link_get(nl, "xu-b", &b), 0);
	}
	assert_true(a.flags & IFF_RUNNING);
	/* Up as an IPv4 link: no link-local address. 6.1 gave both ends one when
	 * the address mode came in the message that set the link up. */
	for (int i = 0; i < 2; i++) {
		struct in6_addr ll = eui64_ll(i ? b.mac : a.mac);

		assert_int_equal(nl_addr6_has(nl, i ? b.ifindex : a.ifindex, &ll, 64), 0);
	}
	assert_string_equal(a.alias, "xcni overlay");
	assert_int_equal(a.addr_gen_mode, IN6_ADDR_GEN_MODE_NONE);
	assert_int_equal(b.addr_gen_mode, IN6_ADDR_GEN_MODE_NONE);

	mon = mnl_socket_open(NETLINK_ROUTE);
	assert_non_null(mon);
	assert_int_equal(mnl_socket_bind(mon, RTMGRP_LINK, MNL_SOCKET_AUTOPID), 0);
	link_notes(mon, a.ifindex);
	assert_int_equal(nl_link_up_ipv4(nl, a.ifindex, "xcni overlay"), 0);
	assert_int_equal(nl_link_up_ipv4(nl, b.ifindex, NULL), 0);
	assert_int_equal(link_notes(mon, a.ifindex), 0);
	assert_int_equal(link_notes(mon, b.ifindex), 0);
	/* What differs is written, and is a change. */
	assert_int_equal(nl_link_up_ipv4(nl, a.ifindex, "xcni overlay 2"), 0);
	assert_int_equal(link_notes(mon, a.ifindex), 1);
	assert_int_equal(nl_link_get(nl, "xu-a", &a), 0);
	assert_string_equal(a.alias, "xcni overlay 2");
	mnl_socket_close(mon);
	assert_int_equal(nl_link_del(nl, a.ifindex), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(extack_message_is_kept),
		cmocka_unit_test(veth_link_addr_route),
		cmocka_unit_test(ipv6_addr_route_neigh),
		cmocka_unit_test(dump_ends),
		cmocka_unit_test(veth_peer_xdp),
		cmocka_unit_test(link_up_again_unchanged),
	};

	return cmocka_run_group_tests_name("netlink", tests, setup, teardown);
}
