/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the files of xcnictl share: the command table's shape, the context a
 * command runs in (global options and filters, parsed once in main), the
 * pinned maps with their expected layout, the filter layer and the small
 * parsers and formatters every view uses (common.c). One file per command
 * noun exports its table (NOUN_cmds[], ended by an empty entry); main()
 * in xcnictl.c parses the options and dispatches.
 */
#ifndef XCNI_CTL_H
#define XCNI_CTL_H

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "xcni_shared.h"
#include "lib/system/cidr.h"
#include "lib/system/clock.h"
#include "lib/system/log.h"
#include "lib/policy/polsync.h"
#include "lib/system/print.h"
#include "lib/system/proto.h"
#include "lib/observe/reasons.h"
#include "lib/observe/flows.h"
#include "lib/observe/explain.h" /* xcni_reserved_identity, xcni_isolating_policies */
#include "lib/system/util.h"


/* Command options, so each command can say which ones it takes. */
enum {
	OPT_IP = 1 << 0,
	OPT_ALL = 1 << 1,
	OPT_COUNT = 1 << 2,
	OPT_TIMEOUT = 1 << 3,
	OPT_POD = 1 << 4,
	OPT_NAMESPACE = 1 << 5,
	OPT_REASON = 1 << 6,
	OPT_VERDICT = 1 << 7,
	OPT_TYPE = 1 << 8,
	OPT_PIN_DIR_DST = 1 << 9,
	OPT_IDENTITY = 1 << 10,
	OPT_SPORT = 1 << 11,
	OPT_FAMILY = 1 << 12,
	OPT_WIDE = 1 << 13, /* --wide: every text column (endpoint list) */
	OPT_TIME = 1 << 14, /* --time mono|wall (monitor, flows) */
	OPT_LABEL = 1 << 15, /* --label SELECTOR: either end's labels (lib/observe/vocab.h) */
	OPT_FLOWF = 1 << 16, /* flows' words of one end, ports, protocol, Service (--from-pod ...) */
	OPT_KUBECONFIG = 1 << 17, /* --kubeconfig FILE --tls DIR: every agent, as flows asks them */
};
/* The getopt values of the OPT_FLOWF options (xcnictl.c's ctl_opts). */
#define CTL_FLOWF_VAL 0x100

/* The filters of the map views and monitor, served by one layer (filter_*). */
#define OPT_FILTERS (OPT_IP | OPT_POD | OPT_NAMESPACE | OPT_IDENTITY | OPT_LABEL)

/* An address of either family, as the CLI takes it. */
struct ctl_addr {
	__u8 family; /* XCNI_AF_INET or XCNI_AF_INET6 */
	__u8 addr[16]; /* network order; IPv4 in the first 4 bytes, the rest zero */
};

struct ctl_ctx {
	const char *pin_dir;
	bool json; /* -o json (yaml and jsonl are written as JSON, then converted) */
	enum pt_format out; /* -o: text, wide or json here */
	unsigned int opts; /* OPT_* given on the command line */
	const char *ip; /* --ip, as given */
	__u32 ip_addr; /* --ip, parsed (network order), when IPv4 */
	struct ctl_addr ip_any; /* --ip, parsed, either family */
	__u32 identity; /* --identity */
	unsigned long count; /* --count: stop after this many events */
	unsigned long timeout_ms; /* --timeout-ms: stop after this long */
	/* filters; a row or event must pass every one given */
	const char *pod; /* --pod NS/NAME or IP */
	const char *ns; /* --namespace */
	const char *label; /* --label SELECTOR, checked */
	int reason; /* --reason, an enum xcni_reason */
	int verdict; /* --verdict: enum vocab_verdict (lib/observe/vocab.h) */
	__u8 ev_type; /* --type: enum xcni_event_type */
	const char *pin_dir_dst; /* explain --pin-dir-dst: the destination node's maps */
	const char *kubeconfig, *tls_dir; /* OPT_KUBECONFIG: the agents' API server, client cert */
	bool node_all; /* explain --node all: every lab node's maps, each side read on its pod's node */
	__u16 sport; /* explain --sport: the flow's source port (host order) */
	__u8 family; /* explain --family: 4 or 6 (0: from the ends) */
	bool time_mono; /* --time mono: CLOCK_MONOTONIC seconds, not RFC 3339 */
	/* OPT_FLOWF: the filters as flows sends them ("from-pod=x/a\n..."), checked. */
	char flow_req[1024];
	size_t flow_reqlen;
	const char *flow_first; /* the first of them given, named when a command takes none */
	/* The command tables (ctl_tables) and their flags (ctl_cmd_flags), handed to
	 * the commands that write from them (completion.c), which so link nothing of
	 * xcnictl.c: the tables name their commands, not the other way round. */
	const struct cmd *const *tables;
	int (*cmd_flags)(const struct cmd *cmd, const char *sub, char *buf, size_t n);
};

