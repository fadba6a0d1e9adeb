// SPDX-License-Identifier: Apache-2.0
/*
 * xcnictl sysdump: one tar.gz with what a bug report needs, per node: the
 * status (text and JSON), every map view as JSON (the existing commands'
 * -j, run by this same binary), the hooks' attach state, the flows window,
 * the agent's log where it is known (a lab node's, or --agent-log) and its
 * command line; once: the kernel (uname, /proc/version, the BPF sysctls), the
 * versions, and the list of what was run with its exit codes.
 *
 * Secrets: no file is taken whole from elsewhere but the agent's log, and
 * every file's text goes through xcni_redact() first: a PEM private key block, a
 * bearer token, and the value of any "token", "password", "secret" or
 * "*-key-data" / "*-key-file" setting become <redacted>. No kubeconfig,
 * token file or --identity-key-file is ever read.
 *
 * The archive is written here (POSIX ustar headers, gzip through zlib):
 * regular files only, all under one directory named after the time.
 */
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <sys/utsname.h>
#include <time.h>
#include <zlib.h>

#include "ctl/ctl.h"
#include "lab/conntest.h"
#include "lab/lab.h"
#include "lib/system/redact.h"

#define SD_MAX_OUT (64u << 20) /* one command's output at most (a full ct table's JSON fits) */

/*
 * What each node gives: `xcnictl [--node N|--pin-dir D] ARGS` into N/FILE
 * (local/FILE), the status first (its JSON names the agent's pid), then
 * every map view as JSON, then the flows window.
 */
static const struct {
	const char *file, *args[6];
} node_cmds[] = {
	{ "status.json", { "status", "-j" } },
	{ "status.txt", { "status" } },
	{ "config.json", { "config", "-j" } },
	{ "endpoint-list.json", { "endpoint", "list", "-j" } },
	{ "identity-list.json", { "identity", "list", "-j" } },
	{ "ipcache-list.json", { "ipcache", "list", "-j" } },
	{ "policy-list.json", { "policy", "list", "-j" } },
	{ "policy-selectors.json", { "policy", "selectors", "-j" } },
	{ "service-list.json", { "service", "list", "-j" } },
	{ "service-snat.json", { "service", "snat", "-j" } },
	{ "ct-list.json", { "ct", "list", "-j" } },
	{ "tunnel-list.json", { "tunnel", "list", "-j" } },
	{ "prefilter-list.json", { "prefilter", "list", "-j" } },
	{ "hook-list.json", { "hook", "list", "-j" } },
	{ "metrics-list.json", { "metrics", "list", "-j" } },
	{ "flows.jsonl", { "flows", "-j", "--last", "5000" } },
};

/* ---- tar.gz ---------------------------------------------------------------------- */

struct tgz {
	gzFile gz;
	char dir[64];
	unsigned int files;
	unsigned long long bytes;
	int err;
};

static void tgz_write(struct tgz *t, const void *p, size_t n)
{
	if (t->err || !n)
		return;
	if (gzwrite(t->gz, p, (unsigned int)n) != (int)n)
		t->err = -EIO;
}

/* One regular file, dir/name, with text's secrets redacted. */
static void tgz_add(struct tgz *t, const char *name, const char *text, size_t len)
{
	static const char zeros[512];
	char h[512] = {}, *red = NULL;
	unsigned int sum = 0;
	size_t rlen = 0;

	if (t->err)
		return;
	if (xcni_redact(text, len, &red, &rlen)) {
		t->err = -ENOMEM;
		return;
	}
	if (snprintf(h, 100, "%s/%s", t->dir, name) >= 100) {
		pr_err("sysdump: %s/%s: name too long for the archive\n", t->dir, name);
		free(red);
		return;
	}
	snprintf(h + 100, 8, "%07o", 0644);
	snprintf(h + 108, 8, "%07o", 0);
	snprintf(h + 116, 8, "%07o", 0);
	snprintf(h + 124, 12, "%011llo", (unsigned long long)rlen);
	snprintf(h + 136, 12, "%011llo", (unsigned long long)time(NULL));
	memset(h + 148, ' ', 8);
	h[156] = '0';
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	snprintf(h + 265, 32, "root");
	snprintf(h + 297, 32, "root");
	for (size_t i = 0; i < sizeof(h); i++)
		sum += (unsigned char)h[i];
	snprintf(h + 148, 8, "%06o", sum);
	h[155] = ' ';
	tgz_write(t, h, sizeof(h));
	tgz_write(t, red, rlen);
	tgz_write(t, zeros, (512 - rlen % 512) % 512);
	t->files++;
	t->bytes += rlen;
	free(red);
}

