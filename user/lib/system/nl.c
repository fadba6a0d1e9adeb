// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "lib/system/nl.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

int nl_open(struct nl *nl)
{
	struct timeval tmo = { .tv_sec = 10 };
	int one = 1;

	memset(nl, 0, sizeof(*nl));
	nl->sock = mnl_socket_open(NETLINK_ROUTE);
	if (!nl->sock)
		return -errno;
	/* Extended acks carry the kernel's reason; capped acks keep them small. */
	mnl_socket_setsockopt(nl->sock, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl->sock, NETLINK_CAP_ACK, &one, sizeof(one));
	/* A reply that never comes must fail the call, not hang the runtime. */
	setsockopt(mnl_socket_get_fd(nl->sock), SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		int err = -errno;

		mnl_socket_close(nl->sock);
		nl->sock = NULL;
		return err;
	}
	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->seq = (unsigned int)time(NULL);
	return 0;
}

void nl_close(struct nl *nl)
{
	if (nl->sock)
		mnl_socket_close(nl->sock);
	nl->sock = NULL;
}

/* mnl_cb_run2 hands one data pointer to data and control callbacks alike. */
struct nl_cbarg {
	struct nl *nl;
	void *user;
};

/* A reply too short for its family header (ifinfomsg, ifaddrmsg, rtmsg) is skipped. */
static bool too_short(const struct nlmsghdr *nlh, size_t hdrsz)
{
	return mnl_nlmsg_get_payload_len(nlh) < hdrsz;
}

static int nl_error_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl *nl = ((struct nl_cbarg *)data)->nl;
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	size_t off, len = mnl_nlmsg_get_payload_len(nlh);
	const struct nlattr *attr;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e))) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	if (e->error == 0)
		return MNL_CB_STOP;

	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		off = sizeof(*e);
		/* Uncapped, the request is echoed whole; its length must fit the reply. */
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
			off += e->msg.nlmsg_len >= sizeof(struct nlmsghdr) ?
				       e->msg.nlmsg_len - sizeof(struct nlmsghdr) : len;
		off = MNL_ALIGN(off);
		if (off > len)
			off = len;
		mnl_attr_for_each_payload((const void *)((const char *)e + off), len - off) {
			if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
			    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
				snprintf(nl->errmsg, sizeof(nl->errmsg), "%s",
					 mnl_attr_get_str(attr));
		}
	}
	/* The kernel sends -errno; anything else is no errno to pass on. */
	errno = e->error < 0 && e->error > -4096 ? -e->error : EBADMSG;
	return MNL_CB_ERROR;
}

/* The end of a dump; its payload carries the dump's own error, if any. */
static int nl_done_cb(const struct nlmsghdr *nlh, void *data)
{
	int err = 0;

	(void)data;
	if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(int))
		memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof(int));
	if (err < 0) {
		errno = err > -4096 ? -err : EBADMSG;
		return MNL_CB_ERROR;
	}
	return MNL_CB_STOP;
}

/*
 * Runs cb over one datagram of replies to request seq: MNL_CB_OK (more to
 * come), MNL_CB_STOP (ack or done) or MNL_CB_ERROR (errno set). No I/O: the
 * fuzz target feeds it replies.
 */
static int nl_replies(struct nl *nl, const void *buf, size_t n, unsigned int seq, mnl_cb_t cb,
		      void *user)
{
	struct nl_cbarg ca = { nl, user };
	/* With a control array libmnl no longer ends on DONE by itself. */
	mnl_cb_t ctl[NLMSG_MIN_TYPE] = { [NLMSG_ERROR] = nl_error_cb,
					 [NLMSG_DONE] = nl_done_cb };
	size_t off = 0;

	/*
	 * libmnl's mnl_nlmsg_ok compares nlmsg_len as a signed int: a length
	 * of 2^31 or more passes and the walk jumps out of the buffer. Every
	 * header must fit what is left of the datagram, before libmnl looks.
	 */
	while (n - off >= sizeof(struct nlmsghdr)) {
		const struct nlmsghdr *h = (const void *)((const char *)buf + off);

		/* libmnl walks a message's attributes up to its aligned end, so the
		 * padding must be there too: the kernel always sends it. */
		if (h->nlmsg_len < sizeof(*h) || h->nlmsg_len > n - off ||
		    MNL_ALIGN(h->nlmsg_len) > n - off) {
			errno = EBADMSG;
			return MNL_CB_ERROR;
		}
		off += MNL_ALIGN(h->nlmsg_len);
	}
	return mnl_cb_run2(buf, n, seq, nl->portid, cb, &ca, ctl, NLMSG_MIN_TYPE);
}

