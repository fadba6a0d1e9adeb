// SPDX-License-Identifier: Apache-2.0
/*
 * xcnictl policy selectors, and the cluster view behind the near misses of
 * explain and policy get (polsel.h). The maps hold what the compiler made of
 * the policies, not their selectors: those come from the objects the agent
 * reads, compiled again here with the agent's identity numbers as the
 * previous allocation (pol_opts.prev), so the numbers shown are the maps'.
 */
#include <poll.h>
#include <sys/stat.h>
#include <time.h>

#include "ctl/ctl.h"
#include "ctl/polsel.h"
#include "lib/cluster/k8sapi.h"
#include "lib/system/clock.h"

/* How long the API server may take to list everything (a source that is not a
 * directory): for policy selectors, and for the near misses explain and
 * policy get add to what the maps say (quiet: they must not hang on it). */
#define CTL_CLUSTER_LIST_MS 15000
#define CTL_CLUSTER_LIST_QUIET_MS 5000

struct id_rec {
	__u32 id;
	struct xcni_idlabels l;
};

static int idprev_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pol_idprev *)a)->labels, ((const struct pol_idprev *)b)->labels);
}

/* The compile, the agent's numbers kept; without them (no map) numbers as a new agent's. */
static void cluster_compile(const struct ctl_ctx *c, struct ctl_cluster *cc)
{
	struct pol_opts o = { 0 };
	struct xcni_config cfg;
	struct id_rec *ids = NULL;
	struct pol_idprev *prev = NULL;
	struct k8s_error kerr;
	int fd;
	size_t n = 0;

	if (!ctl_config_read(c, &cfg))
		o.node_name = cfg.node_name;
	fd = map_open_quiet(c, &m_identity);
	if (fd >= 0) {
		/* n stays 0 on failure */
		map_collect(fd, &m_identity, sizeof(*ids), offsetof(struct id_rec, id),
			    offsetof(struct id_rec, l), (void **)&ids, &n, u32_cmp);
		close(fd);
	}
	if (n && (prev = calloc(n, sizeof(*prev)))) {
		for (size_t i = 0; i < n; i++) {
			ids[i].l.labels[sizeof(ids[i].l.labels) - 1] = '\0';
			prev[i] = (struct pol_idprev){ ids[i].l.labels, ids[i].id };
		}
		qsort(prev, n, sizeof(*prev), idprev_cmp);
		o.prev = prev;
		o.nprev = n;
	}
	cc->compiled = !pol_compile(&cc->view, &o, &cc->r, &kerr);
	if (!cc->compiled)
		pr_debug("policy compile for the identities: %s\n", kerr.msg);
	free(prev);
	free(ids);
}

int ctl_cluster_open(const struct ctl_ctx *c, bool quiet, struct ctl_cluster **out)
{
	struct ctl_cluster *cc = calloc(1, sizeof(*cc));
	json_t *a = agent_answer(c);
	const char *src = json_string_value(json_object_get(json_object_get(a, "cluster"), "source"));
	struct stat sb;
	int err;

	if (!cc) {
		json_decref(a);
		return -ENOMEM;
	}
	if (!src) {
		if (!quiet)
			pr_err("the selectors need the cluster's objects: %s (pin dir %s)\n",
			       a ? "the agent reads no cluster state" : "no agent answers", c->pin_dir);
		json_decref(a);
		free(cc);
		return a ? -ENOENT : -ECONNREFUSED;
	}
	snprintf(cc->source, sizeof(cc->source), "%s", src);
	json_decref(a);
	if (!(cc->st = store_new())) {
		free(cc);
		return -ENOMEM;
	}
	if (!stat(cc->source, &sb) && S_ISDIR(sb.st_mode)) {
		err = manifest_dir_open_flags(cc->source, cc->st, 0, &cc->b);
	} else {
		__u64 until = xcni_mono_ms() + (quiet ? CTL_CLUSTER_LIST_QUIET_MS : CTL_CLUSTER_LIST_MS);

		err = k8s_api_open_flags(strcmp(cc->source, "in-cluster") ? cc->source : NULL, cc->st,
					 0, &cc->b);
		while (!err && !cc->b->sync_gen) {
			struct pollfd p = { .fd = cc->b->ops->fd(cc->b), .events = POLLIN };
			__u64 now = xcni_mono_ms();

			if (now >= until) {
				err = -ETIMEDOUT;
				break;
			}
			/* A short wait: the backend's own timers run in dispatch too. */
			if (poll(&p, 1, until - now < 100 ? (int)(until - now) : 100) < 0 &&
			    errno != EINTR)
				err = -errno;
			else if (cc->b->ops->dispatch(cc->b) < 0)
				err = -EIO;
		}
	}
	if (err) {
		if (!quiet)
			pr_err("the cluster's objects from %s (the agent's source): %s\n", cc->source,
			       strerror(-err));
		ctl_cluster_close(cc);
		return err;
	}
	store_view(cc->st, &cc->view);
	cluster_compile(c, cc);
	*out = cc;
	return 0;
}

