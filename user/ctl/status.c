// SPDX-License-Identifier: Apache-2.0
/*
 * xcnictl status: one node's health (or every lab node's) and a verdict.
 *
 * The facts come from three places, each read where it lives:
 *   - xcnid's status socket (lib/observe/agentstatus.h): what only the agent
 *     knows (version, up since, readiness, the cluster connection, the kernel
 *     features it probed and switched off, drops of the last minute). No
 *     answer there: the agent is DOWN, whatever the maps still do.
 *   - the pinned maps: the node config (generations, counts, overflow,
 *     names missing, address conflicts), every hash and LPM map's fill.
 *   - the kernel: who runs first on each of xcni's hooks and how xcni's
 *     program is attached there (TCX or tc), as `xcnictl hook list` has it.
 * With flows on, the flows socket's trailer says how the flow log and IPFIX
 * export are doing.
 *
 * Verdict: DOWN (no maps, or no agent answering), DEGRADED (something named:
 * not ready, a failed generation, a map at STATUS_FULL_PCT or more, pods
 * closed for room, names missing, address conflicts, a foreign program
 * first, API kinds unavailable, a feature asked for and switched off, flow
 * export errors), else OK. Exit 0 for OK, 1 otherwise, 2 for usage.
 *
 * --node NAME|all: each lab node is read by a child that enters its network
 * namespace (device names resolve as on the node) and writes its JSON back.
 */
#include <dirent.h>
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <time.h>

#include "ctl/ctl.h"
#include "lib/observe/agentstatus.h"
#include "lib/observe/flowsnet.h"
#include "lib/observe/flows.h"
#include "lib/system/attach.h"
#include "lib/system/bpfpin.h"

#define STATUS_FULL_PCT 90 /* a map this full (not an LRU) is DEGRADED */
#define STATUS_SOCK_TIMEOUT_S 5
#define STATUS_WAIT_DEFAULT_S 120

/* ---- one node ----------------------------------------------------------------- */

/* A problem, in printf's words, appended to problems. */
__attribute__((format(printf, 2, 3))) static void problem(json_t *problems, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	json_array_append_new(problems, json_vsprintf(fmt, ap));
	va_end(ap);
}

/* GET path (with req's name=value lines) from the agent on its Unix socket. */
static int ask_local(const char *sock, const char *path, const char *req, char **out)
{
	char why[600];
	size_t len;

	return flows_local_get(sock, path, req, STATUS_SOCK_TIMEOUT_S, out, &len, why,
			       sizeof(why));
}

struct mapfill {
	char name[64];
	__u32 type;
	long entries;
	__u32 max;
};

static int fill_cmp(const void *a, const void *b)
{
	const struct mapfill *x = a, *y = b;
	double fx = x->max ? (double)x->entries / x->max : 0, fy = y->max ? (double)y->entries / y->max : 0;

	if (fx != fy)
		return fx < fy ? 1 : -1;
	return strcmp(x->name, y->name);
}

static bool lru(__u32 type)
{
	return type == BPF_MAP_TYPE_LRU_HASH || type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

/*
 * Every pinned hash or LPM map of xcni's under the pin dir, fullest first;
 * the kernel memory of every pinned map of xcni's (any type) into *mem:
 * maps_bytes, maps, the largest.
 */
static json_t *maps_json(const struct ctl_ctx *c, json_t *problems, json_t *mem)
{
	struct mapfill *v = NULL;
	size_t n = 0, cap = 0, nmem = 0;
	unsigned long long total = 0, big = 0, b;
	char bigname[BPF_OBJ_NAME_LEN] = "";
	json_t *arr = json_array();
	struct dirent *de;
	DIR *d = opendir(c->pin_dir);

	while (d && (de = readdir(d))) {
		struct bpf_map_info info;
		long cnt;
		int fd;

		if (strncmp(de->d_name, "xcni_", 5) ||
		    (fd = xcni_pin_info(c->pin_dir, de->d_name, &info)) < 0)
			continue;
		b = xcni_fd_memlock(fd);
		total += b;
		nmem++;
		if (b > big) {
			big = b;
			snprintf(bigname, sizeof(bigname), "%s", info.name);
		}
		if ((info.type != BPF_MAP_TYPE_HASH && info.type != BPF_MAP_TYPE_LRU_HASH &&
		     info.type != BPF_MAP_TYPE_LPM_TRIE && info.type != BPF_MAP_TYPE_PERCPU_HASH &&
		     info.type != BPF_MAP_TYPE_LRU_PERCPU_HASH)) {
			close(fd);
			continue;
		}
		cnt = xcni_map_entries(fd, info.key_size, LONG_MAX);
		close(fd);
		if (cnt < 0)
			continue;
		if (XCNI_GROW(v, n, cap))
			break;
		snprintf(v[n].name, sizeof(v[n].name), "%.63s", de->d_name);
		v[n].type = info.type;
		v[n].entries = cnt;
		v[n].max = info.max_entries;
		n++;
	}
	if (d)
		closedir(d);
	json_object_update_new(mem, json_pack("{s:I,s:I,s:{s:s,s:I}}", "maps_bytes",
					      (json_int_t)total, "maps", (json_int_t)nmem, "largest",
					      "map", bigname, "bytes", (json_int_t)big));
	if (n)
		qsort(v, n, sizeof(*v), fill_cmp);
	for (size_t i = 0; i < n; i++) {
		unsigned int pct = v[i].max ? (unsigned int)(v[i].entries * 100 / v[i].max) : 0;

		json_array_append_new(arr, json_pack("{s:s,s:I,s:I,s:i,s:b}", "map", v[i].name,
						    "entries", (json_int_t)v[i].entries, "max_entries",
						    (json_int_t)v[i].max, "fill_pct", pct, "lru",
						    lru(v[i].type)));
		if (pct >= STATUS_FULL_PCT && !lru(v[i].type))
			problem(problems, "map %s %ld/%u full (%u%%): xcnid --map-max %s=N sizes it",
				v[i].name, v[i].entries, v[i].max, pct, v[i].name);
	}
	free(v);
	return arr;
}

/* Pods closed because their policy did not fit (xcni_polep, XCNI_POLEP_OVERFLOW), by namespace. */
static json_t *overflow_json(const struct ctl_ctx *c)
{
	json_t *pods = json_array(), *nss = json_object();
	int fd = map_open_quiet(c, &m_polep), nfd = map_open_quiet(c, &m_podname);
	__u32 key, next, *prev = NULL;
	struct xcni_polep pe;
	char name[400], ipb[INET_ADDRSTRLEN], *slash;

	while (fd >= 0 && !bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &pe) || !(pe.isolated & XCNI_POLEP_OVERFLOW) ||
		    (pe.isolated & XCNI_POLEP_CONTESTED))
			continue;
		if (!pod_of_ip(nfd, key, name, sizeof(name)))
			snprintf(name, sizeof(name), "%s", xcni_ip4_str(key, ipb));
		json_array_append_new(pods, json_string(name));
		slash = strchr(name, '/');
		if (slash) {
			*slash = '\0';
			json_object_set_new(nss, name, json_integer(
				json_integer_value(json_object_get(nss, name)) + 1));
		}
	}
	xcni_close(&fd);
	xcni_close(&nfd);
	return json_pack("{s:o,s:o}", "pods", pods, "namespaces", nss);
}

