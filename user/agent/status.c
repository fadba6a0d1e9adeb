// SPDX-License-Identifier: Apache-2.0
/*
 * xcnid's status socket, /healthz and /readyz, and its build and process
 * metrics (status.h). Nothing here waits: a client gets its answer written
 * into a non-blocking socket at accept (a few KiB, which a Unix socket's
 * buffer holds), then the connection is closed.
 */
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "xcni_shared.h"
#include "lib/cluster/store.h"
#include "lib/observe/agentstatus.h"
#include "lib/observe/reasons.h"
#include "lib/services/svcsync.h"
#include "lib/system/clock.h"
#include "lib/system/log.h"
#include "lib/system/util.h"
#include "lib/system/http.h"
#include "agent/grow.h"
#include "agent/metrics_text.h"
#include "lib/system/bpfpin.h"
#include "agent/pins.h"
#include "agent/probe.h"
#include "agent/polstatus.h"
#include "agent/socklb.h"
#include "agent/status.h"

#ifndef XCNI_VERSION
#define XCNI_VERSION "0.1.0-dev"
#endif
#ifndef XCNI_COMMIT
#define XCNI_COMMIT "unknown"
#endif

#define NSAMPLES (AGENT_DROP_WINDOW_S / AGENT_DROP_STEP_S + 1)

enum { TAG_LISTEN, TAG_TIMER };

struct agent_status {
	const struct http *http, *flows_http; /* refusals at accept, for "listeners" */
	char pin_dir[256], node[64], sock[108];
	struct http *local; /* the status socket */
	int epfd, tfd, metrics_fd;
	time_t started; /* wall clock */
	uint64_t started_mono_ms;
	/* readiness */
	bool attached, applied, cluster;
	uint64_t applied_gen, syncs, syncs_failed;
	bool last_sync_ok;
	/* what the agent learnt */
	const struct probe_result *probe;
	bool sock_lb_wanted;
	const char *source;
	struct cs_backend *backend;
	bool flows_on;
	size_t flows_window;
	const char *ipfix;
	/* drop counters, summed over CPUs: a ring of samples */
	uint64_t *samples[NSAMPLES];
	uint64_t sample_ms[NSAMPLES];
	unsigned int nsamples, next;
};

/* The policy compiler's whole compiles (status_policy): one agent a process, and the
 * metrics page renders without the status socket's state. */
static size_t pol_whole;
/* The cluster's store, for its churn bound's metric (status_set_cluster). */
static const struct store *churn_st;
/* xcni_namespace_churn_deferred_total's series: the namespaces that deferred most, the rest summed. */
#define CHURN_SERIES 16
static const char *pol_whole_why;

/* The refused externalIPs (status_set_svc_refused): the agent's one loop sets and reads them. */
static size_t svc_refused;
static char *svc_refused_msg[STATUS_SVC_REFUSED_MAX];
static size_t svc_refused_nmsg;

void status_set_svc_refused(size_t n, const char *const *msg, size_t nmsg)
{
	for (size_t i = 0; i < svc_refused_nmsg; i++)
		free(svc_refused_msg[i]);
	svc_refused_nmsg = 0;
	svc_refused = n;
	for (size_t i = 0; i < nmsg && i < STATUS_SVC_REFUSED_MAX; i++)
		if (msg[i] && (svc_refused_msg[svc_refused_nmsg] = strdup(msg[i])))
			svc_refused_nmsg++;
}

/* The Services refused whole for a size bound: counted by (namespace, bound), the first words. */
struct svc_bounded {
	char *ns;
	const char *reason; /* static: svc_incr_refusals' words */
	size_t n;
};
static struct svc_bounded *bnd;
static size_t nbnd, capbnd;
static char *bnd_msg[STATUS_SVC_REFUSED_MAX];
static size_t bnd_nmsg;

void status_svc_bounded_clear(void)
{
	for (size_t i = 0; i < nbnd; i++)
		free(bnd[i].ns);
	for (size_t i = 0; i < bnd_nmsg; i++)
		free(bnd_msg[i]);
	nbnd = bnd_nmsg = 0;
}

