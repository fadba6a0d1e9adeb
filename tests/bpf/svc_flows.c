// SPDX-License-Identifier: Apache-2.0
/*
 * kube-proxy's packet-flow cases, through xcni: Services and EndpointSlices
 * as YAML, compiled by the real compiler (user/lib/services/svc.c, for node n1 with
 * its peers n2 and n3) and written by the real map writer (user/lib/services/svcsync.c)
 * into the harness's maps; then each flow {source, protocol, destination,
 * port} is a packet through from_pod (a pod's source) or from_overlay (a
 * client outside the cluster, on the underlay), 24 times with new source
 * ports, and what it became is held against the row: the set of backends it
 * went to (every one of them seen), whether its source was kept or SNATed to
 * the node (outside clients), or the refusal (TCP RST / ICMP unreachable back
 * to the client: drop-no-backend) or the drop (with its reason). The cases are
 * kube-proxy's (pkg/proxy/{iptables,nftables}/proxier_test.go: ClusterIP,
 * NodePort, LoadBalancer, externalIPs, both traffic policies, terminating
 * endpoints, no endpoints) written again from the Service semantics; where
 * xcni chooses otherwise the row says what kube-proxy does (kp) and
 * expects xcni's choice. It replaces every Service its prep (dsr6_state: svc_state and
 * nodeport_dsr.c's dsr6_setup) wrote.
 *
 *   n1 (this node, 192.168.77.1, fc00:77::1): pods A, B, C (B6, C6)   n2 (.2, fc00:77::2): pod R (R6N)
 *   n3 (.3, fc00:77::3): no pod
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <linux/pkt_cls.h>

#include "harness.h"
#include "lb.h"
#include "lb6.h"
#include "lib/services/svc.h"
#include "lib/services/svcsync.h"
#include "../unit/k8s_fx.h"
#include "../unit/svc_fx.h"

/* The table's rows name what they need; the rest is zero. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define N3 "192.168.77.3"
#define N2_6 "fc00:77::2"
#define N3_6 "fc00:77::3"
#define B6 "fd00:99::b"
#define C6 "fd00:99::c"
#define R6N "fd00:98::2" /* np6_setup's pod of n2 (ipcache6: tunnel to n2) */
#define EXT6 "2001:db8:7::7"
#define LB6 "2001:db8:7::8"
#define OUTC "203.0.113.9" /* a client outside the cluster (world) */
#define EXT_IP "198.51.100.7"
#define LB_IP "198.51.100.8"
#define LBL_IP "198.51.100.9"
#define TRIES 24

#define SVC(name, spec) \
	"apiVersion: v1\nkind: Service\nmetadata: {name: " name ", namespace: kp}\nspec: " spec "\n---\n"
#define SVC_ST(name, spec, status)                                                           \
	"apiVersion: v1\nkind: Service\nmetadata: {name: " name ", namespace: kp}\nspec: " spec \
	"\nstatus: " status "\n---\n"
#define EPS_AT(name, svc, family, eps)                                                          \
	"apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: " name            \
	", namespace: kp, labels: {kubernetes.io/service-name: " svc "}}\naddressType: " family \
	"\nendpoints: " eps "\nports: [{name: p, port: 8080}]\n---\n"
#define EPS(name, svc, eps) EPS_AT(name, svc, "IPv4", eps)
#define PORTS "ports: [{name: p, port: 80, targetPort: 8080}]"
#define NPORT(n) "ports: [{name: p, port: 80, targetPort: 8080, nodePort: " n "}]"
/* Endpoints: ready on a node; serving but terminating; neither. */
#define EP(ip, node) "{addresses: [" ip "], nodeName: " #node "}"
#define EP_TERM(ip, node)                                                            \
	"{addresses: [" ip "], nodeName: " #node ", conditions: {ready: false, serving: " \
	"true, terminating: true}}"
#define EP_GONE(ip, node)                                                             \
	"{addresses: [" ip "], nodeName: " #node ", conditions: {ready: false, serving: " \
	"false, terminating: true}}"
#define EP6(ip, node) "{addresses: [\"" ip "\"], nodeName: " #node "}"
#define EP6_TERM(ip, node)                                                                   \
	"{addresses: [\"" ip "\"], nodeName: " #node ", conditions: {ready: false, serving: " \
	"true, terminating: true}}"
