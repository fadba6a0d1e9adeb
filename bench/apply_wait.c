// SPDX-License-Identifier: Apache-2.0
/*
 * apply_wait: time from "apply" to "in the maps", for bench/policy.sh.
 *
 *   apply_wait apply PIN_DIR MANIFEST_DIR GEN [-m SRCDIR]... [-o DSTDIR]
 *                    [-f FILE]... [-t TIMEOUT_MS] [-i POLL_US]
 *       Reads the clock, then applies: renames every file of SRCDIR (-m)
 *       and every FILE (-f) into MANIFEST_DIR, and (-o) every visible file
 *       of MANIFEST_DIR out into DSTDIR (a delete). Then writes GEN to
 *       MANIFEST_DIR/.xcni-generation (temp file + rename, so xcnid never
 *       reads half a number) and polls PIN_DIR/xcni_config every POLL_US
 *       (default 200) until its applied_gen reaches GEN. Prints
 *         total_ms=.. after_gen_ms=.. files=.. polls=..
 *       total_ms counts from before the first rename; after_gen_ms from the
 *       generation file's rename. Fails if xcnid reports GEN as failed
 *       (failed_gen, with its error) or after TIMEOUT_MS (default 30000).
 *
 *   apply_wait config PIN_DIR
 *       Prints applied_gen, failed_gen and the counts from xcni_config.
 *
 *   apply_wait count PINNED_MAP
 *       Prints the number of entries of a pinned map (keys walked).
 *
 * Renames, not writes: the files are complete when xcnid sees them, as
 * with `kubectl apply`, and writing 2000 files is not xcnid's cost. SRCDIR,
 * DSTDIR and MANIFEST_DIR must be on one file system.
 */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../bpf/xcni_shared.h"

#define GEN_FILE ".xcni-generation"
#define MAX_ARGS 64

static void usage(void)
{
	fprintf(stderr,
		"usage: apply_wait apply PIN_DIR MANIFEST_DIR GEN [-m SRCDIR]... [-o DSTDIR]\n"
		"                        [-f FILE]... [-t TIMEOUT_MS] [-i POLL_US]\n"
		"       apply_wait config PIN_DIR\n"
		"       apply_wait count PINNED_MAP\n");
	exit(2);
}

static unsigned long long parse_ull(const char *s, unsigned long long lo, unsigned long long hi,
				    const char *what)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *s == '\0' || *s == '-' || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "apply_wait: bad %s '%s' (%llu..%llu)\n", what, s, lo, hi);
		exit(2);
	}
	return v;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int config_fd(const char *pin_dir)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/xcni_config", pin_dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		fprintf(stderr, "apply_wait: %s: %s\n", path, strerror(errno));
	return fd;
}

static int config_read(int fd, struct xcni_config *cfg)
{
	__u32 k = 0;

	if (bpf_map_lookup_elem(fd, &k, cfg)) {
		fprintf(stderr, "apply_wait: reading xcni_config: %s\n", strerror(errno));
		return -errno;
	}
	return 0;
}

static int move(const char *from_dir, const char *name, const char *to_dir)
{
	char from[PATH_MAX], to[PATH_MAX];

	snprintf(from, sizeof(from), "%s/%s", from_dir, name);
	snprintf(to, sizeof(to), "%s/%s", to_dir, name);
	if (rename(from, to) < 0) {
		fprintf(stderr, "apply_wait: rename %s -> %s: %s\n", from, to, strerror(errno));
		return -errno;
	}
	return 0;
}

/* Every visible regular file of from_dir into to_dir. Files moved, or -errno. */
static int move_all(const char *from_dir, const char *to_dir)
{
	DIR *d = opendir(from_dir);
	struct dirent *de;
	int n = 0, err = 0;

	if (!d) {
		fprintf(stderr, "apply_wait: %s: %s\n", from_dir, strerror(errno));
		return -errno;
	}
	while (!err && (de = readdir(d))) {
		if (de->d_name[0] == '.' || de->d_type != DT_REG)
			continue;
		err = move(from_dir, de->d_name, to_dir);
		n++;
	}
	closedir(d);
	return err ? err : n;
}

static int write_gen(const char *dir, unsigned long long gen)
{
	char tmp[PATH_MAX], path[PATH_MAX], buf[32];
	int fd, len;

	snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, GEN_FILE);
	snprintf(path, sizeof(path), "%s/%s", dir, GEN_FILE);
	len = snprintf(buf, sizeof(buf), "%llu\n", gen);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, buf, (size_t)len) != len || close(fd) < 0 || rename(tmp, path) < 0) {
		fprintf(stderr, "apply_wait: writing %s: %s\n", path, strerror(errno));
		return -errno;
	}
	return 0;
}

