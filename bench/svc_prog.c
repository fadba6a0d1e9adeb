// SPDX-License-Identifier: Apache-2.0
/*
 * svc_prog: Service programming time without the agent, for bench/svc.sh.
 *
 *   svc_prog PIN_DIR [-n SERVICES] [-e ENDPOINTS] [-r REPS] [-F]
 *
 * PIN_DIR holds the Service maps (xcnid --kube-proxy-replacement pinned
 * them and was stopped; they must be empty). SERVICES Services (default
 * 10000), each one TCP port with an EndpointSlice of ENDPOINTS (default 10)
 * ready endpoints of its own, are parsed by k8s_parse_lb into a store, the
 * way xcnid's backends do. Then, REPS times (default 5):
 *
 *   all     svc_incr_update over the store (everything built: the first
 *           update) + svcsync_apply + svcsync_cleanup, from empty maps to
 *           every frontend, slot and backend in them;
 *   one     one endpoint of one slice changed (store_put of the new slice),
 *           then svc_incr_update (the changed Service built again, from the
 *           store's journal) + svcsync_apply_delta + svcsync_cleanup: what
 *           xcnid does per generation;
 *   delete  every Service and slice deleted from the store, the same steps
 *           (the maps empty again).
 *   -F: svc_build + svcsync_apply (the whole list built and compared) for
 *       every step instead, as before svc_incr.
 *
 *   svc_prog --parse FILE...
 *       Where the time of loading manifests goes, per stage, over every
 *       FILE (YAML or JSON, multi-document): libyaml's events alone (the
 *       library's floor: no tree), k8s_load_file (events into jansson trees,
 *       what the manifest backend does), k8s_parse_lb of every document, and
 *       store_put of every object; then the same documents as one JSON text
 *       each, parsed with jansson (json_loads: what the API backend parses).
 *       One line: parse yaml_events_ms=.. load_ms=.. k8s_parse_ms=..
 *       store_ms=.. json_loads_ms=.. docs=.. bytes=..
 *
 *   svc_prog PIN_DIR --has-backend IP:PORT
 *       Exits 0 if xcni_backend holds that backend, 1 if not (for svc.sh's
 *       check that a change through the agent reached the map).
 *
 * Each step is timed with CLOCK_MONOTONIC, the build and the map writes
 * apart; after each, the entries of xcni_svc, xcni_svcslot and xcni_backend
 * are counted and must be what was applied, or the run fails. One line per
 * step and repetition:
 *   step=all rep=1 build_ms=.. sync_ms=.. cleanup_ms=.. total_ms=.. svc=.. slots=.. backends=..
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <jansson.h>
#include <yaml.h>

#include "lib/cluster/k8s.h"
#include "lib/cluster/store.h"
#include "lib/services/svc.h"
#include "lib/services/svcsync.h"
#include "../tests/unit/svc_fx.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static long arg_long(const char *s, long lo, long hi, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || !*s || *end || v < lo || v > hi) {
		fprintf(stderr, "svc_prog: bad %s '%s' (%ld..%ld)\n", what, s, lo, hi);
		exit(2);
	}
	return v;
}

static long count(const char *pin_dir, const char *map)
{
	char path[512];
	unsigned char k[64], nk[64];
	long n = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, map);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	for (void *prev = NULL; !bpf_map_get_next_key(fd, prev, nk); prev = k, n++)
		memcpy(k, nk, sizeof(k));
	close(fd);
	return n;
}

/* Service i's ClusterIP (base + 1 + i) and its endpoint j's address, as text. */
static void addr(uint32_t base, long i, char *out)
{
	struct in_addr a = { htonl(base + 1 + (uint32_t)i) };

	inet_ntop(AF_INET, &a, out, INET_ADDRSTRLEN);
}

/* Parses one JSON object (k8s_parse_lb) into the store. */
static int put(struct store *st, const char *text)
{
	struct k8s_error kerr = { "" };
	struct k8s_object *o;
	json_error_t jerr;
	json_t *doc = json_loads(text, 0, &jerr);
	int err;

	if (!doc) {
		fprintf(stderr, "svc_prog: JSON: %s\n", jerr.text);
		return -EINVAL;
	}
	err = k8s_parse_lb(doc, &o, &kerr);
	json_decref(doc);
	if (err) {
		fprintf(stderr, "svc_prog: %s\n", kerr.msg);
		return err;
	}
	return store_put(st, o) < 0 ? -ENOMEM : 0;
}

