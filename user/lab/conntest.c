// SPDX-License-Identifier: Apache-2.0
/*
 * xcnictl connectivity test: what `cilium connectivity test` does, in the lab.
 *
 *   node A (--node, default the lab's first)    node B (the second; A again in a 1-node lab)
 *     client    {app: client, access: "yes"}      echo-other {app: echo-other} 8080/tcp 8081/udp
 *     stranger  {app: stranger}                   guarded    {app: guarded}    8080/tcp
 *     echo-same {app: echo-same} 8080/tcp 8081/udp
 *   Service echo     (ClusterIP) -> echo-other 80/tcp -> 8080
 *   Service echo-np  (NodePort)  -> echo-other 80/tcp -> 8080, nodePort fixed
 *   NetworkPolicy guard: guarded takes 8080/tcp from pods labelled access: "yes" only
 *
 * The probe namespace is one manifest (--manifest prints it: it is what a
 * cluster would be given), applied through lab apply, removed at the end
 * through lab delete of the Namespace (its pods, policy and Services go with
 * it), then checked gone. The tests are the table below, run once per IP
 * family of the lab; each probe runs in a child process that entered the
 * source's netns (and its node's cgroup), while every node's drop counters
 * (xcni_metrics) are read before and after: a test that should connect fails
 * on any drop during it, one that should be denied must see a policy drop.
 * Each line says the probe's fate in lab probe's words (lab_fate_word).
 * Tests run one at a time, so the counters' difference is the test's (in a
 * lab nothing else runs meanwhile but the DNS pod).
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <resolv.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "lab/conntest.h"
#include "lab/drops.h"
#include "lib/observe/reasons.h"
#include "xcni_shared.h"
#include "lib/system/util.h"

#define CT_DEFAULT_MS 1000
/* The NodePort: this far into the lab's range (lab up --node-port-range). */
#define CT_NODEPORT_OFF 39
/* The pods' image in a cluster (the lab runs its own listener and ignores it):
 * examples/kind's, which has xcnictl for the listener (lab serve) and sleep. */
#define CT_DEFAULT_IMAGE "xcni:dev"

const struct lab_ct_case lab_ct_cases[] = {
	{ "pod-to-pod/same-node", CT_FROM_CLIENT, CT_TO_ECHO_SAME, "8080/tcp", true, 0,
	  LAB_CONNTEST_NS "/echo-same" },
	{ "pod-to-pod/other-node", CT_FROM_CLIENT, CT_TO_ECHO_OTHER, "8080/tcp", true, CT_NEED_2NODES,
	  LAB_CONNTEST_NS "/echo-other" },
	{ "pod-to-pod/other-node-udp", CT_FROM_CLIENT, CT_TO_ECHO_OTHER, "8081/udp", true, CT_NEED_2NODES,
	  NULL },
	{ "pod-to-service/clusterip", CT_FROM_CLIENT, CT_TO_SVC, "80/tcp", true, 0,
	  LAB_CONNTEST_NS "/echo-other" },
	{ "outside-to-nodeport/backend-node", CT_FROM_OUTSIDE, CT_TO_NODEPORT_B, "", true, CT_NEED_OUTSIDE,
	  LAB_CONNTEST_NS "/echo-other" },
	{ "outside-to-nodeport/other-node", CT_FROM_OUTSIDE, CT_TO_NODEPORT_A, "", true,
	  CT_NEED_OUTSIDE | CT_NEED_2NODES, LAB_CONNTEST_NS "/echo-other" },
	{ "pod-to-outside", CT_FROM_CLIENT, CT_TO_OUTSIDE, "80/tcp", true, CT_NEED_OUTSIDE, "outside " },
	{ "pod-to-dns", CT_FROM_CLIENT, CT_TO_DNS, "53/udp", true, CT_NEED_DNS, NULL },
	{ "policy/allowed", CT_FROM_CLIENT, CT_TO_GUARDED, "8080/tcp", true, 0,
	  LAB_CONNTEST_NS "/guarded" },
	{ "policy/denied", CT_FROM_STRANGER, CT_TO_GUARDED, "8080/tcp", false, 0, NULL },
};
const size_t lab_ct_ncases = ARRAY_SIZE(lab_ct_cases);

