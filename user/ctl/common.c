// SPDX-License-Identifier: Apache-2.0
/*
 * What every xcnictl view shares: the pinned maps and their layout check,
 * the walk of a live map, the filter layer, and the parsers and formatters
 * of addresses, identities, protocols and names.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>

#include "ctl/ctl.h"

/* ---- maps ------------------------------------------------------------------ */

CTL_MAP(fqdn, HASH, struct xcni_fqdn_key, struct xcni_fqdn_val, 0);
CTL_MAP(fqdn_pat, HASH, struct xcni_fqdn_pat_key, struct xcni_fqdn_pat, 0);
CTL_MAP(endpoints, HASH, __u32, struct xcni_endpoint, 0);
CTL_MAP(ct, LRU_HASH, struct xcni_ct_key, struct xcni_ct_entry, 0);
CTL_MAP(endpoints6, HASH, struct xcni_in6, struct xcni_endpoint, 0);
CTL_MAP(ct6, LRU_HASH, struct xcni_ct6_key, struct xcni_ct_entry, 0);
CTL_MAP(ipcache6, LPM_TRIE, struct xcni_ipcache6_key, struct xcni_ipcache_val, 0);
CTL_MAP(polkey6, HASH, struct xcni_in6, __u32, 0);
CTL_MAP(ifindex, HASH, __u32, struct xcni_pod_dev, 0);
CTL_MAP(metrics, PERCPU_ARRAY, __u32, struct xcni_metric, XCNI_NR_METRICS);
const struct map_spec m_events = { "xcni_events", BPF_MAP_TYPE_RINGBUF, 0, 0, 0 };
CTL_MAP(config, ARRAY, __u32, struct xcni_config, 1);
CTL_MAP(identity, HASH, __u32, struct xcni_idlabels, 0);
CTL_MAP(ipcache, LPM_TRIE, struct xcni_ipcache_key, struct xcni_ipcache_val, 0);
CTL_MAP(polep, HASH, __u32, struct xcni_polep, 0);
CTL_MAP(policy, HASH, struct xcni_polhash_key, struct xcni_policy_val, 0);
CTL_MAP(polrange, LPM_TRIE, struct xcni_policy_key, struct xcni_policy_val, 0);
CTL_MAP(polcidr, LPM_TRIE, struct xcni_polcidr_key, __u32, 0);
CTL_MAP(polname, HASH, __u32, struct xcni_polname, 0);
CTL_MAP(rulename, HASH, struct xcni_rulename_key, struct xcni_rulename, 0);
CTL_MAP(polsel, HASH, __u32, struct xcni_polsel, 0);
CTL_MAP(podname, HASH, __u32, struct xcni_podname, 0);
CTL_MAP(tunnel, HASH, __u32, struct xcni_tunnel, 0);
CTL_MAP(tunstat, PERCPU_HASH, __u32, struct xcni_tunstat, 0);
CTL_MAP(tunnel6, HASH, struct xcni_in6, struct xcni_tunnel, 0);
CTL_MAP(tunstat6, PERCPU_HASH, struct xcni_in6, struct xcni_tunstat, 0);
CTL_MAP(prefilter, LPM_TRIE, struct xcni_prefilter_key, struct xcni_prefilter_val, 0);
CTL_MAP(prefilter6, LPM_TRIE, struct xcni_prefilter6_key, struct xcni_prefilter_val, 0);
CTL_MAP(pf16, HASH, __u32, __u32, 0);
CTL_MAP(pf24, HASH, __u32, __u32, 0);
CTL_MAP(evrate, PERCPU_ARRAY, __u32, struct xcni_evrate, 1);
CTL_MAP(polrev, ARRAY, __u32, __u32, 1);
CTL_MAP(npgen, ARRAY, __u32, __u64, 1);
CTL_MAP(npaccel, PERCPU_ARRAY, __u32, struct xcni_metric, XCNI_NPA_NR);
CTL_MAP(ctstat, PERCPU_ARRAY, __u32, struct xcni_ctstat, 2);
CTL_MAP(svc, HASH, struct xcni_svc_key, struct xcni_svc, 0);
CTL_MAP(svcslot, HASH, struct xcni_svcslot_key, __u32, 0);
CTL_MAP(backend, HASH, __u32, struct xcni_backend, 0);
CTL_MAP(revnat, HASH, __u16, struct xcni_revnat, 0);
CTL_MAP(maglev, HASH_OF_MAPS, __u32, __u32, 0);
CTL_MAP(svcname, HASH, __u32, struct xcni_svcname, 0);