/* EndpointSlice of Service i, endpoint `moved` at its alternative address. */
static int put_slice(struct store *st, long i, long neps, uint32_t ep_base, long moved)
{
	size_t cap = 256 + (size_t)neps * 64, off;
	char *t = malloc(cap), ip[INET_ADDRSTRLEN];
	int err;

	if (!t)
		return -ENOMEM;
	off = (size_t)snprintf(t, cap,
			       "{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\","
			       "\"metadata\":{\"name\":\"s%ld-1\",\"namespace\":\"bench\",\"labels\":"
			       "{\"kubernetes.io/service-name\":\"s%ld\"}},\"addressType\":\"IPv4\","
			       "\"ports\":[{\"name\":\"http\",\"port\":8080,\"protocol\":\"TCP\"}],"
			       "\"endpoints\":[",
			       i, i);
	for (long j = 0; j < neps; j++) {
		/* Endpoints 10.(base)+i*neps+j; the moved one beyond every other. */
		addr(ep_base, j == moved ? 0x100000 + i : i * neps + j, ip);
		off += (size_t)snprintf(t + off, cap - off, "%s{\"addresses\":[\"%s\"]}", j ? "," : "",
					ip);
	}
	snprintf(t + off, cap - off, "]}");
	err = put(st, t);
	free(t);
	return err;
}

struct step {
	double build, sync, cleanup;
};

static bool whole_build; /* -F */

static int program(struct store *st, struct svc_incr *si, struct svcsync *ss, struct step *t,
		   size_t *nfe)
{
	struct svcsync_stats stats = {};
	const struct svc_delta *d;
	struct store_change *ch;
	struct svc_list l = {};
	struct cluster c;
	char msg[256] = "";
	double t0 = now_ms(), t1, t2;
	size_t nch;
	bool all;
	int err;

	store_view(st, &c);
	if (whole_build) {
		err = svc_build(&c, NULL, 0, &l);
		if (err)
			return err;
		t1 = now_ms();
		err = svcsync_apply(ss, l.specs, l.n, &stats, msg, sizeof(msg));
		*nfe = l.n;
		svc_list_free(&l);
	} else {
		store_journal_take(st, &ch, &nch, &all);
		err = svc_incr_update(si, &c, NULL, 0, ch, nch, all, false, &d);
		store_changes_free(ch, nch);
		if (err)
			return err;
		t1 = now_ms();
		err = d->full ? svcsync_apply(ss, d->put, d->nput, &stats, msg, sizeof(msg))
			      : svcsync_apply_delta(ss, d->put, d->nput, d->del, d->ndel, &stats,
						    msg, sizeof(msg));
		*nfe = d->nput;
	}
	t2 = now_ms();
	if (!err)
		err = svcsync_cleanup(ss, &stats);
	t->build = t1 - t0;
	t->sync = t2 - t1;
	t->cleanup = now_ms() - t2;
	if (err)
		fprintf(stderr, "svc_prog: svcsync: %s\n", msg[0] ? msg : strerror(-err));
	return err;
}

static int report(const char *pin_dir, const char *what, int rep, const struct step *t,
		  long want_svc, long want_slots, long want_be)
{
	long svc = count(pin_dir, "xcni_svc"), slots = count(pin_dir, "xcni_svcslot"),
	     be = count(pin_dir, "xcni_backend");

	printf("step=%s rep=%d build_ms=%.2f sync_ms=%.2f cleanup_ms=%.2f total_ms=%.2f svc=%ld "
	       "slots=%ld backends=%ld\n",
	       what, rep, t->build, t->sync, t->cleanup, t->build + t->sync + t->cleanup, svc, slots,
	       be);
	fflush(stdout);
	if (svc != want_svc || slots != want_slots || be != want_be) {
		fprintf(stderr,
			"svc_prog: after %s: the maps hold %ld frontends, %ld slots, %ld backends; "
			"expected %ld, %ld, %ld\n",
			what, svc, slots, be, want_svc, want_slots, want_be);
		return -EIO;
	}
	return 0;
}

