// SPDX-License-Identifier: Apache-2.0
/*
 * xcnictl explain, the command: its arguments, a Service's translation first
 * (explain_svc.c), then the policy walk of the flow (explain.c). The two
 * files below it call down only: explain_svc.c into explain.c.
 */
#include "ctl/ctl.h"
#include "ctl/explain.h"
#include "ctl/polsel.h"
#include "lib/observe/flowsnet.h"

/*
 * node_near_fn: the objects the node's agent reads (its status socket names
 * their source), matched against the two ends by name (their address where
 * the name is not known). Nothing when no agent answers or it reads no
 * cluster state.
 */
static void ctl_near(void *arg, const struct node_maps *m, const struct flow_end *pod,
		     const struct flow_end *peer, enum nm_part dir, __u8 proto, __u16 port,
		     char *buf, size_t len)
{
	struct ctl_ctx at = { .pin_dir = m->dir };
	const struct k8s_pod *self, *other;
	struct ctl_cluster *cc;

	(void)arg;
	if (ctl_cluster_open(&at, true, &cc))
		return;
	self = ctl_cluster_pod(cc, pod->pod, pod->v6 ? 0 : pod->ip);
	other = peer->is_pod ? ctl_cluster_pod(cc, peer->pod[0] ? peer->pod : NULL,
					       peer->v6 ? 0 : peer->ip) : NULL;
	if (self)
		ctl_near_misses(cc, self, other, dir, proto, port, buf, len, NULL);
	ctl_cluster_close(cc);
}

/* A node's maps for explain under dir: xcnictl's layout check, near misses from its agent. */
static int maps_open(const char *dir, struct node_maps *m, char *why, size_t len)
{
	int err = explain_maps_open(dir, m, ctl_map_open, why, len);

	m->near = ctl_near;
	if (err && why[0])
		pr_err("%s\n", why);
	return err;
}

static int explain_merge_show(const struct ctl_ctx *c, json_t *const *recs, size_t n)
{
	json_t *m = flows_explain_merge((void *const *)recs, n), *v;
	struct ptable *t;

	if (!m)
		return -ENOMEM;
	t = pt_new(explain_cols, explain_ncols, PT_RECORD);
	for (size_t i = 0; i < explain_ncols; i++) {
		v = json_object_get(m, explain_cols[i].key);
		if (json_is_integer(v))
			pt_uint(t, (uint64_t)json_integer_value(v));
		else if (json_is_string(v))
			pt_str(t, json_string_value(v));
		else
			pt_null(t);
	}
	json_decref(m);
	return show(c, t);
}

/* Usage check (exit 2): the third argument is the only one with a syntax of its own. */
static int check_explain(char **argv)
{
	struct xcni_svcname n;
	__u8 proto;
	__u16 port;

	if (parse_svc_ref(argv[1], &n) && (!n.ns[0] || !n.name[0]))
		return pr_err_ret(-EINVAL, "DST \"%s\": expected svc/NAMESPACE/NAME (a namespace "
				  "of at most %zu characters, a name of at most %zu)\n", argv[1],
				  sizeof(n.ns) - 1, sizeof(n.name) - 1);
	return parse_port_proto(argv[2], &proto, &port);
}

/*
 * explain --node all: every lab node's maps into all[] (the pin dirs in ln,
 * which must outlive them), each knowing the others: a side is then read on
 * the node its pod lives on, a Service's backends each on theirs.
 */
static int open_lab_nodes(struct ctl_lab_node *ln, struct node_maps *all, size_t *n, char *why,
			  size_t len)
{
	int err = ctl_lab_nodes("all", ln, CTL_EXPLAIN_MAX_NODES + 1, n);

	if (err)
		return err;
	if (*n > CTL_EXPLAIN_MAX_NODES) {
		pr_err("--node all: the lab has more than %d nodes, more than explain reads at once "
		       "(--node NODE --pin-dir-dst DIR names the two)\n", CTL_EXPLAIN_MAX_NODES);
		*n = 0;
		return -EINVAL;
	}
	for (size_t i = 0; i < *n; i++) {
		err = maps_open(ln[i].pin, &all[i], why, len);
		if (err) {
			while (i--)
				explain_maps_close(&all[i]);
			*n = 0;
			return err;
		}
	}
	for (size_t i = 0; i < *n; i++) {
		all[i].peers = all;
		all[i].npeers = *n;
	}
	return 0;
}

