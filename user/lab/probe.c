// SPDX-License-Identifier: Apache-2.0
/*
 * Traffic in the lab: the probes that ask "can pod A reach pod B on this
 * port", one at a time (probe) or every ordered pair (matrix), the
 * truth table of upstream's NetworkPolicy e2e tests. A probe's socket is made
 * by a thread that entered the source pod's netns, so many probes from many
 * pods run at once in one process.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/mount.h>
#include <time.h>
#include <unistd.h>

#include "lab/probe.h"

#define MATRIX_THREADS 64
#define PROBE_DEFAULT_MS 1000

static int timeout_parse(const char *s, int *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > 600000) {
		fprintf(stderr, "lab: --timeout-ms %s: milliseconds, 1 to 600000\n", s);
		return -EINVAL;
	}
	*out = (int)v;
	return 0;
}

/* ---- probes ------------------------------------------------------------------ */

static int wait_fd(int fd, short events, long long deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	long long left;
	int r;

	for (;;) {
		left = deadline - lab_now_ms();
		if (left <= 0)
			return 0;
		r = poll(&p, 1, (int)left);
		if (r >= 0 || errno != EINTR)
			return r < 0 ? -errno : r;
	}
}

/*
 * From the calling thread's netns: 1 connected (the listener answered), 0
 * blocked (refused, reset, unreachable or silent until the deadline), -errno.
 * answer: what the listener said (first line); *sport (if given): the
 * probe's source port, 0 when none was bound.
 */
static int probe_once(uint32_t dst, const struct lab_port *p, int timeout_ms, char *answer,
		      size_t alen, uint16_t *sport)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(p->port),
				  .sin_addr.s_addr = dst };
	long long deadline = lab_now_ms() + timeout_ms;
	bool tcp = p->proto == IPPROTO_TCP;
	socklen_t elen = sizeof(int);
	int fd, r, soerr = 0, ret = 0;
	char buf[512];

	fd = socket(AF_INET, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) && errno != EINPROGRESS) {
		ret = errno == ECONNREFUSED || errno == ENETUNREACH || errno == EHOSTUNREACH ? 0 : -errno;
		goto out;
	}
	if (sport) {
		struct sockaddr_in la;
		socklen_t llen = sizeof(la);

		*sport = getsockname(fd, (struct sockaddr *)&la, &llen) ? 0 : ntohs(la.sin_port);
	}
	if (tcp) {
		r = wait_fd(fd, POLLOUT, deadline);
		if (r <= 0) {
			ret = r;
			goto out;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) || soerr)
			goto out;
	}
	if (send(fd, "probe\n", 6, MSG_NOSIGNAL) < 0)
		goto out;
	/* UDP: an ICMP port unreachable shows up as ECONNREFUSED here. */
	while ((r = wait_fd(fd, POLLIN, deadline)) > 0) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n > 0) {
			if (answer && alen) {
				size_t l = (size_t)n < alen ? (size_t)n : alen - 1;

				memcpy(answer, buf, l);
				answer[l] = '\0';
				answer[strcspn(answer, "\n")] = '\0';
			}
			ret = 1;
			break;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			break;
	}
	if (r < 0)
		ret = r;
out:
	close(fd);
	return ret;
}

struct matrix {
	size_t npods;
	const struct lab_pod **pods;
	int *nsfd;
	uint32_t *ip;
	struct lab_port port;
	int timeout_ms;
	atomic_size_t next; /* the jobs to run: next .. end-1, job = src * npods + dst */
	size_t end;
	int *res; /* [src * npods + dst]: 1 connected, 0 blocked, -errno */
	char (*answer)[64]; /* [src * npods + dst]: what the listener answered */
	uint16_t *sport; /* [src * npods + dst]: the probe's source port */
};

static void *matrix_worker(void *arg)
{
	struct matrix *m = arg;
	size_t job;
	int cur = -1;

	while ((job = atomic_fetch_add(&m->next, 1)) < m->end) {
		size_t src = job / m->npods, dst = job % m->npods;

		/* setns moves only this thread: each worker hops into the pod it probes from. */
		if (cur != m->nsfd[src]) {
			if (setns(m->nsfd[src], CLONE_NEWNET)) {
				m->res[job] = -errno;
				cur = -1;
				continue;
			}
			cur = m->nsfd[src];
		}
		m->res[job] = probe_once(m->ip[dst], &m->port, m->timeout_ms, m->answer[job],
					 sizeof(m->answer[job]), &m->sport[job]);
	}
	return NULL;
}