/*
 * Opens a pinned map and refuses one whose layout is not the one this binary
 * was built for: reading it would show garbage. Returns the fd or -errno.
 */
int map_open(const struct ctl_ctx *c, const struct map_spec *m)
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
		err = pr_err_ret(-EPROTO, "%s: %s map, key %u B, value %u B, %u entries; expected "
				 "%s, key %u B, value %u B%s: xcnictl and the data plane were "
				 "built from different xcni_shared.h\n", path,
				 libbpf_bpf_map_type_str(info.type) ?: "?", info.key_size,
				 info.value_size, info.max_entries,
				 libbpf_bpf_map_type_str(m->type), m->key_size, m->value_size,
				 m->max_entries ? ", fixed entries" : "");
		goto close;
	}
	pr_debug("%s: fd %d, id %u\n", path, fd, info.id);
	return fd;
close:
	close(fd);
	return err;
}

/* map_open for a map a view can do without: -errno, and nothing said. */
int map_open_quiet(const struct ctl_ctx *c, const struct map_spec *m)
{
	char path[PATH_MAX];

	/* Only a missing pin is expected; map_open reports anything else. */
	snprintf(path, sizeof(path), "%s/%s", c->pin_dir, m->name);
	if (access(path, F_OK))
		return -ENOENT;
	return map_open(c, m);
}

int ctl_map_open(const char *dir, const char *name, bool quiet)
{
	static const struct map_spec *const specs[] = {
		&m_config, &m_ipcache, &m_podname, &m_polep, &m_policy, &m_polrange, &m_polcidr,
		&m_polname, &m_identity, &m_polsel, &m_rulename, &m_ipcache6, &m_polkey6,
		&m_endpoints6, &m_ifindex, &m_tunnel, &m_tunnel6, &m_endpoints, &m_fqdn,
		&m_fqdn_pat,
	};
	const struct ctl_ctx at = { .pin_dir = dir };

	for (size_t i = 0; i < ARRAY_SIZE(specs); i++)
		if (!strcmp(specs[i]->name, name))
			return quiet ? map_open_quiet(&at, specs[i]) : map_open(&at, specs[i]);
	return -ENOENT;
}

/* The node config, xcni_config's one entry, into *cfg: 0 or -errno (said). */
int ctl_config_read(const struct ctl_ctx *c, struct xcni_config *cfg)
{
	__u32 zero = 0;
	int fd = map_open(c, &m_config), err;

	if (fd < 0)
		return fd;
	err = bpf_map_lookup_elem(fd, &zero, cfg) ? -errno : 0;
	close(fd);
	if (err)
		pr_err("%s: lookup: %s\n", m_config.name, strerror(-err));
	return err;
}

/*
 * Reads every entry into *out, an array of elem-sized records holding the key
 * at koff and the value at voff. A walk of a live hash map restarts from the
 * first key when the current one is deleted under it: callers sort and drop
 * duplicate keys, and a map that keeps changing ends the walk with -EAGAIN.
 */
int map_collect(int fd, const struct map_spec *m, size_t elem, size_t koff,
		       size_t voff, void **out, size_t *np, int (*cmp)(const void *, const void *))
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
			err = pr_err_ret(-EAGAIN, "%s: keeps changing under the walk, giving up\n",
					 m->name);
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
	*np = cmp ? sort_unique(arr, n, elem, cmp) : n;
	return 0;
free:
	free(arr);
	return err;
}

int map_read(const struct ctl_ctx *c, const struct map_spec *m, size_t elem, size_t koff,
	     size_t voff, int (*cmp)(const void *, const void *), void **out, size_t *np)
{
	int fd = map_open(c, m), err;

	if (fd < 0)
		return fd;
	err = map_collect(fd, m, elem, koff, voff, out, np, cmp);
	close(fd);
	return err;
}

int fam_rows(const struct ctl_ctx *c, struct ptable *t, const struct fam_map m[2],
	     fam_row_fn *row, void *arg)
{
	for (int i = 0; i < 2; i++) {
		unsigned char *recs = NULL;
		size_t n = 0;
		int fd = i ? map_open_quiet(c, m[i].map) : map_open(c, m[i].map), err;

		if (fd == -ENOENT && i)
			return 0;
		if (fd < 0)
			return fd;
		err = map_collect(fd, m[i].map, m[i].elem, m[i].koff, m[i].voff, (void **)&recs, &n,
				  m[i].cmp);
		close(fd);
		if (err)
			return pr_err_ret(err, "%s: %s\n", m[i].map->name, strerror(-err));
		for (size_t j = 0; j < n; j++)
			row(t, m[i].fam, recs + j * m[i].elem, arg);
		free(recs);
	}
	return 0;
}