void status_svc_bounded_add(const char *ns, const char *reason, const char *msg)
{
	size_t i;

	if (bnd_nmsg < STATUS_SVC_REFUSED_MAX && (bnd_msg[bnd_nmsg] = strdup(msg)))
		bnd_nmsg++;
	for (i = 0; i < nbnd; i++)
		if (!strcmp(bnd[i].ns, ns) && !strcmp(bnd[i].reason, reason))
			break;
	if (i == nbnd) {
		/* Out of memory: the Service is still said in the log, uncounted here. */
		if (xcni_grow(&bnd, &capbnd, nbnd, sizeof(*bnd)) || !(bnd[nbnd].ns = strdup(ns)))
			return;
		bnd[nbnd].reason = reason;
		bnd[nbnd++].n = 0;
	}
	bnd[i].n++;
}

static json_t *services_json(void)
{
	json_t *a = json_array(), *b = json_array();

	for (size_t i = 0; b && i < bnd_nmsg; i++)
		json_array_append_new(b, json_string(bnd_msg[i]));
	for (size_t i = 0; a && i < svc_refused_nmsg; i++)
		json_array_append_new(a, json_string(svc_refused_msg[i]));
	return json_pack("{s:o*,s:I,s:o*}", "bounded", b, "external_ips_refused",
			 (json_int_t)svc_refused, "refused", a);
}

/* The Service map writer, for the namespaces it closed (NULL: none, no kube-proxy replacement). */
static const struct svcsync *svc_writer;

void status_set_services(const struct svcsync *ss)
{
	svc_writer = ss;
}

/* The namespaces closed for DNS-pattern room (status_set_fqdn_closed). */
static struct {
	size_t n;
	char **ns;
	size_t *pairs;
} fqc;

void status_set_fqdn_closed(const char *const *ns, const size_t *pairs, size_t n)
{
	char **c = n ? calloc(n, sizeof(*c)) : NULL;
	size_t *p = n ? malloc(n * sizeof(*p)) : NULL;

	for (size_t i = 0; i < fqc.n; i++)
		free(fqc.ns[i]);
	free(fqc.ns);
	free(fqc.pairs);
	fqc.n = 0;
	fqc.ns = c;
	fqc.pairs = p;
	for (size_t i = 0; c && p && i < n; i++, fqc.n++) {
		c[i] = strdup(ns[i]);
		p[i] = pairs[i];
	}
}

/* [{namespace, pairs, map}] */
static json_t *fqdn_closed_json(void)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < fqc.n; i++)
		json_array_append_new(a, json_pack("{s:s?,s:I,s:s}", "namespace", fqc.ns[i],
						   "pairs", (json_int_t)fqc.pairs[i], "map",
						   "xcni_fqdn_pat"));
	return a;
}

/* The namespaces closed for Service room: [{namespace, map, frontends, entries, fix}]. */
static json_t *svc_closed_json(void)
{
	json_t *a = json_array();
	const struct svcsync_closed *cl;
	size_t n = 0;

	if (!a || !svc_writer)
		return a;
	cl = svcsync_closed(svc_writer, &n);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_pack("{s:s,s:s,s:I,s:I,s:s,s:s}", "namespace", cl[i].ns,
						   "map", cl[i].map, "frontends",
						   (json_int_t)cl[i].frontends, "entries",
						   (json_int_t)cl[i].need, "fix", cl[i].fix, "reason",
						   cl[i].share ? "share" : "full"));
	return a;
}

/* ---- drops of the last minute ------------------------------------------------ */

static bool is_drop(int r)
{
	const struct xcni_reason_info *ri = xcni_reason_info(r);

	return ri && !strncmp(ri->name, "drop-", 5);
}

/* The drop counters now into out (XCNI_NR_METRICS): 0 or -errno. */
static int read_drops(struct agent_status *s, uint64_t *out)
{
	if (s->metrics_fd < 0 && (s->metrics_fd = xcni_pin_get(s->pin_dir, "xcni_metrics")) < 0)
		return s->metrics_fd;
	for (int r = XCNI_REASON_MAX; r >= XCNI_REASON_MIN; r--) {
		if (!is_drop(r))
			continue;
		for (unsigned int d = 0; d < XCNI_NR_DIRS; d++) {
			__u32 i = XCNI_METRIC_IDX(r, d);
			struct xcni_metric sum;
			int err = xcni_percpu_sum(s->metrics_fd, &i, &sum, sizeof(sum));

			if (err)
				return err;
			out[i] = sum.packets;
		}
	}
	return 0;
}