static int pod_cmp(const void *a, const void *b)
{
	const struct lab_pod *x = *(const struct lab_pod *const *)a;
	const struct lab_pod *y = *(const struct lab_pod *const *)b;
	int c = strcmp(x->ns, y->ns);

	return c ? c : strcmp(x->name, y->name);
}

/* Runs the probes of m over up to nthreads threads; 0 or -errno (results in m->res). */
static int matrix_run(struct matrix *m, size_t nthreads)
{
	pthread_t *t = calloc(nthreads, sizeof(*t));
	size_t started = 0;
	int err = 0;

	if (!t)
		return -ENOMEM;
	for (; started < nthreads; started++) {
		err = -pthread_create(&t[started], NULL, matrix_worker, m);
		if (err)
			break;
	}
	/* Fewer threads than asked still finish the work; none at all cannot. */
	if (started)
		err = 0;
	for (size_t i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	free(t);
	return err;
}

/* Sets m up for these pods (pods: pointers into the lab, kept). */
static int matrix_init(struct matrix *m, const struct lab_pod **pods, size_t n)
{
	char path[PATH_MAX];
	struct in_addr a;

	m->npods = n;
	m->pods = pods;
	m->nsfd = calloc(n, sizeof(*m->nsfd));
	m->ip = calloc(n, sizeof(*m->ip));
	m->res = calloc(n * n + 1, sizeof(*m->res));
	m->answer = calloc(n * n + 1, sizeof(*m->answer));
	m->sport = calloc(n * n + 1, sizeof(*m->sport));
	if (!m->nsfd || !m->ip || !m->res || !m->answer || !m->sport)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		m->nsfd[i] = -1;
	for (size_t i = 0; i < n; i++) {
		lab_netns_path(pods[i]->netns, path, sizeof(path));
		m->nsfd[i] = open(path, O_RDONLY | O_CLOEXEC);
		if (m->nsfd[i] < 0) {
			fprintf(stderr, "lab: pod %s/%s: %s: %s\n", pods[i]->ns, pods[i]->name, path,
				strerror(errno));
			return -errno;
		}
		if (inet_pton(AF_INET, pods[i]->ip, &a) != 1) {
			fprintf(stderr, "lab: pod %s/%s has no IP\n", pods[i]->ns, pods[i]->name);
			return -EINVAL;
		}
		m->ip[i] = a.s_addr;
	}
	return 0;
}

static void matrix_fini(struct matrix *m)
{
	for (size_t i = 0; m->nsfd && i < m->npods; i++)
		if (m->nsfd[i] >= 0)
			close(m->nsfd[i]);
	free(m->nsfd);
	free(m->ip);
	free(m->res);
	free(m->answer);
	free(m->sport);
}

static void usage_probe(FILE *f)
{
	fprintf(f, "Usage: xcnictl lab probe NS/POD|outside NS/POD|NODE|IP|svc/NS/SERVICE PORT/PROTO\n"
		   "                       [--json] [--timeout-ms N]\n"
		   "From the pod's netns (outside: from the lab's outside, " LAB_OUT_NETNS "), connects to\n"
		   "the second pod's IP, to node NODE's address (n1: " LAB_UL_PREFIX "1; with a\n"
		   "NodePort Service's nodePort, e.g. lab probe outside n2 30080/tcp), to IP (e.g.\n"
		   "the lab's outside, " LAB_OUT_IP ": 80/tcp, 53/udp) or to the Service's ClusterIP\n"
		   "(kube-proxy's rules on the node pick a pod) (TCP: connect, send, read the answer;\n"
		   "UDP: send, wait for the answer). Prints connected (exit 0) or blocked (exit 1);\n"
		   "exit 2 for an unknown pod, node or Service or a bad PORT/PROTO. --json: {\"from\", \"to\",\n"
		   "\"port\", \"connected\", \"answer\"}, the answer's first line (a pod's is\n"
		   "\"NS/POD\", the outside's \"outside ADDR\", the source address it saw). Default\n"
		   "timeout %d ms. SCTP cannot be probed: this kernel has no SCTP sockets.\n",
		PROBE_DEFAULT_MS);
}

/* PORT/PROTO for a probe: 0, or says why not (exit 2). */
static int probe_spec(const char *s, struct lab_port *p)
{
	if (lab_port_spec(s, p)) {
		fprintf(stderr, "lab: %s: not PORT/PROTO (e.g. 80/tcp, 53/udp)\n", s);
		return -EINVAL;
	}
	if (p->proto == IPPROTO_SCTP) {
		fprintf(stderr, "lab: %s: cannot probe SCTP: this kernel has no SCTP sockets\n", s);
		return -EPROTONOSUPPORT;
	}
	return 0;
}

/*
 * A probe's destination: an address (the outside, a node), a node's name (its
 * underlay address), svc/NS/NAME's ClusterIP, or NS/POD's IP.
 */
static int probe_dest(struct lab *lab, const char *to, struct in_addr *ip)
{
	const struct lab_node *node = strchr(to, '/') ? NULL : lab_node_find(lab, to);
	const struct lab_pod *dst;

	if (node)
		return inet_pton(AF_INET, node->ip, ip) == 1 ? 0 : -1;

	if (!strncmp(to, "svc/", 4)) {
		const char *slash = strchr(to + 4, '/');
		char ns[256];
		int r;

		if (!slash || slash == to + 4 || !slash[1] || (size_t)(slash - to - 4) >= sizeof(ns)) {
			fprintf(stderr, "lab probe: %s: not svc/NAMESPACE/SERVICE\n", to);
			return -1;
		}
		snprintf(ns, sizeof(ns), "%.*s", (int)(slash - to - 4), to + 4);
		r = lab_svc_lookup(lab, ns, slash + 1, &ip->s_addr);
		if (r) {
			fprintf(stderr, "lab probe: Service %s/%s: %s\n", ns, slash + 1,
				r == -ENOENT ? "not found (lab get shows the Services)" :
				r == -ENXIO ? "headless: no ClusterIP to probe (DNS names its pods)" :
				strerror(-r));
			return -1;
		}
	} else if (inet_pton(AF_INET, to, ip) != 1) {
		dst = lab_pod_lookup(lab, to);
		if (!dst)
			return -1;
		if (inet_pton(AF_INET, dst->ip, ip) != 1) {
			fprintf(stderr, "lab: pod %s has no IP\n", to);
			return -1;
		}
	}
	return 0;
}

int lab_cmd_probe(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int c, timeout = PROBE_DEFAULT_MS, ret = 2, res, nsfd;
	char path[PATH_MAX], answer[512] = "";
	const struct lab_pod *src;
	const char *to;
	struct lab_port port;
	struct in_addr ip;
	bool json = false;
	struct lab lab;

	optind = 0;
	while ((c = getopt_long(argc, argv, "t:jh", lo, NULL)) != -1) {
		switch (c) {
		case 't':
			if (timeout_parse(optarg, &timeout))
				return 2;
			break;
		case 'j': json = true; break;
		case 'h': usage_probe(stdout); return 0;
		default: usage_probe(stderr); return 2;
		}
	}
	if (argc - optind != 3) {
		usage_probe(stderr);
		return 2;
	}
	to = argv[optind + 1];
	if (probe_spec(argv[optind + 2], &port))
		return 2;
	if (lab_open(&lab, false))
		return 2;
	/* The outside: a client beyond the underlay's router, in no node's cgroup. */
	if (!strcmp(argv[optind], "outside")) {
		if (!lab.outside) {
			fprintf(stderr, "lab probe: this lab has no outside (netns " LAB_OUT_NETNS ")\n");
			goto out;
		}
		src = NULL;
	} else if (!(src = lab_pod_lookup(&lab, argv[optind]))) {
		goto out;
	}
	if (probe_dest(&lab, to, &ip))
		goto out;
	/* One probe, nothing else running: this (only) thread enters the pod's netns,
	 * and the process its node's cgroup (socket load balancing as the pod gets it). */
	if (src && lab_pod_cgroup_join(&lab, src, 0))
		goto out;
	lab_netns_path(src ? src->netns : LAB_OUT_NETNS, path, sizeof(path));
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0 || setns(nsfd, CLONE_NEWNET)) {
		fprintf(stderr, "lab probe: %s: %s: %s\n", argv[optind], path, strerror(errno));
		if (nsfd >= 0)
			close(nsfd);
		goto out;
	}
	close(nsfd);
	res = probe_once(ip.s_addr, &port, timeout, answer, sizeof(answer), NULL);
	if (res < 0) {
		fprintf(stderr, "lab probe: %s\n", strerror(-res));
		goto out;
	}
	if (json) {
		json_t *j = json_pack("{s:s,s:s,s:s,s:b,s:s?}", "from", argv[optind], "to", to,
				      "port", argv[optind + 2], "connected", res > 0, "answer",
				      res > 0 ? answer : NULL);

		if (!j || json_dumpf(j, stdout, JSON_COMPACT) || putchar('\n') == EOF) {
			json_decref(j);
			goto out;
		}
		json_decref(j);
	} else {
		printf("%s\n", res ? "connected" : "blocked");
	}
	ret = res ? 0 : 1;
out:
	lab_close(&lab);
	return ret;
}

