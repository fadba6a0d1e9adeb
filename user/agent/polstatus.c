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
#include "lib/system/util.h"

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

	if (err)
		return pr_err_ret(err, "policy status file for %s: %s\n", pin_dir, strerror(-err));
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
	xcni_close(&fd);
	unlink(tmp);
	json_decref(doc);
}

/* ---- the Event of a version in force: one writer (polstatus_events) -------- */

/*
 * Each agent says which versions it applied in a Lease only it writes
 * (namespace EV_NS, "applied.NODE", annotation xcni.io/applied: the versions
 * applied, or changed, in the last EV_WINDOW_MS, as "KEY:APPLIED_MS,...");
 * the holder of the Lease EV_NS/xcni-policy-events lists those Leases and
 * writes each version's one Event. Why, and the numbers:
 * docs/decisions/policy-events.md.
 */
#define EV_NS "xcni"
#define EV_LEASES "/apis/coordination.k8s.io/v1/namespaces/" EV_NS "/leases"
#define EV_TICK_MS 1000     /* a report written, the reports read: at most this often */
#define EV_WINDOW_MS 30000  /* a version is reported (and waits for its Event) this long */
#define EV_PARTIAL_MS 5000  /* not on every node by then: its Event says who is missing */
#define EV_REPORT 2048      /* versions a report holds at most (~30 bytes each), newest */
#define EV_LEASE_S 15       /* the writer's Lease: lost when not renewed this long */
#define EV_RENEW_MS 5000    /* the writer renews (others look) while versions wait */
/* Versions waiting at most (one place a policy: its newest); more dropped, counted. */
#define EV_QUEUE 256
/*
 * The API server is shared: all of this agent's requests for Events and
 * reports are EV_RATE a second at most after EV_BURST at once, whatever the
 * churn.
 */
#define EV_RATE 5
#define EV_BURST 20
/* The node names an Event's message shows; its annotations hold them all. */
#define EV_NAMES 5

/* One policy version applied here. */
struct ev_job {
	char kind[32], ns[64], name[254], uid[64], api[64], version[17], vkey[17];
	int64_t change_ms, applied_ms, queued_ms;
	unsigned int have; /* nodes its Event said when this agent wrote it (0: not yet) */
	char rv[32];       /* that Event's resourceVersion */
};

enum { EVR_REPORT, EVR_ELECT, EVR_LIST, EVR_EVENT, EVR_N };
static const char *const evr_names[EVR_N] = { "report", "elect", "list", "event" };

/* One agent's poster (the test runs many in one process). */
struct ev_agent {
	char node[64], node_uid[64];
	/* Given by the compile loop under ev_.mu: */
	struct ev_job in[EV_QUEUE];
	size_t nin;
	char *report, *nodes; /* the versions applied here; the cluster's Node names, ',' apart */
	/* The poster's own: */
	struct ev_job q[EV_QUEUE];
	size_t n;
	char *rep, *sent, *names; /* the report; what its Lease holds; the Node names */
	bool leader;
	char lrv[32];       /* the writer's Lease as last seen, */
	int64_t lseen_ms;   /* since when (this agent's clock) */
	int64_t looked_ms, elect_ms; /* the last look at it, the next */
	int64_t busy_ms;    /* the newest version taken in */
	uint64_t tat;       /* the request bucket's theoretical arrival time (ns, monotonic) */
	uint64_t posted, failed, dropped, coalesced, req[EVR_N];
};

static struct {
	pthread_t th;
	pthread_mutex_t mu;
	bool on, said; /* said: a refusal logged (once, until a request succeeds) */
	struct k8s_api_conf conf;
	struct ev_agent *a;
} ev_ = { .mu = PTHREAD_MUTEX_INITIALIZER };

/*
 * How long (ns) the next request must wait at now_ns for the agent's bucket
 * (0: it may go, and is charged).
 */
static uint64_t ev_bucket(struct ev_agent *a, uint64_t now_ns)
{
	const uint64_t iv = 1000000000ull / EV_RATE, burst = iv * (EV_BURST - 1);
	uint64_t tat = a->tat > now_ns ? a->tat : now_ns;

	if (tat > now_ns + burst)
		return tat - now_ns - burst;
	a->tat = tat + iv;
	return 0;
}