static int has_backend(const char *pin_dir, const char *arg)
{
	char path[512], ip[INET_ADDRSTRLEN] = "", *colon = strrchr(arg, ':');
	struct xcni_backend b;
	struct in_addr a;
	__u32 k, nk;
	long port;
	int fd;

	if (!colon || (size_t)(colon - arg) >= sizeof(ip)) {
		fprintf(stderr, "svc_prog: --has-backend wants IP:PORT, not '%s'\n", arg);
		return 2;
	}
	memcpy(ip, arg, (size_t)(colon - arg));
	port = arg_long(colon + 1, 1, 65535, "port");
	if (inet_pton(AF_INET, ip, &a) != 1) {
		fprintf(stderr, "svc_prog: --has-backend: bad address '%s'\n", ip);
		return 2;
	}
	snprintf(path, sizeof(path), "%s/xcni_backend", pin_dir);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		fprintf(stderr, "svc_prog: %s: %s\n", path, strerror(errno));
		return 2;
	}
	for (void *prev = NULL; !bpf_map_get_next_key(fd, prev, &nk); prev = &k) {
		k = nk;
		if (!bpf_map_lookup_elem(fd, &k, &b) && b.family == XCNI_AF_INET &&
		    !memcmp(b.addr, &a, 4) && b.port == htons((uint16_t)port)) {
			close(fd);
			return 0;
		}
	}
	close(fd);
	return 1;
}