#define EP6_GONE(ip, node)                                                                   \
	"{addresses: [\"" ip "\"], nodeName: " #node ", conditions: {ready: false, serving: " \
	"false, terminating: true}}"
#define V6 "ipFamilies: [IPv6], "

static const char manifest[] =
	/* ClusterIP, endpoints on both nodes */
	SVC("cip", "{clusterIP: 10.96.10.1, " PORTS "}")
	EPS("cip-1", "cip", "[" EP(IP_B, n1) ", " EP(IP_R, n2) "]")
	/* UDP ClusterIP */
	SVC("dns", "{clusterIP: 10.96.10.2, ports: [{name: p, port: 53, protocol: UDP, "
		   "targetPort: 8080}]}")
	"apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: dns-1, "
	"namespace: kp, labels: {kubernetes.io/service-name: dns}}\naddressType: IPv4\n"
	"endpoints: [" EP(IP_B, n1) "]\nports: [{name: p, port: 5353, protocol: UDP}]\n---\n"
	/* No endpoints at all */
	SVC("none", "{clusterIP: 10.96.10.3, " PORTS "}")
	EPS("none-1", "none", "[]")
	/* Only terminating endpoints: the serving one is the fallback, the other never */
	SVC("term", "{clusterIP: 10.96.10.4, " PORTS "}")
	EPS("term-1", "term", "[" EP_TERM(IP_B, n1) ", " EP_GONE(IP_C, n1) "]")
	/* A ready endpoint and a terminating one: the ready one only */
	SVC("mix", "{clusterIP: 10.96.10.5, " PORTS "}")
	EPS("mix-1", "mix", "[" EP(IP_B, n1) ", " EP_TERM(IP_C, n1) "]")
	/* NodePort, externalTrafficPolicy Cluster */
	SVC("np", "{type: NodePort, clusterIP: 10.96.10.6, " NPORT("30001") "}")
	EPS("np-1", "np", "[" EP(IP_B, n1) ", " EP(IP_R, n2) "]")
	/* NodePort, externalTrafficPolicy Local, endpoints on n1 and n2 */
	SVC("npl", "{type: NodePort, clusterIP: 10.96.10.7, externalTrafficPolicy: Local, "
		   NPORT("30002") "}")
	EPS("npl-1", "npl", "[" EP(IP_B, n1) ", " EP(IP_R, n2) "]")
	/* NodePort, externalTrafficPolicy Local, the only endpoint on n2 */
	SVC("nplr", "{type: NodePort, clusterIP: 10.96.10.8, externalTrafficPolicy: Local, "
		    NPORT("30003") "}")
	EPS("nplr-1", "nplr", "[" EP(IP_R, n2) "]")
	/* NodePort without endpoints, under either policy */
	SVC("npn", "{type: NodePort, clusterIP: 10.96.10.9, " NPORT("30004") "}")
	SVC("npln", "{type: NodePort, clusterIP: 10.96.10.10, externalTrafficPolicy: Local, "
		    NPORT("30005") "}")
	/* externalTrafficPolicy Local, the local endpoint terminating: the local fallback */
	SVC("nplt", "{type: NodePort, clusterIP: 10.96.10.11, externalTrafficPolicy: Local, "
		    NPORT("30006") "}")
	EPS("nplt-1", "nplt", "[" EP_TERM(IP_B, n1) ", " EP(IP_R, n2) "]")
	/* internalTrafficPolicy Local: endpoints on both nodes; only on n2; a local terminating one */
	SVC("itp", "{clusterIP: 10.96.10.12, internalTrafficPolicy: Local, " PORTS "}")
	EPS("itp-1", "itp", "[" EP(IP_B, n1) ", " EP(IP_R, n2) "]")
	SVC("itpr", "{clusterIP: 10.96.10.13, internalTrafficPolicy: Local, " PORTS "}")
	EPS("itpr-1", "itpr", "[" EP(IP_R, n2) "]")
	SVC("itpt", "{clusterIP: 10.96.10.14, internalTrafficPolicy: Local, " PORTS "}")
	EPS("itpt-1", "itpt", "[" EP_TERM(IP_B, n1) ", " EP(IP_R, n2) "]")
	/* LoadBalancer with an externalIP, ETP Cluster; and one ETP Local, its endpoint on n2 */
	SVC_ST("lb", "{type: LoadBalancer, clusterIP: 10.96.10.15, externalIPs: [" EXT_IP "], "
		     NPORT("30007") "}",
	       "{loadBalancer: {ingress: [{ip: " LB_IP "}]}}")
	EPS("lb-1", "lb", "[" EP(IP_B, n1) ", " EP(IP_R, n2) "]")
	SVC_ST("lbl", "{type: LoadBalancer, clusterIP: 10.96.10.16, externalTrafficPolicy: Local, "
		      NPORT("30008") "}",
	       "{loadBalancer: {ingress: [{ip: " LBL_IP "}]}}")
	EPS("lbl-1", "lbl", "[" EP(IP_R, n2) "]")
	/* IPv6, externalTrafficPolicy Local: B6 on n1, C6 named n2's by its slice (the
	 * data plane delivers it here all the same: the split is the compiler's) */
	SVC("npl6", "{type: NodePort, clusterIP: \"fd00:96::60\", ipFamilies: [IPv6], "
		    "externalTrafficPolicy: Local, " NPORT("30012") "}")
	EPS_AT("npl6-1", "npl6", "IPv6", "[" EP6(B6, n1) ", " EP6(C6, n2) "]")
	/* IPv6, ETP Local, no endpoint anywhere */
	SVC("npl6n", "{type: NodePort, clusterIP: \"fd00:96::61\", ipFamilies: [IPv6], "
		     "externalTrafficPolicy: Local, " NPORT("30013") "}")
	/* IPv6 ClusterIP, endpoints on both nodes */
	SVC("cip6", "{clusterIP: \"fd00:96::62\", " V6 PORTS "}")
	EPS_AT("cip6-1", "cip6", "IPv6", "[" EP6(B6, n1) ", " EP6(R6N, n2) "]")
	/* IPv6 NodePort, ETP Cluster */
	SVC("np6", "{type: NodePort, clusterIP: \"fd00:96::63\", " V6 NPORT("30014") "}")
	EPS_AT("np6-1", "np6", "IPv6", "[" EP6(B6, n1) ", " EP6(R6N, n2) "]")
	/* IPv6 LoadBalancer with an externalIP, ETP Cluster */
	SVC_ST("lb6", "{type: LoadBalancer, clusterIP: \"fd00:96::64\", " V6
		      "externalIPs: [\"" EXT6 "\"], " NPORT("30015") "}",
	       "{loadBalancer: {ingress: [{ip: \"" LB6 "\"}]}}")
	EPS_AT("lb6-1", "lb6", "IPv6", "[" EP6(B6, n1) ", " EP6(R6N, n2) "]")
	/* IPv6 ClusterIP and NodePort (ETP Cluster) without endpoints */
	SVC("none6", "{clusterIP: \"fd00:96::65\", " V6 PORTS "}")
	EPS_AT("none6-1", "none6", "IPv6", "[]")
	SVC("npn6", "{type: NodePort, clusterIP: \"fd00:96::66\", " V6 NPORT("30016") "}")
	/* IPv6, only terminating endpoints: the serving one is the fallback, the other never */
	SVC("term6", "{clusterIP: \"fd00:96::67\", " V6 PORTS "}")
	EPS_AT("term6-1", "term6", "IPv6", "[" EP6_TERM(B6, n1) ", " EP6_GONE(C6, n1) "]")
	/* IPv6, ETP Local, the local endpoint terminating: the local fallback */
	SVC("nplt6", "{type: NodePort, clusterIP: \"fd00:96::68\", " V6
		     "externalTrafficPolicy: Local, " NPORT("30017") "}")
	EPS_AT("nplt6-1", "nplt6", "IPv6", "[" EP6_TERM(B6, n1) ", " EP6(R6N, n2) "]")
	/* ETP Cluster, only terminating endpoints (both nodes; one not serving): the serving ones */
	SVC("npct", "{type: NodePort, clusterIP: 10.96.10.17, " NPORT("30009") "}")
	EPS("npct-1", "npct", "[" EP_TERM(IP_B, n1) ", " EP_TERM(IP_R, n2) ", " EP_GONE(IP_C, n1) "]");