/* ---- what goes in ---------------------------------------------------------------- */

/* A child's: argv run by this binary (its output is the parent's, ctl_child_output). */
static int exec_self(void *argv)
{
	execv("/proc/self/exe", argv);
	return 127;
}

/* A file read whole (at most SD_MAX_OUT, its end kept): 0 or -errno. */
static int slurp(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "re");
	long sz;

	*out = NULL;
	*len = 0;
	if (!f)
		return -errno;
	fseek(f, 0, SEEK_END);
	sz = ftell(f);
	if (sz > (long)SD_MAX_OUT)
		fseek(f, sz - (long)SD_MAX_OUT, SEEK_SET);
	else
		fseek(f, 0, SEEK_SET);
	*out = malloc(SD_MAX_OUT + 1);
	if (!*out) {
		fclose(f);
		return -ENOMEM;
	}
	*len = fread(*out, 1, SD_MAX_OUT, f);
	fclose(f);
	return 0;
}

/* The run log: every command and its exit status. */
struct runlog {
	char *p;
	size_t n;
	FILE *f;
};

/* The agent's command line, from the pid its status gave. */
static void add_agent_cmdline(struct tgz *t, const char *dir, const char *status_json, size_t len)
{
	json_t *o = json_loadb(status_json, len, 0, NULL), *n = json_array_get(json_object_get(o, "nodes"), 0);
	json_int_t pid = json_integer_value(json_object_get(json_object_get(n, "agent"), "pid"));
	char path[64], name[160], *buf = NULL;
	size_t l = 0;

	json_decref(o);
	if (pid <= 0)
		return;
	snprintf(path, sizeof(path), "/proc/%lld/cmdline", (long long)pid);
	if (slurp(path, &buf, &l))
		return;
	for (size_t i = 0; i + 1 < l; i++)
		if (!buf[i])
			buf[i] = ' ';
	snprintf(name, sizeof(name), "%s/xcnid-cmdline.txt", dir);
	tgz_add(t, name, buf, l);
	free(buf);
}

/* `xcnictl WHERE_OPT WHERE ARGS...` into file; with dir, the agent's command
 * line too (dir/xcnid-cmdline.txt, by the pid of the status JSON it wrote). */
static void add_cmd(struct tgz *t, struct runlog *rl, const char *where_opt, const char *where,
		    const char *file, const char *const args[], const char *dir)
{
	char *argv[16] = { "xcnictl", (char *)where_opt, (char *)where }, *out = NULL;
	size_t len = 0, a = 3;
	int rc;

	for (size_t i = 0; args[i] && a < ARRAY_SIZE(argv) - 1; i++)
		argv[a++] = (char *)args[i];
	argv[a] = NULL;
	rc = ctl_child_output(exec_self, argv, true, SD_MAX_OUT, &out, &len);
	fprintf(rl->f, "%-28s exit %d:", file, rc);
	for (size_t i = 0; i < a; i++)
		fprintf(rl->f, " %s", argv[i]);
	fprintf(rl->f, "\n");
	tgz_add(t, file, out ? out : "", out ? len : 0);
	if (dir && out)
		add_agent_cmdline(t, dir, out, len);
	free(out);
}

static void add_node(struct tgz *t, struct runlog *rl, const char *node, const char *pin_dir,
		     const char *agent_log)
{
	const char *dir = node ? node : "local", *opt = node ? "--node" : "--pin-dir",
		   *where = node ? node : pin_dir;
	char file[160], *logp = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(node_cmds); i++) {
		snprintf(file, sizeof(file), "%s/%s", dir, node_cmds[i].file);
		add_cmd(t, rl, opt, where, file, node_cmds[i].args, i ? NULL : dir);
	}
	/* The agent's log: a lab node's (the lab writes it), else the one given. */
	if (node) {
		if (asprintf(&logp, "%s/%s/xcnid.log", lab_dir(), node) < 0)
			logp = NULL;
	} else if (agent_log) {
		logp = strdup(agent_log);
	}
	snprintf(file, sizeof(file), "%s/xcnid.log", dir);
	if (logp) {
		char *buf;
		size_t l;
		int err = slurp(logp, &buf, &l);

		fprintf(rl->f, "%-28s %s%s%s\n", file, err ? "not read: " : "from ", logp,
			err ? "" : "");
		if (!err)
			tgz_add(t, file, buf, l);
		free(buf);
		free(logp);
	} else {
		fprintf(rl->f, "%-28s not known: give --agent-log FILE (journalctl -u xcnid, kubectl "
			       "logs -n kube-system ds/xcni)\n", file);
	}
}

