// SPDX-License-Identifier: Apache-2.0
/*
 * xcnictl policy suggest: NetworkPolicies from flow records, and the proof.
 * The records come from the agents as `xcnictl flows -o json` gets them
 * (flows.c, run here with its own options) or from a file of those lines;
 * the cluster state from a manifest directory (the lab's by default); the
 * policies and the replay from lib/observe/suggest.h.
 */
#include <getopt.h>

#include "ctl/ctl.h"
#include "lab/state.h"
#include "lib/cluster/store.h"
#include "lib/observe/flows.h"
#include "lib/observe/suggest.h"

struct sug_opts {
	const char *ns, *from, *since, *manifests, *kubeconfig, *tls;
	const char *nodes[16];
	size_t nnodes;
	bool audit;
};
/* policy suggest's options (completion lists them too) */
const struct pt_opt ctl_suggest_opts[] = {
	{ "namespace", 'n', true, 'n', 0, "NS", "the namespace whose pods the policies select" },
	{ "from-flows", 0, true, 'F', 0, "FILE", "flow records (flows -o json; -: stdin)" },
	{ "since", 0, true, 'S', 0, "DURATION", "only records seen since (flows --since)" },
	{ "audit", 0, false, 'a', 0, NULL, "the policies in audit mode" }, /* not a fate */
	{ "manifests", 0, true, 'M', 0, "DIR", "the cluster state (default: the lab's)" },
	{ "node", 0, true, 'N', 0, "NODE|all", "the lab nodes asked (default all)" },
	{ "kubeconfig", 0, true, 'K', 0, "FILE", "a cluster's agents (with --tls)" },
	{ "tls", 0, true, 'T', 0, "DIR", "the flows client certificate" },
	{ "help", 'h', false, 'h', 0, NULL, "this text" },
	{}
};


static int sug_parse(int argc, char **argv, struct sug_opts *o)
{
	int opt;

	optind = 0;
	opterr = 0;
	while ((opt = pt_getopt(argc, argv, ctl_suggest_opts, true, NULL)) != -1) {
		switch (opt) {
		case 'n': o->ns = optarg; break;
		case 'F': o->from = optarg; break;
		case 'S': o->since = optarg; break;
		case 'a': o->audit = true; break;
		case 'M': o->manifests = optarg; break;
		case 'K': o->kubeconfig = optarg; break;
		case 'T': o->tls = optarg; break;
		case 'N':
			if (o->nnodes == ARRAY_SIZE(o->nodes))
				return pr_err_ret(2, "policy suggest: --node: at most %zu\n",
						  ARRAY_SIZE(o->nodes));
			o->nodes[o->nnodes++] = optarg;
			break;
		case 'h':
			return pt_usage(stdout, "policy suggest --namespace NS [OPTIONS]",
					ctl_suggest_opts);
		case ':':
			return pr_err_ret(2, "policy suggest: %s needs a value\n",
					  argv[optind - 1]);
		default:
			return pr_err_ret(2, "policy suggest: unknown flag %.*s (policy suggest "
					  "--help lists its options)\n",
					  (int)strcspn(argv[optind - 1], "="), argv[optind - 1]);
		}
	}
	if (optind < argc)
		return pr_err_ret(2, "policy suggest: unexpected argument %s\n", argv[optind]);
	if (!o->ns || !*o->ns)
		return pr_err_ret(2, "policy suggest: --namespace NS: the namespace whose pods the "
				  "policies select\n");
	/* A Namespace's name is a DNS label: lower case letters, digits and '-'. */
	if (strlen(o->ns) > 63 || o->ns[strspn(o->ns, "abcdefghijklmnopqrstuvwxyz0123456789-")])
		return pr_err_ret(2, "policy suggest: --namespace %s: not a namespace name (a DNS "
				  "label)\n", o->ns);
	if (o->from && (o->since || o->nnodes || o->kubeconfig))
		return pr_err_ret(2, "policy suggest: --from-flows and --%s: the records come from "
				  "one place\n",
				  o->since ? "since" : o->nnodes ? "node" : "kubeconfig");
	if (o->kubeconfig && o->nnodes)
		return pr_err_ret(2, "policy suggest: --kubeconfig and --node both say which "
				  "agents: give one\n");
	return -1;
}