/* One request of the poster, after the bucket let it go; counted by what. */
static int ev_request(struct ev_agent *a, int what, const char *method, const char *path,
		      json_t *body, struct k8s_resp *r)
{
	uint64_t wait;
	int err;

	while ((wait = ev_bucket(a, xcni_mono_ns())))
		nanosleep(&(struct timespec){ .tv_sec = wait / 1000000000ull,
					     .tv_nsec = wait % 1000000000ull }, NULL);
	a->req[what]++;
	err = k8s_request(&ev_.conf, method, path, body, 5000, r);
	if ((err || r->status >= 400) && r->status != 404 && r->status != 409 && !ev_.said)
		pr_warn("policy Events: %s %s: %ld %s (said once until a request succeeds)\n",
			method, path, r->status, r->err);
	ev_.said = err || (r->status >= 400 && r->status != 404 && r->status != 409);
	return err;
}

/* The report's name for a version: a digest of the policy's key and version. */
static void ev_vkey(const char *key, uint64_t digest, char out[17])
{
	char v[17];

	snprintf(v, sizeof(v), "%016llx", (unsigned long long)digest);
	snprintf(out, 17, "%016llx", (unsigned long long)xcni_fnv64_str(hstr(key), v));
}

/* Node names onto *s (',' apart): EV_NAMES of them, then "and K more". */
static void ev_names(const char *csv, unsigned int total, char *s, size_t len)
{
	const char *p = csv;
	int shown;

	for (unsigned int i = 0; i < EV_NAMES && p; i++)
		p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL;
	shown = p ? (int)(p - csv - 1) : (int)strlen(csv);
	snprintf(s, len, "%.*s%s%.0u%s", shown, csv, p ? " and " : "", p ? total - EV_NAMES : 0,
		 p ? " more" : "");
}

/*
 * The version's one Event (named after the policy and the version) made or
 * updated by the writer: on `have` of the Nodes, the whole lists in its
 * annotations (xcni.io/nodes, xcni.io/missing), the message naming a few.
 * A POST that finds it made (an earlier writer) or a PUT that lost (409)
 * reads it and tries again. 0 or -errno.
 */
static int ev_write(struct ev_agent *a, struct ev_job *j, const char *on, const char *off,
		    unsigned int have, unsigned int m, int64_t applied)
{
	char path[700], ename[300], msg[1400], ts[40], num[24], names[1100];
	const char *ns = j->ns[0] ? j->ns : "default";
	char *ens = k8s_escape(ns), *een;
	int err = -EIO;

	snprintf(ename, sizeof(ename), "%.200s.xcni-%s", j->name, j->version);
	een = k8s_escape(ename);
	if (have >= m) {
		ev_names(on, have, names, sizeof(names));
		snprintf(msg, sizeof(msg), "enforced on %u/%u nodes, %.3f s after the change "
			 "(version %s: %s)", have, m, (double)(applied - j->change_ms) / 1000.0,
			 j->version, names);
	} else {
		ev_names(off, m - have, names, sizeof(names));
		snprintf(msg, sizeof(msg), "enforced on %u/%u nodes (version %s; missing: %s)",
			 have, m, j->version, names);
	}
	for (int tries = 0; ens && een && tries < 3; tries++) {
		struct k8s_resp r = {};
		json_t *ev, *md;
		bool made = j->rv[0];

		xcni_rfc3339_fmt(applied * 1000000, 0, ts, sizeof(ts));
		md = json_pack("{s:s,s:s,s:{s:s,s:s,s:s,s:s}}", "name", ename, "namespace", ns,
			       "annotations", "xcni.io/nodes", on, "xcni.io/missing", off,
			       "xcni.io/change-ms", (snprintf(num, sizeof(num), "%lld",
							     (long long)j->change_ms), num),
			       "xcni.io/writer", a->node);
		if (made)
			json_object_set_new(md, "resourceVersion", json_string(j->rv));
		ev = json_pack("{s:o,s:s,s:s,s:{s:s,s:s,s:s?,s:s,s:s?},s:s,s:s,s:{s:s},s:s,s:s,s:s,s:s,"
			       "s:s,s:I}", "metadata", md, "apiVersion", "v1", "kind", "Event",
			       "involvedObject", "apiVersion", j->api, "kind", j->kind, "namespace",
			       j->ns[0] ? j->ns : NULL, "name", j->name, "uid", j->uid[0] ? j->uid : NULL,
			       "reason", "Enforced", "type", "Normal", "source", "component", "xcni",
			       "reportingComponent", "xcni", "reportingInstance", a->node,
			       "firstTimestamp", ts, "lastTimestamp", ts, "message", msg, "count",
			       (json_int_t)have);
		if (made)
			snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events/%s", ens, een);
		else
			snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events", ens);
		err = ev_request(a, EVR_EVENT, made ? "PUT" : "POST", path, ev, &r);
		json_decref(ev);
		if (!err && (r.status == 200 || r.status == 201)) {
			snprintf(j->rv, sizeof(j->rv), "%s", json_string_value(json_object_get(
				 json_object_get(r.body, "metadata"), "resourceVersion")) ?: "");
			k8s_resp_free(&r);
			j->have = have;
			break;
		}
		err = !err && r.status == 409 ? -EAGAIN : -EIO;
		k8s_resp_free(&r);
		if (err != -EAGAIN)
			break;
		/* Made by another (an earlier writer), or changed since: its version read. */
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events/%s", ens, een);
		if (ev_request(a, EVR_EVENT, "GET", path, NULL, &r) || r.status != 200) {
			k8s_resp_free(&r);
			break;
		}
		snprintf(j->rv, sizeof(j->rv), "%s", json_string_value(json_object_get(
			 json_object_get(r.body, "metadata"), "resourceVersion")) ?: "");
		k8s_resp_free(&r);
	}
	free(ens);
	free(een);
	return err;
}