static const char ct_manifest[] =
	"apiVersion: v1\nkind: Namespace\nmetadata: {name: " LAB_CONNTEST_NS "}\n"
	"---\napiVersion: v1\nkind: Pod\n"
	"metadata: {name: client, namespace: " LAB_CONNTEST_NS ", labels: {app: client, access: \"yes\"}}\n"
	"spec: {nodeName: %1$s, terminationGracePeriodSeconds: 1,\n"
	"  containers: [{name: c, image: %5$s, command: [sleep, infinity]}]}\n"
	"---\napiVersion: v1\nkind: Pod\n"
	"metadata: {name: stranger, namespace: " LAB_CONNTEST_NS ", labels: {app: stranger}}\n"
	"spec: {nodeName: %1$s, terminationGracePeriodSeconds: 1,\n"
	"  containers: [{name: c, image: %5$s, command: [sleep, infinity]}]}\n"
	"---\napiVersion: v1\nkind: Pod\n"
	"metadata: {name: echo-same, namespace: " LAB_CONNTEST_NS ", labels: {app: echo-same}}\n"
	"spec:\n  nodeName: %1$s\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: echo\n    image: %5$s\n"
	"    command: [xcnictl, lab, serve, --name, " LAB_CONNTEST_NS "/echo-same, 8080/tcp, 8081/udp]\n    ports:\n"
	"    - {containerPort: 8080, protocol: TCP}\n    - {containerPort: 8081, protocol: UDP}\n"
	"---\napiVersion: v1\nkind: Pod\n"
	"metadata: {name: echo-other, namespace: " LAB_CONNTEST_NS ", labels: {app: echo-other}}\n"
	"spec:\n  nodeName: %2$s\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: echo\n    image: %5$s\n"
	"    command: [xcnictl, lab, serve, --name, " LAB_CONNTEST_NS "/echo-other, 8080/tcp, 8081/udp]\n    ports:\n"
	"    - {containerPort: 8080, protocol: TCP}\n    - {containerPort: 8081, protocol: UDP}\n"
	"---\napiVersion: v1\nkind: Pod\n"
	"metadata: {name: guarded, namespace: " LAB_CONNTEST_NS ", labels: {app: guarded}}\n"
	"spec:\n  nodeName: %2$s\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: echo\n    image: %5$s\n"
	"    command: [xcnictl, lab, serve, --name, " LAB_CONNTEST_NS "/guarded, 8080/tcp]\n    ports:\n"
	"    - {containerPort: 8080, protocol: TCP}\n"
	"---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
	"metadata: {name: guard, namespace: " LAB_CONNTEST_NS "}\n"
	"spec:\n  podSelector: {matchLabels: {app: guarded}}\n  policyTypes: [Ingress]\n"
	"  ingress:\n  - from: [{podSelector: {matchLabels: {access: \"yes\"}}}]\n"
	"    ports: [{port: 8080, protocol: TCP}]\n"
	"---\napiVersion: v1\nkind: Service\n"
	"metadata: {name: echo, namespace: " LAB_CONNTEST_NS "}\n"
	"spec:\n  selector: {app: echo-other}\n%3$s"
	"  ports: [{port: 80, targetPort: 8080, protocol: TCP}]\n"
	"---\napiVersion: v1\nkind: Service\n"
	"metadata: {name: echo-np, namespace: " LAB_CONNTEST_NS "}\n"
	"spec:\n  type: NodePort\n  selector: {app: echo-other}\n%3$s"
	"  ports: [{port: 80, targetPort: 8080, nodePort: %4$u, protocol: TCP}]\n";

/* ---- probes ------------------------------------------------------------------- */

struct ct_result {
	int res; /* 1 connected (and answered as expected), 0 not, -errno */
	bool refused; /* not connected: a RST or an ICMP unreachable came back */
	char answer[128];
};

/*
 * A DNS query for qname to server, from this netns: 1 an answer with
 * records (answer: "N A record(s): ADDR ...", the A or AAAA records'
 * addresses; a CNAME skipped), 0 none within the timeout or an answer
 * without (answer: its rcode), -errno. qtype: 1 (A) or 28 (AAAA); 0: by the
 * server's family. libresolv writes the question and reads the answer.
 */
static int dns_query(const char *server, const char *qname, unsigned int qtype, int timeout_ms,
		     char *answer, size_t alen)
{
	unsigned char q[512], r[512];
	struct lab_dest sa;
	int fd, qlen, ret = 0;
	long long deadline = xcni_mono_ms() + timeout_ms;

	if (lab_dest_parse(server, &sa))
		return -EINVAL;
	/* The port sits at the same offset in both families' sockaddr. */
	((struct sockaddr_in *)&sa.sa)->sin_port = htons(53);
	if (!qtype)
		qtype = sa.sa.ss_family == AF_INET6 ? ns_t_aaaa : ns_t_a;
	qlen = res_mkquery(ns_o_query, qname, ns_c_in, (int)qtype, NULL, 0, NULL, q, sizeof(q));
	if (qlen < 0)
		return -EINVAL;
	fd = socket(sa.sa.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa.sa, sa.len) || send(fd, q, (size_t)qlen, 0) < 0)
		goto out; /* unreachable: blocked */
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long long left = deadline - xcni_mono_ms();
		ns_msg m;
		ns_rr rr;
		ssize_t n;
		bool parsed;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		n = recv(fd, r, sizeof(r), 0);
		if (n < 0)
			break;
		if (n < 12 || memcmp(r, q, 2) || !(r[2] & 0x80))
			continue;
		if ((r[3] & 0x0f) || !(r[6] | r[7])) {
			snprintf(answer, alen, "answered rcode %d with %d records", r[3] & 0x0f,
				 r[6] << 8 | r[7]);
			break;
		}
		snprintf(answer, alen, "%d %s record(s):", r[6] << 8 | r[7], qtype == 28 ? "AAAA" : "A");
		parsed = !ns_initparse(r, (int)n, &m);
		for (int i = 0; parsed && !ns_parserr(&m, ns_s_an, i, &rr); i++) {
			char ip[INET6_ADDRSTRLEN];
			size_t l = strlen(answer);

			if (ns_rr_type(rr) == qtype && ns_rr_rdlen(rr) == (qtype == 28 ? 16u : 4u) &&
			    inet_ntop(qtype == 28 ? AF_INET6 : AF_INET, ns_rr_rdata(rr), ip, sizeof(ip)))
				snprintf(answer + l, alen - l, " %s", ip);
		}
		ret = 1;
		break;
	}
