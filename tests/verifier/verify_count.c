// SPDX-License-Identifier: Apache-2.0
/*
 * verify_count (suite verifier-budget, tests/verifier/budget.py): the
 * instructions the verifier processed (bpf_prog_info.verified_insns) for
 * every program of the seven BPF objects, in every configuration xcnid runs
 * them in. A configuration is an underlay (none, IPv4, dual, IPv6 alone)
 * and the options that change what the programs verify: Services in BPF
 * (lb), NodePort acceleration (accel), DSR (dsr), external ClusterIPs
 * (extcip), the prefilter at tc (tcpf, --xdp-mode tc) or Geneve
 * decapsulated at XDP (decap, --overlay-decap xdp); its name lists them,
 * e.g. dual-lb-accel-dsr.
 *
 * Each object gets only the settings xcnid writes into it (writers[] below,
 * after the rows of user/agent/settings.c), and the
 * objects of the overlay only where there is an underlay. A configuration
 * that leaves an object's .rodata as an earlier one left it loads the same
 * program: it is not loaded again and has no rows of its own (to_underlay
 * and sock_lb, which take no settings, have one row per program).
 * Maps are the object's own (no pins), gone with it; the ELF bytes are the
 * ones the skeletons embed (tests/lib/bpf_objs.h).
 *
 * Prints one line per program and configuration, tab-separated:
 *   object  program  configuration  insns
 * A program that does not load fails the run (exit 1), the kernel's log tail
 * on stderr. As root:
 *   build/tests/verify_count            every configuration
 *   build/tests/verify_count -c NAME    one (repeatable); -l lists them
 *   build/tests/verify_count -s         also the verifier's "stack depth" lines (stderr)
 *   build/tests/verify_count -o OBJ     only object OBJ (repeatable), e.g. from_overlay
 *   build/tests/verify_count -v         a refusal's log at level 1 (instruction by
 *                                       instruction), its last 64 KiB on stderr
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "../lib/bpf_objs.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

enum underlay { UL_NONE, UL_V4, UL_DUAL, UL_V6 };
static const char *const ul_name[] = { "pods", "v4", "dual", "v6" };

/* Options of a configuration; also the settings an object takes (writers[]). */
enum {
	O_LB = 1 << 0,	      /* lb_enabled (--kube-proxy-replacement) */
	O_ACCEL = 1 << 1,     /* np_accel (--nodeport-acceleration) */
	O_DSR = 1 << 2,	      /* lb_dsr (--node-port-mode dsr) */
	O_EXTCIP = 1 << 3,    /* external_clusterip (--external-clusterip) */
	O_TCPF = 1 << 4,      /* tc_prefilter (--xdp-mode tc) */
	O_DECAP = 1 << 5,     /* decap_cookie (--overlay-decap xdp) */
	O_FQDN = 1 << 6,      /* fqdn_enabled (a policy names a domain: lib/dns.h) */
	W_NODE = 1 << 8,      /* node_ip, node_ip6, vni: the underlay */
	W_IFINDEX = 1 << 9,   /* underlay_ifindex */
	W_PODS = 1 << 10,     /* pod_cidr (mask), gateway_ip */
	W_SVC = 1 << 11,      /* svc_cidr, svc_cidr6 and their masks */
	W_LOOPBACK = 1 << 12, /* lb_loopback_ip, with lb */
};
static const char *const opt_name[] = { "lb", "accel", "dsr", "extcip", "tcpf", "decap", "fqdn" };
#define NR_OPTS NELEM(opt_name)