/* Every line of f a flow record into fl; name for messages. 0 or -EINVAL (said). */
static int read_flows(FILE *f, const char *name, struct sug_flows *fl, size_t *nread)
{
	char *line = NULL, msg[300];
	size_t cap = 0, lineno = 0;
	json_error_t je;
	int err = 0;

	while (!err && getline(&line, &cap, f) >= 0) {
		json_t *rec;

		lineno++;
		if (!line[strspn(line, " \t\r\n")])
			continue;
		rec = json_loads(line, 0, &je);
		if (!rec) {
			err = pr_err_ret(-EINVAL, "%s:%zu: not JSON: %s\n", name, lineno, je.text);
			break;
		}
		err = suggest_flow_add(fl, rec, msg, sizeof(msg));
		json_decref(rec);
		if (err < 0)
			pr_err("%s:%zu: flow record: %s\n", name, lineno, msg);
		else
			(*nread)++, err = 0;
	}
	free(line);
	return err;
}

/* The records as `xcnictl flows -o json` gets them, into fl. 0 or -errno (said). */
static int ask_agents(const struct sug_opts *o, struct sug_flows *fl, size_t *nread)
{
	char *av[48];
	int ac = 0, saved, rc, err;
	FILE *tmp = tmpfile();

	if (!tmp)
		return pr_err_ret(-errno,
				  "policy suggest: a temporary file: %s\n", strerror(errno));
	av[ac++] = "flows";
	av[ac++] = "--json";
	av[ac++] = "--namespace";
	av[ac++] = (char *)o->ns;
	if (o->since) {
		av[ac++] = "--since";
		av[ac++] = (char *)o->since;
	}
	if (o->kubeconfig) {
		av[ac++] = "--kubeconfig";
		av[ac++] = (char *)o->kubeconfig;
	}
	if (o->tls) {
		av[ac++] = "--tls";
		av[ac++] = (char *)o->tls;
	}
	for (size_t i = 0; i < o->nnodes; i++) {
		av[ac++] = "--node";
		av[ac++] = (char *)o->nodes[i];
	}
	if (!o->kubeconfig && !o->nnodes) {
		av[ac++] = "--node";
		av[ac++] = "all";
	}
	av[ac] = NULL;
	/* flows writes its lines to stdout: into the file, then read back. */
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	if (saved < 0 || dup2(fileno(tmp), STDOUT_FILENO) < 0) {
		pr_err("policy suggest: stdout: %s\n", strerror(errno));
		fclose(tmp);
		return -errno;
	}
	optind = 0;
	rc = ctl_flows_main(ac, av);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	/* 3: some agents did not answer (flows said which): their records are missing. */
	if (rc == 3) {
		pr_warn("policy suggest: a partial view: the policies allow only what the "
			"agents that answered recorded\n");
	} else if (rc) {
		pr_err("policy suggest: the flow records could not be read (flows: exit %d)\n", rc);
		fclose(tmp);
		return -EIO;
	}
	rewind(tmp);
	err = read_flows(tmp, "flows", fl, nread);
	fclose(tmp);
	return err;
}

static int load_flows(const struct sug_opts *o, struct sug_flows *fl, size_t *nread)
{
	FILE *f;
	int err;

	if (!o->from)
		return ask_agents(o, fl, nread);
	f = strcmp(o->from, "-") ? fopen(o->from, "r") : stdin;
	if (!f)
		return pr_err_ret(-errno, "--from-flows %s: %s\n", o->from, strerror(errno));
	err = read_flows(f, o->from, fl, nread);
	if (f != stdin)
		fclose(f);
	return err;
}

/* "ns/pod" or the address of an end. */
static const char *end_str(const struct sug_end *e, uint8_t family, char *buf, size_t len)
{
	if (e->ns)
		snprintf(buf, len, "%s/%s", e->ns, e->pod);
	else
		inet_ntop(family == 4 ? AF_INET : AF_INET6, e->addr, buf, (socklen_t)len);
	return buf;
}

