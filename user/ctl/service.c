// SPDX-License-Identifier: Apache-2.0
/*
 * xcnictl service list/get: the Services the data plane translates (xcni_svc,
 * xcni_svcslot, xcni_backend, xcni_maglev; docs/architecture.md "Services in
 * BPF"). What a service shows is what the programs use: the live version's
 * slots and Maglev table, not what the writer may be building beside them.
 * Also the helpers ct list uses to name a translated flow's frontend and
 * backend (svcnames_*).
 */
#include <strings.h>

#include "ctl/ctl.h"

const char *svcname_str(const struct xcni_svcname *n, bool port, char *buf, size_t len)
{
	int nl = (int)strnlen(n->ns, sizeof(n->ns)), ml = (int)strnlen(n->name, sizeof(n->name));
	int pl = (int)strnlen(n->port, sizeof(n->port));

	if (port && pl)
		snprintf(buf, len, "%.*s/%.*s:%.*s", nl, n->ns, ml, n->name, pl, n->port);
	else
		snprintf(buf, len, "%.*s/%.*s", nl, n->ns, ml, n->name);
	return buf;
}

/* The three name columns of a Service (with port, without, the port's name); n NULL: none. */
void svcname_cols(struct ptable *t, const struct xcni_svcname *n)
{
	char buf[160];

	if (!n) {
		pt_nulls(t, 3);
		return;
	}
	pt_str(t, svcname_str(n, true, buf, sizeof(buf)));
	pt_str(t, svcname_str(n, false, buf, sizeof(buf)));
	pt_field(t, n->port, sizeof(n->port));
}

/* "10.96.0.10:53", "[fd00::a]:53": an address of the Service maps and a port. */
const char *svc_addr_str(__u8 family, const __u8 addr[16], __u16 port, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (family == XCNI_AF_INET && inet_ntop(AF_INET, addr, a, sizeof(a)))
		snprintf(buf, len, "%s:%u", a, ntohs(port));
	else if (family == XCNI_AF_INET6 && inet_ntop(AF_INET6, addr, a, sizeof(a)))
		snprintf(buf, len, "[%s]:%u", a, ntohs(port));
	else
		snprintf(buf, len, "family%u:%u", family, ntohs(port));
	return buf;
}

/* ---- names of translated flows, for ct ------------------------------------ */

struct be_rec {
	__u32 id;
	struct xcni_backend b;
};

/* By address, port and family (the first bytes of struct xcni_backend), then id. */
#define BE_ADDR_LEN offsetof(struct xcni_backend, state)
static int be_addr_cmp(const void *a, const void *b)
{
	const struct be_rec *x = a, *y = b;
	int d = memcmp(&x->b, &y->b, BE_ADDR_LEN);

	return d ?: u32_cmp(a, b);
}

void svcnames_open(const struct ctl_ctx *c, struct svcnames *s)
{
	memset(s, 0, sizeof(*s));
	s->c = c;
	s->revnat_fd = map_open_quiet(c, &m_revnat);
	s->name_fd = map_open_quiet(c, &m_svcname);
	s->be_fd = map_open_quiet(c, &m_backend);
}

void svcnames_close(struct svcnames *s)
{
	for (int *p = (int[]){ s->revnat_fd, s->name_fd, s->be_fd, -2 }; *p != -2; p++)
		xcni_close(&*p);
	free(s->be);
}

bool svcnames_name(struct svcnames *s, __u32 id, struct xcni_svcname *out)
{
	return id && s->name_fd >= 0 && !bpf_map_lookup_elem(s->name_fd, &id, out) && out->name[0];
}

bool svcnames_backend_of(struct svcnames *s, __u32 id, struct xcni_backend *out)
{
	return id && s->be_fd >= 0 && !bpf_map_lookup_elem(s->be_fd, &id, out);
}

bool svcnames_frontend(struct svcnames *s, __u16 rev_nat, char *buf, size_t len)
{
	struct xcni_revnat rn;

	if (!rev_nat)
		return false;
	if (s->revnat_fd < 0 || bpf_map_lookup_elem(s->revnat_fd, &rev_nat, &rn))
		snprintf(buf, len, "rev-nat#%u", rev_nat); /* gone, or maps without it */
	else
		svc_addr_str(rn.family, rn.addr, rn.port, buf, len);
	return true;
}

