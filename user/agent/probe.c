// SPDX-License-Identifier: Apache-2.0
/*
 * Feature probes at xcnid's start. Each row is one thing the programs use,
 * the kernel that brought it (what the minimum in docs/kind.md and xcnid(8) is
 * made of), and whether xcni can do without it.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "lib/system/log.h"
#include "lib/system/util.h"
#include "agent/probe.h"

enum probe_kind { P_PROG, P_MAP, P_HELPER, P_ATTACH, P_RUN };

struct feature {
	const char *name; /* as the message and XCNI_PROBE_FAIL say it */
	const char *since; /* the kernel that brought it */
	enum probe_kind kind;
	int prog_type; /* P_PROG, P_HELPER (the program type it is called from) */
	int what; /* map type, helper id, attach type */
	const char *why; /* what xcni uses it for */
};

/* Needed: without any of these no pod gets a working network. */
static const struct feature required[] = {
	{ "tc-bpf", "4.1", P_PROG, BPF_PROG_TYPE_SCHED_CLS, 0, "every pod and overlay program" },
	{ "xdp", "4.8", P_PROG, BPF_PROG_TYPE_XDP, 0, "the underlay prefilter" },
	{ "lru-hash", "4.10", P_MAP, 0, BPF_MAP_TYPE_LRU_HASH, "conntrack" },
	{ "lpm-trie", "4.11", P_MAP, 0, BPF_MAP_TYPE_LPM_TRIE, "the ipcache and policy CIDRs" },
	{ "hash-of-maps", "4.12", P_MAP, 0, BPF_MAP_TYPE_HASH_OF_MAPS, "Maglev tables" },
	{ "ringbuf", "5.8", P_MAP, 0, BPF_MAP_TYPE_RINGBUF, "the event ring (drops, traces)" },
	{ "bpf_skb_adjust_room", "4.13", P_HELPER, BPF_PROG_TYPE_SCHED_CLS,
	  BPF_FUNC_skb_adjust_room, "Geneve encapsulation" },
	{ "bpf_redirect_peer", "5.10", P_HELPER, BPF_PROG_TYPE_SCHED_CLS, BPF_FUNC_redirect_peer,
	  "delivery into a pod's netns" },
	{ "bpf_redirect_neigh", "5.10", P_HELPER, BPF_PROG_TYPE_SCHED_CLS,
	  BPF_FUNC_redirect_neigh, "forwarding to the underlay" },
	{ "bpf_check_mtu", "5.12", P_HELPER, BPF_PROG_TYPE_SCHED_CLS, BPF_FUNC_check_mtu,
	  "the MTU check before encapsulation" },
	/* Callbacks (BPF_PSEUDO_FUNC) came with this helper: the DNS reader's
	 * bpf_loop callbacks are referenced from every pod program, used or not. */
	{ "bpf-callbacks", "5.13", P_HELPER, BPF_PROG_TYPE_SCHED_CLS, BPF_FUNC_for_each_map_elem,
	  "the programs' callbacks (the DNS reader's)" },
};

/* Wanted: where missing, the feature that needs it is switched off, with a warning. */
static const struct feature sock_lb[] = {
	{ "getpeername-hook", "5.8", P_ATTACH, BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
	  BPF_CGROUP_INET4_GETPEERNAME, "socket LB (--cgroup-root)" },
	{ "bpf_set_retval", "5.18", P_HELPER, BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
	  BPF_FUNC_set_retval, "socket LB (--cgroup-root)" },
};
/* The DNS reader's loops over names and records (--fqdn-policy). */
static const struct feature loop = { "bpf_loop", "5.17", P_HELPER, BPF_PROG_TYPE_SCHED_CLS,
				     BPF_FUNC_loop, "egress by DNS name (--fqdn-policy)" };
static const struct feature decap_l3 = {
	"adjust-room-decap-l3", "6.3", P_RUN, BPF_PROG_TYPE_SCHED_CLS, 0,
	"Geneve between families (IPv6 pods over an IPv4 underlay, IPv4 over IPv6)"
};

static int forced_fail(const char *name)
{
	const char *f = getenv("XCNI_PROBE_FAIL");

	return f && !strcmp(f, name);
}

