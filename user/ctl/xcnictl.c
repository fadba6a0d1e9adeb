// SPDX-License-Identifier: Apache-2.0
/*
 * xcnictl: the operator's view of the data plane. It opens the maps xcnid
 * pins (by path, so it needs neither xcnid nor the BPF objects), checks their
 * layout against xcni_shared.h and shows them through the print layer, as
 * aligned text or --json. It writes two things, both the operator's decision,
 * not cluster state xcnid follows: the underlay's prefilter deny list, and
 * the event settings of the node config (config set).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <signal.h>
#include <stdarg.h>
#include <strings.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "xcni_shared.h"
#include "lib/bpfpin.h"
#include "lib/log.h"
#include "lab/lab.h"
#include "lib/cidr.h"
#include "lib/prefilter.h"
#include "lib/print.h"
#include "lib/reasons.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Command options, so each command can say which ones it takes. */
enum {
	OPT_IP = 1 << 0,
	OPT_ALL = 1 << 1,
	OPT_COUNT = 1 << 2,
	OPT_TIMEOUT = 1 << 3,
	OPT_POD = 1 << 4,
	OPT_NAMESPACE = 1 << 5,
	OPT_REASON = 1 << 6,
	OPT_VERDICT = 1 << 7,
	OPT_TYPE = 1 << 8,
	OPT_PIN_DIR_DST = 1 << 9,
	OPT_IDENTITY = 1 << 10,
};

/* The filters of the map views and monitor, served by one layer (filter_*). */
#define OPT_FILTERS (OPT_IP | OPT_POD | OPT_NAMESPACE | OPT_IDENTITY)

struct ctx {
	const char *pin_dir;
	bool json;
	unsigned int opts; /* OPT_* given on the command line */
	const char *ip; /* --ip, as given */
	__u32 ip_addr; /* --ip, parsed (network order) */
	__u32 identity; /* --identity */
	unsigned long count; /* --count: stop after this many events */
	unsigned long timeout_ms; /* --timeout-ms: stop after this long */
	/* filters; a row or event must pass every one given */
	const char *pod; /* --pod NS/NAME or IP */
	const char *ns; /* --namespace */
	int reason; /* --reason, an enum xcni_reason */
	bool verdict_allow; /* --verdict allow (verdict events), else deny (policy drops) */
	__u8 ev_type; /* --type: enum xcni_event_type */
	const char *pin_dir_dst; /* explain --pin-dir-dst: the destination node's maps */
};

/* ---- maps ------------------------------------------------------------ */

struct map_spec {
	const char *name; /* the pin's file name under the pin dir */
	enum bpf_map_type type;
	__u32 key_size, value_size;
	__u32 max_entries; /* 0: any */
};

static const struct map_spec m_endpoints = {
	"xcni_endpoints", BPF_MAP_TYPE_HASH, sizeof(__u32), sizeof(struct xcni_endpoint), 0
};
static const struct map_spec m_ct = {
	"xcni_ct", BPF_MAP_TYPE_LRU_HASH, sizeof(struct xcni_ct_key), sizeof(struct xcni_ct_entry), 0
};
static const struct map_spec m_metrics = {
	"xcni_metrics", BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32), sizeof(struct xcni_metric),
	XCNI_NR_METRICS
};
static const struct map_spec m_events = {
	"xcni_events", BPF_MAP_TYPE_RINGBUF, 0, 0, 0
};
static const struct map_spec m_config = {
	"xcni_config", BPF_MAP_TYPE_ARRAY, sizeof(__u32), sizeof(struct xcni_config), 1
};
static const struct map_spec m_identity = {
	"xcni_identity", BPF_MAP_TYPE_HASH, sizeof(__u32), sizeof(struct xcni_idlabels), 0
};
static const struct map_spec m_ipcache = {
	"xcni_ipcache", BPF_MAP_TYPE_LPM_TRIE, sizeof(struct xcni_ipcache_key),
	sizeof(struct xcni_ipcache_val), 0
};
static const struct map_spec m_polep = {
	"xcni_polep", BPF_MAP_TYPE_HASH, sizeof(__u32), sizeof(struct xcni_polep), 0
};
static const struct map_spec m_policy = {
	"xcni_policy", BPF_MAP_TYPE_HASH, sizeof(struct xcni_polhash_key),
	sizeof(struct xcni_policy_val), 0
};
static const struct map_spec m_polrange = {
	"xcni_polrange", BPF_MAP_TYPE_LPM_TRIE, sizeof(struct xcni_policy_key),
	sizeof(struct xcni_policy_val), 0
};
static const struct map_spec m_polcidr = {
	"xcni_polcidr", BPF_MAP_TYPE_LPM_TRIE, sizeof(struct xcni_polcidr_key), sizeof(__u32), 0
};
static const struct map_spec m_polname = {
	"xcni_polname", BPF_MAP_TYPE_HASH, sizeof(__u32), sizeof(struct xcni_polname), 0
};
static const struct map_spec m_podname = {
	"xcni_podname", BPF_MAP_TYPE_HASH, sizeof(__u32), sizeof(struct xcni_podname), 0
};
static const struct map_spec m_tunnel = {
	"xcni_tunnel", BPF_MAP_TYPE_HASH, sizeof(__u32), sizeof(struct xcni_tunnel), 0
};
static const struct map_spec m_tunstat = {
	"xcni_tunstat", BPF_MAP_TYPE_PERCPU_HASH, sizeof(__u32), sizeof(struct xcni_tunstat), 0
};
static const struct map_spec m_prefilter = {
	"xcni_prefilter", BPF_MAP_TYPE_LPM_TRIE, sizeof(struct xcni_prefilter_key),
	sizeof(struct xcni_prefilter_val), 0
};
static const struct map_spec m_pf16 = { "xcni_pf16", BPF_MAP_TYPE_HASH, 4, 4, 0 };
static const struct map_spec m_pf24 = { "xcni_pf24", BPF_MAP_TYPE_HASH, 4, 4, 0 };
static const struct map_spec m_evrate = {
	"xcni_evrate", BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32), sizeof(struct xcni_evrate), 1
};
static const struct map_spec m_polrev = { "xcni_polrev", BPF_MAP_TYPE_ARRAY, 4, 4, 1 };

/*
 * Opens a pinned map and refuses one whose layout is not the one this binary
 * was built for: reading it would show garbage. Returns the fd or -errno.
 */
static int map_open(const struct ctx *c, const struct map_spec *m)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd, err;

	if (snprintf(path, sizeof(path), "%s/%s", c->pin_dir, m->name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (fd < 0) {
		err = -errno;
		if (err == -ENOENT)
			pr_err("%s: no such pinned map; is xcnid running? (or see --pin-dir)\n", path);
		else
			pr_err("%s: %s\n", path, strerror(-err));
		return err;
	}
	err = bpf_map_get_info_by_fd(fd, &info, &len);
	if (err) {
		err = -errno;
		pr_err("%s: not a map: %s\n", path, strerror(-err));
		goto close;
	}
	if (info.type != m->type || info.key_size != m->key_size ||
	    info.value_size != m->value_size ||
	    (m->max_entries && info.max_entries != m->max_entries)) {
		pr_err("%s: %s map, key %u B, value %u B, %u entries; expected %s, key %u B, value %u B%s: "
		       "xcnictl and the data plane were built from different xcni_shared.h\n",
		       path, libbpf_bpf_map_type_str(info.type) ?: "?", info.key_size,
		       info.value_size, info.max_entries, libbpf_bpf_map_type_str(m->type),
		       m->key_size, m->value_size, m->max_entries ? ", fixed entries" : "");
		err = -EPROTO;
		goto close;
	}
	pr_debug("%s: fd %d, id %u\n", path, fd, info.id);
	return fd;
close:
	close(fd);
	return err;
}

/* map_open for a map a view can do without: -errno, and nothing said. */
static int map_open_quiet(const struct ctx *c, const struct map_spec *m)
{
	char path[PATH_MAX];

	/* Only a missing pin is expected; map_open reports anything else. */
	snprintf(path, sizeof(path), "%s/%s", c->pin_dir, m->name);
	if (access(path, F_OK))
		return -ENOENT;
	return map_open(c, m);
}

/*
 * Reads every entry into *out, an array of elem-sized records holding the key
 * at koff and the value at voff. A walk of a live hash map restarts from the
 * first key when the current one is deleted under it: callers sort and drop
 * duplicate keys, and a map that keeps changing ends the walk with -EAGAIN.
 */
static int map_collect(int fd, const struct map_spec *m, size_t elem, size_t koff,
		       size_t voff, void **out, size_t *np)
{
	unsigned char key[64], *arr = NULL, *rec;
	/* Far more steps than entries means restarts that do not end. */
	size_t n = 0, cap = 0, steps = 0, limit = 4 * (size_t)XCNI_MAX_CT;
	void *prev = NULL;
	int err;

	if (m->key_size > sizeof(key))
		return -E2BIG;
	for (;;) {
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			rec = reallocarray(arr, cap, elem);
			if (!rec) {
				err = -ENOMEM;
				goto free;
			}
			arr = rec;
		}
		rec = arr + n * elem;
		if (bpf_map_get_next_key(fd, prev, key)) {
			err = errno == ENOENT ? 0 : -errno;
			if (err)
				goto free;
			break;
		}
		if (++steps > limit) {
			pr_err("%s: keeps changing under the walk, giving up\n", m->name);
			err = -EAGAIN;
			goto free;
		}
		prev = key;
		if (bpf_map_lookup_elem(fd, key, rec + voff)) {
			if (errno == ENOENT) /* deleted since: skip it */
				continue;
			err = -errno;
			goto free;
		}
		memcpy(rec + koff, key, m->key_size);
		n++;
	}
	*out = arr;
	*np = n;
	return 0;
free:
	free(arr);
	return err;
}

/* Sorts records by key (cmp) and drops duplicates the walk may have seen twice. */
static size_t sort_unique(void *arr, size_t n, size_t elem, int (*cmp)(const void *, const void *))
{
	unsigned char *a = arr;
	size_t i, k = 0;

	if (!n)
		return 0;
	qsort(a, n, elem, cmp);
	for (i = 1; i < n; i++)
		if (cmp(a + k * elem, a + i * elem))
			memmove(a + ++k * elem, a + i * elem, elem);
	return k + 1;
}

/* ---- formatting helpers ---------------------------------------------- */

static int parse_ip(const char *s, __u32 *ip)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1) {
		pr_err("%s: not an IPv4 address\n", s);
		return -EINVAL;
	}
	*ip = a.s_addr;
	return 0;
}

/* An IPv4 address in network order, as text in a static buffer of the caller's. */
static const char *ip_str(__u32 ip, char buf[INET_ADDRSTRLEN])
{
	return inet_ntop(AF_INET, &ip, buf, INET_ADDRSTRLEN);
}

