// SPDX-License-Identifier: Apache-2.0
/*
 * Traffic in the lab: the probes that ask "can pod A reach pod B on this
 * port", one at a time (probe) or every ordered pair (matrix), the
 * truth table of upstream's NetworkPolicy e2e tests. A probe's socket is made
 * by a thread that entered the source pod's netns, so many probes from many
 * pods run at once in one process. A probe is of one IP family (--family 4|6);
 * in a dual stack lab both are tried unless one is asked for.
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

#include "lab/fate.h"
#include "lab/probe.h"
#include "lab/svg.h"
#include "lib/observe/flows.h"
#include "lib/system/util.h"
#include "xcni_shared.h"

/*
 * Probe threads of one matrix run: a blocked probe holds its thread until the
 * timeout, so as many as there are probes (every port's and family's at once)
 * up to this many: the run then waits about one timeout, not one per round.
 */
#define MATRIX_THREADS 256
/* Ports one `lab matrix` probes at once. */
#define MATRIX_MAX_PORTS 16
#define PROBE_DEFAULT_MS 1000
#define PROBE_TEXT_COLS 100 /* near misses wrap here (a terminal's width and some) */

static int timeout_parse(const char *s, int *out)
{
	long v;

	if (lab_num(s, 1, 600000, &v))
		return said(-EINVAL, "lab: --timeout-ms %s: milliseconds, 1 to 600000\n", s);
	*out = (int)v;
	return 0;
}

/* --family 4|6 -> LAB_FAM_V4/V6; 0 (said) for anything else. */
static unsigned int family_opt(const char *s)
{
	if (!strcmp(s, "4"))
		return LAB_FAM_V4;
	if (!strcmp(s, "6"))
		return LAB_FAM_V6;
	return said(0, "lab: --family %s: 4 or 6\n", s);
}

static const char *fam_name(unsigned int fam)
{
	return fam == LAB_FAM_V6 ? "IPv6" : "IPv4";
}

int lab_dest_parse(const char *s, struct lab_dest *d)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)&d->sa;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&d->sa;

	memset(d, 0, sizeof(*d));
	if (inet_pton(AF_INET, s, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		d->len = sizeof(*s4);
		return 0;
	}
	memset(d, 0, sizeof(*d));
	if (inet_pton(AF_INET6, s, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		d->len = sizeof(*s6);
		return 0;
	}
	return -EINVAL;
}

static unsigned int dest_family(const struct lab_dest *d)
{
	return d->sa.ss_family == AF_INET6 ? LAB_FAM_V6 : LAB_FAM_V4;
}

/* The pod's address of family fam: 0, or -ENOENT when it has none. */
static int pod_dest(const struct lab_pod *p, unsigned int fam, struct lab_dest *d)
{
	const char *a = fam == LAB_FAM_V6 ? p->ip6 : p->ip;

	return *a && !lab_dest_parse(a, d) ? 0 : -ENOENT;
}

/* The Service's ClusterIP of family fam: 0, or -ENOENT when it has none. */
static int svc_dest(const struct lab_svc_ips *ips, unsigned int fam, struct lab_dest *d)
{
	char a[INET6_ADDRSTRLEN];

	return *lab_svc_ip_str(ips, fam, a, sizeof(a)) && !lab_dest_parse(a, d) ? 0 : -ENOENT;
}

/* ---- probes ------------------------------------------------------------------ */

static int wait_fd(int fd, short events, long long deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	long long left;
	int r;

	for (;;) {
		left = deadline - xcni_mono_ms();
		if (left <= 0)
			return 0;
		r = poll(&p, 1, (int)left);
		if (r >= 0 || errno != EINTR)
			return r < 0 ? -errno : r;
	}
}

/* A probe's fate in flows' words (flow_verdict_name): connected is the probe's own. */
const char *lab_fate_word(int fate)
{
	static const int as_flow[LAB_NR_FATES] = {
		[LAB_FATE_TIMEOUT] = FLOW_TIMEOUT,   [LAB_FATE_CONNECTED] = -1,
		[LAB_FATE_DENIED] = FLOW_DENIED,     [LAB_FATE_REFUSED] = FLOW_REFUSED,
		[LAB_FATE_NO_BACKEND] = FLOW_NO_BACKEND,
	};

	if (fate == LAB_FATE_CONNECTED)
		return "connected";
	return flow_verdict_name(fate >= 0 && fate < LAB_NR_FATES ? as_flow[fate] : FLOW_TIMEOUT);
}

/* lab matrix's cell: '.', 'D', 'R', 'N', 'T'. */
static char lab_fate_symbol(int fate)
{
	static const char sym[LAB_NR_FATES] = { 'T', '.', 'D', 'R', 'N' };

	return fate >= 0 && fate < LAB_NR_FATES ? sym[fate] : 'T';
}

int lab_fate_of(int res, bool refused, const struct lab_drops_seen *s, bool svc)
{
	if (res > 0)
		return LAB_FATE_CONNECTED;
	/* The Service's reject is a RST or an ICMP unreachable too: its drop tells it. */
	if (svc && s && s->no_backend)
		return LAB_FATE_NO_BACKEND;
	if (refused)
		return LAB_FATE_REFUSED;
	/* A policy drop answers nothing: only the counters tell it from silence. */
	return s && s->policy ? LAB_FATE_DENIED : LAB_FATE_TIMEOUT;
}

/* An error a socket gets when the far end (or a router on the way) answered no. */
static bool refusal(int err)
{
	return err == ECONNREFUSED || err == ECONNRESET || err == EHOSTUNREACH ||
	       err == ENETUNREACH;
}

/*
 * From the calling thread's netns: 1 connected (the listener answered), 0
 * not (refused, reset, unreachable or silent until the deadline), -errno.
 * answer: what the listener said (first line); *sport (if given): the
 * probe's source port, 0 when none was bound; *refused (if given): a RST or
 * an ICMP unreachable came back (ECONNREFUSED, ECONNRESET, E*UNREACH).
 */
static int probe_once(const struct lab_dest *dst, const struct lab_port *p, int timeout_ms,
		      char *answer, size_t alen, uint16_t *sport, bool *refused)
{
	bool no = false;
	struct lab_dest sa = *dst;
	long long deadline = xcni_mono_ms() + timeout_ms;
	bool tcp = p->proto == IPPROTO_TCP;
	socklen_t elen = sizeof(int);
	int fd, r, soerr = 0, ret = 0;
	char buf[512];

	/* The port sits at the same offset in both families' sockaddr. */
	((struct sockaddr_in *)&sa.sa)->sin_port = htons(p->port);
	fd = socket(sa.sa.ss_family, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa.sa, sa.len) && errno != EINPROGRESS) {
		/* A pod without a route of that family (EADDRNOTAVAIL) cannot reach it either. */
		no = refusal(errno);
		ret = no || errno == EADDRNOTAVAIL ? 0 : -errno;
		goto out;
	}
	if (sport) {
		struct sockaddr_storage la;
		socklen_t llen = sizeof(la);

		*sport = getsockname(fd, (struct sockaddr *)&la, &llen) ? 0 :
			 ntohs(((struct sockaddr_in *)&la)->sin_port);
	}
	if (tcp) {
		r = wait_fd(fd, POLLOUT, deadline);
		if (r <= 0) {
			ret = r;
			goto out;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) || soerr) {
			no = refusal(soerr);
			goto out;
		}
	}
	if (send(fd, "probe\n", 6, MSG_NOSIGNAL) < 0) {
		no = refusal(errno);
		goto out;
	}
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
		if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			no = n < 0 && refusal(errno);
			break;
		}
	}
	if (r < 0)
		ret = r;
