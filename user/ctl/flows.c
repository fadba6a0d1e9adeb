// SPDX-License-Identifier: Apache-2.0
/*
 * xcnictl flows: the flow records xcnid keeps (xcnid --flows), asked for over
 * its Unix socket, with filters as hubble observe has them. The filters are
 * parsed here first (user/lib/observe/flows.c, so a bad one is refused before
 * anything is asked) and sent as they were given; xcnid parses them again
 * with the same code and answers the matching records as JSON lines and a
 * trailer with the cursor --follow passes back.
 */
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "ctl.h"
#include "lib/observe/flows.h"

#define FLOWS_MAX_NODES 64
#define FLOWS_REQ_MAX 4096
#define FLOWS_TIMEOUT_S 10

struct target {
	char node[64]; /* "" outside a lab */
	char sock[108];
	uint64_t cursor;
};

struct fopts {
	bool json, follow, header_done;
	char req[FLOWS_REQ_MAX];
	size_t reqlen;
	bool has_last;
};

static volatile sig_atomic_t stop;
static void on_sig(int s)
{
	(void)s;
	stop = 1;
}

static const char flows_help[] =
	"Usage: xcnictl [--pin-dir DIR | --node NAME|all] flows [FILTERS] [--follow] [--json]\n\n"
	"The flow records xcnid keeps (on unless --flows=false): one per connection, in the\n"
	"direction of its first packet, as this node saw it: both ends (pod, namespace,\n"
	"identity and labels, or world/host/remote-node), the Service and backend when\n"
	"translated, the verdict with the policy and rule that allowed it or the reason\n"
	"it was dropped, packets and bytes each way (from conntrack; a denied flow's\n"
	"from the drop events, which have a budget: --events-rate), first and last\n"
	"seen, TCP flags its conntrack states imply. Least recently changed first.\n\n"
	"Filters (all must hold):\n"
	"  --from X, --to X       the source / destination: pod:NS/NAME, ns:NS,\n"
	"                         label:SELECTOR (k=v,k!=v,k,!k), ip:IP[/LEN]; or the\n"
	"                         same without the prefix (NS/NAME, k=v, 10.0.0.0/8, NS)\n"
	"  --verdict V            allowed, denied or audit\n"
	"  --port N               either end's port\n"
	"  --protocol P           tcp, udp, icmp, icmpv6, sctp or a number\n"
	"  --service NS/NAME[:PORT]  flows translated for that Service\n"
	"  --since D              changed in the last D (30s, 5m, 2h, 1d)\n"
	"  --last N               only the last N that match\n\n"
	"  --follow, -f           then the records as they change, until interrupted\n"
	"  --node NAME|all        a lab node's records, or every node's (repeatable)\n"
	"  --flows-socket PATH    ask xcnid there (its --flows-socket)\n"
	"  --json, -j             one JSON object per line\n";

/* One filter: checked here, then sent. 0 or -EINVAL (said). */
static int add_filter(struct fopts *fo, const char *name, const char *val)
{
	struct flow_filter ff;
	char err[300];
	int n;

	flow_filter_init(&ff);
	if (flow_filter_set(&ff, name, val, err, sizeof(err))) {
		pr_err("%s\n", err);
		return -EINVAL;
	}
	if (strchr(val, '\n')) {
		pr_err("--%s: a newline in the value\n", name);
		return -EINVAL;
	}
	n = snprintf(fo->req + fo->reqlen, sizeof(fo->req) - fo->reqlen, "%s=%s\n", name, val);
	if (n < 0 || (size_t)n >= sizeof(fo->req) - fo->reqlen - 32) {
		pr_err("--%s: the filters are too long together\n", name);
		return -EINVAL;
	}
	fo->reqlen += (size_t)n;
	return 0;
}

static void peer_str(json_t *p, char *buf, size_t len)
{
	const char *ns = json_string_value(json_object_get(p, "namespace"));
	const char *pod = json_string_value(json_object_get(p, "pod"));
	const char *kind = json_string_value(json_object_get(p, "kind"));
	const char *ip = json_string_value(json_object_get(p, "ip"));
	json_int_t port = json_integer_value(json_object_get(p, "port"));
	bool v6 = ip && strchr(ip, ':');

	if (pod)
		snprintf(buf, len, "%s/%s %s%s%s:%lld", ns ? ns : "?", pod, v6 ? "[" : "",
			 ip ? ip : "?", v6 ? "]" : "", (long long)port);
	else
		snprintf(buf, len, "%s%s%s%s%s:%lld", ns ? ns : (kind ? kind : "?"), " ",
			 v6 ? "[" : "", ip ? ip : "?", v6 ? "]" : "", (long long)port);
}

