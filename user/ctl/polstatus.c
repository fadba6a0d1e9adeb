// SPDX-License-Identifier: Apache-2.0
/*
 * xcnictl policy status [NAME]: on which nodes each NetworkPolicy and
 * ClusterNetworkPolicy is in force, since when, or why not.
 *
 * Each node's xcnid writes what it holds (agent/polstatus.h): per policy the
 * version (a digest of its spec), the generation that brought it, when it
 * first compiled it and when that reached the maps. A policy's current
 * version is the one some node saw last; a node is "enforced" when it
 * applied that version, "pending" when it holds it but its generation
 * failed, "older version" or "not seen" otherwise. AFTER is the time from
 * the change (the object's managedFields time where it has one, else the
 * first node's compile) to the last node's maps.
 */
#include <signal.h>
#include <time.h>

#include "lib/system/clock.h"
#include "ctl/ctl.h"
#include "lib/observe/agentstatus.h"
#include "lib/observe/flowsnet.h"

#define PS_MAX_NODES 64

struct ps_node {
	char name[64];
	json_t *doc; /* the agent's file; NULL: none */
	json_t *by_key; /* "Kind/ns/name" -> its entry in doc: one lookup per policy and node */
	bool down;   /* its pid runs no more */
};

static void pol_key(const char *kind, const char *ns, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s/%s", kind ? kind : "", ns ? ns : "", name ? name : "");
}

/* One node's status document (taken over; NULL: none) indexed by policy. */
static void node_index(struct ps_node *n, const char *name, json_t *doc)
{
	json_t *a, *p;
	size_t i;
	char key[600];

	snprintf(n->name, sizeof(n->name), "%s", name);
	n->doc = doc;
	n->by_key = json_object();
	a = json_object_get(n->doc, "policies");
	json_array_foreach(a, i, p) {
		pol_key(json_string_value(json_object_get(p, "kind")),
			json_string_value(json_object_get(p, "namespace")),
			json_string_value(json_object_get(p, "name")), key, sizeof(key));
		json_object_set(n->by_key, key, p);
	}
	if (!name[0])
		snprintf(n->name, sizeof(n->name), "%s",
			 json_string_value(json_object_get(n->doc, "node")) ?: "this node");
}

/* One node's file, read as it is (an agent down leaves its last one). */
static void node_read(struct ps_node *n, const char *name, const char *pin)
{
	char path[PATH_MAX];
	json_int_t pid;

	snprintf(n->name, sizeof(n->name), "%s", name);
	if (agent_status_policy_path(pin, path, sizeof(path)))
		return;
	node_index(n, name, json_load_file(path, 0, NULL));
	pid = json_integer_value(json_object_get(n->doc, "pid"));
	n->down = !n->doc || (pid > 0 && kill((pid_t)pid, 0) && errno == ESRCH);
}

/*
 * --kubeconfig: every agent's document through its flows relay
 * (request=policy-status); an agent not asked or not answering is a node
 * with no status (said, as unknown). 0 or -errno (said).
 */
static int nodes_ask(const struct ctl_ctx *c, struct ps_node *nodes, size_t *nn)
{
	struct flows_agent *fa = NULL;
	json_t **docs = NULL;
	size_t n = 0;
	int err = flows_ask_all(c->kubeconfig, c->tls_dir, FLOWS_REQ_KIND "=" FLOWS_REQ_POLSTATUS "\n",
				10, &fa, &docs, &n);

	if (err)
		return err;
	*nn = 0;
	for (size_t i = 0; i < n; i++) {
		if (!docs[i])
			pr_err("node %s: no policy status: %s\n", fa[i].node, fa[i].why);
		if (*nn < PS_MAX_NODES)
			node_index(&nodes[(*nn)++], fa[i].node, docs[i]);
		else
			json_decref(docs[i]);
	}
	free(docs);
	free(fa);
	for (size_t i = 0; i < *nn; i++)
		if (nodes[i].doc)
			return 0;
	pr_err("--kubeconfig %s: no agent answered (%zu nodes)\n", c->kubeconfig, n);
	for (size_t i = 0; i < *nn; i++)
		json_decref(nodes[i].by_key);
	return -EHOSTUNREACH;
}

/* The policy's entry in one node's file (NULL: the node does not hold it). */
static json_t *node_pol(const struct ps_node *n, const char *kind, const char *ns,
			const char *name)
{
	char key[600];

	pol_key(kind, ns, name, key, sizeof(key));
	return json_object_get(n->by_key, key);
}

static int64_t jms(json_t *p, const char *k)
{
	return (int64_t)json_integer_value(json_object_get(p, k));
}

