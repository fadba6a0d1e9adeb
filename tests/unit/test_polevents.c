// SPDX-License-Identifier: Apache-2.0
/*
 * The policy-version Events as the API server sees them (issue 65 item 4):
 * agent/polstatus.c's poster is included and its one call to the API server
 * answered by a store in memory (Events and Leases, resourceVersions and
 * conflicts as the API server has them) that counts every request. 100
 * agents (one ev_agent each) take turns at their poster's round: counted are
 * the requests for one change, for churn, and the Event writes (one writer,
 * O(1) a version instead of O(nodes)).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define k8s_request fake_request
#include "../../user/agent/polstatus.c"
#undef k8s_request
#include "unit.h"

#define NODES 100

static struct {
	json_t *objs; /* path -> object */
	unsigned long rv;
	unsigned int requests, event_writes, by[EVR_N];
} api_;

static struct ev_agent *ag[NODES];

static json_t *stamp(json_t *o)
{
	char v[24];

	snprintf(v, sizeof(v), "%lu", ++api_.rv);
	json_object_set_new(json_object_get(o, "metadata"), "resourceVersion", json_string(v));
	return o;
}

int fake_request(const struct k8s_api_conf *c, const char *method, const char *path,
		 json_t *body, long timeout_ms, struct k8s_resp *r)
{
	json_t *have;
	const char *q = strchr(path, '?');

	(void)c;
	(void)timeout_ms;
	memset(r, 0, sizeof(*r));
	api_.requests++;
	if (strstr(path, "/events") && strcmp(method, "GET"))
		api_.event_writes++;
	if (q && !strcmp(method, "GET")) { /* the labelled Leases */
		json_t *items = json_array();
		const char *k;
		json_t *o;

		json_object_foreach(api_.objs, k, o)
			if (!strncmp(k, path, (size_t)(q - path)) &&
			    json_object_get(json_object_get(json_object_get(o, "metadata"), "labels"),
					    "xcni.io/report"))
				json_array_append(items, o);
		r->status = 200;
		r->body = json_pack("{s:o}", "items", items);
		return 0;
	}
	have = json_object_get(api_.objs, path);
	if (!strcmp(method, "GET")) {
		r->status = have ? 200 : 404;
		r->body = have ? json_deep_copy(have) : NULL;
	} else if (!strcmp(method, "POST")) {
		char full[800];

		snprintf(full, sizeof(full), "%s/%s", path,
			 json_string_value(json_object_get(json_object_get(body, "metadata"), "name")));
		r->status = json_object_get(api_.objs, full) ? 409 : 201;
		if (r->status == 201) {
			json_object_set_new(api_.objs, full, stamp(json_deep_copy(body)));
			r->body = json_deep_copy(json_object_get(api_.objs, full));
		}
	} else if (!strcmp(method, "PUT")) {
		const char *want = json_string_value(json_object_get(json_object_get(body, "metadata"),
								     "resourceVersion"));
		const char *is = json_string_value(json_object_get(json_object_get(have, "metadata"),
								   "resourceVersion"));

		r->status = !have ? 404 : want && strcmp(want, is) ? 409 : 200;
		if (r->status == 200) {
			json_object_set_new(api_.objs, path, stamp(json_deep_copy(body)));
			r->body = json_deep_copy(json_object_get(api_.objs, path));
		}
	} else if (!strcmp(method, "PATCH")) { /* merge patch of annotations */
		r->status = have ? 200 : 404;
		if (have) {
			json_object_update(json_object_get(json_object_get(have, "metadata"), "annotations"),
					   json_object_get(json_object_get(body, "metadata"), "annotations"));
			stamp(have);
		}
	} else {
		r->status = 405;
	}
	return 0;
}

static void node_name(unsigned int i, char *buf, size_t len)
{
	snprintf(buf, len, "node-%03u.rack-a.example.internal", i);
}

static int setup(void **state)
{
	FILE *f;
	char *names = NULL, n[64];
	size_t len = 0;

	(void)state;
	memset(&api_, 0, sizeof(api_));
	api_.objs = json_object();
	ev_.on = true;
	f = open_memstream(&names, &len);
	for (unsigned int i = 0; i < NODES; i++) {
		node_name(i, n, sizeof(n));
		fprintf(f, "%s%s", i ? "," : "", n);
	}
	fclose(f);
	for (unsigned int i = 0; i < NODES; i++) {
		ag[i] = calloc(1, sizeof(*ag[i]));
		node_name(i, ag[i]->node, sizeof(ag[i]->node));
		ag[i]->nodes = strdup(names);
	}
	free(names);
	return api_.objs ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	json_decref(api_.objs);
	for (unsigned int i = 0; i < NODES; i++) {
		free(ag[i]->report);
		free(ag[i]->nodes);
		free(ag[i]->rep);
		free(ag[i]->sent);
		free(ag[i]->names);
		free(ag[i]);
	}
	ev_.on = false;
	return 0;
}

