// SPDX-License-Identifier: Apache-2.0
/*
 * xcnictl: the operator's view of the data plane. It opens the maps xcnid
 * pins (by path, so it needs neither xcnid nor the BPF objects), checks their
 * layout against xcni_shared.h and shows them through the print layer, as
 * aligned text or --json. It writes two things, both the operator's decision,
 * not cluster state xcnid follows: the underlay's prefilter deny list, and
 * the event settings of the node config (config set).
 *
 * This file parses the options and dispatches; each command noun lives in a
 * file of its own (endpoint.c, ct.c, ...) that exports its table. One rule
 * for the global options (--pin-dir, --node, -o/-j, -v, -h, --version):
 * anywhere on the line, before or after the command, also for the commands
 * that parse their own arguments (lab, flows; up to a "--"). The tables and
 * the option tables (ctl_opts below; those the own commands and the lab's
 * parse with) are the one source of --help, of dispatch, of the checks and
 * their suggestions, and of the shell completion (completion.c).
 */
#include <getopt.h>

#include "ctl/ctl.h"
#include "lib/system/bpfpin.h"
#include "lab/conntest.h"
#include "lab/lab.h"
#include "lib/system/editdist.h"
#include "lib/system/version.h"
#include "lib/observe/vocab.h"

/* ---- the options ------------------------------------------------------------ */

/* Every option of the table commands, the global ones first (bit 0). */
const struct pt_opt ctl_opts[] = {
	{ "pin-dir", 0, true, 'P', 0, "DIR",
	  "where the maps are pinned (default $XCNI_PIN_DIR, else " XCNI_PIN_ROOT ")" },
	{ "node", 0, true, 'N', 0, "NAME",
	  "a lab node's maps, seen from its netns (all: every node, for flows, "
	  "monitor, status, sysdump, explain, policy status and policy suggest)" },
	{ "output", 'o', true, 'o', 0, "FMT",
	  "text (default), wide (more columns), json, jsonl or yaml" },
	{ "json", 'j', false, 'j', 0, NULL, "-o json" },
	{ "verbose", 'v', false, 'v', 0, NULL, "more messages; twice for debug" },
	{ "help", 'h', false, 'h', 0, NULL, "this help; after a command, that command's help" },
	{ "version", 0, false, 'W', 0, NULL, "xcnictl's version" },
	{ "ip", 0, true, 'I', OPT_IP, "IP", "rows about IP (an address or a prefix holding it)" },
	{ "all", 0, false, 'A', OPT_ALL, NULL, "every row, empty ones too" },
	{ "count", 0, true, 'C', OPT_COUNT, "N", "stop after N events" },
	{ "timeout-ms", 0, true, 'T', OPT_TIMEOUT, "MS", "stop after MS milliseconds" },
	{ "pod", 0, true, 'p', OPT_POD, "POD", "rows about POD (NAMESPACE/NAME or its IP)" },
	{ "namespace", 'n', true, 'n', OPT_NAMESPACE, "NS", "rows about a pod of namespace NS" },
	{ "reason", 0, true, 'r', OPT_REASON, "REASON", "of this reason (xcnictl metrics --all)" },
	{ "verdict", 0, true, 'V', OPT_VERDICT, "V",
	  "denied (drops, any reason), allowed, audit, forwarded" },
	{ "type", 't', true, 't', OPT_TYPE, "TYPE", "drop, verdict or trace" },
	{ "pin-dir-dst", 0, true, 'D', OPT_PIN_DIR_DST, "DIR", "the destination node's pin dir" },
	{ "kubeconfig", 0, true, 'K', OPT_KUBECONFIG, "FILE",
	  "every agent of the cluster (as flows asks them)" },
	{ "tls", 0, true, 'X', OPT_KUBECONFIG, "DIR",
	  "the client certificate: DIR/tls.crt, tls.key, ca.crt" },
	{ "identity", 0, true, 'i', OPT_IDENTITY, "ID",
	  "rows about identity ID (or reserved:NAME)" },
	{ "sport", 0, true, 'S', OPT_SPORT, "PORT", "the flow's source port" },
	{ "family", 0, true, 'F', OPT_FAMILY, "4|6", "the flow's (or the rows') address family" },
	{ "wide", 0, false, 'w', OPT_WIDE, NULL, "-o wide: every text column" },
	{ "time", 0, true, 'M', OPT_TIME, "rfc3339|mono",
	  "times as the wall clock (default) or seconds since boot" },
	{ "label", 0, true, 'L', OPT_LABEL, "SELECTOR", "rows about labels matching SELECTOR" },
	/* flows' words of one end, ports and protocol (monitor): checked and
	 * matched by the flow filter (lib/observe/flows.h), as flows does. */
	{ "from", 0, true, CTL_FLOWF_VAL + 0, OPT_FLOWF, "X",
	  "the source: pod:NS/NAME, ns:NS, label:SEL, ip:IP, ..." },
	{ "to", 0, true, CTL_FLOWF_VAL + 1, OPT_FLOWF, "X", "the destination, as --from" },
	{ "from-pod", 0, true, CTL_FLOWF_VAL + 2, OPT_FLOWF, "POD", "--from pod:POD" },
	{ "to-pod", 0, true, CTL_FLOWF_VAL + 3, OPT_FLOWF, "POD", "--to pod:POD" },
	{ "from-ip", 0, true, CTL_FLOWF_VAL + 4, OPT_FLOWF, "IP", "--from ip:IP" },
	{ "to-ip", 0, true, CTL_FLOWF_VAL + 5, OPT_FLOWF, "IP", "--to ip:IP" },
	{ "from-namespace", 0, true, CTL_FLOWF_VAL + 6, OPT_FLOWF, "NS", "--from ns:NS" },
	{ "to-namespace", 0, true, CTL_FLOWF_VAL + 7, OPT_FLOWF, "NS", "--to ns:NS" },
	{ "from-label", 0, true, CTL_FLOWF_VAL + 8, OPT_FLOWF, "SELECTOR",
	  "--from label:SELECTOR" },
	{ "to-label", 0, true, CTL_FLOWF_VAL + 9, OPT_FLOWF, "SELECTOR", "--to label:SELECTOR" },
	{ "from-identity", 0, true, CTL_FLOWF_VAL + 10, OPT_FLOWF, "ID", "--from identity:ID" },
	{ "to-identity", 0, true, CTL_FLOWF_VAL + 11, OPT_FLOWF, "ID", "--to identity:ID" },
	{ "port", 0, true, CTL_FLOWF_VAL + 12, OPT_FLOWF, "N", "either end's port" },
	{ "from-port", 0, true, CTL_FLOWF_VAL + 13, OPT_FLOWF, "N", "the source's port" },
	{ "to-port", 0, true, CTL_FLOWF_VAL + 14, OPT_FLOWF, "N", "the destination's port" },
	{ "protocol", 0, true, CTL_FLOWF_VAL + 15, OPT_FLOWF, "P",
	  "tcp, udp, icmp, icmpv6, sctp or a number" },
	{ "service", 0, true, CTL_FLOWF_VAL + 16, OPT_FLOWF, "NS/NAME[:PORT]",
	  "translated for that Service" },
	{}
};

