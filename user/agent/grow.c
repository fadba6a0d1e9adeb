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
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/system/bpfpin.h"
#include "lib/system/clock.h"
#include "lib/system/log.h"
#include "lib/system/mapwalk.h"
#include "lib/system/util.h"
#include "agent/grow.h"
#include "agent/overlay.h"
#include "agent/pins.h"
#include "agent/settings.h"

#define GROW_ENV "XCNID_GROW" /* "MAP[,MAP]@T0": what the exec'd image doubles, since T0 (ms) */
#define GROW_DIR "grow"       /* under the pin dir: an old map until its entries are caught up */
#define GROW_MEM_DIV 100      /* a map grows to at most 1% of the node's memory */
/* The kernel's LRU lists (kernel/bpf/bpf_lru_list.c LOCAL_FREE_TARGET): a CPU
 * keeps up to 128 free elements of its own, so an LRU evicts before it is full. */
#define LRU_LOCAL_FREE 128
/* How far ahead a look sees: the next look and a growth's own seconds
 * (bench/ct-grow.sh: 3 to 6 s from 32k to 128k entries on 2 loaded CPUs). */
#define GROW_AHEAD_MS 8000

/*
 * The maps grown. The programs write conntrack, affinity, the NodePort SNAT's
 * records and the DNS-learned addresses; the plugin and the agent the maps of
 * local pods, which nothing asks for: their fill is looked at every
 * GROW_CHECK_MS (FILL). The agent writes the others (writer): one grows when
 * a writer of the agent's finds it cannot hold what it wants (grow_ask), to
 * the doubling that holds it, or, counted once a GROW_GAP_MS, past
 * --map-grow (doubled before a writer finds no room); at most once a GROW_GAP_MS. A writer PAIR's
 * next row grows with it to the same size: xcni_svcbe holds at most
 * xcni_svcslot's entries and the Service judge counts the slots alone.
 * xcni_maglev is a map of maps: made again from an inner map, its tables put
 * in by fd (grow_one, copy_one).
 */
enum { FILL, WRITER, PAIR };
static const struct {
	const char *name;
	int writer;
} rows[] = { { "xcni_ct", FILL },	     { "xcni_ct6", FILL },	 { "xcni_affinity", FILL },
	     { "xcni_snat", FILL },	     { "xcni_fqdn", FILL },	 { "xcni_fqdn_ring", FILL },
	     { "xcni_endpoints", FILL },  { "xcni_endpoints6", FILL }, { "xcni_ifindex", FILL },
	     { "xcni_ifindex6", FILL },   { "xcni_polep", FILL },	 { "xcni_polkey6", FILL },
	     { "xcni_polsel", FILL },	     { "xcni_ipcache", WRITER },  { "xcni_ipcache6", WRITER },
	     { "xcni_svc", WRITER },	     { "xcni_revnat", WRITER },   { "xcni_backend", WRITER },
	     { "xcni_svcslot", PAIR },    { "xcni_svcbe", WRITER },    { "xcni_policy", WRITER },
	     { "xcni_polrange", WRITER }, { "xcni_polcidr", WRITER },  { "xcni_identity", WRITER },
	     { "xcni_polname", WRITER },  { "xcni_podname", WRITER },  { "xcni_rulename", WRITER },
	     { "xcni_maglev", WRITER },   { "xcni_fqdn_pat", WRITER } };
#define NGROW (sizeof(rows) / sizeof(rows[0]))
/* A writer's growth at most this often a map (an exec and reload: 0.7-1 s of the agent's CPU). */
#define GROW_GAP_MS 60000

static struct {
	__u32 asked, n; /* the size asked (--map-max or the node's), the map's now */
	long long ms;   /* the last growth, ask to catch-up (-1: none in this image) */
	long long at;   /* when it was last asked for (CLOCK_MONOTONIC ms; 0: never), across execs */
	size_t want;    /* entries more than it has a writer wants in it (0: none) */
	long cnt;       /* entries at the last count (-1: none) */
	uint64_t cnt_at; /* when (CLOCK_MONOTONIC ms) */
	long caught;    /* entries caught up before the take-over */
	bool ceiling_said;
} grown[NGROW];
static char pending[1024]; /* the maps to grow, "MAP[:ENTRIES]" comma-separated */
static long long pending_t0;
static const char *grow_dir; /* the pin dir (grow_prepare; NULL: no growth in this image) */

/*
 * The size map (fd, info) grows to so as to hold want entries: a doubling of
 * it, at most its ceiling, 1% of the node's memory at what an entry costs
 * now; 0 at the ceiling. A map of maps' entry holds its map: xcni_maglev's a
 * Maglev table, XCNI_MAGLEV_M ids in an array's 8-byte slots (128 KiB; its
 * memlock counts the tables present, not what an entry costs).
 */
