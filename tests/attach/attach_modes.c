// SPDX-License-Identifier: Apache-2.0
/*
 * attach_modes (suite attach-modes, issue 40): every program of the seven
 * objects loads with each family's settings, and goes on a device in every
 * way xcni attaches it, as the kernel under test takes them.
 *
 *   settings: ipv4 (pod, Service CIDRs and underlay of IPv4), ipv6 (the same
 *             of IPv6, node_ip 0: a node of the IPv6 underlay alone), dual;
 *             each with Services in BPF off and on (lb_enabled, np_accel)
 *   tc:       tc clsact (a direct-action cls_bpf filter, the older kernels'
 *             path) and TCX (a link, Linux >= 6.6), ingress and egress
 *   XDP:      native (driver) and generic (skb)
 *   sock_lb:  loaded (its cgroup hooks have one attach mode)
 *
 *     this process, in a network namespace of its own (unshare):
 *       xat0 <== veth ==> xat1     every program attached to xat0, then detached
 *
 * The maps are the object's own (no pins); the namespace, its veths and
 * whatever stays attached go with the process. A kernel without TCX (no
 * BPF_TCX_INGRESS link) says so and skips those rows ("ok # skip"), as
 * xcnid falls back to tc there; the minimum kernel the project states
 * (XCNI_KERNEL_MIN, user/agent/probe.h) has none.
 * Prints "ok"/"not ok" lines and "N passed, N failed"; exit 1 on a failure.
 * Runs as root:  build/tests/attach_modes [-v]   (-v: the verifier's log tail)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "lib/system/nl.h"
#include "../lib/bpf_objs.h"

static int passed, failed, skipped, verbose;
static char log_buf[1 << 20];

static void result(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void result(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s - ", ok ? "ok" : "not ok");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (ok)
		passed++;
	else
		failed++;
}

static int set_in6(struct bpf_object *obj, const char *name, const char *addr)
{
	__u32 a[4];

	if (inet_pton(AF_INET6, addr, a) != 1)
		return -EINVAL;
	return rodata_set(obj, name, a, sizeof(a));
}

enum fam { F_IPV4 = 1, F_IPV6 = 2, F_DUAL = 3 };
static const char *const fam_name[] = { [F_IPV4] = "ipv4", [F_IPV6] = "ipv6", [F_DUAL] = "dual" };

/* The rodata a node of the family runs with (bpf/lib/config.h names each one's writer). */
static int settings(struct bpf_object *obj, enum fam f, int lb)
{
	int err = rodata_set_u32(obj, "vni", 77) || rodata_set_u32(obj, "lb_enabled", (__u32)lb) ||
		  rodata_set_u32(obj, "np_accel", (__u32)lb);

	if (f & F_IPV4)
		err = err || rodata_set_u32(obj, "pod_cidr", inet_addr("10.244.1.0")) ||
		      rodata_set_u32(obj, "pod_cidr_mask", inet_addr("255.255.255.0")) ||
		      rodata_set_u32(obj, "gateway_ip", inet_addr("10.244.1.1")) ||
		      rodata_set_u32(obj, "svc_cidr", inet_addr("10.96.0.0")) ||
		      rodata_set_u32(obj, "svc_cidr_mask", inet_addr("255.240.0.0")) ||
		      rodata_set_u32(obj, "node_ip", inet_addr("192.168.77.1"));
	if (f & F_IPV6)
		err = err || set_in6(obj, "svc_cidr6", "fd00:10:96::") ||
		      set_in6(obj, "svc_mask6", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:0") ||
		      set_in6(obj, "node_ip6", "fc00:77::1");
	return err ? -EINVAL : 0;
}

static int tcx_ok; /* the kernel takes TCX links (tcx_probe) */

/* A two-instruction tc program (TC_ACT_OK) on a TCX link: 1 the kernel has TCX, else 0. */
static int tcx_probe(int ifindex)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "xat_probe", "GPL", insns, 2, NULL), link;

	if (fd < 0)
		return 0;
	link = bpf_link_create(fd, ifindex, BPF_TCX_INGRESS, NULL);
	close(fd);
	if (link < 0)
		return 0;
	close(link);
	return 1;
}

/* One tc program on ifindex in each tc mode and direction, detached again. */
static void tc_modes(const char *what, int fd, int ifindex)
{
	for (int egress = 0; egress < 2; egress++) {
		const char *dir = egress ? "egress" : "ingress";
		DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
				    .attach_point = egress ? BPF_TC_EGRESS : BPF_TC_INGRESS);
		DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .handle = 1, .priority = 1, .prog_fd = fd);
		int err = bpf_tc_hook_create(&hook), link;

		if (err == -EEXIST)
			err = 0;
		err = err ?: bpf_tc_attach(&hook, &o);
		if (!err) {
			o.prog_fd = o.prog_id = 0;
			o.flags = 0;
			err = bpf_tc_detach(&hook, &o);
		}
		result(!err, "%s: tc clsact %s%s%s", what, dir, err ? ": " : "",
		       err ? strerror(-err) : "");

		if (!tcx_ok) {
			printf("ok - %s: TCX %s # skip the kernel has no TCX (Linux >= 6.6)\n", what,
			       dir);
			skipped++;
			continue;
		}
		link = bpf_link_create(fd, ifindex, egress ? BPF_TCX_EGRESS : BPF_TCX_INGRESS, NULL);
		result(link >= 0, "%s: TCX %s%s%s", what, dir, link < 0 ? ": " : "",
		       link < 0 ? strerror(errno) : "");
		if (link >= 0)
			close(link);
	}
}