/* This agent's report written to its Lease (made the first time). */
static void ev_report(struct ev_agent *a)
{
	char path[400], lname[260];
	struct k8s_resp r = {};
	json_t *b;

	if (strlen(a->node) <= 245)
		snprintf(lname, sizeof(lname), "applied.%s", a->node);
	else
		snprintf(lname, sizeof(lname), "applied.%016llx", (unsigned long long)hstr(a->node));
	snprintf(path, sizeof(path), EV_LEASES "/%s", lname);
	b = json_pack("{s:{s:{s:s}}}", "metadata", "annotations", "xcni.io/applied", a->rep);
	if (!ev_request(a, EVR_REPORT, "PATCH", path, b, &r) && r.status == 404) {
		json_decref(b);
		k8s_resp_free(&r);
		/* Gone with its Node (the garbage collector, through the owner reference). */
		b = json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s},s:{s:s,s:s},s:[{s:s,s:s,s:s,s:s}]},"
			      "s:{s:s}}", "apiVersion", "coordination.k8s.io/v1", "kind", "Lease",
			      "metadata", "name", lname, "namespace", EV_NS, "labels",
			      "xcni.io/report", "applied", "annotations", "xcni.io/node", a->node,
			      "xcni.io/applied", a->rep, "ownerReferences", "apiVersion", "v1",
			      "kind", "Node", "name", a->node, "uid", a->node_uid, "spec",
			      "holderIdentity", a->node);
		if (!a->node_uid[0] && b) /* no Node known: no owner */
			json_object_del(json_object_get(b, "metadata"), "ownerReferences");
		ev_request(a, EVR_REPORT, "POST", EV_LEASES, b, &r);
	}
	if (r.status == 200 || r.status == 201) {
		free(a->sent);
		a->sent = strdup(a->rep);
	}
	json_decref(b);
	k8s_resp_free(&r);
}

/*
 * The writer's Lease looked at: made when there is none, renewed by its
 * holder, taken by another when it was not renewed for EV_LEASE_S as this
 * agent saw it. Every write carries the version read: two agents cannot both
 * take it.
 */