static void pt_mac(struct ptable *t, const __u8 m[6])
{
	pt_strf(t, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static __u64 now_ns(void)
{
	struct timespec ts;

	/* bpf_ktime_get_ns() is CLOCK_MONOTONIC. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Whole seconds from ns to now; 0 for a stamp from the future. */
static __u64 secs_since(__u64 now, __u64 ns)
{
	return now > ns ? (now - ns) / 1000000000ULL : 0;
}

/* Prints the table (or the error that building it met) and frees it. */
static int show(const struct ctx *c, struct ptable *t)
{
	int err = pt_print(t, stdout, c->json);

	if (err)
		pr_err("writing output: %s\n", strerror(-err));
	pt_free(t);
	return err;
}

/* ---- filters --------------------------------------------------------- */

/*
 * One filter layer for every view: --ip, --pod, --namespace and --identity
 * are resolved once, before the walk (an unknown pod is an error then, not an
 * empty table), and each view describes a row by what it is about: its
 * addresses (prefixes) and identities. A row passes when it passes every
 * filter given:
 *   --ip/--pod     an address (prefix) of the row holds the address; rows with
 *                  no address (identities) match the address's identity
 *   --namespace    an address of the row is a pod of the namespace, or the
 *                  row's label set is the namespace's
 *   --identity     an identity of the row, or for rows without one the
 *                  identity the ipcache gives their addresses
 */
struct filter {
	unsigned int opts; /* OPT_FILTERS given */
	__u32 ip; /* --ip, or --pod's address (network order) */
	__u32 ip_id; /* the identity of ip (views of identities) */
	__u32 identity; /* --identity */
	const char *ns;
	int podname_fd, ipcache_fd; /* -1 when not needed */
};

/* What a row is about. */
struct frow {
	__u32 addr[2]; /* network order */
	__u8 plen[2];
	unsigned int naddr;
	__u32 id[2];
	unsigned int nid;
	const char *labels; /* an identity's label set */
};

static int resolve_pod(const struct ctx *c, const char *arg, __u32 *ip, const char *flag);

static bool in_prefix(__u32 ip, __u32 net, unsigned int len)
{
	return len <= 32 && !((ntohl(ip) ^ ntohl(net)) & xcni_prefix_mask(len));
}

/* The identity the ipcache gives ip (longest prefix), as the programs see it. */
static int ipcache_identity(int fd, __u32 ip, __u32 *id)
{
	struct xcni_ipcache_key k = { .prefixlen = 32, .addr = ip };
	struct xcni_ipcache_val v;

	if (fd < 0 || bpf_map_lookup_elem(fd, &k, &v))
		return -ENOENT;
	*id = v.identity;
	return 0;
}

/* Views keyed by identity turn --ip/--pod into the address's identity. */
#define FILTER_BY_IDENTITY 0x1u

static void filter_close(struct filter *f)
{
	if (f->podname_fd >= 0)
		close(f->podname_fd);
	if (f->ipcache_fd >= 0)
		close(f->ipcache_fd);
	f->podname_fd = f->ipcache_fd = -1;
}

static int filter_open(const struct ctx *c, struct filter *f, unsigned int flags)
{
	char buf[INET_ADDRSTRLEN];
	int err;

	memset(f, 0, sizeof(*f));
	f->podname_fd = f->ipcache_fd = -1;
	f->opts = c->opts & OPT_FILTERS;
	f->ns = c->ns;
	f->identity = c->identity;
	f->ip = c->ip_addr;
	if ((f->opts & OPT_POD) && (err = resolve_pod(c, c->pod, &f->ip, "--pod")))
		return err;
	if (f->opts & OPT_NAMESPACE) {
		f->podname_fd = map_open(c, &m_podname);
		if (f->podname_fd < 0)
			return f->podname_fd;
	}
	if ((f->opts & OPT_IDENTITY) || ((flags & FILTER_BY_IDENTITY) && (f->opts & (OPT_IP | OPT_POD)))) {
		f->ipcache_fd = map_open(c, &m_ipcache);
		if (f->ipcache_fd < 0) {
			err = f->ipcache_fd;
			goto close;
		}
	}
	if ((flags & FILTER_BY_IDENTITY) && (f->opts & (OPT_IP | OPT_POD)) &&
	    ipcache_identity(f->ipcache_fd, f->ip, &f->ip_id)) {
		pr_err("%s %s: %s is not in the ipcache: it has no identity\n",
		       f->opts & OPT_POD ? "--pod" : "--ip", f->opts & OPT_POD ? c->pod : c->ip,
		       ip_str(f->ip, buf));
		err = -ENOENT;
		goto close;
	}
	return 0;
close:
	filter_close(f);
	return err;
}

/* Whether ip is a pod of namespace ns, by the cluster state's podname map. */
static bool ip_in_namespace(int fd, __u32 ip, const char *ns)
{
	struct xcni_podname pn;

	return bpf_map_lookup_elem(fd, &ip, &pn) == 0 &&
	       !strncmp(pn.ns, ns, sizeof(pn.ns)) && strlen(ns) < sizeof(pn.ns);
}

/* Whether a label set is that of a pod of namespace ns. */
static bool labels_in_namespace(const char *labels, const char *ns)
{
	static const char key[] = "ns:kubernetes.io/metadata.name=";
	const char *p = labels;
	size_t n = strlen(ns);

	while ((p = strstr(p, key))) {
		if ((p == labels || p[-1] == ',') && !strncmp(p + sizeof(key) - 1, ns, n) &&
		    (p[sizeof(key) - 1 + n] == ',' || !p[sizeof(key) - 1 + n]))
			return true;
		p++;
	}
	return false;
}

static bool filter_match(const struct filter *f, const struct frow *r)
{
	unsigned int i;
	bool hit;
	__u32 id;

	if (f->opts & (OPT_IP | OPT_POD)) {
		for (i = 0, hit = false; i < r->naddr && !hit; i++)
			hit = in_prefix(f->ip, r->addr[i], r->plen[i]);
		for (i = 0; !r->naddr && i < r->nid && !hit; i++)
			hit = r->id[i] == f->ip_id;
		if (!hit)
			return false;
	}
	if (f->opts & OPT_NAMESPACE) {
		for (i = 0, hit = false; i < r->naddr && !hit; i++)
			hit = r->plen[i] == 32 && ip_in_namespace(f->podname_fd, r->addr[i], f->ns);
		if (!hit && r->labels)
			hit = labels_in_namespace(r->labels, f->ns);
		if (!hit)
			return false;
	}
	if (f->opts & OPT_IDENTITY) {
		for (i = 0, hit = false; i < r->nid && !hit; i++)
			hit = r->id[i] == f->identity;
		for (i = 0; !r->nid && i < r->naddr && !hit; i++)
			hit = r->plen[i] == 32 && !ipcache_identity(f->ipcache_fd, r->addr[i], &id) &&
			      id == f->identity;
		if (!hit)
			return false;
	}
	return true;
}

/* The help lines of the filters, for the command table. */
#define HELP_IP "  --ip IP              rows about IP (an address or a prefix holding it)\n"
#define HELP_POD "  --pod POD            rows about POD (NAMESPACE/NAME or its IP)\n"
#define HELP_NS "  --namespace NS       rows about a pod of namespace NS\n"
#define HELP_ID "  --identity ID        rows about identity ID (a number or reserved:NAME)\n"
#define HELP_FILTERS HELP_IP HELP_POD HELP_NS HELP_ID \
	"Filters combine: a row is shown when it passes every one given."

/* ---- endpoint -------------------------------------------------------- */

static const struct pt_col ep_cols[] = {
	{ "IP", "ip", PT_STR },
	{ "IFINDEX", "ifindex", PT_UINT },
	{ "IFNAME", "ifname", PT_STR },
	{ "EP-ID", "ep_id", PT_UINT },
	{ "IDENTITY", "identity", PT_UINT },
	{ "POD-MAC", "pod_mac", PT_STR },
	{ "HOST-MAC", "host_mac", PT_STR },
	{ "FLAGS", "flags", PT_HEX },
};

struct ep_rec {
	__u32 ip; /* network order */
	struct xcni_endpoint ep;
};

static void ep_row(struct ptable *t, __u32 ip, const struct xcni_endpoint *ep)
{
	char buf[INET_ADDRSTRLEN], ifname[IF_NAMESIZE];

	pt_str(t, ip_str(ip, buf));
	pt_uint(t, ep->ifindex);
	/* The name the plugin recorded: this netns may not be the node's, where the
	 * ifindex would name another device or none. */
	if (ep->host_if[0])
		pt_strf(t, "%.*s", (int)strnlen(ep->host_if, sizeof(ep->host_if)), ep->host_if);
	else
		pt_str(t, if_indextoname(ep->ifindex, ifname));
	pt_uint(t, ep->ep_id);
	pt_uint(t, ep->identity);
	pt_mac(t, ep->pod_mac);
	pt_mac(t, ep->host_mac);
	pt_uint(t, ep->flags);
}

static int ep_cmp(const void *a, const void *b)
{
	__u32 x = ntohl(((const struct ep_rec *)a)->ip), y = ntohl(((const struct ep_rec *)b)->ip);

	return (x > y) - (x < y);
}

static int cmd_endpoint_list(const struct ctx *c, char **argv)
{
	struct ep_rec *recs = NULL;
	struct ptable *t = NULL;
	struct filter f;
	size_t n, i;
	int fd, err;

	(void)argv;
	err = filter_open(c, &f, 0);
	if (err)
		return err;
	fd = map_open(c, &m_endpoints);
	if (fd < 0) {
		err = fd;
		goto out;
	}
	err = map_collect(fd, &m_endpoints, sizeof(*recs), offsetof(struct ep_rec, ip),
			  offsetof(struct ep_rec, ep), (void **)&recs, &n);
	close(fd);
	if (err)
		goto out;
	n = sort_unique(recs, n, sizeof(*recs), ep_cmp);
	t = pt_new(ep_cols, ARRAY_SIZE(ep_cols), 0);
	for (i = 0; i < n; i++) {
		/* Identity 0: policy has not assigned one; the ipcache may know it. */
		struct frow r = { .addr = { recs[i].ip }, .plen = { 32 }, .naddr = 1,
				  .id = { recs[i].ep.identity }, .nid = !!recs[i].ep.identity };

		if (filter_match(&f, &r))
			ep_row(t, recs[i].ip, &recs[i].ep);
	}
	err = show(c, t);
	free(recs);
out:
	filter_close(&f);
	return err;
}

static int cmd_endpoint_get(const struct ctx *c, char **argv)
{
	struct xcni_endpoint ep;
	struct ptable *t;
	__u32 ip;
	int fd, err;

	err = parse_ip(argv[0], &ip);
	if (err)
		return err;
	fd = map_open(c, &m_endpoints);
	if (fd < 0)
		return fd;
	if (bpf_map_lookup_elem(fd, &ip, &ep)) {
		err = -errno;
		if (err == -ENOENT)
			pr_err("%s: no such endpoint\n", argv[0]);
		else
			pr_err("%s: lookup: %s\n", argv[0], strerror(-err));
		goto close;
	}
	t = pt_new(ep_cols, ARRAY_SIZE(ep_cols), PT_RECORD);
	ep_row(t, ip, &ep);
	err = show(c, t);
close:
	close(fd);
	return err;
}

/* ---- ct -------------------------------------------------------------- */

/* The columns of a flow, shared by ct list and ct get. */
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
	{ "PKTS-ORIG", "pkts_orig", PT_UINT },                                               \
	{ "BYTES-ORIG", "bytes_orig", PT_UINT },                                             \
	{ "PKTS-REPLY", "pkts_reply", PT_UINT },                                             \
	{ "BYTES-REPLY", "bytes_reply", PT_UINT },                                           \
	{ "EP-ID", "ep_id", PT_UINT },                                                       \
	/* "stack": the flow went through the host stack (a Service's DNAT): so do its replies. */ \
	{ "VIA", "via", PT_STR },                                                            \
	/* The policy revision the flow was last judged under (config: POLICY-REV now). */    \
	{ "POLICY-REV", "policy_rev", PT_UINT }

static const struct pt_col ct_cols[] = { CT_COLS };

/* ct get: which direction of the flow the tuple asked about is. */
static const struct pt_col ct_get_cols[] = { CT_COLS, { "MATCHED", "matched", PT_STR } };

struct ct_rec {
	struct xcni_ct_key k;
	struct xcni_ct_entry e;
};

static const char *ct_state_name(__u8 state)
{
	static const char *const names[] = {
		[XCNI_CT_NEW] = "new",
		[XCNI_CT_ESTABLISHED] = "established",
		[XCNI_CT_CLOSING] = "closing",
		[XCNI_CT_CLOSED] = "closed",
	};

	return state < ARRAY_SIZE(names) ? names[state] : NULL;
}

static const char *proto_name(__u8 proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_ICMP:
		return "icmp";
	case IPPROTO_SCTP:
		return "sctp";
	}
	return NULL;
}

/* "10.0.0.1:80"; ICMP echo shows its id; other protocols have no ports. */
static void pt_addr_port(struct ptable *t, __u8 proto, __u32 ip, __u16 port)
{
	char buf[INET_ADDRSTRLEN];

	/* The ports the data plane tracks (parse.h): SCTP's common header has them too. */
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP)
		pt_strf(t, "%s:%u", ip_str(ip, buf), ntohs(port));
	else if (proto == IPPROTO_ICMP)
		pt_strf(t, "%s:id=%u", ip_str(ip, buf), ntohs(port));
	else
		pt_str(t, ip_str(ip, buf));
}

/* The cells of one flow under CT_COLS. */
static void ct_row(struct ptable *t, __u64 now, const struct xcni_ct_key *k,
		   const struct xcni_ct_entry *e)
{
	char buf[INET_ADDRSTRLEN];
	const char *s;

	if ((s = proto_name(k->proto)))
		pt_str(t, s);
	else
		pt_strf(t, "%u", k->proto);
	pt_addr_port(t, k->proto, k->saddr, k->sport);
	pt_addr_port(t, k->proto, k->daddr, k->dport);
	pt_str(t, ip_str(k->saddr, buf));
	pt_uint(t, ntohs(k->sport));
	pt_str(t, ip_str(k->daddr, buf));
	pt_uint(t, ntohs(k->dport));
	if ((s = ct_state_name(e->state)))
		pt_str(t, s);
	else
		pt_strf(t, "%u", e->state);
	pt_uint(t, secs_since(now, e->created_ns));
	pt_uint(t, secs_since(now, e->last_ns));
	pt_uint(t, e->pkts_orig);
	pt_uint(t, e->bytes_orig);
	pt_uint(t, e->pkts_reply);
	pt_uint(t, e->bytes_reply);
	pt_uint(t, e->ep_id);
	pt_str(t, e->flags & XCNI_CT_F_STACK ? "stack" : "bpf");
	pt_uint(t, e->policy_rev);
}

static int ct_cmp(const void *a, const void *b)
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

static int cmd_ct_list(const struct ctx *c, char **argv)
{
	struct ct_rec *recs = NULL;
	struct ptable *t = NULL;
	struct filter f;
	size_t n, i;
	__u64 now;
	int fd, err;

	(void)argv;
	err = filter_open(c, &f, 0);
	if (err)
		return err;
	fd = map_open(c, &m_ct);
	if (fd < 0) {
		filter_close(&f);
		return fd;
	}
	err = map_collect(fd, &m_ct, sizeof(*recs), offsetof(struct ct_rec, k),
			  offsetof(struct ct_rec, e), (void **)&recs, &n);
	if (err)
		goto close;
	now = now_ns();
	n = sort_unique(recs, n, sizeof(*recs), ct_cmp);
	t = pt_new(ct_cols, ARRAY_SIZE(ct_cols), 0);
	for (i = 0; i < n; i++) {
		const struct xcni_ct_key *k = &recs[i].k;
		const struct xcni_ct_entry *e = &recs[i].e;
		struct frow r = { .addr = { k->saddr, k->daddr }, .plen = { 32, 32 }, .naddr = 2 };

		if (filter_match(&f, &r))
			ct_row(t, now, k, e);
	}
	err = show(c, t);
	free(recs);
close:
	filter_close(&f);
	close(fd);
	return err;
}

/* A protocol as ct shows it: tcp, udp, sctp, icmp, or a number. */
static int parse_ct_proto(const char *s, __u8 *proto)
{
	static const __u8 named[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP, IPPROTO_ICMP };
	unsigned long v;
	char *end;

	for (size_t i = 0; i < ARRAY_SIZE(named); i++)
		if (!strcasecmp(s, proto_name(named[i]))) {
			*proto = named[i];
			return 0;
		}
	errno = 0;
	v = strtoul(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end || errno || v > 255) {
		pr_err("PROTO \"%s\": expected tcp, udp, sctp, icmp or a protocol number (0 to 255)\n", s);
		return -EINVAL;
	}
	*proto = (__u8)v;
	return 0;
}

/* A decimal 0..65535 that is all of s. */
static int parse_u16(const char *s, __u16 *v)
{
	unsigned long n;
	char *end;

	errno = 0;
	n = strtoul(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end || errno || n > 65535)
		return -EINVAL;
	*v = (__u16)n;
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
	__u16 v = 0;

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
		if (parse_u16(p, &v))
			goto bad;
	} else if (ports) {
		goto bad;
	}
	*ip = a.s_addr;
	*port = htons(v);
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
	if (!sp && !dp) {
		pr_err("icmp: the echo id is missing: give SRC or DST as ADDRESS:id=ID\n");
		return -EINVAL;
	}
	if (sp && dp && k->sport != k->dport) {
		pr_err("icmp: SRC and DST carry different echo ids (%u, %u): an echo has one\n",
		       ntohs(k->sport), ntohs(k->dport));
		return -EINVAL;
	}
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
static int cmd_ct_get(const struct ctx *c, char **argv)
{
	struct xcni_ct_key k, rev;
	struct xcni_ct_entry e;
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
			pr_err("no such flow: %s %s -> %s, in either direction\n", argv[0], argv[1],
			       argv[2]);
			err = -ENOENT;
			goto close;
		}
	}
	t = pt_new(ct_get_cols, ARRAY_SIZE(ct_get_cols), PT_RECORD);
	ct_row(t, now_ns(), &k, &e);
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

/* ---- metrics --------------------------------------------------------- */

static const struct pt_col metric_cols[] = {
	{ "REASON", "reason", PT_STR },
	{ NULL, "code", PT_INT },
	{ "DIRECTION", "direction", PT_STR },
	{ "PACKETS", "packets", PT_UINT },
	{ "BYTES", "bytes", PT_UINT },
	{ NULL, "description", PT_STR },
};

/*
 * Events the data plane could not report (xcni_evrate): rows of their own
 * after the reasons, with no code or direction, so a reader of monitor knows
 * it saw less than happened. Absent before xcnid had the map: no rows.
 */
static int metrics_events(const struct ctx *c, struct ptable *t, int ncpus)
{
	static const struct {
		const char *name, *desc;
		size_t off;
	} rows[] = {
		{ "events-lost-rate-limit",
		  "events over the per-CPU budget (xcnid --events-rate, config set events-rate): "
		  "monitor output is incomplete", offsetof(struct xcni_evrate, lost_rate) },
		{ "events-lost-ring-full",
		  "events the ring had no room for (its reader lags): monitor output is incomplete",
		  offsetof(struct xcni_evrate, lost_full) },
	};
	struct xcni_evrate *vals;
	__u32 zero = 0;
	int fd = map_open_quiet(c, &m_evrate), err = 0;

	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	vals = calloc(ncpus, sizeof(*vals));
	if (!vals) {
		err = -ENOMEM;
		goto close;
	}
	if (bpf_map_lookup_elem(fd, &zero, vals)) {
		err = -errno;
		pr_err("%s: lookup: %s\n", m_evrate.name, strerror(-err));
		goto free;
	}
	for (size_t r = 0; r < ARRAY_SIZE(rows); r++) {
		__u64 sum = 0;

		for (int cpu = 0; cpu < ncpus; cpu++)
			sum += *(const __u64 *)((const char *)&vals[cpu] + rows[r].off);
		if (!sum && !(c->opts & OPT_ALL))
			continue;
		pt_str(t, rows[r].name);
		pt_null(t);
		pt_null(t);
		pt_uint(t, sum);
		pt_null(t);
		pt_str(t, rows[r].desc);
	}
free:
	free(vals);
close:
	close(fd);
	return err;
}

/* The reason called name ("drop-policy-ingress"): 0, or -ENOENT. */
static int reason_by_name(const char *name, int *reason)
{
	for (int r = XCNI_REASON_MAX; r >= XCNI_REASON_MIN; r--) {
		const struct xcni_reason_info *ri = xcni_reason_info(r);

		if (ri && !strcmp(ri->name, name)) {
			*reason = r;
			return 0;
		}
	}
	return -ENOENT;
}