/* uname, /proc/version, the BPF sysctls, and versions. */
static void add_host(struct tgz *t)
{
	static const char *const sysctls[] = { "/proc/version", "/proc/sys/net/core/bpf_jit_enable",
					       "/proc/sys/kernel/unprivileged_bpf_disabled",
					       "/proc/sys/net/core/bpf_jit_harden" };
	struct utsname u;
	char *p = NULL, ver[256];
	size_t n = 0;
	FILE *f = open_memstream(&p, &n);

	if (!f)
		return;
	if (!uname(&u))
		fprintf(f, "uname: %s %s %s %s %s\n", u.sysname, u.nodename, u.release, u.version,
			u.machine);
	for (size_t i = 0; i < ARRAY_SIZE(sysctls); i++) {
		char *b;
		size_t l;

		if (!slurp(sysctls[i], &b, &l)) {
			fprintf(f, "%s: %.*s%s", sysctls[i], (int)l, b, l && b[l - 1] == '\n' ? "" : "\n");
			free(b);
		}
	}
	fclose(f);
	tgz_add(t, "kernel.txt", p, n);
	free(p);
	n = (size_t)snprintf(ver, sizeof(ver), "xcnictl: map ABI %u, libbpf %u.%u\n(the agent's version "
			     "and commit: */status.json, agent.version and agent.commit)\n",
			     XCNI_ABI_VERSION, libbpf_major_version(), libbpf_minor_version());
	tgz_add(t, "versions.txt", ver, n);
}

struct sd_opts {
	struct ctl_where w;
	const char *file, *agent_log;
};

/* sysdump's options (completion lists them too) */
const struct pt_opt ctl_sysdump_opts[] = {
	CTL_WHERE_OPTS,
	{ "file", 'f', true, 'f', 0, "FILE", "the archive (default ./xcni-sysdump-TIME.tar.gz)" },
	{ "agent-log", 0, true, 'L', 0, "FILE", "the agent's log outside a lab" },
	{}
};

/* The command line into o: -1 to go on, else the exit code (usage said). */
static int sd_parse(int argc, char **argv, struct sd_opts *o)
{
	int opt, rc;

	o->w.syn = "[--node NAME|all] sysdump [OPTIONS]";
	o->w.opts = ctl_sysdump_opts;
	while ((opt = pt_getopt(argc, argv, ctl_sysdump_opts, false, NULL)) != -1) {
		switch (opt) {
		case 'j': break;
		case 'f': o->file = optarg; break;
		case 'L': o->agent_log = optarg; break;
		default:
			if ((rc = ctl_where_opt(opt, optarg, &o->w)) >= 0)
				return rc;
		}
	}
	rc = ctl_where_check(argc, argv, "sysdump", NULL, &o->w);
	if (rc < 0 && o->w.nnodes && o->agent_log)
		return pr_err_ret(2, "sysdump --agent-log: a lab node's log is the lab's; give it "
				  "without --node\n");
	return rc;
}

/*
 * The lab's policy objects as applied (NetworkPolicy and ClusterNetworkPolicy
 * manifests, its API server's objects) into policies/: what the maps were
 * compiled from, which the maps' views cannot give back.
 */
static void add_lab_policies(struct tgz *t)
{
	char dir[PATH_MAX], path[PATH_MAX + 300], name[300];
	struct dirent *e;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/manifests", lab_dir());
	d = opendir(dir);
	while (d && (e = readdir(d))) {
		char *b;
		size_t l;

		if (strncmp(e->d_name, "networkpolicy.", 14) &&
		    strncmp(e->d_name, "clusternetworkpolicy.", 21))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		snprintf(name, sizeof(name), "policies/%s", e->d_name);
		if (!slurp(path, &b, &l)) {
			tgz_add(t, name, b, l);
			free(b);
		}
	}
	if (d)
		closedir(d);
}

