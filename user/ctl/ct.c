// SPDX-License-Identifier: Apache-2.0
/* xcnictl ct list/get: the conntrack table (xcni_ct). */
#include <strings.h>

#include "ctl/ctl.h"

/*
 * The columns of a flow, shared by ct list and ct get. The default table
 * fits 120 columns on the lab's addresses, IPv6 too: the counters, the
 * endpoint, the path, the flags, the policy revision and the frontend are -o
 * wide's (and ct get's).
 */
#define CT_COLS                                                                              \
	{ "PROTO", "proto", PT_STR },                                                        \
	{ "SRC", NULL, PT_STR },                                                             \
	{ "DST", NULL, PT_STR },                                                             \
	{ NULL, "saddr", PT_STR },                                                           \
	{ NULL, "sport", PT_UINT }, /* ICMP echo: the id */                                  \
	{ NULL, "daddr", PT_STR },                                                           \
	{ NULL, "dport", PT_UINT },                                                          \
	{ "STATE", "state", PT_STR },                                                        \
	{ "AGE", "age_s", PT_UINT },                                                         \
	{ "IDLE", "idle_s", PT_UINT },                                                       \
	{ "PKTS-ORIG", "pkts_orig", PT_UINT | PT_SHOW_WIDE },                                \
	{ "BYTES-ORIG", "bytes_orig", PT_UINT | PT_SHOW_WIDE },                              \
	{ "PKTS-REPLY", "pkts_reply", PT_UINT | PT_SHOW_WIDE },                              \
	{ "BYTES-REPLY", "bytes_reply", PT_UINT | PT_SHOW_WIDE },                            \
	{ "EP-ID", "ep_id", PT_UINT | PT_SHOW_WIDE },                                        \
	/* "stack": the flow went through the host stack (a Service's DNAT): so do its replies. */ \
	{ "VIA", "via", PT_STR | PT_SHOW_WIDE },                                            \
	/* The other XCNI_CT_F_* flags by name, as service list shows a frontend's: */       \
	/* svc, hairpin, nodeport, snat, dsr, pickup ("-"/null: none); -o wide's: an IPv6 */ \
	/* NodePort row with them was 128 columns (SVC-NAME and BACKEND say it is a Service's). */ \
	{ "FLAGS", "flags", PT_STR | PT_SHOW_WIDE },                                        \
	/* The policy revision the flow was last judged under (config: POLICY-REV now). */    \
	{ "POLICY-REV", "policy_rev", PT_UINT | PT_SHOW_WIDE },                             \
	/* A translated flow (Services in BPF): its frontend (rev-NAT entry) and backend id. */ \
	{ "SERVICE", "service", PT_STR | PT_SHOW_WIDE },                                    \
	/* Its Service and port (xcni_svcname, by the rev-NAT index = service id). */        \
	{ "SVC-NAME", NULL, PT_STR },                                                        \
	{ NULL, "service_name", PT_STR },                                                    \
	{ NULL, "port_name", PT_STR },                                                       \
	/* Its backend, ADDR:PORT (-o wide and JSON: its id too). */                          \
	{ "BACKEND", "backend", PT_STR },                                                    \
	{ "BACKEND-ID", "backend_id", PT_UINT | PT_SHOW_WIDE },                              \
	{ NULL, "rev_nat", PT_UINT }

static const struct pt_col ct_cols[] = { CT_COLS };

/* ct get: which direction of the flow the tuple asked about is. */
static const struct pt_col ct_get_cols[] = { CT_COLS, { "MATCHED", "matched", PT_STR } };

static void ct_entry_cells(struct ptable *t, __u64 now, const struct xcni_ct_entry *e,
			   struct svcnames *sn, __u32 be_of_dst);

/* The entry's flags but XCNI_CT_F_STACK (VIA shows it) by name, "nodeport,dsr"; "" if none. */
static const char *ct_flags(__u8 flags, char *buf, size_t len)
{
	static const struct flag_name names[] = {
		{ XCNI_CT_F_SVC, "svc" },	  { XCNI_CT_F_HAIRPIN, "hairpin" },
		{ XCNI_CT_F_NODEPORT, "nodeport" }, { XCNI_CT_F_SNAT, "snat" },
		{ XCNI_CT_F_DSR, "dsr" },	  { XCNI_CT_F_PICKUP, "pickup" },
	};

	return flag_names(flags & ~XCNI_CT_F_STACK, names, ARRAY_SIZE(names), buf, len);
}

