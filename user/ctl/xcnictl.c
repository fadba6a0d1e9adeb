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
#include "lib/bpfpin.h"
#include "lab/lab.h"

/* In the order --help lists them. */
static const struct cmd *const tables[] = {
	endpoint_cmds, ct_cmds, metrics_cmds, config_cmds, tunnel_cmds, prefilter_cmds,
	identity_cmds, ipcache_cmds, policy_cmds, monitor_cmds, explain_cmds,
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
	char buf[64];
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
	fprintf(f, "\nOptions (anywhere on the line):\n"
		   "  --pin-dir DIR   where the maps are pinned (default $XCNI_PIN_DIR, else "
		   XCNI_PIN_ROOT ")\n"
		   "  -j, --json      JSON output\n"
		   "  -v, --verbose   more messages; twice for debug\n"
		   "  -h, --help      this help; after a command, that command's help\n");
}
int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pin-dir", required_argument, NULL, 'P' },
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
		{}
	};
	struct ctx c = { .pin_dir = getenv("XCNI_PIN_DIR") };
	const struct cmd *cmd;
	bool help = false;
	int opt, nwords, err;
	char **words, buf[64];
	xlog_set_prefix("xcnictl");
	xcni_libbpf_log_init();
	/* The lab has options and argument shapes of its own (-f FILE, -- CMD...). */
	if (argc > 1 && !strcmp(argv[1], "lab"))
		return lab_main(argc - 1, argv + 1);
	if (!c.pin_dir || !*c.pin_dir)
		c.pin_dir = XCNI_PIN_ROOT;
	/* Options may follow the command ("xcnictl ct list --json"): getopt permutes. */
	while ((opt = getopt_long(argc, argv, "jvh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'P':
			c.pin_dir = optarg;
			break;
		case 'j':
			c.json = true;
			break;
		case 'v':
			if (xlog_max < XLOG_DEBUG)
				xlog_max++;
			break;
		case 'h':
			help = true;
			break;
		case 'I':
			if (parse_ip(optarg, &c.ip_addr)) {
				pr_err("--ip %s: not an IPv4 address\n", optarg);
				return 2;
			}
			c.opts |= OPT_IP;
			c.ip = optarg;
			break;
		case 'i':
			if (parse_identity(optarg, &c.identity)) {
				pr_err("--identity %s: not an identity (a number or reserved:host, "
				       "reserved:world, reserved:unmanaged, reserved:remote-node)\n", optarg);
				return 2;
			}
			c.opts |= OPT_IDENTITY;
			break;
		case 'A':
			c.opts |= OPT_ALL;
			break;
		case 'p':
			c.opts |= OPT_POD;
			c.pod = optarg;
			break;
		case 'n':
			c.opts |= OPT_NAMESPACE;
			c.ns = optarg;
			break;
		case 'r':
			if (reason_by_name(optarg, &c.reason)) {
				pr_err("--reason %s: no such reason (xcnictl metrics --all lists them)\n",
				       optarg);
				return 2;
			}
			c.opts |= OPT_REASON;
			break;
		case 'V':
			if (strcmp(optarg, "allow") && strcmp(optarg, "deny")) {
				pr_err("--verdict %s: allow or deny\n", optarg);
				return 2;
			}
			c.opts |= OPT_VERDICT;
			c.verdict_allow = !strcmp(optarg, "allow");
			break;
		case 't':
			if (strcmp(optarg, "drop") && strcmp(optarg, "verdict") && strcmp(optarg, "trace")) {
				pr_err("--type %s: drop, verdict or trace\n", optarg);
				return 2;
			}
			c.opts |= OPT_TYPE;
			c.ev_type = !strcmp(optarg, "drop")    ? XCNI_EV_DROP :
				    !strcmp(optarg, "verdict") ? XCNI_EV_VERDICT : XCNI_EV_TRACE;
			break;
		case 'D':
			c.opts |= OPT_PIN_DIR_DST;
			c.pin_dir_dst = optarg;
			break;
		case 'C':
		case 'T': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (!*optarg || *end || *optarg == '-') {
				pr_err("--%s %s: not a number\n", opt == 'C' ? "count" : "timeout-ms",
				       optarg);
				return 2;
			}
			if (opt == 'C') {
				c.opts |= OPT_COUNT;
				c.count = v;
			} else {
				c.opts |= OPT_TIMEOUT;
				c.timeout_ms = v;
			}
			break;
		}
		default:
			usage(stderr, NULL);
			return 2;
		}
	}
	words = argv + optind;
	nwords = argc - optind;
	cmd = cmd_find(words, nwords);
	if (!cmd) {
		/* "xcnictl endpoint --help" lists the endpoint commands. */
		if (help) {
			usage(stdout, nwords ? words[0] : NULL);
			return 0;
		}
		if (nwords && cmd_known(words[0]))
			pr_err("%s: %s subcommand\n", words[0], nwords > 1 ? "unknown" : "missing");
		else if (nwords)
			pr_err("unknown command: %s\n", words[0]);
		usage(stderr, nwords ? words[0] : NULL);
		return 2;
	}
	if (help) {
		printf("Usage: xcnictl [OPTIONS] %s\n\n%s\n", synopsis(cmd, buf, sizeof(buf)),
		       cmd->help);
		return 0;
	}
	words += cmd->sub ? 2 : 1;
	nwords -= cmd->sub ? 2 : 1;
	if ((unsigned int)nwords != cmd->nargs || c.opts & ~cmd->opts) {
		pr_err("%s\n", (unsigned int)nwords != cmd->nargs ? "wrong number of arguments" :
			       "option not taken by this command");
		fprintf(stderr, "Usage: xcnictl [OPTIONS] %s\n", synopsis(cmd, buf, sizeof(buf)));
		return 2;
	}
	if ((c.opts & OPT_IP) && (c.opts & OPT_POD)) {
		pr_err("--ip and --pod both name an address: give one\n");
		return 2;
	}
	if (cmd->check && cmd->check(words))
		return 2;
	err = cmd->fn(&c, words);
	return err ? 1 : 0;
}