static void ev_elect(struct ev_agent *a, int64_t now)
{
	const char *path = EV_LEASES "/xcni-policy-events";
	struct k8s_resp r = {};
	char ts[40];
	const char *holder, *rv;
	json_t *l = NULL;

	xcni_rfc3339_fmt(now * 1000000, 6, ts, sizeof(ts));
	if (ev_request(a, EVR_ELECT, "GET", path, NULL, &r) || (r.status != 200 && r.status != 404)) {
		a->leader = false;
		k8s_resp_free(&r);
		return;
	}
	if (r.status == 404) {
		l = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:s,s:i,s:s,s:s}}", "apiVersion",
			      "coordination.k8s.io/v1", "kind", "Lease", "metadata", "name",
			      "xcni-policy-events", "namespace", EV_NS, "spec", "holderIdentity",
			      a->node, "leaseDurationSeconds", EV_LEASE_S, "acquireTime", ts,
			      "renewTime", ts);
		k8s_resp_free(&r);
		a->leader = !ev_request(a, EVR_ELECT, "POST", EV_LEASES, l, &r) && r.status == 201;
		goto out;
	}
	l = json_incref(r.body);
	k8s_resp_free(&r);
	holder = json_string_value(json_object_get(json_object_get(l, "spec"), "holderIdentity"));
	rv = json_string_value(json_object_get(json_object_get(l, "metadata"), "resourceVersion"));
	/* Unchanged since a look long ago (the cluster was quiet, and its
	 * holder renews only while versions wait): seen from now, not taken at
	 * once by every agent at the next change. */
	if (strcmp(rv ?: "", a->lrv) || now - a->looked_ms > (EV_LEASE_S + 5) * 1000) {
		snprintf(a->lrv, sizeof(a->lrv), "%s", rv ?: "");
		a->lseen_ms = now;
	}
	a->looked_ms = now;
	a->leader = false;
	if ((holder && !strcmp(holder, a->node)) || now - a->lseen_ms > EV_LEASE_S * 1000 ||
	    !holder) {
		json_t *spec = json_object_get(l, "spec");

		if (!holder || strcmp(holder, a->node))
			json_object_set_new(spec, "acquireTime", json_string(ts));
		json_object_set_new(spec, "holderIdentity", json_string(a->node));
		json_object_set_new(spec, "leaseDurationSeconds", json_integer(EV_LEASE_S));
		json_object_set_new(spec, "renewTime", json_string(ts));
		a->leader = !ev_request(a, EVR_ELECT, "PUT", path, l, &r) && r.status == 200;
	}
out:
	if (a->leader) {
		snprintf(a->lrv, sizeof(a->lrv), "%s", json_string_value(json_object_get(
			 json_object_get(r.body, "metadata"), "resourceVersion")) ?: "");
		a->lseen_ms = now;
	}
	json_decref(l);
	k8s_resp_free(&r);
}

/*
 * The writer's round: every agent's report read (one LIST), each waiting
 * version's Event written once it is on every Node, or at EV_PARTIAL_MS
 * with who is missing and again at the end of EV_WINDOW_MS as it stands; a
 * count already written is not written again.
 */