/* What xcnid writes into each object; overlay: loaded only with an underlay. */
static const struct writer {
	const char *obj;
	unsigned int writes;
	bool overlay;
} writers[] = {
	{ "from_pod", W_PODS | W_SVC | O_LB | W_LOOPBACK | W_NODE | W_IFINDEX | O_FQDN, false },
	{ "to_pod", O_LB | O_FQDN, false },
	{ "from_overlay", W_NODE | W_SVC | O_LB | O_DSR | O_EXTCIP | O_TCPF | O_DECAP | O_FQDN, true },
	{ "to_overlay", W_NODE | W_IFINDEX, true },
	{ "to_underlay", 0, true },
	{ "xdp_underlay", W_NODE | W_SVC | O_LB | O_ACCEL | O_DSR | O_EXTCIP, true },
	{ "sock_lb", 0, false },
};

/*
 * The configurations, as xcnid's option checks allow them (xcnid_opts.c
 * check_services): accel, dsr and extcip with lb only; accel not with
 * tcpf; tcpf and decap not together. Each underlay with Services off and
 * on (with acceleration); the other options on the dual underlay, whose
 * rows are the largest, each with Services off and on (DSR: on). Not the
 * whole product of the options (extcip, which changes from_overlay by
 * 0.1%, not at all): the run stays near a minute on a verifier that does
 * ~110k instructions a second (docs/decisions/verifier-budget.md).
 */
static const struct vconf {
	enum underlay ul;
	unsigned int opts;
} confs[] = {
	{ UL_NONE, 0 },
	{ UL_NONE, O_LB },
	{ UL_V4, 0 },
	{ UL_V4, O_LB | O_ACCEL },
	{ UL_DUAL, 0 },
	{ UL_DUAL, O_LB },
	{ UL_DUAL, O_LB | O_ACCEL },
	{ UL_DUAL, O_LB | O_ACCEL | O_DSR },
	{ UL_DUAL, O_TCPF },
	{ UL_DUAL, O_LB | O_TCPF },
	{ UL_DUAL, O_DECAP },
	{ UL_DUAL, O_LB | O_ACCEL | O_DECAP },
	{ UL_DUAL, O_LB | O_FQDN },
	{ UL_V6, 0 },
	{ UL_V6, O_LB | O_ACCEL },
};

static char small_log[1 << 20];
/* -v: 6.1's log keeps its start and drops the rest once full; a level-1 log of
 * the largest programs is ~100 MB. */
static char *log_buf = small_log;
static size_t log_size = sizeof(small_log);
static bool stack_lines, whole_log;

static const char *conf_name(const struct vconf *c)
{
	static char buf[64];
	size_t n = (size_t)snprintf(buf, sizeof(buf), "%s", ul_name[c->ul]);

	for (size_t i = 0; i < NR_OPTS; i++)
		if (c->opts & (1u << i))
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "-%s", opt_name[i]);
	return buf;
}

static const struct writer *writer_of(const char *obj)
{
	for (size_t i = 0; i < NELEM(writers); i++)
		if (!strcmp(writers[i].obj, obj))
			return &writers[i];
	return NULL;
}

static int set_in6(struct bpf_object *obj, const char *name, const char *addr)
{
	__u32 a[4];

	if (inet_pton(AF_INET6, addr, a) != 1)
		return -EINVAL;
	return rodata_set(obj, name, a, sizeof(a));
}

