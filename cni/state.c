// SPDX-License-Identifier: Apache-2.0
/*
 * Attachment records: one small JSON file per attachment, named after its
 * host veth, under <stateDir>/<network>/. ADD writes it last; CHECK reads the
 * attach point from it, DEL the pod's IPv4 address (also when the link is
 * gone), GC the container ID and interface of every attachment it holds.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cni.h"

static int state_path(const struct xcni_conf *conf, const char *host_if, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/%s/%s", conf->state_dir, conf->name, host_if);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int xcni_mkdir_p(const char *path)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

/* Makes the directory attachment records of this network go into. */
int xcni_state_dir_make(const struct xcni_conf *conf, struct cni_err *e)
{
	char dir[PATH_MAX];
	int err;

	snprintf(dir, sizeof(dir), "%s/%s", conf->state_dir, conf->name);
	err = xcni_mkdir_p(dir);
	if (err)
		return cni_fail(e, CNI_ERR_IO, "state dir %s: %s", dir, strerror(-err)), err;
	return 0;
}

/*
 * Written to a temporary name and renamed, so a reader never sees half a
 * record; not fsync'd, which would cost an ADD a journal commit. The record
 * only has to outlive this process, not the node: a crash that loses the
 * page cache reboots the node, and a reboot takes the veth, its TCX links
 * and the bpffs maps the record helps to clean with it. What must survive a
 * reboot survives without us: host-local's leases are its own files, and GC
 * finds any link by its alias.
 */
int xcni_state_write(const struct xcni_conf *conf, const struct cni_env *env,
		     const char *host_if, const struct xcni_ipam *ipam, const char *attach,
		     struct cni_err *e)
{
	char ipbuf[INET6_ADDRSTRLEN];
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	json_t *rec;
	int err;

	err = state_path(conf, host_if, path, sizeof(path));
	if (err)
		return cni_fail(e, CNI_ERR_IO, "state record for %s: %s", host_if,
				strerror(-err)), err;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	rec = json_pack("{s:s,s:s,s:s,s:s}", "containerID", env->container_id, "ifname",
			env->ifname, "netns", env->netns, "attach", attach);
	if (ipam->has4)
		json_object_set_new(rec, "ip", json_string(inet_ntop(AF_INET, &ipam->ip, ipbuf,
								     sizeof(ipbuf))));
	if (ipam->has6)
		json_object_set_new(rec, "ip6", json_string(inet_ntop(AF_INET6, &ipam->ip6, ipbuf,
								      sizeof(ipbuf))));
	err = json_dump_file(rec, tmp, JSON_COMPACT) ? -EIO : 0;
	json_decref(rec);
	xcni_killpoint("state-tmp");
	if (!err && rename(tmp, path))
		err = -errno;
	if (err) {
		unlink(tmp);
		return cni_fail(e, CNI_ERR_IO, "state record %s: %s", path, strerror(-err)),
		       err;
	}
	return 0;
}

/*
 * What an attachment record holds: *ip the pod's IPv4 address (0 if none) and
 * the attach point ("tcx", "tc"; empty for a record older than that field).
 * 1 if there is a record, 0 if not.
 */
int xcni_state_read(const struct xcni_conf *conf, const char *host_if, uint32_t *ip,
		    char *attach, size_t len)
{
	char path[PATH_MAX];
	json_t *rec = NULL;

	*ip = 0;
	if (attach)
		attach[0] = '\0';
	if (state_path(conf, host_if, path, sizeof(path)) == 0 &&
	    (rec = json_load_file(path, 0, NULL))) {
		const char *s = json_string_value(json_object_get(rec, "ip"));
		const char *m = json_string_value(json_object_get(rec, "attach"));

		if (!s || inet_pton(AF_INET, s, ip) != 1)
			*ip = 0;
		if (attach && m && (strcmp(m, "tcx") == 0 || strcmp(m, "tc") == 0))
			snprintf(attach, len, "%s", m);
		json_decref(rec);
	}
	return rec != NULL;
}

/* The record, and the .tmp an ADD killed between xcni_state_write's write and
 * its rename leaves (the crash suite's random kills found one). */
void xcni_state_remove(const struct xcni_conf *conf, const char *host_if)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];

	if (state_path(conf, host_if, path, sizeof(path)))
		return;
	unlink(path);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(tmp);
}

/* GC's walk: every record of this network (dot files are not records). */
void xcni_state_foreach(const struct xcni_conf *conf,
			void (*cb)(const char *cid, const char *ifname, void *arg), void *arg)
{
	char dir[PATH_MAX];
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/%s", conf->state_dir, conf->name);
	d = opendir(dir);
	while (d && (de = readdir(d))) {
		char path[PATH_MAX];
		json_t *rec;

		if (de->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path))
			continue;
		rec = json_load_file(path, 0, NULL);
		const char *cid = json_string_value(json_object_get(rec, "containerID"));
		const char *ifn = json_string_value(json_object_get(rec, "ifname"));

		if (cid && ifn)
			cb(cid, ifn, arg);
		json_decref(rec);
	}
	if (d)
		closedir(d);
}