static void sample(struct agent_status *s)
{
	uint64_t *v = s->samples[s->next];

	if (read_drops(s, v))
		return;
	s->sample_ms[s->next] = xcni_mono_ms();
	s->next = (s->next + 1) % NSAMPLES;
	if (s->nsamples < NSAMPLES)
		s->nsamples++;
}

/*
 * The NodePort SNAT budget's refusals (drop-nat-client: an outside client's
 * new tuple past its xcni_snat_cl bucket), every direction: since the maps
 * were made (now) and in the window (base: the window's oldest sample, NULL:
 * none yet), into snat.
 */
static void snat_refused(json_t *snat, const uint64_t *now, const uint64_t *base)
{
	uint64_t total = 0, window = 0;

	for (unsigned int d = 0; d < XCNI_NR_DIRS; d++) {
		__u32 i = XCNI_METRIC_IDX(XCNI_DROP_NAT_CLIENT, d);

		total += now[i];
		window += base && now[i] >= base[i] ? now[i] - base[i] : now[i];
	}
	json_object_update_new(snat, json_pack("{s:I,s:I}", "refused", (json_int_t)total,
					       "refused_window", (json_int_t)window));
}

/* {"window_s": W, "drops": [{reason, direction, packets}...]} largest first;
 * snat: the SNAT budget's refusals (snat_refused). */
static json_t *drops_json(struct agent_status *s, json_t *snat)
{
	uint64_t *now = calloc(XCNI_NR_METRICS, sizeof(*now));
	json_t *o = json_object(), *arr = json_array();
	unsigned int oldest;
	uint64_t t = xcni_mono_ms(), total = 0;

	if (!now || !o || !arr || read_drops(s, now)) {
		free(now);
		json_decref(arr);
		json_object_set_new(o, "error", json_string("xcni_metrics cannot be read"));
		return o;
	}
	/* The oldest sample still in the window (the ring's oldest, at most one step over). */
	oldest = s->nsamples < NSAMPLES ? 0 : s->next;
	snat_refused(snat, now, s->nsamples ? s->samples[oldest] : NULL);
	/* read_drops left every other reason's counters at 0: only drops count here. */
	for (int r = XCNI_REASON_MAX; r >= XCNI_REASON_MIN; r--) {
		for (unsigned int d = 0; d < XCNI_NR_DIRS; d++) {
			__u32 i = XCNI_METRIC_IDX(r, d);
			uint64_t base = s->nsamples ? s->samples[oldest][i] : 0, n;

			n = now[i] >= base ? now[i] - base : now[i];
			if (!n)
				continue;
			total += n;
			json_array_append_new(arr, json_pack("{s:s,s:s,s:I}", "reason",
							    xcni_reason_info(r)->name, "direction",
							    xcni_dir_name(d), "packets",
							    (json_int_t)n));
		}
	}
	json_object_update_new(o, json_pack("{s:I,s:I,s:o}", "window_s",
					    s->nsamples ? (json_int_t)((t - s->sample_ms[oldest]) / 1000) : 0,
					    "packets", (json_int_t)total, "by_reason", arr));
	free(now);
	return o;
}

/* ---- the answer ----------------------------------------------------------------- */

/* NULL when ready; else what is missing. */
static const char *not_ready(const struct agent_status *s)
{
	if (!s->attached)
		return "programs not pinned and attached yet";
	if (!s->applied)
		return s->syncs_failed ? "no generation of cluster state applied yet (the last "
					 "sync failed: xcnid's log says why)" :
					 "no generation of cluster state applied yet";
	return NULL;
}

