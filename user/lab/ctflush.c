// SPDX-License-Identifier: Apache-2.0
/*
 * xcnictl lab: a node's UDP conntrack entries deleted over ctnetlink, for the
 * lab's kube-proxy (kproxy.c). UDP has no end: a client keeps sending on an
 * entry DNATed to an endpoint that is gone until the entry is deleted.
 *
 * The kernel deletes one entry per request, named by its original tuple, so
 * the node's table is dumped first (one family, filtered here), the matching
 * tuples kept, and each deleted after the dump is over (deleting while the
 * kernel walks the table could make the dump skip entries). An entry gone in
 * between (ENOENT) is what was wanted.
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

#include "lab/ctflush.h"

/* A dump's datagrams: libmnl's MNL_SOCKET_DUMP_SIZE (newer libmnl than Debian's has it). */
#define CT_DUMP_SIZE 32768

/* One original tuple to delete: its CTA_TUPLE_ORIG attribute as the dump gave it. */
struct ct_victim {
	uint16_t len;
	uint8_t attr[256];
};

struct ct_dump {
	int family;
	const struct lab_ct_match *m;
	size_t n;
	struct ct_victim *v;
	size_t nv, cap;
	int err;
};

/* What a tuple says: addresses, protocol, ports (network order). */
struct ct_tuple {
	uint8_t src[16], dst[16];
	uint8_t proto;
	uint16_t sport, dport;
	bool has_ip, has_proto;
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

static void tuple_parse(const struct nlattr *nest, int family, struct ct_tuple *t)
{
	const struct nlattr *tb[32] = {}, *ip[32] = {}, *pr[32] = {};
	size_t alen = family == AF_INET6 ? 16 : 4;
	int s = family == AF_INET6 ? CTA_IP_V6_SRC : CTA_IP_V4_SRC;
	int d = family == AF_INET6 ? CTA_IP_V6_DST : CTA_IP_V4_DST;

	memset(t, 0, sizeof(*t));
	if (mnl_attr_parse_nested(nest, attr_cb, tb) < 0)
		return;
	if (tb[CTA_TUPLE_IP] && mnl_attr_parse_nested(tb[CTA_TUPLE_IP], attr_cb, ip) >= 0 &&
	    ip[s] && ip[d] && mnl_attr_get_payload_len(ip[s]) >= alen &&
	    mnl_attr_get_payload_len(ip[d]) >= alen) {
		memcpy(t->src, mnl_attr_get_payload(ip[s]), alen);
		memcpy(t->dst, mnl_attr_get_payload(ip[d]), alen);
		t->has_ip = true;
	}
	if (tb[CTA_TUPLE_PROTO] && mnl_attr_parse_nested(tb[CTA_TUPLE_PROTO], attr_cb, pr) >= 0 &&
	    pr[CTA_PROTO_NUM]) {
		t->proto = mnl_attr_get_u8(pr[CTA_PROTO_NUM]);
		if (pr[CTA_PROTO_SRC_PORT])
			t->sport = mnl_attr_get_u16(pr[CTA_PROTO_SRC_PORT]);
		if (pr[CTA_PROTO_DST_PORT])
			t->dport = mnl_attr_get_u16(pr[CTA_PROTO_DST_PORT]);
		t->has_proto = true;
	}
}

static bool ct_matches(const struct ct_dump *d, const struct ct_tuple *orig,
		       const struct ct_tuple *reply)
{
	size_t alen = d->family == AF_INET6 ? 16 : 4;

	if (!orig->has_ip || !orig->has_proto || orig->proto != IPPROTO_UDP || !reply->has_ip)
		return false;
	for (size_t i = 0; i < d->n; i++) {
		const struct lab_ct_match *m = &d->m[i];

		if (m->by_port ? ntohs(orig->dport) != m->dport : memcmp(orig->dst, m->dst, alen))
			continue;
		/* The DNAT's choice is where the reply comes from. */
		if (!m->any_ep && memcmp(reply->src, m->ep, alen))
			continue;
		return true;
	}
	return false;
}

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ct_dump *d = data;
	const struct nlattr *tb[32] = {};
	struct ct_tuple orig, reply;
	struct ct_victim *v;
	uint16_t len;