/* Sends one request and runs cb over every reply until ack, done or error. */
static int nl_talk(struct nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *user)
{
	char buf[MNL_SOCKET_BUFFER_SIZE * 4];
	unsigned int seq;
	ssize_t n;
	int ret;

	nl->errmsg[0] = '\0';
	nlh->nlmsg_seq = seq = ++nl->seq;
	nlh->nlmsg_flags |= NLM_F_ACK;
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;

	for (;;) {
		n = mnl_socket_recvfrom(nl->sock, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		ret = nl_replies(nl, buf, (size_t)n, seq, cb, user);
		if (ret == MNL_CB_ERROR)
			return errno ? -errno : -EIO;
		if (ret == MNL_CB_STOP)
			return 0;
	}
}

static struct nlmsghdr *nl_req(char *buf, uint16_t type, uint16_t flags, size_t hdrsz)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	mnl_nlmsg_put_extra_header(nlh, hdrsz);
	return nlh;
}

/* Dumps one rtnetlink table of family af through cb: every rtnetlink header
 * (ifaddrmsg, rtmsg, ndmsg, tcmsg) opens with its family byte. */
static int nl_dump(struct nl *nl, uint16_t type, size_t hdrsz, uint8_t af, mnl_cb_t cb, void *user)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;

	memset(buf, 0, sizeof(buf));
	nlh = nl_req(buf, type, NLM_F_DUMP, hdrsz);
	*(uint8_t *)mnl_nlmsg_get_payload(nlh) = af;
	return nl_talk(nl, nlh, cb, user);
}

/* A request about an existing link: its ifinfomsg, set to ifindex and the flags given. */
static struct nlmsghdr *link_req(char *buf, uint16_t type, int ifindex, unsigned int flags,
				 unsigned int change)
{
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifm;

	memset(buf, 0, MNL_SOCKET_BUFFER_SIZE);
	nlh = nl_req(buf, type, 0, sizeof(struct ifinfomsg));
	ifm = mnl_nlmsg_get_payload(nlh);
	ifm->ifi_index = ifindex;
	ifm->ifi_flags = flags;
	ifm->ifi_change = change;
	return nlh;
}

int nl_veth_add(struct nl *nl, const char *name, const char *peer, int peer_ns_fd,
		unsigned int mtu)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct nlattr *linfo, *data, *pinfo;
	struct ifinfomsg *pifm;

	memset(buf, 0, sizeof(buf));
	nlh = nl_req(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(struct ifinfomsg));
	((struct ifinfomsg *)mnl_nlmsg_get_payload(nlh))->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	linfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	pinfo = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	pifm = mnl_nlmsg_get_payload_tail(nlh);
	memset(pifm, 0, sizeof(*pifm));
	nlh->nlmsg_len += MNL_ALIGN(sizeof(*pifm));
	mnl_attr_put_strz(nlh, IFLA_IFNAME, peer);
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	if (peer_ns_fd >= 0)
		mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)peer_ns_fd);
	mnl_attr_nest_end(nlh, pinfo);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, linfo);
	return nl_talk(nl, nlh, NULL, NULL);
}

int nl_link_set_flags(struct nl *nl, int ifindex, unsigned int flags, unsigned int change)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];

	return nl_talk(nl, link_req(buf, RTM_NEWLINK, ifindex, flags, change), NULL, NULL);
}

int nl_link_set_gso(struct nl *nl, int ifindex, unsigned int size)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = link_req(buf, RTM_NEWLINK, ifindex, 0, 0);

	/* The generic limits first: the IPv4 ones may not exceed them. */
	mnl_attr_put_u32(nlh, IFLA_GSO_MAX_SIZE, size);
	mnl_attr_put_u32(nlh, IFLA_GRO_MAX_SIZE, size);
	mnl_attr_put_u32(nlh, IFLA_GSO_IPV4_MAX_SIZE, size);
	mnl_attr_put_u32(nlh, IFLA_GRO_IPV4_MAX_SIZE, size);
	return nl_talk(nl, nlh, NULL, NULL);
}

int nl_link_set_mtu(struct nl *nl, int ifindex, unsigned int mtu)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = link_req(buf, RTM_NEWLINK, ifindex, 0, 0);

	mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	return nl_talk(nl, nlh, NULL, NULL);
}

int nl_link_move(struct nl *nl, int ifindex, int ns_fd, const char *name)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = link_req(buf, RTM_NEWLINK, ifindex, 0, 0);

	/* The move first, then the name, in the new netns (do_setlink's order):
	 * the link arrives down there, and a link is renamed only down. */
	mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)ns_fd);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	return nl_talk(nl, nlh, NULL, NULL);
}