static void ev_judge(struct ev_agent *a, int64_t now)
{
	struct k8s_resp r = {};
	struct hmap jobs = {}, nodes = {};
	unsigned int m = 0;
	size_t nb, i, k;
	uint8_t *bits = NULL;
	int64_t *applied = NULL;
	json_t *it;
	char *names = a->names ? strdup(a->names) : NULL, *p, *save = NULL;

	/* Node name -> its index; version key -> its job. */
	if (hmap_init(&nodes, true, 64) || hmap_init(&jobs, true, 64))
		goto out;
	for (p = names ? strtok_r(names, ",", &save) : NULL; p; p = strtok_r(NULL, ",", &save))
		hmap_put(&nodes, hstr(p), (uintptr_t)p, (void *)(uintptr_t)(m++ + 1));
	for (i = 0; i < a->n; i++)
		hmap_put(&jobs, hstr(a->q[i].vkey), (uintptr_t)a->q[i].vkey, &a->q[i]);
	nb = (m + 8) / 8;
	bits = calloc(a->n ? a->n : 1, nb);
	applied = calloc(a->n ? a->n : 1, sizeof(*applied));
	if (!bits || !applied ||
	    ev_request(a, EVR_LIST, "GET", EV_LEASES "?labelSelector=xcni.io%2Freport%3Dapplied",
		       NULL, &r) || r.status != 200)
		goto out;
	json_array_foreach(json_object_get(r.body, "items"), i, it) {
		json_t *ann = json_object_get(json_object_get(it, "metadata"), "annotations");
		const char *node = json_string_value(json_object_get(ann, "xcni.io/node")) ?: "";
		const char *rep = json_string_value(json_object_get(ann, "xcni.io/applied")) ?: "";
		struct hslot *ns = hmap_slot(&nodes, hstr(node), (uintptr_t)node);
		size_t ni;

		if (!ns->k) /* not a Node (any more): not counted */
			continue;
		ni = (size_t)(uintptr_t)ns->v - 1;
		for (const char *e = rep; *e; e = strchr(e, ',') ? strchr(e, ',') + 1 : "") {
			char key[17];
			struct hslot *js;

			if (sscanf(e, "%16[0-9a-f]", key) != 1)
				continue;
			js = hmap_slot(&jobs, hstr(key), (uintptr_t)key);
			if (!js->k)
				continue;
			k = (size_t)((struct ev_job *)js->v - a->q);
			bits[k * nb + ni / 8] |= (uint8_t)(1u << (ni % 8));
			if (strlen(e) > 17 && atoll(e + 17) > applied[k])
				applied[k] = atoll(e + 17);
		}
	}
	for (i = 0; i < a->n; i++) {
		struct ev_job *j = &a->q[i];
		char *on = NULL, *off = NULL;
		size_t lon = 0, loff = 0;
		FILE *fon = open_memstream(&on, &lon), *foff = open_memstream(&off, &loff);
		unsigned int have = 0, ni = 0;
		int64_t age = now - j->queued_ms;

		for (p = a->names; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : "", ni++) {
			bool b = bits[i * nb + ni / 8] & (1u << (ni % 8));
			FILE *f = b ? fon : foff;

			if (f)
				fprintf(f, "%s%.*s", ftell(f) ? "," : "", (int)strcspn(p, ","), p);
			have += b;
		}
		if (fon)
			fclose(fon);
		if (foff)
			fclose(foff);
		/* At most 3 writes a version: whole, or partial at EV_PARTIAL_MS, then as it
		 * stands at the end of its window. */
		if (on && off && have && have != j->have &&
		    (have >= m || (age >= EV_PARTIAL_MS && !j->have) ||
		     age >= EV_WINDOW_MS - EV_TICK_MS)) {
			if (ev_write(a, j, on, off, have, m, applied[i] ?: j->applied_ms))
				a->failed++;
			else
				a->posted++;
		}
		if (have >= m && j->have == have)
			j->queued_ms = 0; /* written whole: done */
		free(on);
		free(off);
	}
out:
	k8s_resp_free(&r);
	hmap_free(&nodes);
	hmap_free(&jobs);
	free(names);
	free(bits);
	free(applied);
}

/*
 * A version into one of a's queues: in its policy's place when an older one
 * waits there (coalesced), dropped when EV_QUEUE wait (counted).
 */
static void ev_put(struct ev_agent *a, struct ev_job *q, size_t *n, const struct ev_job *j)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp(q[i].kind, j->kind) && !strcmp(q[i].ns, j->ns) &&
		    !strcmp(q[i].name, j->name)) {
			q[i] = *j;
			a->coalesced++;
			return;
		}
	if (*n == EV_QUEUE)
		a->dropped++;
	else
		q[(*n)++] = *j;
}

/*
 * One round of an agent's poster at now (wall ms): what the compile loop
 * gave taken, the report written when it changed, the writer's Lease looked
 * at while versions wait, and the writer's round.
 */