/* only: NULL, every reason (non-zero rows unless --all); else that reason's rows, zeros too. */
static int metrics_show(const struct ctx *c, const int *only)
{
	struct xcni_metric *vals;
	struct ptable *t = NULL;
	int fd, err, ncpus, reason, cpu;
	unsigned int dir;

	/* A per-CPU lookup fills one value per possible CPU, each 8-byte aligned. */
	_Static_assert(sizeof(struct xcni_metric) % 8 == 0, "per-CPU values are 8-byte aligned");
	ncpus = libbpf_num_possible_cpus();
	if (ncpus < 0) {
		pr_err("possible CPUs: %s\n", strerror(-ncpus));
		return ncpus;
	}
	vals = calloc(ncpus, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	fd = map_open(c, &m_metrics);
	if (fd < 0) {
		err = fd;
		goto free;
	}
	t = pt_new(metric_cols, ARRAY_SIZE(metric_cols), 0);
	/* Reasons in enum order, fwd-local first. */
	for (reason = XCNI_REASON_MAX; reason >= XCNI_REASON_MIN; reason--) {
		const struct xcni_reason_info *ri = xcni_reason_info(reason);

		if (only && reason != *only)
			continue;
		for (dir = 0; dir < XCNI_NR_DIRS; dir++) {
			__u32 idx = XCNI_METRIC_IDX(reason, dir);
			struct xcni_metric sum = {};

			if (bpf_map_lookup_elem(fd, &idx, vals)) {
				err = -errno;
				pr_err("%s[%u]: %s\n", m_metrics.name, idx, strerror(-err));
				goto free_t;
			}
			for (cpu = 0; cpu < ncpus; cpu++) {
				sum.packets += vals[cpu].packets;
				sum.bytes += vals[cpu].bytes;
			}
			if (!sum.packets && !sum.bytes && !(c->opts & OPT_ALL) && !only)
				continue;
			if (ri)
				pt_str(t, ri->name);
			else
				pt_strf(t, "reason%d", reason);
			pt_int(t, reason);
			pt_str(t, xcni_dir_name(dir));
			pt_uint(t, sum.packets);
			pt_uint(t, sum.bytes);
			pt_str(t, ri ? ri->desc : NULL);
		}
	}
	err = only ? 0 : metrics_events(c, t, ncpus);
	if (err)
		goto free_t;
	err = show(c, t);
	t = NULL;
free_t:
	pt_free(t);
	close(fd);
free:
	free(vals);
	return err;
}

static int cmd_metrics(const struct ctx *c, char **argv)
{
	(void)argv;
	return metrics_show(c, NULL);
}

static int check_metrics_get(char **argv)
{
	int reason;

	if (reason_by_name(argv[0], &reason)) {
		pr_err("REASON %s: no such reason (xcnictl metrics --all lists them)\n", argv[0]);
		return -EINVAL;
	}
	return 0;
}

static int cmd_metrics_get(const struct ctx *c, char **argv)
{
	int reason;

	if (reason_by_name(argv[0], &reason))
		return -EINVAL;
	return metrics_show(c, &reason);
}

/* ---- monitor --------------------------------------------------------- */

static const struct pt_col event_cols[] = {
	{ "TIME", NULL, PT_STR },
	{ NULL, "time_ns", PT_UINT },
	{ "REASON", "reason", PT_STR },
	{ NULL, "code", PT_INT },
	{ "DIRECTION", "direction", PT_STR },
	{ "EP-ID", "ep_id", PT_UINT },
	{ "IFINDEX", "ifindex", PT_UINT },
	{ "PROTO", "proto", PT_STR },
	{ "SRC", NULL, PT_STR },
	{ "DST", NULL, PT_STR },
	{ NULL, "saddr", PT_STR },
	{ NULL, "sport", PT_UINT },
	{ NULL, "daddr", PT_STR },
	{ NULL, "dport", PT_UINT },
	{ "LEN", "len", PT_UINT },
	{ "TYPE", "type", PT_STR },
	{ "VERDICT", "verdict", PT_STR },
	{ NULL, "src_identity", PT_UINT },
	{ NULL, "dst_identity", PT_UINT },
	{ NULL, "policy", PT_STR },
	{ NULL, "rule", PT_INT },
};

static volatile sig_atomic_t monitor_stop;

static void on_sigint(int sig)
{
	(void)sig;
	monitor_stop = 1;
}

struct monitor {
	const struct ctx *c;
	struct ptable *t;
	unsigned long seen;
	int err;
	int polname_fd; /* -1 when the agent predates policy */
	struct filter f; /* --ip, --pod, --namespace, --identity */
	__u64 since_ns; /* events queued before monitor started are old news */
};

static bool is_policy_drop(int reason)
{
	return reason == XCNI_DROP_POLICY_EGRESS || reason == XCNI_DROP_POLICY_INGRESS;
}

/*
 * The filters run here, on what the ring buffer already holds: the programs
 * emit the same events whether anyone watches or how, so a filter costs the
 * data plane nothing and a narrow one does not make it emit less.
 */
static bool monitor_match(const struct monitor *m, const struct xcni_event *ev)
{
	const struct ctx *c = m->c;
	struct frow r = { .addr = { ev->saddr, ev->daddr }, .plen = { 32, 32 }, .naddr = 2 };

	if ((c->opts & OPT_TYPE) && ev->type != c->ev_type)
		return false;
	if ((c->opts & OPT_VERDICT) &&
	    (c->verdict_allow ? ev->type != XCNI_EV_VERDICT
			      : ev->type != XCNI_EV_DROP || !is_policy_drop(ev->reason)))
		return false;
	if ((c->opts & OPT_REASON) && ev->reason != c->reason)
		return false;
	/* The identities the programs had at hand; else the ipcache's. */
	if (ev->src_identity)
		r.id[r.nid++] = ev->src_identity;
	if (ev->dst_identity)
		r.id[r.nid++] = ev->dst_identity;
	return filter_match(&m->f, &r);
}

static const char *event_type_name(__u8 type)
{
	switch (type) {
	case XCNI_EV_DROP:
		return "drop";
	case XCNI_EV_VERDICT:
		return "verdict";
	case XCNI_EV_TRACE:
		return "trace";
	}
	return NULL;
}

/* "ns/name" of a policy id, or "policy#id" when the name is not (yet) known. */
static const char *policy_name(int fd, __u32 id, char *buf, size_t len)
{
	struct xcni_polname pn;

	if (fd >= 0 && bpf_map_lookup_elem(fd, &id, &pn) == 0)
		snprintf(buf, len, "%.*s/%.*s", (int)strnlen(pn.ns, sizeof(pn.ns)), pn.ns,
			 (int)strnlen(pn.name, sizeof(pn.name)), pn.name);
	else
		snprintf(buf, len, "policy#%u", id);
	return buf;
}

/* The policy side of an event: which rule allowed it, or that nothing did. */
static void monitor_verdict(struct monitor *m, const struct xcni_event *ev)
{
	const char *side = ev->pol_dir == XCNI_DIR_FROM_POD ? "egress" : "ingress";
	char name[340];

	if (ev->type == XCNI_EV_VERDICT) {
		policy_name(m->polname_fd, ev->policy_id, name, sizeof(name));
		pt_strf(m->t, "allow %s by %s rule %u", side, name, ev->rule);
	} else if (is_policy_drop(ev->reason)) {
		pt_strf(m->t, "deny %s: isolated, nothing allows", side);
	} else {
		pt_null(m->t);
	}
	pt_uint(m->t, ev->src_identity);
	pt_uint(m->t, ev->dst_identity);
	if (ev->type == XCNI_EV_VERDICT) {
		pt_str(m->t, policy_name(m->polname_fd, ev->policy_id, name, sizeof(name)));
		pt_int(m->t, ev->rule);
	} else {
		pt_null(m->t);
		pt_null(m->t);
	}
}

static int on_event(void *arg, void *data, size_t len)
{
	struct monitor *m = arg;
	const struct xcni_event *ev = data;
	const struct xcni_reason_info *ri;
	char buf[INET_ADDRSTRLEN];
	const char *s;

	if (len < sizeof(*ev) || ev->ts_ns < m->since_ns || !monitor_match(m, ev))
		return 0;
	ri = xcni_reason_info(ev->reason);
	pt_strf(m->t, "%llu.%06llu", (unsigned long long)(ev->ts_ns / 1000000000ULL),
		(unsigned long long)(ev->ts_ns % 1000000000ULL / 1000));
	pt_uint(m->t, ev->ts_ns);
	if (ri)
		pt_str(m->t, ri->name);
	else
		pt_strf(m->t, "reason%d", ev->reason);
	pt_int(m->t, ev->reason);
	pt_str(m->t, xcni_dir_name(ev->dir));
	pt_uint(m->t, ev->ep_id);
	pt_uint(m->t, ev->ifindex);
	if ((s = proto_name(ev->proto)))
		pt_str(m->t, s);
	else
		pt_strf(m->t, "%u", ev->proto);
	pt_addr_port(m->t, ev->proto, ev->saddr, ev->sport);
	pt_addr_port(m->t, ev->proto, ev->daddr, ev->dport);
	pt_str(m->t, ip_str(ev->saddr, buf));
	pt_uint(m->t, ntohs(ev->sport));
	pt_str(m->t, ip_str(ev->daddr, buf));
	pt_uint(m->t, ntohs(ev->dport));
	pt_uint(m->t, ev->len);
	if (event_type_name(ev->type))
		pt_str(m->t, event_type_name(ev->type));
	else
		pt_strf(m->t, "%u", ev->type);
	monitor_verdict(m, ev);
	m->err = pt_flush(m->t, stdout, m->c->json);
	m->seen++;
	/* Non-zero ends ring_buffer__poll(): the count is reached or output failed. */
	return m->err ? m->err : (m->c->count && m->seen >= m->c->count);
}

static int cmd_monitor(const struct ctx *c, char **argv)
{
	struct monitor m = { .c = c, .polname_fd = -1 };
	struct ring_buffer *rb = NULL;
	__u64 deadline = 0;
	int fd, err = 0;

	(void)argv;
	/* Names are resolved before the stream starts: an unknown pod is an
	 * error now, not a monitor that silently shows nothing. */
	err = filter_open(c, &m.f, 0);
	if (err)
		return err;
	fd = map_open(c, &m_events);
	if (fd < 0) {
		filter_close(&m.f);
		return fd;
	}
	m.since_ns = now_ns();
	m.t = pt_new(event_cols, ARRAY_SIZE(event_cols), 0);
	m.polname_fd = map_open_quiet(c, &m_polname);
	rb = ring_buffer__new(fd, on_event, &m, NULL);
	if (!rb || !m.t) {
		err = rb ? -ENOMEM : -errno;
		pr_err("%s: %s\n", m_events.name, strerror(-err));
		goto out;
	}
	if (c->opts & OPT_TIMEOUT)
		deadline = now_ns() + (__u64)c->timeout_ms * 1000000ULL;
	signal(SIGINT, on_sigint);
	signal(SIGTERM, on_sigint);
	/* Short polls, so a signal or the deadline ends the stream promptly. */
	while (!monitor_stop && (!deadline || now_ns() < deadline)) {
		err = ring_buffer__poll(rb, 100);
		if (err == -EINTR) {
			err = 0;
			continue;
		}
		if (err < 0 || m.err || (c->count && m.seen >= c->count))
			break;
		err = 0;
	}
	if (m.err)
		err = m.err;
	if (err < 0)
		pr_err("%s: %s\n", m_events.name, strerror(-err));
	else
		err = 0;
out:
	ring_buffer__free(rb);
	pt_free(m.t);
	if (m.polname_fd >= 0)
		close(m.polname_fd);
	filter_close(&m.f);
	close(fd);
	return err;
}

/* ---- identity, ipcache, policy ------------------------------------- */

static const char *reserved_identity(__u32 id)
{
	switch (id) {
	case XCNI_ID_HOST: return "reserved:host";
	case XCNI_ID_WORLD: return "reserved:world";
	case XCNI_ID_UNMANAGED: return "reserved:unmanaged";
	case XCNI_ID_REMOTE_NODE: return "reserved:remote-node";
	}
	return NULL;
}

static const struct pt_col id_cols[] = {
	{ "IDENTITY", "identity", PT_UINT },
	{ "LABELS", "labels", PT_STR },
};

struct id_rec {
	__u32 id;
	struct xcni_idlabels l;
};

static int u32_cmp(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return (x > y) - (x < y);
}

/* An identity: a number, or a reserved one by name ("reserved:world"). */
static int parse_identity(const char *s, __u32 *id)
{
	static const __u32 reserved[] = { XCNI_ID_HOST, XCNI_ID_WORLD, XCNI_ID_UNMANAGED,
					  XCNI_ID_REMOTE_NODE };
	unsigned long v;
	char *end;

	for (size_t i = 0; i < ARRAY_SIZE(reserved); i++)
		if (!strcmp(s, reserved_identity(reserved[i]))) {
			*id = reserved[i];
			return 0;
		}
	errno = 0;
	v = strtoul(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end || errno || v > UINT32_MAX)
		return -EINVAL;
	*id = (__u32)v;
	return 0;
}

/* identity list (get NULL) and identity get ID. */
static int identity_show(const struct ctx *c, const char *get)
{
	static const __u32 reserved[] = { XCNI_ID_HOST, XCNI_ID_WORLD, XCNI_ID_UNMANAGED,
					  XCNI_ID_REMOTE_NODE };
	struct id_rec *recs = NULL;
	struct ptable *t;
	struct filter f;
	__u32 want = 0;
	size_t n, i;
	int fd, err;

	if (get && parse_identity(get, &want)) {
		pr_err("%s: not an identity (a number or reserved:NAME)\n", get);
		return -EINVAL;
	}
	err = filter_open(c, &f, FILTER_BY_IDENTITY);
	if (err)
		return err;
	fd = map_open(c, &m_identity);
	if (fd < 0) {
		err = fd;
		goto out;
	}
	err = map_collect(fd, &m_identity, sizeof(*recs), offsetof(struct id_rec, id),
			  offsetof(struct id_rec, l), (void **)&recs, &n);
	close(fd);
	if (err)
		goto out;
	n = sort_unique(recs, n, sizeof(*recs), u32_cmp);
	t = pt_new(id_cols, ARRAY_SIZE(id_cols), get ? PT_RECORD : 0);
	for (i = 0; i < ARRAY_SIZE(reserved); i++) {
		struct frow r = { .id = { reserved[i] }, .nid = 1 };

		if ((get && reserved[i] != want) || !filter_match(&f, &r))
			continue;
		pt_uint(t, reserved[i]);
		pt_str(t, reserved_identity(reserved[i]));
	}
	for (i = 0; i < n; i++) {
		char labels[sizeof(recs[i].l.labels) + 1];
		struct frow r = { .id = { recs[i].id }, .nid = 1, .labels = labels };

		snprintf(labels, sizeof(labels), "%.*s",
			 (int)strnlen(recs[i].l.labels, sizeof(recs[i].l.labels)), recs[i].l.labels);
		if ((get && recs[i].id != want) || !filter_match(&f, &r))
			continue;
		pt_uint(t, recs[i].id);
		pt_str(t, labels);
	}
	free(recs);
	if (get && !pt_rows(t)) {
		pr_err("%s: no such identity\n", get);
		pt_free(t);
		err = -ENOENT;
		goto out;
	}
	err = show(c, t);
out:
	filter_close(&f);
	return err;
}

static int cmd_identity_list(const struct ctx *c, char **argv)
{
	(void)argv;
	return identity_show(c, NULL);
}

static int cmd_identity_get(const struct ctx *c, char **argv)
{
	return identity_show(c, argv[0]);
}

static const struct pt_col ipcache_cols[] = {
	{ "PREFIX", "prefix", PT_STR },
	{ "IDENTITY", "identity", PT_UINT },
	{ "POD", "pod", PT_STR },
	{ "TUNNEL", "tunnel", PT_STR },
};

struct ipc_rec {
	struct xcni_ipcache_key k;
	struct xcni_ipcache_val v;
};

static int ipc_cmp(const void *a, const void *b)
{
	const struct xcni_ipcache_key *x = a, *y = b;
	__u32 p = ntohl(x->addr), q = ntohl(y->addr);

	if (p != q)
		return (p > q) - (p < q);
	return (x->prefixlen > y->prefixlen) - (x->prefixlen < y->prefixlen);
}

/* "ns/name" of the pod with address ip, from the podname map. */
static bool pod_of_ip(int fd, __u32 ip, char *buf, size_t len)
{
	struct xcni_podname pn;

	if (fd < 0 || bpf_map_lookup_elem(fd, &ip, &pn))
		return false;
	snprintf(buf, len, "%.*s/%.*s", (int)strnlen(pn.ns, sizeof(pn.ns)), pn.ns,
		 (int)strnlen(pn.name, sizeof(pn.name)), pn.name);
	return true;
}

/*
 * ipcache list (get NULL), and ipcache get IP: the entry the programs' lookup
 * finds for IP, the longest prefix holding it.
 */
static int ipcache_show(const struct ctx *c, const char *get)
{
	struct ipc_rec *recs = NULL;
	struct ptable *t;
	char buf[INET_ADDRSTRLEN], pod[340];
	struct filter f;
	size_t n, i, best = SIZE_MAX;
	__u32 want = 0;
	int fd, pfd, err;

	if (get && (err = parse_ip(get, &want)))
		return err;
	err = filter_open(c, &f, 0);
	if (err)
		return err;
	fd = map_open(c, &m_ipcache);
	if (fd < 0) {
		filter_close(&f);
		return fd;
	}
	err = map_collect(fd, &m_ipcache, sizeof(*recs), offsetof(struct ipc_rec, k),
			  offsetof(struct ipc_rec, v), (void **)&recs, &n);
	close(fd);
	if (err) {
		filter_close(&f);
		return err;
	}
	n = sort_unique(recs, n, sizeof(*recs), ipc_cmp);
	for (i = 0; get && i < n; i++)
		if (in_prefix(want, recs[i].k.addr, recs[i].k.prefixlen) &&
		    (best == SIZE_MAX || recs[i].k.prefixlen > recs[best].k.prefixlen))
			best = i;
	if (get && best == SIZE_MAX) {
		pr_err("%s: no ipcache entry holds it (the data plane sees reserved:world)\n", get);
		free(recs);
		filter_close(&f);
		return -ENOENT;
	}
	pfd = map_open_quiet(c, &m_podname);
	t = pt_new(ipcache_cols, ARRAY_SIZE(ipcache_cols), get ? PT_RECORD : 0);
	for (i = get ? best : 0; i < (get ? best + 1 : n); i++) {
		struct frow r = { .addr = { recs[i].k.addr }, .plen = { recs[i].k.prefixlen },
				  .naddr = 1, .id = { recs[i].v.identity }, .nid = 1 };

		if (!filter_match(&f, &r))
			continue;
		pt_strf(t, "%s/%u", ip_str(recs[i].k.addr, buf), recs[i].k.prefixlen);
		pt_uint(t, recs[i].v.identity);
		if (recs[i].k.prefixlen == 32 && pod_of_ip(pfd, recs[i].k.addr, pod, sizeof(pod)))
			pt_str(t, pod);
		else
			pt_str(t, reserved_identity(recs[i].v.identity));
		if (recs[i].v.tunnel_ip)
			pt_str(t, ip_str(recs[i].v.tunnel_ip, buf));
		else
			pt_null(t);
	}
	if (pfd >= 0)
		close(pfd);
	free(recs);
	filter_close(&f);
	return show(c, t);
}

static int cmd_ipcache_list(const struct ctx *c, char **argv)
{
	(void)argv;
	return ipcache_show(c, NULL);
}

static int cmd_ipcache_get(const struct ctx *c, char **argv)
{
	return ipcache_show(c, argv[0]);
}

/*
 * A pod argument: an IPv4 address, or NS/NAME looked up in the podname map.
 * flag: the option it came with ("--pod"), named in messages; there an
 * address must be a pod's too, when the cluster state is at hand.
 */
static int resolve_pod(const struct ctx *c, const char *arg, __u32 *ip, const char *flag)
{
	struct in_addr a;
	struct xcni_podname pn;
	__u32 key, next, *prev = NULL;
	const char *sl = strchr(arg, '/');
	const char *sp = flag ? " " : "";
	int fd, err = -ENOENT;

	if (!flag)
		flag = "";
	if (inet_pton(AF_INET, arg, &a) == 1) {
		*ip = a.s_addr;
		if (!*flag || (fd = map_open_quiet(c, &m_podname)) < 0)
			return 0;
		err = bpf_map_lookup_elem(fd, ip, &pn) ? -ENOENT : 0;
		close(fd);
		if (err)
			pr_err("%s%s%s: no pod has this address in the cluster state xcnid holds\n",
			       flag, sp, arg);
		return err;
	}
	if (!sl || sl == arg || !sl[1]) {
		pr_err("%s%s%s: not a pod (NAMESPACE/NAME) or an IPv4 address\n", flag, sp, arg);
		return -EINVAL;
	}
	fd = map_open(c, &m_podname);
	if (fd < 0)
		return fd;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &pn))
			continue;
		if (strlen(pn.ns) == (size_t)(sl - arg) && !strncmp(pn.ns, arg, sl - arg) &&
		    !strcmp(pn.name, sl + 1)) {
			*ip = key;
			err = 0;
			break;
		}
	}
	close(fd);
	if (err)
		pr_err("%s%s%s: no such pod in the cluster state xcnid holds\n", flag, sp, arg);
	return err;
}