__u32 svcnames_backend(struct svcnames *s, __u32 ip, __u16 port)
{
	struct be_rec key = {};
	size_t lo, hi;
	int fd;

	if (!s->be_loaded) {
		s->be_loaded = true;
		fd = map_open_quiet(s->c, &m_backend);
		if (fd >= 0) {
			if (!map_collect(fd, &m_backend, sizeof(struct be_rec),
					 offsetof(struct be_rec, id), offsetof(struct be_rec, b),
					 (void **)&s->be, &s->nbe, u32_cmp)) {
				qsort(s->be, s->nbe, sizeof(struct be_rec), be_addr_cmp);
			} else {
				s->nbe = 0;
			}
			close(fd);
		}
	}
	/* The writer gives one address and port one id, whichever frontends name it. */
	key.b.family = XCNI_AF_INET;
	memcpy(key.b.addr, &ip, 4);
	key.b.port = port;
	lo = 0;
	hi = s->nbe;
	while (lo < hi) { /* the first with that address, port and family */
		size_t mid = lo + (hi - lo) / 2;

		if (memcmp(&s->be[mid].b, &key.b, BE_ADDR_LEN) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->nbe && !memcmp(&s->be[lo].b, &key.b, BE_ADDR_LEN) ? s->be[lo].id : 0;
}

/* ---- the views --------------------------------------------------------------- */

static const struct map_spec m_affinity = {
	"xcni_affinity", BPF_MAP_TYPE_LRU_HASH, sizeof(struct xcni_affinity_key),
	sizeof(struct xcni_affinity), 0
};

void svc_view_close(struct svc_view *v)
{
	int *const fds[] = { &v->svc,	   &v->slot,	 &v->be, &v->maglev,
			     &v->name,	   &v->affinity, &v->ct, &v->ct6 };

	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		xcni_close(&*fds[i]);
}

/* -ENOENT quietly when the node has no Service maps at all. */
int svc_view_open(const struct ctl_ctx *c, const char *dir, struct svc_view *v)
{
	struct ctl_ctx at = *c;

	at.pin_dir = dir;
	v->slot = v->be = v->maglev = v->name = v->affinity = v->ct = v->ct6 = -1;
	v->svc = map_open_quiet(&at, &m_svc);
	if (v->svc < 0)
		return v->svc;
	if ((v->slot = map_open(&at, &m_svcslot)) < 0 || (v->be = map_open(&at, &m_backend)) < 0) {
		int err = v->slot < 0 ? v->slot : v->be;

		svc_view_close(v);
		v->svc = -1;
		return err;
	}
	v->maglev = map_open_quiet(&at, &m_maglev);
	v->name = map_open_quiet(&at, &m_svcname);
	v->affinity = map_open_quiet(&at, &m_affinity);
	v->ct = map_open_quiet(&at, &m_ct);
	v->ct6 = map_open_quiet(&at, &m_ct6);
	return 0;
}

/*
 * The Service maps (svc_view_open), or -errno (said). An agent whose data
 * plane predates Services pins the rest but not these: said as such.
 */
static int svc_maps_open(const struct ctl_ctx *c, struct svc_view *m)
{
	char path[PATH_MAX];
	int err = svc_view_open(c, c->pin_dir, m);

	if (!err && m->maglev < 0 && m->maglev != -ENOENT) {
		err = m->maglev;
		svc_view_close(m);
	}
	if (err != -ENOENT || m->svc != -ENOENT)
		return err;
	snprintf(path, sizeof(path), "%s/%s", c->pin_dir, m_ct.name);
	if (access(path, F_OK))
		return map_open(c, &m_svc); /* no agent at all: map_open says so */
	return pr_err_ret(-ENOENT, "%s/%s: no such pinned map: this agent's data plane has no "
			  "Services in BPF (built before them, or its maps are from an older "
			  "xcnid)\n", c->pin_dir, m_svc.name);
}

static int svc_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct svc_rec *)a)->k, &((const struct svc_rec *)b)->k,
		      sizeof(struct xcni_svc_key));
}

static const char *scope_name(__u8 scope)
{
	return scope == XCNI_SCOPE_EXT ? "ext" : scope == XCNI_SCOPE_INT ? "int" : NULL;
}