void ctl_cluster_close(struct ctl_cluster *cc)
{
	if (!cc)
		return;
	if (cc->compiled)
		pol_result_free(&cc->r);
	if (cc->b)
		cc->b->ops->free(cc->b);
	store_free(cc->st);
	free(cc);
}

const struct k8s_pod *ctl_cluster_pod(const struct ctl_cluster *cc, const char *name, __u32 ip)
{
	const char *slash = name ? strchr(name, '/') : NULL;

	for (size_t i = 0; slash && i < cc->view.n[K8S_POD]; i++) {
		const struct k8s_pod *p = &cc->view.objs[K8S_POD][i]->pod;

		if (strlen(p->meta.ns) == (size_t)(slash - name) &&
		    !strncmp(p->meta.ns, name, (size_t)(slash - name)) && !strcmp(p->meta.name, slash + 1))
			return p;
	}
	for (size_t i = 0; ip && i < cc->view.n[K8S_POD]; i++) {
		const struct k8s_pod *p = &cc->view.objs[K8S_POD][i]->pod;

		if (p->ip == ip && !p->host_network && !k8s_pod_finished(p))
			return p;
	}
	return NULL;
}

static const char *const tier_names[] = { [NM_NP] = "networkpolicy", [NM_ADMIN] = "admin",
					  [NM_BASELINE] = "baseline" };
static const char *const part_names[] = { [NM_SUBJECT] = "subject", [NM_INGRESS] = "ingress",
					  [NM_EGRESS] = "egress" };

/* One selector as a JSON object: the policy, the rule, what it selects. */
static json_t *sel_json(const struct pol_nm_sel *s)
{
	json_t *o, *ids = json_array(), *pods = json_array();
	char pn[400], line[1200];

	for (size_t i = 0; i < s->nids; i++)
		json_array_append_new(ids, json_integer(s->ids[i]));
	for (size_t i = 0; i < s->nsel; i++)
		json_array_append_new(pods, json_sprintf("%s/%s", s->sel[i]->meta.ns,
							 s->sel[i]->meta.name));
	o = json_pack("{s:s,s:s,s:s?,s:s,s:s,s:o,s:o,s:s?,s:s?,s:s,s:I}", "policy",
		      pol_nm_policy_name(s, pn, sizeof(pn)), "tier", tier_names[s->tier], "namespace",
		      s->ns, "name", s->name, "direction", part_names[s->part], "rule",
		      s->rule >= 0 ? json_integer(s->rule) : json_null(), "peer",
		      s->peer >= 0 ? json_integer(s->peer) : json_null(), "rule_name", s->rule_name,
		      "action", s->action, "selector", s->text, s->nodes ? "nodes" : "pods",
		      (json_int_t)s->npods);
	if (!s->nodes) {
		json_object_set_new(o, "pod_names", pods); /* the first NM_PODS_MAX */
		json_object_set_new(o, "identities", ids);
	} else {
		json_decref(pods);
		json_decref(ids);
	}
	if (s->nns != SIZE_MAX)
		json_object_set_new(o, "namespaces", json_integer((json_int_t)s->nns));
	json_object_set_new(o, "empty", json_boolean(!s->npods));
	json_object_set_new(o, "note", s->note[0] ? json_string(s->note) : json_null());
	json_object_set_new(o, "text", json_string(pol_nm_sentence(s, line, sizeof(line))));
	return o;
}