static json_t *answer(struct agent_status *s)
{
	json_t *o = json_object(), *k = json_object(), *off = json_array(), *cl;
	json_t *snat = json_object();
	struct socklb_use su;
	struct utsname u;
	const char *why = not_ready(s);

	if (!o || !k || !off || !snat) {
		json_decref(o);
		json_decref(k);
		json_decref(off);
		json_decref(snat);
		return NULL;
	}
	json_object_update_new(o, json_pack("{s:s,s:i,s:s,s:s,s:i,s:o,s:I,s:I,s:b}", "node", s->node,
					    "pid", (int)getpid(), "version", XCNI_VERSION,
					    "commit", XCNI_COMMIT, "abi", XCNI_ABI_VERSION,
					    "libbpf", json_sprintf("%u.%u", libbpf_major_version(),
								   libbpf_minor_version()),
					    "started", (json_int_t)s->started, "uptime_s",
					    (json_int_t)((xcni_mono_ms() - s->started_mono_ms) / 1000),
					    "ready", !why));
	json_object_set_new(o, "rss_bytes", json_integer((json_int_t)status_self_rss()));
	if (why)
		json_object_set_new(o, "not_ready", json_string(why));
	json_object_update_new(o, json_pack("{s:b,s:b,s:I,s:I,s:I,s:b,s:I,s:s?}", "pinned_attached",
					    s->attached, "applied", s->applied, "applied_generation",
					    (json_int_t)s->applied_gen, "syncs", (json_int_t)s->syncs,
					    "syncs_failed", (json_int_t)s->syncs_failed, "last_sync_ok",
					    s->last_sync_ok || !s->syncs, "policy_whole_compiles",
					    (json_int_t)pol_whole, "policy_last_whole", pol_whole_why));

	cl = s->backend && s->backend->ops->status ? s->backend->ops->status(s->backend) : NULL;
	if (!cl)
		cl = json_object();
	json_object_update_new(cl, json_pack("{s:s?,s:s}", "source", s->source, "backend",
					     s->backend ? s->backend->ops->name : "none"));
	if (s->backend) {
		struct store_churn top;

		json_object_set_new(cl, "churn_deferred",
				    json_integer((json_int_t)store_churn_deferred(s->backend->store)));
		if (store_churn_top(s->backend->store, &top, 1))
			json_object_set_new(cl, "churn_busiest",
					    json_pack("{s:s, s:I, s:I}", "namespace", top.ns,
						      "deferred", (json_int_t)top.deferred,
						      "pending", (json_int_t)top.pending));
	}
	json_object_set_new(o, "cluster", cl);

	if (!uname(&u))
		json_object_set_new(k, "release", json_string(u.release));
	if (s->probe) {
		json_object_set_new(k, "sock_lb", json_boolean(s->probe->sock_lb));
		json_object_set_new(k, "decap_l3", json_boolean(s->probe->decap_l3));
		if (!s->probe->sock_lb && s->sock_lb_wanted)
			json_array_append_new(off, json_sprintf("socket load balancing (--cgroup-root): "
								"kernel lacks %s (Linux >= %s)",
								s->probe->sock_lb_missing,
								s->probe->sock_lb_since));
		if (!s->probe->decap_l3)
			json_array_append_new(off, json_string("Geneve across address families: kernel "
							       "lacks BPF_F_ADJ_ROOM_DECAP_L3 (Linux >= 6.3)"));
	}
	json_object_set_new(k, "switched_off", off);
	json_object_set_new(o, "kernel", k);
	json_object_set_new(o, "flows", json_pack("{s:b,s:I,s:s?}", "on", s->flows_on, "window",
						  (json_int_t)s->flows_window, "ipfix", s->ipfix));
	json_object_set_new(o, "drops_last_minute", drops_json(s, snat));
	json_object_set_new(o, "nodeport_snat", snat);
	json_object_set_new(o, "listeners",
			    json_pack("{s:{s:b,s:I},s:{s:b,s:I}}", "http", "on", s->http != NULL,
				      "refused", (json_int_t)http_refused(s->http), "flows", "on",
				      s->flows_http != NULL, "refused",
				      (json_int_t)http_refused(s->flows_http)));
	json_object_set_new(o, "services", services_json());
	json_object_set_new(o, "services_closed", svc_closed_json());
	json_object_set_new(o, "fqdn_closed", fqdn_closed_json());
	json_object_set_new(o, "maps_grown", grow_json());
	if (!socklb_use(s->pin_dir, &su))
		json_object_set_new(o, "sock_lb", json_pack("{s:I,s:I,s:I,s:I}", "pods",
							     (json_int_t)su.owners, "records",
							     (json_int_t)su.held, "over_bound",
							     (json_int_t)su.over, "over_bound_most",
							     (json_int_t)su.over_most));
	return o;
}