/* The row of t (ctl_opts, or a command's) for --name. */
static const struct pt_opt *opt_long(const struct pt_opt *t, const char *name, size_t len)
{
	for (const struct pt_opt *o = t; o && o->name; o++)
		if (strlen(o->name) == len && !strncmp(o->name, name, len))
			return o;
	return NULL;
}

static const struct pt_opt *opt_short(char ch)
{
	for (const struct pt_opt *o = ctl_opts; o->name; o++)
		if (o->short_name && o->short_name == ch)
			return o;
	return NULL;
}

/* ---- the commands ----------------------------------------------------------- */

static int cmd_version(const struct ctl_ctx *c, char **argv)
{
	(void)argv;
	return xcni_version_print(stdout, "xcnictl", c->json);
}

static int cmd_filters(const struct ctl_ctx *c, char **argv);

/*
 * The commands with a parser of their own (pt_getopt on their option table,
 * as the table commands on ctl_opts): row i is main_cmds' row i. fn, argv
 * from the command's name on, the global options taken out and given back in
 * its spelling (own_main); or line, the line handed over whole from the
 * command's word (skip words after it). Their flags are those of the option
 * tables they parse with, opts (the lab's: its command's, lab_cmd_opts),
 * never listed here.
 */
static const struct own {
	int (*fn)(int argc, char **argv);
	int (*line)(int argc, char **argv);
	int skip;
	const struct pt_opt *opts;
} owns[] = {
	{ ctl_flows_main, NULL, 0, ctl_flows_opts }, /* flows */
	{ lab_main, NULL, 0, NULL }, /* lab */
	{ ctl_status_main, NULL, 0, ctl_status_opts }, /* status */
	{ ctl_sysdump_main, NULL, 0, ctl_sysdump_opts }, /* sysdump */
	{ NULL, ctl_connectivity_main, 0, lab_conntest_opts }, /* connectivity test */
	{ NULL, ctl_connectivity_main, 0, lab_conntest_probe_opts }, /* connectivity probe */
	{ NULL, ctl_policy_suggest_main, 1, ctl_suggest_opts }, /* policy suggest */
	{ NULL, ctl_ui_main, 0, ctl_ui_opts }, /* ui */
};

/* The commands that are their own noun: those with parsers of their own first (owns[]). */
static const struct cmd main_cmds[] = {
	{ "flows", NULL, NULL, 0, 0, "[FILTERS]",
	  "Flow records of xcnid --flows, filtered as hubble observe's (flows --help: the filters)",
	  NULL },
	{ "lab", NULL, NULL, 0, 0, "COMMAND [ARGS]",
	  "A Kubernetes cluster of network namespaces on this machine (lab --help: its commands)",
	  NULL },
	{ "status", NULL, NULL, 0, 0, "[--wait [--timeout D]]",
	  "The node's health and a verdict: OK, DEGRADED (why) or DOWN (status --help)", NULL },
	{ "sysdump", NULL, NULL, 0, 0, "[-f FILE|-] [--agent-log FILE]",
	  "One tar.gz with what a bug report needs, secrets left out (sysdump --help)", NULL },
	{ "connectivity", "test", NULL, 0, 0, "[--kubeconfig FILE] [--test GLOB]... [--node A [--node B]]",
	  "Deploy probe pods in the lab or a cluster, test every path, clean up (connectivity test --help)",
	  NULL },
	{ "connectivity", "probe", NULL, 0, 0, "--to ADDR --port PORT/PROTO | --dns NAME [--qtype A|AAAA]",
	  "One probe from this network namespace, as one JSON line (connectivity probe --help)",
	  NULL },
	{ "policy", "suggest", NULL, 0, 0, "--namespace NS [--from-flows FILE|--since D] [--audit]",
	  "NetworkPolicies that allow exactly the recorded flows, replayed (policy suggest --help)",
	  NULL },
	{ "ui", NULL, NULL, 0, 0, "--kubeconfig FILE|--agent ADDR... --tls DIR",
	  "Serve the service map of every node's flows, from the agents (ui --help)", NULL },
	{ "filters", NULL, cmd_filters, 0, 0, "",
	  "List the filter words: one meaning each, and the commands that take them.", NULL },
	{ "version", NULL, cmd_version, 0, 0, "",
	  "Show xcnictl's version, git commit, build date, libbpf and BPF ABI versions.", NULL },
	{}
};

static const struct own *own_of(const struct cmd *cmd)
{
	for (size_t i = 0; i < ARRAY_SIZE(owns); i++)
		if (cmd == &main_cmds[i])
			return &owns[i];
	return NULL;
}

/* In the order --help lists them. */
const struct cmd *const ctl_tables[] = {
	endpoint_cmds, ct_cmds, metrics_cmds, config_cmds, tunnel_cmds, prefilter_cmds, hook_cmds,
	identity_cmds, ipcache_cmds, policy_cmds, polstatus_cmds, fqdn_cmds, service_cmds, nodeport_cmds,
	monitor_cmds, explain_cmds, main_cmds, completion_cmds, NULL,
};

/* Every command, table by table. */
#define for_each_cmd(i, cmd)                         \
	for (size_t i = 0; ctl_tables[i]; i++) \
		for (cmd = ctl_tables[i]; cmd->name; cmd++)

/* "ct list [--ip IP]" */
static const char *synopsis(const struct cmd *cmd, char *buf, size_t n)
{
	snprintf(buf, n, "%s%s%s%s%s", cmd->name, cmd->sub ? " " : "", cmd->sub ?: "",
		 *cmd->args ? " " : "", cmd->args);
	return buf;
}
/* ---- xcnictl filters: the vocabulary (lib/observe/vocab.h) and who takes it ---- */