int nl_link_del(struct nl *nl, int ifindex)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];

	return nl_talk(nl, link_req(buf, RTM_DELLINK, ifindex, 0, 0), NULL, NULL);
}

/*
 * Up, with only what differs written: the kernel takes any IFLA_IFALIAS or
 * IFLA_AF_SPEC, even one that changes nothing, as a state change
 * (NETDEV_CHANGE), on which IPv6 sends the link's MLD reports again (twice).
 * An agent that set xcni0's alias and address mode on every start made
 * to_overlay drop those two reports (drop-no-tunnel) at each restart.
 */
static int link_up(struct nl *nl, int ifindex, const char *alias, int ipv4_only)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nl_link cur;
	struct nlmsghdr *nlh;

	if (nl_link_get_index(nl, ifindex, -1, &cur))
		cur.addr_gen_mode = -1; /* unread: everything is written */
	else if (alias && !strcmp(cur.alias, alias))
		alias = NULL;
	if (cur.addr_gen_mode == IN6_ADDR_GEN_MODE_NONE)
		ipv4_only = 0;
	nlh = link_req(buf, RTM_NEWLINK, ifindex, 0, 0);
	/* The kernel ignores IFLA_IFALIAS when creating a link, so it is set here. */
	if (alias && *alias)
		mnl_attr_put_strz(nlh, IFLA_IFALIAS, alias);
	if (ipv4_only) {
		struct nlattr *af = mnl_attr_nest_start(nlh, IFLA_AF_SPEC);
		struct nlattr *in6 = mnl_attr_nest_start(nlh, AF_INET6);

		mnl_attr_put_u8(nlh, IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE);
		mnl_attr_nest_end(nlh, in6);
		mnl_attr_nest_end(nlh, af);
	}
	/* Up only then: the kernel applies a message's IFLA_AF_SPEC after its
	 * IFF_UP, and 6.1 gave the link a link-local address in between
	 * (test_nl), with which a pod of an IPv4 cluster solicits routers that
	 * from_pod drops as drop-no-endpoint (xcni0: to_overlay, drop-no-tunnel).
	 * With nothing to write the first message changes nothing. */
	return nl_talk(nl, nlh, NULL, NULL) ?: nl_link_set_flags(nl, ifindex, IFF_UP, IFF_UP);
}

int nl_link_up(struct nl *nl, int ifindex, const char *alias)
{
	return link_up(nl, ifindex, alias, 0);
}

int nl_link_up_ipv4(struct nl *nl, int ifindex, const char *alias)
{
	return link_up(nl, ifindex, alias, 1);
}

/* The last attribute of type t nested in a that is valid as dt, or NULL. */
static const struct nlattr *nested(const struct nlattr *a, uint16_t t, enum mnl_attr_data_type dt)
{
	const struct nlattr *in, *found = NULL;

	mnl_attr_for_each_nested(in, a)
		if (mnl_attr_get_type(in) == t && mnl_attr_validate(in, dt) == 0)
			found = in;
	return found;
}

static int link_attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr *in;
	struct nl_link *l = data;

	switch (mnl_attr_get_type(a)) {
	case IFLA_IFNAME:
		if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
			snprintf(l->name, sizeof(l->name), "%s", mnl_attr_get_str(a));
		break;
	case IFLA_IFALIAS:
		if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
			snprintf(l->alias, sizeof(l->alias), "%s", mnl_attr_get_str(a));
		break;
	case IFLA_ADDRESS:
		if (mnl_attr_get_payload_len(a) == 6)
			memcpy(l->mac, mnl_attr_get_payload(a), 6);
		break;
	case IFLA_MTU:
		if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			l->mtu = mnl_attr_get_u32(a);
		break;
	case IFLA_LINK:
		if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			l->link = (int)mnl_attr_get_u32(a);
		break;
	case IFLA_LINK_NETNSID:
		if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			l->link_netnsid = (int)mnl_attr_get_u32(a);
		break;
	case IFLA_AF_SPEC: {
		const struct nlattr *af;

		mnl_attr_for_each_nested(af, a)
			if (mnl_attr_get_type(af) == AF_INET6 &&
			    (in = nested(af, IFLA_INET6_ADDR_GEN_MODE, MNL_TYPE_U8)))
				l->addr_gen_mode = mnl_attr_get_u8(in);
		break;
	}
	case IFLA_XDP:
		if ((in = nested(a, IFLA_XDP_ATTACHED, MNL_TYPE_U8)))
			l->xdp_attached = mnl_attr_get_u8(in);
		if ((in = nested(a, IFLA_XDP_DRV_PROG_ID, MNL_TYPE_U32)))
			l->xdp_drv_prog = mnl_attr_get_u32(in);
		break;
	case IFLA_LINKINFO:
		if ((in = nested(a, IFLA_INFO_KIND, MNL_TYPE_STRING)))
			snprintf(l->kind, sizeof(l->kind), "%.*s",
				 (int)mnl_attr_get_payload_len(in),
				 mnl_attr_get_str(in));
		break;
	}
	return MNL_CB_OK;
}