void frow_addr(struct frow *r, __u8 fam, const void *a, unsigned int plen)
{
	struct xcni_prefix *p = &r->addr[r->naddr++];

	*p = (struct xcni_prefix){ .family = fam == XCNI_AF_INET6 ? 6 : 4, .len = (__u8)plen };
	memcpy(p->addr, a, fam_len(fam));
}

/* Sorts records by key (cmp) and drops duplicates the walk may have seen twice. */
size_t sort_unique(void *arr, size_t n, size_t elem, int (*cmp)(const void *, const void *))
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

/* ---- formatting helpers ---------------------------------------------------- */

/* An ipcache entry's tunnel endpoint in either family; NULL for none. */
const char *tunnel_str(const struct xcni_ipcache_val *v, char buf[INET6_ADDRSTRLEN])
{
	if (v->flags & XCNI_IPC_TUN6)
		return inet_ntop(AF_INET6, v->tunnel_ip6, buf, INET6_ADDRSTRLEN);
	return v->tunnel_ip ? xcni_ip4_str(v->tunnel_ip, buf) : NULL;
}

const char *polcidr_str(const struct xcni_polcidr_key *k, char *buf, size_t len)
{
	return xcni_cidr_str(k->v6 ? AF_INET6 : AF_INET, k->v6 ? (const void *)k->addr6 : &k->addr,
			     k->prefixlen - XCNI_POLCIDR_PREFIX_BASE, buf, len);
}

/* Whole seconds from ns to now; 0 for a stamp from the future. */
__u64 secs_since(__u64 now, __u64 ns)
{
	return now > ns ? (now - ns) / 1000000000ULL : 0;
}

int show(const struct ctl_ctx *c, struct ptable *t)
{
	int err = pt_print_fmt(t, stdout, c->out);

	if (err)
		pr_err("writing output: %s\n", strerror(-err));
	pt_free(t);
	return err;
}

int show_read(const struct ctl_ctx *c, struct ptable *t, int err)
{
	if (!err)
		return show(c, t);
	pt_free(t);
	return err;
}