/* One record as a line of columns. */
static void print_text(struct fopts *fo, const char *line)
{
	json_error_t je;
	json_t *o = json_loads(line, 0, &je), *flags;
	char src[400], dst[400], by[400], when[32], fl[40] = "";
	const char *policy, *reason, *svc, *be;
	double last;
	time_t t;
	struct tm tm;
	size_t i;
	json_t *v;

	if (!o)
		return;
	if (!fo->header_done) {
		printf("%-8s %-8s %-6s %-42s %-42s %-8s %-11s %-13s %s\n", "NODE", "TIME", "PROTO",
		       "SOURCE", "DESTINATION", "VERDICT", "PKTS", "BYTES", "BY");
		fo->header_done = true;
	}
	peer_str(json_object_get(o, "source"), src, sizeof(src));
	peer_str(json_object_get(o, "destination"), dst, sizeof(dst));
	policy = json_string_value(json_object_get(o, "policy"));
	reason = json_string_value(json_object_get(o, "drop_reason"));
	svc = json_string_value(json_object_get(o, "service"));
	be = json_string_value(json_object_get(o, "backend"));
	if (policy) {
		const char *rn = json_string_value(json_object_get(o, "rule_name"));

		snprintf(by, sizeof(by), "%s %s rule %lld%s%s%s",
			 json_string_value(json_object_get(o, "policy_side")) ?: "", policy,
			 (long long)json_integer_value(json_object_get(o, "rule")), rn ? " \"" : "",
			 rn ? rn : "", rn ? "\"" : "");
	}
	else if (reason)
		snprintf(by, sizeof(by), "%s", reason);
	else
		snprintf(by, sizeof(by), "-");
	if (svc) {
		size_t l = strlen(by);

		snprintf(by + l, sizeof(by) - l, " svc %s -> %s", svc, be ? be : "?");
	}
	flags = json_object_get(o, "tcp_flags");
	json_array_foreach(flags, i, v)
	{
		size_t l = strlen(fl);

		snprintf(fl + l, sizeof(fl) - l, "%s%s", l ? "," : "", json_string_value(v));
	}
	last = json_real_value(json_object_get(o, "last_seen"));
	if (!last)
		last = (double)json_integer_value(json_object_get(o, "last_seen"));
	t = (time_t)last;
	localtime_r(&t, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	printf("%-8s %-8s %-6s %-42s %-42s %-8s %5lld/%-5lld %6lld/%-6lld %s%s%s%s\n",
	       json_string_value(json_object_get(o, "node")) ?: "-", when,
	       json_string_value(json_object_get(o, "protocol")) ?: "?", src, dst,
	       json_string_value(json_object_get(o, "verdict")) ?: "?",
	       (long long)json_integer_value(json_object_get(o, "packets")),
	       (long long)json_integer_value(json_object_get(o, "reply_packets")),
	       (long long)json_integer_value(json_object_get(o, "bytes")),
	       (long long)json_integer_value(json_object_get(o, "reply_bytes")), by,
	       fl[0] ? " [" : "", fl, fl[0] ? "]" : "");
	json_decref(o);
}

/*
 * One request to one xcnid: its records printed as they come, the cursor
 * taken from the trailer. 0, or -errno (said).
 */
static int ask(struct fopts *fo, struct target *t, bool first)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = FLOWS_TIMEOUT_S };
	char req[FLOWS_REQ_MAX + 64], *buf = NULL, *line, *nl;
	size_t len = 0, cap = 0, rl;
	int fd, err = 0;
	ssize_t n;

	rl = (size_t)snprintf(req, sizeof(req), "%.*s", (int)fo->reqlen, fo->req);
	if (!first)
		/* --follow: what changed since; --last only said where to begin. */
		rl = 0;
	if (!first)
		for (char *p = fo->req; *p;) {
			char *e = strchr(p, '\n');
			size_t l = (size_t)(e - p) + 1;

			if (strncmp(p, "last=", 5))
				rl += (size_t)snprintf(req + rl, sizeof(req) - rl, "%.*s", (int)l, p);
			p += l;
		}
	if (t->cursor)
		rl += (size_t)snprintf(req + rl, sizeof(req) - rl, "after=%llu\n",
				       (unsigned long long)t->cursor);
	memcpy(sa.sun_path, t->sock, strlen(t->sock) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		pr_err("flows%s%s: no xcnid answers on %s: %s (is it running, without --flows=false?)\n",
		       t->node[0] ? " --node " : "", t->node, t->sock, strerror(-err));
		goto out;
	}
	if (write(fd, req, rl) != (ssize_t)rl || shutdown(fd, SHUT_WR)) {
		err = -errno;
		pr_err("flows: sending to %s: %s\n", t->sock, strerror(-err));
		goto out;
	}
	for (;;) {
		if (cap - len < 65536) {
			char *p = realloc(buf, cap ? cap * 2 : 1 << 20);

			if (!p) {
				err = -ENOMEM;
				goto out;
			}
			buf = p;
			cap = cap ? cap * 2 : 1 << 20;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR && !stop)
			continue;
		if (n < 0) {
			err = -errno;
			pr_err("flows: reading from %s: %s\n", t->sock, strerror(-err));
			goto out;
		}
		if (!n)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	if (!len || buf[len - 1] != '\n') {
		pr_err("flows: %s closed before its answer was complete (xcnid busy or stopping?)\n",
		       t->sock);
		err = -EIO;
		goto out;
	}
	for (line = buf; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		*nl = '\0';
		if (!strncmp(line, "{\"error\":", 9)) {
			json_t *o = json_loads(line, 0, NULL);

			pr_err("flows%s%s: xcnid says: %s\n", t->node[0] ? " --node " : "", t->node,
			       o ? json_string_value(json_object_get(o, "error")) : line);
			json_decref(o);
			err = -EINVAL;
			continue;
		}
		if (!strncmp(line, "{\"cursor\":", 10)) {
			t->cursor = strtoull(line + 10, NULL, 10);
			if (xlog_max >= XLOG_INFO)
				fprintf(stderr, "%s%s%s\n", t->node, t->node[0] ? ": " : "", line);
			continue;
		}
		if (fo->json)
			printf("%s\n", line);
		else
			print_text(fo, line);
	}
	fflush(stdout);
out:
	free(buf);
	close(fd);
	return err;
}