/* The settings of c that w takes, with a node's addresses (fc00:77::1 and so on). */
static int settings(struct bpf_object *obj, const struct writer *w, const struct vconf *c)
{
	unsigned int on = w->writes & (c->opts | ~(O_LB | O_ACCEL | O_DSR | O_EXTCIP | O_TCPF | O_DECAP | O_FQDN));
	__u32 cookie[2] = { 0x9e3779b9, 0x7f4a7c15 };
	int err = 0;

	if (!(c->opts & O_LB))
		on &= ~W_LOOPBACK;
	if ((on & W_NODE) && c->ul != UL_NONE) {
		err = err ?: rodata_set_u32(obj, "vni", 77);
		if (c->ul != UL_V6)
			err = err ?: rodata_set_u32(obj, "node_ip", inet_addr("192.168.77.1"));
		if (c->ul != UL_V4)
			err = err ?: set_in6(obj, "node_ip6", "fc00:77::1");
	}
	if ((on & W_IFINDEX) && c->ul != UL_NONE)
		err = err ?: rodata_set_u32(obj, "underlay_ifindex", 2);
	if (on & W_PODS) {
		err = err ?: rodata_set_u32(obj, "pod_cidr", inet_addr("10.77.1.0"));
		err = err ?: rodata_set_u32(obj, "pod_cidr_mask", inet_addr("255.255.255.0"));
		err = err ?: rodata_set_u32(obj, "gateway_ip", inet_addr("10.77.1.1"));
	}
	if (on & W_SVC) {
		err = err ?: rodata_set_u32(obj, "svc_cidr", inet_addr("10.96.0.0"));
		err = err ?: rodata_set_u32(obj, "svc_cidr_mask", inet_addr("255.240.0.0"));
		err = err ?: set_in6(obj, "svc_cidr6", "fd00:96::");
		err = err ?: set_in6(obj, "svc_mask6", "ffff:ffff:ffff:ffff:ffff:ffff:fff0:0");
	}
	if (on & W_LOOPBACK)
		err = err ?: rodata_set_u32(obj, "lb_loopback_ip", inet_addr("169.254.42.1"));
	if (on & O_LB)
		err = err ?: rodata_set_u32(obj, "lb_enabled", 1);
	if (on & O_ACCEL)
		err = err ?: rodata_set_u32(obj, "np_accel", 1);
	if (on & O_DSR)
		err = err ?: rodata_set_u32(obj, "lb_dsr", 1);
	if (on & O_EXTCIP)
		err = err ?: rodata_set_u32(obj, "external_clusterip", 1);
	if (on & O_TCPF)
		err = err ?: rodata_set_u32(obj, "tc_prefilter", 1);
	if (on & O_DECAP)
		err = err ?: rodata_set(obj, "decap_cookie", cookie, sizeof(cookie));
	if (on & O_FQDN)
		err = err ?: rodata_set_u32(obj, "fqdn_enabled", 1);
	return err;
}

/* The .rodata of every configuration loaded so far, per object: a repeat is not loaded. */
struct seen {
	void *rodata[NELEM(confs)];
	size_t n, size;
};

static bool seen_before(struct seen *s, struct bpf_object *obj)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, ".rodata");
	size_t size = 0;
	const void *data = m ? bpf_map__initial_value(m, &size) : NULL;

	if (!data)
		return s->n++ > 0; /* no settings at all: the first configuration only */
	for (size_t i = 0; i < s->n; i++)
		if (size == s->size && !memcmp(s->rodata[i], data, size))
			return true;
	s->size = size;
	s->rodata[s->n] = malloc(size);
	if (s->rodata[s->n])
		memcpy(s->rodata[s->n++], data, size);
	return false;
}