static const struct pt_col replay_cols[] = {
	{ "SOURCE", "source", PT_STR },
	{ "DESTINATION", "destination", PT_STR },
	{ "PORT", "port", PT_STR },
	{ "RECORDED", "recorded", PT_STR },
	{ "SUGGESTED", "suggested", PT_STR },
	{ "OK", "ok", PT_STR },
};

/* Rows by source, destination, protocol and port (qsort_r over the flows' indices). */
static int row_cmp(const void *x, const void *y, void *arg)
{
	const struct sug_flows *fl = arg;
	const struct sug_flow *a = &fl->v[*(const size_t *)x], *b = &fl->v[*(const size_t *)y];
	char s1[400], s2[400];
	int d;

	if ((d = strcmp(end_str(&a->src, a->family, s1, sizeof(s1)),
			end_str(&b->src, b->family, s2, sizeof(s2)))) ||
	    (d = strcmp(end_str(&a->dst, a->family, s1, sizeof(s1)),
			end_str(&b->dst, b->family, s2, sizeof(s2)))))
		return d;
	return a->proto != b->proto ? a->proto - b->proto : a->port - b->port;
}

/* The replay's table on stderr; the number of flows whose fate would change. */
static size_t replay_table(const struct sug_flows *fl, const enum sug_fate *fates)
{
	static const int fates_v[] = { FLOW_ALLOWED, FLOW_DENIED };
	struct ptable *t = pt_new(replay_cols, ARRAY_SIZE(replay_cols), 0);
	size_t *order = calloc(fl->n + 1, sizeof(*order));
	char a[400], b[400];
	size_t wrong = 0;

	if (!order) {
		pt_free(t);
		return fl->n + 1;
	}
	for (size_t i = 0; i < fl->n; i++)
		order[i] = i;
	qsort_r(order, fl->n, sizeof(*order), row_cmp, (void *)fl);
	for (size_t k = 0; k < fl->n; k++) {
		size_t i = order[k];
		const struct sug_flow *f = &fl->v[i];
		bool ok = fates[i] == SUG_FATE_SKIPPED ||
			  (fates[i] == SUG_FATE_ALLOWED) == (f->verdict == SUG_ALLOWED);

		if (fates[i] == SUG_FATE_SKIPPED && f->family == 4)
			continue; /* no end in the namespace */
		wrong += !ok;
		pt_str(t, end_str(&f->src, f->family, a, sizeof(a)));
		pt_str(t, end_str(&f->dst, f->family, b, sizeof(b)));
		if (f->port)
			pt_strf(t, "%u/%s", f->port, proto_name(f->proto));
		else
			pt_str(t, proto_name(f->proto));
		pt_str(t, flow_verdict_name(f->verdict == SUG_ALLOWED ? FLOW_ALLOWED : FLOW_DENIED));
		pt_str(t, fates[i] == SUG_FATE_SKIPPED ? "not replayed" :
							  flow_verdict_name(fates_v[fates[i]]));
		pt_str(t, ok ? "yes" : "NO");
	}
	fflush(stdout);
	pt_print(t, stderr, false);
	pt_free(t);
	free(order);
	return wrong;
}

/*
 * The NetworkPolicies of ns in c, which the replay replaced by the
 * suggestion: named on f after prefix, so that applying the suggestion beside
 * them (what runs is then not what was replayed) is a choice, not a surprise.
 */
static void set_aside(const struct cluster *c, const char *ns, FILE *f, const char *prefix)
{
	size_t n = 0;

	for (size_t i = 0; i < c->n[K8S_NETWORKPOLICY]; i++) {
		const struct k8s_meta *m = &c->objs[K8S_NETWORKPOLICY][i]->meta;

		if (strcmp(m->ns, ns))
			continue;
		if (n++)
			fprintf(f, ", %s", m->name);
		else
			fprintf(f, "%sthe replay set aside the NetworkPolicies of %s: %s", prefix, ns,
				m->name);
	}
	if (n)
		fprintf(f, "\n%sdelete them when applying this (what runs is then what was "
			   "replayed)\n", prefix);
}