static void link_parse(const struct nlmsghdr *nlh, struct nl_link *l)
{
	const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);

	memset(l, 0, sizeof(*l));
	l->ifindex = ifm->ifi_index;
	l->flags = ifm->ifi_flags;
	l->link_netnsid = -1;
	l->addr_gen_mode = -1;
	mnl_attr_parse(nlh, sizeof(*ifm), link_attr_cb, l);
	/* IFLA_INFO_KIND may carry a trailing NUL inside its payload. */
	l->kind[strcspn(l->kind, "\0")] = '\0';
}

static int link_get_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_cbarg *ca = data;

	if (nlh->nlmsg_type == RTM_NEWLINK && !too_short(nlh, sizeof(struct ifinfomsg)))
		link_parse(nlh, ca->user);
	return MNL_CB_OK;
}

int nl_link_get(struct nl *nl, const char *name, struct nl_link *out)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;

	memset(buf, 0, sizeof(buf));
	memset(out, 0, sizeof(*out));
	nlh = nl_req(buf, RTM_GETLINK, 0, sizeof(struct ifinfomsg));
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	return nl_talk(nl, nlh, link_get_cb, out);
}

int nl_link_get_index(struct nl *nl, int ifindex, int netnsid, struct nl_link *out)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = link_req(buf, RTM_GETLINK, ifindex, 0, 0);

	memset(out, 0, sizeof(*out));
	if (netnsid >= 0)
		mnl_attr_put_u32(nlh, IFLA_TARGET_NETNSID, (uint32_t)netnsid);
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	return nl_talk(nl, nlh, link_get_cb, out);
}

int nl_link_set_xdp(struct nl *nl, int ifindex, int fd, uint32_t flags)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = link_req(buf, RTM_NEWLINK, ifindex, 0, 0);
	struct nlattr *x = mnl_attr_nest_start(nlh, IFLA_XDP);

	mnl_attr_put_u32(nlh, IFLA_XDP_FD, (uint32_t)fd);
	if (flags)
		mnl_attr_put_u32(nlh, IFLA_XDP_FLAGS, flags);
	mnl_attr_nest_end(nlh, x);
	return nl_talk(nl, nlh, NULL, NULL);
}

struct link_dump_arg {
	nl_link_cb cb;
	void *arg;
	int ret;
};

static int link_dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_cbarg *ca = data;
	struct link_dump_arg *d = ca->user;
	struct nl_link l;

	if (nlh->nlmsg_type != RTM_NEWLINK || d->ret || too_short(nlh, sizeof(struct ifinfomsg)))
		return MNL_CB_OK;
	link_parse(nlh, &l);
	d->ret = d->cb(&l, d->arg);
	return MNL_CB_OK;
}

int nl_link_dump(struct nl *nl, nl_link_cb cb, void *arg)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct link_dump_arg d = { cb, arg, 0 };
	int err;

	memset(buf, 0, sizeof(buf));
	nlh = nl_req(buf, RTM_GETLINK, NLM_F_DUMP, sizeof(struct ifinfomsg));
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	err = nl_talk(nl, nlh, link_dump_cb, &d);
	return err ? err : d.ret;
}

/* An address of family af (addr: 4 or 16 bytes) on ifindex, with IFA_F_* flags;
 * deprecated: a preferred lifetime of 0 (never a new flow's source). */
static int addr_msg(struct nl *nl, int af, int ifindex, const void *addr, uint8_t plen,
		    uint8_t scope, uint32_t flags, bool deprecated)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	size_t alen = af == AF_INET ? 4 : 16;
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;

	memset(buf, 0, sizeof(buf));
	nlh = nl_req(buf, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, sizeof(*ifa));
	ifa = mnl_nlmsg_get_payload(nlh);
	ifa->ifa_family = (uint8_t)af;
	ifa->ifa_prefixlen = plen;
	ifa->ifa_scope = scope;
	ifa->ifa_flags = (uint8_t)flags;
	ifa->ifa_index = (unsigned int)ifindex;
	mnl_attr_put(nlh, IFA_LOCAL, alen, addr);
	mnl_attr_put(nlh, IFA_ADDRESS, alen, addr);
	if (flags > 0xff)
		mnl_attr_put_u32(nlh, IFA_FLAGS, flags);
	if (deprecated) {
		/* 0xffffffff: forever (the kernel's INFINITY_LIFE_TIME). */
		struct ifa_cacheinfo ci = { .ifa_prefered = 0, .ifa_valid = 0xffffffffu };

		mnl_attr_put(nlh, IFA_CACHEINFO, sizeof(ci), &ci);
	}
	return nl_talk(nl, nlh, NULL, NULL);
}