static const struct pt_col pol_cols[] = {
	{ "DIRECTION", "direction", PT_STR },
	{ "PEER", "peer", PT_STR },
	{ NULL, "peer_identity", PT_UINT },
	{ "PROTO", "proto", PT_STR },
	{ "PORT", "port", PT_STR },
	{ "POLICY", "policy", PT_STR },
	{ "RULE", "rule", PT_UINT },
	{ "FLOWS", "flows", PT_UINT },
};

struct pol_rec {
	struct xcni_policy_key k;
	struct xcni_policy_val v;
};

struct polhash_rec {
	struct xcni_polhash_key k;
	struct xcni_policy_val v;
};

/* By pod and version first, so one pod's live entries sit together (pol_entries). */
static int pol_rec_cmp(const void *a, const void *b)
{
	const struct xcni_policy_key *x = a, *y = b;

	if (x->ep != y->ep)
		return x->ep < y->ep ? -1 : 1;
	if (x->version != y->version)
		return x->version < y->version ? -1 : 1;
	return memcmp(x, y, sizeof(*x));
}

/*
 * Every allow entry of every pod, polrange's and policy's alike, in the trie's
 * terms (a hash entry's port 0 = any port, proto 0 = anything), sorted by
 * pol_rec_cmp with the walk's duplicates dropped.
 */
static int policy_collect(int fd, int rfd, struct pol_rec **out, size_t *np)
{
	struct pol_rec *recs = NULL, *more;
	struct polhash_rec *hrecs = NULL;
	size_t n = 0, nh = 0;
	int err;

	if ((err = map_collect(rfd, &m_polrange, sizeof(*recs), offsetof(struct pol_rec, k),
			       offsetof(struct pol_rec, v), (void **)&recs, &n)) ||
	    (err = map_collect(fd, &m_policy, sizeof(*hrecs), offsetof(struct polhash_rec, k),
			       offsetof(struct polhash_rec, v), (void **)&hrecs, &nh)))
		goto out;
	more = reallocarray(recs, n + nh + 1, sizeof(*recs));
	if (!more) {
		err = -ENOMEM;
		goto out;
	}
	recs = more;
	for (size_t i = 0; i < nh; i++) {
		const struct xcni_polhash_key *h = &hrecs[i].k;

		recs[n++] = (struct pol_rec){
			.k = { .prefixlen = !h->proto ? XCNI_POLICY_PREFIX_ANY_PROTO :
					    !h->port  ? XCNI_POLICY_PREFIX_ANY_PORT :
							XCNI_POLICY_PREFIX_FULL,
			       .ep = h->ep, .peer = h->peer, .version = h->version, .dir = h->dir,
			       .proto = h->proto, .port = h->port },
			.v = hrecs[i].v,
		};
	}
	*np = sort_unique(recs, n, sizeof(*recs), pol_rec_cmp);
	*out = recs;
	recs = NULL;
out:
	free(recs);
	free(hrecs);
	return err;
}

/* The entries of pod ep's version ver in policy_collect's recs: how many, from *first. */
static size_t pol_entries(const struct pol_rec *recs, size_t n, __u32 ep, __u8 ver, size_t *first)
{
	size_t lo = 0, hi = n, i;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct xcni_policy_key *k = &recs[mid].k;

		if (k->ep < ep || (k->ep == ep && k->version < ver))
			lo = mid + 1;
		else
			hi = mid;
	}
	for (i = lo; i < n && recs[i].k.ep == ep && recs[i].k.version == ver; i++)
		;
	*first = lo;
	return i - lo;
}

struct cidr_rec {
	struct xcni_polcidr_key k;
	__u32 group;
};

static int cidr_rec_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct xcni_polcidr_key));
}

/* The peer of a policy entry in words: any, a reserved name, labels, or CIDRs. */
static void pt_peer(struct ptable *t, __u32 peer, int idfd, const struct cidr_rec *cidrs,
		    size_t ncidrs, __u8 dir)
{
	struct xcni_idlabels l;
	char buf[1200] = "", a[INET_ADDRSTRLEN];
	size_t off = 0;

	if (peer == XCNI_ID_ANY) {
		pt_str(t, "any");
		return;
	}
	if (reserved_identity(peer)) {
		pt_str(t, reserved_identity(peer));
		return;
	}
	if (peer >= XCNI_ID_CIDR_BASE) {
		for (size_t i = 0; i < ncidrs; i++)
			if (cidrs[i].group == peer && cidrs[i].k.dir == dir && off < sizeof(buf))
				off += snprintf(buf + off, sizeof(buf) - off, "%scidr:%s/%u",
						off ? "," : "", ip_str(cidrs[i].k.addr, a),
						cidrs[i].k.prefixlen - XCNI_POLCIDR_PREFIX_BASE);
		pt_str(t, off ? buf : "cidr-group");
		return;
	}
	if (idfd >= 0 && bpf_map_lookup_elem(idfd, &peer, &l) == 0)
		pt_strf(t, "%.*s", (int)strnlen(l.labels, sizeof(l.labels)), l.labels);
	else
		pt_strf(t, "identity %u", peer);
}

static int cmd_policy_get(const struct ctx *c, char **argv)
{
	struct pol_rec *recs = NULL;
	struct cidr_rec *cidrs = NULL;
	struct xcni_polep pe = { .isolated = 1 };
	struct ptable *t = NULL;
	size_t n = 0, nc = 0, k, first;
	int fd = -1, rfd = -1, cfd = -1, idfd = -1, nfd = -1, err;
	char name[340];
	struct filter f = { .podname_fd = -1, .ipcache_fd = -1 };
	__u32 ip;

	err = resolve_pod(c, argv[0], &ip, NULL);
	if (err)
		return err;
	f.opts = c->opts & OPT_IDENTITY; /* the peer's */
	f.identity = c->identity;
	fd = map_open(c, &m_polep);
	if (fd < 0)
		return fd;
	if (bpf_map_lookup_elem(fd, &ip, &pe) || !pe.isolated) {
		close(fd);
		if (errno != ENOENT && pe.isolated) {
			pr_err("%s: %s\n", m_polep.name, strerror(errno));
			return -errno;
		}
		/* Not an error: the answer is that nothing isolates the pod. */
		printf(c->json ? "{\"pod\":\"%s\",\"ingress\":\"allow-all\",\"egress\":\"allow-all\",\"rules\":[]}\n"
			       : "%s: no policy selects this pod: all traffic allowed by default\n",
		       argv[0]);
		return 0;
	}
	close(fd);
	if ((fd = map_open(c, &m_policy)) < 0 || (rfd = map_open(c, &m_polrange)) < 0 ||
	    (cfd = map_open(c, &m_polcidr)) < 0) {
		err = fd < 0 ? fd : rfd < 0 ? rfd : cfd;
		goto out;
	}
	idfd = map_open_quiet(c, &m_identity);
	nfd = map_open_quiet(c, &m_polname);
	if ((err = policy_collect(fd, rfd, &recs, &n)) ||
	    (err = map_collect(cfd, &m_polcidr, sizeof(*cidrs), offsetof(struct cidr_rec, k),
			       offsetof(struct cidr_rec, group), (void **)&cidrs, &nc)))
		goto out;
	/* Only the pod's live version. */
	n = pol_entries(recs, n, ip, pe.version, &first);
	memmove(recs, recs + first, n * sizeof(*recs));
	for (size_t i = k = 0; i < nc; i++)
		if (cidrs[i].k.ep == ip && cidrs[i].k.version == pe.version)
			cidrs[k++] = cidrs[i];
	nc = sort_unique(cidrs, k, sizeof(*cidrs), cidr_rec_cmp);
	if (!c->json)
		printf("pod %s identity %u: ingress %s, egress %s\n", argv[0], pe.identity,
		       pe.isolated & XCNI_ISOLATED(XCNI_DIR_TO_POD) ? "isolated (only the rules below)"
								    : "not isolated (all allowed)",
		       pe.isolated & XCNI_ISOLATED(XCNI_DIR_FROM_POD) ? "isolated (only the rules below)"
								      : "not isolated (all allowed)");
	t = pt_new(pol_cols, ARRAY_SIZE(pol_cols), 0);
	for (size_t i = 0; i < n; i++) {
		const struct xcni_policy_key *pk = &recs[i].k;
		int bits = (int)pk->prefixlen - XCNI_POLICY_PREFIX_ANY_PORT;
		struct frow r = { .id = { pk->peer }, .nid = 1 };
		const char *pn;

		if (!filter_match(&f, &r))
			continue;
		pt_str(t, pk->dir == XCNI_DIR_TO_POD ? "ingress" : "egress");
		pt_peer(t, pk->peer, idfd, cidrs, nc, pk->dir);
		pt_uint(t, pk->peer);
		if (pk->prefixlen <= XCNI_POLICY_PREFIX_ANY_PROTO)
			pt_str(t, "any");
		else if ((pn = proto_name(pk->proto)))
			pt_str(t, pn);
		else
			pt_strf(t, "%u", pk->proto);
		if (bits <= 0) {
			pt_str(t, "any");
		} else if (bits >= 16) {
			pt_strf(t, "%u", ntohs(pk->port));
		} else {
			unsigned int lo = ntohs(pk->port), span = 1u << (16 - bits);

			pt_strf(t, "%u-%u", lo, lo + span - 1);
		}
		pt_str(t, policy_name(nfd, recs[i].v.policy_id, name, sizeof(name)));
		pt_uint(t, recs[i].v.rule);
		pt_uint(t, recs[i].v.packets);
	}
	err = show(c, t);
out:
	free(recs);
	free(cidrs);
	for (int *f = (int[]){ fd, rfd, cfd, idfd, nfd, -2 }; *f != -2; f++)
		if (*f >= 0)
			close(*f);
	return err;
}

static const struct pt_col polep_cols[] = {
	{ "POD", "pod", PT_STR },
	{ "IP", "ip", PT_STR },
	{ "IDENTITY", "identity", PT_UINT },
	{ "VERSION", "version", PT_UINT },
	{ "INGRESS", "ingress", PT_STR },
	{ "EGRESS", "egress", PT_STR },
	{ "ENTRIES", "entries", PT_UINT },
	/* The kinds of entries the data plane looks up for the pod (XCNI_HAS_*). */
	{ NULL, "ingress_has", PT_STR },
	{ NULL, "egress_has", PT_STR },
};

struct polep_rec {
	__u32 ip; /* network order */
	struct xcni_polep pe;
	char pod[340]; /* "ns/name"; "" when the podname map does not know the address */
};

static int polep_ip_cmp(const void *a, const void *b)
{
	__u32 x = ntohl(((const struct polep_rec *)a)->ip), y = ntohl(((const struct polep_rec *)b)->ip);

	return (x > y) - (x < y);
}

/* By pod name; addresses without one last, by address. */
static int polep_pod_cmp(const void *a, const void *b)
{
	const struct polep_rec *x = a, *y = b;
	int d;

	if (!x->pod[0] != !y->pod[0])
		return x->pod[0] ? -1 : 1;
	d = strcmp(x->pod, y->pod);
	return d ? d : polep_ip_cmp(a, b);
}

/* "cidr,range": the XCNI_HAS_* bits of has, or NULL for none. */
static const char *polep_has(__u8 has, char *buf, size_t len)
{
	static const char *const names[] = { "cidr", "range", "any-port", "any-proto" };
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned int i = 0; i < 8; i++)
		if ((has & (1u << i)) && off < len)
			off += i < ARRAY_SIZE(names) ?
				       snprintf(buf + off, len - off, "%s%s", off ? "," : "", names[i]) :
				       snprintf(buf + off, len - off, "%s0x%x", off ? "," : "", 1u << i);
	return off ? buf : NULL;
}

/* policy list: the pods of this node some NetworkPolicy selects. */
static int cmd_policy_list(const struct ctx *c, char **argv)
{
	struct polep_rec *eps = NULL;
	struct pol_rec *recs = NULL;
	struct ptable *t;
	struct filter f;
	size_t n = 0, nr = 0, i, k, first;
	int fd = -1, rfd = -1, pfd = -1, err;
	char buf[INET_ADDRSTRLEN], has[64];

	(void)argv;
	err = filter_open(c, &f, 0);
	if (err)
		return err;
	fd = map_open(c, &m_polep);
	if (fd < 0) {
		err = fd;
		goto out;
	}
	err = map_collect(fd, &m_polep, sizeof(*eps), offsetof(struct polep_rec, ip),
			  offsetof(struct polep_rec, pe), (void **)&eps, &n);
	close(fd);
	fd = -1;
	if (err)
		goto out;
	/* ENTRIES: the rows policy get shows, counted from one walk of each map. */
	if ((fd = map_open(c, &m_policy)) < 0 || (rfd = map_open(c, &m_polrange)) < 0) {
		err = fd < 0 ? fd : rfd;
		goto out;
	}
	if ((err = policy_collect(fd, rfd, &recs, &nr)))
		goto out;
	pfd = map_open_quiet(c, &m_podname);
	n = sort_unique(eps, n, sizeof(*eps), polep_ip_cmp);
	for (i = k = 0; i < n; i++) {
		const struct xcni_polep *pe = &eps[i].pe;
		/* Identity 0: none assigned; the ipcache may know the address's. */
		struct frow r = { .addr = { eps[i].ip }, .plen = { 32 }, .naddr = 1,
				  .id = { pe->identity }, .nid = !!pe->identity };

		/* Isolated in neither direction: no policy selects the pod (any more). */
		if (!pe->isolated || !filter_match(&f, &r))
			continue;
		if (!pod_of_ip(pfd, eps[i].ip, eps[i].pod, sizeof(eps[i].pod)))
			eps[i].pod[0] = '\0';
		eps[k++] = eps[i];
	}
	qsort(eps, k, sizeof(*eps), polep_pod_cmp);
	t = pt_new(polep_cols, ARRAY_SIZE(polep_cols), 0);
	for (i = 0; i < k; i++) {
		const struct xcni_polep *pe = &eps[i].pe;

		if (eps[i].pod[0])
			pt_str(t, eps[i].pod);
		else
			pt_null(t);
		pt_str(t, ip_str(eps[i].ip, buf));
		pt_uint(t, pe->identity);
		pt_uint(t, pe->version);
		pt_str(t, pe->isolated & XCNI_ISOLATED(XCNI_DIR_TO_POD) ? "isolated" : "allow-all");
		pt_str(t, pe->isolated & XCNI_ISOLATED(XCNI_DIR_FROM_POD) ? "isolated" : "allow-all");
		pt_uint(t, pol_entries(recs, nr, eps[i].ip, pe->version, &first));
		pt_str(t, polep_has(pe->has[XCNI_DIR_TO_POD], has, sizeof(has)));
		pt_str(t, polep_has(pe->has[XCNI_DIR_FROM_POD], has, sizeof(has)));
	}
	err = show(c, t);
out:
	free(eps);
	free(recs);
	for (int *p = (int[]){ fd, rfd, pfd, -2 }; *p != -2; p++)
		if (*p >= 0)
			close(*p);
	filter_close(&f);
	return err;
}

/* ---- tunnel ---------------------------------------------------------- */

static const struct pt_col tunnel_cols[] = {
	{ "NODE", "node", PT_STR },
	{ "UNDERLAY-IP", "underlay_ip", PT_STR },
	{ "POD-CIDR", "pod_cidr", PT_STR },
	{ "TX-PACKETS", "tx_packets", PT_UINT },
	{ "TX-BYTES", "tx_bytes", PT_UINT },
	{ "RX-PACKETS", "rx_packets", PT_UINT },
	{ "RX-BYTES", "rx_bytes", PT_UINT },
};

struct tunnel_rec {
	__u32 ip; /* underlay address, network order */
	struct xcni_tunnel t;
};

static int tunnel_cmp(const void *a, const void *b)
{
	__u32 x = ntohl(((const struct tunnel_rec *)a)->ip);
	__u32 y = ntohl(((const struct tunnel_rec *)b)->ip);

	return (x > y) - (x < y);
}