static void usage_matrix(FILE *f)
{
	fprintf(f, "Usage: xcnictl lab matrix PORT/PROTO [--via-service] [--json] [--timeout-ms N]\n"
		   "Probes every ordered pair of pods (a pod to itself too) in parallel and prints the\n"
		   "truth table: a row per source pod, a column per destination, '.' connected,\n"
		   "'X' blocked; kube-system's pods (the DNS) are left out. --json:\n"
		   "{\"pods\": [...], \"rows\": {\"NS/POD\": {\"NS/POD\": bool}}, \"port\": N,\n"
		   "\"protocol\": \"tcp\"|\"udp\", \"answers\": {SRC: {DST: what the listener said}},\n"
		   "\"sports\": {SRC: {DST: the probe's source port}}} (the lab's TCP listeners\n"
		   "answer with their NS/POD: who really answered; the port finds the flow in ct list).\n"
		   "--via-service: each destination is probed through a Service of its own\n"
		   "(svc-POD in its namespace, selecting its labels, the port named and targeted as\n"
		   "the pod names it; made or completed first), i.e. through kube-proxy's DNAT.\n");
}

static int matrix_print(const struct matrix *m, bool json)
{
	char **names = calloc(m->npods + 1, sizeof(*names));
	int w = 0, err = 0;

	if (!names)
		return -ENOMEM;
	for (size_t i = 0; i < m->npods; i++) {
		if (asprintf(&names[i], "%s/%s", m->pods[i]->ns, m->pods[i]->name) < 0) {
			names[i] = NULL;
			err = -ENOMEM;
			goto out;
		}
		if ((int)strlen(names[i]) > w)
			w = (int)strlen(names[i]);
	}
	if (json) {
		json_t *root = json_object(), *pods = json_array(), *rows = json_object();
		json_t *answers = json_object(), *sports = json_object();

		for (size_t i = 0; i < m->npods; i++) {
			json_t *row = json_object(), *arow = json_object(), *prow = json_object();

			json_array_append_new(pods, json_string(names[i]));
			for (size_t j = 0; j < m->npods; j++) {
				size_t k = i * m->npods + j;

				json_object_set_new(row, names[j], json_boolean(m->res[k] > 0));
				/* Who answered (the lab's listeners answer TCP with their
				 * NS/POD), and from which port the probe left. */
				if (m->res[k] > 0)
					json_object_set_new(arow, names[j], json_string(m->answer[k]));
				json_object_set_new(prow, names[j], json_integer(m->sport[k]));
			}
			json_object_set_new(rows, names[i], row);
			json_object_set_new(answers, names[i], arow);
			json_object_set_new(sports, names[i], prow);
		}
		json_object_set_new(root, "pods", pods);
		json_object_set_new(root, "rows", rows);
		json_object_set_new(root, "port", json_integer(m->port.port));
		json_object_set_new(root, "protocol", json_string(lab_proto_word(m->port.proto)));
		json_object_set_new(root, "answers", answers);
		json_object_set_new(root, "sports", sports);
		if (json_dumpf(root, stdout, JSON_COMPACT) || putchar('\n') == EOF)
			err = -EIO;
		json_decref(root);
		goto out;
	}
	/* Columns as wide as the widest name; the last one unpadded. */
	printf("%-*s", w, "");
	for (size_t j = 0; j < m->npods; j++)
		printf("  %-*s", j + 1 < m->npods ? w : 0, names[j]);
	putchar('\n');
	for (size_t i = 0; i < m->npods; i++) {
		printf("%-*s", w, names[i]);
		for (size_t j = 0; j < m->npods; j++)
			printf("  %-*s", j + 1 < m->npods ? w : 0,
			       m->res[i * m->npods + j] > 0 ? "." : "X");
		putchar('\n');
	}
out:
	for (size_t i = 0; i < m->npods; i++)
		free(names[i]);
	free(names);
	return err;
}