int ctl_near_misses(const struct ctl_cluster *cc, const struct k8s_pod *self,
		    const struct k8s_pod *other, enum nm_part dir, __u8 proto, __u16 port,
		    char *text, size_t len, json_t **json)
{
	struct pol_nm_list l;
	size_t k;
	int err;

	text[0] = '\0';
	if (json)
		*json = NULL;
	err = pol_nm_near_misses(&cc->view, cc->compiled ? &cc->r : NULL, self, other, dir, proto, port,
			     &l);
	if (err)
		return err;
	/* Any flow (proto 0): only the selectors that select nothing. */
	k = pol_nm_join(&l, !proto, text, len);
	if (json)
		*json = json_array();
	for (size_t i = 0; json && i < l.n; i++)
		if (proto || !l.v[i].npods)
			json_array_append_new(*json, sel_json(&l.v[i]));
	pol_nm_list_free(&l);
	return (int)k;
}

/* ---- policy selectors ------------------------------------------------------------- */

static const struct pt_col sel_cols[] = {
	{ "POLICY", NULL, PT_STR },
	{ "RULE", NULL, PT_STR },
	{ "SELECTOR", NULL, PT_STR },
	{ "PODS", NULL, PT_STR },
	{ "IDENTITIES", NULL, PT_STR },
	{ "NOTE", NULL, PT_STR },
};

/* "3: 1201,1202,+1": the count, the first few. */
static void ids_words(const struct pol_nm_sel *s, char *buf, size_t len)
{
	size_t o = 0;

	if (s->nodes) {
		snprintf(buf, len, "-");
		return;
	}
	o = (size_t)snprintf(buf, len, "%zu", s->nids);
	for (size_t i = 0; i < s->nids && i < 3 && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%u", i ? "," : ": ", s->ids[i]);
	if (s->nids > 3 && o < len)
		snprintf(buf + o, len - o, ",+%zu", s->nids - 3);
}

int cmd_policy_selectors(const struct ctl_ctx *c, char **argv)
{
	struct ctl_cluster *cc;
	struct pol_nm_list l;
	struct ptable *t;
	json_t *arr;
	int err;

	(void)argv;
	if ((err = ctl_cluster_open(c, false, &cc)))
		return err;
	if ((err = pol_nm_selectors(&cc->view, cc->compiled ? &cc->r : NULL, &l))) {
		pr_err("selectors: %s\n", strerror(-err));
		ctl_cluster_close(cc);
		return err;
	}
	arr = json_array();
	t = pt_new(sel_cols, ARRAY_SIZE(sel_cols), 0);
	for (size_t i = 0; i < l.n; i++) {
		const struct pol_nm_sel *s = &l.v[i];
		char pn[400], ids[64];

		if ((c->opts & OPT_NAMESPACE) && s->ns && strcmp(s->ns, c->ns))
			continue;
		if (pt_format_structured(c->out)) {
			json_array_append_new(arr, sel_json(s));
			continue;
		}
		pt_str(t, pol_nm_policy_name(s, pn, sizeof(pn)));
		if (s->part == NM_SUBJECT)
			pt_str(t, "applies to");
		else
			pt_strf(t, "%s %d%s%s%s", s->part == NM_INGRESS ? "from" : "to", s->rule,
				s->rule_name ? " \"" : "", s->rule_name ? s->rule_name : "",
				s->rule_name ? "\"" : "");
		pt_str(t, s->text);
		pt_strf(t, "%zu%s", s->npods, s->nodes ? " nodes" : "");
		ids_words(s, ids, sizeof(ids));
		pt_str(t, ids);
		pt_str(t, s->note[0] ? s->note : NULL);
	}
	if (pt_format_structured(c->out)) {
		pt_free(t);
		err = pt_dump_json(arr, stdout, c->out);
	} else {
		if (!pt_rows(t))
			printf("no NetworkPolicy or ClusterNetworkPolicy%s%s (objects from %s)\n",
			       c->opts & OPT_NAMESPACE ? " in namespace " : "",
			       c->opts & OPT_NAMESPACE ? c->ns : "", cc->source);
		err = show(c, t);
	}
	json_decref(arr);
	pol_nm_list_free(&l);
	ctl_cluster_close(cc);
	return err;
}