/* A map's entries (hash), or -1 when it is not there. */
static long map_count(const struct ctl_ctx *c, const struct map_spec *m)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int fd = map_open_quiet(c, m);
	long n;

	if (fd < 0)
		return -1;
	n = bpf_map_get_info_by_fd(fd, &info, &len) ? -1 :
							xcni_map_entries(fd, info.key_size, LONG_MAX);
	close(fd);
	return n;
}

/* Distinct Services (ns/name) in xcni_svcname, or -1. */
static long services_count(const struct ctl_ctx *c)
{
	int fd = map_open_quiet(c, &m_svcname);
	json_t *seen = json_object();
	__u32 key, next, *prev = NULL;
	struct xcni_svcname sn;
	long n;

	if (fd < 0) {
		json_decref(seen);
		return -1;
	}
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		char nm[140];

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &sn))
			continue;
		snprintf(nm, sizeof(nm), "%.64s/%.64s", sn.ns, sn.name);
		json_object_set_new(seen, nm, json_true());
	}
	close(fd);
	n = (long)json_object_size(seen);
	json_decref(seen);
	return n;
}

struct hookw {
	json_t *arr, *problems;
	unsigned int tcx, tc, foreign;
};

static void hook_fn(const struct xcni_hook *h, void *arg)
{
	struct hookw *w = arg;
	json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "device", h->dev, "hook",
			      h->egress ? "egress" : "ingress", "program", h->prog, "mode",
			      h->mode ? h->mode : "?");

	if (h->first < 0) {
		json_object_set_new(o, "error", json_string(strerror(-h->first)));
	} else {
		json_object_set_new(o, "xcni_first", json_boolean(h->first));
		if (!h->first) {
			json_object_set_new(o, "before", json_string(h->who));
			problem(w->problems, "%s %s: %s runs before xcni's %s", h->dev,
				h->egress ? "egress" : "ingress", h->who, h->prog);
			w->foreign++;
		}
	}
	if (h->mode && !strcmp(h->mode, "tcx"))
		w->tcx++;
	else
		w->tc++;
	json_array_append_new(w->arr, o);
}

/* The flows socket's trailer (the last line): log and IPFIX figures. NULL: no answer. */
static json_t *flows_json(const char *pin_dir, json_t *problems)
{
	char sock[108], *ans = NULL, *last;
	json_t *o;
	int err;

	if (flows_sock_path(pin_dir, sock, sizeof(sock)))
		return NULL;
	err = ask_local(sock, NULL, "last=1\n", &ans);
	if (err) {
		problem(problems, "flows: no answer on %s: %s", sock, strerror(-err));
		return NULL;
	}
	ans[strlen(ans) - (ans[strlen(ans) - 1] == '\n')] = '\0';
	last = strrchr(ans, '\n');
	o = json_loads(last ? last + 1 : ans, 0, NULL);
	free(ans);
	if (o && json_integer_value(json_object_get(o, "ipfix_errors")) > 0)
		problem(problems, "IPFIX: %lld messages could not be sent",
			(long long)json_integer_value(json_object_get(o, "ipfix_errors")));
	if (o && json_integer_value(json_object_get(o, "log_errors")) > 0)
		problem(problems, "flow log: %lld write errors",
			(long long)json_integer_value(json_object_get(o, "log_errors")));
	return o;
}

static const char *verdict_of(json_t *node)
{
	return json_string_value(json_object_get(node, "verdict"));
}

/* The agent's status answer for pin_dir, asked on sock; NULL: none (*err: why, 0 for
 * an answer that is no JSON). */
static json_t *agent_ask(const char *pin_dir, char sock[108], int *err)
{
	char *ans = NULL;
	json_t *a = NULL;

	*err = agent_status_sock_path(pin_dir, sock, 108) ? -ENAMETOOLONG : ask_local(sock, AGENT_STATUS_PATH, "", &ans);
	if (!*err)
		a = json_loads(ans, 0, NULL);
	free(ans);
	return a;
}

const char *svc_closed_why(const json_t *v)
{
	static char why[96];
	const char *map = json_string_value(json_object_get(v, "map")) ?: "?";
	const char *r = json_string_value(json_object_get(v, "reason"));

	if (r && !strcmp(r, "share"))
		snprintf(why, sizeof(why), "over its namespace's share of %s", map);
	else
		snprintf(why, sizeof(why), "%s full", map);
	return why;
}

json_t *agent_answer(const struct ctl_ctx *c)
{
	char sock[108];
	int err;

	return agent_ask(c->pin_dir, sock, &err);
}