/* Loads object o in configuration c and prints its programs' rows; 0, 1 when it did not load. */
static int one(const struct xcni_bpf_obj *o, const struct writer *w, const struct vconf *c,
	       struct seen *seen)
{
	size_t elf_size;
	const void *elf = o->bytes(&elf_size);
	LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = o->name, .kernel_log_buf = log_buf,
		    .kernel_log_size = log_size, .kernel_log_level = whole_log ? 5 : 4);
	struct bpf_object *obj = bpf_object__open_mem(elf, elf_size, &oo);
	struct bpf_program *prog;
	struct bpf_map *m;
	int err;

	if (!obj) {
		fprintf(stderr, "verify_count: %s: %s\n", o->name, strerror(errno));
		return 1;
	}
	bpf_object__for_each_map(m, obj)
		bpf_map__set_pin_path(m, NULL);
	if (settings(obj, w, c)) {
		fprintf(stderr, "verify_count: %s: a setting's size is not the object's\n", o->name);
		bpf_object__close(obj);
		return 1;
	}
	if (seen_before(seen, obj)) {
		bpf_object__close(obj);
		return 0;
	}
	log_buf[0] = 0;
	err = bpf_object__load(obj);
	if (err) {
		size_t n = strlen(log_buf), tail = whole_log ? 65536 : 2000;

		fprintf(stderr, "verify_count: %s (%s): %s\n%s\n", o->name, conf_name(c),
			strerror(-err), n > tail ? log_buf + n - tail : log_buf);
		bpf_object__close(obj);
		return 1;
	}
	bpf_object__for_each_program(prog, obj) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);

		if (bpf_prog_get_info_by_fd(bpf_program__fd(prog), &info, &len)) {
			fprintf(stderr, "verify_count: %s %s: no prog info: %s\n", o->name,
				bpf_program__name(prog), strerror(errno));
			err = 1;
			continue;
		}
		printf("%s\t%s\t%s\t%u\n", o->name, bpf_program__name(prog), conf_name(c),
		       info.verified_insns);
	}
	if (stack_lines) {
		const char *sd = strstr(log_buf, "stack depth");

		if (sd)
			fprintf(stderr, "%s %s %.*s\n", o->name, conf_name(c), (int)strcspn(sd, "\n"),
				sd);
	}
	fflush(stdout);
	bpf_object__close(obj);
	return err ? 1 : 0;
}

static bool wanted(const struct vconf *c, char **names, int n)
{
	if (!n)
		return true;
	for (int i = 0; i < n; i++)
		if (!strcmp(names[i], conf_name(c)))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	char *names[NELEM(confs)];
	const char *only[XCNI_NR_BPF_OBJS];
	int n = 0, no = 0, opt, err = 0;

	while ((opt = getopt(argc, argv, "c:lo:sv")) != -1) {
		switch (opt) {
		case 'c':
			if (n == (int)NELEM(names)) {
				fprintf(stderr, "verify_count: -c: at most %zu\n", NELEM(names));
				return 2;
			}
			names[n++] = optarg;
			break;
		case 'l':
			for (size_t i = 0; i < NELEM(confs); i++)
				printf("%s\n", conf_name(&confs[i]));
			return 0;
		case 'o':
			if (no < (int)XCNI_NR_BPF_OBJS)
				only[no++] = optarg;
			break;
		case 's':
			stack_lines = true;
			break;
		case 'v':
			whole_log = true;
			log_size = 256 << 20;
			log_buf = malloc(log_size);
			if (!log_buf)
				return 2;
			break;
		default:
			fprintf(stderr, "usage: verify_count [-c CONFIGURATION]... [-o OBJECT]... [-l] [-s] [-v]\n");
			return 2;
		}
	}
	for (int i = 0; i < n; i++) {
		size_t k = 0;

		while (k < NELEM(confs) && strcmp(names[i], conf_name(&confs[k])))
			k++;
		if (k == NELEM(confs)) {
			fprintf(stderr, "verify_count: -c %s: no such configuration (-l lists them)\n",
				names[i]);
			return 2;
		}
	}
	for (size_t i = 0; i < XCNI_NR_BPF_OBJS; i++) {
		const struct writer *w = writer_of(xcni_bpf_objs[i].name);
		struct seen seen = {};
		int j = 0;

		while (j < no && strcmp(only[j], xcni_bpf_objs[i].name))
			j++;
		if (no && j == no)
			continue;

		if (!w) {
			/* A new object: say which settings xcnid writes into it (writers[]). */
			fprintf(stderr, "verify_count: %s: not in writers[]\n", xcni_bpf_objs[i].name);
			err = 1;
			continue;
		}
		for (size_t k = 0; k < NELEM(confs); k++) {
			if (!wanted(&confs[k], names, n) || (w->overlay && confs[k].ul == UL_NONE))
				continue;
			err |= one(&xcni_bpf_objs[i], w, &confs[k], &seen);
		}
		for (size_t k = 0; k < seen.n; k++)
			free(seen.rodata[k]);
	}
	return err;
}