/* What a flow becomes. */
enum { TO_BACKENDS, REJECT, DROP };
/* An outside client's source: kept, or SNATed to the node (SNAT); pods' is always kept. */
enum { KEEP, SNAT };

struct flow {
	const char *name;
	bool outside, v6;
	const char *dst;
	uint16_t dport;
	uint8_t proto;
	int what;
	const char *be[3]; /* "addr:port" (IPv6: "[addr]:port") */
	int masq; /* for outside clients reaching backends */
	int reason; /* DROP's, REJECT's */
	const char *kp; /* where kube-proxy does otherwise, what it does (the row expects xcni) */
};

#define TCP_ IPPROTO_TCP
#define UDP_ IPPROTO_UDP
#define BE_B IP_B ":8080"
#define BE_C IP_C ":8080"
#define BE_R IP_R ":8080"

static const struct flow flows[] = {
	/* ClusterIP */
	{ "pod -> ClusterIP: every endpoint", false, false, "10.96.10.1", 80, TCP_, TO_BACKENDS,
	  { BE_B, BE_R } },
	{ "outside -> ClusterIP: not served outside the cluster", true, false, "10.96.10.1", 80, TCP_,
	  DROP, .reason = XCNI_DROP_CLUSTERIP_OUTSIDE,
	  .kp = "DNAT to an endpoint, masqueraded (xcnid --external-clusterip does so)" },
	{ "pod -> UDP ClusterIP", false, false, "10.96.10.2", 53, UDP_, TO_BACKENDS,
	  { IP_B ":5353" } },
	{ "pod -> ClusterIP without endpoints: REJECT", false, false, "10.96.10.3", 80, TCP_, REJECT },
	{ "pod -> ClusterIP, only terminating endpoints: the serving one", false, false, "10.96.10.4",
	  80, TCP_, TO_BACKENDS, { BE_B } },
	{ "pod -> ClusterIP, ready and terminating: the ready one", false, false, "10.96.10.5", 80,
	  TCP_, TO_BACKENDS, { BE_B } },
	/* NodePort, ETP Cluster */
	{ "outside -> NodePort (ETP Cluster): every endpoint", true, false, NODE_IP, 30001, TCP_,
	  TO_BACKENDS, { BE_B, BE_R }, SNAT,
	  .kp = "the local endpoint's flows masqueraded too (xcni keeps the client there)" },
	{ "pod -> own node's NodePort (ETP Cluster)", false, false, NODE_IP, 30001, TCP_,
	  TO_BACKENDS, { BE_B, BE_R } },
	{ "pod -> n2's NodePort (ETP Cluster)", false, false, N2, 30001, TCP_, TO_BACKENDS,
	  { BE_B, BE_R } },
	{ "pod -> NodePort Service's ClusterIP", false, false, "10.96.10.6", 80, TCP_, TO_BACKENDS,
	  { BE_B, BE_R } },
	/* NodePort, ETP Local */
	{ "outside -> NodePort (ETP Local): the local endpoint, client kept", true, false, NODE_IP,
	  30002, TCP_, TO_BACKENDS, { BE_B }, KEEP },
	{ "pod -> own node's NodePort (ETP Local): every endpoint", false, false, NODE_IP, 30002,
	  TCP_, TO_BACKENDS, { BE_B, BE_R } },
	{ "pod -> n2's NodePort (ETP Local): n2's endpoint", false, false, N2, 30002, TCP_,
	  TO_BACKENDS, { BE_R } },
	{ "pod -> n3's NodePort (ETP Local, none on n3): DROP", false, false, N3, 30002, TCP_, DROP,
	  .reason = XCNI_DROP_NO_LOCAL_BACKEND },
	{ "outside -> NodePort (ETP Local, endpoint on n2 only): DROP", true, false, NODE_IP, 30003,
	  TCP_, DROP, .reason = XCNI_DROP_NO_LOCAL_BACKEND },
	{ "pod -> own node's NodePort (ETP Local, endpoint on n2 only)", false, false, NODE_IP,
	  30003, TCP_, TO_BACKENDS, { BE_R } },
	{ "pod -> n3's NodePort (ETP Local, endpoint on n2 only): DROP", false, false, N3, 30003,
	  TCP_, DROP, .reason = XCNI_DROP_NO_LOCAL_BACKEND },
	/* No endpoints */
	{ "outside -> NodePort without endpoints: REJECT", true, false, NODE_IP, 30004, TCP_,
	  REJECT },
	{ "pod -> NodePort without endpoints: REJECT", false, false, NODE_IP, 30004, TCP_, REJECT },
	{ "outside -> NodePort (ETP Local) without endpoints: REJECT", true, false, NODE_IP, 30005,
	  TCP_, REJECT },
	{ "pod -> n3's NodePort (ETP Local) without endpoints: REJECT", false, false, N3, 30005,
	  TCP_, REJECT },
	/* Terminating endpoints under ETP Local */
	{ "outside -> NodePort (ETP Local, local endpoint terminating): the local fallback", true,
	  false, NODE_IP, 30006, TCP_, TO_BACKENDS, { BE_B }, KEEP },
	{ "pod -> n2's NodePort (ETP Local, n1's endpoint terminating): n2's", false, false, N2,
	  30006, TCP_, TO_BACKENDS, { BE_R } },
	/* internalTrafficPolicy Local */
	{ "pod -> ClusterIP (ITP Local): the local endpoint", false, false, "10.96.10.12", 80, TCP_,
	  TO_BACKENDS, { BE_B } },
	{ "pod -> ClusterIP (ITP Local, endpoint on n2 only): DROP", false, false, "10.96.10.13", 80,
	  TCP_, DROP, .reason = XCNI_DROP_NO_LOCAL_BACKEND },
	{ "pod -> ClusterIP (ITP Local, local endpoint terminating): the local fallback", false,
	  false, "10.96.10.14", 80, TCP_, TO_BACKENDS, { BE_B } },
	/* LoadBalancer and externalIPs */
	{ "outside -> externalIP (ETP Cluster)", true, false, EXT_IP, 80, TCP_, TO_BACKENDS,
	  { BE_B, BE_R }, SNAT, .kp = "the local endpoint's flows masqueraded too" },
	{ "outside -> load-balancer IP (ETP Cluster)", true, false, LB_IP, 80, TCP_, TO_BACKENDS,
	  { BE_B, BE_R }, SNAT, .kp = "the local endpoint's flows masqueraded too" },
	{ "pod -> load-balancer IP: every endpoint", false, false, LB_IP, 80, TCP_, TO_BACKENDS,
	  { BE_B, BE_R } },
	{ "outside -> load-balancer IP (ETP Local, endpoint on n2 only): DROP", true, false, LBL_IP,
	  80, TCP_, DROP, .reason = XCNI_DROP_NO_LOCAL_BACKEND },
	{ "pod -> load-balancer IP (ETP Local, endpoint on n2 only): n2's", false, false, LBL_IP, 80,
	  TCP_, TO_BACKENDS, { BE_R } },
	/* IPv6 NodePorts under ETP Local */
	{ "IPv6: outside -> NodePort (ETP Local): the local endpoint", true, true, NODE6, 30012, TCP_,
	  TO_BACKENDS, { "[" B6 "]:8080" }, KEEP },
	{ "IPv6: pod -> own node's NodePort (ETP Local): every endpoint", false, true, NODE6, 30012,
	  TCP_, TO_BACKENDS, { "[" B6 "]:8080", "[" C6 "]:8080" } },
	{ "IPv6: pod -> n2's NodePort (ETP Local): n2's endpoint", false, true, N2_6, 30012, TCP_,
	  TO_BACKENDS, { "[" C6 "]:8080" } },
	{ "IPv6: pod -> n3's NodePort (ETP Local, none on n3): DROP", false, true, N3_6, 30012, TCP_,
	  DROP, .reason = XCNI_DROP_NO_LOCAL_BACKEND },
	{ "IPv6: pod -> n3's NodePort (ETP Local) without endpoints: REJECT", false, true, N3_6,
	  30013, TCP_, REJECT },
	/* IPv6 ClusterIP */
	{ "IPv6: pod -> ClusterIP: every endpoint", false, true, "fd00:96::62", 80, TCP_,
	  TO_BACKENDS, { "[" B6 "]:8080", "[" R6N "]:8080" } },
	{ "IPv6: outside -> ClusterIP: not served outside the cluster", true, true, "fd00:96::62", 80,
	  TCP_, DROP, .reason = XCNI_DROP_CLUSTERIP_OUTSIDE,
	  .kp = "DNAT to an endpoint, masqueraded (xcnid --external-clusterip does so)" },
	/* IPv6 NodePort, ETP Cluster */
	{ "IPv6: outside -> NodePort (ETP Cluster): every endpoint", true, true, NODE6, 30014, TCP_,
	  TO_BACKENDS, { "[" B6 "]:8080", "[" R6N "]:8080" }, SNAT,
	  .kp = "the local endpoint's flows masqueraded too (xcni keeps the client there)" },
	{ "IPv6: pod -> n2's NodePort (ETP Cluster): every endpoint", false, true, N2_6, 30014, TCP_,
	  TO_BACKENDS, { "[" B6 "]:8080", "[" R6N "]:8080" } },
	/* IPv6 LoadBalancer and externalIPs */
	{ "IPv6: outside -> externalIP (ETP Cluster)", true, true, EXT6, 80, TCP_, TO_BACKENDS,
	  { "[" B6 "]:8080", "[" R6N "]:8080" }, SNAT,
	  .kp = "the local endpoint's flows masqueraded too" },
	{ "IPv6: outside -> load-balancer IP (ETP Cluster)", true, true, LB6, 80, TCP_, TO_BACKENDS,
	  { "[" B6 "]:8080", "[" R6N "]:8080" }, SNAT,
	  .kp = "the local endpoint's flows masqueraded too" },
	{ "IPv6: pod -> load-balancer IP: every endpoint", false, true, LB6, 80, TCP_, TO_BACKENDS,
	  { "[" B6 "]:8080", "[" R6N "]:8080" } },
	/* IPv6, no endpoints */
	{ "IPv6: pod -> ClusterIP without endpoints: REJECT", false, true, "fd00:96::65", 80, TCP_,
	  REJECT },
	{ "IPv6: outside -> NodePort without endpoints: REJECT", true, true, NODE6, 30016, TCP_,
	  REJECT },
	/* IPv6, terminating endpoints */
	{ "IPv6: pod -> ClusterIP, only terminating endpoints: the serving one", false, true,
	  "fd00:96::67", 80, TCP_, TO_BACKENDS, { "[" B6 "]:8080" } },
	{ "IPv6: outside -> NodePort (ETP Local, local endpoint terminating): the local fallback",
	  true, true, NODE6, 30017, TCP_, TO_BACKENDS, { "[" B6 "]:8080" }, KEEP },
	/* ETP Cluster, only terminating endpoints: every serving one, cluster-wide */
	{ "outside -> NodePort (ETP Cluster, only terminating): the serving ones", true, false,
	  NODE_IP, 30009, TCP_, TO_BACKENDS, { BE_B, BE_R }, SNAT,
	  .kp = "the local endpoint's flows masqueraded too" },
	{ "pod -> n2's NodePort (ETP Cluster, only terminating): the serving ones", false, false, N2,
	  30009, TCP_, TO_BACKENDS, { BE_B, BE_R } },
};