/* One node's word for the policy's current version, and why when it is not enforced. */
static const char *node_state(const struct ps_node *n, json_t *p, const char *version,
			      char *why, size_t len)
{
	const char *down = n->down ? " (agent not running)" : "";

	why[0] = '\0';
	if (!n->doc) {
		snprintf(why, len, "no policy status from its agent");
		return "unknown";
	}
	if (!p) {
		snprintf(why, len, "not seen%s", down);
		return "not-seen";
	}
	if (strcmp(json_string_value(json_object_get(p, "version")) ?: "", version)) {
		snprintf(why, len, "holds an older version (generation %lld)%s",
			 (long long)jms(p, "generation"), down);
		return "older";
	}
	if (!jms(p, "applied_ms")) {
		snprintf(why, len, "generation %lld failed: xcnictl status says why%s",
			 (long long)jms(n->doc, "failed_generation"), down);
		return "pending";
	}
	if (n->down)
		snprintf(why, len, "agent not running: its maps still hold this version");
	return "enforced";
}

/* The closed pods of the policy's namespace (a ClusterNetworkPolicy: of any) on one node. */
static long closed_pods(const struct ps_node *n, const char *ns)
{
	json_t *cl = json_object_get(n->doc, "closed"), *v;
	const char *k;
	long sum = 0;

	if (ns)
		return (long)json_integer_value(json_object_get(cl, ns));
	json_object_foreach(cl, k, v)
		sum += (long)json_integer_value(v);
	return sum;
}

struct pol_view {
	const char *kind, *ns, *name, *version;
	int64_t change_ms; /* the change's time: managedFields, else the first compile */
	size_t enforced;
	int64_t last_ms;   /* the last enforcing node's apply */
};

/* The current version of one policy over the nodes: the one seen last. */
static void pol_view(const struct ps_node *nodes, size_t nn, json_t *any, struct pol_view *v)
{
	int64_t seen = -1;

	v->kind = json_string_value(json_object_get(any, "kind"));
	v->ns = json_string_value(json_object_get(any, "namespace"));
	v->name = json_string_value(json_object_get(any, "name"));
	v->version = "";
	v->change_ms = 0;
	for (size_t i = 0; i < nn; i++) {
		json_t *p = node_pol(&nodes[i], v->kind, v->ns, v->name);

		if (p && jms(p, "seen_ms") > seen) {
			seen = jms(p, "seen_ms");
			v->version = json_string_value(json_object_get(p, "version")) ?: "";
		}
	}
	v->enforced = 0;
	v->last_ms = 0;
	for (size_t i = 0; i < nn; i++) {
		json_t *p = node_pol(&nodes[i], v->kind, v->ns, v->name);
		char why[8];

		if (!p || strcmp(json_string_value(json_object_get(p, "version")) ?: "", v->version))
			continue;
		if (jms(p, "change_ms"))
			v->change_ms = jms(p, "change_ms");
		else if (!v->change_ms || jms(p, "seen_ms") < v->change_ms)
			v->change_ms = jms(p, "seen_ms");
		if (!strcmp(node_state(&nodes[i], p, v->version, why, sizeof(why)), "enforced")) {
			v->enforced++;
			if (jms(p, "applied_ms") > v->last_ms)
				v->last_ms = jms(p, "applied_ms");
		}
	}
}

static void pol_label(const struct pol_view *v, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", v->ns ? v->ns : "", v->ns ? "/" : "", v->name);
}

static const char *when(int64_t ms, char *buf, size_t len)
{
	if (!ms)
		return NULL;
	xcni_rfc3339_fmt(ms * 1000000, 3, buf, len);
	return buf;
}

static const struct pt_col list_cols[] = {
	{ "POLICY", "policy", PT_STR },
	{ "KIND", "kind", PT_STR },
	{ "ENFORCED", "enforced", PT_STR },
	{ "AFTER", "after_s", PT_STR },
	{ "STATE", "state", PT_STR },
	{ NULL, "version", PT_STR },
};

static const struct pt_col node_cols[] = {
	{ "NODE", "node", PT_STR },
	{ "STATE", "state", PT_STR },
	{ "SINCE", "since", PT_STR },
	{ "AFTER", "after_s", PT_STR },
	{ "GENERATION", "generation", PT_UINT },
	{ "WHY", "why", PT_STR },
	{ NULL, "closed_pods", PT_UINT },
};

/* Every policy: a row each, the first node not enforcing it named. */
static int list_all(const struct ctl_ctx *c, const struct ps_node *nodes, size_t nn, bool *all)
{
	struct ptable *t = pt_new(list_cols, ARRAY_SIZE(list_cols), 0);
	json_t *seen = json_object();

	for (size_t i = 0; t && seen && i < nn; i++) {
		json_t *a = json_object_get(nodes[i].doc, "policies"), *p;
		size_t j;

		json_array_foreach(a, j, p) {
			struct pol_view v;
			char key[600], label[520], why[512] = "";

			pol_view(nodes, nn, p, &v);
			pol_label(&v, label, sizeof(label));
			snprintf(key, sizeof(key), "%s/%s", v.kind, label);
			if (json_object_get(seen, key))
				continue;
			json_object_set_new(seen, key, json_true());
			for (size_t k = 0; k < nn && v.enforced < nn && !why[0]; k++) {
				char w[256];
				const char *st = node_state(&nodes[k], node_pol(&nodes[k], v.kind, v.ns,
								v.name), v.version, w, sizeof(w));

				if (strcmp(st, "enforced"))
					snprintf(why, sizeof(why), "%.63s: %.255s", nodes[k].name, w);
			}
			*all &= v.enforced == nn;
			pt_str(t, label);
			pt_str(t, v.kind);
			pt_strf(t, "%zu/%zu", v.enforced, nn);
			if (v.enforced == nn)
				pt_strf(t, "%.3fs", (double)(v.last_ms - v.change_ms) / 1000.0);
			else
				pt_null(t);
			pt_str(t, why[0] ? why : "enforced on every node");
			pt_str(t, v.version);
		}
	}
	json_decref(seen);
	return t ? show(c, t) : -ENOMEM;
}