/* The flags, as text ("affinity=10800s,maglev") or JSON ("affinity,maglev"); "" if none. */
static const char *svc_flags(const struct xcni_svc *v, bool timeout, char *buf, size_t len)
{
	char aff[32];
	const struct flag_name names[] = {
		{ XCNI_SVC_F_AFFINITY, timeout ? aff : "affinity" },
		{ XCNI_SVC_F_MAGLEV, "maglev" },
		{ XCNI_SVC_F_ETP_LOCAL, "etp-local" },
		{ XCNI_SVC_F_ITP_LOCAL, "itp-local" },
		{ XCNI_SVC_F_TWO_SCOPES, "two-scopes" },
		{ XCNI_SVC_F_CLUSTERIP, "cluster-ip" },
		{ XCNI_SVC_F_LOCAL_BE, "local-backends" },
	};

	snprintf(aff, sizeof(aff), "affinity=%us", v->affinity_s);
	return flag_names(v->flags, names, ARRAY_SIZE(names), buf, len);
}

/* The columns of a frontend, shared by service list and service get. */
#define SVC_COLS                                           \
	{ "FRONTEND", "frontend", PT_STR },                \
	/* NS/NAME:PORT-NAME (xcni_svcname); "-" for a name not (yet) known */ \
	{ "SERVICE", NULL, PT_STR },                       \
	/* JSON's parts of SERVICE and FRONTEND: -o wide does not repeat them */ \
	{ NULL, "service", PT_STR | PT_SHOW_JSON },        \
	{ NULL, "port_name", PT_STR | PT_SHOW_JSON },      \
	{ NULL, "address", PT_STR | PT_SHOW_JSON },        \
	{ NULL, "port", PT_UINT | PT_SHOW_JSON },          \
	{ NULL, "proto", PT_STR | PT_SHOW_JSON },          \
	{ "SCOPE", "scope", PT_STR },                      \
	{ "ID", "id", PT_UINT },                           \
	/* affinity with its timeout, maglev, etp-local, itp-local, two-scopes */ \
	{ "FLAGS", NULL, PT_STR },                         \
	{ NULL, "flags", PT_STR | PT_SHOW_JSON },          \
	{ NULL, "affinity_s", PT_UINT | PT_SHOW_JSON },    \
	/* The maps' bookkeeping (REV-NAT is ID): -o wide and the record. */ \
	{ "VERSION", "version", PT_UINT | PT_SHOW_WIDE },  \
	{ "ACTIVE", "active", PT_UINT },                   \
	{ "TERMINATING", "terminating", PT_UINT },         \
	{ "REV-NAT", "rev_nat", PT_UINT | PT_SHOW_WIDE },  \
	{ "REVISION", "revision", PT_UINT | PT_SHOW_WIDE }

static const struct pt_col svc_cols[] = { SVC_COLS };
/* service get: the live Maglev table's occupancy too. */
static const struct pt_col svc_get_cols[] = {
	SVC_COLS,
	{ "MAGLEV-TABLE", NULL, PT_STR }, /* "FILLED/SIZE", "-", or "missing" */
	{ NULL, "maglev_filled", PT_UINT },
	{ NULL, "maglev_size", PT_UINT },
	/* Entries naming a backend not in the live slots: the writer never leaves any. */
	{ "MAGLEV-STRAY", "maglev_stray", PT_UINT },
};
static const struct pt_col be_cols[] = {
	{ "SLOT", "slot", PT_UINT },
	{ "BACKEND-ID", "id", PT_UINT },
	{ "BACKEND", "backend", PT_STR },
	{ NULL, "address", PT_STR },
	{ NULL, "port", PT_UINT },
	{ "STATE", "state", PT_STR }, /* active, terminating, or missing (no such backend) */
	{ "MAGLEV", "maglev_entries", PT_UINT }, /* its entries in the live table */
};

