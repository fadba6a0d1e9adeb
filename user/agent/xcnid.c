// SPDX-License-Identifier: Apache-2.0
/*
 * xcnid, the node agent: loads the data-plane programs, pins them and their
 * maps under the pin dir, writes the node config, and on restart takes over
 * the pinned state (maps reused, programs swapped atomically in every link:
 * agent/pins.c); then follows the cluster (agent/sync.c) or serves alone.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "xcni_shared.h"
#include "from_pod.skel.h"
#include "lib/system/bpfpin.h"
#include "lib/system/cidr.h"
#include "lib/system/clock.h"
#include "lib/observe/flows.h"
#include "lib/cluster/k8sapi.h"
#include "lib/system/killpoint.h"
#include "lib/system/log.h"
#include "lib/policy/policy.h"
#include "lib/policy/polsync.h"
#include "lib/services/svc.h"
#include "lib/services/extfe.h"
#include "lib/services/svcsync.h"
#include "lib/cluster/store.h"
#include "to_pod.skel.h"
#include "agent/flows.h"
#include "agent/flowd.h"
#include "agent/masq.h"
#include "agent/grow.h"
#include "agent/hooks.h"
#include "lib/system/http.h"
#include "agent/metrics.h"
#include "agent/ui.h"
#include "agent/overlay.h"
#include "agent/pins.h"
#include "agent/probe.h"
#include "agent/settings.h"
#include "agent/socklb.h"
#include "agent/status.h"
#include "agent/sync.h"
#include "agent/xcnid_opts.h"
#include "lib/system/version.h"

static volatile sig_atomic_t stop;
/* What the kernel can do (main), and whether --cgroup-root asked for socket LB, for status. */
static struct probe_result probed;
static bool sock_lb_wanted;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/*
 * The underlay found and the programs' settings written (agent/settings.c).
 * Services in BPF: the overlay's programs translate NodePorts too.
 */
static int set_rodata(const struct opts *o, struct from_pod *fp, struct to_pod *tp)
{
	int err;

	o->ov->lb = o->kpr;
	if (o->ov->underlay) {
		err = overlay_resolve(o->ov);
		if (err)
			return err;
		o->mq->node_ip = o->ov->node_ip;
	}
	err = settings_write(o, fp->obj, SET_FROM_POD);
	if (!err)
		err = settings_write(o, tp->obj, SET_TO_POD);
	return err;
}

/* Without cluster state: the HTTP server, flows and status answered until a signal. */
static void serve_local(const struct opts *o, struct http *hs, struct flowd *fd, struct hooks *hk,
			struct agent_status *sts)
{
	uint64_t hook_at = 0, grow_at = 0;

	/* poll(2) skips fd -1: without metrics this waits for a signal, as pause(2) would. */
	while (!o->once && !stop) {
		struct pollfd pfd[3] = { { .fd = http_fd(hs), .events = POLLIN },
					 { .fd = flowd_fd(fd), .events = POLLIN },
					 { .fd = status_fd(sts), .events = POLLIN } };

		int timeout = grow_tick(o->pin_dir, o->map_grow_pct, &grow_at, &stop,
					hooks_tick(hk, o->hook_check_s, &hook_at));

		if (!stop && poll(pfd, 3, timeout) > 0) {
			if (pfd[0].revents)
				http_dispatch(hs);
			if (pfd[1].revents)
				flowd_dispatch(fd);
			if (pfd[2].revents)
				status_dispatch(sts);
		}
	}
}

/* What the agent serves: HTTP (metrics, the UI), flows, status and /readyz. */
static int open_served(const struct opts *o, struct hooks *hk, struct http **hs,
		       struct metrics **ms, struct flowd **fd, struct ui **ui,
		       struct agent_status **sts)
{
	int err = 0;

	if ((o->metrics_addr || o->ui_addr) && !o->once &&
	    (err = http_open(o->metrics_addr ?: o->ui_addr, o->http_remote, hs)))
		return err;
	if (o->metrics_addr && !o->once && (err = metrics_open(o->pin_dir, *hs, ms)))
		return err;
	if (o->flows.window && !o->once &&
	    (err = flowd_open(&o->flows, o->pin_dir, o->node_name, fd))) {
		/* On by default, flows are not worth the agent: without an option
		 * that asked for them (the UI draws them), it runs without. */
		if (o->flows.asked || o->ui_addr)
			return err;
		pr_warn("flows: off (%s); xcnictl flows will not answer\n", strerror(-err));
		err = 0;
		*fd = NULL;
	}
	metrics_set_sources(*ms, hk, *fd);
	metrics_set_listener(*ms, "http", *hs);
	metrics_set_listener(*ms, "flows", *fd ? flowd_http(*fd) : NULL);
	if (o->ui_addr && !o->once && (err = ui_open(*hs, *fd, o->pin_dir, ui)))
		return err;
	/* Pinned and attached by now: what status and /readyz report. */
	if (!o->once && (err = status_open(o->pin_dir, o->node_name, sts)))
		return err;
	if ((err = status_route(*sts, *hs)))
		return err;
	status_set_probe(*sts, &probed, sock_lb_wanted);
	status_set_listeners(*sts, *hs, *fd ? flowd_http(*fd) : NULL);
	if (*fd) { /* request=status over the flows relay */
		(*fd)->status = *sts;
		(*fd)->status_text = status_text;
	}
	status_set_flows(*sts, o->flows.window && !o->once, o->flows.window, o->flows.ipfix_url);
	if (o->manifests || o->kubeconfig || o->in_cluster)
		status_set_cluster(*sts, o->manifests ?: o->kubeconfig ?: "in-cluster", NULL);
	status_set_attached(*sts);
	return 0;
}

