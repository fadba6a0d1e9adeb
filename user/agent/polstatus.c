// SPDX-License-Identifier: Apache-2.0
/*
 * When each policy is in force on this node: see polstatus.h.
 *
 * A version is told apart by its document: the store hands a new json_t for
 * a changed object, and a record holds a reference to the one it saw, so a
 * pointer compare is the common case; a new document is digested (its spec,
 * keys sorted) only then, and an equal digest (a re-list of the same object)
 * is no change. Policies unchanged since the last sync cost one lookup each.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/polstatus.h"
#include "lib/cluster/store.h"
#include "lib/observe/agentstatus.h"
#include "lib/policy/polsync.h"
#include "lib/system/clock.h"
#include "lib/system/hmap.h"
#include "lib/system/log.h"

struct polrec {
	char key[600];       /* "Kind/ns/name": the map's key */
	enum k8s_kind kind;
	char ns[254], name[254];
	json_t *raw;         /* the document last seen: a reference held */
	uint64_t digest;     /* of its spec */
	uint64_t gen;        /* the generation that brought this version */
	int64_t change_ms;   /* its managedFields' latest time; 0: the object has none */
	int64_t seen_ms;     /* when this agent first compiled this version */
	int64_t applied_ms;  /* when a generation holding it reached the maps; 0: not yet */
	bool initial;        /* held at the agent's first sync: no change time to measure */
	unsigned round;
};

/* xcni_policy_apply_seconds' buckets (seconds). */
static const double apply_le[] = { 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60 };
#define NLE (sizeof(apply_le) / sizeof(apply_le[0]))

static struct {
	char path[128], node[64];
	struct hmap recs;
	unsigned round;
	bool first_done, failed;
	uint64_t gen, failed_gen;
	uint64_t buckets[NLE + 1], count;
	double sum;
} ps_;

int polstatus_open(const char *pin_dir, const char *node)
{
	int err = agent_status_policy_path(pin_dir, ps_.path, sizeof(ps_.path));

	if (err) {
		pr_err("policy status file for %s: %s\n", pin_dir, strerror(-err));
		return err;
	}
	snprintf(ps_.node, sizeof(ps_.node), "%s", node ? node : "");
	return hmap_init(&ps_.recs, true, 64);
}

/* The latest metadata.managedFields[].time (RFC 3339, seconds), ms; 0: none. */
static int64_t change_time(json_t *raw)
{
	json_t *mf = json_object_get(json_object_get(raw, "metadata"), "managedFields"), *e;
	int64_t best = 0;
	size_t i;

	json_array_foreach(mf, i, e) {
		const char *t = json_string_value(json_object_get(e, "time"));
		struct tm tm = { 0 };
		const char *end = t ? strptime(t, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
		int64_t ms = end ? (int64_t)timegm(&tm) * 1000 : 0;

		if (ms > best)
			best = ms;
	}
	return best;
}

static uint64_t spec_digest(json_t *raw)
{
	char *s = json_dumps(json_object_get(raw, "spec"), JSON_COMPACT | JSON_SORT_KEYS);
	uint64_t h = xcni_fnv64_str(XCNI_FNV64_BASIS, s ? s : "");

	free(s);
	return h;
}

static void observe(const struct polrec *r)
{
	double s = (double)(r->applied_ms - (r->change_ms ? r->change_ms : r->seen_ms)) / 1000.0;
	size_t i = 0;

	if (s < 0)
		s = 0;
	while (i < NLE && s > apply_le[i])
		i++;
	ps_.buckets[i]++;
	ps_.count++;
	ps_.sum += s;
}

/* One policy of the store: its record found or made, a new version noted. */
static bool note(const struct k8s_object *o, uint64_t gen, int64_t now)
{
	char key[600];
	struct polrec *r;
	uint64_t h;
	bool changed = false;

	snprintf(key, sizeof(key), "%s/%s/%s", k8s_kind_name(o->kind), o->meta.ns ? o->meta.ns : "",
		 o->meta.name ? o->meta.name : "");
	h = hstr(key);
	r = hmap_get(&ps_.recs, h, (uintptr_t)key);
	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r || hmap_put(&ps_.recs, h, (uintptr_t)r->key, r)) {
			free(r);
			return false;
		}
		snprintf(r->key, sizeof(r->key), "%s", key);
		snprintf(r->ns, sizeof(r->ns), "%s", o->meta.ns ? o->meta.ns : "");
		snprintf(r->name, sizeof(r->name), "%s", o->meta.name ? o->meta.name : "");
		r->kind = o->kind;
		r->initial = !ps_.first_done;
	}
	r->round = ps_.round;
	if (r->raw != o->raw) {
		uint64_t d = spec_digest(o->raw);

		if (!r->raw || d != r->digest) {
			r->digest = d;
			r->gen = gen;
			r->seen_ms = now;
			r->applied_ms = 0;
			r->change_ms = change_time(o->raw);
			changed = true;
		}
		json_incref(o->raw);
		json_decref(r->raw);
		r->raw = o->raw;
	}
	return changed;
}