static int cmd_apply(int argc, char **argv)
{
	const char *pin_dir, *mdir, *src[MAX_ARGS], *files[MAX_ARGS], *out = NULL;
	unsigned long long gen, timeout_ms = 30000, poll_us = 200, polls = 0;
	int nsrc = 0, nfiles = 0, moved = 0, fd, opt, r;
	struct timespec pause;
	struct xcni_config cfg;
	double t0, tgen, t;

	if (argc < 4)
		usage();
	pin_dir = argv[1];
	mdir = argv[2];
	gen = parse_ull(argv[3], 1, ~0ULL, "generation");
	optind = 4;
	while ((opt = getopt(argc, argv, "m:o:f:t:i:")) != -1) {
		switch (opt) {
		case 'm':
			if (nsrc == MAX_ARGS)
				usage();
			src[nsrc++] = optarg;
			break;
		case 'f':
			if (nfiles == MAX_ARGS)
				usage();
			files[nfiles++] = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 't':
			timeout_ms = parse_ull(optarg, 1, 3600000, "timeout");
			break;
		case 'i':
			poll_us = parse_ull(optarg, 1, 2000, "poll interval");
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	fd = config_fd(pin_dir);
	if (fd < 0)
		return 1;
	if (config_read(fd, &cfg))
		return 1;
	if (cfg.applied_gen >= gen) {
		fprintf(stderr, "apply_wait: generation %llu already applied (%llu)\n", gen,
			(unsigned long long)cfg.applied_gen);
		return 1;
	}

	t0 = now_ms();
	for (int i = 0; i < nsrc; i++) {
		if ((r = move_all(src[i], mdir)) < 0)
			return 1;
		moved += r;
	}
	for (int i = 0; i < nfiles; i++) {
		char dir[PATH_MAX], *sl;

		snprintf(dir, sizeof(dir), "%s", files[i]);
		sl = strrchr(dir, '/');
		if (!sl) {
			fprintf(stderr, "apply_wait: -f %s: give a path with a directory\n", files[i]);
			return 2;
		}
		*sl = '\0';
		if (move(dir, sl + 1, mdir))
			return 1;
		moved++;
	}
	if (out) {
		if ((r = move_all(mdir, out)) < 0)
			return 1;
		moved += r;
	}
	tgen = now_ms();
	if (write_gen(mdir, gen))
		return 1;

	pause.tv_sec = 0;
	pause.tv_nsec = (long)poll_us * 1000;
	for (;;) {
		polls++;
		if (config_read(fd, &cfg))
			return 1;
		t = now_ms();
		if (cfg.applied_gen >= gen)
			break;
		if (cfg.failed_gen == gen) {
			fprintf(stderr, "apply_wait: xcnid failed generation %llu: %.*s\n", gen,
				(int)sizeof(cfg.error), cfg.error);
			return 1;
		}
		if (t - t0 > (double)timeout_ms) {
			fprintf(stderr,
				"apply_wait: generation %llu not applied after %llu ms (applied_gen %llu)\n",
				gen, timeout_ms, (unsigned long long)cfg.applied_gen);
			return 1;
		}
		nanosleep(&pause, NULL);
	}
	printf("total_ms=%.3f after_gen_ms=%.3f files=%d polls=%llu\n", t - t0, t - tgen, moved,
	       polls);
	close(fd);
	return 0;
}

static int cmd_config(int argc, char **argv)
{
	struct xcni_config cfg;
	int fd;

	if (argc != 2)
		usage();
	fd = config_fd(argv[1]);
	if (fd < 0 || config_read(fd, &cfg))
		return 1;
	printf("applied_gen=%llu failed_gen=%llu identities=%u policies=%u endpoints_policy=%u "
	       "error=\"%.*s\"\n",
	       (unsigned long long)cfg.applied_gen, (unsigned long long)cfg.failed_gen,
	       cfg.nr_identities, cfg.nr_policies, cfg.nr_endpoints_policy, (int)sizeof(cfg.error),
	       cfg.error);
	close(fd);
	return 0;
}

static int cmd_count(int argc, char **argv)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	unsigned char *key, *next;
	unsigned long n = 0;
	int fd;

	if (argc != 2)
		usage();
	fd = bpf_obj_get(argv[1]);
	if (fd < 0 || bpf_map_get_info_by_fd(fd, &info, &len)) {
		fprintf(stderr, "apply_wait: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	key = calloc(2, info.key_size ? info.key_size : 1);
	if (!key)
		return 1;
	next = key + info.key_size;
	for (int first = 1; bpf_map_get_next_key(fd, first ? NULL : key, next) == 0; first = 0) {
		memcpy(key, next, info.key_size);
		n++;
	}
	printf("%lu\n", n);
	free(key);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	if (!strcmp(argv[1], "apply"))
		return cmd_apply(argc - 1, argv + 1);
	if (!strcmp(argv[1], "config"))
		return cmd_config(argc - 1, argv + 1);
	if (!strcmp(argv[1], "count"))
		return cmd_count(argc - 1, argv + 1);
	usage();
	return 2;
}