/* ---- filters --------------------------------------------------------------- */

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
 *   --label        the label set of such an identity (or the row's own) matches
 */

/* The identity the ipcache (IPv4) or ipcache6 gives host address a (longest prefix), as
 * the programs see it. */
static int ipcache_identity(const struct filter *f, const struct xcni_prefix *a, __u32 *id)
{
	struct xcni_ipcache6_key k6 = { .prefixlen = 128 };
	struct xcni_ipcache_key k = { .prefixlen = 32 };
	bool v6 = a->family == 6;
	int fd = v6 ? f->ipcache6_fd : f->ipcache_fd;
	struct xcni_ipcache_val v;

	memcpy(v6 ? (void *)k6.addr : (void *)&k.addr, a->addr, v6 ? 16 : 4);
	if (fd < 0 || bpf_map_lookup_elem(fd, v6 ? (void *)&k6 : (void *)&k, &v))
		return -ENOENT;
	*id = v.identity;
	return 0;
}

void filter_close(struct filter *f)
{
	xcni_close(&f->podname_fd);
	xcni_close(&f->ipcache_fd);
	xcni_close(&f->ipcache6_fd);
	xcni_close(&f->identity_fd);
	polsync_key6_close(&f->k6);
}

int filter_open(const struct ctl_ctx *c, struct filter *f, unsigned int flags)
{
	char buf[INET_ADDRSTRLEN];
	int err;

	memset(f, 0, sizeof(*f));
	f->podname_fd = f->ipcache_fd = f->ipcache6_fd = f->identity_fd = -1;
	f->k6 = (struct polkey6_maps){ -1, -1, -1 };
	f->opts = c->opts & OPT_FILTERS;
	f->ns = c->ns;
	f->identity = c->identity;
	f->ip = c->ip_addr;
	if ((f->opts & OPT_POD) && (err = resolve_pod(c, c->pod, &f->ip, "--pod")))
		return err;
	f->at = xcni_prefix_host(f->ip, (f->opts & OPT_IP) && c->ip_any.family == XCNI_AF_INET6 ?
					       c->ip_any.addr : NULL);
	if (f->opts & OPT_NAMESPACE) {
		f->podname_fd = map_open(c, &m_podname);
		if (f->podname_fd < 0)
			return f->podname_fd;
	}
	/* IPv6 rows: their pod by the key podname (and --pod) has it under. */
	if (f->opts & (OPT_NAMESPACE | OPT_POD))
		polsync_key6_open(&f->k6, c->pin_dir, ctl_map_open);
	if (f->opts & OPT_LABEL) {
		char e[300];

		if (flow_match_labels(&f->label, c->label, e, sizeof(e))) {
			pr_err("%s\n", e); /* checked when parsed: not reached */
			return -EINVAL;
		}
		f->identity_fd = map_open(c, &m_identity);
		if (f->identity_fd < 0)
			return f->identity_fd;
	}
	if ((f->opts & (OPT_IDENTITY | OPT_LABEL)) ||
	    ((flags & FILTER_BY_IDENTITY) && (f->opts & (OPT_IP | OPT_POD)))) {
		f->ipcache_fd = map_open(c, &m_ipcache);
		if (f->ipcache_fd < 0) {
			err = f->ipcache_fd;
			goto close;
		}
		f->ipcache6_fd = map_open_quiet(c, &m_ipcache6);
	}
	if ((flags & FILTER_BY_IDENTITY) && (f->opts & (OPT_IP | OPT_POD)) &&
	    ipcache_identity(f, &f->at, &f->ip_id)) {
		if (f->at.family == 6)
			err = pr_err_ret(-ENOENT, "--ip %s: not in the ipcache6: it has no "
					 "identity\n", c->ip);
		else
			err = pr_err_ret(-ENOENT, "%s %s: %s is not in the ipcache: it has no "
					 "identity\n", f->opts & OPT_POD ? "--pod" : "--ip",
					 f->opts & OPT_POD ? c->pod : c->ip,
					 xcni_ip4_str(f->ip, buf));
		goto close;
	}
	return 0;
close:
	filter_close(f);
	return err;
}

/* Whether a is a host address (/32, /128): what the podname and ipcache lookups take. */
static bool host(const struct xcni_prefix *a)
{
	return a->len == (a->family == 6 ? 128 : 32);
}

/* Whether host address a is a pod of --namespace, by the cluster state's podname map:
 * an IPv4 address under itself, an IPv6 one under its policy key (polsync_key6). */
static bool pod_in_namespace(const struct filter *f, const struct xcni_prefix *a)
{
	struct xcni_podname pn;
	__u32 key;

	if (a->family == 4)
		memcpy(&key, a->addr, 4);
	else if (!(key = polsync_key6(&f->k6, a->addr)))
		return false;
	return bpf_map_lookup_elem(f->podname_fd, &key, &pn) == 0 &&
	       !strncmp(pn.ns, f->ns, sizeof(pn.ns)) && strlen(f->ns) < sizeof(pn.ns);
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

/* Whether identity id's label set (the identity map's) matches --label. */
static bool id_labels_match(const struct filter *f, __u32 id)
{
	struct xcni_idlabels l;
	char labels[sizeof(l.labels) + 1];

	if (bpf_map_lookup_elem(f->identity_fd, &id, &l))
		return flow_labels_match(&f->label, NULL); /* reserved, or gone: no labels */
	snprintf(labels, sizeof(labels), "%.*s", (int)strnlen(l.labels, sizeof(l.labels)), l.labels);
	return flow_labels_match(&f->label, labels);
}

bool filter_match(const struct filter *f, const struct frow *r)
{
	const struct xcni_prefix *a = r->addr;
	unsigned int i;
	bool hit;
	__u32 id;

	if (f->opts & (OPT_IP | OPT_POD)) {
		/* An address matches rows of its own family; --pod the pod's IPv6 rows
		 * too (a local pod's IPv6 maps to its key). */
		for (i = 0, hit = false; i < r->naddr && !hit; i++)
			hit = xcni_prefix_inside(&f->at, &a[i]) ||
			      ((f->opts & OPT_POD) && a[i].family == 6 && host(&a[i]) &&
			       polsync_key6(&f->k6, a[i].addr) == f->ip);
		for (i = 0; !r->naddr && i < r->nid && !hit; i++)
			hit = r->id[i] == f->ip_id;
		if (!hit)
			return false;
	}
	if (f->opts & OPT_NAMESPACE) {
		for (i = 0, hit = false; i < r->naddr && !hit; i++)
			hit = host(&a[i]) && pod_in_namespace(f, &a[i]);
		if (!hit && r->labels)
			hit = labels_in_namespace(r->labels, f->ns);
		if (!hit)
			return false;
	}
	if (f->opts & OPT_IDENTITY) {
		for (i = 0, hit = false; i < r->nid && !hit; i++)
			hit = r->id[i] == f->identity;
		for (i = 0; !r->nid && i < r->naddr && !hit; i++)
			hit = host(&a[i]) && !ipcache_identity(f, &a[i], &id) && id == f->identity;
		if (!hit)
			return false;
	}
	/* --label: the row's label set, else its identities' (as --identity finds them). */
	if (f->opts & OPT_LABEL) {
		hit = r->labels && flow_labels_match(&f->label, r->labels);
		for (i = 0; !r->labels && i < r->nid && !hit; i++)
			hit = id_labels_match(f, r->id[i]);
		for (i = 0; !r->labels && !r->nid && i < r->naddr && !hit; i++)
			hit = host(&a[i]) && !ipcache_identity(f, &a[i], &id) && id_labels_match(f, id);
		if (!hit)
			return false;
	}
	return true;
}

/* ---- names ------------------------------------------------------------------ */

void pt_field(struct ptable *t, const char *s, size_t len)
{
	if (s[0])
		pt_strf(t, "%.*s", (int)strnlen(s, len), s);
	else
		pt_null(t);
}

void pt_name(struct ptable *t, const char *name, const char *fmt, ...)
{
	char buf[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	pt_str(t, name ?: buf);
}

void pt_proto(struct ptable *t, __u8 proto)
{
	pt_name(t, proto_name(proto), "%u", proto);
}

const char *flag_names(__u8 flags, const struct flag_name *names, size_t n, char *buf, size_t len)
{
	__u8 rest = flags;
	size_t w = 0;

	buf[0] = 0;
	for (size_t i = 0; i < n; i++) {
		if (!(flags & names[i].bit))
			continue;
		rest &= ~names[i].bit;
		w += snprintf(buf + w, w < len ? len - w : 0, "%s%s", w ? "," : "", names[i].name);
	}
	if (rest)
		snprintf(buf + w, w < len ? len - w : 0, "%s0x%x", w ? "," : "", rest);
	return buf;
}

void pt_ct_state(struct ptable *t, __u8 state)
{
	static const char *const names[] = {
		[XCNI_CT_NEW] = "new",
		[XCNI_CT_ESTABLISHED] = "established",
		[XCNI_CT_CLOSING] = "closing",
		[XCNI_CT_CLOSED] = "closed",
	};

	pt_name(t, state < ARRAY_SIZE(names) ? names[state] : NULL, "%u", state);
}

void pt_end(struct ptable *t, __u8 fam, __u8 proto, const void *a, __u16 port)
{
	char buf[INET6_ADDRSTRLEN];
	bool v6 = fam == XCNI_AF_INET6;

	inet_ntop(v6 ? AF_INET6 : AF_INET, a, buf, sizeof(buf));
	/* The ports the data plane tracks (parse.h): SCTP's common header has them too. */
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP)
		pt_strf(t, "%s%s%s:%u", v6 ? "[" : "", buf, v6 ? "]" : "", ntohs(port));
	else if (v6 ? proto == IPPROTO_ICMPV6 && port : proto == IPPROTO_ICMP)
		pt_strf(t, "%s:id=%u", buf, ntohs(port));
	else
		pt_str(t, buf);
}

void pt_ip(struct ptable *t, __u8 fam, const void *a)
{
	char buf[INET6_ADDRSTRLEN];

	pt_str(t, inet_ntop(fam == XCNI_AF_INET6 ? AF_INET6 : AF_INET, a, buf, sizeof(buf)));
}

int u32_cmp(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return (x > y) - (x < y);
}

int ip4_cmp(const void *a, const void *b)
{
	__u32 x = ntohl(*(const __u32 *)a), y = ntohl(*(const __u32 *)b);

	return (x > y) - (x < y);
}

int in6_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct xcni_in6));
}