static void svc_row(struct ptable *t, const struct svc_view *m, const struct svc_rec *r)
{
	char buf[160];
	struct xcni_svcname n;

	svc_addr_str(r->k.family, r->k.addr, r->k.port, buf, sizeof(buf));
	pt_strf(t, "%s/%s", buf, proto_name(r->k.proto) ?: "?");
	svcname_cols(t, m->name >= 0 && !bpf_map_lookup_elem(m->name, &r->v.id, &n) && n.name[0] ?
				&n : NULL);
	pt_ip(t, r->k.family, r->k.addr);
	pt_uint(t, ntohs(r->k.port));
	pt_proto(t, r->k.proto);
	pt_name(t, scope_name(r->k.scope), "%u", r->k.scope);
	pt_uint(t, r->v.id);
	pt_str(t, *svc_flags(&r->v, true, buf, sizeof(buf)) ? buf : NULL);
	pt_str(t, *svc_flags(&r->v, false, buf, sizeof(buf)) ? buf : NULL);
	pt_uint_if(t, r->v.flags & XCNI_SVC_F_AFFINITY, r->v.affinity_s);
	pt_uint(t, r->v.version);
	pt_uint(t, r->v.count);
	pt_uint(t, r->v.count_term);
	pt_uint(t, r->v.rev_nat);
	pt_uint(t, r->v.revision);
}

__u32 *svc_slot_ids(int slot_fd, const struct xcni_svc *v, size_t *n)
{
	size_t nslots = (size_t)v->count + v->count_term;
	__u32 *ids = calloc(nslots ? nslots : 1, sizeof(*ids));

	for (size_t s = 0; ids && s < nslots; s++) {
		struct xcni_svcslot_key k = { .svc_id = v->id, .slot = (__u16)s, .version = v->version };

		if (bpf_map_lookup_elem(slot_fd, &k, &ids[s]))
			ids[s] = 0;
	}
	*n = nslots;
	return ids;
}

/* Every address a service is about: its frontend's and its backends'. */
static bool svc_filter(const struct filter *f, const struct svc_view *m, const struct svc_rec *r)
{
	static const unsigned int groups[] = { OPT_IP | OPT_POD, OPT_NAMESPACE, OPT_IDENTITY, OPT_LABEL };
	size_t naddr = 0, nslots, i, g;
	__u32 *ids, *addrs;
	bool ok = true;

	if (!f->opts)
		return true;
	ids = svc_slot_ids(m->slot, &r->v, &nslots);
	addrs = calloc(nslots + 1, sizeof(*addrs));
	if (!addrs) {
		free(ids);
		return false;
	}
	if (r->k.family == XCNI_AF_INET)
		memcpy(&addrs[naddr++], r->k.addr, 4);
	for (i = 0; ids && i < nslots; i++) {
		struct xcni_backend b;

		if (ids[i] && !bpf_map_lookup_elem(m->be, &ids[i], &b) && b.family == XCNI_AF_INET)
			memcpy(&addrs[naddr++], b.addr, 4);
	}
	free(ids);
	/* Each filter given: some address of the service passes it. */
	for (g = 0; ok && g < ARRAY_SIZE(groups); g++) {
		struct filter one = *f;
		bool hit = false;

		if (!(f->opts & groups[g]))
			continue;
		one.opts = f->opts & groups[g];
		for (i = 0; i < naddr && !hit; i++) {
			struct frow row = { .addr = { xcni_prefix_host(addrs[i], NULL) }, .naddr = 1 };

			hit = filter_match(&one, &row);
		}
		ok = hit;
	}
	free(addrs);
	return ok;
}

/*
 * The namespaces whose Services the agent closed for room (not in the maps,
 * so not in the table): said on stderr, the table stays what the maps hold.
 */
static void svc_closed_say(const struct ctl_ctx *c)
{
	json_t *a = agent_answer(c), *v;
	size_t i;

	json_array_foreach(json_object_get(a, "services_closed"), i, v)
		fprintf(stderr, "namespace %s closed for Service room: %lld new or changed "
			"frontends not programmed (%s; %s)\n",
			json_string_value(json_object_get(v, "namespace")),
			json_integer_value(json_object_get(v, "frontends")), svc_closed_why(v),
			json_string_value(json_object_get(v, "fix")) ?: "xcnid --map-max");
	json_decref(a);
}