/* GET /status on the status socket: the answer, one JSON line. */
char *status_text(struct agent_status *s)
{
	json_t *o = answer(s);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return text;
}

static int render_status(void *ctx, const struct http_args *a, char **body, size_t *len)
{
	char *text = status_text(ctx);

	(void)a;
	if (!text)
		return -ENOMEM;
	*len = strlen(text);
	text[(*len)++] = '\n'; /* json_dumps' '\0' becomes the line's end */
	*body = text;
	return 0;
}

/* ---- HTTP ------------------------------------------------------------------------- */

static int healthz(void *ctx, const struct http_args *a, char **body, size_t *len)
{
	(void)ctx;
	(void)a;
	*body = strdup("ok\n");
	if (!*body)
		return -ENOMEM;
	*len = 3;
	return 0;
}

static int readyz(void *ctx, const struct http_args *a, char **body, size_t *len)
{
	struct agent_status *s = ctx;
	const char *why = not_ready(s);
	int n;

	(void)a;
	n = why ? asprintf(body, "not ready: %s\n", why) : asprintf(body, "ok\n");
	if (n < 0) {
		*body = NULL;
		return -ENOMEM;
	}
	*len = (size_t)n;
	return why ? -EAGAIN : 0;
}

int status_route(struct agent_status *s, struct http *h)
{
	int err;

	if (!s || !h)
		return 0;
	err = http_route(h, "/healthz", "text/plain; charset=utf-8", healthz, s);
	if (!err)
		err = http_route(h, "/readyz", "text/plain; charset=utf-8", readyz, s);
	return err;
}

/* ---- process metrics ---------------------------------------------------------------- */

/* The boot time (wall clock, s) from /proc/stat's btime; 0 when unknown. */
static long long boot_time(void)
{
	FILE *f = fopen("/proc/stat", "re");
	char line[256];
	long long bt = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "btime %lld", &bt) == 1)
			break;
	fclose(f);
	return bt;
}

unsigned long long status_self_rss(void)
{
	unsigned long long size = 0, rss = 0;
	long page = sysconf(_SC_PAGESIZE);
	FILE *f = fopen("/proc/self/statm", "re");

	if (f && fscanf(f, "%llu %llu", &size, &rss) != 2)
		rss = 0;
	if (f)
		fclose(f);
	return rss * (unsigned long long)(page > 0 ? page : 4096);
}