/* Every key of the named map deleted (the Services the prep wrote, their flows). */
static void wipe(const char *name)
{
	uint8_t key[64];
	int fd = map_fd(name);

	assert_true(fd >= 0);
	while (!bpf_map_get_next_key(fd, NULL, key))
		assert_int_equal(bpf_map_delete_elem(fd, key), 0);
}

static void open_up(uint32_t ep)
{
	bpf_map_delete_elem(map_fd("xcni_polep"), &ep);
	assert_int_equal(polrev_bump(), 0);
}

/* The maps programmed from the manifest by the compiler and the writer, as xcnid does. */
static void flows_setup(void **state)
{
	static const char *const names[2] = { "n2", "n3" };
	uint32_t addrs[1] = { ip4(NODE_IP) }, peers[2] = { ip4(N2), ip4(N3) };
	uint8_t a6[3][16];
	struct svc_node node = { .name = "n1", .naddrs = 1, .addrs = addrs, .npeers = 2,
				 .peers = peers, .peer_names = names, .naddrs6 = 1,
				 .addrs6 = (const uint8_t(*)[16])a6, .npeers6 = 2,
				 .peers6 = (const uint8_t(*)[16])(a6 + 1), .peer_names6 = names };
	struct svcsync_stats st = {};
	struct svcsync *ss = NULL;
	struct svc_list l = {};
	struct store *s;
	struct cluster c;
	char msg[256];

	(void)state;
	in6(NODE6, a6[0]);
	in6(N2_6, a6[1]);
	in6(N3_6, a6[2]);
	/* Maglev's tables hang off xcni_maglev: gone with it. */
	static const char *const maps[] = { "xcni_svc",	     "xcni_svcslot", "xcni_backend",
					    "xcni_revnat",   "xcni_svcbe",   "xcni_svcname",
					    "xcni_affinity", "xcni_maglev",  "xcni_ct",
					    "xcni_ct6",	     "xcni_snat" };
	for (size_t i = 0; i < ARRAY_SIZE(maps); i++)
		wipe(maps[i]);
	open_up(ip4(IP_A));
	open_up(ip4(IP_B));
	open_up(ip4(IP_C));
	/* This node's IPv6 address, as xcnid writes it (write_self6): the SNAT
	 * source of IPv6 externalIPs and load-balancer IPs with a remote backend. */
	{
		uint32_t zero = 0;

		assert_int_equal(bpf_map_update_elem(map_fd("xcni_self6"), &zero, a6[0], BPF_ANY), 0);
	}
	s = store_of(manifest, k8s_parse_lb);
	store_view(s, &c);
	assert_int_equal(svc_build(&c, &node, 0, &l), 0);
	for (size_t i = 0; i < l.nerrs; i++)
		fail_msg("compiler: %s", l.errs[i]);
	assert_int_equal(svcsync_open(env.pin_dir, &ss), 0);
	if (svcsync_apply(ss, l.specs, l.n, &st, msg, sizeof(msg)))
		fail_msg("svcsync_apply: %s", msg);
	assert_int_equal(svcsync_cleanup(ss, &st), 0);
	svcsync_free(ss);
	svc_list_free(&l);
	store_free(s);
}