/* Version v of NetworkPolicy ns1/p (changed at 1000 ms) applied by agent i at t. */
static void applied(unsigned int i, uint64_t v, int64_t t)
{
	struct polrec r = { .kind = K8S_NETWORKPOLICY, .key = "NetworkPolicy/ns1/p", .ns = "ns1",
			    .name = "p", .digest = v, .change_ms = 1000, .applied_ms = t };
	char k[17], *rep = NULL;

	ev_queue(ag[i], &r, t);
	ev_vkey(r.key, v, k);
	if (asprintf(&rep, "%s:%lld", k, (long long)t) < 0)
		rep = NULL;
	free(ag[i]->report);
	ag[i]->report = rep;
}

/* Every agent's round at t; the bucket is not what is tested here. */
static void round_all(int64_t t)
{
	for (unsigned int i = 0; i < NODES; i++) {
		ag[i]->tat = 0;
		ev_tick(ag[i], t);
	}
}

static json_t *event_of(uint64_t v)
{
	char path[200];

	snprintf(path, sizeof(path), "/api/v1/namespaces/ns1/events/p.xcni-%016llx",
		 (unsigned long long)v);
	return json_object_get(api_.objs, path);
}

static const char *ann(json_t *e, const char *k)
{
	return json_string_value(json_object_get(json_object_get(json_object_get(e, "metadata"),
								 "annotations"), k));
}

static unsigned int listed(const char *csv)
{
	unsigned int n = csv && *csv;

	for (const char *p = csv; p && (p = strchr(p, ',')); p++)
		n++;
	return n;
}

static unsigned int writers(void)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < NODES; i++)
		n += ag[i]->leader;
	return n;
}

/*
 * 100 agents apply one version: one Event written once, by one agent,
 * "enforced on 100/100 nodes", the annotation naming all 100; then a second
 * change costs each agent one request (its report) and the cluster one
 * Event write.
 */
static void hundred_nodes_one_writer(void **state)
{
	unsigned int first, second;
	const char *msg;
	json_t *e;

	(void)state;
	for (unsigned int i = 0; i < NODES; i++)
		applied(i, 0xabc, 2000);
	round_all(2000);
	round_all(3000);
	first = api_.requests;
	e = event_of(0xabc);
	assert_non_null(e);
	msg = json_string_value(json_object_get(e, "message"));
	print_message("first change on %u nodes: %u requests, %u Event writes, %u writer; %s\n",
		      NODES, first, api_.event_writes, writers(), msg);
	assert_int_equal(writers(), 1);
	assert_int_equal(api_.event_writes, 1);
	assert_non_null(strstr(msg, "enforced on 100/100 nodes, 1.000 s after the change"));
	assert_non_null(strstr(msg, "and 95 more"));
	assert_int_equal(json_integer_value(json_object_get(e, "count")), NODES);
	assert_int_equal(listed(ann(e, "xcni.io/nodes")), NODES);
	assert_int_equal(listed(ann(e, "xcni.io/missing")), 0);

	for (unsigned int i = 0; i < NODES; i++)
		applied(i, 0xdef, 5000);
	round_all(5000);
	round_all(6000);
	second = api_.requests - first;
	print_message("second change: %u requests (%.2f per node), %u Event writes in all\n",
		      second, (double)second / NODES, api_.event_writes);
	assert_non_null(event_of(0xdef));
	assert_int_equal(api_.event_writes, 2);
	assert_true(second <= NODES + 6); /* a report each; the writer's list, Event, renew */

	/* The others hold the version 30 s and look at the Lease: the writer, done, keeps it. */
	for (int64_t t = 7000; t < 45000; t += 1000)
		for (unsigned int i = NODES; i-- > 0;) {
			ag[i]->tat = 0;
			ev_tick(ag[i], t);
		}
	print_message("45 s after: %u writer, agent 0 %s\n", writers(), ag[0]->leader ? "holds it" : "lost it");
	assert_int_equal(writers(), 1);
	assert_true(ag[0]->leader);

	/* After a quiet minute (the writer renewed nothing): a look each, no takeover. */
	for (unsigned int i = 0; i < NODES; i++)
		applied(i, 0x123, 65000);
	first = api_.requests;
	for (unsigned int i = NODES; i-- > 0;) { /* the writer's agent last */
		ag[i]->tat = 0;
		ev_tick(ag[i], 65000);
	}
	round_all(66000);
	second = api_.requests - first;
	print_message("a change after a quiet minute: %u requests, %u writer\n", second, writers());
	assert_int_equal(writers(), 1);
	assert_true(ag[0]->leader);
	assert_non_null(event_of(0x123));
	assert_true(second <= 2 * NODES + 6); /* a report and a look each */
}

/*
 * 3 of 100 nodes never apply the version: at EV_PARTIAL_MS one write,
 * "enforced on 97/100 nodes", the 3 named; nothing more until one catches
 * up, then one more write at the end of the window: at most 3 writes.
 */