/* One command: a noun, and a verb unless the noun is the command. */
struct cmd {
	const char *name; /* NULL: the end of a table */
	const char *sub; /* NULL: the command has no subcommands */
	int (*fn)(const struct ctl_ctx *c, char **argv);
	unsigned int nargs; /* positional arguments, handed over as argv (CMD_ARGS_UPTO: at most) */
	unsigned int opts; /* OPT_* it takes */
	const char *args; /* for the usage line */
	const char *help;
	/* Optional: a syntax check of the arguments, run first; failing is a
	 * usage error (exit 2), not a failed lookup (exit 1). */
	int (*check)(char **argv);
};

/* nargs: up to n positional arguments (argv NULL-terminated after those given). */
#define CMD_ARGS_UPTO(n) (0x100u | (n))
#define CMD_NARGS(c) ((c)->nargs & 0xffu)

/* The tables, one per noun, in the order --help lists them (xcnictl.c). */
extern const struct cmd endpoint_cmds[], ct_cmds[], metrics_cmds[], config_cmds[],
	tunnel_cmds[], prefilter_cmds[], identity_cmds[], ipcache_cmds[], policy_cmds[],
	polstatus_cmds[], fqdn_cmds[], monitor_cmds[], explain_cmds[], service_cmds[], nodeport_cmds[], hook_cmds[],
	completion_cmds[];
/* All of them, NULL-terminated: what --help, dispatch and completion go by. */
extern const struct cmd *const ctl_tables[];

/* The options of the table commands (xcnictl.c's, ended by an empty one). */
extern const struct pt_opt ctl_opts[];

/* ---- maps (common.c) ---------------------------------------------------- */

struct map_spec {
	const char *name; /* the pin's file name under the pin dir */
	enum bpf_map_type type;
	__u32 key_size, value_size;
	__u32 max_entries; /* 0: any */
};
/* m_NAME, the map pinned as xcni_NAME: BPF_MAP_TYPE_TYPE, key type K, value type V. */
#define CTL_MAP(name, type, K, V, max)                                                      \
	const struct map_spec m_##name = { "xcni_" #name, BPF_MAP_TYPE_##type, sizeof(K), \
					   sizeof(V), max }

/* The IPv6 maps (absent on an agent older than ABI 7: views then show IPv4 alone). */
extern const struct map_spec m_endpoints6, m_ct6, m_ipcache6, m_polkey6, m_ifindex;
extern const struct map_spec m_tunnel6, m_tunstat6; /* the IPv6 underlay (ABI 9) */
extern const struct map_spec m_endpoints, m_ct, m_metrics, m_events, m_config, m_identity,
	m_ipcache, m_polep, m_policy, m_polrange, m_polcidr, m_polname, m_podname, m_tunnel,
	m_tunstat, m_prefilter, m_prefilter6, m_pf16, m_pf24, m_evrate, m_polrev, m_npgen, m_polsel, m_ctstat,
	m_rulename, m_fqdn, m_fqdn_pat;
/* The Service maps (service.c). */
extern const struct map_spec m_npaccel; /* the XDP NodePort fast path's counters */
extern const struct map_spec m_svc, m_svcslot, m_backend, m_revnat, m_maglev, m_svcname, m_sock_rn;