static int cmd_service_list(const struct ctl_ctx *c, char **argv)
{
	struct svc_rec *recs = NULL;
	struct svc_view m;
	struct ptable *t;
	struct filter f;
	size_t n, i;
	int err;

	(void)argv;
	if ((err = filter_open(c, &f, 0)))
		return err;
	if ((err = svc_maps_open(c, &m)))
		goto close_f;
	err = map_collect(m.svc, &m_svc, sizeof(*recs), offsetof(struct svc_rec, k),
			  offsetof(struct svc_rec, v), (void **)&recs, &n, svc_cmp);
	if (err)
		goto close;
	t = pt_new(svc_cols, ARRAY_SIZE(svc_cols), 0);
	for (i = 0; i < n; i++)
		if (svc_filter(&f, &m, &recs[i]))
			svc_row(t, &m, &recs[i]);
	err = show(c, t);
	/* What is not in the table because xcnid refused it (not in --json: one document). */
	if (!err && !c->json)
		agent_print_svc_refused(c, stdout);
	free(recs);
	svc_closed_say(c);
close:
	svc_view_close(&m);
close_f:
	filter_close(&f);
	return err;
}

static int check_service_get(char **argv)
{
	struct xcni_svcname n;
	struct xcni_svc_key k;

	return parse_service_arg(argv[0], &n, &k);
}

/*
 * Every frontend of Service n (every port and scope), sorted by key, as
 * svc_recs; -ENOENT (not said) when none, -errno.
 */
int svc_by_name(int svc_fd, int name_fd, const struct xcni_svcname *n, struct svc_rec **out,
		size_t *nout)
{
	struct svc_rec *recs = NULL;
	size_t nr, i, kept = 0;
	int err;

	*out = NULL;
	*nout = 0;
	if (name_fd < 0)
		return -ENOENT;
	err = map_collect(svc_fd, &m_svc, sizeof(*recs), offsetof(struct svc_rec, k),
			  offsetof(struct svc_rec, v), (void **)&recs, &nr, svc_cmp);
	if (err)
		return err;
	for (i = 0; i < nr; i++) {
		struct xcni_svcname got;

		if (!bpf_map_lookup_elem(name_fd, &recs[i].v.id, &got) &&
		    !strncmp(got.ns, n->ns, sizeof(got.ns)) &&
		    !strncmp(got.name, n->name, sizeof(got.name)))
			recs[kept++] = recs[i];
	}
	if (!kept) {
		free(recs);
		return -ENOENT;
	}
	*out = recs;
	*nout = kept;
	return 0;
}

/* Entries per backend id in a service's live Maglev table; -errno. */
struct mg_count {
	__u32 id, n;
};

static int maglev_read(const struct svc_view *m, const struct xcni_svc *v, struct mg_count **out,
		       size_t *nout, __u32 *filled, __u32 *size)
{
	__u32 key = xcni_maglev_key(v->id, v->version), inner_id, i, id;
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	struct mg_count *cnt = NULL;
	size_t n = 0, j;
	int fd, err = 0;

	*out = NULL;
	*nout = 0;
	if (m->maglev < 0 || bpf_map_lookup_elem(m->maglev, &key, &inner_id))
		return -ENOENT;
	fd = bpf_map_get_fd_by_id(inner_id);
	if (fd < 0)
		return -errno;
	if (bpf_map_get_info_by_fd(fd, &info, &len) || info.type != BPF_MAP_TYPE_ARRAY ||
	    info.key_size != 4 || info.value_size != 4) {
		err = -EPROTO;
		goto close;
	}
	*size = info.max_entries;
	*filled = 0;
	for (i = 0; i < info.max_entries; i++) {
		if (bpf_map_lookup_elem(fd, &i, &id)) {
			err = -errno;
			goto close;
		}
		if (!id)
			continue;
		(*filled)++;
		for (j = 0; j < n && cnt[j].id != id; j++)
			;
		if (j == n) {
			struct mg_count *p = realloc(cnt, (n + 1) * sizeof(*cnt));

			if (!p) {
				err = -ENOMEM;
				goto close;
			}
			cnt = p;
			cnt[n++] = (struct mg_count){ id, 0 };
		}
		cnt[j].n++;
	}
	*out = cnt;
	*nout = n;
	cnt = NULL;
close:
	free(cnt);
	close(fd);
	return err;
}

