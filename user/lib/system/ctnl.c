// SPDX-License-Identifier: Apache-2.0
/*
 * Conntrack entries deleted over ctnetlink. The kernel deletes one entry per
 * request, named by its original tuple, so the table of one family is dumped
 * first, the chosen entries' tuples kept, and each deleted once the dump is
 * over.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/system/ctnl.h"
#include "lib/system/util.h"

/* A dump's datagrams: libmnl's MNL_SOCKET_DUMP_SIZE (newer libmnl than Debian's has it). */
#define CT_DUMP_SIZE 32768

/* One original tuple to delete: its CTA_TUPLE_ORIG attribute as the dump gave it. */
struct ct_victim {
	uint16_t len;
	uint8_t attr[256];
};

struct ct_dump {
	int family;
	ctnl_pick_fn pick;
	void *arg;
	struct ct_victim *v;
	size_t nv, cap;
	int err;
};

static int attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(a);

	/* Every attribute this file reads has a type below 32; the rest are skipped. */
	if (type < 32)
		tb[type] = a;
	return MNL_CB_OK;
}

/* A tuple's addresses and ports into src/dst/sport/dport; false if it lacks them. */
static bool tuple_parse(const struct nlattr *nest, int family, uint8_t *src, uint8_t *dst,
			uint8_t *proto, uint16_t *sport, uint16_t *dport)
{
	const struct nlattr *tb[32] = {}, *ip[32] = {}, *pr[32] = {};
	size_t alen = family == AF_INET6 ? 16 : 4;
	int s = family == AF_INET6 ? CTA_IP_V6_SRC : CTA_IP_V4_SRC;
	int d = family == AF_INET6 ? CTA_IP_V6_DST : CTA_IP_V4_DST;

	if (mnl_attr_parse_nested(nest, attr_cb, tb) < 0 || !tb[CTA_TUPLE_IP] ||
	    mnl_attr_parse_nested(tb[CTA_TUPLE_IP], attr_cb, ip) < 0 || !ip[s] || !ip[d] ||
	    mnl_attr_get_payload_len(ip[s]) < alen || mnl_attr_get_payload_len(ip[d]) < alen ||
	    !tb[CTA_TUPLE_PROTO] || mnl_attr_parse_nested(tb[CTA_TUPLE_PROTO], attr_cb, pr) < 0 ||
	    !pr[CTA_PROTO_NUM])
		return false;
	memcpy(src, mnl_attr_get_payload(ip[s]), alen);
	memcpy(dst, mnl_attr_get_payload(ip[d]), alen);
	*proto = mnl_attr_get_u8(pr[CTA_PROTO_NUM]);
	if (pr[CTA_PROTO_SRC_PORT])
		*sport = mnl_attr_get_u16(pr[CTA_PROTO_SRC_PORT]);
	if (pr[CTA_PROTO_DST_PORT])
		*dport = mnl_attr_get_u16(pr[CTA_PROTO_DST_PORT]);
	return true;
}

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ct_dump *d = data;
	const struct nlattr *tb[32] = {};
	struct ctnl_flow f = { .family = d->family };
	struct ct_victim *v;
	uint16_t len, rs = 0, rd = 0;
	uint8_t rproto = 0;

	if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), attr_cb, tb) < 0 || !tb[CTA_TUPLE_ORIG] ||
	    !tb[CTA_TUPLE_REPLY])
		return MNL_CB_OK;
	if (!tuple_parse(tb[CTA_TUPLE_ORIG], d->family, f.osrc, f.odst, &f.proto, &f.osport,
			 &f.odport) ||
	    !tuple_parse(tb[CTA_TUPLE_REPLY], d->family, f.rsrc, f.rdst, &rproto, &rs, &rd))
		return MNL_CB_OK;
	if (tb[CTA_STATUS])
		f.status = ntohl(mnl_attr_get_u32(tb[CTA_STATUS]));
	if (!d->pick(&f, d->arg))
		return MNL_CB_OK;
	len = tb[CTA_TUPLE_ORIG]->nla_len;
	if (len > sizeof(v->attr))
		return MNL_CB_OK; /* no tuple is this long; not one to guess at */
	if (XCNI_GROW(d->v, d->nv, d->cap)) {
		d->err = -ENOMEM;
		return MNL_CB_ERROR;
	}
	v = &d->v[d->nv++];
	v->len = len;
	memcpy(v->attr, tb[CTA_TUPLE_ORIG], len);
	return MNL_CB_OK;
}