/* One packet of flow f from source port sp: its frame into in; the length. */
static size_t flow_frame(const struct flow *f, uint16_t sp, uint8_t *in)
{
	if (f->v6) {
		struct g6 g = f->outside ? outside6_to(CLIENT6, sp, f->dst, f->dport, f->proto, T_SYN) :
					   from6(DEV_A, A6, sp, f->dst, f->dport, f->proto, T_SYN);

		if (f->proto != IPPROTO_TCP)
			g.flags = 0;
		return frame6(&g, in);
	}
	struct fr r = f->outside ?
			      (struct fr){ .smac = pods[DEV_U].mac, .dmac = pods[DEV_U].host_mac,
					   .saddr = ip4(OUTC), .daddr = ip4(f->dst), .sport = sp,
					   .dport = f->dport, .proto = f->proto } :
			      from_dev(DEV_A, IP_A, sp, f->dst, f->dport, f->proto, 0);

	if (f->proto == IPPROTO_TCP)
		r.flags = TH_SYN;
	else
		r.payload = 12;
	return frame(&r, in);
}

/* The L3 header of what a translation sent: the frame's, or inside its Geneve. */
static const uint8_t *sent_l3(const uint8_t *out, size_t len, int reason)
{
	/* Ethernet, outer IPv4 (20), UDP (8), Geneve without options (8), Ethernet. */
	size_t off = reason == XCNI_FWD_ENCAP ? ETH_HLEN + 20 + 8 + 8 + ETH_HLEN : ETH_HLEN;

	assert_true(len >= off + 24);
	return out + off;
}

