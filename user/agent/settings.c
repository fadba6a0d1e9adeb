// SPDX-License-Identifier: Apache-2.0
/*
 * The programs' settings in one place: struct settings holds every rodata
 * variable of bpf/lib/config.h, filled from the options (settings_fill), and
 * rows[] says which objects each one is written to (the same values in
 * every object that takes it). The node config record, the agent's other
 * settings, is written here too.
 */
#include <arpa/inet.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "xcni_shared.h"
#include "from_pod.skel.h"
#include "lib/system/bpfpin.h"
#include "lib/system/cidr.h"
#include "lib/system/clock.h"
#include "lib/system/log.h"
#include "lib/system/util.h"
#include "agent/overlay.h"
#include "agent/settings.h"
#include "agent/xcnid_opts.h"

/* The service loopback: a hairpin flow's source (Cilium's default). */
#define XCNI_LB_LOOPBACK "169.254.42.1"

/* bpf/lib/config.h's variables, by their names there. Network order unless said. */
struct settings {
	__u32 pod_cidr, pod_cidr_mask, gateway_ip;
	__u32 svc_cidr, svc_cidr_mask, svc_cidr6[4], svc_mask6[4];
	__u32 node_ip, node_ip6[4], underlay_ifindex, vni, tc_prefilter;
	__u32 lb_enabled, lb_loopback_ip, lb_dsr, external_clusterip, np_accel;
	__u32 decap_cookie[2], np_meta_key, frag_key[2]; /* host order */
	__u32 fqdn_enabled, fqdn_ttl_min, fqdn_ttl_max;
	__u32 snat_cl_burst, snat_cl_tok_ns, snat_cl_max; /* host order */
};

enum {
	FP = SET_FROM_POD,
	TP = SET_TO_POD,
	FO = SET_FROM_OVERLAY,
	TO = SET_TO_OVERLAY,
	TU = SET_TO_UNDERLAY,
	XDP = SET_XDP_UNDERLAY,
};

#define ROW(var, progs) { #var, offsetof(struct settings, var), sizeof(((struct settings *)0)->var), progs }

/* Each variable and the objects that take it; the others keep 0 (or do not read it). */
static const struct setting_row {
	const char *name;
	size_t off, len;
	unsigned int progs;
} rows[] = {
	ROW(pod_cidr, FP),
	ROW(pod_cidr_mask, FP),
	ROW(gateway_ip, FP),
	ROW(svc_cidr, FP | FO | XDP),
	ROW(svc_cidr_mask, FP | FO | XDP),
	ROW(svc_cidr6, FP | FO | XDP),
	ROW(svc_mask6, FP | FO | XDP),
	ROW(node_ip, FP | FO | TO | XDP),
	ROW(node_ip6, FP | FO | TO | XDP),
	ROW(underlay_ifindex, FP | TO),
	ROW(vni, FP | FO | TO | XDP),
	ROW(tc_prefilter, FO),
	ROW(lb_enabled, FP | TP | FO | XDP),
	ROW(lb_loopback_ip, FP),
	ROW(lb_dsr, FO | XDP),
	ROW(external_clusterip, FO | XDP),
	ROW(np_accel, XDP),
	ROW(decap_cookie, FO),
	ROW(np_meta_key, FO | XDP),
	/* Every tc program tracks fragments (lib/parse.h, lib/frag.h). */
	ROW(frag_key, FP | TP | FO | TO | TU),
	ROW(fqdn_enabled, FP | TP | FO),
	/* No option sets them (yet): lib/dns.h's defaults. */
	ROW(fqdn_ttl_min, TP),
	ROW(fqdn_ttl_max, TP),
	/* The same in both: the fast path asks, tc charges (lib/nodeport_plan.h). */
	ROW(snat_cl_burst, FO | XDP),
	ROW(snat_cl_tok_ns, FO | XDP),
	ROW(snat_cl_max, FO | XDP),
};