static struct nlmsghdr *ct_req(char *buf, uint16_t msg, uint16_t flags, int family, uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *g;

	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | msg;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = family;
	g->version = NFNETLINK_V0;
	g->res_id = 0;
	return nlh;
}

static struct mnl_socket *ct_open(int *err)
{
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);

	*err = 0;
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		*err = -errno;
		if (nl)
			mnl_socket_close(nl);
		nl = NULL;
	}
	return nl;
}

/* A ctnetlink socket opened in the netns at path (this thread comes back to its own). */
static struct mnl_socket *ct_open_in(const char *path, int *err)
{
	struct mnl_socket *nl = NULL;
	int self, fd;

	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (self < 0 || fd < 0 || setns(fd, CLONE_NEWNET)) {
		*err = -errno;
		goto out;
	}
	nl = ct_open(err);
	if (setns(self, CLONE_NEWNET)) {
		/* Every later step would act on the wrong namespace: stop here. */
		fprintf(stderr, "ctnetlink: cannot return from netns %s: %s\n", path,
			strerror(errno));
		abort();
	}
out:
	xcni_close(&fd);
	xcni_close(&self);
	return nl;
}

int ctnl_delete(const char *netns_path, int family, ctnl_pick_fn pick, void *arg, char *err,
		size_t errlen)
{
	char *buf = malloc(CT_DUMP_SIZE);
	struct ct_dump d = { .family = family, .pick = pick, .arg = arg };
	struct mnl_socket *nl = NULL;
	struct nlmsghdr *nlh;
	uint32_t seq = (uint32_t)time(NULL), portid;
	const char *what = "opening a ctnetlink socket";
	int ret = 0, deleted = 0;
	ssize_t r;

	if (!buf) {
		ret = -ENOMEM;
		goto fail;
	}
	nl = netns_path ? ct_open_in(netns_path, &ret) : ct_open(&ret);
	if (!nl)
		goto fail;
	portid = mnl_socket_get_portid(nl);
	what = "dumping the conntrack table";
	nlh = ct_req(buf, IPCTNL_MSG_CT_GET, NLM_F_DUMP, family, seq);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		ret = -errno;
		goto fail;
	}
	for (;;) {
		r = mnl_socket_recvfrom(nl, buf, CT_DUMP_SIZE);
		if (r < 0) {
			ret = -errno;
			goto fail;
		}
		r = mnl_cb_run(buf, r, seq, portid, dump_cb, &d);
		if (r == MNL_CB_STOP)
			break;
		if (r < 0) {
			ret = d.err ? d.err : -errno;
			goto fail;
		}
	}
	what = "deleting a conntrack entry";
	for (size_t i = 0; i < d.nv; i++) {
		nlh = ct_req(buf, IPCTNL_MSG_CT_DELETE, NLM_F_ACK, family, ++seq);
		memcpy(mnl_nlmsg_get_payload_tail(nlh), d.v[i].attr, d.v[i].len);
		nlh->nlmsg_len += MNL_ALIGN(d.v[i].len);
		if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
			ret = -errno;
			goto fail;
		}
		r = mnl_socket_recvfrom(nl, buf, CT_DUMP_SIZE);
		if (r >= 0)
			r = mnl_cb_run(buf, r, seq, portid, NULL, NULL);
		if (r >= 0)
			deleted++;
		else if (errno != ENOENT) {
			ret = -errno;
			goto fail;
		}
	}
	ret = deleted;
	goto out;
fail:
	if (!ret)
		ret = -EIO;
	snprintf(err, errlen, "%s%s%s: %s", what, netns_path ? " in " : "",
		 netns_path ? netns_path : "", strerror(-ret));
out:
	if (nl)
		mnl_socket_close(nl);
	free(d.v);
	free(buf);
	return ret;
}
