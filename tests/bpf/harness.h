/* SPDX-License-Identifier: Apache-2.0 */
/* What the packet tests' files share: the netns, the programs, the helpers (test_bpf.c). */
#ifndef XCNI_TEST_HARNESS_H
#define XCNI_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/if_ether.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cmocka.h>

#include "xcni_shared.h"
#include "from_overlay.skel.h"
#include "from_pod.skel.h"
#include "to_overlay.skel.h"
#include "to_pod.skel.h"
#include "xdp_underlay.skel.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define FRAME_MAX 256

/* The program a row runs; the first four are also the direction they count under. */
enum {
	FROM_POD = XCNI_DIR_FROM_POD,
	TO_POD = XCNI_DIR_TO_POD,
	FROM_OVERLAY = XCNI_DIR_FROM_OVERLAY,
	TO_OVERLAY = XCNI_DIR_TO_OVERLAY,
	FROM_POD_OV, /* from_pod of a node with an overlay */
	FROM_POD_LB, /* from_pod with the overlay and Services in BPF (lb_enabled) */
	TO_POD_LB, /* to_pod with lb_enabled */
	FROM_OVERLAY_LB, /* from_overlay with lb_enabled */
	XDP, /* xdp_underlay */
};
enum { DEV_A, DEV_B, DEV_C, DEV_X, DEV_U, NR_DEVS };

unsigned int prog_dir(int prog);

#define IP_A "10.99.5.10"
#define IP_B "10.99.5.11"
#define IP_C "10.99.5.12"
#define IP_GW "10.99.5.1"
#define IP_R "10.99.6.5" /* a pod on node n2 */
#define IP_GONE "10.99.7.9" /* a pod whose node is gone */
#define NODE_IP "192.168.77.1"
#define N2 "192.168.77.2"
#define VNI 42
#define ID_R 2000
#define LB_LOOPBACK "169.254.42.1" /* the hairpin source */

struct pod {
	const char *dev, *ip;
	uint32_t ep_id;
	uint8_t mac[ETH_ALEN], host_mac[ETH_ALEN];
};
extern const struct pod pods[NR_DEVS];

struct env {
	char pin_dir[64];
	struct from_pod *from;
	struct to_pod *to;
	struct from_pod *from_ov; /* the same program on a node with an overlay */
	struct from_overlay *ovin;
	struct to_overlay *ovout;
	struct xdp_underlay *xdp;
	/* Services in BPF: lb_enabled, the overlay on, loopback LB_LOOPBACK */
	struct from_pod *from_lb;
	struct to_pod *to_lb;
	struct from_overlay *ovin_lb;
	struct ring_buffer *rb;
	int ifindex[NR_DEVS];
	struct xcni_event ev[8]; /* the first 8 */
	int nev; /* all of them */
};
extern struct env env;

uint32_t ip4(const char *s);
uint16_t csum(const void *data, size_t len);
uint16_t flow_sport(const struct xcni_ct_key *t);
int run(int prog, int dev, uint8_t *in, size_t len, uint8_t *out, size_t out_len, int repeat,
	struct bpf_test_run_opts *o);
int map_fd(const char *name);
int read_metrics(struct xcni_metric m[XCNI_NR_METRICS]);
const char *reason_name(int idx);
const char *dir_name(unsigned int d);
size_t geneve_wrap(struct xcni_ct_key t, const uint8_t *inner, size_t inner_len,
		   const uint8_t eth[ETH_HLEN], const char *src, const char *dst, uint32_t vni,
		   unsigned int optwords, uint8_t out[FRAME_MAX]);

/* tests/bpf/lb.c: Services in BPF, run after the rows. */
extern const struct CMUnitTest lb_tests[];
extern const size_t nr_lb_tests;
int lb_bench(void);

#endif