	if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), attr_cb, tb) < 0 || !tb[CTA_TUPLE_ORIG] ||
	    !tb[CTA_TUPLE_REPLY])
		return MNL_CB_OK;
	tuple_parse(tb[CTA_TUPLE_ORIG], d->family, &orig);
	tuple_parse(tb[CTA_TUPLE_REPLY], d->family, &reply);
	if (!ct_matches(d, &orig, &reply))
		return MNL_CB_OK;
	len = tb[CTA_TUPLE_ORIG]->nla_len;
	if (len > sizeof(v->attr))
		return MNL_CB_OK; /* no tuple is this long; not one to guess at */
	if (d->nv == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;

		v = realloc(d->v, cap * sizeof(*v));
		if (!v) {
			d->err = -ENOMEM;
			return MNL_CB_ERROR;
		}
		d->v = v;
		d->cap = cap;
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

/* A ctnetlink socket opened in the netns at path (this thread comes back to its own). */
static struct mnl_socket *ct_open_in(const char *path, int *err)
{
	struct mnl_socket *nl = NULL;
	int self, fd;

	*err = 0;
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (self < 0 || fd < 0 || setns(fd, CLONE_NEWNET)) {
		*err = -errno;
		goto out;
	}
	nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		*err = -errno;
		if (nl)
			mnl_socket_close(nl);
		nl = NULL;
	}
	if (setns(self, CLONE_NEWNET)) {
		/* Every later step would act on the wrong namespace: stop here. */
		fprintf(stderr, "lab: cannot return from netns %s: %s\n", path, strerror(errno));
		abort();
	}
out:
	if (fd >= 0)
		close(fd);
	if (self >= 0)
		close(self);
	return nl;
}

int lab_ct_udp_flush(const char *path, int family, const struct lab_ct_match *m, size_t n)
{
	char *buf = malloc(CT_DUMP_SIZE);
	struct ct_dump d = { .family = family, .m = m, .n = n };
	struct mnl_socket *nl = NULL;
	struct nlmsghdr *nlh;
	uint32_t seq = (uint32_t)time(NULL), portid;
	int err = 0, deleted = 0;
	ssize_t r;

	if (!n) {
		free(buf);
		return 0;
	}
	if (!buf)
		return -ENOMEM;
	nl = ct_open_in(path, &err);
	if (!nl) {
		fprintf(stderr, "lab: conntrack netlink in %s: %s\n", path, strerror(-err));
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	nlh = ct_req(buf, IPCTNL_MSG_CT_GET, NLM_F_DUMP, family, seq);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		err = -errno;
		goto fail;
	}
	for (;;) {
		r = mnl_socket_recvfrom(nl, buf, CT_DUMP_SIZE);
		if (r < 0) {
			err = -errno;
			goto fail;
		}
		r = mnl_cb_run(buf, r, seq, portid, dump_cb, &d);
		if (r == MNL_CB_STOP)
			break;
		if (r < 0) {
			err = d.err ? d.err : -errno;
			goto fail;
		}
	}
	for (size_t i = 0; i < d.nv; i++) {
		nlh = ct_req(buf, IPCTNL_MSG_CT_DELETE, NLM_F_ACK, family, ++seq);
		memcpy(mnl_nlmsg_get_payload_tail(nlh), d.v[i].attr, d.v[i].len);
		nlh->nlmsg_len += MNL_ALIGN(d.v[i].len);
		if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
			err = -errno;
			goto fail;
		}
		r = mnl_socket_recvfrom(nl, buf, CT_DUMP_SIZE);
		if (r >= 0)
			r = mnl_cb_run(buf, r, seq, portid, NULL, NULL);
		if (r >= 0)
			deleted++;
		else if (errno != ENOENT) {
			err = -errno;
			goto fail;
		}
	}
	err = deleted;
	goto out;
fail:
	fprintf(stderr, "lab: conntrack netlink in %s: %s\n", path, strerror(-err));
out:
	if (nl)
		mnl_socket_close(nl);
	free(d.v);
	free(buf);
	return err;
}

int lab_ct_match_key(struct lab_ct_match *m, int family, const char *key)
{
	char *end;
	unsigned long port;

	if (!strncmp(key, "port/", 5)) {
		port = strtoul(key + 5, &end, 10);
		if (*end || !port || port > 65535)
			return -EINVAL;
		m->by_port = true;
		m->dport = (uint16_t)port;
		return 0;
	}
	m->by_port = false;
	return inet_pton(family, key, m->dst) == 1 ? 0 : -EINVAL;
}