static const struct pt_col filter_cols[] = {
	{ "WORD", "word", PT_STR },
	{ "VALUE", "value", PT_STR },
	{ "COMMANDS", "commands", PT_STR },
	{ "MEANING", "meaning", PT_STR },
};

/* The commands that take --name, as their parsers have them: flows', then the tables'. */
static void word_cmds(const char *name, char *buf, size_t n)
{
	const struct pt_opt *o = opt_long(ctl_opts, name, strlen(name));
	const struct cmd *cmd;
	size_t off = 0;

	buf[0] = 0;
	for (const struct pt_opt *fo = ctl_flows_opts; fo->name; fo++)
		if (!strcmp(fo->name, name))
			off += (size_t)snprintf(buf + off, n - off, "flows");
	if (!o || !o->bit)
		return;
	for_each_cmd(i, cmd)
		if ((cmd->opts & o->bit) && off < n)
			off += (size_t)snprintf(buf + off, n - off, "%s%s%s%s", off ? ", " : "",
						cmd->name, cmd->sub ? " " : "", cmd->sub ?: "");
}

static int cmd_filters(const struct ctl_ctx *c, char **argv)
{
	struct ptable *t = pt_new(filter_cols, ARRAY_SIZE(filter_cols), 0);
	char cmds[1024];

	(void)argv;
	for (const struct vocab_word *w = vocab_words; w->name; w++) {
		word_cmds(w->name, cmds, sizeof(cmds));
		if (w->short_name)
			pt_strf(t, "-%c, --%s", w->short_name, w->name);
		else
			pt_strf(t, "--%s", w->name);
		pt_str(t, w->metavar);
		pt_str(t, cmds);
		pt_str(t, w->help);
	}
	return show(c, t);
}

/* The command words[] start with, or NULL. */
static const struct cmd *cmd_find(char **words, int nwords)
{
	const struct cmd *cmd;

	if (!nwords)
		return NULL;
	for_each_cmd(i, cmd)
		if (!strcmp(words[0], cmd->name) &&
		    (!cmd->sub || (nwords > 1 && !strcmp(words[1], cmd->sub))))
			return cmd;
	return NULL;
}
static const struct cmd *cmd_named(const char *name)
{
	const struct cmd *cmd;
	for_each_cmd(i, cmd)
		if (!strcmp(name, cmd->name))
			return cmd;
	return NULL;
}
/* The commands called name, or all when there are none such. */
static void usage(FILE *f, const char *name)
{
	const struct cmd *cmd;
	char buf[128];
	if (name && !cmd_named(name))
		name = NULL;
	fprintf(f, "Usage: xcnictl [OPTIONS] COMMAND [ARGS]\n\n"
		   "Shows the xcni data plane's pinned maps, explains its policy verdicts and\n"
		   "edits the underlay's prefilter and the event settings.\n\n"
		   "Commands:\n");
	for_each_cmd(i, cmd)
		if (!name || !strcmp(name, cmd->name)) {
			synopsis(cmd, buf, sizeof(buf));
			/* A long synopsis gets a line of its own. */
			fprintf(f, "  %-22s%s%.*s\n", buf,
				strlen(buf) > 22 ? "\n                         " : " ",
				(int)strcspn(cmd->help, ".\n"), cmd->help);
		}
	fprintf(f, "\nOptions (anywhere on the line, before or after the command):\n");
	for (const struct pt_opt *o = ctl_opts; o->name && !o->bit; o++)
		pt_opt_line(f, o);
}

/* ---- suggestions ------------------------------------------------------------- */

struct closest {
	const char *word;
	const char *best; /* NULL, or best_buf */
	size_t dist;
	char best_buf[64];
};

/*
 * Offers cand; the nearest so far is kept. Flags are compared without their
 * dashes, and only long with long, short with short. Near enough to be a
 * slip: one edit, or one in three letters; or cand starts with the word.
 */
static void closest_try(struct closest *cl, const char *cand)
{
	const char *w = cl->word, *c = cand;
	size_t dw = strspn(w, "-"), dc = strspn(c, "-"), d, lw;

	if (dw != dc)
		return;
	w += dw;
	c += dc;
	lw = strlen(w);
	d = xcni_edit_distance(w, c);
	if (lw >= 3 && !strncmp(c, w, lw))
		d = 1;
	if (d > (lw / 3 > 1 ? lw / 3 : 1) || (dw == 1 && d))
		return;
	if (!cl->best || d < cl->dist) {
		snprintf(cl->best_buf, sizeof(cl->best_buf), "%s", cand);
		cl->best = cl->best_buf;
		cl->dist = d;
	}
}

/* "; did you mean X?" or "" into buf. */
static const char *did_you_mean(const struct closest *cl, const char *pfx, char *buf, size_t n)
{
	if (!cl->best)
		return "";
	snprintf(buf, n, "; did you mean %s%s?", pfx, cl->best);
	return buf;
}

/* Each flag of a space-separated list ("--a= -b"), without the '='. */
static void flags_try(struct closest *cl, const char *flags)
{
	char f[64];

	for (const char *p = flags; p && *p;) {
		size_t n = strcspn(p, " ");

		snprintf(f, sizeof(f), "%.*s", (int)(n && p[n - 1] == '=' ? n - 1 : n), p);
		if (f[0])
			closest_try(cl, f);
		p += n + (p[n] == ' ');
	}
}

/* Row o into the flag list buf[*off]: "--name" (lng) and "-c" if it has one, "=" after
 * those taking a value. */
static void flag_put(char *buf, size_t n, size_t *off, const struct pt_opt *o, bool lng)
{
	if (lng && *off < n)
		*off += (size_t)snprintf(buf + *off, n - *off, "%s--%s%s", *off ? " " : "", o->name,
					 o->arg ? "=" : "");
	if (o->short_name && *off < n)
		*off += (size_t)snprintf(buf + *off, n - *off, "%s-%c%s", *off ? " " : "",
					 o->short_name, o->arg ? "=" : "");
}

/* The global flags, "--pin-dir= ... -o= --output=" as a flag list; the
 * lab's commands act on the whole lab: no --pin-dir, no --node (no_maps). */
static void global_flags(char *buf, size_t n, bool no_maps)
{
	size_t off = 0;

	buf[0] = 0;
	for (const struct pt_opt *o = ctl_opts; o->name && !o->bit; o++)
		if (!no_maps || (o->val != 'P' && o->val != 'N'))
			flag_put(buf, n, &off, o, true);
}