out:
	if (refused)
		*refused = ret == 0 && no;
	close(fd);
	return ret;
}

struct matrix {
	size_t npods;
	const struct lab_pod **pods;
	int *nsfd;
	struct lab_dest *dst; /* [dst]: the address probed (of the matrix's family) */
	unsigned int fam;
	struct lab_port port;
	int timeout_ms;
	/* [src * npods + dst]: one probe's outcome. */
	struct mcell {
		int res; /* 1 connected, 0 not, -errno */
		bool refused; /* RST or ICMP unreachable came back */
		unsigned char fate; /* enum lab_fate, once the run's drops are read */
		char answer[64]; /* what the listener answered */
		uint16_t sport; /* the probe's source port */
	} *cell;
};

/* The probes of several matrices (same pods) run as one pool: job j is
 * ms[j / per] cell j % per. */
struct matrix_set {
	struct matrix *ms;
	size_t per; /* jobs of one matrix: npods * npods */
	atomic_size_t next;
	size_t end;
};

static void *matrix_worker(void *arg)
{
	struct matrix_set *set = arg;
	size_t j;
	int cur = -1;

	while ((j = atomic_fetch_add(&set->next, 1)) < set->end) {
		struct matrix *m = &set->ms[j / set->per];
		size_t job = j % set->per, src = job / m->npods, dst = job % m->npods;
		struct mcell *c = &m->cell[job];

		/* setns moves only this thread: each worker hops into the pod it probes from. */
		if (cur != m->nsfd[src]) {
			if (setns(m->nsfd[src], CLONE_NEWNET)) {
				c->res = -errno;
				cur = -1;
				continue;
			}
			cur = m->nsfd[src];
		}
		c->res = probe_once(&m->dst[dst], &m->port, m->timeout_ms, c->answer,
				    sizeof(c->answer), &c->sport, &c->refused);
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

/*
 * Runs the probes of the nm matrices ms (same pods) together, over as many
 * threads as there are probes up to MATRIX_THREADS; 0 or -errno (results in
 * each ms[i].cell).
 */
static int matrix_run(struct matrix *ms, size_t nm)
{
	struct matrix_set set = { .ms = ms, .per = ms[0].npods * ms[0].npods };
	size_t nthreads, started = 0;
	pthread_t *t;
	int err = 0;

	set.end = set.per * nm;
	atomic_init(&set.next, 0);
	if (!set.end)
		return 0;
	nthreads = set.end < MATRIX_THREADS ? set.end : MATRIX_THREADS;
	t = calloc(nthreads, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (; started < nthreads; started++) {
		err = -pthread_create(&t[started], NULL, matrix_worker, &set);
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

/*
 * Sets m up for these pods (pods: pointers into the lab, kept), probing their
 * addresses of family fam, or the ClusterIPs of their Services (svc, if given).
 */
static int matrix_init(struct matrix *m, const struct lab_pod **pods, size_t n, unsigned int fam,
		       const struct lab_svc_ips *svc)
{
	char path[PATH_MAX];

	m->npods = n;
	m->pods = pods;
	m->fam = fam;
	m->nsfd = calloc(n + 1, sizeof(*m->nsfd));
	m->dst = calloc(n + 1, sizeof(*m->dst));
	m->cell = calloc(n * n + 1, sizeof(*m->cell));
	if (!m->nsfd || !m->dst || !m->cell)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		m->nsfd[i] = -1;
	for (size_t i = 0; i < n; i++) {
		lab_netns_path(pods[i]->netns, path, sizeof(path));
		m->nsfd[i] = open(path, O_RDONLY | O_CLOEXEC);
		if (m->nsfd[i] < 0)
			return said(-errno,
				    "lab: pod %s/%s: %s: %s\n", pods[i]->ns, pods[i]->name, path,
				    strerror(errno));
		if (svc ? svc_dest(&svc[i], fam, &m->dst[i]) : pod_dest(pods[i], fam, &m->dst[i]))
			return said(-EINVAL, "lab: pod %s/%s has no %s %s\n", pods[i]->ns,
				    pods[i]->name, fam_name(fam),
				    svc ? "ClusterIP (its Service svc-POD)" : "address");
	}
	return 0;
}

static void matrix_fini(struct matrix *m)
{
	for (size_t i = 0; m->nsfd && i < m->npods; i++)
		xcni_close(&m->nsfd[i]);
	free(m->nsfd);
	free(m->dst);
	free(m->cell);
}

/* PORT/PROTO for a probe: 0, or says why not (exit 2). */
static int probe_spec(const char *s, struct lab_port *p)
{
	if (lab_port_spec(s, p))
		return said(-EINVAL, "lab: %s: not PORT/PROTO (e.g. 80/tcp, 53/udp)\n", s);
	if (p->proto == IPPROTO_SCTP)
		return said(-EPROTONOSUPPORT,
			    "lab: %s: cannot probe SCTP: this kernel has no SCTP sockets\n", s);
	return 0;
}

/*
 * A probe's destinations, one per family in *fams (those asked for, or the
 * ones it has): an address (the outside, a node: its own family), a node's
 * name (its underlay address: IPv4), svc/NS/NAME's ClusterIPs, or NS/POD's
 * addresses. d[0] is IPv4's, d[1] IPv6's; *fams is narrowed to what exists.
 * asked: --family was given (an address of the other family is then refused).
 */
static int probe_dest(struct lab *lab, const char *to, unsigned int *fams, bool asked,
		      struct lab_dest d[2])
{
	const struct lab_node *node = strchr(to, '/') ? NULL : lab_node_find(lab, to);
	bool svc = !strncmp(to, "svc/", 4);
	const struct lab_pod *dst = NULL;
	struct lab_svc_ips ips = {};
	struct lab_dest lit;
	unsigned int want = *fams;

	if (node || !lab_dest_parse(to, &lit)) {
		char a6[LAB_ADDR6_LEN] = "";

		/* One address: its family is the probe's. A node's is IPv4 (the
		 * Geneve underlay's) unless --family 6 asks for its IPv6 one, or
		 * its underlay is IPv6 alone (an ipv6 lab, --ipv6-only-nodes). */
		if (node && ((asked && want == LAB_FAM_V6) || lab_node_ul6only(lab, node)) &&
		    lab_node_ip6(lab, node, a6, sizeof(a6)))
			return -1;
		if (node && lab_dest_parse(*a6 ? a6 : node->ip, &lit))
			return -1;
		if (asked && want != dest_family(&lit))
			return said(-1, "lab probe: %s is an %s address%s; --family %s cannot "
				    "reach it\n", node ? (*a6 ? a6 : node->ip) : to,
				    fam_name(dest_family(&lit)),
				    !node ? "" :
				    lab_ul_v6only(lab) ? " (this lab's underlay is IPv6)" :
				    lab_node_ul6only(lab, node) ?
				    " (this node's underlay is IPv6 alone)" :
				    " (this lab's underlay is IPv4)",
				    want == LAB_FAM_V6 ? "6" : "4");
		*fams = dest_family(&lit);
		d[*fams == LAB_FAM_V6] = lit;
		return 0;
	}
	if (svc) {
		const char *slash = strchr(to + 4, '/');
		char ns[256];
		int r;

		if (!slash || slash == to + 4 || !slash[1] || (size_t)(slash - to - 4) >= sizeof(ns))
			return said(-1, "lab probe: %s: not svc/NAMESPACE/SERVICE\n", to);
		snprintf(ns, sizeof(ns), "%.*s", (int)(slash - to - 4), to + 4);
		r = lab_svc_lookup(lab, ns, slash + 1, &ips);
		if (r)
			return said(-1, "lab probe: Service %s/%s: %s\n", ns, slash + 1,
				    r == -ENOENT ? "not found (lab get shows the Services)" :
				    r == -ENXIO ?
				    "headless: no ClusterIP to probe (DNS names its pods)" :
				    strerror(-r));
	} else if (!(dst = lab_pod_lookup(lab, to))) {
		return -1;
	}
	*fams = 0;
	for (unsigned int f = LAB_FAM_V4; f <= LAB_FAM_V6; f <<= 1)
		if ((want & f) && !(svc ? svc_dest(&ips, f, &d[f == LAB_FAM_V6]) :
					  pod_dest(dst, f, &d[f == LAB_FAM_V6])))
			*fams |= f;
	if (!*fams)
		return said(-1, "lab probe: %s has no %s address\n", to,
			    want == LAB_FAM_DUAL ? "IPv4 or IPv6" : fam_name(want));
	/* Asked for one family explicitly and it has none: said above; both asked, one missing: fine. */
	return 0;
}

int lab_probe_to(struct lab *lab, const char *to, unsigned int fam, const struct lab_port *port,
		 int timeout_ms, char *answer, size_t alen, bool *refused)
{
	unsigned int fams = fam;
	struct lab_dest d[2];

	if (probe_dest(lab, to, &fams, true, d))
		return -ENOENT;
	return probe_once(&d[fam == LAB_FAM_V6], port, timeout_ms, answer, alen, NULL, refused);
}

int lab_probe_addr(const char *addr, const struct lab_port *port, int timeout_ms, char *answer,
		   size_t alen, bool *refused)
{
	struct lab_dest d;

	if (lab_dest_parse(addr, &d))
		return -EINVAL;
	return probe_once(&d, port, timeout_ms, answer, alen, NULL, refused);
}

/*
 * svc/NS/NAME selects no running pod (a Service without endpoints): kube-proxy
 * rejects it (iptables: no drop counted), xcnid drops it (drop-no-backend).
 * A Service without a selector has its endpoints by hand: not said empty.
 */
static bool svc_no_endpoints(struct lab *lab, const char *to)
{
	const char *ns = to + 4, *name = strchr(ns, '/');
	struct lab_svc_list l = {};
	struct lab_ep_pod *eps = NULL;
	const struct k8s_object *svc = NULL;
	bool none = false;
	size_t neps = 0;

	if (strncmp(to, "svc/", 4) || !name || lab_svc_list_load(lab, &l))
		return false;
	for (size_t i = 0; i < l.n && !svc; i++)
		if (strlen(l.v[i]->meta.ns) == (size_t)(name - ns) &&
		    !strncmp(l.v[i]->meta.ns, ns, (size_t)(name - ns)) &&
		    !strcmp(l.v[i]->meta.name, name + 1))
			svc = l.v[i];
	if (svc && svc->svc.has_selector && !lab_ep_pods_load(lab, &eps, &neps)) {
		none = true;
		for (size_t i = 0; none && i < neps; i++)
			none = !lab_svc_selects(svc, &eps[i]);
		lab_ep_pods_free(eps, neps);
	}
	lab_svc_list_free(&l);
	return none;
}

const struct pt_opt lab_probe_opts[] = {
	{ "family", 0, true, 'f', 0, "4|6", "that family alone (default: the lab's, each)" },
	{ "timeout-ms", 't', true, 't', 0, "N", "how long to wait (default 1000)" },
	{ "json", 'j', false, 'j', 0, NULL, "one JSON object" },
	{ "help", 'h', false, 'h', 0, NULL, "this text" },
	{}
};
#define PROBE_SYN "lab probe NS/POD|outside NS/POD|NODE|IP|svc/NS/SERVICE PORT/PROTO [OPTIONS]"

/* lab probe's options; *fam 0: every family of the lab. -1 to go on, else the exit code. */
static int probe_parse(int argc, char **argv, int *timeout, unsigned int *fam, bool *json)
{
	int c;

	optind = 0;
	while ((c = pt_getopt(argc, argv, lab_probe_opts, false, NULL)) != -1) {
		switch (c) {
		case 't':
			if (timeout_parse(optarg, timeout))
				return 2;
			break;
		case 'f':
			*fam = family_opt(optarg);
			if (!*fam)
				return 2;
			break;
		case 'j': *json = true; break;
		default: return pt_usage(c == 'h' ? stdout : stderr, PROBE_SYN, lab_probe_opts);
		}
	}
	if (argc - optind != 3)
		return pt_usage(stderr, PROBE_SYN, lab_probe_opts);
	return -1;
}

/*
 * One probe, nothing else running: this (only) thread enters the pod's netns
 * (src NULL: the outside's), and the process its node's cgroup (socket load
 * balancing as the pod gets it). 0, or -1 (said; name: the source as given).
 */
static int probe_enter(struct lab *lab, const struct lab_pod *src, const char *name)
{
	char path[PATH_MAX];
	int nsfd;

	if (src && lab_pod_cgroup_join(lab, src, 0))
		return -1;
	lab_netns_path(src ? src->netns : LAB_OUT_NETNS, path, sizeof(path));
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0 || setns(nsfd, CLONE_NEWNET)) {
		fprintf(stderr, "lab probe: %s: %s: %s\n", name, path, strerror(errno));
		xcni_close(&nsfd);
		return -1;
	}
	close(nsfd);
	return 0;
}

/* A fate in words: denied names what denied it (why), when the records said. */
static void fate_text(int fate, const char *why, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", lab_fate_word(fate), why[0] ? ": " : "", why);
}

/*
 * The probes' results (fate, answer, why: per family, IPv4's first): one JSON
 * line or words ("denied: isolated by ...", "refused", ...).
 */
static int probe_print(char **words, unsigned int fams, const int *fate, char answer[2][512],
		       char why[2][400], char nm[2][1024], bool json)
{
	char t[2][1024];

	bool all = true;
	int nfam = 0, first = fams & LAB_FAM_V4 ? 0 : 1;

	for (int k = 0; k < 2; k++)
		if (fams & (k ? LAB_FAM_V6 : LAB_FAM_V4)) {
			all &= fate[k] == LAB_FATE_CONNECTED;
			nfam++;
		}
	if (json) {
		/* "verdict": IPv4's word (the one family's), or the first that is not connected. */
		int v = nfam > 1 && fate[first] == LAB_FATE_CONNECTED ? fate[1] : fate[first];
		json_t *j = json_pack("{s:s,s:s,s:s,s:b,s:s,s:s?}", "from", words[0], "to", words[1],
				      "port", words[2], "connected", all, "verdict",
				      lab_fate_word(v), "answer",
				      fate[first] == LAB_FATE_CONNECTED ? answer[first] : NULL);
		int vk = nfam > 1 && fate[first] == LAB_FATE_CONNECTED ? 1 : first;

		/* "denied_by": what the flow records say denied it (absent: not said). */
		if (j && why[vk][0])
			json_object_set_new(j, "denied_by", json_string(why[vk]));
		if (j && nm[vk][0])
			json_object_set_new(j, "near_misses", json_string(nm[vk]));

		if (j && nfam > 1) {
			json_t *f = json_object();

			for (int k = 0; f && k < 2; k++)
				json_object_set_new(f, k ? "6" : "4",
						    json_pack("{s:b,s:s,s:s?}", "connected",
							      fate[k] == LAB_FATE_CONNECTED, "verdict",
							      lab_fate_word(fate[k]), "answer",
							      fate[k] == LAB_FATE_CONNECTED ? answer[k] :
											      NULL));
			json_object_set_new(j, "families", f);
		}
		if (!j || json_dumpf(j, stdout, JSON_COMPACT) || putchar('\n') == EOF) {
			json_decref(j);
			return 2;
		}
		json_decref(j);
	} else if (nfam > 1 && fate[0] != fate[1]) {
		fate_text(fate[0], why[0], t[0], sizeof(t[0]));
		fate_text(fate[1], why[1], t[1], sizeof(t[1]));
		printf("%s over IPv4, %s over IPv6\n", t[0], t[1]);
		flow_near_miss_lines(stdout, nm[0][0] ? nm[0] : nm[1], 0, PROBE_TEXT_COLS);
	} else {
		fate_text(fate[first], why[first], t[0], sizeof(t[0]));
		printf("%s\n", t[0]);
		flow_near_miss_lines(stdout, nm[first], 0, PROBE_TEXT_COLS);
	}
	return all ? 0 : 1;
}

int lab_cmd_probe(int argc, char **argv)
{
	int timeout = PROBE_DEFAULT_MS, ret, res[2] = {}, fate[2] = {};
	char answer[2][512] = {}, why[2][400] = {}, nm[2][1024] = {};
	uint16_t sport[2] = {};
	struct lab_drops drops = {};
	__u64 *before = NULL;
	bool svc;
	unsigned int fam = 0, fams;
	const struct lab_pod *src;
	struct lab_port port;
	struct lab_dest d[2];
	bool json = false;
	struct lab lab;
	char **w;

	ret = probe_parse(argc, argv, &timeout, &fam, &json);
	if (ret >= 0)
		return ret;
	ret = 2;
	w = &argv[optind]; /* SRC DST PORT/PROTO */
	if (probe_spec(w[2], &port))
		return 2;
	if (lab_open(&lab, false))
		return 2;
	if (fam && !(lab.family & fam)) {
		fprintf(stderr, "lab probe: --family %s: this lab is %s (lab up --ip-family)\n",
			fam == LAB_FAM_V6 ? "6" : "4", lab_family_word(lab.family));
		goto out;
	}
	/* The outside: a client beyond the underlay's router, in no node's cgroup. */
	if (!strcmp(w[0], "outside")) {
		if (!lab.outside) {
			fprintf(stderr, "lab probe: this lab has no outside (netns " LAB_OUT_NETNS ")\n");
			goto out;
		}
		src = NULL;
	} else if (!(src = lab_pod_lookup(&lab, w[0]))) {
		goto out;
	}
	/* The outside: IPv4 unless --family 6 asks (dual labs) or the underlay is IPv6
	 * alone (ipv6 labs); a pod every family of the lab. */
	fams = fam ? fam : src ? lab.family : lab_ul_v6only(&lab) ? LAB_FAM_V6 : LAB_FAM_V4;
	if (probe_dest(&lab, w[1], &fams, fam != 0, d))
		goto out;
	/* The nodes' drop counters around each probe: denied or no-backend, or silence.
	 * Opened before the netns changes (the pins are the host's bpffs). */
	if (lab_drops_open(&lab, &drops, NULL) ||
	    !(before = calloc(drops.nnodes * XCNI_NR_METRICS + 1, sizeof(*before))))
		goto out;
	if (probe_enter(&lab, src, w[0]))
		goto out;
	/* A pod (NS/POD) is no Service: a drop-no-backend meanwhile is not this probe's. */
	svc = !strchr(w[1], '/') || !strncmp(w[1], "svc/", 4);
	for (int k = 0; k < 2; k++) {
		struct lab_drops_seen seen;
		bool refused = false;

		if (!(fams & (k ? LAB_FAM_V6 : LAB_FAM_V4)))
			continue;
		if (lab_drops_read(&drops, before))
			goto out;
		res[k] = probe_once(&d[k], &port, timeout, answer[k], sizeof(answer[k]), &sport[k],
				    &refused);
		if (res[k] < 0) {
			fprintf(stderr, "lab probe: %s: %s\n", fam_name(k ? LAB_FAM_V6 : LAB_FAM_V4),
				strerror(-res[k]));
			goto out;
		}
		if (lab_drops_read(&drops, drops.pk))
			goto out;
		lab_drops_seen(&lab, &drops, before, -1, &seen, NULL, 0);
		fate[k] = lab_fate_of(res[k], refused, &seen, svc);
	}
	for (int k = 0; k < 2; k++)
		if ((fams & (k ? LAB_FAM_V6 : LAB_FAM_V4)) && fate[k] != LAB_FATE_CONNECTED &&
		    svc_no_endpoints(&lab, w[1]))
			fate[k] = LAB_FATE_NO_BACKEND;
	/* Denied: the policy, as the flow records of this probe name it. */
	for (int k = 0; k < 2; k++)
		if (fate[k] == LAB_FATE_DENIED)
			lab_fate_denied_by(&lab, sport[k], port.port, why[k], sizeof(why[k]), nm[k],
					   sizeof(nm[k]));
	ret = probe_print(w, fams, fate, answer, why, nm, json);
out:
	free(before);
	lab_drops_close(&drops);
	lab_close(&lab);
	return ret;
}

/* The tables as a heat map in path: a cell allowed, denied or mixed (two families). */
static int matrix_svg(const struct matrix *ms, size_t nm, const char *path)
{
	const struct matrix *m = &ms[0];
	size_t n = m->npods;
	char **names = calloc(n + 1, sizeof(*names)), **note = calloc(n * n + 1, sizeof(*note));
	unsigned char *res = calloc(n * n + 1, 1);
	char caption[96];
	int err = -ENOMEM;

	if (!names || !note || !res)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (asprintf(&names[i], "%s/%s", m->pods[i]->ns, m->pods[i]->name) < 0) {
			names[i] = NULL;
			goto out;
		}
	for (size_t k = 0; k < n * n; k++) {
		size_t yes = 0;

		for (size_t f = 0; f < nm; f++)
			yes += ms[f].cell[k].res > 0;
		res[k] = yes == nm ? LAB_SVG_ALLOWED : yes ? LAB_SVG_MIXED : LAB_SVG_DENIED;
		if (nm > 1 && asprintf(&note[k], "%s %s, %s %s", fam_name(ms[0].fam),
				       lab_fate_word(ms[0].cell[k].fate), fam_name(ms[1].fam),
				       lab_fate_word(ms[1].cell[k].fate)) < 0) {
			note[k] = NULL;
			goto out;
		}
	}
	snprintf(caption, sizeof(caption), "%u/%s, %s%s", m->port.port, proto_name(m->port.proto),
		 fam_name(ms[0].fam), nm > 1 ? " and IPv6" : "");
	err = lab_svg_write(path, &(struct lab_svg_matrix){ .n = n,
							    .names = (const char *const *)names,
							    .res = res,
							    .note = (const char *const *)note,
							    .caption = caption });
out:
	for (size_t i = 0; names && i < n; i++)
		free(names[i]);
	for (size_t k = 0; note && k < n * n; k++)
		free(note[k]);
	free(names);
	free(note);
	free(res);
	return err;
}

/* m's verdicts, rows, answers and source ports as JSON objects (set into obj). */
static int matrix_json_tables(const struct matrix *m, char **names, json_t *obj)
{
	enum { VERDICTS, ROWS, ANSWERS, SPORTS, NT };
	static const char *const key[NT] = { "verdicts", "rows", "answers", "sports" };
	json_t *t[NT], *row[NT];
	bool oom = false;

	for (int x = 0; x < NT; x++)
		oom |= !(t[x] = json_object());
	for (size_t i = 0; !oom && i < m->npods; i++) {
		for (int x = 0; x < NT; x++)
			json_object_set_new(t[x], names[i], row[x] = json_object());
		for (size_t j = 0; j < m->npods; j++) {
			const struct mcell *c = &m->cell[i * m->npods + j];

			json_object_set_new(row[ROWS], names[j], json_boolean(c->res > 0));
			json_object_set_new(row[VERDICTS], names[j], json_string(lab_fate_word(c->fate)));
			/* Who answered (the lab's listeners answer TCP with their
			 * NS/POD), and from which port the probe left. */
			if (c->res > 0)
				json_object_set_new(row[ANSWERS], names[j], json_string(c->answer));
			json_object_set_new(row[SPORTS], names[j], json_integer(c->sport));
		}
	}
	for (int x = 0; x < NT; x++)
		if (oom)
			json_decref(t[x]);
		else
			json_object_set_new(obj, key[x], t[x]);
	return oom ? -ENOMEM : 0;
}

/* The tables of one or two matrices (one per family, same pods, same port). */
static int matrix_print(const struct matrix *ms, size_t nm, bool json)
{
	const struct matrix *m = &ms[0];
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
		json_t *root = json_object(), *pods = json_array(), *fams = json_object();

		for (size_t i = 0; i < m->npods; i++)
			json_array_append_new(pods, json_string(names[i]));
		json_object_set_new(root, "pods", pods);
		err = matrix_json_tables(m, names, root);
		/* Two families: a cell connected only where both are, each family's own table too. */
		for (size_t f = 0; !err && nm > 1 && f < nm; f++) {
			json_t *one = json_object();

			err = one ? matrix_json_tables(&ms[f], names, one) : -ENOMEM;
			json_object_set_new(fams, ms[f].fam == LAB_FAM_V6 ? "6" : "4", one);
		}
		for (size_t i = 0; !err && nm > 1 && i < m->npods * m->npods; i++)
			if (ms[1].cell[i].res <= 0)
				json_object_set_new(json_object_get(json_object_get(root, "rows"),
								    names[i / m->npods]),
						    names[i % m->npods], json_false());
		if (nm > 1)
			json_object_set(root, "families", fams);
		json_decref(fams);
		json_object_set_new(root, "port", json_integer(m->port.port));
		json_object_set_new(root, "protocol", json_string(proto_name(m->port.proto)));
		if (!err && (json_dumpf(root, stdout, JSON_COMPACT) || putchar('\n') == EOF))
			err = -EIO;
		json_decref(root);
		goto out;
	}
	for (size_t f = 0; f < nm; f++) {
		m = &ms[f];
		if (nm > 1)
			printf("%s%s:\n", f ? "\n" : "", fam_name(m->fam));
		/* Columns as wide as the widest name; the last one unpadded. */
		printf("%-*s", w, "");
		for (size_t j = 0; j < m->npods; j++)
			printf("  %-*s", j + 1 < m->npods ? w : 0, names[j]);
		putchar('\n');
		for (size_t i = 0; i < m->npods; i++) {
			printf("%-*s", w, names[i]);
			for (size_t j = 0; j < m->npods; j++)
				printf("  %-*c", j + 1 < m->npods ? w : 0,
				       lab_fate_symbol(m->cell[i * m->npods + j].fate));
			putchar('\n');
		}
	}
	if (!json)
		printf("(. connected, D denied, R refused, N no-backend, T timeout)\n");
out:
	for (size_t i = 0; i < ms[0].npods; i++)
		free(names[i]);
	free(names);
	return err;
}

struct matrix_opts {
	int timeout;
	const char *svg;
	unsigned int fam; /* 0: every family of the lab */
	struct lab_port ports[MATRIX_MAX_PORTS];
	size_t np;
	bool json, via_svc;
};

const struct pt_opt lab_matrix_opts[] = {
	{ "family", 0, true, 'f', 0, "4|6", "that family alone (default: the lab's, each)" },
	{ "timeout-ms", 't', true, 't', 0, "N", "how long a probe waits (default 1000)" },
	{ "via-service", 0, false, 's', 0, NULL, "through a Service svc-POD of each pod" },
	{ "svg", 0, true, 'g', 0, "FILE", "the table as an SVG heat map too" },
	{ "json", 'j', false, 'j', 0, NULL, "a JSON object per PORT/PROTO" },
	{ "help", 'h', false, 'h', 0, NULL, "this text" },
	{}
};
#define MATRIX_SYN "lab matrix PORT/PROTO... [OPTIONS]"

/* lab matrix's options and PORT/PROTO words: -1 to go on, else the exit code (said). */
static int matrix_parse(int argc, char **argv, struct matrix_opts *o)
{
	int c;

	optind = 0;
	while ((c = pt_getopt(argc, argv, lab_matrix_opts, false, NULL)) != -1) {
		switch (c) {
		case 'j': o->json = true; break;
		case 's': o->via_svc = true; break;
		case 'f':
			o->fam = family_opt(optarg);
			if (!o->fam)
				return 2;
			break;
		case 't':
			if (timeout_parse(optarg, &o->timeout))
				return 2;
			break;
		case 'g': o->svg = optarg; break;
		default: return pt_usage(c == 'h' ? stdout : stderr, MATRIX_SYN, lab_matrix_opts);
		}
	}
	o->np = (size_t)(argc - optind);
	if (o->np < 1)
		return pt_usage(stderr, MATRIX_SYN, lab_matrix_opts);
	if (o->np > MATRIX_MAX_PORTS)
		return said(2, "lab matrix: %zu PORT/PROTO given: at most %d at once\n", o->np,
			    MATRIX_MAX_PORTS);
	for (size_t i = 0; i < o->np; i++)
		if (probe_spec(argv[optind + (int)i], &o->ports[i]))
			return 2;
	if (o->svg && o->np > 1)
		return said(2, "lab matrix: --svg %s: draws one PORT/PROTO's table (%zu given)\n",
			    o->svg, o->np);
	if (o->svg && lab_svg_check_path(o->svg))
		return 2;
	return -1;
}

/*
 * The pods of the table (the cluster's own, kube-system's DNS, are not part of
 * it), sorted, into pods (*n); with --via-service each one's Service serving
 * every port asked (made or completed), its ClusterIPs into svcips. 0 or -1.
 */
static int matrix_pods(struct lab *lab, const struct matrix_opts *o, const struct lab_pod **pods,
		       struct lab_svc_ips *svcips, size_t *n)
{
	bool changed = false;

	*n = 0;
	for (size_t i = 0; i < lab->npods; i++)
		if (strcmp(lab->pods[i].ns, "kube-system"))
			pods[(*n)++] = &lab->pods[i];
	qsort(pods, *n, sizeof(*pods), pod_cmp);
	for (size_t p = 0; o->via_svc && p < o->np; p++)
		for (size_t i = 0; i < *n; i++)
			if (lab_svc_for_pod(lab, pods[i], &o->ports[p], &svcips[i], &changed))
				return -1;
	return lab_services_sync(lab, changed) ? -1 : 0;
}

/* The lab's index of the node a pod is on; -2 (matches none) when not found. */
static long node_index(const struct lab *lab, const char *name)
{
	for (size_t i = 0; i < lab->nnodes; i++)
		if (!strcmp(lab->nodes[i].name, name))
			return (long)i;
	return -2;
}

/* A drop the flow records name (lab_fate_drops): the cells of its source address and port. */
struct cell_drop {
	struct matrix *m;
	struct lab_drops_seen *seen; /* [src * npods + dst] */
};

static void cell_drop(void *arg, const char *saddr, uint16_t sport, bool policy)
{
	struct cell_drop *cd = arg;
	struct matrix *m = cd->m;
	size_t n = m->npods;
	struct lab_dest rec, pod;

	if (lab_dest_parse(saddr, &rec) || dest_family(&rec) != m->fam)
		return;
	for (size_t i = 0; i < n; i++) {
		/* Both parsed by dest_parse: zeroed, port 0, so the bytes compare. */
		if (pod_dest(m->pods[i], m->fam, &pod) || pod.len != rec.len ||
		    memcmp(&pod.sa, &rec.sa, rec.len))
			continue;
		for (size_t j = 0; j < n; j++)
			if (m->cell[i * n + j].sport == sport) {
				cd->seen[i * n + j].policy |= policy;
				cd->seen[i * n + j].no_backend |= !policy;
			}
	}
}

/*
 * Each cell's fate from its socket and what dropped it: the nodes' flow
 * records of its connection (its source address and port), when every node's
 * agent answered; else the drops the run counted, which the probes share
 * (they ran at once), so a drop is a cell's only as far as its nodes tell it
 * (the source's, where egress and the Service's translation drop; the
 * destination's, where ingress does): a silent cell beside a denied one on
 * the same node would read denied. lab probe alone sees only its own.
 */
static void matrix_fates(struct lab *lab, struct matrix *m, const struct lab_drops *d,
			 const __u64 *before, bool via_svc)
{
	size_t n = m->npods;
	struct cell_drop cd = { m, calloc(n * n + 1, sizeof(*cd.seen)) };
	bool recs = cd.seen && lab_fate_drops(lab, m->port.port, proto_name(m->port.proto),
					      cell_drop, &cd) == lab->nnodes;

	for (size_t i = 0; i < n; i++) {
		struct lab_drops_seen si, sj;
		long ni = node_index(lab, m->pods[i]->node);

		lab_drops_seen(lab, d, before, ni, &si, NULL, 0);
		for (size_t j = 0; j < n; j++) {
			size_t k = i * n + j;
			struct lab_drops_seen s = si;

			lab_drops_seen(lab, d, before, node_index(lab, m->pods[j]->node), &sj, NULL,
				       0);
			s.policy |= sj.policy;
			/* The records name policy drops; a Service's refusal at the socket
			 * (UDP's sendto) has none, its counter stays the word. */
			if (recs) {
				s.policy = cd.seen[k].policy;
				s.no_backend |= cd.seen[k].no_backend;
			}
			m->cell[k].fate = (unsigned char)lab_fate_of(m->cell[k].res > 0,
								 m->cell[k].refused, &s, via_svc);
		}
	}
	free(cd.seen);
}

/* The probes that failed (counted as not connected), then each port's tables: the exit code. */
static int matrix_report(const struct matrix *m, size_t nf, const struct matrix_opts *o,
			 const struct lab_pod **pods, size_t n)
{
	int ret = 0;

	for (size_t k = 0; k < o->np * nf; k++)
		for (size_t i = 0; i < n * n; i++)
			if (m[k].cell[i].res < 0)
				fprintf(stderr, "lab matrix: %u/%s %s %s -> %s: %s (counted as not connected)\n",
					m[k].port.port, proto_name(m[k].port.proto), fam_name(m[k].fam),
					pods[i / n]->name, pods[i % n]->name, strerror(-m[k].cell[i].res));
	/* Each port's tables: JSON a line each, text under the port's name. */
	for (size_t p = 0; !ret && p < o->np; p++) {
		if (!o->json && o->np > 1)
			printf("%s%u/%s:\n", p ? "\n" : "", o->ports[p].port,
			       proto_name(o->ports[p].proto));
		ret = matrix_print(&m[p * nf], nf, o->json) ? 2 : 0;
	}
	if (!ret && o->svg && matrix_svg(m, nf, o->svg))
		ret = 2;
	return ret;
}

int lab_cmd_matrix(int argc, char **argv)
{
	struct matrix_opts o = { .timeout = PROBE_DEFAULT_MS };
	const struct lab_pod **pods = NULL;
	struct lab_svc_ips *svcips = NULL;
	struct matrix *m = NULL;
	unsigned int fams[2];
	struct lab_drops drops = {};
	__u64 *before = NULL;
	struct lab lab;
	size_t n, nf = 0, nm = 0;
	int ret = matrix_parse(argc, argv, &o);

	if (ret >= 0)
		return ret;
	ret = 2;
	/* Making Services changes the lab: that takes its lock. */
	if (lab_open(&lab, o.via_svc))
		return 2;
	if (o.fam && !(lab.family & o.fam)) {
		fprintf(stderr, "lab matrix: --family %s: this lab is %s (lab up --ip-family)\n",
			o.fam == LAB_FAM_V6 ? "6" : "4", lab_family_word(lab.family));
		goto out;
	}
	pods = calloc(lab.npods + 1, sizeof(*pods));
	svcips = calloc(lab.npods + 1, sizeof(*svcips));
	if (!pods || !svcips || matrix_pods(&lab, &o, pods, svcips, &n))
		goto out;
	/* A table per port and family (IPv4's first), every probe of them at once. */
	for (unsigned int f = LAB_FAM_V4; f <= LAB_FAM_V6; f <<= 1)
		if ((o.fam ? o.fam : lab.family) & f)
			fams[nf++] = f;
	m = calloc(o.np * nf, sizeof(*m));
	if (!m)
		goto out;
	for (size_t p = 0; p < o.np; p++)
		for (size_t f = 0; f < nf; f++) {
			struct matrix *cur = &m[nm++];

			if (matrix_init(cur, pods, n, fams[f], o.via_svc ? svcips : NULL))
				goto out_m;
			cur->port = o.ports[p];
			cur->timeout_ms = o.timeout;
		}
	/* The nodes' drop counters around the run: a cell that heard nothing is
	 * denied when its source's or destination's node counted a policy drop. */
	if (lab_drops_open(&lab, &drops, NULL) ||
	    !(before = calloc(drops.nnodes * XCNI_NR_METRICS + 1, sizeof(*before))) ||
	    lab_drops_read(&drops, before))
		goto out_m;
	if (n && matrix_run(m, nm))
		goto out_m;
	if (lab_drops_read(&drops, drops.pk))
		goto out_m;
	for (size_t i = 0; i < nm; i++)
		matrix_fates(&lab, &m[i], &drops, before, o.via_svc);
	ret = matrix_report(m, nf, &o, pods, n);
out_m:
	for (size_t i = 0; i < nm; i++)
		matrix_fini(&m[i]);
	free(m);
	free(before);
	lab_drops_close(&drops);
out:
	free(svcips);
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
	if (argc < 2 || i >= argc)
		return said(2, "Usage: xcnictl lab exec NS/POD -- CMD [ARGS...]\n");
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
	if (fd < 0 || setns(fd, CLONE_NEWNET))
		return said(2, "lab exec: %s: %s\n", path, strerror(errno));
	close(fd);
	execvp(argv[i], argv + i);
	return said(127, "lab exec: %s: %s\n", argv[i], strerror(errno));
}