/*
 * A flow's tuple of either family: xcni_ct_key and xcni_ct6_key are laid out
 * alike, the two addresses (4 or 16 bytes each) then the ports and protocol.
 */
struct ct_tuple {
	const __u8 *saddr, *daddr;
	__u16 sport, dport;
	__u8 proto;
};

_Static_assert(offsetof(struct xcni_ct_key, sport) == 8 &&
		       offsetof(struct xcni_ct6_key, sport) == 32 &&
		       offsetof(struct xcni_ct6_key, proto) == 36 &&
		       offsetof(struct xcni_ct_key, proto) == 12,
	       "ct keys: addresses, then sport, dport, proto");

static struct ct_tuple ct_tuple(__u8 fam, const void *key)
{
	const __u8 *k = key;
	size_t al = fam_len(fam);
	struct ct_tuple u = { .saddr = k, .daddr = k + al, .proto = k[2 * al + 4] };

	memcpy(&u.sport, k + 2 * al, 2);
	memcpy(&u.dport, k + 2 * al + 2, 2);
	return u;
}

/* The cells of one flow of family fam (key: its xcni_ct_key or xcni_ct6_key) under CT_COLS. */
static void ct_row(struct ptable *t, __u64 now, __u8 fam, const void *key,
		   const struct xcni_ct_entry *e, struct svcnames *sn)
{
	struct ct_tuple k = ct_tuple(fam, key);
	char fe[80];
	__u32 be = 0, daddr;

	/* An IPv4 service entry without its backend id: the backend at its destination. */
	memcpy(&daddr, k.daddr, 4);
	if (fam == XCNI_AF_INET && !e->backend_id &&
	    svcnames_frontend(sn, e->rev_nat, fe, sizeof(fe)))
		be = svcnames_backend(sn, daddr, k.dport);
	pt_proto(t, k.proto);
	pt_end(t, fam, k.proto, k.saddr, k.sport);
	pt_end(t, fam, k.proto, k.daddr, k.dport);
	pt_ip(t, fam, k.saddr);
	pt_uint(t, ntohs(k.sport));
	pt_ip(t, fam, k.daddr);
	pt_uint(t, ntohs(k.dport));
	ct_entry_cells(t, now, e, sn, be);
}

/* A backend by its address and port ("backend#ID" when gone since), and its id; none for 0. */
static void backend_cells(struct ptable *t, struct svcnames *sn, __u32 id)
{
	struct xcni_backend b;
	char be[80];

	if (!id) {
		pt_nulls(t, 2);
		return;
	}
	pt_name(t, svcnames_backend_of(sn, id, &b) ?
		   svc_addr_str(b.family, b.addr, b.port, be, sizeof(be)) : NULL, "backend#%u", id);
	pt_uint(t, id);
}

/* The entry's cells of CT_COLS, from STATE on (be_of_dst: the backend at the destination). */
static void ct_entry_cells(struct ptable *t, __u64 now, const struct xcni_ct_entry *e,
			   struct svcnames *sn, __u32 be_of_dst)
{
	char fe[80], fl[64];
	struct xcni_svcname n;
	__u32 be;

	pt_ct_state(t, e->state);
	pt_uint(t, secs_since(now, e->created_ns));
	pt_uint(t, secs_since(now, e->last_ns));
	pt_uint(t, e->pkts_orig);
	pt_uint(t, e->bytes_orig);
	pt_uint(t, e->pkts_reply);
	pt_uint(t, e->bytes_reply);
	pt_uint(t, e->ep_id);
	pt_str(t, e->flags & XCNI_CT_F_STACK ? "stack" : "bpf");
	pt_str(t, *ct_flags(e->flags, fl, sizeof(fl)) ? fl : NULL);
	pt_uint(t, e->policy_rev);
	/*
	 * The service entry (XCNI_CT_F_SVC, keyed to the frontend) names its
	 * backend; the flow's own entry (keyed to the backend) only the rev-NAT
	 * index: its backend is the one at its destination.
	 */
	if (svcnames_frontend(sn, e->rev_nat, fe, sizeof(fe))) {
		pt_str(t, fe);
		svcname_cols(t, svcnames_name(sn, e->rev_nat, &n) ? &n : NULL);
		be = e->backend_id ?: be_of_dst;
		backend_cells(t, sn, be);
		pt_uint(t, e->rev_nat);
	} else {
		pt_nulls(t, 4);
		backend_cells(t, sn, e->backend_id);
		pt_null(t);
	}
}