/* tunnel list (get NULL), and tunnel get NODE: by name, underlay IP or an address of its pod CIDR. */
static int tunnel_show(const struct ctx *c, const char *get)
{
	struct tunnel_rec *recs = NULL;
	struct xcni_tunstat *vals = NULL;
	struct ptable *t = NULL;
	char buf[INET_ADDRSTRLEN];
	int fd, sfd = -1, ncpus, err;
	struct filter f;
	struct in_addr want;
	bool get_ip = get && inet_pton(AF_INET, get, &want) == 1;
	size_t n, i;

	/* A per-CPU lookup fills one value per possible CPU, each 8-byte aligned. */
	_Static_assert(sizeof(struct xcni_tunstat) % 8 == 0, "per-CPU values are 8-byte aligned");
	ncpus = libbpf_num_possible_cpus();
	if (ncpus < 0) {
		pr_err("possible CPUs: %s\n", strerror(-ncpus));
		return ncpus;
	}
	err = filter_open(c, &f, 0);
	if (err)
		return err;
	vals = calloc(ncpus, sizeof(*vals));
	if (!vals) {
		err = -ENOMEM;
		goto free;
	}
	fd = map_open(c, &m_tunnel);
	if (fd < 0) {
		err = fd;
		goto free;
	}
	sfd = map_open(c, &m_tunstat);
	if (sfd < 0) {
		err = sfd;
		goto close;
	}
	err = map_collect(fd, &m_tunnel, sizeof(*recs), offsetof(struct tunnel_rec, ip),
			  offsetof(struct tunnel_rec, t), (void **)&recs, &n);
	if (err)
		goto close;
	n = sort_unique(recs, n, sizeof(*recs), tunnel_cmp);
	t = pt_new(tunnel_cols, ARRAY_SIZE(tunnel_cols), get ? PT_RECORD : 0);
	for (i = 0; i < n; i++) {
		const struct xcni_tunnel *tn = &recs[i].t;
		struct xcni_tunstat sum = {};
		struct frow r = { .addr = { recs[i].ip, tn->pod_cidr },
				  .plen = { 32, tn->pod_cidr_len }, .naddr = tn->pod_cidr_len ? 2 : 1 };

		if (get && (get_ip ? !(want.s_addr == recs[i].ip ||
				       (tn->pod_cidr_len && in_prefix(want.s_addr, tn->pod_cidr,
								      tn->pod_cidr_len)))
				   : strncmp(get, tn->node, sizeof(tn->node)) != 0))
			continue;
		if (!filter_match(&f, &r))
			continue;
		if (get && pt_rows(t))
			break; /* one record */

		/* xcnid creates the counters with the tunnel; a node removed
		 * between the two reads just shows zeros. */
		if (bpf_map_lookup_elem(sfd, &recs[i].ip, vals) == 0) {
			for (int cpu = 0; cpu < ncpus; cpu++) {
				sum.tx_packets += vals[cpu].tx_packets;
				sum.tx_bytes += vals[cpu].tx_bytes;
				sum.rx_packets += vals[cpu].rx_packets;
				sum.rx_bytes += vals[cpu].rx_bytes;
			}
		} else if (errno != ENOENT) {
			err = -errno;
			pr_err("%s: lookup: %s\n", m_tunstat.name, strerror(-err));
			goto free_t;
		}
		if (tn->node[0])
			pt_strf(t, "%.*s", (int)strnlen(tn->node, sizeof(tn->node)), tn->node);
		else
			pt_null(t);
		pt_str(t, ip_str(recs[i].ip, buf));
		if (tn->pod_cidr_len)
			pt_strf(t, "%s/%u", ip_str(tn->pod_cidr, buf), tn->pod_cidr_len);
		else
			pt_null(t); /* a node without spec.podCIDR yet */
		pt_uint(t, sum.tx_packets);
		pt_uint(t, sum.tx_bytes);
		pt_uint(t, sum.rx_packets);
		pt_uint(t, sum.rx_bytes);
	}
	if (get && !pt_rows(t)) {
		pr_err("%s: no such node among those this node tunnels to\n", get);
		err = -ENOENT;
		goto free_t;
	}
	err = show(c, t);
	t = NULL;
free_t:
	pt_free(t);
close:
	free(recs);
	if (sfd >= 0)
		close(sfd);
	close(fd);
free:
	free(vals);
	filter_close(&f);
	return err;
}

static int cmd_tunnel_list(const struct ctx *c, char **argv)
{
	(void)argv;
	return tunnel_show(c, NULL);
}

static int cmd_tunnel_get(const struct ctx *c, char **argv)
{
	return tunnel_show(c, argv[0]);
}

/* ---- prefilter ------------------------------------------------------- */

/*
 * "A.B.C.D/LEN", or a bare address for /32, into a prefilter key. Host bits
 * are refused rather than cleared: "10.1.2.3/24" may mean the /32 as well as
 * the /24, and guessing wide on a deny list cuts off whole subnets. /0 is
 * refused too: it would drop everything the underlay receives, the other
 * nodes' Geneve included.
 */
static int parse_cidr(const char *s, struct xcni_prefilter_key *k)
{
	const char *sl = strchr(s, '/');
	size_t alen = sl ? (size_t)(sl - s) : strlen(s);
	char addr[INET_ADDRSTRLEN], net[INET_ADDRSTRLEN], *end;
	unsigned long len = 32;
	struct in_addr a;
	__u32 host;

	if (strchr(s, ':')) {
		pr_err("%s: IPv6 is not supported: the underlay prefilter is IPv4 only\n", s);
		return -EINVAL;
	}
	if (alen < sizeof(addr)) {
		memcpy(addr, s, alen);
		addr[alen] = '\0';
	}
	if (alen >= sizeof(addr) || inet_pton(AF_INET, addr, &a) != 1) {
		pr_err("%s: not an IPv4 prefix (A.B.C.D/LEN)\n", s);
		return -EINVAL;
	}
	if (sl) {
		len = strtoul(sl + 1, &end, 10);
		if (sl[1] < '0' || sl[1] > '9' || *end || len > 32) {
			pr_err("%s: bad prefix length \"%s\" (1 to 32)\n", s, sl + 1);
			return -EINVAL;
		}
	}
	if (!len) {
		pr_err("%s: a /0 would drop every packet the underlay receives, the other nodes' "
		       "Geneve included; refused\n", s);
		return -EINVAL;
	}
	host = ntohl(a.s_addr);
	if (host & ~xcni_prefix_mask(len)) {
		__u32 n = htonl(host & xcni_prefix_mask(len));

		pr_err("%s: host bits set: the /%lu network is %s/%lu (or give %s/32 for the one "
		       "address)\n", s, len, ip_str(n, net), len, addr);
		return -EINVAL;
	}
	k->prefixlen = len;
	k->addr = a.s_addr;
	return 0;
}

/* A prefix that covers another node's underlay address drops its tunnel too:
 * allowed (an operator may mean it), but said. */
static void prefilter_warn_nodes(const struct ctx *c, const struct xcni_prefilter_key *k,
				 const char *arg)
{
	__u32 key, next, *prev = NULL, mask = xcni_prefix_mask(k->prefixlen);
	struct xcni_tunnel tn;
	char buf[INET_ADDRSTRLEN];
	int fd = map_open_quiet(c, &m_tunnel);

	if (fd < 0)
		return;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if ((ntohl(key) & mask) != ntohl(k->addr) || bpf_map_lookup_elem(fd, &key, &tn))
			continue;
		pr_warn("%s covers node %.*s (%s): the Geneve traffic it sends this node is "
			"dropped too\n", arg, (int)strnlen(tn.node, sizeof(tn.node)), tn.node,
			ip_str(key, buf));
	}
	close(fd);
}

static int cmd_prefilter_add(const struct ctx *c, char **argv)
{
	struct xcni_prefilter_key k;
	struct xcni_prefilter_val v = {};
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int fd, fd16 = -1, fd24 = -1, err;

	err = parse_cidr(argv[0], &k);
	if (err)
		return err;
	fd = map_open(c, &m_prefilter);
	if (fd < 0)
		return fd;
	if ((fd16 = map_open(c, &m_pf16)) < 0 || (fd24 = map_open(c, &m_pf24)) < 0) {
		err = fd16 < 0 ? fd16 : fd24;
		goto close;
	}
	/* The marks first: the XDP program never finds the trie ahead of them. */
	err = xcni_prefilter_mark(fd16, fd24, &k, 1);
	if (err) {
		pr_err("%s: marking its networks in %s/%s: %s\n", argv[0], m_pf16.name,
		       m_pf24.name, strerror(-err));
		goto close;
	}
	/* NOEXIST: re-adding must not zero the counters of an entry. */
	if (bpf_map_update_elem(fd, &k, &v, BPF_NOEXIST)) {
		err = -errno;
		if (err == -EEXIST)
			pr_err("%s: already on the deny list\n", argv[0]);
		else if (err == -ENOSPC && !bpf_map_get_info_by_fd(fd, &info, &len))
			pr_err("%s: %s is full (%u entries); delete some, or build xcni with a "
			       "larger XCNI_MAX_PREFILTER\n", argv[0], m_prefilter.name,
			       info.max_entries);
		else
			pr_err("%s: adding to %s: %s\n", argv[0], m_prefilter.name, strerror(-err));
		xcni_prefilter_mark(fd16, fd24, &k, -1);
		goto close;
	}
	prefilter_warn_nodes(c, &k, argv[0]);
close:
	if (fd16 >= 0)
		close(fd16);
	if (fd24 >= 0)
		close(fd24);
	close(fd);
	return err;
}

static int cmd_prefilter_del(const struct ctx *c, char **argv)
{
	struct xcni_prefilter_key k;
	int fd, fd16 = -1, fd24 = -1, err;

	err = parse_cidr(argv[0], &k);
	if (err)
		return err;
	fd = map_open(c, &m_prefilter);
	if (fd < 0)
		return fd;
	if ((fd16 = map_open(c, &m_pf16)) < 0 || (fd24 = map_open(c, &m_pf24)) < 0) {
		err = fd16 < 0 ? fd16 : fd24;
		goto close;
	}
	/* An LPM trie deletes the exact prefix only: a /24 never takes its /25s. */
	if (bpf_map_delete_elem(fd, &k)) {
		err = -errno;
		if (err == -ENOENT)
			pr_err("%s: not on the deny list\n", argv[0]);
		else
			pr_err("%s: deleting from %s: %s\n", argv[0], m_prefilter.name,
			       strerror(-err));
		goto close;
	}
	/* The marks after the entry: a stale mark only costs a trie lookup. */
	err = xcni_prefilter_mark(fd16, fd24, &k, -1);
	if (err)
		pr_err("%s: unmarking its networks: %s\n", argv[0], strerror(-err));
close:
	if (fd16 >= 0)
		close(fd16);
	if (fd24 >= 0)
		close(fd24);
	close(fd);
	return err;
}

static const struct pt_col prefilter_cols[] = {
	{ "CIDR", "cidr", PT_STR },
	{ "PACKETS", "packets", PT_UINT },
	{ "BYTES", "bytes", PT_UINT },
};

struct prefilter_rec {
	struct xcni_prefilter_key k;
	struct xcni_prefilter_val v;
};

static int prefilter_cmp(const void *a, const void *b)
{
	return ipc_cmp(a, b); /* the same {prefixlen, addr} layout */
}

static int cmd_prefilter_list(const struct ctx *c, char **argv)
{
	struct prefilter_rec *recs = NULL;
	struct ptable *t;
	char buf[INET_ADDRSTRLEN];
	size_t n, i;
	int fd, err;

	(void)argv;
	_Static_assert(sizeof(struct xcni_prefilter_key) == sizeof(struct xcni_ipcache_key) &&
		       offsetof(struct xcni_prefilter_key, addr) ==
			       offsetof(struct xcni_ipcache_key, addr),
		       "prefilter keys sort like ipcache keys");
	fd = map_open(c, &m_prefilter);
	if (fd < 0)
		return fd;
	err = map_collect(fd, &m_prefilter, sizeof(*recs), offsetof(struct prefilter_rec, k),
			  offsetof(struct prefilter_rec, v), (void **)&recs, &n);
	close(fd);
	if (err)
		return err;
	n = sort_unique(recs, n, sizeof(*recs), prefilter_cmp);
	t = pt_new(prefilter_cols, ARRAY_SIZE(prefilter_cols), 0);
	for (i = 0; i < n; i++) {
		pt_strf(t, "%s/%u", ip_str(recs[i].k.addr, buf), recs[i].k.prefixlen);
		pt_uint(t, recs[i].v.packets);
		pt_uint(t, recs[i].v.bytes);
	}
	free(recs);
	return show(c, t);
}

/* ---- explain --------------------------------------------------------- */

/*
 * explain walks the lookups bpf/lib/policy.h makes for a new flow, in the
 * same order and with the same shortcuts, on the live maps: what it says is
 * what the programs would do with the flow's first packet now, not what the
 * manifests mean. Each side is decided by the node its pod lives on, with
 * that node's maps (--pin-dir for the source, --pin-dir-dst for the
 * destination).
 */

/* The maps of the node that decides one side. */
struct node_maps {
	const char *dir; /* the pin dir they are under */
	char node[64]; /* xcni_config.node_name; "" before xcnid wrote it */
	__u32 pod_cidr; /* this node's, network order */
	__u8 pod_cidr_len;
	int ipcache, podname, polep, policy, polrange, polcidr, polname, identity;
};

static void node_maps_close(struct node_maps *m)
{
	int *const fds[] = { &m->ipcache, &m->podname, &m->polep, &m->policy,
			     &m->polrange, &m->polcidr, &m->polname, &m->identity };

	for (size_t i = 0; i < ARRAY_SIZE(fds); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

static int node_maps_open(const struct ctx *c, const char *dir, struct node_maps *m)
{
	static const struct map_spec *const specs[] = { &m_ipcache, &m_podname, &m_polep,
							&m_policy, &m_polrange, &m_polcidr };
	int *const fds[] = { &m->ipcache, &m->podname, &m->polep,
			     &m->policy, &m->polrange, &m->polcidr };
	struct ctx at = *c;
	struct xcni_config cfg;
	__u32 zero = 0;
	int fd, err;

	at.pin_dir = dir;
	memset(m, 0, sizeof(*m));
	m->dir = dir;
	m->polname = m->identity = -1;
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		*fds[i] = -1;
	fd = map_open(&at, &m_config);
	if (fd < 0)
		return fd;
	err = bpf_map_lookup_elem(fd, &zero, &cfg) ? -errno : 0;
	close(fd);
	if (err) {
		pr_err("%s/%s: lookup: %s\n", dir, m_config.name, strerror(-err));
		return err;
	}
	snprintf(m->node, sizeof(m->node), "%.*s",
		 (int)strnlen(cfg.node_name, sizeof(cfg.node_name)), cfg.node_name);
	m->pod_cidr = cfg.pod_cidr;
	m->pod_cidr_len = cfg.pod_cidr_len;
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++) {
		*fds[i] = map_open(&at, specs[i]);
		if (*fds[i] < 0) {
			err = *fds[i];
			goto close;
		}
	}
	/* Names only: the verdict does not depend on them. */
	m->polname = map_open_quiet(&at, &m_polname);
	m->identity = map_open_quiet(&at, &m_identity);
	return 0;
close:
	node_maps_close(m);
	return err;
}

/* One end of the flow, as the source node's maps see it. */
struct flow_end {
	__u32 ip;
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

/* "80/TCP", "53/udp", "9/sctp", "icmp": what the first packet carries. */
static int parse_port_proto(const char *s, __u8 *proto, __u16 *port)
{
	static const struct { const char *name; __u8 proto; } protos[] = {
		{ "tcp", IPPROTO_TCP }, { "udp", IPPROTO_UDP }, { "sctp", IPPROTO_SCTP },
	};
	const char *sl = strchr(s, '/');
	unsigned long v;
	char *end;

	if (!strcasecmp(s, "icmp")) {
		*proto = IPPROTO_ICMP;
		*port = 0;
		return 0;
	}
	if (!sl || s[0] < '0' || s[0] > '9')
		goto bad;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end != sl || v < 1 || v > 65535)
		goto bad;
	for (size_t i = 0; i < ARRAY_SIZE(protos); i++)
		if (!strcasecmp(sl + 1, protos[i].name)) {
			*proto = protos[i].proto;
			*port = (__u16)v;
			return 0;
		}
bad:
	pr_err("PORT/PROTO \"%s\": expected PORT/tcp, PORT/udp or PORT/sctp with PORT "
	       "1 to 65535, or icmp\n", s);
	return -EINVAL;
}

/* Usage check (exit 2): the third argument is the only one with a syntax of its own. */
static int check_explain(char **argv)
{
	__u8 proto;
	__u16 port;

	return parse_port_proto(argv[2], &proto, &port);
}

/*
 * The node whose pod CIDR holds ip (this one, or one it tunnels to), into
 * node; false if none does.
 */
static bool pod_cidr_node(const struct ctx *c, const struct node_maps *m, __u32 ip, char *node,
			  size_t len)
{
	__u32 key, next, *prev = NULL;
	struct xcni_tunnel tn;
	struct ctx at = *c;
	bool found = false;
	int fd;

	if (m->pod_cidr_len && in_prefix(ip, m->pod_cidr, m->pod_cidr_len)) {
		snprintf(node, len, "%s", m->node);
		return true;
	}
	at.pin_dir = m->dir;
	fd = map_open_quiet(&at, &m_tunnel);
	if (fd < 0)
		return false;
	while (!found && bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &tn) == 0 && tn.pod_cidr_len &&
		    in_prefix(ip, tn.pod_cidr, tn.pod_cidr_len)) {
			snprintf(node, len, "%.*s", (int)strnlen(tn.node, sizeof(tn.node)), tn.node);
			found = true;
		}
	}
	close(fd);
	return found;
}