out:
	close(fd);
	return ret;
}

/*
 * Runs one probe in a child that joined src's node cgroup and entered its
 * netns (src NULL: the outside's): to, or (dns) a DNS query to that server.
 */
static int ct_probe(struct lab *lab, const struct lab_pod *src, const char *to, bool dns,
		    unsigned int fam, const struct lab_port *port, int timeout_ms,
		    struct ct_result *out)
{
	char path[PATH_MAX];
	struct pollfd p;
	int pfd[2], status;
	ssize_t got = 0;
	pid_t pid;

	memset(out, 0, sizeof(*out));
	if (pipe2(pfd, O_CLOEXEC))
		return -errno;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -errno;
	}
	if (!pid) {
		struct ct_result r = {};
		int fd;

		close(pfd[0]);
		lab_netns_path(src ? src->netns : LAB_OUT_NETNS, path, sizeof(path));
		if (src && lab_pod_cgroup_join(lab, src, 0))
			_exit(3);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWNET)) {
			fprintf(stderr, "connectivity test: %s: %s\n", path, strerror(errno));
			_exit(3);
		}
		close(fd);
		r.res = dns ? dns_query(to, "echo." LAB_CONNTEST_NS ".svc." LAB_DNS_DOMAIN, 0,
					timeout_ms, r.answer, sizeof(r.answer)) :
			      lab_probe_to(lab, to, fam, port, timeout_ms, r.answer,
					   sizeof(r.answer), &r.refused);
		if (write(pfd[1], &r, sizeof(r)) != (ssize_t)sizeof(r))
			_exit(3);
		_exit(0);
	}
	close(pfd[1]);
	p = (struct pollfd){ .fd = pfd[0], .events = POLLIN };
	/* The child is bounded by its timeout; a margin, then it is ended. */
	if (poll(&p, 1, timeout_ms + 5000) > 0)
		got = read(pfd[0], out, sizeof(*out));
	close(pfd[0]);
	if (got != (ssize_t)sizeof(*out))
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return got == (ssize_t)sizeof(*out) ? 0 : -EIO;
}

/* ---- the run ---------------------------------------------------------------------- */

size_t lab_conntest_count(const struct lab_ct_opts *o, unsigned int fams)
{
	size_t n = 0;

	for (size_t i = 0; i < lab_ct_ncases; i++)
		for (unsigned int fam = LAB_FAM_V4; fam <= LAB_FAM_V6; fam <<= 1) {
			char full[96];

			snprintf(full, sizeof(full), "%s/%s", lab_ct_cases[i].name,
				 fam == LAB_FAM_V6 ? "ipv6" : "ipv4");
			n += (fams & fam) && lab_conntest_selected(o, full);
		}
	return n;
}

bool lab_conntest_selected(const struct lab_ct_opts *o, const char *full)
{
	if (!o->nglobs)
		return true;
	for (size_t i = 0; i < o->nglobs; i++)
		if (!fnmatch(o->globs[i], full, 0))
			return true;
	return false;
}

const char *lab_ct_from_word(enum lab_ct_from f)
{
	return f == CT_FROM_CLIENT ? "client" : f == CT_FROM_STRANGER ? "stranger" : "outside";
}

/* Runs stdout into /dev/null (what apply and delete say) unless verbose; restores it. */
static int quiet_begin(bool verbose)
{
	int saved, null;

	if (verbose)
		return -1;
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (saved < 0 || null < 0 || dup2(null, STDOUT_FILENO) < 0) {
		xcni_close(&null);
		xcni_close(&saved);
		return -1;
	}
	close(null);
	return saved;
}

static void quiet_end(int saved)
{
	if (saved < 0)
		return;
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
}

/* Lab delete of the probe Namespace (identity alone), then a check that nothing of it is left. */
static int ct_cleanup(bool verbose)
{
	static const char doc[] = "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\","
				  "\"metadata\":{\"name\":\"" LAB_CONNTEST_NS "\"}}\n";
	int saved = quiet_begin(verbose), ret = lab_apply_doc("the probe namespace", doc, false);
	char path[PATH_MAX];
	struct lab lab;
	size_t left = 0;

	quiet_end(saved);
	if (lab_open(&lab, false))
		return -ENOENT;
	for (size_t i = 0; i < lab.npods; i++)
		if (!strcmp(lab.pods[i].ns, LAB_CONNTEST_NS)) {
			fprintf(stderr, "connectivity test: pod %s/%s left behind\n", lab.pods[i].ns,
				lab.pods[i].name);
			left++;
		}
	if (!lab_svc_lookup(&lab, LAB_CONNTEST_NS, "echo", &(struct lab_svc_ips){}) ||
	    !lab_svc_lookup(&lab, LAB_CONNTEST_NS, "echo-np", &(struct lab_svc_ips){})) {
		fprintf(stderr, "connectivity test: a Service of %s left behind\n", LAB_CONNTEST_NS);
		left++;
	}
	lab_path(&lab, path, sizeof(path), "manifests/namespace." LAB_CONNTEST_NS ".json");
	if (!access(path, F_OK)) {
		fprintf(stderr, "connectivity test: namespace %s left behind\n", LAB_CONNTEST_NS);
		left++;
	}
	lab_close(&lab);
	return ret || left ? -EIO : 0;
}