int ct_cmp(const void *a, const void *b)
{
	const struct xcni_ct_key *x = &((const struct ct_rec *)a)->k;
	const struct xcni_ct_key *y = &((const struct ct_rec *)b)->k;
	__u64 p = (__u64)ntohl(x->saddr) << 32 | ntohl(x->daddr);
	__u64 q = (__u64)ntohl(y->saddr) << 32 | ntohl(y->daddr);

	if (p != q)
		return p < q ? -1 : 1;
	/* The rest only needs to be a total order, for sort_unique(). */
	return memcmp(&x->sport, &y->sport, sizeof(*x) - offsetof(struct xcni_ct_key, sport));
}

struct ct6_rec {
	struct xcni_ct6_key k;
	struct xcni_ct_entry e;
};

int ct6_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct xcni_ct6_key));
}

/* A flow (rec: a ct_rec or ct6_rec) passing the filters: about its two addresses. */
static void ct_list_row(struct ptable *t, __u8 fam, const void *rec, void *arg)
{
	const struct fam_list *l = arg;
	struct ct_tuple k = ct_tuple(fam, rec);
	struct frow r = {};

	frow_addr(&r, fam, k.saddr, fam_len(fam) * 8);
	frow_addr(&r, fam, k.daddr, fam_len(fam) * 8);
	if (filter_match(l->f, &r))
		ct_row(t, l->now, fam, rec,
		       fam == XCNI_AF_INET6 ? &((const struct ct6_rec *)rec)->e :
					      &((const struct ct_rec *)rec)->e, l->sn);
}

static int cmd_ct_list(const struct ctl_ctx *c, char **argv)
{
	static const struct fam_map m[2] = {
		FAM_MAP(m_ct, ct_rec, k, e, ct_cmp, XCNI_AF_INET),
		FAM_MAP(m_ct6, ct6_rec, k, e, ct6_cmp, XCNI_AF_INET6),
	};

	(void)argv;
	return fam_list(c, ct_cols, ARRAY_SIZE(ct_cols), m, ct_list_row, NULL);
}

/* A protocol as ct shows it: tcp, udp, sctp, icmp, or a number. */
static int parse_ct_proto(const char *s, __u8 *proto)
{
	static const __u8 named[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP, IPPROTO_ICMP };
	unsigned long v;

	for (size_t i = 0; i < ARRAY_SIZE(named); i++)
		if (!strcasecmp(s, proto_name(named[i]))) {
			*proto = named[i];
			return 0;
		}
	if (parse_uint(s, 255, &v))
		return pr_err_ret(-EINVAL, "PROTO \"%s\": expected tcp, udp, sctp, icmp or a "
				  "protocol number (0 to 255)\n", s);
	*proto = (__u8)v;
	return 0;
}

/*
 * One end of a flow as ct list shows it: ADDRESS:PORT for the protocols with
 * ports, ADDRESS:id=ID (or ADDRESS, the id given on the other end) for ICMP
 * echo, ADDRESS for the rest. *port in network order; *has_port: one was given.
 */
static int parse_ct_end(const char *what, const char *s, __u8 proto, __u32 *ip, __u16 *port,
			bool *has_port)
{
	bool ports = proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP;
	const char *colon = strchr(s, ':'), *p;
	char addr[INET_ADDRSTRLEN];
	struct in_addr a;
	unsigned long v = 0;

	*has_port = colon != NULL;
	if (colon ? (size_t)(colon - s) >= sizeof(addr) : strlen(s) >= sizeof(addr))
		goto bad;
	snprintf(addr, sizeof(addr), "%.*s", colon ? (int)(colon - s) : (int)strlen(s), s);
	if (inet_pton(AF_INET, addr, &a) != 1)
		goto bad;
	if (colon) {
		p = colon + 1;
		if (proto == IPPROTO_ICMP && !strncmp(p, "id=", 3))
			p += 3;
		else if (proto == IPPROTO_ICMP || !ports)
			goto bad;
		if (parse_uint(p, 65535, &v))
			goto bad;
	} else if (ports) {
		goto bad;
	}
	*ip = a.s_addr;
	*port = htons((__u16)v);
	return 0;
bad:
	if (ports)
		pr_err("%s \"%s\": expected ADDRESS:PORT (an IPv4 address, PORT 0 to 65535)\n", what, s);
	else if (proto == IPPROTO_ICMP)
		pr_err("%s \"%s\": expected ADDRESS:id=ID or ADDRESS (an IPv4 address, the echo id "
		       "0 to 65535)\n", what, s);
	else
		pr_err("%s \"%s\": expected an IPv4 address (protocol %u has no ports)\n", what, s, proto);
	return -EINVAL;
}