/* What is wrong by the agent's own answer, appended to problems. */
static void agent_problems(json_t *agent, json_t *problems)
{
	json_t *cl = json_object_get(agent, "cluster"), *off, *v;
	size_t i;

	json_object_set_new(agent, "running", json_true());
	if (!json_is_true(json_object_get(agent, "ready")))
		problem(problems, "agent not ready: %s",
			json_string_value(json_object_get(agent, "not_ready")) ?: "?");
	json_array_foreach(json_object_get(cl, "kinds"), i, v) {
		long long st = json_integer_value(json_object_get(v, "last_status"));

		if (!json_is_true(json_object_get(v, "unavailable")))
			continue;
		if (st)
			problem(problems, "API server: %s unavailable (HTTP %lld): not programmed",
				json_string_value(json_object_get(v, "kind")), st);
		else
			problem(problems, "API server: %s unavailable (no HTTP answer): not programmed",
				json_string_value(json_object_get(v, "kind")));
	}
	/* Services refused whole for a size bound: each named, in the agent's words. */
	json_array_foreach(json_object_get(json_object_get(agent, "services"), "bounded"), i, v)
		problem(problems, "%s", json_string_value(v) ?: "?");
	/* Namespaces closed for Service room (over their share, the maps full): each named. */
	json_array_foreach(json_object_get(agent, "services_closed"), i, v)
		problem(problems,
			"namespace %s closed for Service room: %lld frontends not programmed (%s; %s)",
			json_string_value(json_object_get(v, "namespace")),
			json_integer_value(json_object_get(v, "frontends")), svc_closed_why(v),
			json_string_value(json_object_get(v, "fix")) ?: "xcnid --map-max");
	/* Namespaces closed for DNS-pattern room (xcni_fqdn_pat full): each named. */
	json_array_foreach(json_object_get(agent, "fqdn_closed"), i, v)
		problem(problems,
			"namespace %s closed for DNS-pattern room: %lld (pod, pattern) pairs not "
			"written, its pods' domainNames refused (xcni_fqdn_pat full; xcnid "
			"--map-max)", json_string_value(json_object_get(v, "namespace")),
			json_integer_value(json_object_get(v, "pairs")));
	off = json_object_get(json_object_get(agent, "kernel"), "switched_off");
	json_array_foreach(off, i, v)
		if (strstr(json_string_value(v) ?: "", "--cgroup-root"))
			problem(problems, "switched off: %s", json_string_value(v));
}

/* The agent's own answer; no answer: *down, and why says so. */
static json_t *agent_json(const struct ctl_ctx *c, json_t *problems, bool *down, char *why,
			  size_t whylen)
{
	char sock[108];
	int err;
	json_t *agent = agent_ask(c->pin_dir, sock, &err);

	if (!agent) {
		*down = true;
		snprintf(why, whylen, "no agent answers on %s (%s): xcnid is not running for %s",
			 sock, strerror(err ? -err : EPROTO), c->pin_dir);
		return json_pack("{s:b,s:s}", "running", 0, "error", why);
	}
	agent_problems(agent, problems);
	return agent;
}

void agent_print_svc_refused(const struct ctl_ctx *c, FILE *f)
{
	json_t *a = agent_answer(c), *s = json_object_get(a, "services"), *v;
	size_t i;

	if (json_integer_value(json_object_get(s, "external_ips_refused")) > 0) {
		fprintf(f, "\n%lld externalIP or load-balancer IP frontend(s) refused by xcnid:\n",
			(long long)json_integer_value(json_object_get(s, "external_ips_refused")));
		json_array_foreach(json_object_get(s, "refused"), i, v)
			fprintf(f, "  %s\n", json_string_value(v) ?: "");
	}
	json_decref(a);
}

/* The NodePort fast path (xcnid --nodeport-acceleration): its mode and
 * the frontends' packets it sent (IPv4, IPv6; of them, those its flow
 * cache answered) or handed on to tc. */
static json_t *npaccel_json(const struct ctl_ctx *c, const struct xcni_config *cfg)
{
	__u64 n[XCNI_NPA_NR] = {};
	int nfd = map_open_quiet(c, &m_npaccel);

	for (__u32 k = 0; nfd >= 0 && k < XCNI_NPA_NR; k++) {
		struct xcni_metric v;

		if (!xcni_percpu_sum(nfd, &k, &v, sizeof(v)))
			n[k] = v.packets;
	}
	xcni_close(&nfd);
	return json_pack("{s:s,s:I,s:I,s:I,s:I}", "mode",
			 cfg->np_accel == XCNI_NPA_NATIVE  ? "native" :
			 cfg->np_accel == XCNI_NPA_GENERIC ? "generic" : "off",
			 "xdp4_packets", (json_int_t)n[XCNI_NPA_XDP4], "xdp6_packets",
			 (json_int_t)n[XCNI_NPA_XDP6], "cache_packets", (json_int_t)n[XCNI_NPA_CACHE],
			 "tc_packets", (json_int_t)n[XCNI_NPA_TC]);
}

/* The node config map's record, and the problems it names. */
static json_t *config_json(const struct ctl_ctx *c, struct xcni_config *cfg, json_t *problems)
{
	json_t *cfgj;
	bool torn;

	cfg->node_name[sizeof(cfg->node_name) - 1] = '\0';
	cfg->error[sizeof(cfg->error) - 1] = '\0';
	cfgj = json_pack("{s:s,s:i,s:I,s:I,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:s}", "node_name", cfg->node_name,
			 "abi", cfg->abi_version, "applied_generation", (json_int_t)cfg->applied_gen,
			 "failed_generation", (json_int_t)cfg->failed_gen, "identities",
			 cfg->nr_identities, "policies", cfg->nr_policies, "policy_endpoints",
			 cfg->nr_endpoints_policy, "policy_endpoints_overflow",
			 cfg->nr_endpoints_overflow, "names_missing", cfg->nr_names_missing,
			 "address_conflicts", cfg->nr_addr_contested, "addresses_yielded",
			 cfg->nr_addr_yielded, "xdp",
			 cfg->xdp_mode == 1u << 2 ? "native" : cfg->xdp_mode == 1u << 1 ? "generic" :
			 cfg->xdp_mode == XCNI_XDP_MODE_TC ? "tc" : cfg->xdp_mode ? "other" : "none");
	if (cfg->failed_gen && cfg->failed_gen >= cfg->applied_gen) {
		json_object_set_new(cfgj, "error", json_string(cfg->error));
		problem(problems, "generation %llu could not be applied: %s",
			(unsigned long long)cfg->failed_gen, cfg->error);
	}
	if (cfg->nr_endpoints_overflow)
		problem(problems, "%u pods closed: their policy did not fit the maps "
			"(drop-policy-overflow)", cfg->nr_endpoints_overflow);
	if (cfg->nr_names_missing)
		problem(problems, "%u names missing: the maps of names are full (shown as numbers)",
			cfg->nr_names_missing);
	if (cfg->nr_addr_contested)
		problem(problems, "%u pods claim an address another claims (drop-addr-contested)",
			cfg->nr_addr_contested);
	json_object_update_new(cfgj, json_pack("{s:o,s:s?,s:s?}", "nodeport_acceleration",
					       npaccel_json(c, cfg), "overlay_decap",
					       ctl_overlay_decap(c->pin_dir, &torn), "tunnel_family",
					       ctl_tunnel_family(cfg)));
	if (torn)
		problem(problems, "overlay decapsulation: xdp_underlay's record cookie is not "
			"from_overlay's, which drops what XDP decapsulated (drop-outside-spoof): "
			"restart xcnid");
	return cfgj;
}