int ctl_flows_main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "pin-dir", required_argument, NULL, 'P' },
		{ "node", required_argument, NULL, 'N' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "follow", no_argument, NULL, 'f' },
		{ "flows-socket", required_argument, NULL, 'S' },
		{ "from", required_argument, NULL, 1 },
		{ "to", required_argument, NULL, 1 },
		{ "verdict", required_argument, NULL, 1 },
		{ "port", required_argument, NULL, 1 },
		{ "protocol", required_argument, NULL, 1 },
		{ "service", required_argument, NULL, 1 },
		{ "since", required_argument, NULL, 1 },
		{ "last", required_argument, NULL, 1 },
		{}
	};
	static struct target tg[FLOWS_MAX_NODES];
	static struct ctl_lab_node ln[FLOWS_MAX_NODES];
	const char *pin_dir = getenv("XCNI_PIN_DIR"), *sock = NULL;
	const char *nodes[FLOWS_MAX_NODES];
	size_t nnodes = 0, ntg = 0;
	struct fopts fo = {};
	int opt, idx, err = 0, words = 0;

	if (!pin_dir || !*pin_dir)
		pin_dir = XCNI_PIN_ROOT;
	while ((opt = getopt_long(argc, argv, "jvhf", lo, &idx)) != -1) {
		switch (opt) {
		case 'P': pin_dir = optarg; break;
		case 'N':
			if (nnodes == FLOWS_MAX_NODES) {
				pr_err("--node: at most %d\n", FLOWS_MAX_NODES);
				return 2;
			}
			nodes[nnodes++] = optarg;
			break;
		case 'j': fo.json = true; break;
		case 'v':
			if (xlog_max < XLOG_DEBUG)
				xlog_max++;
			break;
		case 'h': fputs(flows_help, stdout); return 0;
		case 'f': fo.follow = true; break;
		case 'S': sock = optarg; break;
		case 1:
			if (add_filter(&fo, lo[idx].name, optarg))
				return 2;
			break;
		default: fputs(flows_help, stderr); return 2;
		}
	}
	for (int i = optind; i < argc; i++)
		if (strcmp(argv[i], "flows") || words++) {
			pr_err("flows: unexpected argument %s\n", argv[i]);
			fputs(flows_help, stderr);
			return 2;
		}
	if (nnodes && sock) {
		pr_err("--node and --flows-socket both say which xcnid: give one\n");
		return 2;
	}
	for (size_t i = 0; i < nnodes; i++) {
		size_t n;

		err = ctl_lab_nodes(nodes[i], ln, FLOWS_MAX_NODES, &n);
		if (err)
			return err == -EINVAL ? 2 : 1;
		for (size_t j = 0; j < n && ntg < FLOWS_MAX_NODES; j++) {
			snprintf(tg[ntg].node, sizeof(tg[ntg].node), "%.63s", ln[j].name);
			if (flows_sock_path(ln[j].pin, tg[ntg].sock, sizeof(tg[ntg].sock))) {
				pr_err("--node %s: pin dir %s makes a socket path too long\n",
				       ln[j].name, ln[j].pin);
				return 2;
			}
			ntg++;
		}
	}
	if (!nnodes) {
		if (sock) {
			if (strlen(sock) >= sizeof(tg[0].sock)) {
				pr_err("--flows-socket %s: too long for a Unix socket\n", sock);
				return 2;
			}
			snprintf(tg[0].sock, sizeof(tg[0].sock), "%s", sock);
		} else if (flows_sock_path(pin_dir, tg[0].sock, sizeof(tg[0].sock))) {
			pr_err("--pin-dir %s: too long to make a socket path of\n", pin_dir);
			return 2;
		}
		ntg = 1;
	}
	signal(SIGPIPE, SIG_IGN);
	if (fo.follow) {
		struct sigaction sa = { .sa_handler = on_sig };

		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
	for (bool first = true; !stop; first = false) {
		for (size_t i = 0; i < ntg && !stop; i++) {
			int e = ask(&fo, &tg[i], first);

			/* Outside --follow a node that does not answer fails the command;
			 * following, it is said and asked again. */
			if (e && !err)
				err = e;
		}
		if (!fo.follow)
			break;
		if (first && err)
			break;
		err = 0;
		for (int ms = 0; ms < 1000 && !stop; ms += 100)
			poll(NULL, 0, 100);
	}
	return err ? 1 : 0;
}