/* The key of the record xdp_underlay hands from_overlay for a local
 * backend's flow (np_meta_key, bpf/lib/config.h): drawn once per agent, the
 * same in both objects; never 0 (no handoff), 0 when none could be drawn. */
static __u32 np_meta_key(void)
{
	static __u32 key;
	__u32 k;

	if (!key && getrandom(&k, sizeof(k), 0) == sizeof(k))
		key = k | 1;
	return key;
}

/*
 * The outside fragment shares' secret (frag_key, bpf/lib/config.h): drawn once
 * per agent, the same in every object. Not kept across restarts: a place
 * lives XCNI_FRAG_LIFE_NS (2 s), so a new key moves only the datagrams in
 * flight while the programs are replaced, and a key an outsider might learn
 * by probing is gone at the next start (docs/decisions/fragment-shares.md).
 * Left 0 (unkeyed) only when getrandom fails, said in the log.
 */
static void frag_key(__u32 k[2])
{
	static __u32 key[2];
	static bool drawn;

	if (!drawn && getrandom(key, sizeof(key), 0) != sizeof(key))
		pr_warn("getrandom: %s; the outside fragment shares are unkeyed\n", strerror(errno));
	drawn = true;
	memcpy(k, key, sizeof(key));
}

/* p's network and netmask, size (4 or 16) bytes each (len 0: none, both 0). */
static void net_mask(const struct xcni_prefix *p, void *net, void *mask, size_t size)
{
	__u8 m[16];

	memset(m, 0xff, sizeof(m));
	cidr6_mask(m, p->len);
	memcpy(net, p->addr, size);
	memcpy(mask, m, size);
}

/* Where each value comes from: the options, and the underlay overlay_resolve found. */
static void settings_fill(const struct opts *o, struct settings *s)
{
	const struct overlay *ov = o->ov;

	*s = (struct settings){ .gateway_ip = o->gateway, .fqdn_enabled = o->fqdn ? 1 : 0 };
	net_mask(&o->mq->pod, &s->pod_cidr, &s->pod_cidr_mask, 4);
	net_mask(&o->svc[0], &s->svc_cidr, &s->svc_cidr_mask, 4);
	net_mask(&o->svc[1], s->svc_cidr6, s->svc_mask6, 16);
	frag_key(s->frag_key);
	if (o->kpr) {
		s->lb_enabled = 1;
		s->lb_loopback_ip = inet_addr(XCNI_LB_LOOPBACK);
		s->lb_dsr = o->np_dsr ? 1 : 0;
		s->external_clusterip = o->ext_cip ? 1 : 0;
		s->np_accel = ov->np_accel != XCNI_NPA_OFF;
		s->np_meta_key = s->np_accel ? np_meta_key() : 0;
	}
	if (ov->underlay) {
		s->node_ip = ov->node_ip;
		memcpy(s->node_ip6, ov->node_ip6, 16);
		s->underlay_ifindex = (__u32)ov->underlay_ifindex;
		s->vni = ov->vni;
		s->tc_prefilter = ov->xdp_want == XDP_WANT_TC;
		s->snat_cl_burst = ov->snat_cl_burst;
		s->snat_cl_tok_ns = ov->snat_cl_tok_ns;
		s->snat_cl_max = ov->snat_cl_max;
		/* --overlay-decap xdp: the cookie overlay_load pinned or found. */
		if (ov->decap_xdp)
			memcpy(s->decap_cookie, ov->decap_cookie, sizeof(s->decap_cookie));
	}
}

/* obj's .rodata section: its BTF (*sec) and the bytes written before load. */
static void *rodata_of(struct bpf_object *obj, const struct btf_type **sec, size_t *size)
{
	const struct btf *btf = bpf_object__btf(obj);
	struct bpf_map *m = bpf_object__find_map_by_name(obj, ".rodata");
	__s32 id;

	if (!btf || !m || (id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC)) < 0)
		return NULL;
	*sec = btf__type_by_id(btf, id);
	return bpf_map__initial_value(m, size);
}