/* Pods closed for room, by namespace; a namespace over its share is a problem. */
static json_t *overflow_checked(const struct ctl_ctx *c, json_t *problems)
{
	json_t *ov = overflow_json(c);
	const char *ns;
	json_t *v;
	char nsl[300] = "";
	size_t off = 0;

	json_object_foreach(json_object_get(ov, "namespaces"), ns, v)
		off += (size_t)snprintf(nsl + off, off < sizeof(nsl) ? sizeof(nsl) - off : 0,
					"%s%s (%lld)", off ? ", " : "", ns,
					(long long)json_integer_value(v));
	if (off)
		problem(problems, "namespaces over their share of the policy maps: %s", nsl);
	return ov;
}

/* Counts, maps, hooks and flows into o; the problems they name into problems. */
static void node_facts(const struct ctl_ctx *c, const struct xcni_config *cfg, json_t *agent,
		       bool down, json_t *o, json_t *problems)
{
	struct hookw hw = { .arr = json_array(), .problems = problems };
	json_t *mem = json_object();
	long svcs = services_count(c);
	int err;

	/* No Service maps: this node's Services are kube-proxy's (null). */
	json_object_set_new(o, "counts", json_pack("{s:I,s:o,s:i,s:i}",
		"endpoints", (json_int_t)map_count(c, &m_endpoints),
		"services", svcs < 0 ? json_null() : json_integer(svcs),
		"policies", cfg->nr_policies, "identities", cfg->nr_identities));
	json_object_set_new(o, "maps", maps_json(c, problems, mem));
	/* The agent's RSS beside its maps: one figure of what xcni costs the node. */
	if (!down && json_is_integer(json_object_get(agent, "rss_bytes")))
		json_object_set(mem, "rss_bytes", json_object_get(agent, "rss_bytes"));
	json_object_update_new(o, json_pack("{s:o,s:o}", "memory", mem, "overflow",
					    overflow_checked(c, problems)));
	err = xcni_hooks_walk(c->pin_dir, (int)cfg->underlay_ifindex, hook_fn, &hw);
	if (err)
		problem(problems, "hooks: cannot look: %s", strerror(-err));
	json_object_update_new(o, json_pack("{s:o,s:{s:i,s:i,s:i}}", "hooks", hw.arr, "hooks_summary",
					    "tcx", hw.tcx, "tc", hw.tc, "foreign_first", hw.foreign));
	if (!down && json_is_true(json_object_get(json_object_get(agent, "flows"), "on"))) {
		json_t *f = flows_json(c->pin_dir, problems);

		if (f)
			json_object_set_new(o, "flows", f);
	}
}

/* Everything about the node whose maps are under c->pin_dir (this netns). */
static json_t *node_status(const struct ctl_ctx *c, const char *name)
{
	json_t *o = json_pack("{s:s?,s:s}", "node", name, "pin_dir", c->pin_dir);
	json_t *problems = json_array(), *agent;
	char why[300] = "";
	struct xcni_config cfg;
	__u32 k = 0;
	bool down = false;
	int fd;

	fd = map_open_quiet(c, &m_config);
	if (fd < 0 || bpf_map_lookup_elem(fd, &k, &cfg)) {
		snprintf(why, sizeof(why), "no xcni maps pinned under %s (no agent ever started here?)",
			 c->pin_dir);
		xcni_close(&fd);
		json_object_update_new(o, json_pack("{s:s,s:s}", "verdict", "DOWN", "why", why));
		json_decref(problems);
		return o;
	}
	close(fd);

	agent = agent_json(c, problems, &down, why, sizeof(why));
	json_object_update_new(o, json_pack("{s:o,s:o}", "agent", agent, "config",
					    config_json(c, &cfg, problems)));
	node_facts(c, &cfg, agent, down, o, problems);

	json_object_set_new(o, "problems", problems);
	json_object_set_new(o, "verdict", json_string(down ? "DOWN" :
						      json_array_size(problems) ? "DEGRADED" : "OK"));
	if (down)
		json_object_set_new(o, "why", json_string(why));
	return o;
}

/* ---- text ------------------------------------------------------------------------- */