void status_metrics_render(FILE *f)
{
	long tck = sysconf(_SC_CLK_TCK);
	unsigned long long ut = 0, st = 0, start = 0, vsize = 0;
	unsigned int fds = 0;
	struct rlimit rl = {};
	char buf[1024], lib[24], abi[12];
	FILE *ps;
	DIR *d;

	/* /proc/self/stat: the fields after the comm's last ')' start at the 3rd. */
	ps = fopen("/proc/self/stat", "re");
	if (ps) {
		size_t r = fread(buf, 1, sizeof(buf) - 1, ps);
		char *q;

		buf[r] = '\0';
		fclose(ps);
		q = strrchr(buf, ')');
		if (q && sscanf(q + 2,
				"%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d "
				"%*d %*d %llu %llu",
				&ut, &st, &start, &vsize) != 4)
			ut = st = start = vsize = 0;
	}
	d = opendir("/proc/self/fd");
	if (d) {
		struct dirent *de;

		while ((de = readdir(d)))
			fds += de->d_name[0] != '.';
		closedir(d);
		fds--; /* the directory's own fd */
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	snprintf(lib, sizeof(lib), "%u.%u", libbpf_major_version(), libbpf_minor_version());
	snprintf(abi, sizeof(abi), "%u", XCNI_ABI_VERSION);
	metrics_family(f, "xcni_build_info", "gauge",
		       "The agent's build: version, git commit, map ABI, libbpf.");
	metrics_series(f, "xcni_build_info", 1, "version", XCNI_VERSION, "commit", XCNI_COMMIT,
		       "abi", abi, "libbpf", lib, NULL);
	metrics_family1(f, "xcni_policy_whole_compiles_total", "counter",
			"Whole compiles of the cluster's policy (every other change is a delta).",
			pol_whole);
	metrics_family(f, "process_cpu_seconds_total", "counter",
		       "Total user and system CPU time spent in seconds.");
	fprintf(f, "process_cpu_seconds_total %.2f\n",
		tck > 0 ? (double)(ut + st) / (double)tck : 0.0);
	metrics_family1(f, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
			status_self_rss());
	metrics_family1(f, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
			vsize);
	metrics_family1(f, "process_open_fds", "gauge", "Number of open file descriptors.", fds);
	metrics_family1(f, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
			rl.rlim_cur);
	metrics_family(f, "process_start_time_seconds", "gauge",
		       "Start time of the process since unix epoch in seconds.");
	fprintf(f, "process_start_time_seconds %.2f\n",
		(double)boot_time() + (tck > 0 ? (double)start / (double)tck : 0.0));
	if (churn_st) {
		struct store_churn top[CHURN_SERIES];
		size_t n = store_churn_top(churn_st, top, CHURN_SERIES);
		uint64_t rest = store_churn_deferred(churn_st);

		fprintf(f, "# HELP xcni_namespace_churn_deferred_total Changes of a namespace's "
			   "objects past its churn bound (--ns-churn-*), applied later together; "
			   "the %d namespaces that deferred most, the others as \"(others)\".\n"
			   "# TYPE xcni_namespace_churn_deferred_total counter\n", CHURN_SERIES);
		for (size_t i = 0; i < n; i++) {
			metrics_series(f, "xcni_namespace_churn_deferred_total", top[i].deferred,
				       "namespace", top[i].ns, NULL);
			rest -= top[i].deferred;
		}
		metrics_series(f, "xcni_namespace_churn_deferred_total", rest, "namespace", "(others)",
			       NULL);
	}
	metrics_family1(f, "xcni_svc_external_ips_refused", "gauge",
			"Service externalIP and load-balancer IP frontends refused: in the Service "
			"or pod ranges, on a "
			"node's address, outside --external-ip-cidrs, or on another Service's "
			"frontend (xcnictl status names them).", svc_refused);
	metrics_family(f, "xcni_services_refused", "gauge",
		       "Services refused whole for a size bound, by namespace and bound: frontends "
		       "(spec.ports x addresses past 65535) or backends (a port's endpoints past what "
		       "a frontend holds); xcnictl status names them.");
	for (size_t i = 0; i < nbnd; i++)
		metrics_series(f, "xcni_services_refused", bnd[i].n, "namespace", bnd[i].ns, "reason",
			       bnd[i].reason, NULL);
	{
		const struct svcsync_closed *cl = NULL;
		size_t ncl = 0;

		if (svc_writer)
			cl = svcsync_closed(svc_writer, &ncl);
		metrics_family1(f, "xcni_service_namespaces_closed", "gauge",
				"Namespaces whose new or changed Service frontends are not "
				"programmed: over their share (--service-ns-share), or the Service "
				"maps had no room and they brought the most (named in xcnid's log "
				"and `xcnictl status`).", ncl);
		metrics_family(f, "xcni_service_frontends_closed", "gauge",
			       "Frontends not programmed, by closed namespace, the map and the "
			       "reason: share (over the namespace's share of it) or full.");
		for (size_t i = 0; i < ncl; i++)
			metrics_series(f, "xcni_service_frontends_closed", cl[i].frontends,
				       "namespace", cl[i].ns, "map", cl[i].map, "reason",
				       cl[i].share ? "share" : "full", NULL);
	}
	metrics_family(f, "xcni_fqdn_pairs_closed", "gauge",
		       "(pod, pattern) pairs of domainNames not written, by namespace closed: "
		       "xcni_fqdn_pat had no room and it brought the most (its pods' names are "
		       "refused; xcnid's log and `xcnictl status` name it).");
	for (size_t i = 0; i < fqc.n; i++)
		metrics_series(f, "xcni_fqdn_pairs_closed", fqc.pairs[i], "namespace", fqc.ns[i],
			       NULL);
	polstatus_metrics(f);
}

/* ---- setup ---------------------------------------------------------------------------- */

int status_open(const char *pin_dir, const char *node, struct agent_status **out)
{
	struct agent_status *s = calloc(1, sizeof(*s));
	int err = -ENOMEM;

	if (!s)
		return -ENOMEM;
	s->epfd = s->tfd = s->metrics_fd = -1;
	s->started = time(NULL);
	s->started_mono_ms = xcni_mono_ms();
	snprintf(s->pin_dir, sizeof(s->pin_dir), "%s", pin_dir);
	snprintf(s->node, sizeof(s->node), "%s", node ? node : "");
	for (int i = 0; i < NSAMPLES; i++)
		if (!(s->samples[i] = calloc(XCNI_NR_METRICS, sizeof(uint64_t))))
			goto fail;
	if ((err = agent_status_sock_path(pin_dir, s->sock, sizeof(s->sock)))) {
		pr_err("status: pin dir %s makes a socket path too long\n", pin_dir);
		goto fail;
	}
	if ((err = http_open_unix(s->sock, &s->local)) ||
	    (err = http_route(s->local, AGENT_STATUS_PATH, "application/json", render_status, s)))
		goto fail;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0 || (s->tfd = xcni_epoll_ticker(s->epfd, AGENT_DROP_STEP_S, TAG_TIMER)) < 0 ||
	    (err = xcni_epoll_add(s->epfd, http_fd(s->local), TAG_LISTEN))) {
		err = s->epfd < 0 ? -errno : s->tfd < 0 ? s->tfd : err;
		goto fail;
	}
	sample(s); /* the window starts with the agent */
	/* Beside the socket: when each policy reached the maps (not fatal). */
	polstatus_open(pin_dir, node);
	*out = s;
	return 0;
fail:
	status_free(s);
	return err;
}