int prefix_cmp(const void *a, const void *b)
{
	const struct xcni_ipcache_key *x = a, *y = b;
	__u32 p = ntohl(x->addr), q = ntohl(y->addr);

	if (p != q)
		return (p > q) - (p < q);
	return (x->prefixlen > y->prefixlen) - (x->prefixlen < y->prefixlen);
}

int prefix6_cmp(const void *a, const void *b)
{
	const struct xcni_ipcache6_key *x = a, *y = b;
	int d = memcmp(x->addr, y->addr, 16);

	return d ? d : (x->prefixlen > y->prefixlen) - (x->prefixlen < y->prefixlen);
}

bool pod_of_ip(int fd, __u32 ip, char *buf, size_t len)
{
	struct xcni_podname pn;

	if (fd < 0 || bpf_map_lookup_elem(fd, &ip, &pn))
		return false;
	snprintf(buf, len, "%.*s/%.*s", (int)strnlen(pn.ns, sizeof(pn.ns)), pn.ns,
		 (int)strnlen(pn.name, sizeof(pn.name)), pn.name);
	return true;
}

bool pod_of_addr(int pfd, const struct polkey6_maps *k6, __u8 fam, const void *addr, char *buf,
		 size_t len)
{
	__u32 key = fam == XCNI_AF_INET6 ? polsync_key6(k6, addr) : 0;

	if (fam != XCNI_AF_INET6)
		memcpy(&key, addr, 4);
	return (fam != XCNI_AF_INET6 || key) && pod_of_ip(pfd, key, buf, len);
}