/* Whether the flag list buf ("--a= --b ...") has --name already (a global). */
static bool has_flag(const char *buf, const char *name)
{
	size_t len = strlen(name);

	for (const char *p = buf; (p = strstr(p, "--")); p += 2)
		if (!strncmp(p + 2, name, len) && (!p[2 + len] || strchr("= ", p[2 + len])))
			return true;
	return false;
}

/*
 * The flags of cmd (sub: the lab's command, or NULL) into buf, the global
 * ones first: space-separated, "=" after those that take a value
 * ("--pin-dir= ... --ip= --pod="). 0 or -ENOSPC.
 */
static int ctl_cmd_flags(const struct cmd *cmd, const char *sub, char *buf, size_t n)
{
	const struct own *own = own_of(cmd);
	bool lab = own && own->fn == lab_main;
	size_t off;

	global_flags(buf, n, lab);
	off = strlen(buf);

	if (own && own->opts) {
		for (const struct pt_opt *o = own->opts; o->name && off < n; o++)
			if (!has_flag(buf, o->name))
				off += (size_t)snprintf(buf + off, n - off, " --%s%s", o->name,
							o->arg ? "=" : "");
	} else {
		/* The table commands' rows, or the lab command's but --help (a global). */
		for (const struct pt_opt *o = lab ? (sub ? lab_cmd_opts(sub) : NULL) : ctl_opts;
		     o && o->name && off < n; o++) {
			if (lab ? strcmp(o->name, "help") != 0 : (o->bit & cmd->opts) != 0)
				flag_put(buf, n, &off, o, true);
		}
	}
	/* Its short options, but the global ones (-j, -v, -h: listed already). */
	for (const struct pt_opt *o = own ? own->opts : NULL; o && o->name && off < n; o++) {
		const struct pt_opt *g = o->short_name ? opt_short(o->short_name) : NULL;

		if (!g || g->bit)
			flag_put(buf, n, &off, o, false);
	}
	return off >= n ? -ENOSPC : 0;
}

/* Whether flag ("--x", "-x") is in the list, and if so whether it takes a value. */
static bool flag_in(const char *flags, const char *flag, size_t len, bool *arg)
{
	for (const char *p = flags; p && *p;) {
		size_t n = strcspn(p, " "), m = n && p[n - 1] == '=' ? n - 1 : n;

		if (m == len && !strncmp(p, flag, len)) {
			*arg = m < n;
			return true;
		}
		p += n + (p[n] == ' ');
	}
	return false;
}

/* An unknown flag, said with the nearest the command takes; exit code 2. */
static int bad_flag(const char *word, const char *flags, const char *where)
{
	struct closest cl = { .word = word };
	char f[64], buf[96];

	snprintf(f, sizeof(f), "%.*s", (int)strcspn(word, "="), word);
	cl.word = f;
	flags_try(&cl, flags);
	pr_err("unknown flag %s%s%s%s\n", f, where ? " for " : "", where ?: "",
	       did_you_mean(&cl, "", buf, sizeof(buf)));
	if (!cl.best)
		fprintf(stderr, "  (xcnictl %s%s--help lists the flags)\n", where ?: "", where ? " " : "");
	return 2;
}

/* An unknown command word, said with the nearest; exit code 2. */
static int bad_cmd(char **words, int nwords)
{
	const struct cmd *cmd, *known = cmd_named(words[0]);
	struct closest cl = { .word = words[0] };
	char buf[96], subs[256] = "";
	size_t off = 0;

	if (!known) {
		/* Cilium's and Hubble's verbs, for the command of ours that does it. */
		static const char *const theirs[][2] = {
			{ "observe", "flows" }, { "ls", "endpoint list" }, { "list", "endpoint list" },
		};

		for (size_t i = 0; i < ARRAY_SIZE(theirs); i++)
			if (!strcmp(words[0], theirs[i][0])) {
				cl.best = theirs[i][1];
				cl.dist = 0;
			}
		for_each_cmd(i, cmd)
			if (!cl.best || cl.dist)
				closest_try(&cl, cmd->name);
		pr_err("unknown command %s%s\n", words[0], did_you_mean(&cl, "", buf, sizeof(buf)));
		return said(2, "  (xcnictl --help lists the commands)\n");
	}
	cl.word = nwords > 1 ? words[1] : "";
	for_each_cmd(i, cmd)
		if (!strcmp(cmd->name, words[0]) && cmd->sub) {
			closest_try(&cl, cmd->sub);
			off += (size_t)snprintf(subs + off, sizeof(subs) - off, "%s%s", off ? ", " : "",
						cmd->sub);
		}
	if (nwords > 1)
		pr_err("%s: unknown subcommand %s%s\n", words[0], words[1],
		       did_you_mean(&cl, "", buf, sizeof(buf)));
	else
		pr_err("%s: missing subcommand (one of %s)\n", words[0], subs);
	return 2;
}

/* ---- the global options ---------------------------------------------------- */

/* The options given once for all commands, and how they were given. */
struct global {
	bool help, version;
	bool pin_dir_opt; /* --pin-dir */
	bool pin_dir_env; /* $XCNI_PIN_DIR */
	bool out_given; /* -o or -j */
	enum pt_format out;
	const char *node; /* --node (the last) */
	const char *nodes[16]; /* every --node (flows takes several) */
	size_t nnodes;
	const char *pin_dir;
};

/* One global option (opt: its getopt value) into g: 0, or 2 (said). */
static int global_opt(int opt, const char *arg, struct global *g)
{
	switch (opt) {
	case 'P':
		g->pin_dir = arg;
		g->pin_dir_opt = true;
		return 0;
	case 'N':
		if (g->nnodes == ARRAY_SIZE(g->nodes))
			return pr_err_ret(2, "--node: at most %zu\n", ARRAY_SIZE(g->nodes));
		g->node = g->nodes[g->nnodes++] = arg;
		return 0;
	case 'j':
		g->out = PT_JSON;
		g->out_given = true;
		return 0;
	case 'o':
		if (pt_format_parse(arg, &g->out))
			return pr_err_ret(2, "-o %s: not an output format (text, wide, json, jsonl "
					  "or yaml)\n", arg);
		g->out_given = true;
		return 0;
	case 'v':
		if (xlog_max < XLOG_DEBUG)
			xlog_max++;
		return 0;
	case 'h':
		g->help = true;
		return 0;
	case 'W':
		g->version = true;
		return 0;
	}
	return -1; /* not a global one */
}