/*
 * The probe namespace's manifest. lab NULL: for a cluster (--manifest without
 * a lab): the API server's default NodePort range, Services of every family
 * the cluster has (PreferDualStack).
 */
static char *ct_manifest_text(const struct lab *lab, const char *a, const char *b,
			      const char *image)
{
	const char *fams = !lab ? "  ipFamilyPolicy: PreferDualStack\n" :
			   lab->family == LAB_FAM_DUAL ? "  ipFamilyPolicy: RequireDualStack\n" : "";
	unsigned int np = (lab ? lab->np_min : 30000) + CT_NODEPORT_OFF;
	char *doc = NULL;

	if (lab && np > lab->np_max)
		np = lab->np_min;
	if (asprintf(&doc, ct_manifest, a, b, fams, np, image) < 0)
		return NULL;
	return doc;
}

/* Whether no lab is up in $XCNI_LAB_DIR (or the default): its lab.json is missing. */
bool lab_conntest_no_lab(void)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/lab.json", lab_dir());
	return access(path, F_OK) != 0;
}

/* connectivity test's options (completion lists them too) */
const struct pt_opt lab_conntest_opts[] = {
	{ "test", 't', true, 't', 0, "GLOB", "only the tests matching (repeatable)" },
	{ "node", 'n', true, 'n', 0, "NODE", "where the pods go: A, then B" },
	{ "timeout-ms", 0, true, 'T', 0, "MS", "each probe's (default 1000)" },
	{ "keep", 0, false, 'k', 0, NULL, "leave the namespace" },
	{ "list", 0, false, 'l', 0, NULL, "the tests' names" },
	{ "manifest", 0, false, 'm', 0, NULL, "print the namespace's manifest" },
	{ "image", 0, true, 'i', 0, "IMAGE", "the probe pods' (a cluster's)" },
	{ "kubeconfig", 0, true, 'K', 0, "FILE", "a cluster, not the lab" },
	{ "in-cluster", 0, false, 'C', 0, NULL, "the cluster this pod runs in" },
	{ "ready-timeout", 0, true, 'R', 0, "S", "the pods' wait to be Ready (default 120)" },
	{ "tls", 0, true, 'L', 0, "DIR", "the flows client certificate" },
	{ "output", 'o', true, 'o', 0, "text|json", "the result's format" },
	{ "json", 0, false, 'J', 0, NULL, "-o json" },
	{ "junit", 0, true, 'U', 0, "FILE", "the result as JUnit XML too" },
	{ "verbose", 'v', false, 'v', 0, NULL, "what lab apply and delete say" },
	{ "help", 'h', false, 'h', 0, NULL, "this text" },
	{}
};

/* The options, then the tests: the exit code. */
static int usage(FILE *f)
{
	int ret = pt_usage(f, "connectivity test [OPTIONS]", lab_conntest_opts);

	fprintf(f, "The tests (NAME/ipv4, NAME/ipv6):\n");
	for (size_t i = 0; i < lab_ct_ncases; i++)
		fprintf(f, "  %-34s %s -> %s\n", lab_ct_cases[i].name,
			lab_ct_from_word(lab_ct_cases[i].from),
			lab_ct_cases[i].allow ? "connected" : "denied (by policy)");
	return ret;
}