/*
 * SRC or DST: a pod by name or an address, which must be in the ipcache.
 * The ipcache's 0.0.0.0/0 makes every address "world", which is right for
 * the internet (ipBlock rules are about it) but not for an address in a pod
 * CIDR: no pod has it, the programs drop it (drop-unknown-dst), and it is
 * most likely a typo.
 */
static int flow_end_resolve(const struct ctx *c, const struct node_maps *m, const char *arg,
			    struct flow_end *e)
{
	struct xcni_ipcache_key k = { .prefixlen = 32 };
	struct xcni_podname pn;
	char buf[INET_ADDRSTRLEN];
	int err;

	err = resolve_pod(c, arg, &e->ip, NULL);
	if (err)
		return err;
	k.addr = e->ip;
	/* An LPM trie's lookup is longest-prefix, as in the programs. */
	if (bpf_map_lookup_elem(m->ipcache, &k, &e->ipc)) {
		err = -errno;
		if (err == -ENOENT)
			pr_err("%s: %s is not in the ipcache of node %s: xcni knows no such "
			       "address (the data plane would see it as reserved:world)\n", arg,
			       ip_str(e->ip, buf), m->node[0] ? m->node : c->pin_dir);
		else
			pr_err("%s: lookup: %s\n", m_ipcache.name, strerror(-err));
		return err;
	}
	if (e->ipc.identity == XCNI_ID_WORLD &&
	    pod_cidr_node(c, m, e->ip, e->node, sizeof(e->node))) {
		pr_err("%s: no pod has address %s (in the pod CIDR of node %s), and the ipcache "
		       "of node %s has no entry for it\n", arg, ip_str(e->ip, buf),
		       e->node[0] ? e->node : "?", m->node[0] ? m->node : c->pin_dir);
		return -ENOENT;
	}
	if (bpf_map_lookup_elem(m->podname, &e->ip, &pn) == 0) {
		e->is_pod = true;
		snprintf(e->pod, sizeof(e->pod), "%.*s/%.*s", (int)strnlen(pn.ns, sizeof(pn.ns)),
			 pn.ns, (int)strnlen(pn.name, sizeof(pn.name)), pn.name);
		snprintf(e->node, sizeof(e->node), "%.*s",
			 (int)strnlen(pn.node, sizeof(pn.node)), pn.node);
	} else {
		/* A pod address whose name has not reached this node yet. */
		e->is_pod = e->ipc.flags & XCNI_IPC_POD;
	}
	return 0;
}

enum side_why {
	WHY_SELF, /* a pod to itself: the packet never leaves it */
	WHY_NOT_POD, /* this end is no pod: no NetworkPolicy applies to it */
	WHY_REMOTE, /* the pod lives on a node whose maps were not given */
	WHY_DEFAULT, /* no policy selects the pod in this direction */
	WHY_HOST, /* the peer is the pod's own node: always allowed */
	WHY_RULE, /* an allow entry matched */
	WHY_ISOLATED, /* isolated, nothing allows */
};

static const char *const why_names[] = {
	[WHY_SELF] = "self", [WHY_NOT_POD] = "not-a-pod", [WHY_REMOTE] = "remote",
	[WHY_DEFAULT] = "default", [WHY_HOST] = "host", [WHY_RULE] = "rule",
	[WHY_ISOLATED] = "isolated",
};

/* What one side decided, and the lookups that decided it. */
struct side {
	const char *name; /* "egress", "ingress" */
	__u8 dir; /* XCNI_DIR_FROM_POD, XCNI_DIR_TO_POD */
	enum side_why why;
	char node[64]; /* the node that decides (WHY_REMOTE: where the pod is) */
	__u32 peer_id; /* the peer's identity in the deciding node's ipcache */
	struct xcni_policy_val hit; /* WHY_RULE */
	char policy[340];
	char match[1400]; /* WHY_RULE: the entry that matched, in words */
	char walk[1536]; /* the lookups, "; "-separated */
	size_t off;
};

static void walk_add(struct side *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void walk_add(struct side *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (s->off >= sizeof(s->walk))
		return; /* full: the verdict is still right, the trace cut short */
	if (s->off)
		s->off += snprintf(s->walk + s->off, sizeof(s->walk) - s->off, "; ");
	if (s->off >= sizeof(s->walk))
		return;
	va_start(ap, fmt);
	n = vsnprintf(s->walk + s->off, sizeof(s->walk) - s->off, fmt, ap);
	va_end(ap);
	s->off += n > 0 ? (size_t)n : 0;
}

/* "tcp/80", "tcp/any", "any": the protocol and port a lookup key asks for. */
static const char *key_pp(__u8 proto, __u16 port_be, char *buf, size_t len)
{
	const char *pn = proto_name(proto);
	char num[8];

	if (!proto)
		return "any protocol";
	if (!pn) {
		snprintf(num, sizeof(num), "%u", proto);
		pn = num;
	}
	if (port_be)
		snprintf(buf, len, "%s/%u", pn, ntohs(port_be));
	else
		snprintf(buf, len, "%s/any", pn);
	return buf;
}

/* "policy[peer 123 tcp/80] miss": one lookup of an allow entry. */
static void walk_policy(struct side *s, const char *map, __u32 peer, __u8 proto, __u16 port_be,
			int hit)
{
	char pp[24];

	if (peer == XCNI_ID_ANY)
		walk_add(s, "%s[any peer, %s] %s", map, key_pp(proto, port_be, pp, sizeof(pp)),
			 hit > 0 ? "hit" : "miss");
	else
		walk_add(s, "%s[%s %u, %s] %s", map, peer >= XCNI_ID_CIDR_BASE ? "group" : "peer",
			 peer, key_pp(proto, port_be, pp, sizeof(pp)), hit > 0 ? "hit" : "miss");
}

/* A lookup the programs make: 1 hit, 0 miss, -errno (said). */
static int lookup_step(int fd, const char *map, const void *key, void *val)
{
	if (bpf_map_lookup_elem(fd, key, val) == 0)
		return 1;
	if (errno == ENOENT)
		return 0;
	pr_err("%s: lookup: %s\n", map, strerror(errno));
	return -errno;
}

/*
 * peer_lookup() of bpf/lib/policy.h: exact port, any port of the protocol,
 * anything, then port ranges, skipping kinds the pod has none of. *how says
 * which one hit. 1, 0 or -errno.
 */
static int explain_peer(const struct node_maps *m, struct side *s, struct xcni_polhash_key *k,
			__u32 peer, __u8 has, const char **how)
{
	struct xcni_policy_key rk = {};
	__u8 proto = k->proto;
	__u16 port = k->port;
	int hit;

	k->peer = peer;
	hit = lookup_step(m->policy, m_policy.name, k, &s->hit);
	walk_policy(s, "policy", peer, k->proto, k->port, hit);
	*how = k->port ? "port" : "protocol"; /* no port: ICMP's entry for the protocol */
	if (!hit && port && (has & XCNI_HAS_ANY_PORT)) {
		k->port = 0;
		hit = lookup_step(m->policy, m_policy.name, k, &s->hit);
		walk_policy(s, "policy", peer, k->proto, 0, hit);
		k->port = port;
		*how = "any port";
	}
	if (!hit && (has & XCNI_HAS_ANY_PROTO)) {
		k->proto = 0;
		k->port = 0;
		hit = lookup_step(m->policy, m_policy.name, k, &s->hit);
		walk_policy(s, "policy", peer, 0, 0, hit);
		k->proto = proto;
		k->port = port;
		*how = "any protocol";
	}
	if (!hit && port && (has & XCNI_HAS_RANGE)) {
		rk.prefixlen = XCNI_POLICY_PREFIX_FULL;
		rk.ep = k->ep;
		rk.peer = peer;
		rk.version = k->version;
		rk.dir = k->dir;
		rk.proto = proto;
		rk.port = port;
		hit = lookup_step(m->polrange, m_polrange.name, &rk, &s->hit);
		walk_policy(s, "polrange", peer, proto, port, hit);
		*how = "port range";
	}
	return hit;
}

/* The longest ipBlock prefix of the pod's live version holding ip, for people. */
static bool polcidr_prefix(int fd, const struct xcni_polcidr_key *want, char *buf, size_t len)
{
	struct xcni_polcidr_key k, next, *prev = NULL;
	char a[INET_ADDRSTRLEN];
	int best = -1;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		int plen = (int)next.prefixlen - XCNI_POLCIDR_PREFIX_BASE;

		k = next;
		prev = &k;
		if (k.ep != want->ep || k.version != want->version || k.dir != want->dir ||
		    plen < 0 || plen > 32 || plen <= best ||
		    ((ntohl(k.addr) ^ ntohl(want->addr)) & xcni_prefix_mask(plen)))
			continue;
		best = plen;
		snprintf(buf, len, "%s/%d", ip_str(k.addr, a), plen);
	}
	return best >= 0;
}

/* The peer of a matched entry in words: any, a reserved name, labels, or an ipBlock. */
static void peer_words(const struct node_maps *m, __u32 peer, const char *cidr, char *buf,
		       size_t len)
{
	struct xcni_idlabels l;

	if (peer == XCNI_ID_ANY)
		snprintf(buf, len, "any peer");
	else if (peer >= XCNI_ID_CIDR_BASE)
		snprintf(buf, len, "ipBlock %s (group %u)", cidr, peer);
	else if (reserved_identity(peer))
		snprintf(buf, len, "%s", reserved_identity(peer));
	else if (m->identity >= 0 && bpf_map_lookup_elem(m->identity, &peer, &l) == 0)
		snprintf(buf, len, "%.*s (identity %u)", (int)strnlen(l.labels, sizeof(l.labels)),
			 l.labels, peer);
	else
		snprintf(buf, len, "identity %u", peer);
}

/*
 * One side of the flow: the policy of pod (egress: the source, ingress: the
 * destination) towards or from peer, as policy_allows() takes it, on the
 * maps of the node the pod lives on. 0 or -errno; the answer is in *s.
 */
static int explain_side(const struct node_maps *m, struct side *s, const struct flow *f,
			const struct flow_end *pod, const struct flow_end *peer)
{
	struct xcni_ipcache_key ik = { .prefixlen = 32, .addr = pod->ip };
	struct xcni_ipcache_val pv;
	struct xcni_podname pn;
	struct xcni_polep pe;
	struct xcni_polhash_key k = {};
	struct xcni_polcidr_key ck = {};
	char cidr[32] = "", peer_s[1200], pp[24], a[INET_ADDRSTRLEN];
	const char *how = NULL;
	__u32 group = 0;
	int hit, err;
	__u8 has;

	snprintf(s->node, sizeof(s->node), "%s", m->node);
	if (pod->ip == peer->ip && pod->is_pod) {
		s->why = WHY_SELF;
		return 0;
	}
	if (!pod->is_pod) {
		s->why = WHY_NOT_POD;
		return 0;
	}
	/* On another node: its ipcache entry names a tunnel, or its Pod object
	 * names another node (without an overlay there is no tunnel to see). */
	err = lookup_step(m->ipcache, m_ipcache.name, &ik, &pv);
	if (err < 0)
		return err;
	if (lookup_step(m->podname, m_podname.name, &pod->ip, &pn) > 0 && pn.node[0] &&
	    m->node[0] && strncmp(pn.node, m->node, sizeof(pn.node))) {
		s->why = WHY_REMOTE;
		snprintf(s->node, sizeof(s->node), "%.*s", (int)strnlen(pn.node, sizeof(pn.node)),
			 pn.node);
		return 0;
	}
	if (err > 0 && pv.tunnel_ip) {
		s->why = WHY_REMOTE;
		snprintf(s->node, sizeof(s->node), "%s", pod->node[0] ? pod->node :
			 ip_str(pv.tunnel_ip, a));
		return 0;
	}
	/* The peer's identity as this node's programs see it. */
	ik.addr = peer->ip;
	err = lookup_step(m->ipcache, m_ipcache.name, &ik, &pv);
	if (err < 0)
		return err;
	s->peer_id = err ? pv.identity : XCNI_ID_WORLD;
	walk_add(s, "ipcache[%s] %s %u", ip_str(peer->ip, a), err ? "identity" : "miss: world",
		 s->peer_id);
	err = lookup_step(m->polep, m_polep.name, &pod->ip, &pe);
	if (err < 0)
		return err;
	if (!err || !(pe.isolated & XCNI_ISOLATED(s->dir))) {
		walk_add(s, "polep[%s] %s%s", ip_str(pod->ip, a),
			 err ? "not isolated for " : "none", err ? s->name : "");
		s->why = WHY_DEFAULT;
		return 0;
	}
	has = pe.has[s->dir & 1];
	walk_add(s, "polep[%s] isolated for %s, version %u, entries: exact%s%s%s%s",
		 ip_str(pod->ip, a), s->name, pe.version,
		 has & XCNI_HAS_ANY_PORT ? ", any-port" : "",
		 has & XCNI_HAS_ANY_PROTO ? ", any-proto" : "", has & XCNI_HAS_RANGE ? ", range" : "",
		 has & XCNI_HAS_CIDR ? ", cidr" : "");
	/* The pod's own node may always reach it and be reached (kubelet probes). */
	if (s->peer_id == XCNI_ID_HOST) {
		s->why = WHY_HOST;
		return 0;
	}
	k.ep = pod->ip;
	k.version = pe.version;
	k.dir = s->dir;
	k.proto = f->proto;
	/* Port 0 means "any" in the map; no port-carrying packet has port 0 to match it. */
	if (f->proto == IPPROTO_TCP || f->proto == IPPROTO_UDP || f->proto == IPPROTO_SCTP)
		k.port = htons(f->port);
	hit = explain_peer(m, s, &k, s->peer_id, has, &how);
	if (!hit && (has & XCNI_HAS_CIDR)) {
		ck.prefixlen = XCNI_POLCIDR_PREFIX_BASE + 32;
		ck.ep = pod->ip;
		ck.version = pe.version;
		ck.dir = s->dir;
		ck.addr = peer->ip;
		hit = lookup_step(m->polcidr, m_polcidr.name, &ck, &group);
		if (hit > 0) {
			polcidr_prefix(m->polcidr, &ck, cidr, sizeof(cidr));
			walk_add(s, "polcidr[%s] group %u (%s)", ip_str(peer->ip, a), group,
				 cidr[0] ? cidr : "?");
			hit = explain_peer(m, s, &k, group, has, &how);
		} else if (!hit) {
			walk_add(s, "polcidr[%s] miss", ip_str(peer->ip, a));
		}
	}
	if (!hit)
		hit = explain_peer(m, s, &k, XCNI_ID_ANY, has, &how);
	if (hit < 0)
		return hit;
	if (!hit) {
		s->why = WHY_ISOLATED;
		return 0;
	}
	s->why = WHY_RULE;
	policy_name(m->polname, s->hit.policy_id, s->policy, sizeof(s->policy));
	peer_words(m, k.peer, cidr, peer_s, sizeof(peer_s));
	if (!strcmp(how, "any protocol"))
		snprintf(s->match, sizeof(s->match), "%s, any protocol and port", peer_s);
	else if (!strcmp(how, "any port"))
		snprintf(s->match, sizeof(s->match), "%s, any port of %s", peer_s,
			 proto_name(f->proto) ?: "the protocol");
	else
		snprintf(s->match, sizeof(s->match), "%s, %s%s", peer_s,
			 !strcmp(how, "port range") ? "a port range holding " : "",
			 key_pp(f->proto, k.port, pp, sizeof(pp)));
	return 0;
}

static bool side_decided(const struct side *s)
{
	return s->why != WHY_REMOTE;
}

static bool side_allows(const struct side *s)
{
	return s->why != WHY_ISOLATED && s->why != WHY_REMOTE;
}

/* The sentence for one side: "allow: ..." or "deny: ...". */
static void side_text(struct ptable *t, const struct side *s, const struct flow_end *pod,
		      const char *flag)
{
	char a[INET_ADDRSTRLEN];
	const char *who = pod->pod[0] ? pod->pod : ip_str(pod->ip, a);

	switch (s->why) {
	case WHY_SELF:
		pt_strf(t, "allow: a pod's traffic to itself never leaves it");
		break;
	case WHY_NOT_POD:
		pt_strf(t, "allow: %s is no pod (%s): no NetworkPolicy applies", who,
			reserved_identity(pod->ipc.identity) ?: "not a pod address");
		break;
	case WHY_REMOTE:
		pt_strf(t, "not decided here: %s lives on node %s, whose %s policy decides "
			   "(give its pin dir with %s)", who, s->node, s->name, flag);
		break;
	case WHY_DEFAULT:
		pt_strf(t, "allow: no policy selects %s for %s: allowed by default (node %s)", who,
			s->name, s->node);
		break;
	case WHY_HOST:
		pt_strf(t, "allow: the peer is %s's own node (reserved:host), always allowed "
			   "(node %s)", who, s->node);
		break;
	case WHY_RULE:
		pt_strf(t, "allow: %s rule %u, by its entry for %s (node %s)", s->policy,
			s->hit.rule, s->match, s->node);
		break;
	case WHY_ISOLATED:
		pt_strf(t, "deny: %s is isolated for %s, nothing allows (node %s)", who, s->name,
			s->node);
		break;
	}
}