/*
 * argv[i] as a global option, its value taken from argv[i + 1] if it needs
 * one (*i moves past it). 1: it is not one (or is "-oX" of another kind);
 * 0: taken; 2: bad (said).
 */
static int global_word(int argc, char **argv, int *i, struct global *g)
{
	const char *w = argv[*i], *eq;
	const struct pt_opt *o;

	if (w[0] != '-' || !w[1])
		return 1;
	if (w[1] == '-') {
		eq = strchr(w, '=');
		o = opt_long(ctl_opts, w + 2, eq ? (size_t)(eq - w - 2) : strlen(w + 2));
		if (!o || o->bit)
			return 1;
		if (o->arg && !eq) {
			if (*i + 1 >= argc)
				return pr_err_ret(2, "%s: needs a value (%s)\n", w, o->metavar);
			return global_opt(o->val, argv[++*i], g);
		}
		if (!o->arg && eq)
			return pr_err_ret(2, "%.*s takes no value\n", (int)(eq - w), w);
		return global_opt(o->val, eq ? eq + 1 : NULL, g);
	}
	/* "-vj", "-o json", "-ojson": only when every letter is a global one (-n,
	 * --namespace's, is a filter: the command's own). */
	for (const char *p = w + 1; *p; p++) {
		o = opt_short(*p);
		if (!o || o->bit)
			return 1;
		if (o->arg)
			break;
	}
	for (const char *p = w + 1; *p; p++) {
		o = opt_short(*p);
		if (!o->arg) {
			global_opt(o->val, NULL, g);
			continue;
		}
		if (p[1])
			return global_opt(o->val, p + 1, g);
		if (*i + 1 >= argc)
			return pr_err_ret(2, "-%c: needs a value (%s)\n", *p, o->metavar);
		return global_opt(o->val, argv[++*i], g);
	}
	return 0;
}

/* Whether word (an option) takes a value by the table options: skips it when scanning. */
static bool table_opt_takes_value(const char *w)
{
	const struct pt_opt *o;

	if (w[1] == '-')
		return !strchr(w, '=') && (o = opt_long(ctl_opts, w + 2, strlen(w + 2))) && o->arg;
	o = opt_short(w[1]);
	return o && o->arg && !w[2];
}

/*
 * The words from argv[from] on that are no option's, up to a "--", as getopt
 * will leave them (the command's, the lab's command): their indexes into at[]
 * (at most max), how many.
 */
static int plain_words(int argc, char **argv, int from, int *at, int max)
{
	int n = 0;

	for (int i = from; i < argc && n < max && strcmp(argv[i], "--"); i++) {
		if (argv[i][0] != '-' || !argv[i][1])
			at[n++] = i;
		else if (table_opt_takes_value(argv[i]))
			i++;
	}
	return n;
}

/* The lab's command (*sub): the first word after "lab" that is no option's. 0 or 2 (said). */
static int own_lab_sub(int argc, char **argv, int cw, const char **sub)
{
	struct closest cl;
	const char *name;
	char buf[96];
	int at;

	if (plain_words(argc, argv, cw + 1, &at, 1))
		*sub = argv[at];
	if (!*sub || lab_cmd_opts(*sub))
		return 0;
	cl = (struct closest){ .word = *sub };
	for (size_t k = 0; (name = lab_cmd_name(k)); k++)
		closest_try(&cl, name);
	pr_err("lab: unknown command %s%s\n", *sub, did_you_mean(&cl, "", buf, sizeof(buf)));
	return said(2, "  (xcnictl lab --help lists them)\n");
}

/* The words of an own command's line. */
struct own_words {
	char **pass; /* the command's own options and arguments, in order */
	int npass;
	int dashes; /* where the words handed over untouched begin ("--"): argc when none */
};

/*
 * The line split: globals into g, the others checked against flags (where:
 * the command, for the message) into w. -1 to go on, else the exit code (said).
 */
static int own_split(int argc, char **argv, int cw, const char *sub, const char *flags,
		     const char *where, struct global *g, struct own_words *w)
{
	int npos = 0, rc, i;
	bool arg;

	w->dashes = argc;
	for (i = 1; i < argc; i++) {
		const char *s = argv[i];
		size_t len;

		if (i == cw || s == sub)
			continue;
		/* lab exec NS/POD CMD...: the command's words are its own, "--" or not. */
		if (!strcmp(s, "--") || (sub && !strcmp(sub, "exec") && npos)) {
			w->dashes = i;
			break;
		}
		rc = global_word(argc, argv, &i, g);
		if (rc == 0)
			continue;
		if (rc == 2)
			return 2;
		w->pass[w->npass++] = argv[i];
		if (s[0] != '-' || !s[1]) {
			npos++;
			continue;
		}
		len = s[1] == '-' ? strcspn(s, "=") : 2;
		if (!flag_in(flags, s, len, &arg))
			return bad_flag(s, flags, where);
		/* Its value: the next word, unless given in this one ("--x=v", "-fFILE"). */
		if (arg && !(s[1] == '-' ? s[len] == '=' : s[2] != 0)) {
			if (i + 1 >= argc || (i + 1 == w->dashes))
				return pr_err_ret(2, "%.*s: needs a value\n", (int)len, s);
			w->pass[w->npass++] = argv[++i];
		}
	}
	return -1;
}

/* The globals an own command cannot take: 0, or 2 (said). */
static int own_globals_check(bool lab, const char *sub, const char *where,
			     const struct global *g)
{
	/* Whether it writes JSON (then -o has a meaning): flows, and the lab's that say so. */
	bool takes_json = !lab || (sub && opt_long(lab_cmd_opts(sub), "json", 4));

	if (g->version)
		return pr_err_ret(2, "--version: give it alone (xcnictl --version)\n");
	if (lab && (g->node || g->pin_dir_opt))
		return pr_err_ret(2, "%s: the lab's commands act on the whole lab (no --node or "
				  "--pin-dir)\n", g->node ? "--node" : "--pin-dir");
	if (g->out_given && !takes_json && !g->help)
		return pr_err_ret(2, "-o %s: xcnictl %s writes no table\n", pt_format_name(g->out),
				  where);
	return 0;
}