int resolve_pod(const struct ctl_ctx *c, const char *arg, __u32 *ip, const char *flag)
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
	if (!sl || sl == arg || !sl[1])
		return pr_err_ret(-EINVAL, "%s%s%s: not a pod (NAMESPACE/NAME) or an IPv4 "
				  "address\n", flag, sp, arg);
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

char *pt_json_string(struct ptable *t, int *err)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f) {
		*err = -errno;
		return NULL;
	}
	*err = pt_print(t, f, true);
	fclose(f);
	if (*err) {
		free(buf);
		return NULL;
	}
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		buf[--len] = 0;
	return buf;
}

int ctl_where_opt(int opt, const char *arg, struct ctl_where *w)
{
	switch (opt) {
	case 'P':
		w->pin_dir = arg;
		w->pin_given = true;
		return -1;
	case 'N':
		if (w->nnodes == CTL_WHERE_MAX_NODES)
			return pr_err_ret(2, "--node: at most %d\n", CTL_WHERE_MAX_NODES);
		w->nodes[w->nnodes++] = arg;
		return -1;
	case 'v':
		if (xlog_max < XLOG_DEBUG)
			xlog_max++;
		return -1;
	}
	return pt_usage(opt == 'h' ? stdout : stderr, w->syn, w->opts);
}

int ctl_where_check(int argc, char **argv, const char *name, const char *why,
		    struct ctl_where *w)
{
	int words = 0;

	for (int i = optind; i < argc; i++)
		if (strcmp(argv[i], name) || words++)
			return pr_err_ret(pt_usage(stderr, w->syn, w->opts),
					  "%s: unexpected argument %s\n", name, argv[i]);
	if (why)
		return pr_err_ret(2, "%s\n", why);
	if (w->nnodes && w->pin_given)
		return pr_err_ret(2,
				  "--node and --pin-dir both say where the maps are: give one\n");
	if (!w->pin_given && !((w->pin_dir = getenv("XCNI_PIN_DIR")) && *w->pin_dir))
		w->pin_dir = XCNI_PIN_ROOT;
	return -1;
}

int ctl_child_output(int (*fn)(void *arg), void *arg, bool both, size_t max, char **out,
		     size_t *len)
{
	FILE *f = open_memstream(out, len);
	int p[2], st;
	pid_t pid;

	if (!f)
		return -ENOMEM;
	if (pipe2(p, O_CLOEXEC)) {
		fclose(f);
		return -errno;
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		fclose(f);
		return -errno;
	}
	if (!pid) {
		dup2(p[1], 1);
		if (both)
			dup2(p[1], 2);
		st = fn(arg);
		fflush(stdout);
		_exit(st);
	}
	close(p[1]);
	for (;;) {
		char buf[65536];
		ssize_t r = read(p[0], buf, sizeof(buf));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		/* Past max, read on (the child must not block) but keep nothing. */
		if (*len + (size_t)r <= max)
			fwrite(buf, 1, (size_t)r, f);
		fflush(f);
	}
	close(p[0]);
	fclose(f);
	if (waitpid(pid, &st, 0) < 0)
		return -errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

const char *ctl_catf(char *buf, size_t len, const char *fmt, ...)
{
	size_t l = strnlen(buf, len);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf + l, len - l, fmt, ap);
	va_end(ap);
	return buf;
}