/* The fd of a pinned map of the expected layout, or -errno (said). */
int map_open(const struct ctl_ctx *c, const struct map_spec *m);
/* Whether the node's from_overlay runs --node-port-mode dsr (its lb_dsr); -ENOENT
 * without an underlay attachment. */
int ctl_node_port_dsr(const char *pin_dir, bool *dsr);
/*
 * Where this node decapsulates Geneve from the others, read from the programs
 * it runs (never their cookie): "tc"; "xdp" where xdp_underlay holds the
 * record cookie (xcnid --overlay-decap xdp, native XDP); "tc (xdp asked, XDP
 * not native)" where from_overlay was loaded for it but xdp_underlay was not
 * given the cookie; NULL without an overlay. *torn: xdp_underlay's cookie is
 * not from_overlay's, which then drops what XDP decapsulated.
 */
const char *ctl_overlay_decap(const char *pin_dir, bool *torn);
/* Which underlay family reaches a node of both (xcnid --tunnel-family, the
 * config's XCNI_CFG_F_TUN6): "ipv6" or "auto"; NULL without an overlay. */
const char *ctl_tunnel_family(const struct xcni_config *cfg);
/* map_open for a map a view can do without: -errno, and nothing said if it is missing. */
int map_open_quiet(const struct ctl_ctx *c, const struct map_spec *m);
/* explain_maps_open's and polsync_key6_open's opener: map_open (quiet:
 * map_open_quiet) of the map pinned as dir/name, on xcnictl's spec of it. */
int ctl_map_open(const char *dir, const char *name, bool quiet);
/* The node config, xcni_config's one entry, into *cfg: 0 or -errno (said). */
int ctl_config_read(const struct ctl_ctx *c, struct xcni_config *cfg);
/* Every entry into *out: elem-sized records, the key at koff, the value at voff;
 * then, with cmp, sort_unique by cmp. */
int map_collect(int fd, const struct map_spec *m, size_t elem, size_t koff, size_t voff,
		void **out, size_t *np, int (*cmp)(const void *, const void *));
/* Sorts records by cmp and drops the duplicates a walk of a live map may see. */
size_t sort_unique(void *arr, size_t n, size_t elem, int (*cmp)(const void *, const void *));
/* map_open (said when missing), map_collect, then sort_unique by cmp: 0 or -errno. */
int map_read(const struct ctl_ctx *c, const struct map_spec *m, size_t elem, size_t koff,
	     size_t voff, int (*cmp)(const void *, const void *), void **out, size_t *np);

/*
 * One family's map of a view that lists an IPv4 map, then its IPv6 twin: the
 * records map_collect makes of it (elem bytes, the key at koff, the value at
 * voff, sorted by cmp) and the family of their addresses.
 */
struct fam_map {
	const struct map_spec *map;
	size_t elem, koff, voff;
	int (*cmp)(const void *, const void *);
	__u8 fam; /* XCNI_AF_INET or XCNI_AF_INET6 */
};
/* A fam_map of struct REC records, the key in field K, the value in field V. */
#define FAM_MAP(map, rec, k, v, cmp, fam) \
	{ &(map), sizeof(struct rec), offsetof(struct rec, k), offsetof(struct rec, v), cmp, fam }
typedef void fam_row_fn(struct ptable *t, __u8 fam, const void *rec, void *arg);
/*
 * Every record of m[0] (missing: -errno, said), then of m[1] (missing: an
 * agent without IPv6, no rows; else -errno, said), through row(t, fam, rec, arg).
 */
int fam_rows(const struct ctl_ctx *c, struct ptable *t, const struct fam_map m[2],
	     fam_row_fn *row, void *arg);
struct frow;
/* An address of family fam (a: 4 or 16 bytes) into r, as a prefix of plen bits. */
void frow_addr(struct frow *r, __u8 fam, const void *a, unsigned int plen);
/* The address's bytes in family fam: 4 or 16. */
static inline size_t fam_len(__u8 fam)
{
	return fam == XCNI_AF_INET6 ? 16 : 4;
}