int nl_addr_add(struct nl *nl, int ifindex, uint32_t addr, uint8_t plen, uint8_t scope)
{
	return addr_msg(nl, AF_INET, ifindex, &addr, plen, scope, 0, false);
}

int nl_addr6_add(struct nl *nl, int ifindex, const struct in6_addr *addr, uint8_t plen)
{
	/* No duplicate address detection: the address is usable at once, and the
	 * link it is on has exactly one other end, which xcni also configures. */
	return addr_msg(nl, AF_INET6, ifindex, addr, plen, 0, IFA_F_NODAD, false);
}

int nl_addr6_add_spare(struct nl *nl, int ifindex, const struct in6_addr *addr, uint8_t plen)
{
	return addr_msg(nl, AF_INET6, ifindex, addr, plen, 0, IFA_F_NODAD, true);
}

/* An address of family af on ifindex: addr/plen there (addr_has), or the first (plen -1). */
struct addr_find {
	int af;
	int ifindex;
	uint8_t addr[16];
	int plen;
	int found;
};

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_cbarg *ca = data;
	struct addr_find *f = ca->user;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	/* IPv4 names the interface's own address IFA_LOCAL; IPv6 IFA_ADDRESS. */
	uint16_t type = f->af == AF_INET ? IFA_LOCAL : IFA_ADDRESS;
	size_t alen = f->af == AF_INET ? 4 : 16;
	bool first = f->plen < 0;
	const struct nlattr *a;

	/* The first: IPv6 global scope only, a link-local address is no underlay endpoint. */
	if (nlh->nlmsg_type != RTM_NEWADDR || too_short(nlh, sizeof(*ifa)) ||
	    ifa->ifa_family != f->af || (int)ifa->ifa_index != f->ifindex ||
	    (first ? (f->af == AF_INET6 && ifa->ifa_scope != RT_SCOPE_UNIVERSE) || f->found
		   : ifa->ifa_prefixlen != f->plen))
		return MNL_CB_OK;
	mnl_attr_for_each(a, nlh, sizeof(*ifa)) {
		if (mnl_attr_get_type(a) != type || mnl_attr_get_payload_len(a) != alen)
			continue;
		if (first)
			memcpy(f->addr, mnl_attr_get_payload(a), alen);
		f->found |= first || !memcmp(mnl_attr_get_payload(a), f->addr, alen);
	}
	return MNL_CB_OK;
}

static int addr_has(struct nl *nl, int af, int ifindex, const void *addr, uint8_t plen)
{
	struct addr_find f = { .af = af, .ifindex = ifindex, .plen = plen };
	int err;

	memcpy(f.addr, addr, af == AF_INET ? 4 : 16);
	err = nl_dump(nl, RTM_GETADDR, sizeof(struct ifaddrmsg), (uint8_t)af, addr_cb, &f);
	return err ? err : f.found;
}

int nl_addr_has(struct nl *nl, int ifindex, uint32_t addr, uint8_t plen)
{
	return addr_has(nl, AF_INET, ifindex, &addr, plen);
}

int nl_addr6_has(struct nl *nl, int ifindex, const struct in6_addr *addr, uint8_t plen)
{
	return addr_has(nl, AF_INET6, ifindex, addr, plen);
}

/* r's family (AF_INET for 0) and the length of its addresses (*alen). */
static int route_af(const struct nl_route *r, size_t *alen)
{
	*alen = r->af == AF_INET6 ? 16 : 4;
	return r->af == AF_INET6 ? AF_INET6 : AF_INET;
}

/* a (alen bytes), or NULL when it is all zeros: none. */
static const void *set_or_null(const void *a, size_t alen)
{
	static const uint8_t zero[16];

	return memcmp(a, zero, alen) ? a : NULL;
}