/* The record's Maglev columns: filled, size, and the entries of no backend of a slot. */
static void maglev_cols(struct ptable *rt, const __u32 *ids, size_t nslots,
			const struct mg_count *mg, size_t nmg, bool have_mg, __u32 filled,
			__u32 size)
{
	__u32 stray = 0;
	size_t s;

	if (!have_mg) {
		pt_nulls(rt, 3);
		return;
	}
	for (size_t j = 0; j < nmg; j++) {
		for (s = 0; ids && s < nslots && ids[s] != mg[j].id; s++)
			;
		if (!ids || s == nslots)
			stray += mg[j].n;
	}
	pt_uint(rt, filled);
	pt_uint(rt, size);
	pt_uint(rt, stray);
}

/* One row per slot: the backend it holds, and its Maglev entries when there is a table. */
static void backend_rows(struct ptable *bt, const struct svc_view *m, const __u32 *ids,
			 size_t nslots, const struct mg_count *mg, size_t nmg, bool have_mg)
{
	char buf[128];
	size_t j;

	for (size_t s = 0; ids && s < nslots; s++) {
		struct xcni_backend b;
		bool found = ids[s] && !bpf_map_lookup_elem(m->be, &ids[s], &b);

		pt_uint(bt, s);
		pt_uint_if(bt, ids[s], ids[s]);
		if (found) {
			pt_str(bt, svc_addr_str(b.family, b.addr, b.port, buf, sizeof(buf)));
			pt_ip(bt, b.family, b.addr);
			pt_uint(bt, ntohs(b.port));
			pt_str(bt, b.state == XCNI_BE_ACTIVE ? "active" :
				   b.state == XCNI_BE_TERMINATING ? "terminating" : "unknown");
		} else {
			pt_nulls(bt, 3);
			pt_str(bt, "missing");
		}
		for (j = 0; j < nmg && mg[j].id != ids[s]; j++)
			;
		pt_uint_if(bt, have_mg, j < nmg ? mg[j].n : 0);
	}
}

/* The record and its backends written (text, or one JSON object); both tables freed. */
static int service_print(const struct ctl_ctx *c, struct ptable *rt, struct ptable *bt, bool first)
{
	char *rj = NULL, *bj = NULL;
	int err = 0;

	if (!c->json) {
		if (!first)
			putchar('\n');
		if ((err = show(c, rt)) || (putchar('\n') == EOF && (err = -EIO))) {
			pt_free(bt);
			return err;
		}
		return show(c, bt);
	}
	if (!(rj = pt_json_string(rt, &err)) || !(bj = pt_json_string(bt, &err))) {
		pr_err("writing output: %s\n", strerror(-err));
	} else {
		/* The record's object with its backends as one more member. */
		rj[strlen(rj) - 1] = 0;
		printf("%s%s,\"backends\":%s}", first ? "" : ",", rj, bj);
	}
	pt_free(rt);
	pt_free(bt);
	free(rj);
	free(bj);
	return err;
}

/* One scope of a frontend: its record, then its backends. */
static int service_show(const struct ctl_ctx *c, const struct svc_view *m, const struct svc_rec *r,
			bool first)
{
	struct ptable *rt = pt_new(svc_get_cols, ARRAY_SIZE(svc_get_cols), PT_RECORD);
	struct ptable *bt = pt_new(be_cols, ARRAY_SIZE(be_cols), 0);
	struct mg_count *mg = NULL;
	__u32 filled = 0, size = 0, *ids;
	bool maglev = r->v.flags & XCNI_SVC_F_MAGLEV, have_mg = false;
	size_t nslots, nmg = 0;
	int err;

	if (maglev) {
		err = maglev_read(m, &r->v, &mg, &nmg, &filled, &size);
		if (err && err != -ENOENT)
			pr_warn("%s: the Maglev table of service %u: %s\n", m_maglev.name, r->v.id,
				strerror(-err));
		have_mg = !err;
	}
	svc_row(rt, m, r);
	if (!maglev)
		pt_null(rt);
	else if (have_mg)
		pt_strf(rt, "%u/%u", filled, size);
	else
		pt_str(rt, "missing");
	ids = svc_slot_ids(m->slot, &r->v, &nslots);
	maglev_cols(rt, ids, nslots, mg, nmg, have_mg, filled, size);
	backend_rows(bt, m, ids, nslots, mg, nmg, have_mg);
	free(mg);
	if (!ids) {
		pt_free(rt);
		pt_free(bt);
		return -ENOMEM;
	}
	free(ids);
	return service_print(c, rt, bt, first);
}

