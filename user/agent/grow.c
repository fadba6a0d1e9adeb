// SPDX-License-Identifier: Apache-2.0
/*
 * Conntrack grown online: see grow.h, and docs/decisions/map-growth.md for
 * why the agent execs itself rather than loading a second time in place.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/system/bpfpin.h"
#include "lib/system/clock.h"
#include "lib/system/log.h"
#include "lib/system/mapwalk.h"
#include "agent/grow.h"
#include "agent/overlay.h"
#include "agent/pins.h"

#define GROW_ENV "XCNID_GROW" /* "MAP[,MAP]@T0": what the exec'd image doubles, since T0 (ms) */
#define GROW_DIR "grow"       /* under the pin dir: an old map until its entries are caught up */
#define GROW_MEM_DIV 100      /* a map grows to at most 1% of the node's memory */
/* The kernel's LRU lists (kernel/bpf/bpf_lru_list.c LOCAL_FREE_TARGET): a CPU
 * keeps up to 128 free elements of its own, so an LRU evicts before it is full. */
#define LRU_LOCAL_FREE 128
/* How far ahead a look sees: the next look and a growth's own seconds
 * (bench/ct-grow.sh: 3 to 6 s from 32k to 128k entries on 2 loaded CPUs). */
#define GROW_AHEAD_MS 8000

static const char *const grow_maps[] = { "xcni_ct", "xcni_ct6" };
#define NGROW (sizeof(grow_maps) / sizeof(grow_maps[0]))

static struct {
	__u32 asked, n; /* the size asked (--map-max or the node's), the map's now */
	long long ms;   /* the last growth, ask to catch-up (-1: none in this image) */
} grown[NGROW];
static struct {
	long cnt;    /* entries at the last count (-1: none) */
	uint64_t at; /* when (CLOCK_MONOTONIC ms) */
} last[NGROW] = { { -1, 0 }, { -1, 0 } };
static long caught[NGROW]; /* entries caught up before the take-over */
static char pending[64]; /* the maps grow_tick found full, comma-separated */
static long long pending_t0;
static bool ceiling_said[NGROW];

/* The entries map NAME may grow to: 1% of the node's memory at what an entry costs now. */
static __u32 grow_ceiling(int fd, const struct bpf_map_info *info)
{
	unsigned long long per = info->max_entries ? xcni_fd_memlock(fd) / info->max_entries : 0;
	__u64 lim = per ? node_mem_total() / GROW_MEM_DIV / per : 0;
	__u32 c = info->max_entries;

	while ((__u64)c * 2 <= lim && c < (1u << 30))
		c *= 2;
	return c;
}

