// SPDX-License-Identifier: Apache-2.0
/*
 * xcnictl: the operator's view of the data plane. It opens the maps xcnid
 * pins (by path, so it needs neither xcnid nor the BPF objects), checks their
 * layout against xcni_shared.h and shows them through the print layer, as
 * aligned text or --json. It writes two things, both the operator's decision,
 * not cluster state xcnid follows: the underlay's prefilter deny list, and
 * the event settings of the node config (config set).
 *
 * This file parses the global options and dispatches; each command noun
 * lives in a file of its own (endpoint.c, ct.c, ...) that exports its table.
 */
#include <getopt.h>

#include "ctl.h"
#include "lib/system/bpfpin.h"
#include "lab/lab.h"

/* In the order --help lists them. */
static const struct cmd *const tables[] = {
	endpoint_cmds, ct_cmds, metrics_cmds, config_cmds, tunnel_cmds, prefilter_cmds, hook_cmds,
	identity_cmds, ipcache_cmds, policy_cmds, service_cmds, nodeport_cmds, monitor_cmds, explain_cmds,
};

/* Every command, table by table. */
#define for_each_cmd(i, cmd)                          \
	for (size_t i = 0; i < ARRAY_SIZE(tables); i++) \
		for (cmd = tables[i]; cmd->name; cmd++)