/* NAME: NS/NAME (a NetworkPolicy) or NAME (a ClusterNetworkPolicy). */
static int one(const struct ctl_ctx *c, const struct ps_node *nodes, size_t nn, const char *arg,
	       bool *all)
{
	char ns[254] = "", label[520];
	const char *slash = strchr(arg, '/'), *name = slash ? slash + 1 : arg;
	const char *kind = slash ? "NetworkPolicy" : "ClusterNetworkPolicy";
	json_t *any = NULL;
	struct pol_view v;
	struct ptable *t;

	if (slash)
		snprintf(ns, sizeof(ns), "%.*s", (int)(slash - arg), arg);
	for (size_t i = 0; i < nn && !any; i++)
		any = node_pol(&nodes[i], kind, slash ? ns : NULL, name);
	if (!any)
		return pr_err_ret(-ENOENT, "%s %s: no node's agent holds it (a NetworkPolicy is "
				  "NAMESPACE/NAME, a ClusterNetworkPolicy NAME)\n", kind, arg);
	pol_view(nodes, nn, any, &v);
	pol_label(&v, label, sizeof(label));
	*all = v.enforced == nn;
	if (!c->json) {
		printf("%s (%s, version %s): enforced on %zu/%zu nodes", label, v.kind, v.version,
		       v.enforced, nn);
		if (v.enforced == nn)
			printf(", %.3f s after the change", (double)(v.last_ms - v.change_ms) / 1000.0);
		printf("\n");
	}
	t = pt_new(node_cols, ARRAY_SIZE(node_cols), 0);
	for (size_t i = 0; t && i < nn; i++) {
		json_t *p = node_pol(&nodes[i], v.kind, v.ns, v.name);
		char why[256], buf[40];
		const char *st = node_state(&nodes[i], p, v.version, why, sizeof(why));
		long closed = closed_pods(&nodes[i], v.ns);
		bool on = !strcmp(st, "enforced");

		if (closed > 0 && !why[0])
			snprintf(why, sizeof(why), "%ld pods %s closed for room: they drop everything "
				 "(xcnictl status names them)", closed, v.ns ? "of its namespace" :
				 "on this node");
		pt_str(t, nodes[i].name);
		pt_str(t, st);
		pt_str(t, on ? when(jms(p, "applied_ms"), buf, sizeof(buf)) : NULL);
		if (on)
			pt_strf(t, "%.3fs", (double)(jms(p, "applied_ms") - v.change_ms) / 1000.0);
		else
			pt_null(t);
		pt_uint(t, (uint64_t)jms(p, "generation"));
		pt_str(t, why[0] ? why : NULL);
		pt_uint(t, (uint64_t)(closed > 0 ? closed : 0));
	}
	return t ? show(c, t) : -ENOMEM;
}

static int cmd_policy_status(const struct ctl_ctx *c, char **argv)
{
	struct ps_node nodes[PS_MAX_NODES] = {};
	size_t nn = 0;
	bool all = true;
	int err = 0;

	if (c->opts & OPT_KUBECONFIG) {
		if ((err = nodes_ask(c, nodes, &nn)))
			return err;
	} else if (c->node_all) {
		struct ctl_lab_node ln[PS_MAX_NODES];

		if ((err = ctl_lab_nodes("all", ln, PS_MAX_NODES, &nn)))
			return err;
		for (size_t i = 0; i < nn; i++)
			node_read(&nodes[i], ln[i].name, ln[i].pin);
	} else {
		node_read(&nodes[nn++], "", c->pin_dir);
		if (!nodes[0].doc)
			return pr_err_ret(-ENOENT, "no policy status under /run/xcni for %s: is "
					  "xcnid running there?\n", c->pin_dir);
	}
	err = argv[0] ? one(c, nodes, nn, argv[0], &all) : list_all(c, nodes, nn, &all);
	for (size_t i = 0; i < nn; i++) {
		json_decref(nodes[i].by_key);
		json_decref(nodes[i].doc);
	}
	/* Scripts wait on it: not in force everywhere is exit 1, as status's DEGRADED. */
	return err ? err : all ? 0 : -EAGAIN;
}

const struct cmd polstatus_cmds[] = {
	{ "policy", "status", cmd_policy_status, CMD_ARGS_UPTO(1), OPT_KUBECONFIG,
	  "[NAME] [--kubeconfig FILE --tls DIR]",
	  "Show on which nodes each NetworkPolicy and ClusterNetworkPolicy is in force,\n"
	  "since when, or why not.", NULL },
	{}
};