static int route_msg(struct nl *nl, const struct nl_route *r, uint16_t type, uint16_t flags)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	size_t alen;
	int af = route_af(r, &alen);
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;

	memset(buf, 0, sizeof(buf));
	nlh = nl_req(buf, type, flags, sizeof(*rtm));
	rtm = mnl_nlmsg_get_payload(nlh);
	rtm->rtm_family = (uint8_t)af;
	rtm->rtm_dst_len = r->dst_len;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_BOOT;
	rtm->rtm_scope = type == RTM_DELROUTE ? RT_SCOPE_NOWHERE : r->scope;
	rtm->rtm_type = RTN_UNICAST;
	if (r->dst_len)
		mnl_attr_put(nlh, RTA_DST, alen, &r->dst6);
	if (set_or_null(&r->gw6, alen))
		mnl_attr_put(nlh, RTA_GATEWAY, alen, &r->gw6);
	if (r->oif)
		mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)r->oif);
	if (set_or_null(&r->prefsrc6, alen))
		mnl_attr_put(nlh, RTA_PREFSRC, alen, &r->prefsrc6);
	return nl_talk(nl, nlh, NULL, NULL);
}

/* The first address of family af on ifindex into addr (4 or 16 bytes). */
static int addr_first(struct nl *nl, int af, int ifindex, void *addr)
{
	struct addr_find f = { .af = af, .ifindex = ifindex, .plen = -1 };
	int err = nl_dump(nl, RTM_GETADDR, sizeof(struct ifaddrmsg), (uint8_t)af, addr_cb, &f);

	if (err)
		return err;
	if (!f.found)
		return -ENOENT;
	memcpy(addr, f.addr, af == AF_INET ? 4 : 16);
	return 0;
}

int nl_addr_first(struct nl *nl, int ifindex, uint32_t *addr)
{
	return addr_first(nl, AF_INET, ifindex, addr);
}

int nl_addr6_first(struct nl *nl, int ifindex, struct in6_addr *addr)
{
	return addr_first(nl, AF_INET6, ifindex, addr);
}

int nl_route_add(struct nl *nl, const struct nl_route *r)
{
	return route_msg(nl, r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
}

int nl_route_replace(struct nl *nl, const struct nl_route *r)
{
	return route_msg(nl, r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE);
}

int nl_route_del(struct nl *nl, const struct nl_route *r)
{
	return route_msg(nl, r, RTM_DELROUTE, 0);
}

/* A route as a dump gives it, either family (addresses 4 or 16 bytes). */
struct rt_any {
	uint8_t dst[16], gw[16], prefsrc[16];
	uint8_t dst_len, scope;
	int oif;
	uint32_t table;
};

/* 0 and *r if nlh is a route of family af, else -1. */
static int route_parse(const struct nlmsghdr *nlh, int af, struct rt_any *r)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	size_t alen = af == AF_INET ? 4 : 16;
	const struct nlattr *a;

	if (nlh->nlmsg_type != RTM_NEWROUTE || too_short(nlh, sizeof(*rtm)) ||
	    rtm->rtm_family != af)
		return -1;
	memset(r, 0, sizeof(*r));
	r->table = rtm->rtm_table;
	r->dst_len = rtm->rtm_dst_len;
	r->scope = rtm->rtm_scope;
	mnl_attr_for_each(a, nlh, sizeof(*rtm)) {
		uint16_t t = mnl_attr_get_type(a);
		uint8_t *to = t == RTA_DST ? r->dst : t == RTA_GATEWAY ? r->gw :
			      t == RTA_PREFSRC ? r->prefsrc : NULL;

		if (to) {
			if (mnl_attr_get_payload_len(a) == alen)
				memcpy(to, mnl_attr_get_payload(a), alen);
		} else if (mnl_attr_validate(a, MNL_TYPE_U32) == 0) {
			if (t == RTA_OIF)
				r->oif = (int)mnl_attr_get_u32(a);
			else if (t == RTA_TABLE)
				r->table = mnl_attr_get_u32(a);
		}
	}
	return 0;
}

struct route_find {
	int af;
	const void *dst, *gw; /* gw NULL: any */
	uint8_t dst_len;
	int oif; /* 0: any */
	int found;
};

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_cbarg *ca = data;
	struct route_find *f = ca->user;
	size_t alen = f->af == AF_INET ? 4 : 16;
	struct rt_any got;

	if (route_parse(nlh, f->af, &got) || got.table != RT_TABLE_MAIN ||
	    memcmp(got.dst, f->dst, alen) || got.dst_len != f->dst_len)
		return MNL_CB_OK;
	if (f->gw && memcmp(got.gw, f->gw, alen))
		return MNL_CB_OK;
	if (f->oif && got.oif != f->oif)
		return MNL_CB_OK;
	f->found = 1;
	return MNL_CB_OK;
}

static int route_has(struct nl *nl, struct route_find *f)
{
	int err = nl_dump(nl, RTM_GETROUTE, sizeof(struct rtmsg), (uint8_t)f->af, route_cb, f);

	return err ? err : f->found;
}