/*
 * A command with a parser of its own (lab, flows): the global options taken
 * out of the whole line (up to "--"), the others checked against its flags,
 * then the line handed over with the globals in its own spelling.
 */
static int own_main(const struct cmd *cmd, int argc, char **argv, int cw, struct global *g)
{
	const struct own *own = own_of(cmd);
	bool lab = own->fn == lab_main;
	char **out = calloc((size_t)argc + 2 * ARRAY_SIZE(g->nodes) + 8, sizeof(*out));
	struct own_words w = { .pass = calloc((size_t)argc + 1, sizeof(*w.pass)) };
	char flags[2048], where[96];
	const char *sub = NULL;
	int n = 0, rc = 1, i;

	if (!out || !w.pass)
		goto out;
	if (lab && (rc = own_lab_sub(argc, argv, cw, &sub)))
		goto out;
	ctl_cmd_flags(cmd, sub, flags, sizeof(flags));
	snprintf(where, sizeof(where), "%s%s%s", cmd->name, sub ? " " : "", sub ?: "");
	out[n++] = argv[cw];
	if (sub)
		out[n++] = (char *)sub;
	rc = own_split(argc, argv, cw, sub, flags, where, g, &w);
	if (rc >= 0)
		goto out;
	if ((rc = own_globals_check(lab, sub, where, g)))
		goto out;
	if (g->out == PT_WIDE && own->fn == ctl_flows_main)
		out[n++] = "--wide";
	if (pt_format_structured(g->out)) {
		out[n++] = "--json";
		rc = pt_stdout_filter(g->out);
		if (rc) {
			rc = pr_err_ret(1, "-o %s: %s\n", pt_format_name(g->out), strerror(-rc));
			goto out;
		}
	}
	if (g->help)
		out[n++] = "--help";
	if (!lab) {
		if (g->pin_dir_opt) {
			out[n++] = "--pin-dir";
			out[n++] = (char *)g->pin_dir;
		}
		for (size_t k = 0; k < g->nnodes; k++) {
			out[n++] = "--node";
			out[n++] = (char *)g->nodes[k];
		}
	}
	for (i = 0; i < w.npass; i++)
		out[n++] = w.pass[i];
	for (i = w.dashes; i < argc; i++)
		out[n++] = argv[i];
	out[n] = NULL;
	optind = 0;
	rc = own->fn(n, out);
out:
	free(w.pass);
	free(out);
	return rc;
}

/* ---- the table commands ------------------------------------------------------ */

/* A number of --count or --timeout-ms. */
static int parse_count(int opt, const char *arg, unsigned long *v)
{
	char *end;

	*v = strtoul(arg, &end, 10);
	if (!*arg || *end || *arg == '-')
		return pr_err_ret(-EINVAL, "--%s %s: not a number\n",
				  opt == 'C' ? "count" : "timeout-ms", arg);
	return 0;
}

/*
 * One of flows' words (--from-pod x/a): checked with those before it, as
 * flows checks them (a source given twice is refused), and kept as the
 * request flows sends ("from-pod=x/a\n"), which the command parses once
 * more into its flow filter. 0 or -EINVAL (said).
 */
static int parse_flowf_opt(int opt, const char *arg, struct ctl_ctx *c)
{
	const struct pt_opt *o = ctl_opts;
	struct flow_filter ff;
	char e[300];
	size_t room = sizeof(c->flow_req) - c->flow_reqlen;
	int n, err;

	while (o->name && o->val != opt)
		o++;
	n = snprintf(c->flow_req + c->flow_reqlen, room, "%s=%s\n", o->name, arg);
	if (strchr(arg, '\n') || n < 0 || (size_t)n >= room) {
		c->flow_req[c->flow_reqlen] = '\0';
		return pr_err_ret(-EINVAL, "--%s %s: %s\n", o->name, arg,
				  strchr(arg, '\n') ? "a newline in the value" :
				  "the filters are too long together");
	}
	flow_filter_init(&ff);
	err = flow_filter_parse(&ff, c->flow_req, e, sizeof(e));
	flow_filter_free(&ff);
	if (err) {
		c->flow_req[c->flow_reqlen] = '\0';
		return pr_err_ret(-EINVAL, "%s\n", e);
	}
	c->flow_reqlen += (size_t)n;
	if (!c->flow_first)
		c->flow_first = o->name;
	return 0;
}

/*
 * A filter option (--ip, --identity, --label, --pod, --namespace, --reason,
 * --verdict, --type) into c: 0, -EINVAL (said), or 1 when opt is none of them.
 */
static int parse_filter_opt(int opt, const char *arg, struct ctl_ctx *c)
{
	char e[300];

	switch (opt) {
	case 'I':
		if (parse_ip_any(arg, &c->ip_any))
			return pr_err_ret(-EINVAL, "--ip %s: not an IPv4 or IPv6 address\n", arg);
		if (c->ip_any.family == XCNI_AF_INET)
			memcpy(&c->ip_addr, c->ip_any.addr, 4);
		c->ip = arg;
		return 0;
	case 'i':
		if (vocab_identity(arg, &c->identity, e, sizeof(e)))
			goto bad;
		return 0;
	case 'L': {
		struct flow_match m;

		if (flow_match_labels(&m, arg, e, sizeof(e)))
			goto bad;
		c->label = arg;
		return 0;
	}
	case 'p':
		if (vocab_pod(arg, e, sizeof(e)))
			goto bad;
		c->pod = arg;
		return 0;
	case 'n':
		if (vocab_namespace(arg, 64 /* a DNS label, 63 at most */, e, sizeof(e)))
			goto bad;
		c->ns = arg;
		return 0;
	case 'r':
		if (vocab_reason(arg, &c->reason, e, sizeof(e)))
			goto bad;
		return 0;
	case 'V':
		if (vocab_verdict(arg, &c->verdict, e, sizeof(e)))
			goto bad;
		return 0;
	case CTL_FLOWF_VAL ... CTL_FLOWF_VAL + 0xff:
		return parse_flowf_opt(opt, arg, c);
	case 't':
		if (strcmp(arg, "drop") && strcmp(arg, "verdict") && strcmp(arg, "trace"))
			return pr_err_ret(-EINVAL, "--type %s: drop, verdict or trace\n", arg);
		c->ev_type = !strcmp(arg, "drop")    ? XCNI_EV_DROP :
			     !strcmp(arg, "verdict") ? XCNI_EV_VERDICT : XCNI_EV_TRACE;
		return 0;
	}
	return 1;
bad: /* the vocabulary's parsers say what is wrong, naming the word (vocab.h) */
	return pr_err_ret(-EINVAL, "%s\n", e);
}