static const char *dur(long long s, char *buf, size_t len)
{
	if (s < 60)
		snprintf(buf, len, "%llds", s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm%02llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%lldh%02lldm", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
	return buf;
}

/* The member of o at path, up to a '}' ("flows.window": a dot between keys), or NULL. */
static json_t *jat(json_t *o, const char *path)
{
	char key[128], *k, *save;

	snprintf(key, sizeof(key), "%.*s", (int)strcspn(path, "}"), path);
	for (k = strtok_r(key, ".", &save); o && k; k = strtok_r(NULL, ".", &save))
		o = json_object_get(o, k);
	return o;
}

#define jint(o, path) ((long long)json_integer_value(jat((o), (path))))

/*
 * printf, o's members put into fmt first: "{a.b}" the string at that path (""
 * if none), "{#a.b}" its integer (0 if none), "{~a.b}" its seconds as dur()
 * writes them, "{^a.b}" its bytes in MiB to a tenth. The text lines are the
 * JSON's members in words: one template a line says which.
 */
__attribute__((format(printf, 2, 3))) static void jprintf(json_t *o, const char *fmt, ...)
{
	char f[8192], v[4096];
	size_t n = 0;
	va_list ap;

	for (const char *p = fmt; *p && n < sizeof(f) - 1; p++) {
		char kind = *p == '{' && strchr("#~^", p[1]) ? p[1] : 0;
		json_t *j = *p == '{' && strchr(p, '}') ? jat(o, p + 1 + !!kind) : NULL;

		if (*p != '{' || !strchr(p, '}')) {
			f[n++] = *p;
			continue;
		}
		if (kind == '#')
			snprintf(v, sizeof(v), "%lld", (long long)json_integer_value(j));
		else if (kind == '~')
			dur((long long)json_number_value(j), v, sizeof(v));
		else if (kind == '^')
			snprintf(v, sizeof(v), "%.1f", (double)json_integer_value(j) / (1 << 20));
		else
			snprintf(v, sizeof(v), "%s", json_string_value(j) ?: "");
		for (const char *s = v; *s && n < sizeof(f) - 2; s++)
			n += (size_t)((f[n] = *s) == '%' ? (f[n + 1] = '%', 2) : 1);
		p = strchr(p, '}');
	}
	f[n] = '\0';
	va_start(ap, fmt);
	vprintf(f, ap);
	va_end(ap);
}

/* Agent: and Cluster: lines. */
static void print_agent(json_t *n)
{
	json_t *a = json_object_get(n, "agent"), *cl = json_object_get(a, "cluster");
	bool last = json_is_string(json_object_get(a, "policy_last_whole"));

	if (json_is_true(json_object_get(a, "running")))
		jprintf(a, "Agent:       running, pid {#pid}, xcnid {version} (commit {commit}, ABI {#abi}, "
			"libbpf {libbpf}), up {~uptime_s}, %s\n",
			json_is_true(json_object_get(a, "ready")) ? "ready" : "NOT READY");
	else
		jprintf(a, "Agent:       DOWN: {error}\n");
	if (!cl) {
		jprintf(n, "Cluster:     generation {#config.applied_generation} applied\n");
		return;
	}
	if (!json_is_string(json_object_get(cl, "source"))) {
		printf("Cluster:     none (xcnid without --manifests or --kubeconfig): nothing to apply\n");
		return;
	}
	jprintf(cl, "Cluster:     {backend} {source}");
	if (json_object_get(cl, "kinds")) {
		printf(", %s", json_is_true(json_object_get(cl, "synced")) ? "every kind listed" : "listing");
		if (json_is_number(json_object_get(cl, "last_event_age_s")))
			jprintf(cl, ", last event {~last_event_age_s} ago");
		if (jint(cl, "kinds_unavailable"))
			jprintf(cl, ", {#kinds_unavailable} kinds unavailable");
		if (json_is_string(json_object_get(cl, "last_error")))
			jprintf(cl, ", last error {~last_error_age_s} ago: {last_error}");
	}
	jprintf(n, "; generation {#config.applied_generation} applied, {#agent.syncs_failed} of "
		"{#agent.syncs} syncs failed");
	/* A namespace over its churn bound: its changes wait, the others' do not. */
	if (json_object_get(cl, "churn_busiest"))
		jprintf(cl, "; {#churn_deferred} changes deferred by the namespace churn bound, most from "
			"{churn_busiest.namespace} ({#churn_busiest.deferred}, {#churn_busiest.pending} waiting)");
	/* A whole compile costs the cluster, not the change: what keeps causing them. */
	if (json_object_get(a, "policy_whole_compiles"))
		jprintf(a, "; policy compiled whole {#policy_whole_compiles} times%s{policy_last_whole}%s",
			last ? " (last: " : "", last ? ")" : "");
	printf("\n");
}

/* Kernel: and Hooks: lines. */
static void print_kernel_hooks(json_t *n)
{
	json_t *k = jat(n, "agent.kernel"), *hs = json_object_get(n, "hooks_summary"), *v;
	json_t *cfg = json_object_get(n, "config"), *na = json_object_get(cfg, "nodeport_acceleration");
	size_t i;

	if (k) {
		json_t *off = json_object_get(k, "switched_off");

		jprintf(k, "Kernel:      {release}; socket LB %s, cross-family Geneve %s; switched off: %s",
			json_is_true(json_object_get(k, "sock_lb")) ? "yes" : "no",
			json_is_true(json_object_get(k, "decap_l3")) ? "yes" : "no",
			json_array_size(off) ? "" : "nothing");
		json_array_foreach(off, i, v)
			printf("%s%s", i ? "; " : "", json_string_value(v));
		printf("\n");
	}
	jprintf(hs, "Hooks:       {#tcx} TCX, {#tc} tc");
	if (!jint(hs, "tcx") && !jint(hs, "tc")) {
		printf(" (no pods, no underlay yet)");
	} else if (jint(hs, "foreign_first")) {
		jprintf(hs, "; a foreign program first on {#foreign_first}:");
		json_array_foreach(json_object_get(n, "hooks"), i, v)
			if (json_is_false(json_object_get(v, "xcni_first")))
				jprintf(v, " {device} {hook} ({before})");
	} else {
		printf("; xcni first on every one");
	}
	jprintf(cfg, "; XDP {xdp}");
	if (json_is_string(json_object_get(cfg, "overlay_decap")))
		jprintf(cfg, "; Geneve decapsulated at {overlay_decap}");
	/* Only when asked for: auto is what every node did before the option. */
	if (!strcmp(jstr(cfg, "tunnel_family"), "ipv6"))
		printf("; tunnels over IPv6 to every node with an IPv6 InternalIP "
		       "(--tunnel-family ipv6)");
	if (na && strcmp(jstr(na, "mode"), "off"))
		jprintf(na, "; NodePort acceleration {mode} (%lld packets at XDP, {#cache_packets} of "
			"them from the flow cache, {#tc_packets} to tc)",
			jint(na, "xdp4_packets") + jint(na, "xdp6_packets"));
	printf("\n");
}

/* Memory:, Maps:, Counts: and Policy: lines. */
static void print_maps_counts(json_t *n)
{
	json_t *cnt = json_object_get(n, "counts"), *mem = json_object_get(n, "memory"), *v;
	json_t *full = json_array_get(json_object_get(n, "maps"), 0);
	size_t i;

	printf("Memory:      ");
	if (json_is_integer(json_object_get(mem, "rss_bytes")))
		jprintf(mem, "agent RSS {^rss_bytes} MiB, ");
	else
		printf("agent not running, ");
	jprintf(mem, "maps {^maps_bytes} MiB of kernel memory ({#maps} pinned; the largest "
		"{largest.map}, {^largest.bytes} MiB)");
	if (full)
		jprintf(full, ", the fullest {map} {#entries}/{#max_entries} ({#fill_pct}%%)");
	/* Grown online past the size asked (--map-max, the node's): the agent's. */
	json_array_foreach(jat(n, "agent.maps_grown"), i, v)
		jprintf(v, "%s{map} grew {#from} -> {#to}", i ? ", " : "; ");
	printf("\n");
	printf("Maps:        ");
	json_array_foreach(json_object_get(n, "maps"), i, v) {
		if (i == 5)
			break;
		jprintf(v, "%s{map} {#entries}/{#max_entries} ({#fill_pct}%%)", i ? ", " : "");
	}
	printf("\n");
	jprintf(cnt, "Counts:      {#endpoints} endpoints, ");
	if (json_is_integer(json_object_get(cnt, "services")))
		jprintf(cnt, "{#services} Services, ");
	else
		printf("Services kube-proxy's, ");
	jprintf(cnt, "{#policies} policies, {#identities} identities\n");
	/* Only when there are: namespaces whose new Services the maps had no room for. */
	if (json_array_size(jat(n, "agent.services_closed"))) {
		printf("Services:    closed for room:");
		json_array_foreach(jat(n, "agent.services_closed"), i, v)
			jprintf(v, "%s namespace {namespace} ({#frontends} frontends, {map} full)",
				i ? "," : "");
		printf("\n");
	}
	jprintf(n, "Policy:      {#config.policy_endpoints_overflow} pods overflowing, "
		"{#config.names_missing} names missing, {#config.address_conflicts} address conflicts");
	/* Only when there are: a Terminating pod's address given again on its node. */
	if (jint(n, "config.addresses_yielded"))
		jprintf(n, ", {#config.addresses_yielded} yielded by a deleting pod");
	printf("\n");
}

/* Flows: and Drops: lines (a running agent's). */
static void print_flows_drops(json_t *n, json_t *a)
{
	json_t *ft = json_object_get(n, "flows"), *dr = json_object_get(a, "drops_last_minute"), *v;
	size_t i;

	if (!json_is_true(jat(a, "flows.on")))
		printf("Flows:       off (xcnid --flows)\n");
	else if (!ft)
		jprintf(a, "Flows:       on (window {#flows.window}), but the flows socket does not answer\n");
	else
		jprintf(n, json_is_string(jat(a, "flows.ipfix")) ?
			"Flows:       on (window {#agent.flows.window}), flow log {#flows.log_lines} lines "
			"({#flows.log_errors} errors), IPFIX to {agent.flows.ipfix}: "
			"{#flows.ipfix_records} records, {#flows.ipfix_errors} send errors\n" :
			"Flows:       on (window {#agent.flows.window}), flow log {#flows.log_lines} lines "
			"({#flows.log_errors} errors), IPFIX off\n");
	/* The log's shares: lines of namespaces within their share carried at a
	 * rotation (whose most), lines they left no room for. */
	if (ft && (jint(ft, "log_carried") || jint(ft, "log_refused")))
		jprintf(ft, "Flow log:    {#log_carried} lines carried into a new file at rotation, most "
			"of namespace \"{log_carried_most.namespace}\" ({#log_carried_most.carried}); "
			"{#log_refused} not written for want of room\n");
	/* The window's shares: whose records it pushed out (the namespace holding the most). */
	if (ft) {
		jprintf(ft, "Flows window: {#flows} of {#window} records, {#owners} namespaces; "
			"{#evicted} evicted");
		if (json_object_get(ft, "evicted_most"))
			jprintf(ft, ", most from namespace \"{evicted_most.namespace}\" "
				"({#evicted_most.evicted})");
		if (jint(ft, "ipfix_evicted_lost"))
			jprintf(ft, ", {#ipfix_evicted_lost} never reached the IPFIX collector");
		printf("\n");
	}
	/* Only when some were: a source past its rate at the HTTP/HTTPS listeners. */
	if (jint(a, "listeners.http.refused") || jint(a, "listeners.flows.refused"))
		jprintf(a, "Listeners:   refused at accept (a source past 16 connections/s): "
			"{#listeners.flows.refused} flows (--flows-listen), {#listeners.http.refused} "
			"metrics/UI\n");
	/* Only when some were: outside clients' new NodePort SNAT tuples past their
	 * budget (xcni_snat_cl), each client's own flows refused. */
	if (jint(a, "nodeport_snat.refused"))
		jprintf(a, "NodePort SNAT: {#nodeport_snat.refused} new tuples refused to outside clients "
			"over budget (drop-nat-client), {#nodeport_snat.refused_window} in the last "
			"{#drops_last_minute.window_s}s\n");
	/* Only when some were: pods' socket-LB translations past their bound (left to packets). */
	if (jint(a, "sock_lb.over_bound"))
		jprintf(json_object_get(a, "sock_lb"), "Socket LB: {#records} records held by {#pods} "
			"pods; {#over_bound} translations past a pod's bound left to the per-packet path "
			"({#over_bound_most} by the pod past it most)\n");
	jprintf(dr, "Drops ({#window_s}s): {#packets}");
	json_array_foreach(json_object_get(dr, "by_reason"), i, v)
		jprintf(v, "%s{#packets} {reason} {direction}", i ? ", " : ": ");
	printf("\n");
}

static void print_node(json_t *n, bool header)
{
	json_t *a = json_object_get(n, "agent"), *v;
	const char *verdict = verdict_of(n);
	size_t i;

	if (header)
		jprintf(n, json_is_string(json_object_get(n, "node")) ? "Node:        {node}\n" :
									"Node:        {pin_dir}\n");
	if (!json_object_get(n, "config")) {
		jprintf(n, "Verdict:     DOWN: {why}\n");
		return;
	}
	print_agent(n);
	print_kernel_hooks(n);
	print_maps_counts(n);
	/* Refused for the Service that asked, the rest applied: not a node's problem. */
	if (jint(a, "services.external_ips_refused")) {
		jprintf(a, "Services:    {#services.external_ips_refused} externalIP or load-balancer IP "
			"frontend(s) refused");
		json_array_foreach(jat(a, "services.refused"), i, v)
			printf("%s%s", i ? "; " : ": ", json_string_value(v));
		printf("\n");
	}
	if (a && json_is_true(json_object_get(a, "running")))
		print_flows_drops(n, a);
	printf("Verdict:     %s", verdict);
	if (!strcmp(verdict, "DOWN"))
		jprintf(n, ": {why}");
	json_array_foreach(json_object_get(n, "problems"), i, v)
		printf("%s%s", i ? "; " : ": ", json_string_value(v));
	printf("\n");
}

/* ---- nodes, --wait -------------------------------------------------------------------- */

/* A child's: enters lab node t's network namespace, writes its status as JSON. */
static int node_status_child(void *arg)
{
	const struct ctl_lab_node *t = arg;
	char pin[PATH_MAX];
	struct ctl_ctx c = { .pin_dir = pin };

	if (ctl_node_enter(t->name, pin, sizeof(pin)))
		return 3;
	return json_dumpf(node_status(&c, t->name), stdout, JSON_COMPACT) ? 3 : 0;
}

/* One lab node's status, read by a child in its network namespace. NULL: said. */
static json_t *lab_node_status(const struct ctl_lab_node *t)
{
	char *buf = NULL;
	size_t len = 0;
	json_t *o = NULL;

	if (!ctl_child_output(node_status_child, (void *)t, false, SIZE_MAX, &buf, &len))
		o = json_loadb(buf, len, 0, NULL);
	free(buf);
	return o;
}

static json_t *collect(const struct ctl_ctx *c, const struct ctl_lab_node *tg, size_t ntg,
		       bool lab)
{
	json_t *nodes = json_array();

	if (!lab) {
		json_array_append_new(nodes, node_status(c, NULL));
		return nodes;
	}
	for (size_t i = 0; i < ntg; i++) {
		json_t *n = lab_node_status(&tg[i]);

		if (!n)
			n = json_pack("{s:s,s:s,s:s}", "node", tg[i].name, "verdict", "DOWN", "why",
				      "its status could not be read (said above)");
		json_array_append_new(nodes, n);
	}
	return nodes;
}

/*
 * --kubeconfig: every node's agent asked through its flows relay (request=status,
 * as flows and explain --kubeconfig reach them): its own answer, judged as the
 * Agent: line is; no answer: DOWN, why said. The maps and hooks are read on the
 * node only (xcnictl status there).
 */
static json_t *cluster_collect(const char *kubeconfig, const char *tls_dir)
{
	struct flows_agent *fa = NULL;
	json_t **docs = NULL, *nodes;
	size_t n = 0;

	if (flows_ask_all(kubeconfig, tls_dir, FLOWS_REQ_KIND "=" FLOWS_REQ_STATUS "\n", 10, &fa,
			  &docs, &n))
		return NULL;
	nodes = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *a = docs[i], *pr = json_array();

		if (!a) {
			json_array_append_new(nodes, json_pack("{s:s,s:s,s:s+}", "node", fa[i].node,
				"verdict", "DOWN", "why", "no status from its agent: ", fa[i].why));
			json_decref(pr);
		} else {
			agent_problems(a, pr);
			json_array_append_new(nodes, json_pack("{s:s,s:s,s:o,s:o}", "node", fa[i].node,
				"verdict", json_array_size(pr) ? "DEGRADED" : "OK", "problems", pr,
				"agent", a));
		}
	}
	free(docs);
	free(fa);
	return nodes;
}