static void side_row(struct ptable *t, const struct side *s, const struct flow_end *pod,
		     const char *flag)
{
	side_text(t, s, pod, flag);
	if (side_decided(s))
		pt_str(t, side_allows(s) ? "allow" : "deny");
	else
		pt_null(t);
	pt_str(t, why_names[s->why]);
	pt_str(t, s->node[0] ? s->node : NULL);
	if (s->why == WHY_RULE) {
		pt_str(t, s->policy);
		pt_uint(t, s->hit.rule);
		pt_str(t, s->match);
	} else {
		pt_null(t);
		pt_null(t);
		pt_null(t);
	}
	pt_str(t, s->off ? s->walk : NULL);
}

#define EXPLAIN_SIDE_COLS(T, k)                                                       \
	{ T, NULL, PT_STR }, { NULL, k, PT_STR }, { NULL, k "_reason", PT_STR },         \
	{ NULL, k "_node", PT_STR }, { NULL, k "_policy", PT_STR },                      \
	{ NULL, k "_rule", PT_UINT }, { NULL, k "_match", PT_STR },                      \
	{ T "-LOOKUPS", k "_lookups", PT_STR }

static const struct pt_col explain_cols[] = {
	{ "SRC", NULL, PT_STR },
	{ NULL, "src", PT_STR },
	{ NULL, "src_ip", PT_STR },
	{ NULL, "src_identity", PT_UINT },
	{ NULL, "src_node", PT_STR },
	{ "DST", NULL, PT_STR },
	{ NULL, "dst", PT_STR },
	{ NULL, "dst_ip", PT_STR },
	{ NULL, "dst_identity", PT_UINT },
	{ NULL, "dst_node", PT_STR },
	{ "PROTO", "proto", PT_STR },
	{ "PORT", "port", PT_UINT },
	EXPLAIN_SIDE_COLS("EGRESS", "egress"),
	EXPLAIN_SIDE_COLS("INGRESS", "ingress"),
	{ "VERDICT", NULL, PT_STR },
	{ NULL, "verdict", PT_STR },
};

static void end_row(struct ptable *t, const struct flow_end *e)
{
	char a[INET_ADDRSTRLEN];
	const char *id = reserved_identity(e->ipc.identity);

	ip_str(e->ip, a);
	if (e->pod[0])
		pt_strf(t, "%s %s, identity %u, node %s", e->pod, a, e->ipc.identity,
			e->node[0] ? e->node : "?");
	else
		pt_strf(t, "%s, identity %u%s%s", a, e->ipc.identity, id ? " " : "", id ?: "");
	pt_str(t, e->pod[0] ? e->pod : NULL);
	pt_str(t, a);
	pt_uint(t, e->ipc.identity);
	pt_str(t, e->node[0] ? e->node : NULL);
}

static int cmd_explain(const struct ctx *c, char **argv)
{
	const char *dst_dir = c->opts & OPT_PIN_DIR_DST ? c->pin_dir_dst : c->pin_dir;
	struct side eg = { .name = "egress", .dir = XCNI_DIR_FROM_POD };
	struct side in = { .name = "ingress", .dir = XCNI_DIR_TO_POD };
	struct node_maps sm, dm;
	struct flow f = {};
	struct ptable *t;
	bool eg_deny, in_deny;
	const char *pn;
	int err;

	err = parse_port_proto(argv[2], &f.proto, &f.port);
	if (err)
		return err;
	err = node_maps_open(c, c->pin_dir, &sm);
	if (err)
		return err;
	err = node_maps_open(c, dst_dir, &dm);
	if (err)
		goto close_sm;
	if ((err = flow_end_resolve(c, &sm, argv[0], &f.src)) ||
	    (err = flow_end_resolve(c, &sm, argv[1], &f.dst)))
		goto close;
	if ((err = explain_side(&sm, &eg, &f, &f.src, &f.dst)) ||
	    (err = explain_side(&dm, &in, &f, &f.dst, &f.src)))
		goto close;
	t = pt_new(explain_cols, ARRAY_SIZE(explain_cols), PT_RECORD);
	end_row(t, &f.src);
	end_row(t, &f.dst);
	if ((pn = proto_name(f.proto)))
		pt_str(t, pn);
	else
		pt_strf(t, "%u", f.proto);
	if (f.port)
		pt_uint(t, f.port);
	else
		pt_null(t);
	side_row(t, &eg, &f.src, "--pin-dir");
	side_row(t, &in, &f.dst, "--pin-dir-dst");
	eg_deny = side_decided(&eg) && !side_allows(&eg);
	in_deny = side_decided(&in) && !side_allows(&in);
	/* Both ends must allow; one that denies decides even if the other is unknown. */
	if (eg_deny || in_deny) {
		pt_strf(t, "denied: %s", eg_deny && in_deny ? "by egress at the source and ingress "
							      "at the destination" :
					 eg_deny ? "by egress at the source" :
						   "by ingress at the destination");
		pt_str(t, "denied");
	} else if (!side_decided(&eg) || !side_decided(&in)) {
		pt_strf(t, "unknown: the %s side is decided on node %s",
			side_decided(&eg) ? "ingress" : "egress",
			side_decided(&eg) ? in.node : eg.node);
		pt_str(t, "unknown");
	} else {
		pt_str(t, eg.why == WHY_SELF ? "allowed: a pod reaches itself" :
			  "allowed: both sides allow; the flow's replies pass via conntrack");
		pt_str(t, "allowed");
	}
	err = show(c, t);
close:
	node_maps_close(&dm);
close_sm:
	node_maps_close(&sm);
	return err;
}

/* ---- config ---------------------------------------------------------- */

static const struct pt_col config_cols[] = {
	{ "ABI-VERSION", "abi_version", PT_UINT },
	{ "FLAGS", "flags", PT_HEX },
	{ "NODE-NAME", "node_name", PT_STR },
	{ "POD-CIDR", "pod_cidr", PT_STR },
	{ "STARTED-NS", "started_ns", PT_UINT },
	{ "UPTIME", "uptime_s", PT_UINT },
	{ "APPLIED-GEN", "applied_gen", PT_UINT },
	{ "FAILED-GEN", "failed_gen", PT_UINT },
	{ "ERROR", "error", PT_STR },
	{ "IDENTITIES", "identities", PT_UINT },
	{ "POLICIES", "policies", PT_UINT },
	{ "POLICY-PODS", "policy_pods", PT_UINT },
	{ "NODE-IP", "node_ip", PT_STR },
	{ "UNDERLAY-IFINDEX", "underlay_ifindex", PT_UINT },
	{ "UNDERLAY-DEV", "underlay_dev", PT_STR },
	{ "VNI", "vni", PT_UINT },
	{ "UNDERLAY-MTU", "underlay_mtu", PT_UINT },
	{ "POD-MTU", "pod_mtu", PT_UINT },
	{ "XDP-MODE", "xdp_mode", PT_STR },
	{ "TRACE-SAMPLE", "trace_sample", PT_UINT },
	{ "EVENTS-RATE", "events_rate", PT_UINT },
	{ "SERVICE-CIDR", "service_cidr", PT_STR },
	/* xcni_polrev: one more after each policy change xcnid applied. */
	{ "POLICY-REV", "policy_rev", PT_UINT },
};

/* How xcnid attached the prefilter: the XDP_FLAGS_* mode it wrote. */
static const char *xdp_mode_name(__u32 mode)
{
	switch (mode) {
	case 0:
		return "none";
	case XDP_FLAGS_DRV_MODE:
		return "native";
	case XDP_FLAGS_SKB_MODE:
		return "generic";
	case XDP_FLAGS_HW_MODE:
		return "offload";
	}
	return NULL;
}

static int cmd_config(const struct ctx *c, char **argv)
{
	struct xcni_config cfg;
	struct ptable *t;
	char buf[INET_ADDRSTRLEN];
	__u32 zero = 0, rev = 0;
	int fd, rfd, err;

	(void)argv;
	fd = map_open(c, &m_config);
	if (fd < 0)
		return fd;
	if (bpf_map_lookup_elem(fd, &zero, &cfg)) {
		err = -errno;
		pr_err("%s: lookup: %s\n", m_config.name, strerror(-err));
		goto close;
	}
	if (cfg.abi_version != XCNI_ABI_VERSION)
		pr_warn("%s: written by ABI version %u, xcnictl speaks %u%s\n", m_config.name,
			cfg.abi_version, XCNI_ABI_VERSION,
			cfg.abi_version ? "" : " (xcnid has not written it yet?)");
	t = pt_new(config_cols, ARRAY_SIZE(config_cols), PT_RECORD);
	pt_uint(t, cfg.abi_version);
	pt_uint(t, cfg.flags);
	pt_strf(t, "%.*s", (int)strnlen(cfg.node_name, sizeof(cfg.node_name)), cfg.node_name);
	pt_strf(t, "%s/%u", ip_str(cfg.pod_cidr, buf), cfg.pod_cidr_len);
	if (cfg.started_ns) {
		pt_uint(t, cfg.started_ns);
		pt_uint(t, secs_since(now_ns(), cfg.started_ns));
	} else {
		pt_null(t);
		pt_null(t);
	}
	pt_uint(t, cfg.applied_gen);
	pt_uint(t, cfg.failed_gen);
	if (cfg.error[0])
		pt_strf(t, "%.*s", (int)strnlen(cfg.error, sizeof(cfg.error)), cfg.error);
	else
		pt_null(t);
	pt_uint(t, cfg.nr_identities);
	pt_uint(t, cfg.nr_policies);
	pt_uint(t, cfg.nr_endpoints_policy);
	/* No overlay (no --underlay-dev): no address and no device, not "0.0.0.0". */
	if (cfg.node_ip)
		pt_str(t, ip_str(cfg.node_ip, buf));
	else
		pt_null(t);
	if (cfg.underlay_ifindex) {
		char ifname[IF_NAMESIZE];

		pt_uint(t, cfg.underlay_ifindex);
		/* Only resolvable from xcnid's network namespace. */
		pt_str(t, if_indextoname(cfg.underlay_ifindex, ifname));
	} else {
		pt_null(t);
		pt_null(t);
	}
	pt_uint(t, cfg.vni);
	pt_uint(t, cfg.underlay_mtu);
	pt_uint(t, cfg.pod_mtu);
	if (xdp_mode_name(cfg.xdp_mode))
		pt_str(t, xdp_mode_name(cfg.xdp_mode));
	else
		pt_strf(t, "0x%x", cfg.xdp_mode);
	pt_uint(t, cfg.trace_sample);
	pt_uint(t, cfg.events_rate);
	if (cfg.svc_cidr_len)
		pt_strf(t, "%s/%u", ip_str(cfg.svc_cidr, buf), cfg.svc_cidr_len);
	else
		pt_null(t);
	rfd = map_open_quiet(c, &m_polrev);
	if (rfd >= 0 && !bpf_map_lookup_elem(rfd, &zero, &rev))
		pt_uint(t, rev);
	else
		pt_null(t);
	if (rfd >= 0)
		close(rfd);
	err = show(c, t);
close:
	close(fd);
	return err;
}

/* The settings `config set` may change: the ones the programs read per packet. */
static const struct config_key {
	const char *name;
	size_t off; /* of a __u32 in struct xcni_config */
} config_keys[] = {
	{ "trace-sample", offsetof(struct xcni_config, trace_sample) },
	{ "events-rate", offsetof(struct xcni_config, events_rate) },
};

static const struct config_key *config_key(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(config_keys); i++)
		if (!strcmp(name, config_keys[i].name))
			return &config_keys[i];
	return NULL;
}

/* Usage check (exit 2): a known key and a number that fits. */
static int check_config_set(char **argv)
{
	unsigned long v;
	char *end;

	if (!config_key(argv[0])) {
		pr_err("config set %s: no such setting (trace-sample, events-rate)\n", argv[0]);
		return -EINVAL;
	}
	errno = 0;
	v = strtoul(argv[1], &end, 10);
	if (argv[1][0] < '0' || argv[1][0] > '9' || *end || errno || v > UINT32_MAX) {
		pr_err("config set %s %s: not a number (0 to %u)\n", argv[0], argv[1], UINT32_MAX);
		return -EINVAL;
	}
	return 0;
}

/*
 * Changes one setting in place. xcnid rewrites the config only at start (from
 * its options) and when it records a generation, where it keeps these fields:
 * the new value holds until xcnid restarts. Both rewrite the whole value, each
 * under the pin directory's lock, so neither loses what the other wrote.
 */
static int cmd_config_set(const struct ctx *c, char **argv)
{
	const struct config_key *k = config_key(argv[0]);
	struct xcni_config cfg;
	__u32 zero = 0, v = (__u32)strtoul(argv[1], NULL, 10);
	int fd, err = 0, lock;

	fd = map_open(c, &m_config);
	if (fd < 0)
		return fd;
	lock = xcni_config_lock(c->pin_dir);
	if (lock < 0) {
		err = lock;
		pr_err("%s: locking it for the change: %s\n", c->pin_dir, strerror(-err));
		goto close;
	}
	if (bpf_map_lookup_elem(fd, &zero, &cfg)) {
		err = -errno;
		pr_err("%s: lookup: %s\n", m_config.name, strerror(-err));
		goto close;
	}
	if (cfg.abi_version != XCNI_ABI_VERSION) {
		pr_err("%s: written by ABI version %u, xcnictl speaks %u: not changing it\n",
		       m_config.name, cfg.abi_version, XCNI_ABI_VERSION);
		err = -EPROTO;
		goto close;
	}
	memcpy((char *)&cfg + k->off, &v, sizeof(v));
	if (bpf_map_update_elem(fd, &zero, &cfg, BPF_EXIST)) {
		err = -errno;
		pr_err("%s: update: %s\n", m_config.name, strerror(-err));
	}
close:
	if (lock >= 0)
		close(lock);
	close(fd);
	return err;
}

/* ---- command line ---------------------------------------------------- */