static int cmd_service_get(const struct ctl_ctx *c, char **argv)
{
	struct svc_rec r[2], *rp = r;
	struct xcni_svcname sn;
	struct svc_view m;
	size_t n = 0;
	int err;

	if ((err = parse_service_arg(argv[0], &sn, &r[0].k)))
		return err;
	if ((err = svc_maps_open(c, &m)))
		return err;
	if (sn.name[0]) {
		err = svc_by_name(m.svc, m.name, &sn, &rp, &n);
		if (err == -ENOENT)
			pr_err("no such Service in the maps: %s%s (xcnictl service list shows "
			       "them)\n", argv[0], m.name < 0 ? " (this agent's maps have no "
			       "Service names: give ADDR:PORT/PROTO)" : "");
		else if (err)
			pr_err("%s: %s\n", m_svc.name, strerror(-err));
		if (err)
			goto close;
		goto show;
	}
	/* Every frontend has its EXT entry, and an INT one when its scopes differ. */
	r[1].k = r[0].k;
	r[1].k.scope = XCNI_SCOPE_INT;
	for (unsigned int i = 0; i < 2; i++) {
		if (!bpf_map_lookup_elem(m.svc, &r[i].k, &r[n].v)) {
			r[n].k = r[i].k;
			n++;
		} else if (errno != ENOENT) {
			err = -errno;
			pr_err("%s: lookup: %s\n", m_svc.name, strerror(-err));
			goto close;
		}
	}
	if (!n) {
		err = pr_err_ret(-ENOENT, "no such frontend: %s (xcnictl service list shows "
				 "them)\n", argv[0]);
		goto close;
	}
show:
	if (c->json)
		putchar('[');
	for (size_t i = 0; i < n && !err; i++)
		err = service_show(c, &m, &rp[i], i == 0);
	if (c->json && !err && (puts("]") == EOF || fflush(stdout)))
		err = -EIO;
close:
	if (rp != r)
		free(rp);
	svc_view_close(&m);
	return err;
}

int fam_list(const struct ctl_ctx *c, const struct pt_col *cols, size_t ncols,
	     const struct fam_map m[2], fam_row_fn *row, void *priv)
{
	struct svcnames sn;
	struct filter f;
	struct fam_list l = { &f, &sn, xcni_mono_ns(), priv };
	struct ptable *t;
	int err = filter_open(c, &f, 0);

	if (err)
		return err;
	svcnames_open(c, &sn);
	t = pt_new(cols, ncols, 0);
	err = fam_rows(c, t, m, row, &l);
	svcnames_close(&sn);
	filter_close(&f);
	return show_read(c, t, err);
}

/* ---- service sockets: socket-level translations (xcni_sock_rn, _rn6) ---------- */

CTL_MAP(sock_rn, HASH, struct xcni_sock_rn_key, struct xcni_sock_rn, 0);

static CTL_MAP(sock_rn6, HASH, struct xcni_sock_rn6_key, struct xcni_sock_rn6, 0);

static const struct pt_col sock_cols[] = {
	{ "COOKIE", "cookie", PT_UINT },
	{ NULL, "family", PT_STR }, /* ipv4 or ipv6: which map the row is from */
	{ "BACKEND", "backend", PT_STR },
	{ "FRONTEND", "frontend", PT_STR },
	{ "SVC-NAME", NULL, PT_STR },
	{ NULL, "service_name", PT_STR },
	{ NULL, "port_name", PT_STR },
	/* The frontend's rev-NAT entry: "gone" once the Service lost that frontend,
	 * and then recvmsg/getpeername show the application the backend. */
	{ "REV-NAT", "rev_nat", PT_UINT },
	{ "REV-NAT-STATE", "rev_nat_state", PT_STR },
};

struct sock_rec {
	struct xcni_sock_rn_key k;
	struct xcni_sock_rn v;
};

static int sock_cmp(const void *a, const void *b)
{
	const struct xcni_sock_rn_key *x = &((const struct sock_rec *)a)->k;
	const struct xcni_sock_rn_key *y = &((const struct sock_rec *)b)->k;

	if (x->cookie != y->cookie)
		return x->cookie < y->cookie ? -1 : 1;
	return memcmp(&x->addr, &y->addr, sizeof(*x) - offsetof(struct xcni_sock_rn_key, addr));
}