/* The pinned map NAME's fd and info, or -errno. */
static int map_get(const char *dir, const char *name, struct bpf_map_info *info)
{
	__u32 len = sizeof(*info);
	int fd = xcni_pin_get(dir, name), err;

	if (fd < 0)
		return fd;
	memset(info, 0, sizeof(*info));
	if (bpf_map_get_info_by_fd(fd, info, &len)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* Map i's entries now, the last count kept (and when): -errno if it cannot be read. */
static long count(const char *dir, size_t i, struct bpf_map_info *info, int *fd, uint64_t now)
{
	long cnt;

	*fd = map_get(dir, grow_maps[i], info);
	if (*fd < 0)
		return *fd;
	cnt = mapw_walk(*fd, info, 1, NULL, NULL);
	if (cnt >= 0)
		last[i].cnt = cnt, last[i].at = now;
	return cnt;
}

int grow_tick(const char *pin_dir, unsigned int pct, uint64_t *at, volatile sig_atomic_t *stop,
	      int timeout)
{
	uint64_t now = (uint64_t)xcni_mono_ms();
	int ncpus = libbpf_num_possible_cpus();

	if (!pct)
		return timeout;
	/* The first look a period after start: grow_prepare counted at start. */
	if (!*at)
		*at = now + GROW_CHECK_MS;
	if (now < *at) {
		int wait = (int)(*at - now);

		return timeout < 0 || wait < timeout ? wait : timeout;
	}
	*at = now + GROW_CHECK_MS;
	for (size_t i = 0; i < NGROW; i++) {
		struct bpf_map_info info;
		long was = last[i].cnt, since = (long)(now - last[i].at), lim, gain = 0, cnt;
		int fd;

		cnt = count(pin_dir, i, &info, &fd, now);
		if (fd < 0)
			continue;
		lim = (long)((__u64)info.max_entries * pct / 100);
		/* An LRU evicts once the CPUs' own free lists are all it has left. */
		if (info.type == BPF_MAP_TYPE_LRU_HASH && ncpus > 0 &&
		    (long)info.max_entries - (long)ncpus * LRU_LOCAL_FREE > (long)info.max_entries / 2 &&
		    (long)info.max_entries - (long)ncpus * LRU_LOCAL_FREE < lim)
			lim = (long)info.max_entries - (long)ncpus * LRU_LOCAL_FREE;
		/* Filling fast, the map would evict before the next look and the
		 * growth's own seconds are over: what it gains by then at its
		 * rate since the last count counts now. */
		if (cnt > was && was >= 0 && since > 0)
			gain = (long)((__u64)(cnt - was) * GROW_AHEAD_MS / (__u64)since);
		if (cnt >= 0 && cnt + gain >= lim && grow_ceiling(fd, &info) <= info.max_entries) {
			if (!ceiling_said[i])
				pr_warn("map %s: %ld of %u entries, at its ceiling (1%% of the node's "
					"memory): not grown, the least recently used go\n",
					grow_maps[i], cnt, info.max_entries);
			ceiling_said[i] = true;
		} else if (cnt >= 0 && cnt + gain >= lim) {
			printf("xcnid: map %s: %ld of %u entries, %ld more in %d s at its rate "
			       "(--map-grow %u%%): doubling it, xcnid restarts onto it\n",
			       grow_maps[i], cnt, info.max_entries, gain, GROW_AHEAD_MS / 1000, pct);
			snprintf(pending + strlen(pending), sizeof(pending) - strlen(pending), "%s%s",
				 *pending ? "," : "", grow_maps[i]);
		}
		close(fd);
	}
	if (!*pending)
		return timeout < 0 || GROW_CHECK_MS < timeout ? GROW_CHECK_MS : timeout;
	pending_t0 = (long long)now;
	*stop = 1;
	return 0;
}

int grow_exec(char **argv)
{
	char env[96];

	if (!*pending)
		return 0;
	snprintf(env, sizeof(env), "%s@%lld", pending, pending_t0);
	fflush(stdout);
	fflush(stderr);
	if (setenv(GROW_ENV, env, 1) == 0)
		execv("/proc/self/exe", argv);
	pr_err("growing %s: cannot exec xcnid again: %s (the maps stay as they are)\n", pending,
	       strerror(errno));
	return -errno;
}

struct copy {
	int fd;
	__u64 flags;
	long done, failed;
};

static void copy_one(void *ctx, const void *key, const void *val)
{
	struct copy *c = ctx;

	if (bpf_map_update_elem(c->fd, key, val, c->flags))
		c->failed++; /* NOEXIST: the new map's own is newer */
	else
		c->done++;
}

/* Map NAME doubled: a new one made and filled, the old pinned under grow/, the new over NAME. */
static int grow_one(const char *dir, const char *name)
{
	char path[512], gpath[512], tmp[520];
	struct bpf_map_info info;
	struct copy c = { .fd = -1, .flags = BPF_ANY };
	int old = map_get(dir, name, &info), btf = -1, err;
	int64_t t0;
	__u32 to;

	if (old < 0) {
		pr_warn("growing %s: not pinned (%s)\n", name, strerror(-old));
		return 0;
	}
	to = grow_ceiling(old, &info);
	to = to > info.max_entries ? info.max_entries * 2 : info.max_entries;
	if (to == info.max_entries) {
		close(old);
		return 0;
	}
	if (info.btf_id)
		btf = bpf_btf_get_fd_by_id(info.btf_id);
	{
		LIBBPF_OPTS(bpf_map_create_opts, co, .map_flags = info.map_flags,
			    .btf_fd = btf >= 0 ? (__u32)btf : 0,
			    .btf_key_type_id = btf >= 0 ? info.btf_key_type_id : 0,
			    .btf_value_type_id = btf >= 0 ? info.btf_value_type_id : 0);

		c.fd = bpf_map_create(info.type, name, info.key_size, info.value_size, to, &co);
	}
	err = c.fd < 0 ? -errno : 0;
	if (btf >= 0)
		close(btf);
	t0 = xcni_mono_ms();
	if (!err && mapw_walk(old, &info, 1, copy_one, &c) < 0)
		err = -EIO;
	t0 = xcni_mono_ms() - t0;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(gpath, sizeof(gpath), "%s/%s", dir, GROW_DIR);
	if (!err && mkdir(gpath, 0700) && errno != EEXIST)
		err = -errno;
	snprintf(gpath, sizeof(gpath), "%s/%s/%s", dir, GROW_DIR, name);
	snprintf(tmp, sizeof(tmp), "%s_grow", path); /* bpffs names take no dots */
	unlink(tmp);
	/* The old map reachable first: a crash from here on leaves it for grow_finish. */
	if (!err && access(gpath, F_OK) && bpf_obj_pin(old, gpath))
		err = -errno;
	if (!err && bpf_obj_pin(c.fd, tmp))
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err) {
		unlink(tmp);
		pr_err("growing %s from %u to %u entries: %s (it stays as it is)\n", name,
		       info.max_entries, to, strerror(-err));
	} else {
		pr_info("map %s: %u -> %u entries, %ld copied (%ld failed) in %lld ms; loading onto "
			"it\n", name, info.max_entries, to, c.done, c.failed, (long long)t0);
	}
	if (c.fd >= 0)
		close(c.fd);
	close(old);
	return err;
}

int grow_prepare(const char *dir)
{
	const char *env = getenv(GROW_ENV);
	char list[64], *save = NULL;
	int err = 0;

	for (size_t i = 0; i < NGROW; i++) {
		struct bpf_map_info info;
		int fd;

		grown[i].ms = -1;
		/* The rate the first look sees is since now: a growth's seconds included. */
		count(dir, i, &info, &fd, (uint64_t)xcni_mono_ms());
		if (fd >= 0)
			close(fd);
	}
	if (!env)
		return 0;
	snprintf(list, sizeof(list), "%s", env);
	if (strchr(list, '@')) {
		pending_t0 = strtoll(strchr(list, '@') + 1, NULL, 10);
		*strchr(list, '@') = '\0';
	}
	unsetenv(GROW_ENV);
	for (char *name = strtok_r(list, ",", &save); name && !err; name = strtok_r(NULL, ",", &save))
		for (size_t i = 0; i < NGROW; i++)
			if (!strcmp(name, grow_maps[i]))
				err = grow_one(dir, name);
	return err;
}

int grow_finish(const char *dir, const struct map_max *mm, int n, bool taken_over)
{
	char gdir[512], gname[560];
	int err = 0;

	snprintf(gdir, sizeof(gdir), "%s/%s", dir, GROW_DIR);
	for (size_t i = 0; i < NGROW; i++) {
		struct bpf_map_info oi, ni;
		struct copy c = { .flags = BPF_NOEXIST };
		int old, e = 0;

		for (int j = 0; j < n; j++)
			if (!strcmp(mm[j].name, grow_maps[i]))
				grown[i].asked = mm[j].asked ?: mm[j].n, grown[i].n = mm[j].n;
		snprintf(gname, sizeof(gname), "%s/%s", GROW_DIR, grow_maps[i]);
		old = map_get(dir, gname, &oi);
		if (old < 0)
			continue;
		c.fd = map_get(dir, grow_maps[i], &ni);
		/* Not the pinned one (a crash between the two pins): nothing to catch up. */
		if (c.fd >= 0 && ni.id != oi.id)
			mapw_walk(old, &oi, 1, copy_one, &c);
		snprintf(gname, sizeof(gname), "%s/%s", gdir, grow_maps[i]);
		if (!taken_over) {
			caught[i] = c.done;
		} else {
			e = unlink(gname) ? -errno : 0;
			err = err ?: e;
		}
		if (taken_over && c.fd >= 0 && ni.id != oi.id) {
			grown[i].ms = pending_t0 ? xcni_mono_ms() - pending_t0 : -1;
			printf("xcnid: map %s grew %u -> %u entries in %lld ms (full to taken over); "
			       "entries the old map got meanwhile copied after: %ld before the "
			       "take-over, %ld after; it is gone%s\n", grow_maps[i], oi.max_entries,
			       ni.max_entries, grown[i].ms, caught[i], c.done,
			       e ? " (its pin stays: cannot remove it)" : "");
			fflush(stdout);
		}
		if (c.fd >= 0)
			close(c.fd);
		close(old);
	}
	if (taken_over)
		rmdir(gdir);
	return err;
}

static int doublings(size_t i)
{
	int d = 0;

	for (__u32 a = grown[i].asked; a && a < grown[i].n; a *= 2)
		d++;
	return d;
}

void grow_prom(FILE *f)
{
	fprintf(f, "# HELP xcni_map_grown_total Times a map was doubled online past the size asked "
		   "(--map-max or the node's), across restarts.\n"
		   "# TYPE xcni_map_grown_total counter\n");
	for (size_t i = 0; i < NGROW; i++)
		fprintf(f, "xcni_map_grown_total{map=\"%s\"} %d\n", grow_maps[i] + 5, doublings(i));
}

json_t *grow_json(void)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < NGROW; i++)
		if (doublings(i))
			json_array_append_new(a, json_pack("{s:s,s:I,s:I,s:I}", "map", grow_maps[i],
							   "from", (json_int_t)grown[i].asked, "to",
							   (json_int_t)grown[i].n, "last_ms",
							   (json_int_t)grown[i].ms));
	return a;
}