static const struct cmd {
	const char *name;
	const char *sub; /* NULL: the command has no subcommands */
	int (*fn)(const struct ctx *c, char **argv);
	unsigned int nargs; /* positional arguments, handed over as argv */
	unsigned int opts; /* OPT_* it takes */
	const char *args; /* for the usage line */
	const char *help;
	/* Optional: a syntax check of the arguments, run first; failing is a
	 * usage error (exit 2), not a failed lookup (exit 1). */
	int (*check)(char **argv);
} cmds[] = {
	{ "endpoint", "list", cmd_endpoint_list, 0, OPT_FILTERS, "[filters]",
	  "List the endpoints (pods) of this node.\n\n"
	  "Sorted by IP. IFNAME is \"-\" when the host-side veth no longer exists.\n"
	  "IDENTITY 0: policy has not assigned one (--identity then asks the ipcache).\n\n"
	  HELP_FILTERS, NULL },
	{ "endpoint", "get", cmd_endpoint_get, 1, 0, "IP", "Show the endpoint with address IP.", NULL },
	{ "ct", "list", cmd_ct_list, 0, OPT_FILTERS, "[filters]",
	  "List tracked connections.\n\n"
	  "SRC and DST are those of the flow's first packet; for ICMP echo the port\n"
	  "is the echo id. AGE and IDLE are in seconds. A flow is about its two\n"
	  "addresses (--identity: their identities in the ipcache).\n\n"
	  HELP_FILTERS, NULL },
	{ "ct", "get", cmd_ct_get, 3, 0, "PROTO SRC DST",
	  "Show the tracked connection of one flow, looked up in either direction.\n\n"
	  "PROTO is tcp, udp, sctp, icmp or a protocol number. SRC and DST are written\n"
	  "as ct list shows them: ADDRESS:PORT for tcp, udp and sctp; ADDRESS:id=ID for\n"
	  "ICMP echo (the id may be given on one end only); a bare ADDRESS for other\n"
	  "protocols. The flow whose first packet went from SRC to DST is shown, or\n"
	  "else the one it is the reply of (the tuple of a reply finds its flow, as\n"
	  "the data plane finds it). The columns are those of ct list; SRC and DST\n"
	  "are the flow's, and MATCHED says which direction the tuple was: original or\n"
	  "reply. An entry past its lifetime is still shown, as in ct list.\n\n"
	  "Exit 1 when no such flow is tracked, 2 for a malformed PROTO, SRC or DST.",
	  check_ct_get },
	{ "metrics", "list", cmd_metrics, 0, OPT_ALL, "[--all]",
	  "Count packets by verdict reason and direction (the same as metrics).", NULL },
	{ "metrics", "get", cmd_metrics_get, 1, 0, "REASON",
	  "Show one reason's packets and bytes, in every direction (zeros too).\n\n"
	  "REASON is a name metrics --all lists (fwd-local, drop-policy-ingress, ...).\n"
	  "Exit 2 for a name that is no reason.",
	  check_metrics_get },
	{ "metrics", NULL, cmd_metrics, 0, OPT_ALL, "[--all]",
	  "Count packets by verdict reason and direction.\n\n"
	  "Packets and bytes summed over all CPUs; only non-zero rows by default.\n"
	  "After the reasons, events-lost-rate-limit and events-lost-ring-full count\n"
	  "the events (drops, verdicts, traces) the data plane could not report:\n"
	  "over the per-CPU budget (events-rate), or with the ring full because its\n"
	  "reader lags. Non-zero means monitor showed less than happened.\n"
	  "Rows are reasons, not pods: no filters.\n\n"
	  "  --all     also the rows nothing has been counted for", NULL },
	{ "config", "set", cmd_config_set, 2, 0, "KEY VALUE",
	  "Change a data-plane setting of this node, live.\n\n"
	  "  trace-sample N   trace one forwarded packet in N on the event ring (see\n"
	  "                   monitor --type trace); 0 turns traces off (the default).\n"
	  "                   1 traces every packet: a cost on every forwarded packet\n"
	  "  events-rate N    at most N events (drops, verdicts, traces) per CPU per\n"
	  "                   second; the rest are counted lost (see metrics). 0: no\n"
	  "                   limit\n\n"
	  "The programs read the setting with the next packet. It holds until xcnid\n"
	  "restarts, which sets both from its options (--trace-sample, --events-rate).",
	  check_config_set },
	{ "config", NULL, cmd_config, 0, 0, "",
	  "Show the node configuration xcnid wrote.\n\n"
	  "The overlay fields (NODE-IP .. XDP-MODE) are empty or 0 when xcnid runs\n"
	  "without --underlay-dev. UNDERLAY-DEV is \"-\" outside xcnid's network\n"
	  "namespace. XDP-MODE is how the prefilter is attached: native (driver),\n"
	  "generic (skb) or none. TRACE-SAMPLE and EVENTS-RATE are the event settings\n"
	  "(see config set).", NULL },
	{ "tunnel", "list", cmd_tunnel_list, 0, OPT_IP | OPT_POD, "[--ip IP] [--pod POD]",
	  "List the other nodes this node tunnels to (Geneve), with their traffic.\n\n"
	  "Sorted by underlay IP. TX counts what this node encapsulated to the node,\n"
	  "RX what it decapsulated from it, summed over CPUs. Bytes include the outer\n"
	  "headers; a GSO/GRO batch counts as one packet. A node is about its\n"
	  "underlay address and its pod CIDR: --pod finds the node a pod lives on.\n\n"
	  HELP_IP HELP_POD, NULL },
	{ "tunnel", "get", cmd_tunnel_get, 1, 0, "NODE",
	  "Show one node this node tunnels to.\n\n"
	  "NODE is its name, its underlay IP, or an address of its pod CIDR.", NULL },
	{ "prefilter", "list", cmd_prefilter_list, 0, 0, "",
	  "List the underlay's prefilter deny list, with what each entry dropped.\n\n"
	  "Packets from a listed source are dropped in XDP on the underlay device,\n"
	  "before the stack sees them. PACKETS and BYTES count per entry (the longest\n"
	  "matching prefix).", NULL },
	{ "prefilter", "add", cmd_prefilter_add, 1, 0, "CIDR",
	  "Add a source prefix to the underlay's deny list.\n\n"
	  "CIDR is A.B.C.D/LEN (LEN 1 to 32) or A.B.C.D (a /32). Host bits must be\n"
	  "zero: 10.1.2.3/24 is refused, not widened to 10.1.2.0/24. Fails if the\n"
	  "prefix is listed already (its counters stay) or the list is full. Warns\n"
	  "when the prefix covers another node's underlay address.", NULL },
	{ "prefilter", "del", cmd_prefilter_del, 1, 0, "CIDR",
	  "Remove a source prefix from the underlay's deny list.\n\n"
	  "Exactly that prefix: deleting a /24 leaves /25s inside it listed. Fails\n"
	  "if the prefix is not listed.", NULL },
	{ "identity", "list", cmd_identity_list, 0, OPT_FILTERS, "[filters]",
	  "List the security identities: reserved ones, then one per label set.\n\n"
	  "Labels: k8s:KEY=VALUE for the pod's, ns:KEY=VALUE for its namespace's.\n"
	  "--ip and --pod show the identity the ipcache gives the address;\n"
	  "--namespace the label sets of that namespace's pods.\n\n"
	  HELP_FILTERS, NULL },
	{ "identity", "get", cmd_identity_get, 1, 0, "ID",
	  "Show identity ID (a number or reserved:NAME) and its labels.", NULL },
	{ "ipcache", "list", cmd_ipcache_list, 0, OPT_FILTERS, "[filters]",
	  "List the ipcache: address prefix -> identity (and the pod it is).\n\n"
	  "--ip shows every prefix holding the address (0.0.0.0/0 included).\n\n"
	  HELP_FILTERS, NULL },
	{ "ipcache", "get", cmd_ipcache_get, 1, 0, "IP",
	  "Show the ipcache entry the data plane finds for IP.\n\n"
	  "That is the longest prefix holding it.", NULL },
	{ "policy", "list", cmd_policy_list, 0, OPT_FILTERS, "[filters]",
	  "List the pods of this node that NetworkPolicy selects, with their policy state.\n\n"
	  "One row per pod isolated in at least one direction (a pod no policy selects\n"
	  "is not listed), sorted by pod (NAMESPACE/NAME; \"-\" when the cluster state\n"
	  "has no name for the address). INGRESS and EGRESS: isolated (only what the\n"
	  "pod's entries allow) or allow-all. VERSION is the live one of the pod's two\n"
	  "entry sets; ENTRIES how many allow entries it holds (the rows policy get\n"
	  "shows). JSON adds ingress_has and egress_has, the kinds of entries the data\n"
	  "plane looks up for the pod (cidr, range, any-port, any-proto).\n"
	  "--identity is the pod's own identity.\n\n"
	  HELP_FILTERS, NULL },
	{ "policy", "get", cmd_policy_get, 1, OPT_IDENTITY, "POD [--identity ID]",
	  "Show what NetworkPolicy lets into and out of POD (NAMESPACE/NAME or IP).\n\n"
	  "One row per allow entry of the pod's live version, with the policy and\n"
	  "rule it came from and how many flows it let through (FLOWS).\n\n"
	  "  --identity ID        only entries for peer identity ID (0: any peer)", NULL },
	{ "monitor", NULL, cmd_monitor, 0,
	  OPT_COUNT | OPT_TIMEOUT | OPT_FILTERS | OPT_REASON | OPT_VERDICT | OPT_TYPE,
	  "[--count N] [--timeout-ms MS] [filters]",
	  "Stream drop, policy verdict and trace events as the data plane reports them.\n\n"
	  "One line per event (with --json, one object per line) until Ctrl-C.\n"
	  "TIME is seconds since boot (CLOCK_MONOTONIC). The programs emit one event\n"
	  "per dropped packet and one per new flow a policy allowed, into a ring\n"
	  "buffer, whether anyone watches or not; monitor only reads that ring, and\n"
	  "the filters run here, so a filter does not make the data plane emit less.\n"
	  "Traces of forwarded packets (type trace; REASON says how: fwd-local,\n"
	  "fwd-reply, fwd-encap, ...) are off unless xcnictl config set trace-sample N\n"
	  "(or xcnid --trace-sample N) turns them on for one packet in N.\n"
	  "All events share a per-CPU budget (config set events-rate); those over it,\n"
	  "or that find the ring full because monitor falls behind, are lost (never\n"
	  "packets) and counted: see metrics (events-lost-*).\n"
	  "Readers of one ring share it: one monitor per node at a time.\n\n"
	  "  --count N              stop after N events (that pass the filters)\n"
	  "  --timeout-ms MS        stop after MS milliseconds\n"
	  "  --ip IP                events from or to IP\n"
	  "  --pod POD              events from or to POD (NAMESPACE/NAME or IP)\n"
	  "  --namespace NS         events from or to a pod of namespace NS\n"
	  "  --identity ID          events from or to identity ID\n"
	  "  --reason NAME          events of that reason (drop-policy-ingress, ...;\n"
	  "                         see metrics --all)\n"
	  "  --verdict allow|deny   policy verdicts: allowed new flows, or policy drops\n"
	  "  --type drop|verdict|trace\n"
	  "                         drop events, policy verdict events, or traces\n\n"
	  "Filters combine: an event is shown when it passes every one given.", NULL },
	{ "explain", NULL, cmd_explain, 3, OPT_PIN_DIR_DST, "SRC DST PORT/PROTO [--pin-dir-dst DIR]",
	  "Explain the policy verdict on a new flow from SRC to DST.\n\n"
	  "SRC and DST are pods (NAMESPACE/NAME) or IPv4 addresses xcni knows (in\n"
	  "the ipcache); PORT/PROTO is 80/tcp, 53/udp, 9/sctp or icmp. Walks the\n"
	  "lookups the programs make for the flow's first packet, on the live maps:\n"
	  "the identities (ipcache), then the egress side at the source pod and the\n"
	  "ingress side at the destination pod (polep, policy: exact port, any port,\n"
	  "any protocol, then polrange; for the peer's identity, its ipBlock group\n"
	  "(polcidr), then any peer). Shows what decides each side (the policy and\n"
	  "rule, \"isolated, nothing allows\", or allowed by default), the lookups\n"
	  "made, and the verdict: allowed only if both sides allow (the replies of an\n"
	  "allowed flow then pass via conntrack).\n\n"
	  "Each side is decided on the node its pod lives on. --pin-dir holds the\n"
	  "source node's maps; the destination side is read from --pin-dir-dst DIR\n"
	  "(default: --pin-dir). A side whose pod lives on another node is reported\n"
	  "as decided there (VERDICT unknown unless the other side denies). In the\n"
	  "lab a node's maps are /sys/fs/bpf/xcni-lab/<node>.\n\n"
	  "Exit 0 whatever the verdict; 1 for an unknown pod or address or missing\n"
	  "maps; 2 for a malformed PORT/PROTO.\n\n"
	  "  --pin-dir-dst DIR   the destination node's pin dir",
	  check_explain },
};


/* "ct list [--ip IP]" */
static const char *synopsis(const struct cmd *cmd, char *buf, size_t n)
{
	snprintf(buf, n, "%s%s%s%s%s", cmd->name, cmd->sub ? " " : "", cmd->sub ?: "",
		 *cmd->args ? " " : "", cmd->args);
	return buf;
}

/* The command words[] start with, or NULL. */
static const struct cmd *cmd_find(char **words, int nwords)
{
	const struct cmd *cmd;

	for (cmd = cmds; nwords && cmd < cmds + ARRAY_SIZE(cmds); cmd++)
		if (!strcmp(words[0], cmd->name) &&
		    (!cmd->sub || (nwords > 1 && !strcmp(words[1], cmd->sub))))
			return cmd;
	return NULL;
}

static bool cmd_known(const char *name)
{
	const struct cmd *cmd;

	for (cmd = cmds; cmd < cmds + ARRAY_SIZE(cmds); cmd++)
		if (!strcmp(name, cmd->name))
			return true;
	return false;
}

/* The commands called name, or all when there are none such. */
static void usage(FILE *f, const char *name)
{
	const struct cmd *cmd;
	char buf[64];

	if (name && !cmd_known(name))
		name = NULL;
	fprintf(f, "Usage: xcnictl [OPTIONS] COMMAND [ARGS]\n\n"
		   "Shows the xcni data plane's pinned maps, explains its policy verdicts and\n"
		   "edits the underlay's prefilter and the event settings.\n\n"
		   "Commands:\n");
	for (cmd = cmds; cmd < cmds + ARRAY_SIZE(cmds); cmd++)
		if (!name || !strcmp(name, cmd->name)) {
			synopsis(cmd, buf, sizeof(buf));
			/* A long synopsis gets a line of its own. */
			fprintf(f, "  %-22s%s%.*s\n", buf,
				strlen(buf) > 22 ? "\n                         " : " ",
				(int)strcspn(cmd->help, ".\n"), cmd->help);
		}
	fprintf(f, "\nOptions (anywhere on the line):\n"
		   "  --pin-dir DIR   where the maps are pinned (default $XCNI_PIN_DIR, else "
		   XCNI_PIN_ROOT ")\n"
		   "  -j, --json      JSON output\n"
		   "  -v, --verbose   more messages; twice for debug\n"
		   "  -h, --help      this help; after a command, that command's help\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pin-dir", required_argument, NULL, 'P' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "ip", required_argument, NULL, 'I' },
		{ "all", no_argument, NULL, 'A' },
		{ "count", required_argument, NULL, 'C' },
		{ "timeout-ms", required_argument, NULL, 'T' },
		{ "pod", required_argument, NULL, 'p' },
		{ "namespace", required_argument, NULL, 'n' },
		{ "reason", required_argument, NULL, 'r' },
		{ "verdict", required_argument, NULL, 'V' },
		{ "type", required_argument, NULL, 't' },
		{ "pin-dir-dst", required_argument, NULL, 'D' },
		{ "identity", required_argument, NULL, 'i' },
		{}
	};
	struct ctx c = { .pin_dir = getenv("XCNI_PIN_DIR") };
	const struct cmd *cmd;
	bool help = false;
	int opt, nwords, err;
	char **words, buf[64];

	xlog_set_prefix("xcnictl");
	xcni_libbpf_log_init();
	/* The lab has options and argument shapes of its own (-f FILE, -- CMD...). */
	if (argc > 1 && !strcmp(argv[1], "lab"))
		return lab_main(argc - 1, argv + 1);
	if (!c.pin_dir || !*c.pin_dir)
		c.pin_dir = XCNI_PIN_ROOT;
	/* Options may follow the command ("xcnictl ct list --json"): getopt permutes. */
	while ((opt = getopt_long(argc, argv, "jvh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'P':
			c.pin_dir = optarg;
			break;
		case 'j':
			c.json = true;
			break;
		case 'v':
			if (xlog_max < XLOG_DEBUG)
				xlog_max++;
			break;
		case 'h':
			help = true;
			break;
		case 'I':
			if (parse_ip(optarg, &c.ip_addr)) {
				pr_err("--ip %s: not an IPv4 address\n", optarg);
				return 2;
			}
			c.opts |= OPT_IP;
			c.ip = optarg;
			break;
		case 'i':
			if (parse_identity(optarg, &c.identity)) {
				pr_err("--identity %s: not an identity (a number or reserved:host, "
				       "reserved:world, reserved:unmanaged, reserved:remote-node)\n", optarg);
				return 2;
			}
			c.opts |= OPT_IDENTITY;
			break;
		case 'A':
			c.opts |= OPT_ALL;
			break;
		case 'p':
			c.opts |= OPT_POD;
			c.pod = optarg;
			break;
		case 'n':
			c.opts |= OPT_NAMESPACE;
			c.ns = optarg;
			break;
		case 'r':
			if (reason_by_name(optarg, &c.reason)) {
				pr_err("--reason %s: no such reason (xcnictl metrics --all lists them)\n",
				       optarg);
				return 2;
			}
			c.opts |= OPT_REASON;
			break;
		case 'V':
			if (strcmp(optarg, "allow") && strcmp(optarg, "deny")) {
				pr_err("--verdict %s: allow or deny\n", optarg);
				return 2;
			}
			c.opts |= OPT_VERDICT;
			c.verdict_allow = !strcmp(optarg, "allow");
			break;
		case 't':
			if (strcmp(optarg, "drop") && strcmp(optarg, "verdict") && strcmp(optarg, "trace")) {
				pr_err("--type %s: drop, verdict or trace\n", optarg);
				return 2;
			}
			c.opts |= OPT_TYPE;
			c.ev_type = !strcmp(optarg, "drop")    ? XCNI_EV_DROP :
				    !strcmp(optarg, "verdict") ? XCNI_EV_VERDICT : XCNI_EV_TRACE;
			break;
		case 'D':
			c.opts |= OPT_PIN_DIR_DST;
			c.pin_dir_dst = optarg;
			break;
		case 'C':
		case 'T': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);

			if (!*optarg || *end || *optarg == '-') {
				pr_err("--%s %s: not a number\n", opt == 'C' ? "count" : "timeout-ms",
				       optarg);
				return 2;
			}
			if (opt == 'C') {
				c.opts |= OPT_COUNT;
				c.count = v;
			} else {
				c.opts |= OPT_TIMEOUT;
				c.timeout_ms = v;
			}
			break;
		}
		default:
			usage(stderr, NULL);
			return 2;
		}
	}
	words = argv + optind;
	nwords = argc - optind;
	cmd = cmd_find(words, nwords);
	if (!cmd) {
		/* "xcnictl endpoint --help" lists the endpoint commands. */
		if (help) {
			usage(stdout, nwords ? words[0] : NULL);
			return 0;
		}
		if (nwords && cmd_known(words[0]))
			pr_err("%s: %s subcommand\n", words[0], nwords > 1 ? "unknown" : "missing");
		else if (nwords)
			pr_err("unknown command: %s\n", words[0]);
		usage(stderr, nwords ? words[0] : NULL);
		return 2;
	}
	if (help) {
		printf("Usage: xcnictl [OPTIONS] %s\n\n%s\n", synopsis(cmd, buf, sizeof(buf)),
		       cmd->help);
		return 0;
	}
	words += cmd->sub ? 2 : 1;
	nwords -= cmd->sub ? 2 : 1;
	if ((unsigned int)nwords != cmd->nargs || c.opts & ~cmd->opts) {
		pr_err("%s\n", (unsigned int)nwords != cmd->nargs ? "wrong number of arguments" :
			       "option not taken by this command");
		fprintf(stderr, "Usage: xcnictl [OPTIONS] %s\n", synopsis(cmd, buf, sizeof(buf)));
		return 2;
	}
	if ((c.opts & OPT_IP) && (c.opts & OPT_POD)) {
		pr_err("--ip and --pod both name an address: give one\n");
		return 2;
	}
	if (cmd->check && cmd->check(words))
		return 2;
	err = cmd->fn(&c, words);
	return err ? 1 : 0;
}
