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
#include "lib/observe/flowsnet.h"

#define FATE_ASK_TIMEOUT_S 2

/* The words of one denied record ("isolated by a, b (nothing allows)"), or 0
 * (not one); its near misses into nm ("" for none). */
static int rec_why(json_t *o, char *buf, size_t len, char *nm, size_t nmlen)
{
	const char *v = json_string_value(json_object_get(o, "verdict"));
	const char *pol = json_string_value(json_object_get(o, "policy"));
	const char *iso = json_string_value(json_object_get(o, "isolated_by"));
	const char *side = json_string_value(json_object_get(o, "policy_side"));

	if (flow_verdict_parse(v) != FLOW_DENIED)
		return 0;
	if (pol)
		snprintf(buf, len, "by %s rule %lld%s%s", pol,
			 (long long)json_integer_value(json_object_get(o, "rule")), side ? " " : "",
			 side ?: "");
	else if (iso)
		snprintf(buf, len, "isolated by %s (%s: nothing allows)", iso, side ?: "?");
	else
		return 0;
	snprintf(nm, nmlen, "%s", json_string_value(json_object_get(o, "near_misses")) ?: "");
	return 1;
}

/*
 * Each lab node's flow records that req selects, one object at a time, to fn
 * (a non-zero return stops). The number of nodes that answered: 0 with flows
 * off everywhere (or every agent busy).
 */
static size_t fate_records(struct lab *lab, const char *req,
			   int (*fn)(json_t *o, void *arg), void *arg)
{
	size_t answered = 0;
	int stop = 0;

	for (size_t n = 0; n < lab->nnodes && !stop; n++) {
		char *ans = NULL, *line, *save = NULL;
		size_t alen = 0;

		if (lab_node_flows(&lab->nodes[n], req, FATE_ASK_TIMEOUT_S, &ans, &alen))
			continue; /* flows off there, or the agent busy: not named */
		answered++;
		for (line = strtok_r(ans, "\n", &save); line && !stop;
		     line = strtok_r(NULL, "\n", &save)) {
			json_t *o = json_loads(line, 0, NULL);

			if (o)
				stop = fn(o, arg);
			json_decref(o);
		}
		free(ans);
	}
	return answered;
}

int lab_node_flows(const struct lab_node *n, const char *req, long timeout_s, char **ans,
		   size_t *alen)
{
	char sock[PATH_MAX + 128], why[600];

	return flows_sock_path(n->pin, sock, sizeof(sock)) ?:
	       flows_local_get(sock, NULL, req, timeout_s, ans, alen, why, sizeof(why));
}

struct why_arg {
	char *buf, *nm;
	size_t len, nmlen;
};

static int why_one(json_t *o, void *arg)
{
	struct why_arg *w = arg;

	return rec_why(o, w->buf, w->len, w->nm, w->nmlen);
}

int lab_fate_denied_by(struct lab *lab, uint16_t sport, uint16_t dport, char *buf, size_t len,
		       char *nm, size_t nmlen)
{
	char req[128];
	snprintf(req, sizeof(req), "from-port=%u\nto-port=%u\nverdict=denied\n", sport, dport);
	struct why_arg w = { buf, nm, len, nmlen };

	buf[0] = nm[0] = '\0';
	if (!sport)
		return -ENOENT;
	fate_records(lab, req, why_one, &w);
	return buf[0] ? 0 : -ENOENT;
}

struct drops_arg {
	void (*fn)(void *arg, const char *src, uint16_t sport, bool policy);
	void *arg;
};

static int drop_one(json_t *o, void *arg)
{
	struct drops_arg *d = arg;
	json_t *src = json_object_get(o, "source");
	const char *ip = json_string_value(json_object_get(src, "ip"));
	const char *reason = json_string_value(json_object_get(o, "drop_reason"));
	const char *v = json_string_value(json_object_get(o, "verdict"));

	if (!ip || !v || !reason)
		return 0;
	if (flow_verdict_parse(v) == FLOW_NO_BACKEND || !strncmp(reason, "drop-policy", 11))
		d->fn(d->arg, ip, (uint16_t)json_integer_value(json_object_get(src, "port")),
		      flow_verdict_parse(v) == FLOW_DENIED);
	return 0;
}

size_t lab_fate_drops(struct lab *lab, uint16_t dport, const char *proto,
		      void (*fn)(void *arg, const char *saddr, uint16_t sport, bool policy), void *arg)
{
	char req[128];
	snprintf(req, sizeof(req), "to-port=%u\nprotocol=%s\nverdict=denied\n", dport, proto);
	struct drops_arg d = { fn, arg };

	return fate_records(lab, req, drop_one, &d);
}