/* One line a node, and the count of each verdict. */
static void cluster_print(json_t *nodes, const char *v)
{
	size_t i, ok = 0, bad = 0;
	json_t *n, *p;

	json_array_foreach(nodes, i, n) {
		const char *nv = verdict_of(n);

		printf("%-16s %-9s", jstr(n, "node"), nv);
		jprintf(n, !strcmp(nv, "DOWN") ? " {why}" : " xcnid {agent.version}, up {~agent.uptime_s}, "
			"{#agent.syncs_failed} of {#agent.syncs} syncs failed");
		json_array_foreach(json_object_get(n, "problems"), ok, p)
			printf("%s%s", ok ? "; " : ": ", json_string_value(p));
		printf("\n");
		bad += strcmp(nv, "OK") != 0;
	}
	ok = json_array_size(nodes) - bad;
	printf("\nOverall:     %s: %zu of %zu nodes OK (each agent's own view; maps, hooks and "
	       "drops: xcnictl status on the node)\n", v, ok, json_array_size(nodes));
}

/* The worst verdict of the nodes. */
static const char *overall(json_t *nodes)
{
	const char *w = "OK";
	size_t i;
	json_t *v;

	json_array_foreach(nodes, i, v) {
		const char *s = verdict_of(v) ?: "DOWN";

		if (!strcmp(s, "DOWN"))
			return "DOWN";
		if (!strcmp(s, "DEGRADED"))
			w = "DEGRADED";
	}
	return w;
}