/* ---- parsing and formatting (args.c, common.c) ----------------------------- */

/* An IPv4 or IPv6 address (IPv6 without brackets): 0 or -EINVAL (not said). */
int parse_ip_any(const char *s, struct ctl_addr *a);
/* A decimal 0..max that is all of s (no sign, no blanks): 0 or -EINVAL. */
int parse_uint(const char *s, unsigned long max, unsigned long *v);
/* "80/TCP", "53/udp", "9/sctp", "icmp": 0 or -EINVAL (said). */
int parse_port_proto(const char *s, __u8 *proto, __u16 *port);
/* ADDR:PORT/PROTO (IPv4 or [IPv6]): a frontend's key, scope EXT. 0 or -EINVAL (said). */
int parse_frontend(const char *s, struct xcni_svc_key *k);
/* Service v's backend ids by slot (its count + count_term slots, 0 where a
 * slot reads nothing), calloc'd, their number in *n; NULL without memory. */
__u32 *svc_slot_ids(int slot_fd, const struct xcni_svc *v, size_t *n);
const char *tunnel_str(const struct xcni_ipcache_val *v, char buf[INET6_ADDRSTRLEN]);
/* An ipBlock prefix of polcidr as "ADDR/LEN", either family. */
const char *polcidr_str(const struct xcni_polcidr_key *k, char *buf, size_t len);
/* An end of family fam (a: 4 or 16 bytes): "10.0.0.1:80", "[fd00::1]:80"; ICMP
 * echo shows its id; other protocols have no ports. */
void pt_end(struct ptable *t, __u8 fam, __u8 proto, const void *a, __u16 port);
/* An address of family fam as inet_ntop writes it. */
void pt_ip(struct ptable *t, __u8 fam, const void *a);
/* v, or a missing value when there is none (have false). */
static inline void pt_uint_if(struct ptable *t, bool have, uint64_t v)
{
	if (have)
		pt_uint(t, v);
	else
		pt_null(t);
}
/* n missing values in a row: pt_null n times. */
static inline void pt_nulls(struct ptable *t, int n)
{
	while (n-- > 0)
		pt_null(t);
}
/* A fixed-size text field of a map's value (at most len bytes, NUL-padded): null when empty. */
void pt_field(struct ptable *t, const char *s, size_t len);
/* A name's cell, or without one (NULL) fmt's text: the number it stands for. */
__attribute__((format(printf, 3, 4))) void pt_name(struct ptable *t, const char *name,
						   const char *fmt, ...);
/* A protocol's cell: its name (proto_name), else its number. */
void pt_proto(struct ptable *t, __u8 proto);
/* A conntrack entry's state: new, established, closing, closed, else its number. */
void pt_ct_state(struct ptable *t, __u8 state);
/* A flag byte's set bits by name, "a,b", unnamed ones in hex ("a,0x40"); "" if none. */
struct flag_name {
	__u8 bit;
	const char *name;
};
const char *flag_names(__u8 flags, const struct flag_name *names, size_t n, char *buf, size_t len);
/* A conntrack entry as xcnictl reads it (ct, service snat); ct_cmp orders
 * records that begin with an xcni_ct_key by source, destination, then the
 * rest; ct6_cmp those that begin with an xcni_ct6_key (a total order, for
 * sort_unique). */
struct ct_rec {
	struct xcni_ct_key k;
	struct xcni_ct_entry e;
};
int ct_cmp(const void *a, const void *b);
/* An entry of xcni_policy, the hash in front of polrange (policy, endpoint). */
struct polhash_rec {
	struct xcni_polhash_key k;
	struct xcni_policy_val v;
};
int ct6_cmp(const void *a, const void *b);
/* "ns/name" of the pod with address ip, from the podname map. */
bool pod_of_ip(int fd, __u32 ip, char *buf, size_t len);
/* pod_of_ip for an address of family fam, an IPv6 one by its policy key (polsync_key6). */
bool pod_of_addr(int pfd, const struct polkey6_maps *k6, __u8 fam, const void *addr, char *buf,
		 size_t len);
