// SPDX-License-Identifier: Apache-2.0
/*
 * Socket-level load balancing (bpf/sock_lb.bpf.c): loaded on the pinned
 * Service maps and attached to the cgroup xcnid is given, whose processes'
 * sockets then get a Service's backend at connect or sendmsg time.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "xcni_shared.h"
#include "lib/system/bpfpin.h"
#include "lib/system/log.h"
#include "lib/system/util.h"
#include "sock_lb.skel.h"
#include "agent/overlay.h"
#include "agent/pins.h"
#include "agent/socklb.h"

/*
 * The reverse hooks first: a socket translated by connect4 must find
 * getpeername4 and recvmsg4 already there to see its frontend, and
 * sock_release to give its records back.
 */
static const struct {
	const char *name; /* links/node-sock-<name> */
	enum bpf_attach_type type;
	const char *prog; /* in sock_lb.bpf.c */
} hooks[] = {
	{ "release", BPF_CGROUP_INET_SOCK_RELEASE, "sock_release" }, /* before any record is made */
	{ "getpeername4", BPF_CGROUP_INET4_GETPEERNAME, "sock4_getpeername" },
	{ "recvmsg4", BPF_CGROUP_UDP4_RECVMSG, "sock4_recvmsg" },
	{ "getpeername6", BPF_CGROUP_INET6_GETPEERNAME, "sock6_getpeername" },
	{ "recvmsg6", BPF_CGROUP_UDP6_RECVMSG, "sock6_recvmsg" },
	/* which Service a connection is for (flows) */
	{ "sockops", BPF_CGROUP_SOCK_OPS, "sock_ops" },
	{ "sendmsg4", BPF_CGROUP_UDP4_SENDMSG, "sock4_sendmsg" },
	{ "connect4", BPF_CGROUP_INET4_CONNECT, "sock4_connect" },
	{ "sendmsg6", BPF_CGROUP_UDP6_SENDMSG, "sock6_sendmsg" },
	{ "connect6", BPF_CGROUP_INET6_CONNECT, "sock6_connect" },
};
#define NHOOKS (int)ARRAY_SIZE(hooks)

static int hook_path(char *buf, size_t len, const char *pin_dir, int i)
{
	return snprintf(buf, len, "%s/%s/%s%s", pin_dir, XCNI_PIN_LINKS, XCNI_LINK_SOCK_PREFIX,
			hooks[i].name) >= (int)len ? -ENAMETOOLONG : 0;
}

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71 /* Linux 5.14 */
#endif

/* This process's network namespace cookie (the node's), 0 when the kernel cannot say. */
static __u64 own_netns_cookie(void)
{
	__u64 cookie = 0;
	socklen_t len = sizeof(cookie);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return 0;
	if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len))
		cookie = 0;
	close(fd);
	return cookie;
}

/*
 * A cgroup that groups pods rather than being one: the kubelet's kubepods,
 * its QoS classes burstable and besteffort, and the kubelet's own root (kind's
 * "kubelet"), as the cgroupfs driver names them or the systemd driver
 * (kubelet-kubepods-burstable.slice). Never a pod's: kubepods-pod<uid>.slice,
 * pod<uid>.
 */
static bool cg_tier_name(const char *name)
{
	static const char *const ends[] = { "kubepods", "burstable", "besteffort", "kubelet" };
	size_t n = strlen(name), e;

	if (n > 6 && !strcmp(name + n - 6, ".slice"))
		n -= 6;
	for (size_t i = 0; i < ARRAY_SIZE(ends); i++) {
		e = strlen(ends[i]);
		if (n >= e && !strncmp(name + n - e, ends[i], e) && (n == e || name[n - e - 1] == '-'))
			return true;
	}
	return false;
}

/*
 * The ids of the tiers (cg_tier_name) in the cgroup dir, and in theirs, depth
 * levels down, after the n in ids: how many now (at most XCNI_SOCK_TIERS). Only
 * a child of the hooked cgroup or of a tier is one, so nothing made inside a
 * pod becomes one by its name.
 */
