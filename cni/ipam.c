// SPDX-License-Identifier: Apache-2.0
/*
 * IPAM delegated to the network's IPAM plugin (host-local): called in the
 * background so the netlink work overlaps it, and spoken to in the highest
 * version both sides know, which is remembered beside the records.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plugin.h"

/* The conf as IPAM gets it: the network's own, or with the negotiated version. */
static json_t *ipam_conf(struct cni_ctx *c)
{
	json_t *conf = c->conf.raw;

	if (c->ipam_ver) {
		conf = json_deep_copy(conf);
		json_object_set_new(conf, "cniVersion", json_string(c->ipam_ver));
		return conf;
	}
	return json_incref(conf);
}

/*
 * The negotiated IPAM version, remembered beside the attachment records
 * (<stateDir>/<network>/.ipam-version: a dotfile, which GC does not take
 * for a record): without it every call on a network newer than its IPAM
 * plugin costs two more execs of it (the refused call and VERSION), which
 * for host-local, a Go binary, is most of what ADD and DEL cost. The entry
 * names the IPAM binary by device, inode, size and mtime: an upgraded plugin
 * is asked again. A stale or torn file is no worse than none.
 */
static int ipam_cache_path(struct cni_ctx *c, char *path, size_t len, char *bin, size_t binlen,
			   struct stat *st)
{
	int n = snprintf(path, len, "%s/%s/.ipam-version", c->conf.state_dir, c->conf.name);

	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	if (cni_find_plugin(c->env.path, c->conf.ipam_type, bin, binlen))
		return -ENOENT;
	return stat(bin, st) ? -errno : 0;
}

static void ipam_cache_key(const char *bin, const struct stat *st, char *key, size_t len)
{
	snprintf(key, len, "%s %ju %ju %jd %jd.%09ld", bin, (uintmax_t)st->st_dev,
		 (uintmax_t)st->st_ino, (intmax_t)st->st_size, (intmax_t)st->st_mtim.tv_sec,
		 st->st_mtim.tv_nsec);
}

static void ipam_cache_load(struct cni_ctx *c)
{
	char path[PATH_MAX], bin[PATH_MAX], key[PATH_MAX + 96], line[PATH_MAX + 128];
	struct stat st;
	FILE *f;
	char *ver;
	size_t kl;
	int i;

	c->ipam_cache_read = true;
	if (ipam_cache_path(c, path, sizeof(path), bin, sizeof(bin), &st))
		return;
	f = fopen(path, "re");
	if (!f)
		return;
	ipam_cache_key(bin, &st, key, sizeof(key));
	kl = strlen(key);
	if (fgets(line, sizeof(line), f) && !strncmp(line, key, kl) && line[kl] == ' ') {
		ver = line + kl + 1;
		ver[strcspn(ver, "\n")] = 0;
		i = cni_version_index(ver);
		/* Only a version below the network's own is ever written. */
		if (i >= 0 && cni_version_cmp(ver, c->conf.cni_version) < 0) {
			c->ipam_ver = xcni_versions[i];
			c->ipam_ver_cached = true;
		}
	}
	fclose(f);
}

static void ipam_cache_store(struct cni_ctx *c)
{
	char path[PATH_MAX], tmp[PATH_MAX + 16], bin[PATH_MAX], key[PATH_MAX + 96];
	struct stat st;
	FILE *f;
	bool ok;

	if (ipam_cache_path(c, path, sizeof(path), bin, sizeof(bin), &st) ||
	    snprintf(tmp, sizeof(tmp), "%s.%d", path, getpid()) >= (int)sizeof(tmp))
		return;
	ipam_cache_key(bin, &st, key, sizeof(key));
	/* Written whole under a name of its own, then renamed: concurrent calls race harmlessly. */
	f = fopen(tmp, "we");
	if (!f)
		return; /* no state dir yet (a DEL of nothing): asked again next time */
	ok = fprintf(f, "%s %s\n", key, c->ipam_ver) > 0;
	ok = !fclose(f) && ok;
	if (!ok || rename(tmp, path))
		unlink(tmp);
}