/*
 * explain --kubeconfig: every agent asked for its side (request=explain on
 * its flows relay: its own explain on its own maps), the sides put together
 * as --node all puts them. 0 or -errno (said).
 */
static int explain_cluster(const struct ctl_ctx *c, char **argv)
{
	struct flows_agent *fa = NULL;
	char req[1200], msg[400];
	json_t **recs = NULL;
	size_t n = 0, got = 0;
	int err;

	if (!strncmp(argv[1], "svc/", 4))
		return pr_err_ret(-EINVAL, "%s: --kubeconfig explains a flow to a pod or an "
				  "address (a Service's backends: explain each backend pod)\n",
				  argv[1]);
	err = flows_explain_req(argv[0], argv[1], argv[2], c->opts & OPT_FAMILY ? c->family : 0,
				c->opts & OPT_SPORT ? c->sport : 0, req, sizeof(req), msg, sizeof(msg));
	if (err)
		return pr_err_ret(err, "%s\n", err == -E2BIG ? "SRC or DST too long" : msg);
	if ((err = flows_ask_all(c->kubeconfig, c->tls_dir, req, 10, &fa, &recs, &n)))
		return err;
	for (size_t i = 0; i < n; i++)
		if (!(recs[got] = recs[i]))
			pr_err("node %s: %s\n", fa[i].node, fa[i].why);
		else
			got++;
	err = got ? explain_merge_show(c, recs, got) : -ENOENT;
	for (size_t i = 0; i < got; i++)
		json_decref(recs[i]);
	free(recs);
	free(fa);
	return err;
}