static int cg_tiers(int dir, int depth, __u64 *ids, int n)
{
	struct dirent *e;
	struct stat st;
	DIR *d;
	int fd;

	fd = dup(dir);
	d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		xcni_close(&fd);
		return n;
	}
	while ((e = readdir(d)) && n < XCNI_SOCK_TIERS) {
		if (e->d_type != DT_DIR || !cg_tier_name(e->d_name))
			continue;
		fd = openat(dir, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			continue;
		/* On cgroup v2, a cgroup's id is its directory's inode number. */
		if (!fstat(fd, &st))
			ids[n++] = st.st_ino;
		if (depth > 1)
			n = cg_tiers(fd, depth - 1, ids, n);
		close(fd);
	}
	closedir(d);
	return n;
}

int socklb_open(struct sock_lb **out, const char *pin_dir, const char *cgroup,
		const struct map_max *mm, int n)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = pin_dir);
	struct sock_lb *s = sock_lb__open_opts(&oo);
	struct stat st;
	__u32 max;
	int cg;

	if (!s)
		return -errno ?: -ENOMEM;
	/* The same sizes as xcnid's other objects, or the pinned maps would not match. */
	map_max_apply(s->obj, mm, n);
	/* A pod's share of the records: --map-max xcni_sock_rn=N moves it too. */
	max = bpf_map__max_entries(s->maps.xcni_sock_rn);
	s->rodata->sock_own_max = max / XCNI_SOCK_OWN_SHARE ?: 1;
	s->rodata->sock_pods_max = max - max / XCNI_SOCK_NODE_SHARE;
	/* The owner of a record is its pod: the kubelet's layout has 3 levels of tiers. */
	cg = cgroup ? open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (cg >= 0 && !fstat(cg, &st)) {
		s->rodata->cg_root = st.st_ino;
		cg_tiers(cg, 3, (__u64 *)s->rodata->cg_tiers, 0);
	}
	xcni_close(&cg);
	/* A pod's socket without backend is refused by from_pod, which reports it. */
	s->rodata->host_netns = own_netns_cookie();
	*out = s;
	return 0;
}

struct bpf_object *socklb_obj(struct sock_lb *s)
{
	return s->obj;
}

int socklb_load(struct sock_lb *s)
{
	int err = sock_lb__load(s);

	if (err)
		pr_err("loading the socket load-balancing programs failed: %s (run with -v for "
		       "the verifier log)\n", strerror(-err));
	return err;
}

/* The cgroup id a pinned cgroup link is attached to, 0 if none (or not a cgroup link). */
static __u64 link_cgroup(int lfd)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);

	return bpf_link_get_info_by_fd(lfd, &info, &len) ||
	       info.type != BPF_LINK_TYPE_CGROUP ? 0 : info.cgroup.cgroup_id;
}

/*
 * The link pinned at path runs prog_fd on cgroup cg_fd (id cg_id): updated in
 * place when it is already there, else a new link pinned over whatever was
 * (a link to another cgroup an earlier agent made, detached as its pin goes).
 * *fresh: set when no link was pinned at path before.
 */
static int attach_one(const char *path, int prog_fd, int cg_fd, __u64 cg_id,
		      enum bpf_attach_type type, bool *fresh)
{
	char tmp[600];
	int lfd = bpf_obj_get(path), err = 0;

	*fresh = lfd < 0;

	if (lfd >= 0) {
		__u64 id = link_cgroup(lfd);

		if (id == cg_id)
			err = bpf_link_update(lfd, prog_fd, NULL) ? -errno : 0;
		close(lfd);
		if (id == cg_id)
			return err;
	}
	lfd = bpf_link_create(prog_fd, cg_fd, type, NULL);
	if (lfd < 0)
		return -errno;
	snprintf(tmp, sizeof(tmp), "%s_new", path); /* bpffs names take no dots */
	unlink(tmp);
	if (bpf_obj_pin(lfd, tmp) || rename(tmp, path)) {
		err = -errno;
		unlink(tmp);
	}
	close(lfd);
	return err;
}

/* A cgroup v2 directory's fd (its stat in st), or -errno (said why). */
static int cgroup_open(const char *cgroup, struct stat *st)
{
	struct statfs sf;
	int cg = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC), err;

	if (cg < 0) {
		err = -errno;
		pr_err("--cgroup-root %s: %s\n", cgroup, strerror(errno));
		return err;
	}
	if (fstatfs(cg, &sf) || sf.f_type != CGROUP2_SUPER_MAGIC || fstat(cg, st)) {
		pr_err("--cgroup-root %s: not a cgroup v2 directory (one on a cgroup2 mount, "
		       "e.g. /sys/fs/cgroup/NAME)\n", cgroup);
		close(cg);
		return -ENOTDIR;
	}
	return cg;
}