/* By address, then prefix length: {prefixlen, addr} keys (ipcache, prefilter); IPv4's
 * address a __u32, IPv6's 16 bytes. */
int prefix_cmp(const void *a, const void *b);
/* Records that begin with a __u32 (an id), an IPv4 address (network order, by
 * its value) or an IPv6 address (struct xcni_in6). */
int u32_cmp(const void *a, const void *b);
int ip4_cmp(const void *a, const void *b);
int in6_cmp(const void *a, const void *b);
int prefix6_cmp(const void *a, const void *b);
__u64 secs_since(__u64 now, __u64 ns);
/* Prints the table (or the error that building it met) and frees it. */
int show(const struct ctl_ctx *c, struct ptable *t);
/*
 * The Service externalIPs xcnid refused (its status socket: in a reserved
 * range, on a node's address, outside --external-ip-cidrs, on another
 * Service's frontend), a line each after a header, to f; nothing when none
 * is or no agent answers. For `service list`.
 */
void agent_print_svc_refused(const struct ctl_ctx *c, FILE *f);
/* show, unless reading the maps for it failed with err (said): then the table
 * is freed and err returned. */
int show_read(const struct ctl_ctx *c, struct ptable *t, int err);
/*
 * A pod argument: an IPv4 address, or NS/NAME looked up in the podname map.
 * flag: the option it came with ("--pod"), named in messages; there an
 * address must be a pod's too, when the cluster state is at hand.
 */
int resolve_pod(const struct ctl_ctx *c, const char *arg, __u32 *ip, const char *flag);

/* ---- filters (common.c) ---------------------------------------------------- */

struct filter {
	unsigned int opts; /* OPT_FILTERS given */
	__u32 ip; /* --ip, or --pod's address (network order), when IPv4 */
	struct xcni_prefix at; /* --ip or --pod's address, as a host prefix */
	__u32 ip_id; /* the identity of ip (views of identities) */
	__u32 identity; /* --identity */
	const char *ns;
	struct flow_match label; /* --label (FM_LABELS) */
	int podname_fd, ipcache_fd; /* -1 when not needed */
	int identity_fd; /* label sets of identities (--label); -1: not needed */
	int ipcache6_fd; /* identities of IPv6 addresses; -1: none */
	struct polkey6_maps k6; /* IPv6 -> the key podname has it under */
};

/* What a row is about. */
struct frow {
	struct xcni_prefix addr[2]; /* its addresses (prefixes), either family */
	unsigned int naddr;
	__u32 id[2];
	unsigned int nid;
	const char *labels; /* an identity's label set */
};

/* Views keyed by identity turn --ip/--pod into the address's identity. */
#define FILTER_BY_IDENTITY 0x1u

int filter_open(const struct ctl_ctx *c, struct filter *f, unsigned int flags);
void filter_close(struct filter *f);
bool filter_match(const struct filter *f, const struct frow *r);

/* ---- Services (service.c) --------------------------------------------------- */

/* The Service maps of a node (explain: the source's, where the translation happens). */
struct svc_view {
	int svc, slot, be, maglev, name, affinity, ct, ct6; /* the last five: -1 when absent */
};
/* dir's (-ENOENT quietly when the node has no Service maps at all). */
int svc_view_open(const struct ctl_ctx *c, const char *dir, struct svc_view *v);
void svc_view_close(struct svc_view *v);
/* "10.96.0.10:53", "[fd00::a]:53": an address of the Service maps and a port. */
const char *svc_addr_str(__u8 family, const __u8 addr[16], __u16 port, char *buf, size_t len);

/* What ct and monitor need to name a translated flow's Service, frontend and backend. */
struct svcnames {
	const struct ctl_ctx *c;
	int revnat_fd; /* -1: maps without Services */
	int name_fd, be_fd; /* -1: maps without them */
	bool be_loaded;
	struct be_rec *be; /* xcni_backend, by id, read on first use */
	size_t nbe;
};