/*
 * from_pod's and to_pod's objects opened (*fpp, *tpp, destroyed by the caller
 * whatever this returns), sized by --map-max, checked against what is pinned,
 * parameterized and loaded.
 */
static int load_pod_progs(const struct opts *o, struct from_pod **fpp, struct to_pod **tpp)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = o->pin_dir);
	struct from_pod *fp;
	struct to_pod *tp;
	int err;

	fp = *fpp = from_pod__open_opts(&oo);
	tp = *tpp = to_pod__open_opts(&oo);
	if (!fp || !tp) {
		err = -errno;
		pr_err("cannot open the BPF objects: %s\n", strerror(errno));
		return err;
	}
	for (int i = 0; i < o->ov->nmap_max; i++) {
		const struct map_max *mm = &o->ov->map_max[i];

		if (!map_max_apply(fp->obj, mm, 1) + !map_max_apply(tp->obj, mm, 1) == 2 &&
		    mm->user) {
			pr_err("--map-max %s: no such map (the names xcnictl and bpftool show, e.g. "
			       "xcni_ipcache)\n", mm->name);
			return -ENOENT;
		}
	}
	err = check_pinned_layout(o->pin_dir, fp->obj, o->ov->map_max, &o->ov->nmap_max);
	if (!err)
		err = check_pinned_layout(o->pin_dir, tp->obj, o->ov->map_max, &o->ov->nmap_max);
	if (!err)
		err = set_rodata(o, fp, tp);
	if (err)
		return err;
	err = from_pod__load(fp);
	if (!err)
		err = to_pod__load(tp);
	if (err == -EPERM)
		pr_err("loading BPF programs: permission denied (xcnid needs root: CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON)\n");
	else if (err)
		pr_err("loading BPF programs failed: %s (run with -v for the verifier log)\n",
		       strerror(-err));
	return err;
}

/* The socket load balancer's object (*sl) opened, checked against what is pinned and loaded. */
static int load_socklb(const struct opts *o, struct sock_lb **sl)
{
	int err = socklb_open(sl, o->pin_dir, o->cgroup_root, o->ov->map_max, o->ov->nmap_max);

	if (err)
		pr_err("cannot open the socket load-balancing object: %s\n", strerror(-err));
	if (!err)
		err = check_pinned_layout(o->pin_dir, socklb_obj(*sl), o->ov->map_max,
					  &o->ov->nmap_max);
	if (!err)
		err = socklb_load(*sl);
	return err;
}

/*
 * The loaded programs onto the node: the node config written, the pods' and
 * the underlay's hooks and the cgroup taken over, how XDP ended up attached
 * recorded, and the pod programs pinned last — the plugin attaches only
 * what a complete agent published.
 */
static int attach_dataplane(const struct opts *o, struct from_pod *fp, struct to_pod *tp,
			    struct sock_lb *sl)
{
	int err = settings_write_config(o, fp);

	if (err)
		return pr_err_ret(err, "writing the node config: %s\n", strerror(-err));
	err = take_over_attachments(o->pin_dir, bpf_program__fd(fp->progs.from_pod),
				    bpf_program__fd(tp->progs.to_pod));
	if (!err && o->ov->underlay)
		err = overlay_attach(o->ov, o->pin_dir);
	if (!err)
		err = o->cgroup_root ? socklb_attach(sl, o->pin_dir, o->cgroup_root) :
				       socklb_detach_pinned(o->pin_dir);
	if (err)
		return err;
	/* How XDP ended up attached, for people and xcnictl. */
	if (o->ov->underlay)
		settings_config_attached(o->ov, fp);
	/* from_pod's IPv6 half first: the array its tail call goes through
	 * is emptied once nothing holds it. */
	err = xcni_pin_atomic(bpf_map__fd(fp->maps.xcni_podcalls), o->pin_dir, XCNI_PIN_PODCALLS);
	if (!err)
		err = xcni_pin_atomic(bpf_program__fd(fp->progs.from_pod), o->pin_dir,
				 XCNI_PIN_PROG_FROM_POD);
	if (!err)
		err = xcni_pin_atomic(bpf_program__fd(tp->progs.to_pod), o->pin_dir, XCNI_PIN_PROG_TO_POD);
	if (err)
		pr_err("pinning programs under %s: %s\n", o->pin_dir, strerror(-err));
	return err;
}