static __u32 grow_to(int fd, const struct bpf_map_info *info, size_t want)
{
	unsigned long long per = info->type == BPF_MAP_TYPE_HASH_OF_MAPS ? XCNI_MAGLEV_M * 8ull :
				 info->max_entries ? xcni_fd_memlock(fd) / info->max_entries : 0;
	/* A map without preallocation says what its entries use now: an entry
	 * at least its key, value and the kernel's element around them. */
	unsigned long long least = info->key_size + info->value_size + 64;
	__u64 lim = node_mem_total() / GROW_MEM_DIV / (per > least ? per : least);
	__u32 to = info->max_entries * 2;

	while (to < want && (__u64)to * 2 <= lim && to < (1u << 30))
		to *= 2;
	return (__u64)to <= lim && info->max_entries < (1u << 30) ? to : 0;
}

/* Map i's entries now, the last count kept (and when): -errno if it cannot be read. */
static long count(const char *dir, size_t i, struct bpf_map_info *info, int *fd, uint64_t now)
{
	long cnt;

	if ((*fd = xcni_pin_info(dir, rows[i].name, info)) < 0)
		return *fd;
	cnt = mapw_walk(*fd, info, 1, NULL, NULL);
	if (cnt >= 0)
		grown[i].cnt = cnt, grown[i].cnt_at = now;
	return cnt;
}

/* Row i's size to grow to now (past its entries), 0: not due. */
static __u32 due(const char *dir, size_t i, unsigned int pct, uint64_t now)
{
	struct bpf_map_info info;
	long was = grown[i].cnt, since = (long)(now - grown[i].cnt_at), lim, gain = 0, cnt = 0;
	int fd = -1, ncpus = libbpf_num_possible_cpus();
	size_t want = grown[i].want;
	__u32 to = 0;
	bool ahead;

	if (!rows[i].writer)
		cnt = count(dir, i, &info, &fd, now);
	else if (now < (uint64_t)grown[i].at + GROW_GAP_MS)
		return 0;
	else if (want)
		fd = xcni_pin_info(dir, rows[i].name, &info);
	/* Not asked: counted once a gap, so a writer's map past --map-grow grows
	 * before its writer finds no room (and closes a namespace meanwhile). */
	else if (!grown[i].cnt_at || now >= grown[i].cnt_at + GROW_GAP_MS)
		cnt = count(dir, i, &info, &fd, now);
	if (fd < 0)
		return 0;
	lim = (long)((__u64)info.max_entries * pct / 100);
	ahead = rows[i].writer && !want && cnt > 0 && cnt >= lim;
	want = want ? want + info.max_entries : ahead ? info.max_entries + 1u : 0;
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
	grown[i].want = 0;
	if (rows[i].writer ? !want : cnt < 0 || cnt + gain < lim)
		goto out;
	if (!(to = grow_to(fd, &info, want))) {
		if (!grown[i].ceiling_said)
			pr_warn("map %s: %u entries, at its ceiling (1%% of the node's memory): not "
				"grown, %s\n", rows[i].name, info.max_entries, rows[i].writer ?
				"what does not fit stays closed" : info.type == BPF_MAP_TYPE_LRU_HASH ?
				"the least recently used go" : "an entry past it is refused (counted)");
		grown[i].ceiling_said = true;
		goto out;
	}
	if (ahead)
		printf("xcnid: map %s: %ld of %u entries (--map-grow %u%%): growing it to %u before "
		       "its writer finds no room, xcnid restarts onto it\n", rows[i].name, cnt,
		       info.max_entries, pct, to);
	else if (rows[i].writer)
		printf("xcnid: map %s: %u entries, the agent wants %zu in it: growing it to %u, "
		       "xcnid restarts onto it\n", rows[i].name, info.max_entries, want, to);
	else
		printf("xcnid: map %s: %ld of %u entries, %ld more in %d s at its rate "
		       "(--map-grow %u%%): doubling it, xcnid restarts onto it\n",
		       rows[i].name, cnt, info.max_entries, gain, GROW_AHEAD_MS / 1000, pct);
	grown[i].at = (long long)now;
out:
	close(fd);
	return to;
}