/* ct get's PROTO SRC DST, as the key of the flow in that direction. */
static int parse_ct_tuple(char **argv, struct xcni_ct_key *k)
{
	bool sp, dp;
	int err;

	memset(k, 0, sizeof(*k));
	if ((err = parse_ct_proto(argv[0], &k->proto)) ||
	    (err = parse_ct_end("SRC", argv[1], k->proto, &k->saddr, &k->sport, &sp)) ||
	    (err = parse_ct_end("DST", argv[2], k->proto, &k->daddr, &k->dport, &dp)))
		return err;
	if (k->proto != IPPROTO_ICMP)
		return 0;
	/* An echo and its reply carry one id: the data plane keys it in both ports. */
	if (!sp && !dp)
		return pr_err_ret(-EINVAL, "icmp: the echo id is missing: give SRC or DST as "
				  "ADDRESS:id=ID\n");
	if (sp && dp && k->sport != k->dport)
		return pr_err_ret(-EINVAL, "icmp: SRC and DST carry different echo ids (%u, %u): "
				  "an echo has one\n", ntohs(k->sport), ntohs(k->dport));
	if (!sp)
		k->sport = k->dport;
	else
		k->dport = k->sport;
	return 0;
}

/* Usage check (exit 2): a malformed PROTO, SRC or DST. */
static int check_ct_get(char **argv)
{
	struct xcni_ct_key k;

	return parse_ct_tuple(argv, &k);
}

/*
 * ct get PROTO SRC DST: the flow whose first packet had that tuple, or else
 * the one it replies to, found as the data plane finds it (ct_track).
 */
static int cmd_ct_get(const struct ctl_ctx *c, char **argv)
{
	struct xcni_ct_key k, rev;
	struct xcni_ct_entry e;
	struct svcnames sn;
	const char *matched = "original";
	struct ptable *t;
	int fd, err;

	err = parse_ct_tuple(argv, &k);
	if (err)
		return err;
	fd = map_open(c, &m_ct);
	if (fd < 0)
		return fd;
	rev = (struct xcni_ct_key){ .saddr = k.daddr, .daddr = k.saddr, .sport = k.dport,
				    .dport = k.sport, .proto = k.proto };
	if (bpf_map_lookup_elem(fd, &k, &e)) {
		if (errno != ENOENT)
			goto lookup;
		k = rev;
		matched = "reply";
		if (bpf_map_lookup_elem(fd, &k, &e)) {
			if (errno != ENOENT)
				goto lookup;
			err = pr_err_ret(-ENOENT, "no such flow: %s %s -> %s, in either "
					 "direction\n", argv[0], argv[1], argv[2]);
			goto close;
		}
	}
	t = pt_new(ct_get_cols, ARRAY_SIZE(ct_get_cols), PT_RECORD);
	svcnames_open(c, &sn);
	ct_row(t, xcni_mono_ns(), XCNI_AF_INET, &k, &e, &sn);
	svcnames_close(&sn);
	pt_str(t, matched);
	err = show(c, t);
	goto close;
lookup:
	err = -errno;
	pr_err("%s: lookup: %s\n", m_ct.name, strerror(-err));
close:
	close(fd);
	return err;
}

const struct cmd ct_cmds[] = {
	{ "ct", "list", cmd_ct_list, 0, OPT_FILTERS, "[filters]",
	  "List tracked connections: IPv4 (xcni_ct), then IPv6 (xcni_ct6).", NULL },
	{ "ct", "get", cmd_ct_get, 3, 0, "PROTO SRC DST",
	  "Show the tracked connection of one flow, looked up in either direction.\n\n"
	  "PROTO: tcp, udp, sctp, icmp or a number. SRC, DST: ADDRESS:PORT, ADDRESS:id=ID for\n"
	  "ICMP echo (on one end only too), a bare ADDRESS for other protocols.",
	  check_ct_get },
	{}
};