static int run(const struct opts *o)
{
	bool cluster = o->manifests || o->kubeconfig || o->in_cluster;
	struct from_pod *fp = NULL;
	struct to_pod *tp = NULL;
	struct metrics *ms = NULL;
	struct ui *ui = NULL;
	struct flowd *fd = NULL;
	struct http *hs = NULL;
	struct sock_lb *sl = NULL;
	struct hooks *hk = NULL;
	struct agent_status *sts = NULL;
	int err;

	err = pin_dirs_ready(o->pin_dir);
	if (!err)
		err = map_sizes_node(o->ov->map_max, &o->ov->nmap_max);
	if (!err && !o->once)
		err = grow_prepare(o->pin_dir, o->map_grow_pct);
	if (err)
		return err;
	err = load_pod_progs(o, &fp, &tp);
	if (!err && o->ov->underlay)
		err = overlay_load(o->ov, o->pin_dir, o);
	if (!err && o->cgroup_root)
		err = load_socklb(o, &sl);
	/* What the old programs got meanwhile, copied before and after they go. */
	if (!err)
		err = grow_finish(o->pin_dir, NULL, 0, false);
	if (!err)
		err = attach_dataplane(o, fp, tp, sl);
	if (!err)
		err = grow_finish(o->pin_dir, o->ov->map_max, o->ov->nmap_max, true);
	/* Attached first; looked at now, and every --hook-check seconds after. */
	if (!err && !(err = hooks_open(o->pin_dir, o->ov, &hk)))
		hooks_check(hk);
	if (!err)
		err = open_served(o, hk, &hs, &ms, &fd, &ui, &sts);
	/* Without cluster state the set is what this node knows itself; with it,
	 * once the state is read (an empty store would exempt too little). */
	if (!err && o->mq->on && !cluster)
		err = masq_sync(o->mq, NULL);
	if (!err && !o->mq->on && o->mq->table)
		err = masq_remove(o->mq);
	if (err)
		goto out;
	printf("xcnid: ready: programs and maps pinned under %s\n", o->pin_dir);
	fflush(stdout);

	if (cluster && !o->once)
		err = watch_cluster(o, fp, hs, fd, hk, sts, &stop);
	else
		serve_local(o, hs, fd, hk, sts);
out:
	http_free(hs);
	status_free(sts);
	ui_free(ui);
	flowd_free(fd);
	metrics_free(ms);
	hooks_free(hk);
	/* Programs, maps and the masquerade table stay: the data plane outlives the agent. */
	masq_free(o->mq);
	overlay_free(o->ov);
	socklb_free(sl);
	to_pod__destroy(tp);
	from_pod__destroy(fp);
	return err;
}

int main(int argc, char **argv)
{
	static struct xcnid_cmdline cl;
	struct opts *o = &cl.o;
	int err;

	err = xcni_version_main("xcnid", argc, argv);
	if (err >= 0)
		return err;
	err = xcnid_cmdline(argc, argv, &cl);
	if (err >= 0)
		return err;
	if (geteuid() != 0)
		return pr_err_ret(1, "xcnid must run as root (it loads BPF programs: CAP_BPF, "
				  "CAP_NET_ADMIN)\n");
	xcni_libbpf_log_init();
	if (o->uninstall) {
		/* Whatever a masquerading agent left: the tables go unless --no-masquerade. */
		cl.mq.table = cl.masquerade == 0 ? NULL : MASQ_TABLE;
		return uninstall(o) ? 1 : 0;
	}
	{
		struct probe_result *pr = &probed;

		/* A kernel without what the programs need is refused before anything changes. */
		if (xcnid_probe(pr))
			return 3;
		sock_lb_wanted = o->cgroup_root != NULL;
		o->ov->same_fam = !pr->decap_l3;
		if (o->cgroup_root && !pr->sock_lb) {
			pr_warn("--cgroup-root %s: socket load balancing is off: kernel lacks %s "
				"(Linux >= %s); host-network clients reach Services through the "
				"node's pods' path only\n", o->cgroup_root, pr->sock_lb_missing,
				pr->sock_lb_since);
			o->cgroup_root = NULL;
		}
		/* Without it the DNS reader would not load: no answer is read, and
		 * rules by name match nothing (as without the flag). */
		if (o->fqdn && !pr->loop) {
			pr_warn("--fqdn-policy is off: kernel lacks bpf_loop (Linux >= 5.17); "
				"domainNames rules match nothing\n");
			o->fqdn = 0;
		}
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	/* A client gone before its answer (the flows socket, HTTP) is an EPIPE to close, not our end. */
	signal(SIGPIPE, SIG_IGN);
	err = run(o);
	/* A map past --map-grow: this image replaced by one that doubles it. */
	if (!err)
		err = grow_exec(argv);
	return err ? 1 : 0;
}