const char *grow_ask(const char *map, size_t more, char *buf, size_t len)
{
	struct bpf_map_info info;
	size_t i = 0, to;
	int fd;

	while (i < NGROW && (!rows[i].writer || strcmp(rows[i].name, map)))
		i++;
	if (i == NGROW)
		return NULL;
	grown[i].want = more > grown[i].want ? more : grown[i].want;
	fd = grow_dir ? xcni_pin_info(grow_dir, map, &info) : -1;
	if (fd >= 0 && (to = grow_to(fd, &info, grown[i].want + info.max_entries)))
		snprintf(buf, len, "growing %s to %zu entries (xcnid restarts onto it)", map, to);
	else /* growth off, or at the ceiling: only an operator can */
		snprintf(buf, len, "%s: raise --map-max=%s=N", grow_dir ? "at its ceiling "
			 "(1%% of the node's memory)" : "--map-grow 0", map);
	xcni_close(&fd);
	return buf;
}

int grow_tick(const char *pin_dir, unsigned int pct, uint64_t *at, volatile sig_atomic_t *stop,
	      int timeout)
{
	uint64_t now = (uint64_t)xcni_mono_ms();

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
		__u32 to = due(pin_dir, i, pct, now);

		for (size_t k = i; to && k <= i + (rows[i].writer == PAIR); k++)
			snprintf(pending + strlen(pending), sizeof(pending) - strlen(pending),
				 "%s%s:%u", *pending ? "," : "", rows[k].name, to);
	}
	if (!*pending)
		return timeout < 0 || GROW_CHECK_MS < timeout ? GROW_CHECK_MS : timeout;
	pending_t0 = (long long)now;
	*stop = 1;
	return 0;
}

int grow_exec(char **argv)
{
	char env[2048];
	int len;

	if (!*pending)
		return 0;
	/* When each map was last grown goes on with the image: the gap holds across the exec. */
	len = snprintf(env, sizeof(env), "%s@%lld", pending, pending_t0);
	for (size_t i = 0; i < NGROW && len < (int)sizeof(env); i++)
		len += snprintf(env + len, sizeof(env) - (size_t)len, ";%lld", grown[i].at);
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
	bool ids; /* a map of maps: a value read is a map's id, one written its fd */
};

static void copy_one(void *ctx, const void *key, const void *val)
{
	struct copy *c = ctx;
	int in = c->ids ? bpf_map_get_fd_by_id(*(const __u32 *)val) : -1;

	if ((c->ids && in < 0) || bpf_map_update_elem(c->fd, key, c->ids ? &in : val, c->flags))
		c->failed++; /* NOEXIST: the new map's own is newer */
	else
		c->done++;
	xcni_close(&in);
}

/* Map NAME grown to TO entries (at most its ceiling): a new one made and
 * filled, the old pinned under grow/, the new over NAME. */
static int grow_one(const char *dir, const char *name, __u32 to)
{
	char path[512], gpath[512], tmp[520];
	struct bpf_map_info info;
	struct copy c = { .fd = -1, .flags = BPF_ANY };
	int old = xcni_pin_info(dir, name, &info), btf = -1, in = -1, err;
	int64_t t0;

	if (old < 0) {
		pr_warn("growing %s: not pinned (%s)\n", name, strerror(-old));
		return 0;
	}
	if (!(to = grow_to(old, &info, to))) {
		close(old);
		return 0;
	}
	if (info.btf_id)
		btf = bpf_btf_get_fd_by_id(info.btf_id);
	/* A map of maps is made from an inner map, the template each map put in
	 * must match: xcni_maglev's a Maglev table, as svcsync.c maglev_install's. */
	c.ids = info.type == BPF_MAP_TYPE_HASH_OF_MAPS;
	in = c.ids ? bpf_map_create(BPF_MAP_TYPE_ARRAY, NULL, 4, 4, XCNI_MAGLEV_M, NULL) : -1;
	{
		LIBBPF_OPTS(bpf_map_create_opts, co, .map_flags = info.map_flags,
			    .btf_fd = btf >= 0 ? (__u32)btf : 0,
			    .btf_key_type_id = btf >= 0 ? info.btf_key_type_id : 0,
			    .btf_value_type_id = btf >= 0 ? info.btf_value_type_id : 0,
			    .inner_map_fd = in >= 0 ? (__u32)in : 0);

		c.fd = bpf_map_create(info.type, name, info.key_size, info.value_size, to, &co);
	}
	err = c.fd < 0 ? -errno : 0;
	xcni_close(&btf);
	xcni_close(&in);
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
	xcni_close(&c.fd);
	close(old);
	return err;
}