int socklb_check_cgroup(const char *cgroup)
{
	struct stat st;
	int cg = cgroup_open(cgroup, &st);

	if (cg < 0)
		return cg;
	close(cg);
	return 0;
}

int socklb_attach(struct sock_lb *s, const char *pin_dir, const char *cgroup)
{
	bool fresh[NHOOKS] = {};
	struct stat st;
	char path[512];
	int cg, err = 0, i;

	cg = cgroup_open(cgroup, &st);
	if (cg < 0)
		return cg;
	/* On cgroup v2, a cgroup's id is its directory's inode number. */
	for (i = 0; i < NHOOKS && !err; i++) {
		struct bpf_program *p = bpf_object__find_program_by_name(s->obj, hooks[i].prog);

		err = hook_path(path, sizeof(path), pin_dir, i) ?: (p ? 0 : -ENOENT);
		if (!err)
			err = attach_one(path, bpf_program__fd(p), cg, st.st_ino, hooks[i].type,
					 &fresh[i]);
		if (err)
			pr_err("attaching %s to cgroup %s (link %s): %s\n", hooks[i].name, cgroup,
			       path, strerror(-err));
	}
	/* Not half on: the links this call made go again (those it updated stay, working). */
	while (err && i-- > 0)
		if (fresh[i] && !hook_path(path, sizeof(path), pin_dir, i))
			unlink(path);
	if (!err)
		pr_info("socket load balancing on cgroup %s\n", cgroup);
	close(cg);
	return err;
}

/*
 * Every record of pinned map name removed: with the hooks gone no socket
 * releases them, and a pod's count would stay spent when socket LB comes back.
 */
_Static_assert(sizeof(struct xcni_sock_rn6_key) <= 32, "clear_pinned's key fits the largest");

static void clear_pinned(const char *pin_dir, const char *name)
{
	__u8 key[32];
	int fd = xcni_pin_get(pin_dir, name);

	if (fd < 0)
		return;
	while (!bpf_map_get_next_key(fd, NULL, key) && !bpf_map_delete_elem(fd, key))
		;
	close(fd);
}

int socklb_detach_pinned(const char *pin_dir)
{
	char path[512];
	int n = 0, err;

	/* connect first: no socket is translated once its reverse hooks are gone. */
	for (int i = NHOOKS - 1; i >= 0; i--) {
		err = hook_path(path, sizeof(path), pin_dir, i);
		if (err)
			return err;
		if (!unlink(path))
			n++;
		else if (errno != ENOENT)
			return -errno;
	}
	if (!n)
		return 0;
	clear_pinned(pin_dir, "xcni_sock_rn");
	clear_pinned(pin_dir, "xcni_sock_rn6");
	clear_pinned(pin_dir, "xcni_sock_own");
	pr_info("socket load balancing: removed the %d cgroup links an earlier xcnid pinned (no "
		"--cgroup-root now) and their sockets' records\n", n);
	return 0;
}

void socklb_free(struct sock_lb *s)
{
	sock_lb__destroy(s);
}

int socklb_use(const char *pin_dir, struct socklb_use *u)
{
	struct xcni_sock_own v;
	__u64 key;
	int fd;

	memset(u, 0, sizeof(*u));
	fd = xcni_pin_get(pin_dir, "xcni_sock_own");
	if (fd < 0)
		return fd;
	/* At most XCNI_MAX_SOCK_OWN (4,096) entries: read in one go (the kernel
	 * reads a key before it writes the next: one buffer for both). */
	for (void *prev = NULL; !bpf_map_get_next_key(fd, prev, &key); prev = &key) {
		/* The pods' total is no owner. */
		if (key == XCNI_SOCK_OWN_PODS || bpf_map_lookup_elem(fd, &key, &v))
			continue;
		u->owners++;
		u->held += v.held;
		u->over += v.over;
		if (v.over > u->over_most)
			u->over_most = v.over;
	}
	close(fd);
	return 0;
}
