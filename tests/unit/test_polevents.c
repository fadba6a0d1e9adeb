// SPDX-License-Identifier: Apache-2.0
/*
 * The policy-version Events as the API server sees them (issue 65 item 4):
 * agent/polstatus.c's poster is included and its one call to the API server
 * answered by an Event store in memory that counts every request. Agents
 * take turns (one process, the node name switched): what is counted is the
 * requests N agents make for one policy change, what one agent makes under
 * churn faster than its bound, and what the Event says once every node
 * applied the version.
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

static struct {
	json_t *events; /* path -> Event */
	unsigned int requests;
} api_;

int fake_request(const struct k8s_api_conf *c, const char *method, const char *path,
		 json_t *body, long timeout_ms, struct k8s_resp *r)
{
	(void)c;
	(void)timeout_ms;
	memset(r, 0, sizeof(*r));
	api_.requests++;
	if (!strcmp(method, "GET")) {
		json_t *e = json_object_get(api_.events, path);

		r->status = e ? 200 : 404;
		r->body = e ? json_deep_copy(e) : NULL;
	} else if (!strcmp(method, "POST")) {
		char full[800];

		snprintf(full, sizeof(full), "%s/%s", path,
			 json_string_value(json_object_get(json_object_get(body, "metadata"), "name")));
		r->status = json_object_get(api_.events, full) ? 409 : 201;
		if (r->status == 201)
			json_object_set_new(api_.events, full, json_deep_copy(body));
	} else if (!strcmp(method, "PUT")) {
		r->status = json_object_get(api_.events, path) ? 200 : 404;
		if (r->status == 200)
			json_object_set_new(api_.events, path, json_deep_copy(body));
	} else {
		r->status = 405;
	}
	return 0;
}

static int setup(void **state)
{
	(void)state;
	api_.events = json_object();
	api_.requests = 0;
	ev_.on = true; /* no poster thread: the test drains the queue itself */
	ev_.head = ev_.n = 0;
	ev_.tat = 0;
	return api_.events ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	json_decref(api_.events);
	ev_.on = false;
	return 0;
}

/* Node i's agent: its name, and a bucket of its own. */
static void agent(unsigned int i)
{
	snprintf(ps_.node, sizeof(ps_.node), "node-%03u.rack-a.example.internal", i);
	ev_.tat = 0;
}

/* Version v of NetworkPolicy ns1/p applied on this node, queued. */
static void applied(uint64_t v, unsigned int nodes)
{
	struct polrec r = { .kind = K8S_NETWORKPOLICY, .ns = "ns1", .name = "p",
			    .digest = v, .change_ms = 1000, .applied_ms = 2000 };

	ev_queue(&r, nodes);
}

static void drain(void)
{
	pthread_mutex_lock(&ev_.mu);
	while (ev_.n)
		ev_drain_one();
	pthread_mutex_unlock(&ev_.mu);
}

static json_t *event_of(uint64_t v)
{
	char path[200];

	snprintf(path, sizeof(path), "/api/v1/namespaces/ns1/events/p.xcni-%016llx",
		 (unsigned long long)v);
	return json_object_get(api_.events, path);
}

/*
 * 100 agents apply one version: one Event, every node on it ("enforced on
 * 100/100 nodes", count 100, the annotation naming all 100), the message
 * naming the first few and how many more, and 2 requests per agent.
 */
static void hundred_nodes_counted(void **state)
{
	const unsigned int n = 100;
	const char *msg, *list;
	json_t *e;
	unsigned int listed = 1;

	(void)state;
	for (unsigned int i = 0; i < n; i++) {
		agent(i);
		applied(0xabc, n);
		drain();
	}
	assert_int_equal(json_object_size(api_.events), 1);
	e = event_of(0xabc);
	assert_non_null(e);
	msg = json_string_value(json_object_get(e, "message"));
	print_message("requests for one change on %u nodes: %u (%.1f per node); message: %s\n", n,
		      api_.requests, (double)api_.requests / n, msg);
	assert_int_equal(json_integer_value(json_object_get(e, "count")), n);
	assert_non_null(strstr(msg, "enforced on 100/100 nodes, 1.000 s after the change"));
	assert_non_null(strstr(msg, "and 95 more"));
	list = json_string_value(json_object_get(json_object_get(json_object_get(e, "metadata"),
								 "annotations"), "xcni.io/nodes"));
	for (const char *p = list; (p = strchr(p, ',')); p++)
		listed++;
	assert_int_equal(listed, n);
	assert_true(csv_has(list, "node-099.rack-a.example.internal"));
	assert_true(api_.requests <= 2 * n);
}

/*
 * One policy changed 50 times faster than the agent reports: only the newest
 * version is posted (2 requests, not 100), the others counted as coalesced.
 */
static void churn_coalesced(void **state)
{
	uint64_t before = ev_.coalesced;

	(void)state;
	agent(0);
	for (uint64_t v = 1; v <= 50; v++)
		applied(v, 1);
	drain();
	print_message("requests for 50 versions of one policy on one node: %u\n", api_.requests);
	assert_int_equal(api_.requests, 2);
	assert_int_equal(json_object_size(api_.events), 1);
	assert_non_null(event_of(50));
	assert_int_equal(ev_.coalesced - before, 49);
}

/* The agent's bucket: EV_BURST at once, then EV_RATE a second, over 10 s of asking. */
static void bucket_bounds_rate(void **state)
{
	const uint64_t t0 = 5000000000ull, step = 1000000ull; /* asked every ms */
	unsigned int let = 0;

	(void)state;
	ev_.tat = 0;
	for (uint64_t t = t0; t < t0 + 10000000000ull; t += step)
		let += !ev_bucket(t);
	print_message("requests let through in 10 s asked every ms: %u (bound %d + 10 * %d)\n",
		      let, EV_BURST, EV_RATE);
	assert_true(let <= EV_BURST + 10 * EV_RATE);
	assert_true(let >= EV_BURST + 9 * EV_RATE);
	/* A long wait refills no more than the burst. */
	let = 0;
	for (uint64_t t = t0 + 100000000000ull; t < t0 + 100000000000ull + step * 10; t += step)
		let += !ev_bucket(t);
	assert_int_equal(let, EV_BURST);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(hundred_nodes_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(churn_coalesced, setup, teardown),
		cmocka_unit_test_setup_teardown(bucket_bounds_rate, setup, teardown),
	};

	xlog_max = XLOG_ERROR;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
