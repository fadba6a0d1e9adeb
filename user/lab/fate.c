// SPDX-License-Identifier: Apache-2.0
/*
 * The policy that denied a probe, named (lab probe's "denied: ..."): the
 * agents' flow records of the probe's connection (its source port, the
 * destination's port), the one that says denied: a tier's Deny names its
 * policy and rule, NetworkPolicy's "nothing allows" the policies that
 * isolate the pod. Only what the records say: with flows off, or the record
 * not there, the probe says "denied" alone.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/fate.h"
#include "lib/observe/flows.h"
#include "lib/system/unixsock.h"

#define FATE_ASK_TIMEOUT_S 2
#define FATE_ANSWER_MAX (1u << 20)

/* The words of one denied record ("isolated by a, b (nothing allows)"), or 0 (not one). */
static int rec_why(json_t *o, char *buf, size_t len)
{
	const char *v = json_string_value(json_object_get(o, "verdict"));
	const char *pol = json_string_value(json_object_get(o, "policy"));
	const char *iso = json_string_value(json_object_get(o, "isolated_by"));
	const char *side = json_string_value(json_object_get(o, "policy_side"));

	if (!v || strcmp(v, "denied"))
		return 0;
	if (pol)
		snprintf(buf, len, "by %s rule %lld%s%s", pol,
			 (long long)json_integer_value(json_object_get(o, "rule")), side ? " " : "",
			 side ?: "");
	else if (iso)
		snprintf(buf, len, "isolated by %s (%s: nothing allows)", iso, side ?: "?");
	else
		return 0;
	return 1;
}

int lab_fate_denied_by(struct lab *lab, uint16_t sport, uint16_t dport, char *buf, size_t len)
{
	char req[128], pin[PATH_MAX + 64], sock[PATH_MAX + 128];
	int rl = snprintf(req, sizeof(req), "from-port=%u\nto-port=%u\nverdict=denied\n", sport,
			  dport);

	buf[0] = '\0';
	if (!sport)
		return -ENOENT;
	for (size_t n = 0; n < lab->nnodes && !buf[0]; n++) {
		const struct lab_node *ln = &lab->nodes[n];
		char *ans = NULL, *line, *save = NULL;
		size_t alen = 0;

		if (ln->pin[0])
			snprintf(pin, sizeof(pin), "%s", ln->pin);
		else
			snprintf(pin, sizeof(pin), "%s/%s", LAB_PIN_ROOT, ln->name);
		if (flows_sock_path(pin, sock, sizeof(sock)) ||
		    xcni_unix_ask(sock, req, (size_t)rl, FATE_ASK_TIMEOUT_S, FATE_ANSWER_MAX, NULL,
				  &ans, &alen, NULL))
			continue; /* flows off there, or the agent busy: not named */
		for (line = strtok_r(ans, "\n", &save); line && !buf[0];
		     line = strtok_r(NULL, "\n", &save)) {
			json_t *o = json_loads(line, 0, NULL);

			if (o)
				rec_why(o, buf, len);
			json_decref(o);
		}
		free(ans);
	}
	return buf[0] ? 0 : -ENOENT;
}