/*
 * One option into c or g: 0, or -EINVAL (said) for a value that is not one.
 * Options may follow the command ("xcnictl ct list --json"): getopt permutes.
 * Its OPT_* bit is ctl_opts[]'s (a value refused ends the run); --tls sets
 * none of its own: alone, it is refused as --kubeconfig's (main).
 */
static int parse_opt(int opt, const char *arg, struct ctl_ctx *c, struct global *g)
{
	int r = global_opt(opt, arg, g);
	const struct pt_opt *o = ctl_opts;

	if (r >= 0)
		return r ? -EINVAL : 0;
	while (o->name && o->val != opt)
		o++;
	if (opt != 'X')
		c->opts |= o->bit;
	r = parse_filter_opt(opt, arg, c);
	if (r <= 0)
		return r;
	switch (opt) {
	case 'A':
	case 'w':
		return 0;
	case 'S': {
		unsigned long v;

		if (parse_uint(arg, 65535, &v) || !v)
			return pr_err_ret(-EINVAL, "--sport %s: a port, 1 to 65535\n", arg);
		c->sport = (__u16)v;
		return 0;
	}
	case 'F':
		if (strcmp(arg, "4") && strcmp(arg, "6"))
			return pr_err_ret(-EINVAL, "--family %s: 4 or 6\n", arg);
		c->family = (__u8)(arg[0] - '0');
		return 0;
	case 'K':
		c->kubeconfig = arg;
		return 0;
	case 'X':
		c->tls_dir = arg;
		return 0;
	case 'D':
		c->pin_dir_dst = arg;
		return 0;
	case 'C':
		return parse_count(opt, arg, &c->count);
	case 'T':
		return parse_count(opt, arg, &c->timeout_ms);
	case 'M':
		if (strcmp(arg, "mono") && strcmp(arg, "rfc3339"))
			return pr_err_ret(-EINVAL,
					  "--time %s: rfc3339 (wall clock, UTC) or mono\n", arg);
		c->time_mono = !strcmp(arg, "mono");
		return 0;
	}
	return -EINVAL;
}

/* The command words[] name, its arguments and options checked: NULL (said) if wrong. */
static const struct cmd *cmd_check(const struct ctl_ctx *c, const struct global *g, char **words,
				   int nwords)
{
	const struct cmd *cmd = cmd_find(words, nwords);
	char buf[128];
	unsigned int extra;

	if (!cmd) {
		if (nwords)
			bad_cmd(words, nwords);
		else
			usage(stderr, NULL);
		return NULL;
	}
	words += cmd->sub ? 2 : 1;
	nwords -= cmd->sub ? 2 : 1;
	extra = c->opts & ~cmd->opts;
	if (extra) {
		const struct pt_opt *o = ctl_opts;

		while (o->name && !(o->bit & extra))
			o++;
		snprintf(buf, sizeof(buf), "%s%s%s", cmd->name, cmd->sub ? " " : "", cmd->sub ?: "");
		/* flows' words share one bit: the one given is named. */
		return pr_err_ret(NULL, "%s takes no --%s (xcnictl %s --help lists its flags)\n",
				  buf,
				  o->bit == OPT_FLOWF && c->flow_first ? c->flow_first : o->name,
				  buf);
	}
	if (cmd->nargs & 0x100u ? (unsigned int)nwords > CMD_NARGS(cmd) :
				  (unsigned int)nwords != cmd->nargs) {
		pr_err("wrong number of arguments\n");
		return said(NULL, "Usage: xcnictl [OPTIONS] %s\n", synopsis(cmd, buf, sizeof(buf)));
	}
	if ((c->opts & OPT_IP) && (c->opts & OPT_POD))
		return pr_err_ret(NULL, "--ip and --pod both name an address: give one\n");
	if (g->node && g->pin_dir_opt)
		return pr_err_ret(NULL,
				  "--node and --pin-dir both say where the maps are: give one\n");
	if (g->nnodes > 1)
		return pr_err_ret(NULL, "--node given %zu times: give one (flows takes several)\n",
				  g->nnodes);
	if (cmd->check && cmd->check(words))
		return NULL;
	return cmd;
}

/* getopt's complaint about argv, said our way: the flag, and the nearest. */
static int getopt_error(int argc, char **argv, int opt)
{
	int at[2] = { 0, 0 }, nw = plain_words(argc, argv, 1, at, 2);
	char *words[2] = { argv[at[0]], argv[at[1]] }, flags[1024], where[128] = "", w[64];
	const struct cmd *cmd = cmd_find(words, nw);
	const char *word = argv[optind - 1];

	if (cmd) {
		synopsis(cmd, where, sizeof(where));
		where[strcspn(where, " ") + (cmd->sub ? 1 + strlen(cmd->sub) : 0)] = 0;
		ctl_cmd_flags(cmd, NULL, flags, sizeof(flags));
	} else {
		/* No command yet: any of them. */
		global_flags(flags, sizeof(flags), false);
		for (const struct pt_opt *o = ctl_opts; o->name; o++)
			if (o->bit)
				snprintf(flags + strlen(flags), sizeof(flags) - strlen(flags),
					 " --%s", o->name);
	}
	if (opt == ':')
		return pr_err_ret(2, "%s: needs a value\n", word);
	if (optopt && word[0] == '-' && word[1] != '-') {
		snprintf(w, sizeof(w), "-%c", optopt);
		word = w;
	}
	return bad_flag(word, flags, cmd ? where : NULL);
}

/*
 * A command that takes its line whole: the words before its command word
 * ("xcnictl -o json connectivity test") follow its own, so they mean what
 * they mean after it, or its parser refuses them: never silently dropped.
 */
static int own_line(const struct own *own, int argc, char **argv, int cw)
{
	char *line[argc + 1];
	int n = 0;

	for (int i = cw + own->skip; i < argc; i++)
		line[n++] = argv[i];
	for (int i = 1; i < cw; i++)
		line[n++] = argv[i];
	line[n] = NULL;
	return own->line(n, line);
}