int lab_conntest_parse(int argc, char **argv, struct lab_ct_opts *o)
{
	long v;
	int c;

	*o = (struct lab_ct_opts){ .timeout_ms = CT_DEFAULT_MS, .image = CT_DEFAULT_IMAGE,
				   .ready_timeout_s = 120 };
	optind = 0;
	while ((c = pt_getopt(argc, argv, lab_conntest_opts, false, NULL)) != -1) {
		switch (c) {
		case 't':
			if (o->nglobs == LAB_CT_MAX_GLOBS)
				return said(2, "connectivity test: --test: at most %d\n",
					    LAB_CT_MAX_GLOBS);
			o->globs[o->nglobs++] = optarg;
			break;
		case 'n':
			if (o->nnodes == 2)
				return said(2, "connectivity test: --node: at most two (A, B)\n");
			o->nodes[o->nnodes++] = optarg;
			break;
		case 'T':
			if (lab_num(optarg, 50, 60000, &v))
				return said(2, "connectivity test: --timeout-ms %s: want 50 to "
					    "60000\n", optarg);
			o->timeout_ms = (int)v;
			break;
		case 'k': o->keep = true; break;
		case 'l': o->list = true; break;
		case 'm': o->manifest = true; break;
		case 'i': o->image = optarg; o->image_set = true; break;
		case 'K': o->kubeconfig = optarg; break;
		case 'C': o->in_cluster = true; break;
		case 'L': o->tls_dir = optarg; break;
		case 'R':
			if (lab_num(optarg, 1, 3600, &v))
				return said(2, "connectivity test: --ready-timeout %s: seconds, 1 "
					    "to 3600\n", optarg);
			o->ready_timeout_s = (int)v;
			break;
		case 'o':
			if (strcmp(optarg, "json") && strcmp(optarg, "text"))
				return said(2, "connectivity test: -o %s: want text or json\n",
					    optarg);
			o->json = !strcmp(optarg, "json");
			break;
		case 'J': o->json = true; break;
		case 'U': o->junit = optarg; break;
		case 'v': o->verbose = true; break;
		case 'h': return usage(stdout);
		default: return usage(stderr);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "connectivity test: %s: unexpected argument\n", argv[optind]);
		return usage(stderr);
	}
	if (o->kubeconfig && o->in_cluster)
		return said(2, "connectivity test: --kubeconfig and --in-cluster: one or the "
			    "other\n");
	if ((o->json || o->junit) && (o->list || o->manifest))
		return said(2, "connectivity test: %s: a run's result; --%s runs no test\n",
			    o->json ? "-o json" : "--junit", o->list ? "list" : "manifest");
	if (!o->tls_dir && getenv("XCNI_FLOWS_TLS") && *getenv("XCNI_FLOWS_TLS"))
		o->tls_dir = getenv("XCNI_FLOWS_TLS");
	return -1;
}

int lab_conntest_globs_check(const struct lab_ct_opts *o)
{
	for (size_t g = 0; g < o->nglobs; g++) {
		struct lab_ct_opts one = { .globs = { o->globs[g] }, .nglobs = 1 };

		if (!lab_conntest_count(&one, LAB_FAM_DUAL))
			return said(2, "connectivity test: --test %s: no test matches (--list "
				    "names them)\n", o->globs[g]);
	}
	return 0;
}

char *lab_conntest_manifest(const char *a, const char *b, const char *image)
{
	return ct_manifest_text(NULL, a, b, image);
}

/* The test's destination as lab_probe_to names it, and its port. */
static void ct_dest(const struct lab *lab, const struct lab_ct_case *t, unsigned int fam,
		    const char *a, const char *b, char *to, size_t len, struct lab_port *port)
{
	unsigned int np = lab->np_min + CT_NODEPORT_OFF;
	struct lab_svc_ips ips;

	if (np > lab->np_max)
		np = lab->np_min;
	if (*t->port)
		lab_port_spec(t->port, port);
	else
		*port = (struct lab_port){ .port = (uint16_t)np, .proto = IPPROTO_TCP };
	switch (t->to) {
	case CT_TO_ECHO_SAME: snprintf(to, len, LAB_CONNTEST_NS "/echo-same"); break;
	case CT_TO_ECHO_OTHER: snprintf(to, len, LAB_CONNTEST_NS "/echo-other"); break;
	case CT_TO_GUARDED: snprintf(to, len, LAB_CONNTEST_NS "/guarded"); break;
	case CT_TO_SVC: snprintf(to, len, "svc/" LAB_CONNTEST_NS "/echo"); break;
	case CT_TO_NODEPORT_A: snprintf(to, len, "%s", a); break;
	case CT_TO_NODEPORT_B: snprintf(to, len, "%s", b); break;
	case CT_TO_OUTSIDE: snprintf(to, len, "%s", fam == LAB_FAM_V6 ? LAB_OUT_IP6 : LAB_OUT_IP); break;
	case CT_TO_DNS:
		snprintf(to, len, "%s", fam == LAB_FAM_V6 ? LAB_DNS_IP6 : LAB_DNS_IP);
		if (!lab_svc_lookup((struct lab *)lab, "kube-system", "kube-dns", &ips))
			lab_svc_ip_str(&ips, fam, to, len);
		break;
	}
}

/* Why the test cannot run in this lab, or NULL. */
static const char *ct_skip(const struct lab *lab, const struct lab_ct_case *t, bool two)
{
	if ((t->needs & CT_NEED_2NODES) && !two)
		return "one node";
	if ((t->needs & CT_NEED_OUTSIDE) && !lab->outside)
		return "no outside";
	if ((t->needs & CT_NEED_DNS) && !lab_has_dns(lab))
		return "no DNS (lab up --dns)";
	return NULL;
}

/* The run's two nodes (a, b: the same one on a one-node lab) and what it ran. */
struct ct_run {
	char a[16], b[16];
	bool two;
	size_t passed, failed, skipped;
	char drops[1024];
};

/*
 * The nodes the run uses (the lab's first two unless --node), and the tests
 * it selects checked: every glob names a test (a misspelt one would pass by
 * running nothing) and together they select one of this lab's families.
 * 0, or 2 (said).
 */