/* Its destination as "addr:port" ("[addr]:port"), its source address into src. */
static void sent_dst(const uint8_t *l3, char *dst, size_t cap, char *src, size_t scap)
{
	char a[INET6_ADDRSTRLEN];

	if ((l3[0] >> 4) == 6) {
		inet_ntop(AF_INET6, l3 + 24, a, sizeof(a));
		snprintf(dst, cap, "[%s]:%u", a, ntohs(*(const uint16_t *)(l3 + 40 + 2)));
		inet_ntop(AF_INET6, l3 + 8, src, scap);
		return;
	}
	inet_ntop(AF_INET, l3 + 16, a, sizeof(a));
	snprintf(dst, cap, "%s:%u", a, ntohs(*(const uint16_t *)(l3 + (l3[0] & 15) * 4 + 2)));
	inet_ntop(AF_INET, l3 + 12, src, scap);
}

/* The one reason a run counted (fails if none or several). */
static int counted(const struct xcni_metric *before, const struct xcni_metric *after, int prog)
{
	int found = -1;

	for (__u32 i = 0; i < XCNI_NR_METRICS; i++) {
		uint64_t dp = after[i].packets - before[i].packets;

		if (!dp)
			continue;
		if (dp != 1 || found >= 0 || i % XCNI_NR_DIRS != prog_dir(prog))
			fail_msg("counted %s/%s %llu times%s", reason_name(i / XCNI_NR_DIRS),
				 dir_name(i % XCNI_NR_DIRS), (unsigned long long)dp,
				 found >= 0 ? " besides another" : "");
		found = (int)(i / XCNI_NR_DIRS);
	}
	if (found < 0)
		fail_msg("nothing counted");
	return XCNI_REASON_MAX - found;
}

