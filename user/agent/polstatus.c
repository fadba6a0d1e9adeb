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
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/polstatus.h"
#include "lib/cluster/k8sreq.h"
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
	char uid[64], api[64]; /* metadata.uid and apiVersion: the Event's involvedObject */
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
		int64_t ns, ms = t && !xcni_rfc3339_parse(t, &ns) ? ns / 1000000 : 0;

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
			snprintf(r->uid, sizeof(r->uid), "%s", json_string_value(json_object_get(
				 json_object_get(o->raw, "metadata"), "uid")) ?: "");
			snprintf(r->api, sizeof(r->api), "%s", json_string_value(json_object_get(
				 o->raw, "apiVersion")) ?: "");
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

/* ---- the Event of a version in force (polstatus_events) ------------------- */

/* One policy version applied here, for the poster thread. */
struct ev_job {
	char kind[32], ns[254], name[254], uid[64], api[64], version[17];
	int64_t change_ms, applied_ms;
	unsigned int nodes; /* the cluster's Nodes when it was applied (0: none known) */
};
/*
 * Policies waiting for the API server at most: a policy holds one place, its
 * newest version (one changed again before its turn is reported at its newest
 * only); past this many policies waiting, a version is dropped, counted.
 */
#define EV_QUEUE 256
/*
 * The API server is shared: this agent's Event requests (GETs, POSTs, PUTs,
 * retries) are EV_RATE a second at most after EV_BURST at once, whatever the
 * policy churn (docs/decisions/policy-events.md): N nodes, N * EV_RATE.
 */
#define EV_RATE 2
#define EV_BURST 10
/* The node names an Event's message shows; the annotation holds them all. */
#define EV_NAMES 5

static struct {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct ev_job q[EV_QUEUE];
	size_t head, n;
	bool on, said; /* said: a refusal logged (once, until a write succeeds) */
	struct k8s_api_conf conf;
	uint64_t tat; /* the request bucket's theoretical arrival time (ns, monotonic) */
	uint64_t posted, dropped, failed, coalesced, requests;
} ev_ = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

/*
 * How long (ns) the next request must wait at now_ns for the agent's bucket
 * (0: it may go, and is charged).
 */
static uint64_t ev_bucket(uint64_t now_ns)
{
	const uint64_t iv = 1000000000ull / EV_RATE, burst = iv * (EV_BURST - 1);
	uint64_t tat = ev_.tat > now_ns ? ev_.tat : now_ns;

	if (tat > now_ns + burst)
		return tat - now_ns - burst;
	ev_.tat = tat + iv;
	return 0;
}

/* One request of the poster, after the bucket let it go. */
static int ev_request(const char *method, const char *path, json_t *body, struct k8s_resp *r)
{
	uint64_t wait;

	while ((wait = ev_bucket(xcni_mono_ns())))
		nanosleep(&(struct timespec){ .tv_sec = wait / 1000000000ull,
					     .tv_nsec = wait % 1000000000ull }, NULL);
	ev_.requests++;
	return k8s_request(&ev_.conf, method, path, body, 5000, r);
}