int settings_write(const struct opts *o, struct bpf_object *obj, unsigned int prog)
{
	const struct btf *btf = bpf_object__btf(obj);
	const struct btf_var_secinfo *v;
	const struct btf_type *sec;
	struct settings s;
	size_t size = 0;
	char *data = rodata_of(obj, &sec, &size);

	if (!data)
		return pr_err_ret(-ENOENT, "%s: no .rodata section to write the settings in\n",
				  bpf_object__name(obj));
	settings_fill(o, &s);
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		const struct setting_row *r = &rows[i];
		bool found = false;

		if (!(r->progs & prog))
			continue;
		v = btf_var_secinfos(sec);
		for (__u16 j = 0; j < btf_vlen(sec) && !found; j++, v++) {
			const char *name = btf__name_by_offset(btf, btf__type_by_id(btf, v->type)->name_off);

			if (name && !strcmp(name, r->name) && v->size == r->len &&
			    v->offset + v->size <= size) {
				memcpy(data + v->offset, (const char *)&s + r->off, r->len);
				found = true;
			}
		}
		if (!found)
			return pr_err_ret(-ENOENT, "%s: no rodata variable %s of %zu bytes "
					  "(bpf/lib/config.h)\n", bpf_object__name(obj), r->name,
					  r->len);
	}
	return 0;
}

int settings_write_config(const struct opts *o, struct from_pod *fp)
{
	struct xcni_config cfg = { .abi_version = XCNI_ABI_VERSION };
	__u32 k = 0;
	int lock, err;

	cfg.started_ns = xcni_mono_ns();
	memcpy(&cfg.pod_cidr, o->mq->pod.addr, 4);
	cfg.pod_cidr_len = o->mq->pod.len;
	memcpy(&cfg.svc_cidr, o->svc[0].addr, 4);
	cfg.svc_cidr_len = o->svc[0].len;
	memcpy(cfg.svc_cidr6, o->svc[1].addr, 16);
	cfg.svc_cidr6_len = o->svc[1].len;
	memcpy(cfg.pod_cidr6, o->mq->pod6.addr, 16);
	cfg.pod_cidr6_len = o->mq->pod6.len;
	snprintf(cfg.node_name, sizeof(cfg.node_name), "%s", o->node_name);
	/* The options win over what `xcnictl config set` left: a restart starts afresh. */
	cfg.trace_sample = o->trace_sample;
	cfg.events_rate = o->events_rate;
	/* Following cluster state, this agent judges every pod: one it has not
	 * judged yet (no polep entry) is closed until it has. Without, pods are
	 * open as they were (the plugin alone, `xcnid --once`). */
	if ((o->manifests || o->kubeconfig || o->in_cluster) && !o->once)
		cfg.flags |= XCNI_CFG_F_POLICY;
	if (o->ov->underlay) {
		if (o->ov->prefer6)
			cfg.flags |= XCNI_CFG_F_TUN6;
		cfg.node_ip = o->ov->node_ip;
		cfg.underlay_ifindex = (__u32)o->ov->underlay_ifindex;
		cfg.vni = o->ov->vni;
		cfg.underlay_mtu = o->ov->underlay_mtu;
		cfg.pod_mtu = overlay_pod_mtu(o->ov);
		memcpy(cfg.node_ip6, o->ov->node_ip6, 16);
	}
	lock = xcni_config_lock(o->pin_dir);
	err = bpf_map__update_elem(fp->maps.xcni_config, &k, sizeof(k), &cfg, sizeof(cfg), 0);
	xcni_close(&lock);
	return err;
}

void settings_config_attached(const struct overlay *ov, struct from_pod *fp)
{
	struct xcni_config cfg;
	__u32 k = 0;

	if (!bpf_map__lookup_elem(fp->maps.xcni_config, &k, sizeof(k), &cfg, sizeof(cfg), 0)) {
		cfg.xdp_mode = ov->xdp_mode;
		cfg.np_accel = ov->np_accel_mode;
		bpf_map__update_elem(fp->maps.xcni_config, &k, sizeof(k), &cfg, sizeof(cfg), 0);
	}
}