static void partial_names_missing(void **state)
{
	const char *msg;
	json_t *e;

	(void)state;
	for (unsigned int i = 0; i < NODES; i++)
		if (i != 3 && i != 7 && i != 50)
			applied(i, 0x77, 2000);
	for (int64_t t = 2000; t < 2000 + EV_PARTIAL_MS + 2000; t += 1000)
		round_all(t);
	e = event_of(0x77);
	assert_non_null(e);
	msg = json_string_value(json_object_get(e, "message"));
	print_message("%s; writes %u\n", msg, api_.event_writes);
	assert_non_null(strstr(msg, "enforced on 97/100 nodes"));
	assert_non_null(strstr(msg, "missing: node-003.rack-a.example.internal,"
				    "node-007.rack-a.example.internal,node-050.rack-a"));
	assert_string_equal(ann(e, "xcni.io/missing"), "node-003.rack-a.example.internal,"
			    "node-007.rack-a.example.internal,node-050.rack-a.example.internal");
	assert_int_equal(api_.event_writes, 1);
	applied(7, 0x77, 12000);
	for (int64_t t = 12000; t < 2000 + EV_WINDOW_MS + 2000; t += 1000)
		round_all(t);
	e = event_of(0x77);
	print_message("%s; writes %u\n", json_string_value(json_object_get(e, "message")),
		      api_.event_writes);
	assert_non_null(strstr(json_string_value(json_object_get(e, "message")),
			       "enforced on 98/100 nodes"));
	assert_int_equal(api_.event_writes, 2);
}

/*
 * One policy changed 50 times a second for 10 s on 100 nodes, then quiet:
 * each agent's requests at most one a round (its report) and a look at the
 * writer's Lease; the Event of the newest version alone, written once.
 */
static void churn_bounded(void **state)
{
	uint64_t v = 1;
	unsigned int most = 0;

	(void)state;
	for (int64_t t = 2000; t < 12000; t += 1000) {
		for (int k = 0; k < 50; k++, v++)
			for (unsigned int i = 0; i < NODES; i++)
				applied(i, v, t);
		round_all(t);
	}
	round_all(12000);
	round_all(13000);
	for (unsigned int i = 0; i < NODES; i++) {
		unsigned int n = 0;

		for (int k = 0; k < EVR_N; k++)
			n += (unsigned int)ag[i]->req[k];
		most = n > most ? n : most;
	}
	print_message("500 versions on %u nodes in 10 s: %u requests (%u Event writes; the most "
		      "one agent made: %u; was 100,000-500,000 with no bucket)\n", NODES,
		      api_.requests, api_.event_writes, most);
	assert_non_null(event_of(v - 1));
	assert_int_equal(api_.event_writes, 1);
	assert_int_equal(ag[1]->coalesced, 10 * 50 - 1); /* one place: the newest */
	assert_true(most <= 12 + 12 + 6); /* reports; the writer's lists and renewals */
}

/* The writer gone (its agent stopped): another takes its Lease after EV_LEASE_S. */
static void writer_taken_over(void **state)
{
	unsigned int w = NODES;

	(void)state;
	for (unsigned int i = 0; i < NODES; i++)
		applied(i, 0x1, 2000);
	round_all(2000);
	for (unsigned int i = 0; i < NODES; i++)
		if (ag[i]->leader)
			w = i;
	assert_true(w < NODES);
	for (unsigned int i = 0; i < NODES; i++)
		applied(i, 0x2, 4000);
	for (int64_t t = 4000; t < 4000 + 2 * EV_LEASE_S * 1000; t += 1000)
		for (unsigned int i = 0; i < NODES; i++)
			if (i != w) {
				ag[i]->tat = 0;
				ev_tick(ag[i], t);
			}
	print_message("writer %u stopped: Event of the next version %s\n", w,
		      event_of(0x2) ? json_string_value(json_object_get(event_of(0x2), "message")) :
				      "none");
	assert_int_equal(writers(), 2); /* the stopped one still thinks so: it never ran */
	assert_non_null(event_of(0x2));
	assert_non_null(strstr(json_string_value(json_object_get(event_of(0x2), "message")),
			       "enforced on 99/100 nodes"));
}

/* The agent's bucket: EV_BURST at once, then EV_RATE a second, over 10 s of asking. */
static void bucket_bounds_rate(void **state)
{
	const uint64_t t0 = 5000000000ull, step = 1000000ull; /* asked every ms */
	unsigned int let = 0;

	(void)state;
	for (uint64_t t = t0; t < t0 + 10000000000ull; t += step)
		let += !ev_bucket(ag[0], t);
	print_message("requests let through in 10 s asked every ms: %u (bound %d + 10 * %d)\n",
		      let, EV_BURST, EV_RATE);
	assert_true(let <= EV_BURST + 10 * EV_RATE);
	assert_true(let >= EV_BURST + 9 * EV_RATE);
	let = 0;
	for (uint64_t t = t0 + 100000000000ull; t < t0 + 100000000000ull + step * 10; t += step)
		let += !ev_bucket(ag[0], t);
	assert_int_equal(let, 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(hundred_nodes_one_writer, setup, teardown),
		cmocka_unit_test_setup_teardown(partial_names_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(churn_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(writer_taken_over, setup, teardown),
		cmocka_unit_test_setup_teardown(bucket_bounds_rate, setup, teardown),
	};

	xlog_max = XLOG_ERROR;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