static void ev_tick(struct ev_agent *a, int64_t now)
{
	size_t kept = 0;

	pthread_mutex_lock(&ev_.mu);
	for (size_t i = 0; i < a->nin; i++) {
		ev_put(a, a->q, &a->n, &a->in[i]);
		a->busy_ms = a->in[i].queued_ms > a->busy_ms ? a->in[i].queued_ms : a->busy_ms;
	}
	a->nin = 0;
	if (a->nodes) {
		free(a->names);
		a->names = a->nodes;
		a->nodes = NULL;
	}
	if (a->report) {
		free(a->rep);
		a->rep = a->report;
		a->report = NULL;
	}
	pthread_mutex_unlock(&ev_.mu);
	if (a->rep && (!a->sent || strcmp(a->rep, a->sent)))
		ev_report(a);
	/* The holder renews as long as others may still hold a version (their
	 * window, and a look's worth): not given up to one of them at its next look. */
	if ((a->n || (a->leader && now - a->busy_ms < EV_WINDOW_MS + EV_LEASE_S * 1000)) &&
	    now >= a->elect_ms) {
		ev_elect(a, now);
		a->elect_ms = now + (a->leader ? EV_RENEW_MS : EV_LEASE_S * 1000);
	}
	if (a->leader && a->n)
		ev_judge(a, now);
	/* Done, or waited its window: gone. */
	for (size_t i = 0; i < a->n; i++)
		if (a->q[i].queued_ms && now - a->q[i].queued_ms < EV_WINDOW_MS)
			a->q[kept++] = a->q[i];
	a->n = kept;
}

static void *ev_thread(void *arg)
{
	(void)arg;
	for (;;) {
		int64_t t = (int64_t)xcni_mono_ms();

		ev_tick(ev_.a, xcni_wall_ns() / 1000000);
		t = EV_TICK_MS - ((int64_t)xcni_mono_ms() - t);
		if (t > 0)
			nanosleep(&(struct timespec){ .tv_sec = t / 1000,
						     .tv_nsec = (t % 1000) * 1000000 }, NULL);
	}
	return NULL;
}

int polstatus_events(const char *kubeconfig)
{
	int err;

	if (ev_.on)
		return 0;
	ev_.a = calloc(1, sizeof(*ev_.a));
	err = !ev_.a ? -ENOMEM :
	      kubeconfig ? k8s_api_conf_kubeconfig(kubeconfig, &ev_.conf) :
			   k8s_api_conf_in_cluster(&ev_.conf);
	if (!err) {
		snprintf(ev_.a->node, sizeof(ev_.a->node), "%s", ps_.node);
		if ((err = -pthread_create(&ev_.th, NULL, ev_thread, NULL)))
			k8s_api_conf_free(&ev_.conf);
	}
	if (err) {
		pr_warn("policy Events: none posted: %s\n", strerror(-err));
		free(ev_.a);
		ev_.a = NULL;
	} else {
		pthread_detach(ev_.th);
	}
	ev_.on = !err;
	return err;
}

/*
 * A version newly applied here, for its Event (not one held at the agent's
 * start): in the policy's place when an older version still waits there.
 */
static void ev_queue(struct ev_agent *a, const struct polrec *r, int64_t now)
{
	struct ev_job j = { .change_ms = r->change_ms ? r->change_ms : r->seen_ms,
			    .applied_ms = r->applied_ms, .queued_ms = now };

	if (r->initial)
		return;
	snprintf(j.kind, sizeof(j.kind), "%s", k8s_kind_name(r->kind));
	snprintf(j.ns, sizeof(j.ns), "%.63s", r->ns); /* a namespace is at most 63 */
	snprintf(j.name, sizeof(j.name), "%s", r->name);
	snprintf(j.uid, sizeof(j.uid), "%s", r->uid);
	snprintf(j.api, sizeof(j.api), "%s", r->api);
	snprintf(j.version, sizeof(j.version), "%016llx", (unsigned long long)r->digest);
	ev_vkey(r->key, r->digest, j.vkey);
	pthread_mutex_lock(&ev_.mu);
	ev_put(a, a->in, &a->nin, &j);
	pthread_mutex_unlock(&ev_.mu);
}

static int newest_first(const void *x, const void *y)
{
	int64_t a = (*(struct polrec *const *)x)->applied_ms, b = (*(struct polrec *const *)y)->applied_ms;

	return (a < b) - (a > b);
}

/*
 * This agent's report: the versions applied in the last EV_WINDOW_MS (one
 * held since its start only when the policy changed in that window), the
 * newest EV_REPORT; and the cluster's Node names.
 */
