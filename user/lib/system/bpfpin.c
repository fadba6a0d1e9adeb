// SPDX-License-Identifier: Apache-2.0
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "lib/system/bpfpin.h"
#include "lib/system/log.h"
#include "lib/system/mapwalk.h"
#include "lib/system/util.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	enum xlog_level l = level == LIBBPF_WARN ? XLOG_WARN :
			    level == LIBBPF_INFO ? XLOG_INFO : XLOG_DEBUG;
	char buf[1024];

	if (l > xlog_max)
		return 0;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	xlog(l, "%s", buf);
	return 0;
}

void xcni_libbpf_log_init(void)
{
	libbpf_set_print(libbpf_print);
}

int xcni_config_lock(const char *pin_dir)
{
	int fd = open(pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), err;

	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX)) {
		if (errno == EINTR)
			continue;
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int xcni_bpffs_ensure(const char *pin_dir)
{
	struct statfs st;

	if (strncmp(pin_dir, "/sys/fs/bpf/", 12) != 0)
		return 0; /* a custom location is the caller's to mount */
	if (statfs("/sys/fs/bpf", &st) == 0 && st.f_type == BPF_FS_MAGIC)
		return 0;
	mkdir("/sys/fs/bpf", 0700);
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") < 0)
		return -errno;
	return 0;
}

int xcni_link_pinned(const char *path, int prog_fd, int ifindex, int type, unsigned int flags)
{
	int fd = bpf_obj_get(path), err = 0;

	if (fd >= 0) {
		if (bpf_link_update(fd, prog_fd, NULL))
			err = -errno;
		close(fd);
		return err;
	}
	return xcni_link_pin(path, prog_fd, ifindex, type, flags);
}

int xcni_link_pin(const char *path, int prog_fd, int ifindex, int type, unsigned int flags)
{
	LIBBPF_OPTS(bpf_link_create_opts, o, .flags = flags);
	int fd = bpf_link_create(prog_fd, ifindex, (enum bpf_attach_type)type, &o), err = 0;

	if (fd < 0)
		return -errno;
	if (bpf_obj_pin(fd, path))
		err = -errno;
	close(fd);
	return err;
}

int xcni_link_unpin(const char *path)
{
	int fd = bpf_obj_get(path);

	if (fd >= 0) {
		bpf_link_detach(fd); /* a pin of something else than a link: EINVAL, harmless */
		close(fd);
	}
	return unlink(path) ? -errno : 0;
}

/* An inner map's memory (val: its id, as a map of maps reads) added to *ctx. */
static void memlock_inner(void *ctx, const void *key, const void *val)
{
	int fd = bpf_map_get_fd_by_id(*(const __u32 *)val);

	(void)key;
	if (fd >= 0)
		*(unsigned long long *)ctx += xcni_fd_memlock(fd);
	xcni_close(&fd);
}

unsigned long long xcni_fd_memlock(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	unsigned long long v = 0;
	char path[64], line[128];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f) && sscanf(line, "memlock: %llu", &v) != 1)
		;
	if (f)
		fclose(f);
	/* A map of maps holds its inner maps (xcni_maglev's tables, pinned nowhere). */
	if (!bpf_map_get_info_by_fd(fd, &info, &len) && info.value_size == sizeof(__u32) &&
	    (info.type == BPF_MAP_TYPE_HASH_OF_MAPS || info.type == BPF_MAP_TYPE_ARRAY_OF_MAPS))
		mapw_walk(fd, &info, 1, memlock_inner, &v);
	return v;
}

long xcni_map_entries(int fd, unsigned int key_size, long cap)
{
	unsigned char *k = calloc(2, key_size ? key_size : 1), *next;
	long n = 0;
	int err;

	if (!k)
		return -ENOMEM;
	next = k + key_size;
	while (n < cap && !bpf_map_get_next_key(fd, n ? k : NULL, next)) {
		memcpy(k, next, key_size);
		n++;
	}
	err = n == cap || errno == ENOENT ? 0 : -errno;
	free(k);
	return err ?: n;
}

int xcni_percpu_sum(int fd, const void *key, void *sum, size_t size)
{
	int ncpus = libbpf_num_possible_cpus(), err = 0;
	size_t nf = size / sizeof(__u64);
	__u64 *vals, *out = sum;

	if (ncpus < 1)
		return ncpus < 0 ? ncpus : -EINVAL;
	/* A per-CPU lookup fills one value per possible CPU, each 8-byte aligned. */
	vals = calloc((size_t)ncpus, nf * sizeof(__u64));
	if (!vals)
		return -ENOMEM;
	memset(out, 0, size);
	if (bpf_map_lookup_elem(fd, key, vals))
		err = -errno;
	for (size_t i = 0; !err && i < (size_t)ncpus * nf; i++)
		out[i % nf] += vals[i];
	free(vals);
	return err;
}

int xcni_pin_get(const char *dir, const char *name)
{
	char path[1024];
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

int xcni_pin_info(const char *dir, const char *name, struct bpf_map_info *info)
{
	__u32 len = sizeof(*info);
	int fd = xcni_pin_get(dir, name), err;

	memset(info, 0, sizeof(*info));
	if (fd < 0 || !bpf_map_get_info_by_fd(fd, info, &len))
		return fd;
	err = -errno;
	close(fd);
	return err;
}

int xcni_pin_read0(const char *dir, const char *name, void *val, size_t size)
{
	struct bpf_map_info info;
	__u32 key = 0;
	int fd = xcni_pin_info(dir, name, &info), err;

	if (fd < 0)
		return fd;
	/* A map of another layout would be read past its end: refuse it. */
	err = info.key_size != sizeof(key) || info.value_size != size ? -EPROTO :
	      bpf_map_lookup_elem(fd, &key, val) ? -errno : 0;
	close(fd);
	return err;
}

int xcni_map_open_pinned(const char *dir, const char *name, size_t *max)
{
	struct bpf_map_info info;
	int fd = xcni_pin_info(dir, name, &info);

	if (fd < 0)
		pr_err("cannot open pinned map %s/%s: %s\n", dir, name, strerror(-fd));
	else if (max)
		*max = info.max_entries;
	return fd;
}

/* Pins fd (a program, a map) at dir/name without a moment where the path is missing. */
int xcni_pin_atomic(int fd, const char *dir, const char *name)
{
	char path[512], tmp[520];
	int err;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s_new", path); /* bpffs names take no dots */
	unlink(tmp);
	if (bpf_obj_pin(fd, tmp))
		return -errno;
	if (rename(tmp, path) < 0) {
		err = -errno;
		unlink(tmp);
		return err;
	}
	return 0;
}