/* "30s", "2m", "1h", "500ms", or seconds: 0 or -EINVAL. */
static int parse_duration_ms(const char *s, unsigned long *ms)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || v < 0)
		return -EINVAL;
	if (!*end || !strcmp(end, "s"))
		*ms = (unsigned long)(v * 1000);
	else if (!strcmp(end, "ms"))
		*ms = (unsigned long)v;
	else if (!strcmp(end, "m"))
		*ms = (unsigned long)(v * 60000);
	else if (!strcmp(end, "h"))
		*ms = (unsigned long)(v * 3600000);
	else
		return -EINVAL;
	return 0;
}

struct status_opts {
	struct ctl_ctx c;
	struct ctl_where w;
	bool json, wait;
	unsigned long timeout_ms;
	const char *kubeconfig, *tls_dir; /* --kubeconfig: every node's agent over HTTPS */
};

/* status's options (completion lists them too) */
const struct pt_opt ctl_status_opts[] = {
	CTL_WHERE_OPTS,
	{ "wait", 0, false, 'w', 0, NULL, "ask again every second until every node is OK" },
	{ "timeout", 0, true, 't', 0, "D", "give up waiting after D (default 120s)" },
	{ "kubeconfig", 0, true, 'K', 0, "FILE", "every node of the cluster (with --tls)" },
	{ "tls", 0, true, 'X', 0, "DIR", "the client certificate (XCNI_FLOWS_TLS)" },
	{}
};

