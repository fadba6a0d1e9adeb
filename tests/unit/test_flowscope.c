// SPDX-License-Identifier: Apache-2.0
/*
 * Flow records as a scoped reader sees them (user/lib/observe/flows.c's
 * render for an agent's client whose certificate names a namespace): the
 * policy text of a denied or decided flow cut to what that namespace owns.
 * The rest of the flow records' tests: test_flows.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "flows_fx.h"

/* The JSON of rec r as reader (NULL: unscoped) sees it, in b. */
static const char *as_reader(struct flows *f, const char *req, const char *reader, struct fbuf *b)
{
	struct flow_render_ctx rc = { .node = "n1", .reader_ns = reader };
	struct flow_filter ff;
	char err[256];

	assert_int_equal(flow_filter_parse(&ff, req, err, sizeof(err)), 0);
	flows_fbuf_free(b);
	assert_int_equal(flows_render_json(f, &ff, &rc, b), 1);
	flow_filter_free(&ff);
	return b->p;
}

/*
 * A scoped reader (OU=namespace:NS) sees a denied flow's isolated_by and
 * near_misses only as far as its namespace owns them: its NetworkPolicies
 * whole, another namespace's "a policy of another namespace", a
 * ClusterNetworkPolicy "an admin policy"; unscoped, every word.
 */
static void test_scoped_policy_text(void **state)
{
	static const char nm[] = "x/web-ingress rule 0: from role=friend \xe2\x80\x94 selects 1 pod; "
				 "Admin 10 deny-ext rule 1 \"a; z/b\": from ns=z \xe2\x80\x94 selects 0 "
				 "pods";
	struct fbuf b = {};
	struct flows *f;
	struct flow_rec *r;
	const char *j;

	(void)state;
	assert_int_equal(flows_new(64, &f), 0);
	/* y/e -> x/a, denied at x/a's ingress. */
	r = named(f, key4("10.0.1.4", 41008, "10.0.1.5", 81, IPPROTO_UDP), "y", "e", NULL, "x",
		  "a", 1000);
	flows_drop(f, r, 1000, 1, XCNI_DROP_POLICY_INGRESS, 60);
	flows_isolators(f, r, "x/web-ingress, deny-ext [Admin 10]");
	flows_set_str(f, &r->near_misses, nm);
	/* y/e -> x/c, denied at y/e's egress by y's own policy and an admin's. */
	r = named(f, key4("10.0.1.4", 41009, "10.0.1.6", 81, IPPROTO_UDP), "y", "e", NULL, "x",
		  "c", 1000);
	flows_drop(f, r, 1000, 0, XCNI_DROP_POLICY_EGRESS, 60);
	flows_isolators(f, r, "y/lock, deny-ext [Admin 10]");
	flows_set_str(f, &r->near_misses, "y/lock rule 0: to role=db \xe2\x80\x94 selects 0 pods");

	j = as_reader(f, "from-port=41008\n", NULL, &b);
	assert_non_null(strstr(j, "\"isolated_by\":\"x/web-ingress, deny-ext [Admin 10]\""));
	assert_non_null(strstr(j, "from ns=z"));
	/* y reads x's policy through its own pod's denied flow: named only. */
	j = as_reader(f, "from-port=41008\n", "y", &b);
	assert_non_null(strstr(j, "\"isolated_by\":\"a policy of another namespace, an admin "
				  "policy\""));
	assert_non_null(strstr(j, "\"near_misses\":\"a policy of another namespace; an admin "
				  "policy\""));
	if (strstr(j, "web-ingress") || strstr(j, "friend") || strstr(j, "deny-ext") ||
	    strstr(j, "ns=z"))
		fail_msg("policy text to namespace y: %s", j);
	/* x reads its own policy whole, not the admin's (nor its rule name's fake "; z/b"). */
	j = as_reader(f, "from-port=41008\n", "x", &b);
	assert_non_null(strstr(j, "\"isolated_by\":\"x/web-ingress, an admin policy\""));
	assert_non_null(strstr(j, "\"near_misses\":\"x/web-ingress rule 0: from role=friend "
				  "\xe2\x80\x94 selects 1 pod; an admin policy\""));
	if (strstr(j, "deny-ext") || strstr(j, "ns=z"))
		fail_msg("admin policy text to namespace x: %s", j);
	/* The egress side: y's own policy whole to y, named only to x. */
	j = as_reader(f, "from-port=41009\n", "y", &b);
	assert_non_null(strstr(j, "\"isolated_by\":\"y/lock, an admin policy\""));
	assert_non_null(strstr(j, "\"near_misses\":\"y/lock rule 0: to role=db"));
	j = as_reader(f, "from-port=41009\n", "x", &b);
	assert_non_null(strstr(j, "\"isolated_by\":\"a policy of another namespace, an admin "
				  "policy\""));
	assert_non_null(strstr(j, "\"near_misses\":\"a policy of another namespace\""));
	/* The deciding policy's name likewise: x/web allowed y/e -> x/a; an admin's denied. */
	r = named(f, key4("10.0.1.4", 41010, "10.0.1.5", 81, IPPROTO_UDP), "y", "e", NULL, "x",
		  "a", 1000);
	flows_verdict(f, r, 1000, 1, 8, "x/web", 0, false);
	assert_non_null(strstr(as_reader(f, "from-port=41010\n", "x", &b), "\"policy\":\"x/web\""));
	assert_non_null(strstr(as_reader(f, "from-port=41010\n", "y", &b),
			       "\"policy\":\"a policy of another namespace\""));
	flows_denied_by(f, r, 9, "deny-ext [Admin 10]", 1);
	flows_rule_name(f, r, "block-z");
	j = as_reader(f, "from-port=41010\n", "x", &b);
	assert_non_null(strstr(j, "\"policy\":\"an admin policy\",\"rule\":1,\"rule_name\":null"));
	j = as_reader(f, "from-port=41010\n", "y", &b);
	if (strstr(j, "x/web") || strstr(j, "deny-ext") || strstr(j, "block-z"))
		fail_msg("another namespace's or the admin's policy named to y: %s", j);
	flows_fbuf_free(&b);
	flows_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scoped_policy_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