int main(int argc, char **argv)
{
	struct ctl_ctx c = { .pin_dir = getenv("XCNI_PIN_DIR"), .tables = ctl_tables,
			     .cmd_flags = ctl_cmd_flags };
	struct global g = { .pin_dir_env = c.pin_dir && *c.pin_dir };
	const struct cmd *cmd;
	const struct own *own;
	char **words, *given[argc + 1], buf[128], node_pin[PATH_MAX];
	static char *version_words[] = { "version", NULL };
	int opt, nwords, err, cw = 0;

	xlog_set_prefix("xcnictl");
	xcni_libbpf_log_init();
	/* The commands with parsers of their own (cmd->own): lab (-f FILE, --
	 * CMD...), flows, ...; connectivity (the lab's, lab/conntest.c), ui
	 * (lab/ui.c) and policy suggest (suggest.c) take the line whole. */
	plain_words(argc, argv, 1, &cw, 1);
	if (cw && (cmd = cmd_find(argv + cw, argc - cw) ?: cmd_named(argv[cw])) &&
	    (own = own_of(cmd))) {
		if (own->fn)
			return own_main(cmd, argc, argv, cw, &g);
		return own_line(own, argc, argv, cw);
	}
	if (!g.pin_dir_env)
		c.pin_dir = XCNI_PIN_ROOT;
	/* The command line as typed, for the lab hint: getopt permutes argv. */
	memcpy(given, argv, (argc + 1) * sizeof(*argv));
	opterr = 0;
	while ((opt = pt_getopt(argc, argv, ctl_opts, true, NULL)) != -1) {
		if (opt == '?' || opt == ':')
			return getopt_error(argc, given, opt);
		if (parse_opt(opt, optarg, &c, &g))
			return 2;
	}
	if (g.pin_dir_opt)
		c.pin_dir = g.pin_dir;
	words = argv + optind;
	nwords = argc - optind;
	/* "xcnictl help [COMMAND]", as git and kubectl take it: --help's. */
	if (nwords && !strcmp(words[0], "help")) {
		g.help = true;
		words++;
		nwords--;
	}
	if (g.version && !nwords && !g.help) {
		words = version_words;
		nwords = 1;
	}
	cmd = cmd_find(words, nwords);
	if (g.help && cmd && (own = own_of(cmd))) {
		/* "xcnictl help flows": "xcnictl flows --help", from its option table. */
		char *line[nwords + 3];

		line[0] = argv[0];
		memcpy(line + 1, words, (size_t)nwords * sizeof(*line));
		line[nwords + 1] = "--help";
		line[nwords + 2] = NULL;
		return own->fn ? own_main(cmd, nwords + 2, line, 1, &g) : own_line(own, nwords + 2, line, 1);
	}
	if (g.help) {
		/* "xcnictl endpoint --help" lists the endpoint commands. */
		if (cmd) {
			printf("Usage: xcnictl [OPTIONS] %s   (xcnictl(1) says more)\n\n%s\n%s",
			       synopsis(cmd, buf, sizeof(buf)), cmd->help, cmd->opts ? "\n" : "");
			for (const struct pt_opt *o = ctl_opts; o->name; o++)
				if (o->bit & cmd->opts)
					pt_opt_line(stdout, o);
		} else
			usage(stdout, nwords ? words[0] : NULL);
		return 0;
	}
	cmd = cmd_check(&c, &g, words, nwords);
	if (!cmd)
		return 2;
	if (!cmd->fn) /* lab or flows after a "--": its options would be lost */
		return pr_err_ret(2, "%s: give it before any --\n", cmd->name);
	if (g.version && strcmp(cmd->name, "version"))
		return pr_err_ret(2, "--version: give it alone (xcnictl --version)\n");
	words += cmd->sub ? 2 : 1;
	/* yaml and jsonl: the views write JSON, converted on its way out. */
	c.out = g.out == PT_YAML || g.out == PT_JSONL ? PT_JSON : g.out;
	c.json = c.out == PT_JSON;
	err = pt_stdout_filter(g.out);
	if (err)
		return pr_err_ret(1, "-o %s: %s\n", pt_format_name(g.out), strerror(-err));
	/* Commands of no maps (version, completion) need no pin dir. */
	if (!strcmp(cmd->name, "version") || !strcmp(cmd->name, "completion") ||
	    !strcmp(cmd->name, "filters"))
		return cmd->fn(&c, words) ? 1 : 0;
	/* --kubeconfig: every agent over HTTPS, as flows asks them; no maps here. */
	if (c.tls_dir && !(c.opts & OPT_KUBECONFIG))
		return pr_err_ret(2, "--tls %s is --kubeconfig's: give it too\n", c.tls_dir);
	if (c.opts & OPT_KUBECONFIG) {
		if (!c.tls_dir)
			c.tls_dir = getenv("XCNI_FLOWS_TLS");
		if (g.node || (c.opts & OPT_PIN_DIR_DST) || !c.tls_dir || !*c.tls_dir)
			return pr_err_ret(2, "--kubeconfig %s: %s\n", c.kubeconfig,
					  !c.tls_dir || !*c.tls_dir ?
					  "give the client certificate's folder, --tls DIR (or "
					  "XCNI_FLOWS_TLS)" :
					  "the agents say where each pod lives: no --node or "
					  "--pin-dir-dst");
		return cmd->fn(&c, words) ? 1 : 0;
	}
	if (g.node && !strcmp(g.node, "all") &&
	    (!strcmp(cmd->name, "monitor") || cmd->fn == polstatus_cmds[0].fn)) {
		/* Every node's events (monitor.c), every node's policy status (polstatus.c):
		 * each read by its pins' path. */
		c.node_all = true;
	} else if (g.node && !strcmp(g.node, "all") && !strcmp(cmd->name, "explain")) {
		/* Each side on its own node: explain opens every node's maps by
		 * path (pins do not depend on the network namespace). */
		if (c.opts & OPT_PIN_DIR_DST)
			return pr_err_ret(2, "--node all and --pin-dir-dst both say where the "
					  "destination's maps are: give one\n");
		c.node_all = true;
	} else if (g.node) {
		err = ctl_node_enter(g.node, node_pin, sizeof(node_pin));
		if (err)
			return err == -EINVAL ? 2 : 1;
		c.pin_dir = node_pin;
	} else if (!g.pin_dir_opt && !g.pin_dir_env && access(c.pin_dir, F_OK) &&
		   ctl_lab_hint(c.pin_dir, argc, given)) {
		return 1;
	}
	err = cmd->fn(&c, words);
	return err ? 1 : 0;
}