/* The command line into o: -1 to go on, else the exit code (usage said). */
static int status_parse(int argc, char **argv, struct status_opts *o)
{
	bool timeout_given = false;
	int opt, rc;

	o->w.syn = "[--node NAME|all | --kubeconfig FILE] status [OPTIONS]";
	o->w.opts = ctl_status_opts;
	while ((opt = pt_getopt(argc, argv, ctl_status_opts, false, NULL)) != -1) {
		switch (opt) {
		case 'j': o->json = true; break;
		case 'w': o->wait = true; break;
		case 'K': o->kubeconfig = optarg; break;
		case 'X': o->tls_dir = optarg; break;
		case 't':
			if (parse_duration_ms(optarg, &o->timeout_ms))
				return pr_err_ret(2, "status --timeout %s: not a duration (30s, "
						  "2m, 1h, 500ms)\n", optarg);
			timeout_given = true;
			break;
		default:
			if ((rc = ctl_where_opt(opt, optarg, &o->w)) >= 0)
				return rc;
		}
	}
	if (!o->tls_dir && o->kubeconfig)
		o->tls_dir = getenv("XCNI_FLOWS_TLS");
	return ctl_where_check(argc, argv, "status",
			       timeout_given && !o->wait ? "status --timeout: only with --wait" :
			       o->tls_dir && !o->kubeconfig ? "status --tls: only with --kubeconfig" :
			       o->kubeconfig && (!o->tls_dir || !*o->tls_dir) ?
				       "status --kubeconfig: give the client certificate's folder, "
				       "--tls DIR (or XCNI_FLOWS_TLS)" :
			       o->kubeconfig && (o->w.nnodes || o->w.pin_given) ?
				       "status --kubeconfig asks every node's agent: no --node or --pin-dir" :
				       NULL, &o->w);
}

/* Each --node (a name or all) into lab targets: -1 to go on, else the exit code. */
static int status_targets(const struct status_opts *o, struct ctl_lab_node *tg, size_t *ntg)
{
	static struct ctl_lab_node ln[CTL_WHERE_MAX_NODES];

	for (size_t i = 0; i < o->w.nnodes; i++) {
		size_t n;
		int err = ctl_lab_nodes(o->w.nodes[i], ln, CTL_WHERE_MAX_NODES, &n);

		if (err)
			return err == -EINVAL ? 2 : 1;
		for (size_t j = 0; j < n && *ntg < CTL_WHERE_MAX_NODES; j++)
			tg[(*ntg)++] = ln[j];
	}
	return -1;
}

static void status_print(json_t *all, const char *v, const struct status_opts *o)
{
	size_t i;
	json_t *n;

	if (o->json) {
		json_t *j = json_pack("{s:s,s:O}", "verdict", v, "nodes", all);

		json_dumpf(j, stdout, JSON_INDENT(2));
		printf("\n");
		json_decref(j);
		return;
	}
	if (o->kubeconfig) {
		cluster_print(all, v);
		return;
	}
	json_array_foreach(all, i, n) {
		if (i)
			printf("\n");
		print_node(n, o->w.nnodes > 0);
	}
	if (json_array_size(all) > 1)
		printf("\nOverall:     %s\n", v);
}

int ctl_status_main(int argc, char **argv)
{
	static struct ctl_lab_node tg[CTL_WHERE_MAX_NODES];
	struct status_opts o = { .timeout_ms = STATUS_WAIT_DEFAULT_S * 1000UL };
	size_t ntg = 0;
	unsigned long long t0 = xcni_mono_ms();
	json_t *all;
	const char *v;
	int rc;

	rc = status_parse(argc, argv, &o);
	if (rc >= 0)
		return rc;
	o.c.pin_dir = o.w.pin_dir;
	rc = status_targets(&o, tg, &ntg);
	if (rc >= 0)
		return rc;
	/* No agent's maps where they would be outside a lab, and a lab up: say which --node. */
	if (!o.kubeconfig && !o.w.nnodes && !o.w.pin_given && !getenv("XCNI_PIN_DIR") &&
	    access(o.c.pin_dir, F_OK)) {
		char *hint[] = { "xcnictl", "status", NULL };

		if (ctl_lab_hint(o.c.pin_dir, 2, hint))
			return 1;
	}
	for (;;) {
		all = o.kubeconfig ? cluster_collect(o.kubeconfig, o.tls_dir) :
				     collect(&o.c, tg, ntg, o.w.nnodes > 0);
		if (!all)
			return 1; /* no agent listed: said */
		v = overall(all);
		if (!o.wait || !strcmp(v, "OK") || xcni_mono_ms() - t0 >= o.timeout_ms)
			break;
		json_decref(all);
		poll(NULL, 0, 1000);
	}
	status_print(all, v, &o);
	if (o.wait && strcmp(v, "OK"))
		pr_err("status --wait: not OK after %lu ms\n", o.timeout_ms);
	json_decref(all);
	return strcmp(v, "OK") ? 1 : 0;
}
