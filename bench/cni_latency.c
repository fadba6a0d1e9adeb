// SPDX-License-Identifier: Apache-2.0
/*
 * cni_latency - time CNI ADD/DEL invocations the way a container runtime
 * performs them (spawn the plugin binary with CNI_* environment variables and
 * the network config on stdin, collect stdout, wait for exit).
 *
 * Driven by bench/cni-latency.sh, which creates the network namespaces
 * "<prefix><plugin>-<i>" (i = 0..n-1) and the config files beforehand.
 *
 *   cni_latency [--cleanup] -n N [-w WARMUP] [-j OUT.json] [-t TIMEOUT_S]
 *               -p PREFIX -c CNI_PATH
 *               -P name=NAME,bin=PATH,conf=PATH [-P ...]
 *
 * Rounds are interleaved across plugins (and the order within a round
 * alternates) so machine noise hits every plugin equally.  Any failed call
 * (non-zero exit, timeout, invalid JSON result on ADD) aborts the run after
 * DELing everything that was added.  --cleanup DELs every container id,
 * ignoring errors (used by the shell trap after an interrupted run).
 *
 * Ratios are reported as plugin[0] / plugin[1].
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_PLUGINS 4
#define MAX_OUT (1 << 20)
#define TARGET_ADD_P50_RATIO 0.5

struct plugin {
	char *name, *bin, *conf;
	size_t conf_len;
	double *add_ms, *del_ms;
	char **result;   /* ADD stdout per container, used as prevResult on DEL */
	bool *attached;
};