static int ct_prepare(const struct lab_ct_opts *o, struct lab *lab, struct ct_run *cr)
{
	if (!lab->nnodes)
		return said(2, "connectivity test: the lab has no nodes\n");
	for (size_t i = 0; i < o->nnodes; i++)
		if (!lab_node_find(lab, o->nodes[i]))
			return said(2, "connectivity test: --node %s: the lab has no node %s "
				    "(n1..n%zu)\n", o->nodes[i], o->nodes[i], lab->nnodes);
	/* Copies: the lab is closed and opened again around the apply. */
	snprintf(cr->a, sizeof(cr->a), "%s", o->nnodes ? o->nodes[0] : lab->nodes[0].name);
	snprintf(cr->b, sizeof(cr->b), "%s", o->nnodes > 1 ? o->nodes[1] : lab->nnodes < 2 ? cr->a :
		 strcmp(cr->a, lab->nodes[0].name) ? lab->nodes[0].name : lab->nodes[1].name);
	cr->two = strcmp(cr->a, cr->b) != 0;
	if (lab_conntest_globs_check(o))
		return 2;
	if (!lab_conntest_count(o, lab->family))
		return said(2, "connectivity test: --test: no test of this lab's families (%s) "
			       "matches\n", lab_family_word(lab->family));
	return 0;
}

/*
 * The probe namespace's manifest written into the lab and applied. 0; 3: not
 * written (nothing deployed); 2: the apply failed (said).
 */
static int ct_deploy(const struct lab_ct_opts *o, const char *doc, const struct ct_run *cr)
{
	int saved, ret;

	printf("connectivity test: namespace %s on %s%s%s\n", LAB_CONNTEST_NS, cr->a,
	       cr->two ? " and " : "", cr->two ? cr->b : " (one node)");
	saved = quiet_begin(o->verbose);
	ret = lab_apply_doc("the probe namespace", doc, true);
	quiet_end(saved);
	if (ret)
		return said(2, "connectivity test: deploying %s failed\n", LAB_CONNTEST_NS);
	return 0;
}

void lab_ct_say_failed(const struct lab_ct_case *t, const char *full, const char *what, int res,
		       const char *answer, int fate, const char *want, const char *denied)
{
	char got[600], detail[900];

	if (res == 2 && *want)
		snprintf(got, sizeof(got), "answered \"%s\" (want %s)", answer, want);
	else if (res == 2)
		snprintf(got, sizeof(got), "connected, but answered \"%s\" (want \"%s...\")", answer,
			 t->answer);
	else if (res == 1)
		snprintf(got, sizeof(got), "connected%s%s", answer[0] ? ": " : "", answer);
	else if (res < 0)
		snprintf(got, sizeof(got), "the probe failed: %s", answer);
	else
		snprintf(got, sizeof(got), "%s%s", answer[0] ? answer : lab_fate_word(fate),
			 answer[0] || fate != LAB_FATE_TIMEOUT ? "" : " (no answer within the timeout)");
	snprintf(detail, sizeof(detail), "expected: %s; got: %s", !t->allow ? denied :
		 t->answer ? "connected, answered by the right listener, no drop" :
		 *want ? "answered with the kubernetes Service's ClusterIP, no drop" : "connected, no drop",
		 got);
	printf("  FAIL  %-40s %s\n        %.*s\n        got:      %s\n", full, what,
	       (int)(strstr(detail, "; got: ") - detail), detail, got);
	lab_ct_result(full, what, "fail", detail);
}

static json_t *ct_results;
static long long ct_last_ms;

void lab_ct_result(const char *full, const char *what, const char *status, const char *detail)
{
	long long now = xcni_mono_ms();

	if (!ct_results)
		ct_results = json_array();
	json_array_append_new(ct_results, json_pack("{s:s, s:s, s:s, s:s, s:f}", "name", full,
						   "path", what, "status", status, "detail", detail,
						   "seconds", ct_last_ms ? (double)(now - ct_last_ms) / 1000 : 0.0));
	ct_last_ms = now;
}

json_t *lab_ct_results(void)
{
	if (!ct_results)
		ct_results = json_array();
	if (!ct_last_ms)
		ct_last_ms = xcni_mono_ms();
	return ct_results;
}