/* "ct list [--ip IP]" */
static const char *synopsis(const struct cmd *cmd, char *buf, size_t n)
{
	snprintf(buf, n, "%s%s%s%s%s", cmd->name, cmd->sub ? " " : "", cmd->sub ?: "",
		 *cmd->args ? " " : "", cmd->args);
	return buf;
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
static bool cmd_known(const char *name)
{
	const struct cmd *cmd;
	for_each_cmd(i, cmd)
		if (!strcmp(name, cmd->name))
			return true;
	return false;
}
/* The commands called name, or all when there are none such. */
static void usage(FILE *f, const char *name)
{
	const struct cmd *cmd;
	char buf[128];
	if (name && !cmd_known(name))
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
	if (!name)
		fprintf(f, "  %-22s %s\n", "flows [FILTERS]",
			"Flow records of xcnid --flows (flows --help: the filters)");
	fprintf(f, "\nOptions (anywhere on the line):\n"
		   "  --pin-dir DIR   where the maps are pinned (default $XCNI_PIN_DIR, else "
		   XCNI_PIN_ROOT ")\n"
		   "  --node NAME     a lab node's maps, seen from its network namespace\n"
		   "  -j, --json      JSON output\n"
		   "  -v, --verbose   more messages; twice for debug\n"
		   "  -h, --help      this help; after a command, that command's help\n");
}


/* The options given once for all commands, and how they were given. */
struct global {
	bool help;
	bool pin_dir_opt; /* --pin-dir */
	bool pin_dir_env; /* $XCNI_PIN_DIR */
	const char *node; /* --node */
};

/* A number of --count or --timeout-ms. */
static int parse_count(int opt, const char *arg, unsigned long *v)
{
	char *end;

	*v = strtoul(arg, &end, 10);
	if (!*arg || *end || *arg == '-') {
		pr_err("--%s %s: not a number\n", opt == 'C' ? "count" : "timeout-ms", arg);
		return -EINVAL;
	}
	return 0;
}

/*
 * One option into c or g: 0, or -EINVAL (said) for a value that is not one.
 * Options may follow the command ("xcnictl ct list --json"): getopt permutes.
 */
static int parse_opt(int opt, const char *arg, struct ctx *c, struct global *g)
{
	switch (opt) {
	case 'P':
		c->pin_dir = arg;
		g->pin_dir_opt = true;
		return 0;
	case 'N':
		g->node = arg;
		return 0;
	case 'j':
		c->json = true;
		return 0;
	case 'v':
		if (xlog_max < XLOG_DEBUG)
			xlog_max++;
		return 0;
	case 'h':
		g->help = true;
		return 0;
	case 'I':
		if (parse_ip_any(arg, &c->ip_any)) {
			pr_err("--ip %s: not an IPv4 or IPv6 address\n", arg);
			return -EINVAL;
		}
		if (c->ip_any.family == XCNI_AF_INET)
			memcpy(&c->ip_addr, c->ip_any.addr, 4);
		c->opts |= OPT_IP;
		c->ip = arg;
		return 0;
	case 'i':
		if (parse_identity(arg, &c->identity)) {
			pr_err("--identity %s: not an identity (a number or reserved:host, "
			       "reserved:world, reserved:unmanaged, reserved:remote-node)\n", arg);
			return -EINVAL;
		}
		c->opts |= OPT_IDENTITY;
		return 0;
	case 'A':
		c->opts |= OPT_ALL;
		return 0;
	case 'p':
		c->opts |= OPT_POD;
		c->pod = arg;
		return 0;
	case 'n':
		c->opts |= OPT_NAMESPACE;
		c->ns = arg;
		return 0;
	case 'r':
		if (reason_by_name(arg, &c->reason)) {
			pr_err("--reason %s: no such reason (xcnictl metrics --all lists them)\n", arg);
			return -EINVAL;
		}
		c->opts |= OPT_REASON;
		return 0;
	case 'V':
		if (strcmp(arg, "allow") && strcmp(arg, "deny")) {
			pr_err("--verdict %s: allow or deny\n", arg);
			return -EINVAL;
		}
		c->opts |= OPT_VERDICT;
		c->verdict_allow = !strcmp(arg, "allow");
		return 0;
	case 't':
		if (strcmp(arg, "drop") && strcmp(arg, "verdict") && strcmp(arg, "trace")) {
			pr_err("--type %s: drop, verdict or trace\n", arg);
			return -EINVAL;
		}
		c->opts |= OPT_TYPE;
		c->ev_type = !strcmp(arg, "drop")    ? XCNI_EV_DROP :
			     !strcmp(arg, "verdict") ? XCNI_EV_VERDICT : XCNI_EV_TRACE;
		return 0;
	case 'S': {
		unsigned long v;

		if (parse_uint(arg, 65535, &v) || !v) {
			pr_err("--sport %s: a port, 1 to 65535\n", arg);
			return -EINVAL;
		}
		c->opts |= OPT_SPORT;
		c->sport = (__u16)v;
		return 0;
	}
	case 'F':
		if (strcmp(arg, "4") && strcmp(arg, "6")) {
			pr_err("--family %s: 4 or 6\n", arg);
			return -EINVAL;
		}
		c->opts |= OPT_FAMILY;
		c->family = (__u8)(arg[0] - '0');
		return 0;
	case 'D':
		c->opts |= OPT_PIN_DIR_DST;
		c->pin_dir_dst = arg;
		return 0;
	case 'C':
		c->opts |= OPT_COUNT;
		return parse_count(opt, arg, &c->count);
	case 'T':
		c->opts |= OPT_TIMEOUT;
		return parse_count(opt, arg, &c->timeout_ms);
	case 'M':
		if (strcmp(arg, "mono") && strcmp(arg, "rfc3339")) {
			pr_err("--time %s: rfc3339 (wall clock, UTC) or mono\n", arg);
			return -EINVAL;
		}
		c->opts |= OPT_TIME;
		c->time_mono = !strcmp(arg, "mono");
		return 0;
	}
	usage(stderr, NULL);
	return -EINVAL;
}

/* The command words[] name, its arguments and options checked: NULL (said) if wrong. */
static const struct cmd *cmd_check(const struct ctx *c, const struct global *g, char **words,
				   int nwords)
{
	const struct cmd *cmd = cmd_find(words, nwords);
	char buf[128];

	if (!cmd) {
		if (nwords && cmd_known(words[0]))
			pr_err("%s: %s subcommand\n", words[0], nwords > 1 ? "unknown" : "missing");
		else if (nwords)
			pr_err("unknown command: %s\n", words[0]);
		usage(stderr, nwords ? words[0] : NULL);
		return NULL;
	}
	words += cmd->sub ? 2 : 1;
	nwords -= cmd->sub ? 2 : 1;
	if ((unsigned int)nwords != cmd->nargs || c->opts & ~cmd->opts) {
		pr_err("%s\n", (unsigned int)nwords != cmd->nargs ? "wrong number of arguments" :
			       "option not taken by this command");
		fprintf(stderr, "Usage: xcnictl [OPTIONS] %s\n", synopsis(cmd, buf, sizeof(buf)));
		return NULL;
	}
	if ((c->opts & OPT_IP) && (c->opts & OPT_POD)) {
		pr_err("--ip and --pod both name an address: give one\n");
		return NULL;
	}
	if (g->node && g->pin_dir_opt) {
		pr_err("--node and --pin-dir both say where the maps are: give one\n");
		return NULL;
	}
	if (cmd->check && cmd->check(words))
		return NULL;
	return cmd;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pin-dir", required_argument, NULL, 'P' },
		{ "node", required_argument, NULL, 'N' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "ip", required_argument, NULL, 'I' },
		{ "all", no_argument, NULL, 'A' },
		{ "count", required_argument, NULL, 'C' },
		{ "timeout-ms", required_argument, NULL, 'T' },
		{ "pod", required_argument, NULL, 'p' },
		{ "namespace", required_argument, NULL, 'n' },
		{ "reason", required_argument, NULL, 'r' },
		{ "verdict", required_argument, NULL, 'V' },
		{ "type", required_argument, NULL, 't' },
		{ "pin-dir-dst", required_argument, NULL, 'D' },
		{ "identity", required_argument, NULL, 'i' },
		{ "sport", required_argument, NULL, 'S' },
		{ "family", required_argument, NULL, 'F' },
		{ "time", required_argument, NULL, 'M' },
		{}
	};
	struct ctx c = { .pin_dir = getenv("XCNI_PIN_DIR") };
	struct global g = { .pin_dir_env = c.pin_dir && *c.pin_dir };
	const struct cmd *cmd;
	char **words, *given[argc + 1], buf[128], node_pin[PATH_MAX];
	int opt, nwords, err;

	xlog_set_prefix("xcnictl");
	xcni_libbpf_log_init();
	/* The lab has options and argument shapes of its own (-f FILE, -- CMD...). */
	if (argc > 1 && !strcmp(argv[1], "lab"))
		return ctl_lab_main(argc - 1, argv + 1);
	/* So does flows (hubble observe's filters): after the global options, if any. */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--pin-dir") || !strcmp(argv[i], "--node")) {
			i++;
			continue;
		}
		if (!strncmp(argv[i], "--pin-dir=", 10) || !strncmp(argv[i], "--node=", 7) ||
		    !strcmp(argv[i], "--json") || !strcmp(argv[i], "-j") ||
		    !strcmp(argv[i], "--verbose") || !strcmp(argv[i], "-v"))
			continue;
		if (!strcmp(argv[i], "flows"))
			return ctl_flows_main(argc, argv);
		break;
	}
	if (!g.pin_dir_env)
		c.pin_dir = XCNI_PIN_ROOT;
	/* The command line as typed, for the lab hint: getopt permutes argv. */
	memcpy(given, argv, (argc + 1) * sizeof(*argv));
	while ((opt = getopt_long(argc, argv, "jvh", longopts, NULL)) != -1)
		if (parse_opt(opt, optarg, &c, &g))
			return 2;
	words = argv + optind;
	nwords = argc - optind;
	cmd = cmd_find(words, nwords);
	if (g.help) {
		/* "xcnictl endpoint --help" lists the endpoint commands. */
		if (cmd)
			printf("Usage: xcnictl [OPTIONS] %s\n\n%s\n", synopsis(cmd, buf, sizeof(buf)),
			       cmd->help);
		else
			usage(stdout, nwords ? words[0] : NULL);
		return 0;
	}
	cmd = cmd_check(&c, &g, words, nwords);
	if (!cmd)
		return 2;
	words += cmd->sub ? 2 : 1;
	if (g.node) {
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