/* The records no rule decided, by verdict, on stderr. */
static void aside_counts(const struct sug_flows *fl)
{
	size_t n = 0;

	for (int v = 0; v < FLOW_NR_VERDICTS; v++)
		if (fl->aside[v])
			fprintf(stderr, "%s%zu %s", n++ ? ", " : "records set aside (no rule decided them): ",
				fl->aside[v], flow_verdict_name(v));
	if (n)
		fputc('\n', stderr);
}

/* The policies, the replay, its table: the exit code. */
static int suggest_run(const struct sug_opts *o, const struct cluster *c,
		       const struct sug_flows *fl)
{
	enum sug_fate *fates = calloc(fl->n + 1, sizeof(*fates));
	json_t *pols = NULL, *enforced = NULL, *p;
	size_t nskipped = 0, wrong, i;
	char msg[600];
	int rc = 1;

	if (!fates)
		return 1;
	if (suggest_build(c, o->ns, fl, o->audit, &pols, &nskipped, msg, sizeof(msg))) {
		pr_err("policy suggest: %s\n", msg);
		goto out;
	}
	/* Replayed as they will be once enforced: --audit's would deny nothing. */
	if (o->audit &&
	    suggest_build(c, o->ns, fl, false, &enforced, &nskipped, msg, sizeof(msg))) {
		pr_err("policy suggest: %s\n", msg);
		goto out;
	}
	if (suggest_replay(c, o->ns, enforced ? enforced : pols, fl, fates, msg, sizeof(msg))) {
		pr_err("policy suggest: the suggestion does not compile: %s\n", msg);
		goto out;
	}
	set_aside(c, o->ns, stdout, "# ");
	json_array_foreach(pols, i, p)
		if (pt_yaml_dump(p, stdout)) {
			pr_err("policy suggest: stdout: %s\n", strerror(EIO));
			goto out;
		}
	wrong = replay_table(fl, fates);
	if (nskipped)
		fprintf(stderr, "%zu allowed flow(s) left out: ICMP (NetworkPolicy allows it only "
				"with every port), or a pod the cluster state no longer has\n",
			nskipped);
	set_aside(c, o->ns, stderr, "");
	aside_counts(fl);
	if (wrong)
		fprintf(stderr, "policy suggest: %zu recorded flow(s) would change fate\n", wrong);
	rc = wrong ? 1 : 0;
out:
	json_decref(pols);
	json_decref(enforced);
	free(fates);
	return rc;
}

int ctl_policy_suggest_main(int argc, char **argv)
{
	struct sug_opts o = {};
	struct sug_flows fl = {};
	struct store *st = NULL;
	struct cs_backend *be = NULL;
	struct cluster c;
	char dir[PATH_MAX];
	size_t nread = 0;
	int rc;

	if ((rc = sug_parse(argc, argv, &o)) >= 0)
		return rc;
	if (!o.manifests) {
		snprintf(dir, sizeof(dir), "%s/manifests", lab_dir());
		o.manifests = dir;
	}
	if (access(o.manifests, R_OK))
		return pr_err_ret(2, "policy suggest: --manifests %s: %s (the cluster state: a "
				  "lab's, or a directory of kubectl get ns,pods,networkpolicies -A "
				  "-o yaml)\n", o.manifests, strerror(errno));
	rc = 1;
	if (load_flows(&o, &fl, &nread))
		goto out;
	st = store_new();
	if (!st || manifest_dir_open(o.manifests, st, &be)) {
		pr_err("policy suggest: --manifests %s: cannot read the cluster state\n",
		       o.manifests);
		goto out;
	}
	store_view(st, &c);
	rc = suggest_run(&o, &c, &fl);
out:
	if (be)
		be->ops->free(be);
	store_free(st);
	suggest_flows_free(&fl);
	return rc;
}