/* One test of one family: skipped, probed and judged by the answer and the drops counted. */
static void ct_one(const struct lab_ct_opts *o, struct lab *lab, struct lab_drops *d,
		   __u64 *before, const struct lab_ct_case *t, unsigned int fam, struct ct_run *cr)
{
	const char *fw = fam == LAB_FAM_V6 ? "ipv6" : "ipv4", *skip;
	const struct lab_pod *src = NULL;
	struct ct_result r;
	struct lab_port port;
	char full[96], what[256], to[128];
	struct lab_drops_seen seen;
	bool ok, svc;
	size_t nd;
	int err, fate;

	snprintf(full, sizeof(full), "%s/%s", t->name, fw);
	if (!(lab->family & fam) || !lab_conntest_selected(o, full) || xcni_stop)
		return;
	skip = ct_skip(lab, t, cr->two);
	if (skip) {
		printf("  SKIP  %-40s (%s)\n", full, skip);
		lab_ct_result(full, "", "skip", skip);
		cr->skipped++;
		return;
	}
	if (t->from != CT_FROM_OUTSIDE)
		src = lab_pod_find(lab, LAB_CONNTEST_NS, lab_ct_from_word(t->from));
	ct_dest(lab, t, fam, cr->a, cr->b, to, sizeof(to), &port);
	snprintf(what, sizeof(what), "%s -> %s %u/%s", lab_ct_from_word(t->from), to, port.port,
		 port.proto == IPPROTO_UDP ? "udp" : "tcp");
	if ((t->from != CT_FROM_OUTSIDE && !src) || lab_drops_read(d, before)) {
		printf("  FAIL  %-40s %s\n        the probe pod is missing\n", full, what);
		lab_ct_result(full, what, "fail", "the probe pod is missing");
		cr->failed++;
		return;
	}
	err = ct_probe(lab, src, to, t->to == CT_TO_DNS, fam, &port, o->timeout_ms, &r);
	/* Late drops of a blocked probe (retransmissions) land within its timeout. */
	if (lab_drops_read(d, d->pk))
		err = -EIO;
	if (err || r.res < 0) {
		printf("  FAIL  %-40s %s\n        the probe failed: %s\n", full, what,
		       strerror(-(err ? err : r.res)));
		lab_ct_result(full, what, "fail", strerror(-(err ? err : r.res)));
		cr->failed++;
		return;
	}
	nd = lab_drops_seen(lab, d, before, -1, &seen, cr->drops, sizeof(cr->drops));
	/* A listener that answered is the right one, or the path is wrong. */
	if (r.res > 0 && t->answer && strncmp(r.answer, t->answer, strlen(t->answer)))
		r.res = 2;
	ok = t->allow ? r.res == 1 && !nd : r.res == 0 && seen.policy;
	/* The probe's fate in lab probe's words: the tests run one at a time. */
	svc = t->to == CT_TO_SVC || t->to == CT_TO_NODEPORT_A || t->to == CT_TO_NODEPORT_B;
	fate = lab_fate_of(r.res > 0, r.refused, &seen, svc);
	if (!ok) {
		cr->failed++;
		lab_ct_say_failed(t, full, what, r.res, r.answer, fate, "",
				  "denied (a drop-policy-* drop counted)");
		printf("        drops:    %s\n", nd ? cr->drops :
		       "none counted by xcni (lost outside its programs: routing, the "
		       "listener, the outside)");
		return;
	}
	printf("  PASS  %-40s %s: %s%s%s\n", full, what, lab_fate_word(fate),
	       r.res > 0 && r.answer[0] ? " " : "", r.res > 0 ? r.answer : "");
	if (!t->allow)
		printf("        by %s\n", cr->drops);
	lab_ct_result(full, what, "pass", lab_fate_word(fate));
	cr->passed++;
}

/* --list, or --manifest without a lab: answered without running. -1: go on. */
static int ct_without_lab(const struct lab_ct_opts *o)
{
	char *doc;

	if (o->list) {
		for (size_t i = 0; i < lab_ct_ncases; i++)
			for (int f = 0; f < 2; f++)
				printf("%s/%s\n", lab_ct_cases[i].name, f ? "ipv6" : "ipv4");
		return 0;
	}
	/* --manifest for a cluster: no lab needed, the nodes named. */
	if (o->manifest && o->nnodes == 2 && lab_conntest_no_lab()) {
		doc = ct_manifest_text(NULL, o->nodes[0], o->nodes[1], o->image);
		if (!doc)
			return 2;
		fputs(doc, stdout);
		free(doc);
		return 0;
	}
	if (o->manifest && lab_conntest_no_lab())
		return said(2, "connectivity test --manifest: no lab is up; for a cluster, name "
			    "its two nodes: --node A --node B\n");
	return -1;
}