static void xdp_modes(const char *what, int fd, int ifindex)
{
	static const struct {
		const char *name;
		__u32 flag;
	} modes[] = { { "native", XDP_FLAGS_DRV_MODE }, { "generic", XDP_FLAGS_SKB_MODE } };

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		int err = bpf_xdp_attach(ifindex, fd, modes[i].flag, NULL);

		if (!err)
			err = bpf_xdp_detach(ifindex, modes[i].flag, NULL);
		result(!err, "%s: XDP %s%s%s", what, modes[i].name, err ? ": " : "",
		       err ? strerror(-err) : "");
	}
}

static void one(const char *name, const void *elf, size_t size, enum fam f, int lb, int ifindex)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = name, .kernel_log_buf = log_buf,
		    .kernel_log_size = sizeof(log_buf), .kernel_log_level = verbose ? 1 : 0);
	struct bpf_object *obj = bpf_object__open_mem(elf, size, &oo);
	struct bpf_program *prog;
	struct bpf_map *m;
	char what[128];
	int err;

	snprintf(what, sizeof(what), "%s %s lb=%d", name, fam_name[f], lb);
	if (!obj) {
		result(0, "%s: opens: %s", what, strerror(errno));
		return;
	}
	bpf_object__for_each_map(m, obj)
		bpf_map__set_pin_path(m, NULL);
	log_buf[0] = '\0';
	err = settings(obj, f, lb) ?: bpf_object__load(obj);
	result(!err, "%s: loads%s%s", what, err ? ": " : "", err ? strerror(-err) : "");
	if (err) {
		size_t n = strlen(log_buf);

		if (n)
			fprintf(stderr, "%s\n", n > 2000 ? log_buf + n - 2000 : log_buf);
		bpf_object__close(obj);
		return;
	}
	bpf_object__for_each_program(prog, obj) {
		char pw[192];
		int fd = bpf_program__fd(prog);

		snprintf(pw, sizeof(pw), "%s/%s %s lb=%d", name, bpf_program__name(prog),
			 fam_name[f], lb);
		switch (bpf_program__type(prog)) {
		case BPF_PROG_TYPE_SCHED_CLS:
			tc_modes(pw, fd, ifindex);
			break;
		case BPF_PROG_TYPE_XDP:
			xdp_modes(pw, fd, ifindex);
			break;
		default:
			break; /* sock_lb's cgroup hooks: loaded is the test */
		}
	}
	bpf_object__close(obj);
}

/* xat0 <==> xat1 in a network namespace of this process's own, both up. */
static int make_veths(int *ifindex)
{
	struct nl nl = {};
	int err, peer;

	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "attach_modes: unshare(CLONE_NEWNET): %s (run as root)\n",
			strerror(errno));
		return -errno;
	}
	err = nl_open(&nl);
	if (err)
		return err;
	err = nl_veth_add(&nl, "xat0", "xat1", -1, 1500);
	*ifindex = (int)if_nametoindex("xat0");
	peer = (int)if_nametoindex("xat1");
	if (!err && (!*ifindex || !peer))
		err = -ENODEV;
	err = err ?: nl_link_set_flags(&nl, peer, IFF_UP, IFF_UP);
	err = err ?: nl_link_set_flags(&nl, *ifindex, IFF_UP, IFF_UP);
	if (err)
		fprintf(stderr, "attach_modes: the veths: %s %s\n", strerror(-err), nl.errmsg);
	nl_close(&nl);
	return err;
}

int main(int argc, char **argv)
{
	static const enum fam fams[] = { F_IPV4, F_IPV6, F_DUAL };
	int ifindex;

	verbose = argc > 1 && !strcmp(argv[1], "-v");
	if (make_veths(&ifindex)) {
		result(0, "a veth pair in a namespace of its own");
		printf("%d passed, %d failed\n", passed, failed);
		return 1;
	}
	libbpf_set_print(NULL);
	tcx_ok = tcx_probe(ifindex);
	for (size_t i = 0; i < XCNI_NR_BPF_OBJS; i++)
		for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++)
			for (int lb = 0; lb < 2; lb++) {
				size_t size;
				const void *elf = xcni_bpf_objs[i].bytes(&size);

				one(xcni_bpf_objs[i].name, elf, size, fams[f], lb, ifindex);
			}
	printf("%d passed, %d failed%s\n", passed + skipped, failed,
	       skipped ? " (TCX rows skipped: no TCX)" : "");
	return failed ? 1 : 0;
}