/* libyaml's events over the file, nothing built: 0 or -1. */
static int yaml_events(const char *path, size_t *bytes)
{
	FILE *f = fopen(path, "rb");
	yaml_parser_t p;
	yaml_event_t ev;
	int done = 0, err = 0;

	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	*bytes += (size_t)ftell(f);
	rewind(f);
	yaml_parser_initialize(&p);
	yaml_parser_set_input_file(&p, f);
	while (!done) {
		if (!yaml_parser_parse(&p, &ev)) {
			err = -1;
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	fclose(f);
	return err;
}

static int parse_floor(int n, char **files)
{
	double t0, t_ev, t_load, t_parse = 0, t_store = 0, t_json = 0;
	struct store *st = store_new();
	size_t ndocs = 0, bytes = 0, jbytes = 0, ntexts = 0;
	json_t ***docs = calloc((size_t)n, sizeof(*docs));
	size_t *nd = calloc((size_t)n, sizeof(*nd));
	struct k8s_object **objs = NULL;
	char **texts = NULL;
	struct k8s_error kerr = { "" };

	if (!st || !docs || !nd)
		return 1;
	/* Each stage over every file before the next, as the agent does them. */
	t0 = now_ms();
	for (int i = 0; i < n; i++)
		if (yaml_events(files[i], &bytes)) {
			fprintf(stderr, "svc_prog: %s: libyaml failed\n", files[i]);
			return 1;
		}
	t_ev = now_ms() - t0;
	t0 = now_ms();
	for (int i = 0; i < n; i++) {
		if (k8s_load_file(files[i], &docs[i], &nd[i], &kerr)) {
			fprintf(stderr, "svc_prog: %s\n", kerr.msg);
			return 1;
		}
		ndocs += nd[i];
	}
	t_load = now_ms() - t0;
	objs = calloc(ndocs, sizeof(*objs));
	texts = calloc(ndocs, sizeof(*texts));
	if (!objs || !texts)
		return 1;
	for (int i = 0, k = 0; i < n; i++)
		for (size_t d = 0; d < nd[i]; d++, k++) {
			t0 = now_ms();
			if (k8s_parse_lb(docs[i][d], &objs[k], &kerr)) {
				fprintf(stderr, "svc_prog: %s\n", kerr.msg);
				return 1;
			}
			t_parse += now_ms() - t0;
			if (!(texts[ntexts] = json_dumps(docs[i][d], JSON_COMPACT)))
				return 1;
			jbytes += strlen(texts[ntexts++]);
		}
	t0 = now_ms();
	for (size_t k = 0; k < ndocs; k++)
		if (store_put(st, objs[k]) < 0)
			return 1;
	t_store = now_ms() - t0;
	t0 = now_ms();
	for (size_t k = 0; k < ntexts; k++) {
		json_error_t jerr;
		json_t *back = json_loads(texts[k], 0, &jerr);

		if (!back)
			return 1;
		json_decref(back);
	}
	t_json = now_ms() - t0;
	printf("parse yaml_events_ms=%.1f load_ms=%.1f k8s_parse_ms=%.1f store_ms=%.1f "
	       "json_loads_ms=%.1f docs=%zu bytes=%zu json_bytes=%zu\n",
	       t_ev, t_load, t_parse, t_store, t_json, ndocs, bytes, jbytes);
	for (int i = 0; i < n; i++)
		k8s_docs_free(docs[i], nd[i]);
	for (size_t k = 0; k < ntexts; k++)
		free(texts[k]);
	free(texts);
	free(objs);
	free(docs);
	free(nd);
	store_free(st);
	return 0;
}

int main(int argc, char **argv)
{
	long nsvc = 10000, neps = 10, reps = 5;
	uint32_t svc_base = 0x0a600000; /* 10.96.0.0 */
	uint32_t ep_base = 0x0a800000; /* 10.128.0.0 */
	struct svcsync *ss = NULL;
	struct svc_incr *si = NULL;
	struct store *st = NULL;
	const char *pin_dir;
	struct step t;
	size_t nfe;
	int opt, err;

	if (argc > 2 && !strcmp(argv[1], "--parse"))
		return parse_floor(argc - 2, argv + 2);
	if (argc < 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: svc_prog PIN_DIR [-n SERVICES] [-e ENDPOINTS] [-r REPS] [-F]\n"
			"       svc_prog --parse FILE...\n"
			"       svc_prog PIN_DIR --has-backend IP:PORT\n");
		return 2;
	}
	pin_dir = argv[1];
	if (argc == 4 && !strcmp(argv[2], "--has-backend"))
		return has_backend(pin_dir, argv[3]);
	optind = 2;
	while ((opt = getopt(argc, argv, "n:e:r:F")) != -1) {
		switch (opt) {
		case 'F': whole_build = true; break;
		case 'n': nsvc = arg_long(optarg, 1, 60000, "-n"); break;
		case 'e': neps = arg_long(optarg, 1, 100, "-e"); break;
		case 'r': reps = arg_long(optarg, 1, 50, "-r"); break;
		default: return 2;
		}
	}
	if (count(pin_dir, "xcni_svc") != 0) {
		fprintf(stderr, "svc_prog: %s/xcni_svc is missing or not empty\n", pin_dir);
		return 1;
	}
	err = svcsync_open(pin_dir, &ss);
	if (err) {
		fprintf(stderr, "svc_prog: opening the Service maps: %s\n", strerror(-err));
		return 1;
	}
	for (int rep = 1; rep <= reps && !err; rep++) {
		double t0 = now_ms();

		st = store_new();
		/* A new store: a new builder (the store's journal starts again). */
		svc_incr_free(si);
		si = svc_incr_new();
		if (!st || !si) {
			err = -ENOMEM;
			break;
		}
		for (long i = 0; i < nsvc && !err; i++) {
			char text[512], ip[INET_ADDRSTRLEN];

			addr(svc_base, i, ip);
			snprintf(text, sizeof(text),
				 "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":"
				 "\"s%ld\",\"namespace\":\"bench\"},\"spec\":{\"clusterIP\":\"%s\","
				 "\"selector\":{\"app\":\"s%ld\"},\"ports\":[{\"name\":\"http\",\"port\":80,"
				 "\"protocol\":\"TCP\",\"targetPort\":8080}]}}",
				 i, ip, i);
			err = put(st, text) ?: put_slice(st, i, neps, ep_base, -1);
		}
		if (err)
			break;
		if (rep == 1)
			printf("step=parse rep=%d total_ms=%.2f objects=%ld\n", rep, now_ms() - t0,
			       2 * nsvc);
		err = program(st, si, ss, &t, &nfe) ?:
		      report(pin_dir, "all", rep, &t, nsvc, nsvc * neps, nsvc * neps);
		/* One endpoint moved, in the middle Service; then back. */
		for (int k = 0; k < 2 && !err; k++) {
			err = put_slice(st, nsvc / 2, neps, ep_base, k ? -1 : neps / 2) ?:
			      program(st, si, ss, &t, &nfe) ?:
			      report(pin_dir, "one", rep, &t, nsvc, nsvc * neps, nsvc * neps);
		}
		if (err)
			break;
		/* Everything deleted: each from the store, as a backend's relist would. */
		for (long i = 0; i < nsvc && !err; i++) {
			char name[32];

			snprintf(name, sizeof(name), "s%ld", i);
			store_del(st, K8S_SERVICE, "bench", name);
			snprintf(name, sizeof(name), "s%ld-1", i);
			store_del(st, K8S_ENDPOINTSLICE, "bench", name);
		}
		err = program(st, si, ss, &t, &nfe) ?: report(pin_dir, "delete", rep, &t, 0, 0, 0);
		store_free(st);
		st = NULL;
	}
	store_free(st);
	svc_incr_free(si);
	svcsync_free(ss);
	return err ? 1 : 0;
}