/* "a,b" holds node? */
static bool csv_has(const char *csv, const char *node)
{
	size_t l = strlen(node);

	for (const char *p = csv; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (!strncmp(p, node, l) && (p[l] == ',' || !p[l]))
			return true;
	return false;
}

static void rfc3339(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/*
 * The message of a version in force on `have` of the Nodes: the first
 * EV_NAMES names of the list and how many more (the whole list is the
 * annotation xcni.io/nodes).
 */
static void ev_message(const struct ev_job *j, const char *nodes, unsigned int have,
		       int64_t change, int64_t applied, char *msg, size_t len)
{
	const char *p = nodes;
	char after[64] = "";
	int shown;

	for (unsigned int i = 0; i < EV_NAMES && p; i++)
		p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL;
	shown = p ? (int)(p - nodes - 1) : (int)strlen(nodes);
	if (j->nodes && have >= j->nodes)
		snprintf(after, sizeof(after), ", %.3f s after the change",
			 (double)(applied - change) / 1000.0);
	snprintf(msg, len, "enforced on %u/%u nodes%s (version %s: %.*s%s%.0u%s)", have,
		 j->nodes && j->nodes > have ? j->nodes : have, after, j->version, shown, nodes,
		 p ? " and " : "", p ? have - EV_NAMES : 0, p ? " more" : "");
}

/*
 * The version's one Event (named after the policy and the version: every
 * agent finds the same) made, or this node added to it: its message says on
 * how many of the cluster's nodes the version is in force, and once on all,
 * how long after the change the last one applied it. Optimistic: an update
 * that lost a race (409) is read and tried again. 0 or -errno.
 */
static int ev_post(const struct ev_job *j)
{
	char path[700], ename[300], msg[1200], ts[32], num[24];
	const char *ns = j->ns[0] ? j->ns : "default";
	char *ens = k8s_escape(ns), *een, *nodes = NULL;
	int err = -EIO;

	snprintf(ename, sizeof(ename), "%.200s.xcni-%s", j->name, j->version);
	een = k8s_escape(ename);
	for (int tries = 0; ens && een && tries < 5; tries++) {
		struct k8s_resp r = {};
		json_t *ev, *ann;
		const char *had;
		int64_t change = j->change_ms, applied = j->applied_ms;
		unsigned int have;
		bool made;

		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events/%s", ens, een);
		if (ev_request("GET", path, NULL, &r) || (r.status != 200 && r.status != 404)) {
			if (!ev_.said)
				pr_warn("policy Event %s/%s: GET: %ld %s (said once until one is "
					"written)\n", ns, ename, r.status, r.err);
			ev_.said = true;
			k8s_resp_free(&r);
			break;
		}
		made = r.status == 200;
		ev = made ? json_incref(r.body) : json_object();
		k8s_resp_free(&r);
		ann = json_object_get(json_object_get(ev, "metadata"), "annotations");
		had = json_string_value(json_object_get(ann, "xcni.io/nodes")) ?: "";
		if (made && csv_has(had, ps_.node)) {
			json_decref(ev);
			err = 0;
			break;
		}
		if (made) {
			int64_t c = atoll(json_string_value(json_object_get(ann, "xcni.io/change-ms")) ?: "0");
			int64_t a = atoll(json_string_value(json_object_get(ann, "xcni.io/applied-ms")) ?: "0");

			if (c && c < change)
				change = c;
			if (a > applied)
				applied = a;
		}
		/* The whole list (no cut: a list cut short never reaches M). */
		free(nodes);
		if (asprintf(&nodes, "%s%s%s", had, had[0] ? "," : "", ps_.node) < 0) {
			nodes = NULL;
			json_decref(ev);
			err = -ENOMEM;
			break;
		}
		have = 1;
		for (const char *p = nodes; (p = strchr(p, ',')); p++)
			have++;
		ev_message(j, nodes, have, change, applied, msg, sizeof(msg));
		rfc3339(applied, ts, sizeof(ts));
		if (!made) {
			json_object_set_new(ev, "apiVersion", json_string("v1"));
			json_object_set_new(ev, "kind", json_string("Event"));
			json_object_set_new(ev, "metadata", json_pack("{s:s,s:s,s:{}}", "name", ename,
					    "namespace", ns, "annotations"));
			json_object_set_new(ev, "involvedObject",
					    json_pack("{s:s,s:s,s:s?,s:s,s:s?}", "apiVersion", j->api,
						      "kind", j->kind, "namespace",
						      j->ns[0] ? j->ns : NULL, "name", j->name, "uid",
						      j->uid[0] ? j->uid : NULL));
			json_object_set_new(ev, "reason", json_string("Enforced"));
			json_object_set_new(ev, "type", json_string("Normal"));
			json_object_set_new(ev, "source", json_pack("{s:s}", "component", "xcni"));
			json_object_set_new(ev, "reportingComponent", json_string("xcni"));
			json_object_set_new(ev, "firstTimestamp", json_string(ts));
		}
		ann = json_object_get(json_object_get(ev, "metadata"), "annotations");
		if (!ann) {
			ann = json_object();
			json_object_set_new(json_object_get(ev, "metadata"), "annotations", ann);
		}
		json_object_set_new(ann, "xcni.io/nodes", json_string(nodes));
		snprintf(num, sizeof(num), "%lld", (long long)change);
		json_object_set_new(ann, "xcni.io/change-ms", json_string(num));
		snprintf(num, sizeof(num), "%lld", (long long)applied);
		json_object_set_new(ann, "xcni.io/applied-ms", json_string(num));
		json_object_set_new(ev, "message", json_string(msg));
		json_object_set_new(ev, "count", json_integer(have));
		json_object_set_new(ev, "lastTimestamp", json_string(ts));
		json_object_set_new(ev, "reportingInstance", json_string(ps_.node));
		if (!made)
			snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events", ens);
		err = ev_request(made ? "PUT" : "POST", path, ev, &r);
		json_decref(ev);
		if (!err && (r.status == 200 || r.status == 201)) {
			k8s_resp_free(&r);
			ev_.said = false;
			break;
		}
		/* 409: another node wrote it first (made, or updated): read it again. */
		if (!err && r.status != 409 && !ev_.said)
			pr_warn("policy Event %s/%s: %s: %ld %s (said once until one is written)\n",
				ns, ename, made ? "PUT" : "POST", r.status, r.err);
		ev_.said |= !err && r.status != 409;
		err = !err && r.status == 409 ? -EAGAIN : -EIO;
		k8s_resp_free(&r);
		if (err != -EAGAIN)
			break;
	}
	free(nodes);
	free(ens);
	free(een);
	return err;
}

/* The next policy waiting, posted; called with ev_.mu held, returns with it held. */
static void ev_drain_one(void)
{
	struct ev_job j = ev_.q[ev_.head];
	int err;

	ev_.head = (ev_.head + 1) % EV_QUEUE;
	ev_.n--;
	pthread_mutex_unlock(&ev_.mu);
	err = ev_post(&j);
	pthread_mutex_lock(&ev_.mu);
	if (err)
		ev_.failed++;
	else
		ev_.posted++;
}

static void *ev_thread(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&ev_.mu);
	for (;;) {
		while (!ev_.n)
			pthread_cond_wait(&ev_.cv, &ev_.mu);
		ev_drain_one();
	}
	return NULL;
}

int polstatus_events(const char *kubeconfig)
{
	int err;

	if (ev_.on)
		return 0;
	err = kubeconfig ? k8s_api_conf_kubeconfig(kubeconfig, &ev_.conf) :
			   k8s_api_conf_in_cluster(&ev_.conf);

	if (!err && (err = -pthread_create(&ev_.th, NULL, ev_thread, NULL)))
		k8s_api_conf_free(&ev_.conf);
	if (err)
		pr_warn("policy Events: none posted: %s\n", strerror(-err));
	else
		pthread_detach(ev_.th);
	ev_.on = !err;
	return err;
}

/*
 * A version newly applied here, for its Event (not one held at the agent's
 * start): in the policy's place when an older version still waits there.
 */
static void ev_queue(const struct polrec *r, unsigned int nodes)
{
	const char *kind = k8s_kind_name(r->kind);
	struct ev_job *j = NULL;

	if (!ev_.on || r->initial)
		return;
	pthread_mutex_lock(&ev_.mu);
	for (size_t i = 0; i < ev_.n && !j; i++) {
		struct ev_job *q = &ev_.q[(ev_.head + i) % EV_QUEUE];

		if (!strcmp(q->kind, kind) && !strcmp(q->ns, r->ns) && !strcmp(q->name, r->name))
			j = q;
	}
	if (j)
		ev_.coalesced++;
	else if (ev_.n == EV_QUEUE) {
		ev_.dropped++;
		pthread_mutex_unlock(&ev_.mu);
		return;
	} else
		j = &ev_.q[(ev_.head + ev_.n++) % EV_QUEUE];
	snprintf(j->kind, sizeof(j->kind), "%s", kind);
	snprintf(j->ns, sizeof(j->ns), "%s", r->ns);
	snprintf(j->name, sizeof(j->name), "%s", r->name);
	snprintf(j->uid, sizeof(j->uid), "%s", r->uid);
	snprintf(j->api, sizeof(j->api), "%s", r->api);
	snprintf(j->version, sizeof(j->version), "%016llx", (unsigned long long)r->digest);
	j->change_ms = r->change_ms ? r->change_ms : r->seen_ms;
	j->applied_ms = r->applied_ms;
	j->nodes = nodes;
	pthread_cond_signal(&ev_.cv);
	pthread_mutex_unlock(&ev_.mu);
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
			ev_queue(r, (unsigned int)c.n[K8S_NODE]);
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
	if (ev_.on) {
		pthread_mutex_lock(&ev_.mu);
		fprintf(f, "# HELP xcni_policy_events_total Events \"enforced on N/M nodes\" this "
			   "agent wrote on a policy version (result: posted, failed, dropped: its "
			   "queue of %d policies was full; coalesced: a newer version took a waiting "
			   "one's place).\n"
			   "# TYPE xcni_policy_events_total counter\n"
			   "xcni_policy_events_total{result=\"posted\"} %llu\n"
			   "xcni_policy_events_total{result=\"failed\"} %llu\n"
			   "xcni_policy_events_total{result=\"dropped\"} %llu\n"
			   "xcni_policy_events_total{result=\"coalesced\"} %llu\n"
			   "# HELP xcni_policy_event_requests_total Requests to the API server for "
			   "those Events (at most %d a second after %d at once).\n"
			   "# TYPE xcni_policy_event_requests_total counter\n"
			   "xcni_policy_event_requests_total %llu\n", EV_QUEUE,
			(unsigned long long)ev_.posted, (unsigned long long)ev_.failed,
			(unsigned long long)ev_.dropped, (unsigned long long)ev_.coalesced, EV_RATE,
			EV_BURST, (unsigned long long)ev_.requests);
		pthread_mutex_unlock(&ev_.mu);
	}
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