int status_fd(const struct agent_status *s)
{
	return s ? s->epfd : -1;
}

void status_dispatch(struct agent_status *s)
{
	struct epoll_event evs[4];
	int n;

	if (!s)
		return;
	n = epoll_wait(s->epfd, evs, 4, 0);
	for (int i = 0; i < n; i++) {
		if (evs[i].data.u64 == TAG_TIMER) {
			uint64_t ticks;

			if (read(s->tfd, &ticks, sizeof(ticks)) == sizeof(ticks))
				sample(s);
		} else {
			http_dispatch(s->local);
		}
	}
}

void status_free(struct agent_status *s)
{
	if (!s)
		return;
	if (s->local) {
		http_free(s->local);
		unlink(s->sock);
	}
	polstatus_close();
	xcni_close(&s->tfd);
	xcni_close(&s->epfd);
	xcni_close(&s->metrics_fd);
	for (int i = 0; i < NSAMPLES; i++)
		free(s->samples[i]);
	free(s);
}

void status_set_probe(struct agent_status *s, const struct probe_result *pr, bool sock_lb_wanted)
{
	if (!s)
		return;
	s->probe = pr;
	s->sock_lb_wanted = sock_lb_wanted;
}

void status_set_cluster(struct agent_status *s, const char *source, struct cs_backend *b)
{
	if (!s)
		return;
	s->source = source;
	s->backend = b;
	churn_st = b ? b->store : NULL;
	s->cluster = source != NULL;
}

void status_set_flows(struct agent_status *s, bool on, size_t window, const char *ipfix)
{
	if (!s)
		return;
	s->flows_on = on;
	s->flows_window = window;
	s->ipfix = ipfix;
}

void status_set_listeners(struct agent_status *s, const struct http *hs, const struct http *flows)
{
	if (!s)
		return;
	s->http = hs;
	s->flows_http = flows;
}

void status_set_attached(struct agent_status *s)
{
	if (!s)
		return;
	s->attached = true;
	if (!s->cluster)
		s->applied = true; /* no cluster state to wait for */
}

void status_policy(struct agent_status *s, size_t whole, const char *why)
{
	(void)s;
	pol_whole = whole;
	pol_whole_why = why;
}

void status_synced(struct agent_status *s, bool ok, uint64_t gen)
{
	if (!s)
		return;
	s->syncs++;
	s->last_sync_ok = ok;
	if (!ok) {
		s->syncs_failed++;
		return;
	}
	s->applied = true;
	s->applied_gen = gen;
}