int lab_cmd_matrix(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "via-service", no_argument, NULL, 's' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int c, timeout = PROBE_DEFAULT_MS, ret = 2;
	const struct lab_pod **pods = NULL;
	struct matrix m = {};
	struct lab_port port;
	bool json = false, via_svc = false, changed = false;
	struct lab lab;
	size_t n;

	optind = 0;
	while ((c = getopt_long(argc, argv, "jt:h", lo, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 's': via_svc = true; break;
		case 't':
			if (timeout_parse(optarg, &timeout))
				return 2;
			break;
		case 'h': usage_matrix(stdout); return 0;
		default: usage_matrix(stderr); return 2;
		}
	}
	if (argc - optind != 1) {
		usage_matrix(stderr);
		return 2;
	}
	if (probe_spec(argv[optind], &port))
		return 2;
	/* Making Services changes the lab: that takes its lock. */
	if (lab_open(&lab, via_svc))
		return 2;
	pods = calloc(lab.npods + 1, sizeof(*pods));
	if (!pods)
		goto out;
	/* The cluster's own pods (kube-system: DNS) are not part of the truth table. */
	n = 0;
	for (size_t i = 0; i < lab.npods; i++)
		if (strcmp(lab.pods[i].ns, "kube-system"))
			pods[n++] = &lab.pods[i];
	qsort(pods, n, sizeof(*pods), pod_cmp);
	if (matrix_init(&m, pods, n))
		goto out_m;
	for (size_t i = 0; via_svc && i < n; i++)
		if (lab_svc_for_pod(&lab, pods[i], &port, &m.ip[i], &changed))
			goto out_m;
	if (lab_services_sync(&lab, changed))
		goto out_m;
	m.port = port;
	m.timeout_ms = timeout;
	m.end = n * n;
	if (n && matrix_run(&m, n * n < MATRIX_THREADS ? n * n : MATRIX_THREADS))
		goto out_m;
	for (size_t i = 0; i < n * n; i++)
		if (m.res[i] < 0)
			fprintf(stderr, "lab matrix: %s -> %s: %s (counted as blocked)\n",
				pods[i / n]->name, pods[i % n]->name, strerror(-m.res[i]));
	ret = matrix_print(&m, json) ? 2 : 0;
out_m:
	matrix_fini(&m);
out:
	free(pods);
	lab_close(&lab);
	return ret;
}

/* ---- exec ------------------------------------------------------------------ */

int lab_cmd_exec(int argc, char **argv)
{
	char path[PATH_MAX];
	const struct lab_pod *p;
	struct lab lab;
	int fd, i = 2;

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("Usage: xcnictl lab exec NS/POD -- CMD [ARGS...]\n"
		       "Runs CMD in the pod's network namespace (only that: mounts stay the host's).\n");
		return 0;
	}
	if (argc > 2 && !strcmp(argv[2], "--"))
		i = 3;
	if (argc < 2 || i >= argc) {
		fprintf(stderr, "Usage: xcnictl lab exec NS/POD -- CMD [ARGS...]\n");
		return 2;
	}
	if (lab_open(&lab, false))
		return 2;
	p = lab_pod_lookup(&lab, argv[1]);
	if (!p) {
		lab_close(&lab);
		return 2;
	}
	/* The command runs as the pod's processes do: in its node's cgroup too. */
	if (lab_pod_cgroup_join(&lab, p, 0)) {
		lab_close(&lab);
		return 2;
	}
	lab_netns_path(p->netns, path, sizeof(path));
	/* With the cluster's DNS, the pod's resolv.conf too (as the kubelet writes it), in a
	 * mount namespace of its own: the host's file stays as it is. */
	if (lab_has_dns(&lab)) {
		char conf[PATH_MAX];

		if (lab_dns_resolv_conf(&lab, p->ns, conf, sizeof(conf)) || unshare(CLONE_NEWNS) ||
		    mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) ||
		    mount(conf, "/etc/resolv.conf", NULL, MS_BIND, NULL))
			fprintf(stderr, "lab exec: warning: the pod's resolv.conf: %s\n",
				strerror(errno));
	}
	lab_close(&lab);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET)) {
		fprintf(stderr, "lab exec: %s: %s\n", path, strerror(errno));
		return 2;
	}
	close(fd);
	execvp(argv[i], argv + i);
	fprintf(stderr, "lab exec: %s: %s\n", argv[i], strerror(errno));
	return 127;
}