int lab_conntest_run(const struct lab_ct_opts *op)
{
	char *doc = NULL;
	struct ct_run cr = {};
	struct lab_drops d = {};
	struct lab_ct_opts o = *op;
	struct lab lab;
	__u64 *before = NULL;
	long long t0 = xcni_mono_ms();
	struct sigaction old[2];
	int ret;
	bool removed = false, handlers = false;

	if ((ret = ct_without_lab(&o)) >= 0)
		return ret;
	if (lab_open(&lab, false))
		return 2;
	if (ct_prepare(&o, &lab, &cr) || !(doc = ct_manifest_text(&lab, cr.a, cr.b, o.image))) {
		lab_close(&lab);
		return 2;
	}
	if (o.manifest) {
		fputs(doc, stdout);
		free(doc);
		lab_close(&lab);
		return 0;
	}
	lab_close(&lab);
	ret = ct_deploy(&o, doc, &cr);
	free(doc);
	if (ret)
		goto cleanup;
	if (lab_open(&lab, false)) {
		ret = 2;
		goto cleanup;
	}
	if (lab_drops_open(&lab, &d, "connectivity test") || !(before = calloc(d.nnodes * XCNI_NR_METRICS, sizeof(*before)))) {
		ret = 2;
		goto close;
	}
	xcni_stop_signals(old, true);
	handlers = true;
	lab_drops_settle(&d, before);
	for (size_t i = 0; i < lab_ct_ncases && !xcni_stop; i++)
		for (unsigned int fam = LAB_FAM_V4; fam <= LAB_FAM_V6; fam <<= 1)
			ct_one(&o, &lab, &d, before, &lab_ct_cases[i], fam, &cr);
	ret = cr.failed ? 1 : 0;
	if (xcni_stop) {
		ret = said(2, "connectivity test: interrupted: the tests stop here, the namespace "
				"goes\n");
	}
close:
	lab_drops_close(&d);
	free(before);
	lab_close(&lab);
cleanup:
	if (handlers)
		xcni_stop_signals(old, false);
	if (!o.keep) {
		if (ct_cleanup(o.verbose)) {
			ret = said(2, "connectivity test: removing namespace %s failed\n",
				LAB_CONNTEST_NS);
		} else {
			removed = true;
		}
	}
	printf("%zu passed, %zu failed, %zu skipped (%.1f s); namespace %s %s\n", cr.passed,
	       cr.failed, cr.skipped, (double)(xcni_mono_ms() - t0) / 1000, LAB_CONNTEST_NS,
	       o.keep ? "kept (--keep)" : removed ? "removed" : "NOT removed");
	return ret;
}

/* ---- the probe inside a cluster's pod --------------------------------------------- */

/* connectivity probe's options (completion lists them too) */
const struct pt_opt lab_conntest_probe_opts[] = {
	{ "to", 0, true, 't', 0, "ADDR", "the address probed" },
	{ "port", 0, true, 'p', 0, "PORT/tcp|udp", "a connection to it" },
	{ "dns", 0, true, 'd', 0, "NAME", "or a DNS question for NAME to ADDR:53" },
	{ "qtype", 0, true, 'q', 0, "A|AAAA", "the question's (default: ADDR's family)" },
	{ "timeout-ms", 0, true, 'T', 0, "MS", "how long to wait (default 1000)" },
	{ "help", 'h', false, 'h', 0, NULL, "this text" },
	{}
};
#define PROBE_SYN "connectivity probe --to ADDR --port PORT/PROTO | --dns NAME [OPTIONS]"

int lab_cmd_conntest_probe(int argc, char **argv)
{
	const char *to = NULL, *dns = NULL;
	unsigned int qtype = 0;
	struct lab_port port = {};
	bool have_port = false, refused = false;
	char answer[256] = "";
	long long t0;
	int c, res, timeout_ms = CT_DEFAULT_MS;
	json_t *out;
	long v;

	optind = 0;
	while ((c = pt_getopt(argc, argv, lab_conntest_probe_opts, false, NULL)) != -1) {
		switch (c) {
		case 't': to = optarg; break;
		case 'd': dns = optarg; break;
		case 'q':
			if (strcasecmp(optarg, "a") && strcasecmp(optarg, "aaaa"))
				return said(2, "connectivity probe: --qtype %s: want A or AAAA\n",
					    optarg);
			qtype = strcasecmp(optarg, "a") ? 28 : 1;
			break;
		case 'p':
			if (lab_port_spec(optarg, &port) || port.proto == IPPROTO_SCTP)
				return said(2, "connectivity probe: --port %s: want PORT/tcp or "
					    "PORT/udp\n", optarg);
			have_port = true;
			break;
		case 'T':
			if (lab_num(optarg, 50, 60000, &v))
				return said(2, "connectivity probe: --timeout-ms %s: want 50 to "
					    "60000\n", optarg);
			timeout_ms = (int)v;
			break;
		default: return pt_usage(c == 'h' ? stdout : stderr, PROBE_SYN, lab_conntest_probe_opts);
		}
	}
	if (!to || optind < argc || (!have_port == !dns)) {
		fprintf(stderr, "connectivity probe: want --to ADDR and one of --port or --dns\n");
		return pt_usage(stderr, PROBE_SYN, lab_conntest_probe_opts);
	}
	t0 = xcni_mono_ms();
	if (dns)
		res = dns_query(to, dns, qtype, timeout_ms, answer, sizeof(answer));
	else
		res = lab_probe_addr(to, &port, timeout_ms, answer, sizeof(answer), &refused);
	if (res == -EINVAL)
		return said(2, "connectivity probe: --to %s: not an IPv4 or IPv6 address%s\n", to,
			    dns ? " (or --dns: not a DNS name)" : "");
	/* What the pod can tell alone: a policy's drop is a timeout to it (the
	 * run tells denied by the drops); a RST or an ICMP unreachable, refused. */
	out = json_pack("{s:s, s:s, s:I}", "result",
			res > 0 ? "connected" : res < 0 ? "error" : refused ? "refused" : "timeout",
			"answer",
			res < 0 ? strerror(-res) : answer, "ms", (json_int_t)(xcni_mono_ms() - t0));
	if (!out)
		return 1;
	json_dumpf(out, stdout, JSON_COMPACT);
	putchar('\n');
	json_decref(out);
	return 0;
}