/* A cgroup sock_addr program (return 1) loads for attach type t, or not. */
static int probe_attach(int t)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 1 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, o, .expected_attach_type = t);
	int fd = bpf_prog_load(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, "xcni_probe", "GPL", insns, 2, &o);

	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

/*
 * bpf_skb_adjust_room with BPF_F_ADJ_ROOM_DECAP_L3_IPV4 on an IPIP packet,
 * run once: the flag is checked when the helper runs, not at load, so only
 * running it tells (older kernels answer -EINVAL).
 */
static int probe_decap_l3(void)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_2, .imm = -20 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_3, .imm = BPF_ADJ_ROOM_MAC },
		/* BPF_F_ADJ_ROOM_FIXED_GSO | BPF_F_ADJ_ROOM_DECAP_L3_IPV4 (1 << 7) */
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_4, .imm = 1 | 1 << 7 },
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_skb_adjust_room },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	unsigned char pkt[14 + 20 + 20 + 32] = {};
	struct iphdr *o = (struct iphdr *)(pkt + 14), *i = o + 1;
	LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = pkt, .data_size_in = sizeof(pkt));
	int fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "xcni_probe", "GPL", insns, 5, NULL), ok;

	if (fd < 0)
		return 0;
	pkt[12] = ETH_P_IP >> 8;
	pkt[13] = ETH_P_IP & 0xff;
	*o = (struct iphdr){ .version = 4, .ihl = 5, .ttl = 64, .protocol = IPPROTO_IPIP,
			     .tot_len = htons(sizeof(pkt) - 14) };
	*i = (struct iphdr){ .version = 4, .ihl = 5, .ttl = 64, .protocol = IPPROTO_UDP,
			     .tot_len = htons(sizeof(pkt) - 34) };
	ok = !bpf_prog_test_run_opts(fd, &t) && t.retval == 0;
	close(fd);
	return ok;
}

static int has(const struct feature *f)
{
	if (forced_fail(f->name))
		return 0;
	switch (f->kind) {
	case P_PROG: return libbpf_probe_bpf_prog_type(f->prog_type, NULL) == 1;
	case P_MAP: return libbpf_probe_bpf_map_type(f->what, NULL) == 1;
	case P_HELPER: return libbpf_probe_bpf_helper(f->prog_type, f->what, NULL) == 1;
	case P_ATTACH: return probe_attach(f->what);
	case P_RUN: return probe_decap_l3();
	}
	return 0;
}

int xcnid_probe_decap_l3(void)
{
	return has(&decap_l3);
}

int xcnid_probe(struct probe_result *r)
{
	struct utsname u = {};

	uname(&u);
	memset(r, 0, sizeof(*r));
	for (size_t i = 0; i < ARRAY_SIZE(required); i++) {
		const struct feature *f = &required[i];

		if (has(f))
			continue;
		pr_err("kernel %s lacks %s (Linux >= %s; for %s): xcni needs Linux >= %s "
		       "(see xcnid(8), KERNEL); refusing to start\n", u.release, f->name,
		       f->since, f->why, XCNI_KERNEL_MIN);
		return -ENOTSUP;
	}
	r->sock_lb = true;
	for (size_t i = 0; i < ARRAY_SIZE(sock_lb) && r->sock_lb; i++) {
		if (has(&sock_lb[i]))
			continue;
		r->sock_lb = false;
		r->sock_lb_missing = sock_lb[i].name;
		r->sock_lb_since = sock_lb[i].since;
	}
	r->loop = has(&loop);
	r->decap_l3 = xcnid_probe_decap_l3();
	if (!r->decap_l3)
		pr_warn("kernel %s lacks %s (Linux >= %s): %s is dropped (drop-bad-geneve); "
			"IPv4 over IPv4 and IPv6 over IPv6 are not affected\n", u.release,
			decap_l3.name, decap_l3.since, decap_l3.why);
	pr_info("kernel %s: every feature xcni needs is there (socket LB %s, Geneve across "
		"families %s)\n", u.release, r->sock_lb ? "possible" : "not possible",
		r->decap_l3 ? "possible" : "not possible");
	return 0;
}