int nl_route_has(struct nl *nl, const struct nl_route *r)
{
	size_t alen;
	struct route_find f = { route_af(r, &alen), &r->dst6, set_or_null(&r->gw6, alen),
				r->dst_len, r->oif, 0 };

	return route_has(nl, &f);
}

struct route_walk {
	int af, oif;
	nl_route_cb cb;
	void *arg;
	int err;
};

static int route_walk_cb(const struct nlmsghdr *nlh, void *data)
{
	struct route_walk *w = ((struct nl_cbarg *)data)->user;
	struct rt_any r;
	struct nl_route got;

	if (w->err || route_parse(nlh, w->af, &r) || r.table != RT_TABLE_MAIN || r.oif != w->oif)
		return MNL_CB_OK;
	got = (struct nl_route){ .af = w->af, .dst_len = r.dst_len, .scope = r.scope, .oif = r.oif };
	memcpy(&got.dst6, r.dst, 16);
	memcpy(&got.gw6, r.gw, 16);
	memcpy(&got.prefsrc6, r.prefsrc, 16);
	w->err = w->cb(&got, w->arg);
	return MNL_CB_OK;
}

int nl_route_dump_oif(struct nl *nl, int af, int oif, nl_route_cb cb, void *arg)
{
	struct route_walk w = { af, oif, cb, arg, 0 };
	int err = nl_dump(nl, RTM_GETROUTE, sizeof(struct rtmsg), (uint8_t)af, route_walk_cb, &w);

	return err ? err : w.err;
}

static int tc_count_cb(const struct nlmsghdr *nlh, void *data)
{
	int *n = ((struct nl_cbarg *)data)->user;

	if (nlh->nlmsg_type == RTM_NEWTFILTER && !too_short(nlh, sizeof(struct tcmsg)))
		(*n)++;
	return MNL_CB_OK;
}

/* Dumps the tc filters of ifindex's parent through cb. */
static int tc_dump(struct nl *nl, int ifindex, uint32_t parent, mnl_cb_t cb, void *user)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct tcmsg *tcm;

	memset(buf, 0, sizeof(buf));
	nlh = nl_req(buf, RTM_GETTFILTER, NLM_F_DUMP, sizeof(*tcm));
	tcm = mnl_nlmsg_get_payload(nlh);
	tcm->tcm_family = AF_UNSPEC;
	tcm->tcm_ifindex = ifindex;
	tcm->tcm_parent = parent;
	return nl_talk(nl, nlh, cb, user);
}

int nl_tc_filter_count(struct nl *nl, int ifindex, uint32_t parent)
{
	int n = 0, err = tc_dump(nl, ifindex, parent, tc_count_cb, &n);

	return err ? err : n;
}

struct tc_first {
	struct nl_tc_filter *f;
	int found;
};

static void tc_bpf_opts(const struct nlattr *opts, struct nl_tc_filter *f)
{
	const struct nlattr *a;

	mnl_attr_for_each_nested(a, opts) {
		if (mnl_attr_get_type(a) == TCA_BPF_NAME && mnl_attr_get_payload_len(a) > 0) {
			char *id;

			snprintf(f->name, sizeof(f->name), "%.*s",
				 (int)mnl_attr_get_payload_len(a), (const char *)mnl_attr_get_payload(a));
			/* libbpf names it "NAME:[ID]": the id is said apart. */
			if ((id = strstr(f->name, ":[")))
				*id = '\0';
		} else if (mnl_attr_get_type(a) == TCA_BPF_ID && mnl_attr_get_payload_len(a) == 4)
			f->prog_id = mnl_attr_get_u32(a);
	}
}

static int tc_first_cb(const struct nlmsghdr *nlh, void *data)
{
	struct tc_first *t = ((struct nl_cbarg *)data)->user;
	const struct tcmsg *tcm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a, *opts = NULL;
	struct nl_tc_filter f = {};

	if (t->found || nlh->nlmsg_type != RTM_NEWTFILTER || too_short(nlh, sizeof(*tcm)))
		return MNL_CB_OK;
	/* Each priority's classifier comes first as a header without a handle. */
	if (!tcm->tcm_handle)
		return MNL_CB_OK;
	mnl_attr_for_each(a, nlh, sizeof(*tcm)) {
		switch (mnl_attr_get_type(a)) {
		case TCA_CHAIN:
			if (mnl_attr_get_payload_len(a) == 4 && mnl_attr_get_u32(a) != 0)
				return MNL_CB_OK; /* runs only when a filter jumps there */
			break;
		case TCA_KIND:
			snprintf(f.kind, sizeof(f.kind), "%s", mnl_attr_get_str(a));
			break;
		case TCA_OPTIONS:
			opts = a;
			break;
		}
	}
	if (opts && !strcmp(f.kind, "bpf"))
		tc_bpf_opts(opts, &f);
	f.prio = TC_H_MAJ(tcm->tcm_info) >> 16;
	f.handle = tcm->tcm_handle;
	*t->f = f;
	t->found = 1;
	return MNL_CB_OK;
}