static int cmd_explain(const struct ctl_ctx *c0, char **argv)
{
	/* --node all: the pin dir of the node read from (a pod's name is resolved there). */
	struct ctl_ctx at = *c0;
	const struct ctl_ctx *c = &at;
	static struct ctl_lab_node ln[CTL_EXPLAIN_MAX_NODES + 1];
	struct node_maps sm, dm, all[CTL_EXPLAIN_MAX_NODES];
	const struct node_maps *sp = &sm, *dp = &dm;
	struct xcni_svcname sref;
	struct svc_view sv = { .svc = -1 };
	struct xcni_svc_key fk = {};
	struct flow f = {};
	struct ptable *t;
	const char *verdict;
	char why[600] = "";
	struct ctl_addr dip;
	size_t nall = 0;
	bool by_name, v6;
	int err;

	err = parse_port_proto(argv[2], &f.proto, &f.port);
	if (err)
		return err;
	if (c->opts & OPT_KUBECONFIG)
		return explain_cluster(c, argv);

	by_name = parse_svc_ref(argv[1], &sref);
	if (c->node_all) {
		err = open_lab_nodes(ln, all, &nall, why, sizeof(why));
		if (err)
			return err;
		sp = dp = &all[0];
		at.pin_dir = sp->dir;
	} else {
		err = maps_open(c->pin_dir, &sm, why, sizeof(why));
		if (err)
			return err;
		err = maps_open(c->opts & OPT_PIN_DIR_DST ? c->pin_dir_dst : c->pin_dir, &dm, why,
				sizeof(why));
		if (err) {
			explain_maps_close(&sm);
			return err;
		}
	}
	/* IPv6 when --family 6 or an end says so (an IPv6 address, or a pod with no IPv4). */
	if (c->opts & OPT_FAMILY)
		v6 = c->family == 6;
	else
		v6 = explain_end_is_v6(sp, argv[0]) || explain_end_is_v6(sp, argv[1]) || explain_end_is_v6(dp, argv[1]);
	if ((err = explain_end_resolve(sp, NULL, argv[0], v6, &f.src)))
		goto close;
	/* --node all: the source's side (and a Service's translation) on its node. */
	if (nall && (sp = explain_maps_of(&all[0], f.src.node, &all[0])) != dp) {
		dp = sp;
		at.pin_dir = sp->dir;
		memset(&f.src, 0, sizeof(f.src));
		if ((err = explain_end_resolve(sp, NULL, argv[0], v6, &f.src)))
			goto close;
	}
	/* A Service, by name or by a frontend's address: translated before policy. */
	fk.family = v6 ? XCNI_AF_INET6 : XCNI_AF_INET;
	fk.port = htons(f.port);
	fk.proto = f.proto;
	if (by_name || (!parse_ip_any(argv[1], &dip) && dip.family == fk.family && f.port)) {
		err = svc_view_open(c, sp->dir, &sv);
		if (err && (by_name || err != -ENOENT)) {
			if (err == -ENOENT)
				pr_err("%s: node %s has no Service maps (an agent without "
				       "--kube-proxy-replacement, or from before them)\n", argv[1],
				       sp->node[0] ? sp->node : sp->dir);
			goto close;
		}
		err = 0;
	}
	if (by_name) {
		struct svc_rec *recs = NULL;
		size_t nr = 0, i;

		err = svc_by_name(sv.svc, sv.name, &sref, &recs, &nr);
		for (i = 0; !err && i < nr; i++)
			if (recs[i].k.port == fk.port && recs[i].k.proto == fk.proto &&
			    recs[i].k.family == fk.family)
				break;
		if (!err && i < nr)
			memcpy(fk.addr, recs[i].k.addr, sizeof(fk.addr));
		else if (!err)
			err = -ESRCH;
		free(recs);
		if (err == -ENOENT)
			pr_err("%s: no such Service in the maps of node %s%s\n", argv[1],
			       sp->node[0] ? sp->node : sp->dir, sv.name < 0 ?
			       " (they have no Service names: give the frontend's address)" : "");
		else if (err == -ESRCH)
			pr_err("%s: the Service has no %s frontend for %s (xcnictl service get %s "
			       "lists its ports%s)\n", argv[1], v6 ? "IPv6" : "IPv4", argv[2], argv[1],
			       v6 ? "" : "; --family 6 for an IPv6 one");
		else if (err)
			pr_err("%s: %s\n", m_svc.name, strerror(-err));
		if (err) {
			err = err == -ESRCH ? -ENOENT : err;
			goto close;
		}
		err = explain_service(c, sp, dp, &sv, &f, &fk);
		if (err > 0) { /* gone between the two lookups */
			err = pr_err_ret(-ENOENT, "%s: the Service has no frontend for %s\n",
					 argv[1], argv[2]);
		}
		goto close;
	}
	if (sv.svc >= 0) {
		memcpy(fk.addr, dip.addr, sizeof(fk.addr));
		err = explain_service(c, sp, dp, &sv, &f, &fk);
		if (err <= 0)
			goto close; /* a frontend: explained; else an address like any */
	}
	if ((err = explain_end_resolve(sp, dp, argv[1], v6, &f.dst)))
		goto close;
	if ((err = explain_flow(sp, explain_maps_of(sp, f.dst.node, dp), &f, &t, &verdict)))
		goto close;
	err = show(c, t);
close:
	if (err && why[0]) /* said by lib/observe/explain.c */
		pr_err("%s\n", why);
	if (sv.svc >= 0)
		svc_view_close(&sv);
	if (nall) {
		for (size_t i = 0; i < nall; i++)
			explain_maps_close(&all[i]);
	} else {
		explain_maps_close(&dm);
		explain_maps_close(&sm);
	}
	return err;
}

const struct cmd explain_cmds[] = {
	{ "explain", NULL, cmd_explain, 3,
	  OPT_PIN_DIR_DST | OPT_SPORT | OPT_FAMILY | OPT_KUBECONFIG,
	  "SRC DST PORT/PROTO [--pin-dir-dst DIR | --kubeconfig FILE --tls DIR] [--sport PORT] "
	  "[--family 4|6]",
	  "Explain the policy verdict on a new flow from SRC to DST.\n\n"
	  "SRC, DST: NAMESPACE/NAME or an address; DST also svc/NAMESPACE/NAME or a frontend's\n"
	  "address. PORT/PROTO: 80/tcp, 53/udp, 9/sctp or icmp. Exit 0 whatever the verdict.",
	  check_explain },
	{}
};