/*
 * If IPAM does not speak the network's cniVersion (the reference plugins in
 * Debian stop at 1.0.0), pick the highest version both sides know: IPAM
 * results are the same shape in 1.0.0 and 1.1.0. 0 if one was found.
 */
static int ipam_negotiate(struct cni_ctx *c)
{
	struct cni_env venv = c->env;
	json_t *vreq = json_pack("{s:s}", "cniVersion", "0.4.0"), *ver = NULL, *sv, *v;
	const char *best = NULL;
	struct cni_err verr;
	size_t i;

	venv.command = "VERSION";
	if (cni_exec(&venv, c->conf.ipam_type, vreq, &ver, &verr) == 0 &&
	    json_is_array(sv = json_object_get(ver, "supportedVersions"))) {
		json_array_foreach(sv, i, v) {
			const char *s = json_string_value(v);

			if (cni_version_index(s) >= 0 &&
			    cni_version_cmp(s, c->conf.cni_version) <= 0 &&
			    (!best || cni_version_cmp(s, best) > 0))
				best = xcni_versions[cni_version_index(s)];
		}
	}
	json_decref(vreq);
	json_decref(ver);
	if (!best || strcmp(best, c->conf.cni_version) == 0)
		return -ENOENT;
	c->ipam_ver = best;
	ipam_cache_store(c);
	return 0;
}

static struct cni_env ipam_env(struct cni_ctx *c, const char *cmd, const char *cid,
			       const char *ifname, const char *netns)
{
	struct cni_env env = c->env;

	env.command = cmd;
	env.container_id = cid;
	env.ifname = ifname;
	env.netns = netns;
	return env;
}

/* Starts an IPAM call in the background, so netlink work can overlap it. */
int ipam_start(struct cni_ctx *c, struct cni_proc *p, const char *cmd, const char *cid,
	       const char *ifname, const char *netns)
{
	struct cni_env env = ipam_env(c, cmd, cid, ifname, netns);
	json_t *conf;
	int err;

	if (!c->ipam_ver && !c->ipam_cache_read)
		ipam_cache_load(c);
	conf = ipam_conf(c);
	err = cni_exec_start(&env, c->conf.ipam_type, conf, p, &c->err);

	json_decref(conf);
	return err;
}

int ipam_finish(struct cni_ctx *c, struct cni_proc *p, const char *cmd, const char *cid,
		const char *ifname, const char *netns, json_t **out)
{
	int err = cni_exec_finish(p, out, &c->err);

	if (err && c->err.code == CNI_ERR_INCOMPATIBLE_VERSION && c->ipam_ver_cached) {
		/* The remembered version no longer does: ask again. */
		c->ipam_ver = NULL;
		c->ipam_ver_cached = false;
	}
	if (err && c->err.code == CNI_ERR_INCOMPATIBLE_VERSION && !c->ipam_ver &&
	    ipam_negotiate(c) == 0)
		return ipam_call(c, cmd, cid, ifname, netns, out);
	return err;
}

/* Calls the IPAM plugin and waits for it. */
int ipam_call(struct cni_ctx *c, const char *cmd, const char *cid, const char *ifname,
	      const char *netns, json_t **out)
{
	struct cni_proc p;
	int err;

	*out = NULL;
	err = ipam_start(c, &p, cmd, cid, ifname, netns);
	if (err)
		return err;
	return ipam_finish(c, &p, cmd, cid, ifname, netns, out);
}

/* 1 if the IPAM plugin speaks version ver (asked through VERSION). */
int ipam_supports(struct cni_ctx *c, const char *ver)
{
	struct cni_env venv = c->env;
	json_t *vreq = json_pack("{s:s}", "cniVersion", "0.4.0"), *res = NULL, *v;
	struct cni_err verr;
	int found = 0;
	size_t i;

	venv.command = "VERSION";
	if (cni_exec(&venv, c->conf.ipam_type, vreq, &res, &verr) == 0)
		json_array_foreach(json_object_get(res, "supportedVersions"), i, v)
			if (json_is_string(v) && strcmp(json_string_value(v), ver) == 0)
				found = 1;
	json_decref(vreq);
	json_decref(res);
	return found;
}