int nl_tc_filter_first(struct nl *nl, int ifindex, uint32_t parent, struct nl_tc_filter *out)
{
	struct tc_first t = { .f = out };
	int err = tc_dump(nl, ifindex, parent, tc_first_cb, &t);

	return err ? err : t.found;
}

int nl_neigh6_add(struct nl *nl, int ifindex, const struct in6_addr *ip, const uint8_t mac[6])
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct ndmsg *ndm;

	memset(buf, 0, sizeof(buf));
	/* Replace: the kernel may already hold an incomplete entry for ip. */
	nlh = nl_req(buf, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, sizeof(*ndm));
	ndm = mnl_nlmsg_get_payload(nlh);
	ndm->ndm_family = AF_INET6;
	ndm->ndm_ifindex = ifindex;
	ndm->ndm_state = NUD_PERMANENT;
	mnl_attr_put(nlh, NDA_DST, sizeof(*ip), ip);
	mnl_attr_put(nlh, NDA_LLADDR, 6, mac);
	return nl_talk(nl, nlh, NULL, NULL);
}

struct neigh_find {
	int ifindex;
	const struct in6_addr *ip;
	const uint8_t *mac;
	int found;
};

static int neigh_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_cbarg *ca = data;
	struct neigh_find *f = ca->user;
	const struct ndmsg *ndm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;
	int ip_ok = 0, mac_ok = 0;

	if (nlh->nlmsg_type != RTM_NEWNEIGH || too_short(nlh, sizeof(*ndm)) ||
	    ndm->ndm_family != AF_INET6 || ndm->ndm_ifindex != f->ifindex ||
	    !(ndm->ndm_state & NUD_PERMANENT))
		return MNL_CB_OK;
	mnl_attr_for_each(a, nlh, sizeof(*ndm)) {
		if (mnl_attr_get_type(a) == NDA_DST && mnl_attr_get_payload_len(a) == 16)
			ip_ok = memcmp(mnl_attr_get_payload(a), f->ip, 16) == 0;
		else if (mnl_attr_get_type(a) == NDA_LLADDR && mnl_attr_get_payload_len(a) == 6)
			mac_ok = memcmp(mnl_attr_get_payload(a), f->mac, 6) == 0;
	}
	if (ip_ok && mac_ok)
		f->found = 1;
	return MNL_CB_OK;
}

int nl_neigh6_has(struct nl *nl, int ifindex, const struct in6_addr *ip, const uint8_t mac[6])
{
	struct neigh_find f = { ifindex, ip, mac, 0 };
	int err = nl_dump(nl, RTM_GETNEIGH, sizeof(struct ndmsg), AF_INET6, neigh_cb, &f);

	return err ? err : f.found;
}

int xcni_sysctl(const char *path, const char *val, char *was)
{
	int fd = open(path, (val ? O_RDWR : O_RDONLY) | O_CLOEXEC), err = 0;
	char v = '\0';

	if (fd < 0)
		return -errno;
	errno = 0;
	if (read(fd, &v, 1) != 1)
		err = -EIO;
	else if (val && v != val[0] && (lseek(fd, 0, SEEK_SET) != 0 ||
				 write(fd, val, strlen(val)) != (ssize_t)strlen(val)))
		err = errno ? -errno : -EIO;
	close(fd);
	if (was)
		*was = v;
	return err;
}

int nl_netns_enter(int fd)
{
	return setns(fd, CLONE_NEWNET) < 0 ? -errno : 0;
}

int nl_bridge_add(struct nl *nl, const char *name)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct nlattr *linfo;

	memset(buf, 0, sizeof(buf));
	nlh = nl_req(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(struct ifinfomsg));
	((struct ifinfomsg *)mnl_nlmsg_get_payload(nlh))->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	linfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
	mnl_attr_nest_end(nlh, linfo);
	return nl_talk(nl, nlh, NULL, NULL);
}

int nl_link_set_master(struct nl *nl, int ifindex, int master_ifindex)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = link_req(buf, RTM_NEWLINK, ifindex, 0, 0);

	mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)master_ifindex);
	return nl_talk(nl, nlh, NULL, NULL);
}