struct sock6_rec {
	struct xcni_sock_rn6_key k;
	struct xcni_sock_rn6 v;
};

static int sock6_cmp(const void *a, const void *b)
{
	const struct xcni_sock_rn6_key *x = &((const struct sock6_rec *)a)->k;
	const struct xcni_sock_rn6_key *y = &((const struct sock6_rec *)b)->k;

	if (x->cookie != y->cookie)
		return x->cookie < y->cookie ? -1 : 1;
	return memcmp(x->addr, y->addr, sizeof(x->addr) + sizeof(x->port));
}

/*
 * One socket (rec: a sock_rec or sock6_rec) passing the filters: its backend
 * and frontend, and its rev-NAT entry's state. The two families' records
 * differ only in the addresses' size: the cookie, then the backend and its
 * port; the frontend, its port and the rev-NAT index.
 */
static void sock_row(struct ptable *t, __u8 fam, const void *rec, void *arg)
{
	const struct fam_list *l = arg;
	struct svcnames *sn = l->sn;
	size_t al = fam_len(fam), voff = fam == XCNI_AF_INET6 ? offsetof(struct sock6_rec, v) :
							       offsetof(struct sock_rec, v);
	const __u8 *k = rec, *v = k + voff;
	__u8 be[16] = {}, fe[16] = {};
	__u16 be_port, fe_port, rev_nat;
	struct xcni_svcname name;
	struct xcni_revnat rn;
	struct frow row = {};
	char buf[80];
	__u64 cookie;

	memcpy(&cookie, k, 8);
	memcpy(be, k + 8, al);
	memcpy(&be_port, k + 8 + al, 2);
	memcpy(fe, v, al);
	memcpy(&fe_port, v + al, 2);
	memcpy(&rev_nat, v + al + 2, 2);
	frow_addr(&row, fam, k + 8, al * 8);
	frow_addr(&row, fam, v, al * 8);
	if (!filter_match(l->f, &row))
		return;
	pt_uint(t, cookie);
	pt_str(t, fam == XCNI_AF_INET6 ? "ipv6" : "ipv4");
	pt_str(t, svc_addr_str(fam, be, be_port, buf, sizeof(buf)));
	pt_str(t, svc_addr_str(fam, fe, fe_port, buf, sizeof(buf)));
	svcname_cols(t, svcnames_name(sn, rev_nat, &name) ? &name : NULL);
	pt_uint(t, rev_nat);
	pt_str(t, sn->revnat_fd >= 0 && !bpf_map_lookup_elem(sn->revnat_fd, &rev_nat, &rn) ?
			  "live" : "gone");
}

_Static_assert(offsetof(struct xcni_sock_rn_key, port) == 12 &&
		       offsetof(struct xcni_sock_rn6_key, port) == 24 &&
		       offsetof(struct xcni_sock_rn, rev_nat) == 6 &&
		       offsetof(struct xcni_sock_rn6, rev_nat) == 18,
	       "socket records: the cookie, then the addresses and ports");

static int cmd_service_sockets(const struct ctl_ctx *c, char **argv)
{
	static const struct fam_map m[2] = {
		FAM_MAP(m_sock_rn, sock_rec, k, v, sock_cmp, XCNI_AF_INET),
		FAM_MAP(m_sock_rn6, sock6_rec, k, v, sock6_cmp, XCNI_AF_INET6),
	};

	(void)argv;
	return fam_list(c, sock_cols, ARRAY_SIZE(sock_cols), m, sock_row, NULL);
}

const struct cmd service_cmds[] = {
	{ "service", "list", cmd_service_list, 0, OPT_FILTERS, "[filters]",
	  "List the Service frontends the data plane translates.", NULL },
	{ "service", "get", cmd_service_get, 1, 0, "ADDR:PORT/PROTO|svc/NS/NAME",
	  "Show one frontend, each scope it has, with its backends.",
	  check_service_get },
	{ "service", "sockets", cmd_service_sockets, 0, OPT_FILTERS, "[filters]",
	  "List the sockets socket-level load balancing gave a backend.", NULL },
	{}
};