static void run_flow(void **state)
{
	const struct flow *f = *state;
	int prog = f->outside ? FROM_OVERLAY_LB : FROM_POD_LB, dev = f->outside ? DEV_U : DEV_A;
	bool seen[3] = { false };
	/* Each row's flows from ports of their own. */
	uint16_t base = (uint16_t)(20000 + 64 * (f - flows));

	if (f->kp)
		print_message("      (kube-proxy: %s)\n", f->kp);

	for (int t = 0; t < TRIES; t++) {
		struct xcni_metric before[XCNI_NR_METRICS], after[XCNI_NR_METRICS];
		uint8_t in[FRAME_MAX], out[FRAME_MAX + 64];
		char dst[64], src[INET6_ADDRSTRLEN];
		size_t len = flow_frame(f, (uint16_t)(base + t), in);
		struct bpf_test_run_opts o = {};
		int err, ret, reason;
		size_t i;

		assert_int_equal(read_metrics(before), 0);
		env.nev = 0;
		err = run(prog, dev, in, len, out, sizeof(out), 1, &o);
		assert_int_equal(err, 0);
		ret = (int)o.retval;
		assert_int_equal(read_metrics(after), 0);
		reason = counted(before, after, prog);
		switch (f->what) {
		case REJECT:
			/* The packet turned into its answer, back to the client. */
			if (reason != XCNI_DROP_NO_BACKEND || ret != TC_ACT_REDIRECT)
				fail_msg("%s: %s (verdict %d), want the refusal", f->name,
					 reason_name(XCNI_REASON_IDX(reason)), ret);
			break;
		case DROP:
			if (reason != f->reason || ret != TC_ACT_SHOT)
				fail_msg("%s: %s (verdict %d), want dropped as %s", f->name,
					 reason_name(XCNI_REASON_IDX(reason)), ret, reason_name(XCNI_REASON_IDX(f->reason)));
			break;
		default:
			if (ret != TC_ACT_REDIRECT ||
			    (reason != XCNI_FWD_LOCAL && reason != XCNI_FWD_ENCAP))
				fail_msg("%s: %s (verdict %d), want a backend", f->name,
					 reason_name(XCNI_REASON_IDX(reason)), ret);
			sent_dst(sent_l3(out, o.data_size_out, reason), dst, sizeof(dst), src,
				 sizeof(src));
			for (i = 0; i < 3 && f->be[i] && strcmp(f->be[i], dst); i++)
				;
			if (i == 3 || !f->be[i])
				fail_msg("%s: went to %s, not one of its backends", f->name, dst);
			seen[i] = true;
			if (f->outside) {
				/* SNAT (ETP Cluster): a remote backend's flow gets the
				 * node's address; a local backend's keeps the client. */
				bool snat = reason == XCNI_FWD_ENCAP;
				const char *want = snat ? (f->v6 ? NODE6 : NODE_IP) :
							  (f->v6 ? CLIENT6 : OUTC);

				if (f->masq == KEEP && snat)
					fail_msg("%s: SNATed, want the client kept", f->name);
				if (strcmp(src, want))
					fail_msg("%s: source %s, want %s", f->name, src, want);
			}
		}
	}
	for (size_t i = 0; f->what == TO_BACKENDS && i < 3 && f->be[i]; i++)
		if (!seen[i])
			fail_msg("%s: %d flows, none to %s", f->name, TRIES, f->be[i]);
}

static struct CMUnitTest tests[ARRAY_SIZE(flows) + 1];

/* The table as cmocka tests, the maps' setup first. */
static int svc_flows_make(struct CMUnitTest **out, size_t *n)
{
	tests[0] = (struct CMUnitTest){ .name = "kube-proxy flows: maps from the manifest",
					.test_func = flows_setup };
	for (size_t i = 0; i < ARRAY_SIZE(flows); i++)
		tests[i + 1] = (struct CMUnitTest){ .name = flows[i].name, .test_func = run_flow,
						    .initial_state = (void *)&flows[i] };
	*out = tests;
	*n = ARRAY_SIZE(tests);
	return 0;
}

/* The node as the IPv6 NodePort groups leave it: both families, the overlay. */
const struct group svc_flows_group = { "svc_flows", .make = svc_flows_make, .prep = dsr6_state };