void svcnames_open(const struct ctl_ctx *c, struct svcnames *s);
void svcnames_close(struct svcnames *s);
/* The frontend of rev-NAT index rev_nat into buf ("rev-nat#N" when unknown); false for 0. */
bool svcnames_frontend(struct svcnames *s, __u16 rev_nat, char *buf, size_t len);
/* The id of the IPv4 backend ip:port (network order), or 0. */
__u32 svcnames_backend(struct svcnames *s, __u32 ip, __u16 port);
/* The Service and port of service id (= rev-NAT index) id; false when unknown. */
bool svcnames_name(struct svcnames *s, __u32 id, struct xcni_svcname *out);
/* Backend id as the maps hold it now; false when gone (or 0). */
bool svcnames_backend_of(struct svcnames *s, __u32 id, struct xcni_backend *out);
/* What each row of a fam_list view gets as its arg. */
struct fam_list {
	const struct filter *f; /* the view's filters: the row says what it is about */
	struct svcnames *sn;
	__u64 now; /* xcni_mono_ns(), for ages */
	void *priv; /* the view's own */
};
/* A list view of both families' maps under the filters, with Service names: shown, 0 or -errno. */
int fam_list(const struct ctl_ctx *c, const struct pt_col *cols, size_t ncols,
	     const struct fam_map m[2], fam_row_fn *row, void *priv);
/* "ns/name" (port false) or "ns/name:port" (port true, when it has a name). */
const char *svcname_str(const struct xcni_svcname *n, bool port, char *buf, size_t len);
/* The three name columns of a Service (with port, without, the port's name); n NULL: none. */
void svcname_cols(struct ptable *t, const struct xcni_svcname *n);
/*
 * "svc/NS/NAME": true with ns and name filled (NUL-terminated, cut to the
 * map's sizes); false when s does not start with "svc/". -EINVAL-worthy
 * forms ("svc/x", "svc//a") give true with ns or name empty.
 */
bool parse_svc_ref(const char *s, struct xcni_svcname *out);
/* A frontend: its key and its entry. */
struct svc_rec {
	struct xcni_svc_key k;
	struct xcni_svc v;
};
/* svc/NS/NAME (n's ns and name set) or ADDR:PORT/PROTO (k set, scope EXT): 0 or -EINVAL (said). */
int parse_service_arg(const char *s, struct xcni_svcname *n, struct xcni_svc_key *k);
/* Every frontend of Service n (ports, scopes), sorted by key; -ENOENT (not said) if none. */
int svc_by_name(int svc_fd, int name_fd, const struct xcni_svcname *n, struct svc_rec **out,
		size_t *nout);
/*
 * fn(arg) run in a child, its stdout (both: and stderr) into *out (*len bytes,
 * at most max kept; free it): its exit status (128 + a signal's number), or -errno.
 */
int ctl_child_output(int (*fn)(void *arg), void *arg, bool both, size_t max, char **out,
		     size_t *len);
/* fmt's text appended to the string in buf (len bytes in all, cut to fit): buf. */
__attribute__((format(printf, 3, 4))) const char *ctl_catf(char *buf, size_t len,
							  const char *fmt, ...);
/* Prints t's JSON into a string (without its trailing newline); NULL (err set) on failure. */
char *pt_json_string(struct ptable *t, int *err);

/* ---- the lab (lab.c) ----------------------------------------------------- */

/* xcnictl connectivity test ... (connectivity.c): argv[0] is "connectivity"; the exit code. */
int ctl_connectivity_main(int argc, char **argv);
struct lab_ct_opts;
/*
 * connectivity test in a cluster (conntest_k8s.c): kubeconfig NULL is the
 * in-cluster config. 0 every test passed, 1 one failed, 2 usage or error.
 */
int ctl_conntest_k8s(const struct lab_ct_opts *o, const char *kubeconfig);
/* xcnictl ui ... (lab/ui.c): argv[0] is "ui"; the exit code. */
int ctl_ui_main(int argc, char **argv);
/*
 * --node NAME: enters the lab node's network namespace and puts its pin dir
 * in pin_dir. 0; -EINVAL when no lab is up or it has no such node (a usage
 * error); -errno. Said.
 */