/* The host, each node, the command log and the archive's end into t: 0 or -errno. */
static int sd_collect(struct tgz *t, struct runlog *rl, const struct sd_opts *o)
{
	static struct ctl_lab_node ln[CTL_WHERE_MAX_NODES];
	static const char zeros[1024];
	int err = 0;

	add_host(t);
	if (o->w.nnodes) {
		for (size_t i = 0; i < o->w.nnodes; i++) {
			size_t n;

			err = ctl_lab_nodes(o->w.nodes[i], ln, CTL_WHERE_MAX_NODES, &n);
			if (err)
				break;
			for (size_t j = 0; j < n; j++)
				add_node(t, rl, ln[j].name, ln[j].pin, NULL);
		}
	} else {
		/* A lab up and no agent here: the archive would hold nothing of it. */
		if (!lab_conntest_no_lab() && access(o->w.pin_dir, F_OK))
			pr_warn("sysdump: no agent pins %s here, and a lab is up: its nodes "
			       "are left out (--node all takes every lab node, --node NAME one)\n",
			       o->w.pin_dir);
		add_node(t, rl, NULL, o->w.pin_dir, o->agent_log);
	}
	if (!lab_conntest_no_lab())
		add_lab_policies(t);
	fclose(rl->f);
	tgz_add(t, "commands.txt", rl->p, rl->n);
	free(rl->p);
	tgz_write(t, zeros, sizeof(zeros)); /* the archive's end: two zero blocks */
	return err;
}

/* The archive closed and renamed to file (from tmp): the exit code. */
static int sd_finish(struct tgz *t, int err, const char *file, const char *tmp)
{
	if (gzclose(t->gz) != Z_OK && !t->err)
		t->err = -EIO;
	if (err || t->err) {
		if (strcmp(file, "-"))
			unlink(tmp);
		if (t->err)
			pr_err("sysdump: writing %s: %s\n", file, strerror(-t->err));
		return err == -EINVAL ? 2 : 1;
	}
	if (strcmp(file, "-") && rename(tmp, file)) {
		pr_err("sysdump: %s: %s\n", file, strerror(errno));
		unlink(tmp);
		return 1;
	}
	return said(0, "xcnictl: sysdump: %s: %u files, %llu bytes before compression\n",
		    strcmp(file, "-") ? file : "stdout", t->files, t->bytes);
}

int ctl_sysdump_main(int argc, char **argv)
{
	struct sd_opts o = {};
	char defname[128], tmp[PATH_MAX];
	struct runlog rl = {};
	struct tgz t = {};
	time_t now = time(NULL);
	const char *file;
	struct tm tm;
	int rc;

	rc = sd_parse(argc, argv, &o);
	if (rc >= 0)
		return rc;
	gmtime_r(&now, &tm);
	strftime(t.dir, sizeof(t.dir), "xcni-sysdump-%Y%m%d-%H%M%S", &tm);
	snprintf(defname, sizeof(defname), "%s.tar.gz", t.dir);
	file = o.file ?: defname;
	/* Written beside, renamed at the end: no half archive under the name asked
	 * for. The archive holds the node's state (policy, flows, logs): the
	 * file is made new (O_EXCL, never through a link someone planted at a
	 * name we chose) and 0600 from its first byte. */
	if (strcmp(file, "-")) {
		int fd;

		if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", file) >= sizeof(tmp))
			return pr_err_ret(2, "sysdump: -f %s: name too long\n", file);
		fd = mkostemp(tmp, O_CLOEXEC);
		t.gz = fd < 0 ? NULL : gzdopen(fd, "wb");
		if (fd >= 0 && !t.gz) {
			close(fd);
			unlink(tmp);
		}
	} else {
		t.gz = gzdopen(dup(1), "wb");
	}
	if (!t.gz)
		return pr_err_ret(1, "sysdump: cannot write %s: %s\n",
				  strcmp(file, "-") ? file : "stdout",
				  strerror(errno ? errno : ENOMEM));
	rl.f = open_memstream(&rl.p, &rl.n);
	if (!rl.f) {
		gzclose(t.gz);
		return 1;
	}
	return sd_finish(&t, sd_collect(&t, &rl, &o), file, tmp);
}