int grow_prepare(const char *dir, unsigned int pct)
{
	const char *env = getenv(GROW_ENV);
	char list[2048], *save = NULL, *p;
	int err = 0;

	grow_dir = pct ? dir : NULL;
	pins_keep_grown(grow_dir);
	for (size_t i = 0; i < NGROW; i++) {
		struct bpf_map_info info;
		int fd = -1;

		grown[i].ms = grown[i].cnt = -1;
		/* The rate the first look sees is since now: a growth's seconds included. */
		if (!rows[i].writer)
			count(dir, i, &info, &fd, (uint64_t)xcni_mono_ms());
		xcni_close(&fd);
	}
	if (!env)
		return 0;
	snprintf(list, sizeof(list), "%s", env);
	unsetenv(GROW_ENV);
	prctl(PR_SET_NAME, "xcnid"); /* exec'd as /proc/self/exe: ps would say "exe" */
	/* "MAP:TO[,MAP:TO]@T0;AT..." (grow_exec) */
	if ((p = strchr(list, '@'))) {
		*p++ = '\0';
		pending_t0 = strtoll(p, &p, 10);
		for (size_t i = 0; i < NGROW && *p == ';'; i++)
			grown[i].at = strtoll(p + 1, &p, 10);
	}
	for (char *name = strtok_r(list, ",", &save); name && !err; name = strtok_r(NULL, ",", &save)) {
		char *to = strchr(name, ':');

		if (to)
			*to++ = '\0';
		for (size_t i = 0; i < NGROW; i++)
			if (!strcmp(name, rows[i].name))
				err = grow_one(dir, name, to ? (__u32)strtoul(to, NULL, 10) : 0);
	}
	return err;
}

/*
 * Conntrack's old table (old; -1: none) in the slot the programs look in
 * while it grows (bpf/lib/conntrack.h ct_find: a miss looks there, an entry
 * made goes there too): from before the take-over until the catch-up after,
 * so a flow one set of programs opened is found by the other's.
 */
static void ctprev_set(const char *dir, size_t i, int old)
{
	__u32 zero = 0;
	int fd = i < 2 ? xcni_pin_get(dir, i ? "xcni_ctprev6" : "xcni_ctprev") : -1;
	int e = fd >= 0 && old >= 0 && bpf_map_update_elem(fd, &zero, &old, BPF_ANY) ? errno : 0;

	if (fd >= 0 && old < 0)
		bpf_map_delete_elem(fd, &zero);
	else if (fd >= 0) /* not there: a reply until the take-over's catch-up is judged as new */
		pr_info("map %s: its old table %s the programs' sight until caught up after the "
			"take-over%s%s\n", rows[i].name, e ? "not in" : "in", e ? ": " : "",
			e ? strerror(e) : "");
	xcni_close(&fd);
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
			if (!strcmp(mm[j].name, rows[i].name))
				grown[i].asked = mm[j].asked ?: mm[j].n, grown[i].n = mm[j].n;
		snprintf(gname, sizeof(gname), "%s/%s", GROW_DIR, rows[i].name);
		old = xcni_pin_info(dir, gname, &oi);
		c.fd = old < 0 ? -1 : xcni_pin_info(dir, rows[i].name, &ni);
		c.ids = old >= 0 && oi.type == BPF_MAP_TYPE_HASH_OF_MAPS;
		/* Not the pinned one (a crash between the two pins): nothing to catch up. */
		if (c.fd >= 0 && ni.id != oi.id)
			mapw_walk(old, &oi, 1, copy_one, &c);
		/* Conntrack's old table in the programs' sight until caught up after the take-over. */
		ctprev_set(dir, i, taken_over ? -1 : old);
		if (old < 0)
			continue;
		snprintf(gname, sizeof(gname), "%s/%s", gdir, rows[i].name);
		if (!taken_over)
			grown[i].caught = c.done;
		else
			e = unlink(gname) ? -errno : 0, err = err ?: e;
		if (taken_over && c.fd >= 0 && ni.id != oi.id) {
			grown[i].ms = pending_t0 ? xcni_mono_ms() - pending_t0 : -1;
			printf("xcnid: map %s grew %u -> %u entries in %lld ms (full to taken over); "
			       "entries the old map got meanwhile copied after: %ld before the "
			       "take-over, %ld after; it is gone%s\n", rows[i].name, oi.max_entries,
			       ni.max_entries, grown[i].ms, grown[i].caught, c.done,
			       e ? " (its pin stays: cannot remove it)" : "");
			fflush(stdout);
		}
		xcni_close(&c.fd);
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
		fprintf(f, "xcni_map_grown_total{map=\"%s\"} %d\n", rows[i].name + 5, doublings(i));
}

json_t *grow_json(void)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < NGROW; i++)
		if (doublings(i))
			json_array_append_new(a, json_pack("{s:s,s:I,s:I,s:I}", "map", rows[i].name,
							   "from", (json_int_t)grown[i].asked, "to",
							   (json_int_t)grown[i].n, "last_ms",
							   (json_int_t)grown[i].ms));
	return a;
}