static json_t *closed_json(const struct polsync *ps)
{
	json_t *o = json_object();
	const struct polsync_over *ov;
	size_t n = 0;

	ov = ps && o ? polsync_overflows(ps, &n) : NULL;
	for (size_t i = 0; i < n; i++) {
		const char *ns = ov[i].pod && ov[i].pod->meta.ns ? ov[i].pod->meta.ns : "";

		json_object_set_new(o, ns, json_integer(json_integer_value(json_object_get(o, ns)) + 1));
	}
	return o;
}

static void write_file(const struct polsync *ps)
{
	char tmp[sizeof(ps_.path) + 8];
	json_t *doc, *a = json_array();
	int fd;

	hmap_each(&ps_.recs, sl) {
		const struct polrec *r = sl->v;
		char v[17];

		snprintf(v, sizeof(v), "%016llx", (unsigned long long)r->digest);
		json_array_append_new(a, json_pack("{s:s,s:s?,s:s,s:s,s:I,s:I,s:I,s:I}", "kind",
						   k8s_kind_name(r->kind), "namespace",
						   r->ns[0] ? r->ns : NULL, "name", r->name, "version", v,
						   "generation", (json_int_t)r->gen, "seen_ms",
						   (json_int_t)r->seen_ms, "applied_ms",
						   (json_int_t)r->applied_ms, "change_ms",
						   (json_int_t)r->change_ms));
	}
	doc = json_pack("{s:s,s:i,s:I,s:I,s:I,s:o,s:o}", "node", ps_.node, "pid", (int)getpid(),
			"generation", (json_int_t)ps_.gen, "failed_generation",
			(json_int_t)(ps_.failed ? ps_.failed_gen : 0), "written_ms",
			(json_int_t)(xcni_wall_ns() / 1000000), "closed", closed_json(ps), "policies",
			a);
	snprintf(tmp, sizeof(tmp), "%s.tmp", ps_.path);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 || !doc || json_dumpfd(doc, fd, JSON_COMPACT) || fsync(fd) ||
	    rename(tmp, ps_.path))
		pr_warn("writing %s: %s\n", ps_.path, strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	json_decref(doc);
}

void polstatus_synced(struct store *st, const struct polsync *ps, uint64_t gen, bool ok,
		      int64_t started_ms)
{
	static const enum k8s_kind kinds[] = { K8S_NETWORKPOLICY, K8S_CLUSTERNETPOL };
	int64_t now = xcni_wall_ns() / 1000000;
	struct polrec **gone;
	struct cluster c;
	size_t ngone = 0;
	bool dirty = ok != !ps_.failed || !ps_.first_done;

	if (!ps_.path[0])
		return;
	store_view(st, &c);
	ps_.round++;
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
		for (size_t i = 0; i < c.n[kinds[k]]; i++)
			dirty |= note(c.objs[kinds[k]][i], gen, started_ms);
	/* Gone from the store: their records too (collected first: a delete shifts the map). */
	gone = calloc(ps_.recs.n ? ps_.recs.n : 1, sizeof(*gone));
	hmap_each(&ps_.recs, sl) if (gone && ((struct polrec *)sl->v)->round != ps_.round)
		gone[ngone++] = sl->v;
	for (size_t i = 0; i < ngone; i++) {
		hmap_del(&ps_.recs, hstr(gone[i]->key), (uintptr_t)gone[i]->key);
		json_decref(gone[i]->raw);
		free(gone[i]);
		dirty = true;
	}
	free(gone);
	hmap_each(&ps_.recs, sl) {
		struct polrec *r = sl->v;

		if (ok && !r->applied_ms) {
			r->applied_ms = now;
			if (!r->initial)
				observe(r);
			dirty = true;
		}
	}
	if (ok)
		ps_.gen = gen;
	else
		ps_.failed_gen = gen;
	ps_.failed = !ok;
	ps_.first_done = true;
	if (dirty)
		write_file(ps);
}

void polstatus_metrics(FILE *f)
{
	uint64_t cum = 0;

	fprintf(f, "# HELP xcni_policy_apply_seconds Time from a NetworkPolicy or "
		   "ClusterNetworkPolicy change to this node's maps: from the object's "
		   "managedFields time (seconds) where it has one, else from the sync that first "
		   "compiled it (xcnictl policy status shows every node's).\n"
		   "# TYPE xcni_policy_apply_seconds histogram\n");
	for (size_t i = 0; i < NLE; i++) {
		cum += ps_.buckets[i];
		fprintf(f, "xcni_policy_apply_seconds_bucket{le=\"%g\"} %llu\n", apply_le[i],
			(unsigned long long)cum);
	}
	fprintf(f, "xcni_policy_apply_seconds_bucket{le=\"+Inf\"} %llu\n"
		   "xcni_policy_apply_seconds_sum %.3f\n"
		   "xcni_policy_apply_seconds_count %llu\n",
		(unsigned long long)ps_.count, ps_.sum, (unsigned long long)ps_.count);
}

void polstatus_close(void)
{
	hmap_each(&ps_.recs, sl) {
		struct polrec *r = sl->v;

		json_decref(r->raw);
		free(r);
	}
	hmap_free(&ps_.recs);
	if (ps_.path[0])
		unlink(ps_.path);
	ps_.path[0] = '\0';
}