static struct plugin plugins[MAX_PLUGINS];
static int nplugins;
static int n = 200, warmup = 2, timeout_s = 60;
static const char *prefix, *cni_path, *json_out;
static char **base_env;
static size_t base_env_n;

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("cni_latency: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void *xmalloc(size_t sz)
{
	void *p = calloc(1, sz ? sz : 1);
	if (!p)
		die("out of memory");
	return p;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	if (!f)
		die("open %s: %s", path, strerror(errno));
	char *buf = xmalloc(MAX_OUT + 1);
	size_t l = fread(buf, 1, MAX_OUT, f);
	if (ferror(f))
		die("read %s failed", path);
	fclose(f);
	while (l && (buf[l - 1] == '\n' || buf[l - 1] == ' '))
		l--;
	buf[l] = 0;
	*len = l;
	return buf;
}

/* ---- minimal JSON validator (RFC 8259 grammar, depth-limited) ---- */

struct jp { const char *s; int depth; };

static void jws(struct jp *p)
{
	while (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r')
		p->s++;
}

static bool jvalue(struct jp *p);

static bool jstring(struct jp *p)
{
	if (*p->s != '"')
		return false;
	p->s++;
	for (;;) {
		unsigned char c = (unsigned char)*p->s++;
		if (c == '"')
			return true;
		if (c < 0x20)
			return false;
		if (c == '\\') {
			c = (unsigned char)*p->s++;
			if (c == 'u') {
				for (int i = 0; i < 4; i++, p->s++)
					if (!strchr("0123456789abcdefABCDEF", *p->s) || !*p->s)
						return false;
			} else if (!c || !strchr("\"\\/bfnrt", c)) {
				return false;
			}
		}
	}
}

static bool jnumber(struct jp *p)
{
	const char *s = p->s;
	if (*s == '-')
		s++;
	if (*s == '0')
		s++;
	else if (*s >= '1' && *s <= '9')
		while (*s >= '0' && *s <= '9')
			s++;
	else
		return false;
	if (*s == '.') {
		s++;
		if (!(*s >= '0' && *s <= '9'))
			return false;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!(*s >= '0' && *s <= '9'))
			return false;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	p->s = s;
	return true;
}

static bool jcontainer(struct jp *p, char close, bool obj)
{
	if (++p->depth > 64)
		return false;
	p->s++;
	jws(p);
	if (*p->s == close) {
		p->s++;
		p->depth--;
		return true;
	}
	for (;;) {
		jws(p);
		if (obj) {
			if (!jstring(p))
				return false;
			jws(p);
			if (*p->s++ != ':')
				return false;
		}
		if (!jvalue(p))
			return false;
		jws(p);
		if (*p->s == ',') {
			p->s++;
			continue;
		}
		if (*p->s++ != close)
			return false;
		p->depth--;
		return true;
	}
}

static bool jvalue(struct jp *p)
{
	jws(p);
	switch (*p->s) {
	case '{': return jcontainer(p, '}', true);
	case '[': return jcontainer(p, ']', false);
	case '"': return jstring(p);
	case 't': if (!strncmp(p->s, "true", 4)) { p->s += 4; return true; } return false;
	case 'f': if (!strncmp(p->s, "false", 5)) { p->s += 5; return true; } return false;
	case 'n': if (!strncmp(p->s, "null", 4)) { p->s += 4; return true; } return false;
	default: return jnumber(p);
	}
}

/* A CNI ADD result: a single valid JSON object carrying "cniVersion". */
static bool valid_add_result(const char *s)
{
	struct jp p = { s, 0 };
	jws(&p);
	if (*p.s != '{' || !jvalue(&p))
		return false;
	jws(&p);
	return *p.s == 0 && strstr(s, "\"cniVersion\"") != NULL;
}

/* ---- plugin invocation ---- */

struct call {
	int status;          /* waitpid status; -1 on timeout */
	double ms;
	char out[MAX_OUT + 1], err[MAX_OUT + 1];
	size_t out_len, err_len;
};

static struct call callbuf;

static void set_env(char **env, size_t *i, const char *k, const char *v)
{
	if (asprintf(&env[(*i)++], "%s=%s", k, v) < 0)
		die("out of memory");
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void drain(int *fd, char *buf, size_t *len)
{
	char tmp[4096];
	ssize_t r = read(*fd, tmp, sizeof(tmp));
	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (r <= 0) {
		close(*fd);
		*fd = -1;
		return;
	}
	size_t c = (size_t)r;
	if (c > MAX_OUT - *len)
		c = MAX_OUT - *len;
	memcpy(buf + *len, tmp, c);
	*len += c;
	buf[*len] = 0;
}

/*
 * Run one plugin command; fills callbuf.  Timed region: pipe setup,
 * posix_spawn (vfork+exec, like Go's os/exec used by libcni), writing the
 * config to stdin, reading stdout/stderr to EOF, waitpid.
 */
static struct call *invoke(const struct plugin *pl, const char *cmd, int idx,
			   const char *stdin_data, size_t stdin_len)
{
	struct call *c = &callbuf;
	char id[256], netns[320];
	snprintf(id, sizeof(id), "%s%s-%d", prefix, pl->name, idx);
	snprintf(netns, sizeof(netns), "/var/run/netns/%s", id);

	char **env = xmalloc((base_env_n + 8) * sizeof(char *));
	size_t ei = 0;
	for (size_t i = 0; i < base_env_n; i++)
		env[ei++] = base_env[i];
	size_t first_own = ei;
	set_env(env, &ei, "CNI_COMMAND", cmd);
	set_env(env, &ei, "CNI_CONTAINERID", id);
	set_env(env, &ei, "CNI_NETNS", netns);
	set_env(env, &ei, "CNI_IFNAME", "eth0");
	set_env(env, &ei, "CNI_PATH", cni_path);
	env[ei] = NULL;
	char *argv[] = { pl->bin, NULL };

	c->out_len = c->err_len = 0;
	c->out[0] = c->err[0] = 0;

	double t0 = now_ms();
	int in[2], out[2], err[2];
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
		die("pipe: %s", strerror(errno));
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err[1], 2);
	pid_t pid;
	int rc = posix_spawn(&pid, pl->bin, &fa, NULL, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	if (rc)
		die("spawn %s: %s", pl->bin, strerror(rc));
	close(in[0]);
	close(out[1]);
	close(err[1]);
	/* Config is far below the pipe buffer size; SIGPIPE is ignored. */
	size_t off = 0;
	while (off < stdin_len) {
		ssize_t w = write(in[1], stdin_data + off, stdin_len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	close(in[1]);

	int fo = out[0], fe = err[0];
	double deadline = t0 + timeout_s * 1e3;
	bool timed_out = false;
	while (fo >= 0 || fe >= 0) {
		struct pollfd pf[2] = { { fo, POLLIN, 0 }, { fe, POLLIN, 0 } };
		int left = (int)(deadline - now_ms());
		if (left <= 0) {
			timed_out = true;
			break;
		}
		int pr = poll(pf, 2, left);
		if (pr < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		if (pr <= 0)
			continue;
		if (fo >= 0 && pf[0].revents)
			drain(&fo, c->out, &c->out_len);
		if (fe >= 0 && pf[1].revents)
			drain(&fe, c->err, &c->err_len);
	}
	if (timed_out)
		kill(pid, SIGKILL);
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			die("waitpid: %s", strerror(errno));
	c->ms = now_ms() - t0;
	if (fo >= 0)
		close(fo);
	if (fe >= 0)
		close(fe);
	c->status = timed_out ? -1 : st;

	for (size_t i = first_own; i < ei; i++)
		free(env[i]);
	free(env);
	return c;
}

static bool call_ok(const struct call *c)
{
	return c->status != -1 && WIFEXITED(c->status) && WEXITSTATUS(c->status) == 0;
}

/* DEL config = network config + "prevResult" (as libcni injects from its cache). */
static char *del_conf(const struct plugin *pl, const char *prev, size_t *len)
{
	if (!prev) {
		*len = pl->conf_len;
		return strdup(pl->conf);
	}
	const char *end = strrchr(pl->conf, '}');
	if (!end)
		die("%s: config is not a JSON object", pl->name);
	char *s;
	int l = asprintf(&s, "%.*s,\"prevResult\":%s}", (int)(end - pl->conf), pl->conf, prev);
	if (l < 0)
		die("out of memory");
	*len = (size_t)l;
	return s;
}

static bool do_del(struct plugin *pl, int idx, bool quiet, double *ms)
{
	size_t len;
	char *conf = del_conf(pl, idx >= 0 ? pl->result[idx] : NULL, &len);
	struct call *c = invoke(pl, "DEL", idx < 0 ? -idx - 1 : idx, conf, len);
	free(conf);
	if (ms)
		*ms = c->ms;
	if (call_ok(c)) {
		if (idx >= 0)
			pl->attached[idx] = false;
		return true;
	}
	if (!quiet)
		fprintf(stderr, "cni_latency: %s DEL %s%s-%d failed (%s %d)\n  stdout: %s\n  stderr: %s\n",
			pl->name, prefix, pl->name, idx < 0 ? -idx - 1 : idx,
			c->status == -1 ? "timeout" : "exit",
			c->status == -1 ? timeout_s : WEXITSTATUS(c->status), c->out, c->err);
	return false;
}

static void rollback(void)
{
	fprintf(stderr, "cni_latency: aborting; DELing remaining attachments\n");
	for (int p = 0; p < nplugins; p++)
		for (int i = 0; i < n; i++)
			if (plugins[p].attached[i])
				do_del(&plugins[p], i, true, NULL);
}

static bool do_add(struct plugin *pl, int idx, double *ms)
{
	struct call *c = invoke(pl, "ADD", idx, pl->conf, pl->conf_len);
	*ms = c->ms;
	if (call_ok(c) && valid_add_result(c->out)) {
		pl->attached[idx] = true;
		pl->result[idx] = strdup(c->out);
		return true;
	}
	/* The plugin may have half-configured things: mark for DEL. */
	pl->attached[idx] = true;
	fprintf(stderr, "cni_latency: %s ADD %s%s-%d failed (%s)\n  stdout: %s\n  stderr: %s\n",
		pl->name, prefix, pl->name, idx,
		c->status == -1 ? "timeout" :
		!call_ok(c) ? "non-zero exit" : "result is not a valid CNI JSON object",
		c->out, c->err);
	return false;
}

/* ---- statistics ---- */

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* nearest-rank percentile */
static double pct(double *v, int cnt, double q)
{
	qsort(v, (size_t)cnt, sizeof(double), cmpd);
	int r = (int)ceil(q * cnt);
	if (r < 1)
		r = 1;
	return v[r - 1];
}

struct stats { double p50, p99, mean, min, max; };

static struct stats mkstats(double *v, int cnt)
{
	struct stats s = { 0 };
	double sum = 0;
	for (int i = 0; i < cnt; i++)
		sum += v[i];
	s.mean = sum / cnt;
	s.p50 = pct(v, cnt, 0.50);
	s.p99 = pct(v, cnt, 0.99);
	s.min = v[0];
	s.max = v[cnt - 1];
	return s;
}

static void json_stats(FILE *f, const char *k, struct stats s)
{
	fprintf(f, "\"%s\":{\"p50\":%.3f,\"p99\":%.3f,\"mean\":%.3f,\"min\":%.3f,\"max\":%.3f}",
		k, s.p50, s.p99, s.mean, s.min, s.max);
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void report(void)
{
	struct stats add[MAX_PLUGINS], del[MAX_PLUGINS];
	for (int p = 0; p < nplugins; p++) {
		add[p] = mkstats(plugins[p].add_ms, n);
		del[p] = mkstats(plugins[p].del_ms, n);
	}

	printf("\nCNI latency: n=%d per plugin, warmup=%d, wall time of fork/exec/wait in ms\n", n, warmup);
	for (int p = 0; p < nplugins; p++)
		printf("  %-6s %s\n", plugins[p].name, plugins[p].bin);
	printf("\n%-12s %9s %9s %9s %9s\n", "plugin", "ADD p50", "ADD p99", "DEL p50", "DEL p99");
	for (int p = 0; p < nplugins; p++)
		printf("%-12s %9.2f %9.2f %9.2f %9.2f\n", plugins[p].name,
		       add[p].p50, add[p].p99, del[p].p50, del[p].p99);

	double r[4] = { 0 };
	bool have_ratio = nplugins >= 2;
	if (have_ratio) {
		r[0] = add[0].p50 / add[1].p50;
		r[1] = add[0].p99 / add[1].p99;
		r[2] = del[0].p50 / del[1].p50;
		r[3] = del[0].p99 / del[1].p99;
		char lbl[64];
		snprintf(lbl, sizeof(lbl), "%s/%s", plugins[0].name, plugins[1].name);
		printf("%-12s %8.2fx %8.2fx %8.2fx %8.2fx\n", lbl, r[0], r[1], r[2], r[3]);
		for (int p = 2; p < nplugins; p++) {
			snprintf(lbl, sizeof(lbl), "%s/%s", plugins[p].name, plugins[1].name);
			printf("%-12s %8.2fx %8.2fx %8.2fx %8.2fx\n", lbl, add[p].p50 / add[1].p50,
			       add[p].p99 / add[1].p99, del[p].p50 / del[1].p50,
			       del[p].p99 / del[1].p99);
		}
		bool met = r[0] <= TARGET_ADD_P50_RATIO;
		printf("\nTARGET: %s ADD p50 <= %.1fx %s ADD p50  ->  %.2fx  %s\n",
		       plugins[0].name, TARGET_ADD_P50_RATIO, plugins[1].name, r[0],
		       met ? "MET" : "NOT MET");
		for (int p = 2; p < nplugins; p++)
			if (strcmp(plugins[p].name, "floor") == 0)
				printf("FLOOR:  %s ADD p50 = %.2fx %s ADD p50 (a plugin that only execs host-local and waits:\n"
				       "        the least any plugin delegating IPAM to it can take)\n",
				       plugins[p].name, add[p].p50 / add[1].p50, plugins[1].name);
	}

	if (!json_out)
		return;
	FILE *f = fopen(json_out, "w");
	if (!f)
		die("open %s: %s", json_out, strerror(errno));
	fprintf(f, "{\"benchmark\":\"cni-latency\",\"unit\":\"ms\",\"n\":%d,\"warmup\":%d,\"plugins\":[", n, warmup);
	for (int p = 0; p < nplugins; p++) {
		fprintf(f, "%s{\"name\":", p ? "," : "");
		json_str(f, plugins[p].name);
		fprintf(f, ",\"bin\":");
		json_str(f, plugins[p].bin);
		fputc(',', f);
		json_stats(f, "add", add[p]);
		fputc(',', f);
		json_stats(f, "del", del[p]);
		fputc('}', f);
	}
	fputc(']', f);
	if (have_ratio) {
		fprintf(f, ",\"ratio\":{\"of\":");
		char lbl[64];
		snprintf(lbl, sizeof(lbl), "%s/%s", plugins[0].name, plugins[1].name);
		json_str(f, lbl);
		fprintf(f, ",\"add_p50\":%.3f,\"add_p99\":%.3f,\"del_p50\":%.3f,\"del_p99\":%.3f}",
			r[0], r[1], r[2], r[3]);
		fprintf(f, ",\"other_ratios\":[");
		for (int p = 2; p < nplugins; p++) {
			fprintf(f, "%s{\"of\":", p > 2 ? "," : "");
			snprintf(lbl, sizeof(lbl), "%s/%s", plugins[p].name, plugins[1].name);
			json_str(f, lbl);
			fprintf(f, ",\"add_p50\":%.3f,\"add_p99\":%.3f,\"del_p50\":%.3f,\"del_p99\":%.3f}",
				add[p].p50 / add[1].p50, add[p].p99 / add[1].p99,
				del[p].p50 / del[1].p50, del[p].p99 / del[1].p99);
		}
		fputc(']', f);
		fprintf(f, ",\"target\":{\"metric\":\"add_p50\",\"max_ratio\":%.2f,\"ratio\":%.3f,\"met\":%s}",
			TARGET_ADD_P50_RATIO, r[0], r[0] <= TARGET_ADD_P50_RATIO ? "true" : "false");
	}
	fputs("}\n", f);
	if (fclose(f))
		die("write %s failed", json_out);
	printf("\nJSON: %s\n", json_out);
}

/* ---- the delegation floor ---- */

/*
 * Run as "ipam-floor" (a symlink to this binary), this is a CNI plugin that
 * does only what any plugin delegating IPAM through the exec protocol must:
 * start host-local from CNI_PATH on the same stdin and stdout, and wait for
 * it. No config parsing, no netlink. Its latency is the least a plugin like
 * xcni can reach, so xcni/ptp can be read against floor/ptp.
 */
static int floor_plugin(void)
{
	const char *path = getenv("CNI_PATH");
	char bin[4096], *dirs, *save = NULL;
	int st;

	if (!path || !(dirs = strdup(path)))
		return 1;
	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		char *argv[] = { bin, NULL };
		pid_t pid;

		snprintf(bin, sizeof(bin), "%s/host-local", d);
		if (access(bin, X_OK))
			continue;
		if (posix_spawn(&pid, bin, NULL, NULL, argv, environ))
			return 1;
		while (waitpid(pid, &st, 0) < 0)
			if (errno != EINTR)
				return 1;
		return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
	}
	fprintf(stderr, "ipam-floor: host-local not found in CNI_PATH %s\n", path);
	return 1;
}

/* ---- main ---- */

static void add_plugin(char *spec)
{
	if (nplugins == MAX_PLUGINS)
		die("too many plugins");
	struct plugin *pl = &plugins[nplugins++];
	for (char *tok = strtok(spec, ","); tok; tok = strtok(NULL, ",")) {
		if (!strncmp(tok, "name=", 5))
			pl->name = tok + 5;
		else if (!strncmp(tok, "bin=", 4))
			pl->bin = tok + 4;
		else if (!strncmp(tok, "conf=", 5))
			pl->conf = tok + 5;
		else
			die("bad plugin spec token '%s'", tok);
	}
	if (!pl->name || !pl->bin || !pl->conf)
		die("plugin spec needs name=,bin=,conf=");
}

static void usage(void)
{
	fprintf(stderr, "usage: cni_latency [--cleanup] -n N [-w WARMUP] [-j OUT.json] [-t TIMEOUT_S]\n"
			"                   -p PREFIX -c CNI_PATH -P name=NAME,bin=PATH,conf=PATH [-P ...]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *base = strrchr(argv[0], '/');
	bool cleanup = false;

	if (strcmp(base ? base + 1 : argv[0], "ipam-floor") == 0)
		return floor_plugin();
	static const struct option lo[] = {
		{ "cleanup", no_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	int o;
	while ((o = getopt_long(argc, argv, "n:w:j:t:p:c:P:", lo, NULL)) != -1) {
		switch (o) {
		case 'C': cleanup = true; break;
		case 'n': n = atoi(optarg); break;
		case 'w': warmup = atoi(optarg); break;
		case 'j': json_out = optarg; break;
		case 't': timeout_s = atoi(optarg); break;
		case 'p': prefix = optarg; break;
		case 'c': cni_path = optarg; break;
		case 'P': add_plugin(optarg); break;
		default: usage();
		}
	}
	if (optind != argc || !prefix || !cni_path || !nplugins || n < 1 || n > 100000 ||
	    warmup < 0 || warmup > 100 || timeout_s < 1)
		usage();

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* Inherit the environment like libcni does, minus stale CNI_* vars. */
	for (char **e = environ; *e; e++)
		base_env_n++;
	base_env = xmalloc((base_env_n + 1) * sizeof(char *));
	base_env_n = 0;
	for (char **e = environ; *e; e++)
		if (strncmp(*e, "CNI_", 4))
			base_env[base_env_n++] = *e;

	for (int p = 0; p < nplugins; p++) {
		struct plugin *pl = &plugins[p];
		char *path = pl->conf;
		pl->conf = read_file(path, &pl->conf_len);
		struct jp jp = { pl->conf, 0 };
		if (!jvalue(&jp) || *pl->conf != '{')
			die("%s: %s is not a JSON object", pl->name, path);
		pl->add_ms = xmalloc((size_t)n * sizeof(double));
		pl->del_ms = xmalloc((size_t)n * sizeof(double));
		pl->result = xmalloc((size_t)n * sizeof(char *));
		pl->attached = xmalloc((size_t)n * sizeof(bool));
	}

	if (cleanup) {
		/* Bounded: one DEL per container id, errors ignored. */
		int failed = 0;
		for (int p = 0; p < nplugins; p++)
			for (int i = 0; i < n; i++)
				failed += !do_del(&plugins[p], -i - 1, true, NULL);
		if (failed)
			fprintf(stderr, "cni_latency: cleanup: %d DEL calls failed (ignored)\n", failed);
		return 0;
	}

	/* Warm-up (not recorded): ADD+DEL on container 0 of each plugin so that
	 * binaries and libraries are in the page cache for both alike. */
	for (int w = 0; w < warmup; w++)
		for (int p = 0; p < nplugins; p++) {
			double ms;
			if (!do_add(&plugins[p], 0, &ms)) {
				rollback();
				return 1;
			}
			if (!do_del(&plugins[p], 0, false, &ms)) {
				rollback();
				return 1;
			}
			free(plugins[p].result[0]);
			plugins[p].result[0] = NULL;
		}

	printf("ADD x %d per plugin (interleaved)...\n", n);
	for (int i = 0; i < n; i++)
		for (int k = 0; k < nplugins; k++) {
			int p = (i & 1) ? nplugins - 1 - k : k;
			if (!do_add(&plugins[p], i, &plugins[p].add_ms[i])) {
				rollback();
				return 1;
			}
		}

	printf("DEL x %d per plugin (interleaved)...\n", n);
	for (int i = 0; i < n; i++)
		for (int k = 0; k < nplugins; k++) {
			int p = (i & 1) ? nplugins - 1 - k : k;
			if (!do_del(&plugins[p], i, false, &plugins[p].del_ms[i])) {
				rollback();
				return 1;
			}
		}

	report();
	return 0;
}