static void ev_reports(struct ev_agent *a, const struct cluster *c, int64_t now)
{
	struct polrec **v = calloc(ps_.recs.n ? ps_.recs.n : 1, sizeof(*v));
	char *rep = NULL, *names = NULL, uid[64] = "";
	size_t n = 0, len = 0;
	FILE *f;

	hmap_each(&ps_.recs, sl) {
		struct polrec *r = sl->v;

		if (v && r->applied_ms && now - r->applied_ms < EV_WINDOW_MS &&
		    (!r->initial || now - r->change_ms < EV_WINDOW_MS))
			v[n++] = r;
	}
	if (n > EV_REPORT) {
		qsort(v, n, sizeof(*v), newest_first);
		n = EV_REPORT;
	}
	if ((f = open_memstream(&rep, &len))) {
		for (size_t i = 0; i < n; i++) {
			char k[17];

			ev_vkey(v[i]->key, v[i]->digest, k);
			fprintf(f, "%s%s:%lld", i ? "," : "", k, (long long)v[i]->applied_ms);
		}
		fclose(f);
	}
	if ((f = open_memstream(&names, &len))) {
		for (size_t i = 0; i < c->n[K8S_NODE]; i++) {
			const struct k8s_object *o = c->objs[K8S_NODE][i];

			fprintf(f, "%s%s", i ? "," : "", o->meta.name ? o->meta.name : "");
			if (o->meta.name && !strcmp(o->meta.name, a->node))
				snprintf(uid, sizeof(uid), "%s", json_string_value(
					 json_object_get(json_object_get(o->raw, "metadata"),
							 "uid")) ?: "");
		}
		fclose(f);
	}
	free(v);
	pthread_mutex_lock(&ev_.mu);
	free(a->report);
	a->report = rep;
	free(a->nodes);
	a->nodes = names;
	if (uid[0])
		memcpy(a->node_uid, uid, sizeof(uid));
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
	bool fresh = false;

	hmap_each(&ps_.recs, sl) {
		struct polrec *r = sl->v;

		if (ok && !r->applied_ms) {
			r->applied_ms = now;
			if (!r->initial)
				observe(r);
			if (ev_.a)
				ev_queue(ev_.a, r, now);
			dirty = fresh = true;
		}
	}
	if (fresh && ev_.a)
		ev_reports(ev_.a, &c, now);
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
	if (ev_.a) {
		struct ev_agent *a = ev_.a;

		pthread_mutex_lock(&ev_.mu);
		fprintf(f, "# HELP xcni_policy_events_total Events \"enforced on N/M nodes\" on "
			   "policy versions this agent wrote as the cluster's one writer (posted, "
			   "failed), and versions it dropped (its queue of %d was full) or coalesced "
			   "(a newer version of the policy took a waiting one's place).\n"
			   "# TYPE xcni_policy_events_total counter\n"
			   "xcni_policy_events_total{result=\"posted\"} %llu\n"
			   "xcni_policy_events_total{result=\"failed\"} %llu\n"
			   "xcni_policy_events_total{result=\"dropped\"} %llu\n"
			   "xcni_policy_events_total{result=\"coalesced\"} %llu\n"
			   "# HELP xcni_policy_events_writer 1 while this agent holds the Lease "
			   EV_NS "/xcni-policy-events (it writes every policy version's Event).\n"
			   "# TYPE xcni_policy_events_writer gauge\nxcni_policy_events_writer %d\n"
			   "# HELP xcni_policy_event_requests_total Requests to the API server for "
			   "policy Events (at most %d a second after %d at once, all kinds): report "
			   "(this node's Lease), elect (the writer's Lease), list (the reports, "
			   "writer), event (the Events, writer).\n"
			   "# TYPE xcni_policy_event_requests_total counter\n", EV_QUEUE,
			(unsigned long long)a->posted, (unsigned long long)a->failed,
			(unsigned long long)a->dropped, (unsigned long long)a->coalesced, a->leader,
			EV_RATE, EV_BURST);
		for (int k = 0; k < EVR_N; k++)
			fprintf(f, "xcni_policy_event_requests_total{kind=\"%s\"} %llu\n",
				evr_names[k], (unsigned long long)a->req[k]);
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