int ctl_node_enter(const char *name, char *pin_dir, size_t len);
/*
 * No maps where they live outside a lab (pin_dir, the default, is missing):
 * if a lab is up, says which --node to give for this command line and
 * returns true.
 */
bool ctl_lab_hint(const char *pin_dir, int argc, char **argv);
/* A lab's node NAME ("all": every node): its name and pin dir, without entering it. */
struct ctl_lab_node {
	char name[64];
	char pin[PATH_MAX];
	char netns[32]; /* its network namespace's name (lab/state.h) */
};
int ctl_lab_nodes(const char *name, struct ctl_lab_node *out, size_t max, size_t *n);
/* Where status and sysdump look: --pin-dir (default $XCNI_PIN_DIR, else
 * XCNI_PIN_ROOT), or each --node (a lab node or all). */
#define CTL_WHERE_MAX_NODES 64
struct ctl_where {
	const char *pin_dir, *nodes[CTL_WHERE_MAX_NODES];
	size_t nnodes;
	bool pin_given;
	const char *syn; /* the command's synopsis and options: its help (pt_usage) */
	const struct pt_opt *opts;
};
/* getopt's opt of such a command, but its own: --pin-dir (P), --node (N)
 * or -v into w (-1), -h (its help, 0), or any other (help to stderr, 2). */
int ctl_where_opt(int opt, const char *arg, struct ctl_where *w);
/* Those options (and --json) as the first rows of such a command's option table. */
#define CTL_WHERE_OPTS                                                       \
	{ "pin-dir", 0, true, 'P', 0, "DIR", "the agent's pins" },           \
		{ "node", 0, true, 'N', 0, "NAME", "a lab node's, or all" }, \
		{ "json", 'j', false, 'j', 0, NULL, "-o json" },             \
		{ "verbose", 'v', false, 'v', 0, NULL, "say more" },         \
		{ "help", 'h', false, 'h', 0, NULL, "this text" }
/* After getopt: no word but the command's name (help to stderr), why (a
 * refusal of the command's own, or NULL), then not --node with --pin-dir;
 * the default pin dir where none is given: -1 to go on, else 2 (said). */
int ctl_where_check(int argc, char **argv, const char *name, const char *why,
		    struct ctl_where *w);
/* explain --node all: the nodes whose maps it opens at once (16 descriptors each). */
#define CTL_EXPLAIN_MAX_NODES 32
/* xcnictl flows: its own options (filters as hubble observe's), parsed there. */
int ctl_flows_main(int argc, char **argv);
/* A flow record's end: NS/POD:PORT for a pod, else ADDRESS:PORT; wide (-o wide)
 * adds a pod's address, or what kind of peer a non-pod is. */
void flows_peer_str(json_t *p, bool wide, char *buf, size_t len);
/* A merged record's nodes, each one's part appended to buf: " {n1 forwarded 4/3,
 * n2 allowed 3/3}"; nothing for one node. */
void flows_nodes_cat(json_t *nodes, char *buf, size_t len);
/* The options of the commands that parse their own line (flows.c, status.c,
 * sysdump.c, suggest.c, lab/ui.c): what they parse with (pt_getopt). */
extern const struct pt_opt ctl_flows_opts[], ctl_status_opts[], ctl_sysdump_opts[],
	ctl_suggest_opts[], ctl_ui_opts[];
/* xcnictl policy suggest (suggest.c): argv[0] is "suggest"; the exit code. */
int ctl_policy_suggest_main(int argc, char **argv);
/* xcnictl status and sysdump (status.c, sysdump.c): their own options, parsed there. */
int ctl_status_main(int argc, char **argv);
int ctl_sysdump_main(int argc, char **argv);

/* The agent's status answer (lib/observe/agentstatus.h) for c's pin dir; NULL: no agent answers. */
json_t *agent_answer(const struct ctl_ctx *c);
/* Why a namespace of the agent's services_closed is: "MAP full" or "over its namespace's share of MAP". */
const char *svc_closed_why(const json_t *v);

#endif
