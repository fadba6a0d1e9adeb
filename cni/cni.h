/* SPDX-License-Identifier: Apache-2.0 */
/* xcni CNI plugin: configuration, results, naming and IPAM delegation. */
#ifndef XCNI_CNI_H
#define XCNI_CNI_H

#include <jansson.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Error codes of the CNI spec (1.1.0, "Error"), plus xcni's own (>= 100). */
enum cni_code {
	CNI_ERR_INCOMPATIBLE_VERSION = 1,
	CNI_ERR_UNSUPPORTED_FIELD = 2,
	CNI_ERR_UNKNOWN_CONTAINER = 3,
	CNI_ERR_INVALID_ENV = 4,
	CNI_ERR_IO = 5,
	CNI_ERR_DECODE = 6,
	CNI_ERR_INVALID_CONFIG = 7,
	CNI_ERR_TRY_AGAIN = 11,
	CNI_ERR_NOT_AVAILABLE = 50,
	CNI_ERR_LIMITED = 51,
	XCNI_ERR_DRIFT = 100, /* CHECK: the attachment differs from prevResult */
	XCNI_ERR_NETLINK = 101, /* the kernel refused a netlink request */
	XCNI_ERR_IPAM = 102, /* the delegated IPAM plugin failed */
};

struct cni_err {
	int code;
	char msg[512];
	char details[512];
};

int cni_fail(struct cni_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define XCNI_DEFAULT_MTU 1500
#define XCNI_DEFAULT_STATE_DIR "/var/lib/cni/xcni"

/* The versions xcni reads and writes, oldest first. */
extern const char *const xcni_versions[];
extern const size_t xcni_nversions;
/* -1 if v is not a supported version, else its index in xcni_versions. */
int cni_version_index(const char *v);
/* <0, 0, >0 like strcmp, for dotted versions. */
int cni_version_cmp(const char *a, const char *b);

struct xcni_conf {
	char cni_version[16];
	char name[128];
	char type[64];
	unsigned int mtu;
	char state_dir[3072]; /* leaves room for "/name/file" in PATH_MAX */
	char ipam_type[64];
	char pin_dir[1024]; /* where xcnid pinned the data plane */
	char attach[8]; /* "auto", "tcx" or "tc" */
	int big_tcp; /* XCNI_BIG_TCP_* */
	unsigned int ipam_families; /* XCNI_FAM_*: what host-local's ranges give, 0 unknown */
	json_t *raw; /* the whole config, passed to IPAM */
	json_t *prev_result; /* borrowed from raw, may be NULL */
	json_t *valid_attachments; /* GC: borrowed from raw, may be NULL */
};

enum { XCNI_FAM_4 = 1, XCNI_FAM_6 = 2 };

int xcni_conf_parse(const char *buf, size_t len, struct xcni_conf *c, struct cni_err *e);
void xcni_conf_free(struct xcni_conf *c);

/* Host-side veth name: "xc" + 12 hex digits of a hash of container ID and ifname. */
void xcni_host_ifname(const char *container_id, const char *ifname, char out[IF_NAMESIZE]);
/* Alias written on the host veth so GC can find attachments without state. */
int xcni_link_alias(const char *net, const char *container_id, const char *ifname,
		    char *out, size_t len);
/* Parses an alias made by xcni_link_alias for network net; 0 or -EINVAL. */
int xcni_link_alias_parse(const char *alias, const char *net, char *cid, size_t cidlen,
			  char *ifname, size_t iflen);
int xcni_valid_ifname(const char *s);
int xcni_valid_container_id(const char *s);

/*
 * The gateway of every pod's IPv6 default route. Link-local, so it is never
 * an address IPAM hands out and needs no per-node setting; the same in every
 * pod, so nothing about it is per pod but the neighbour entry that points it
 * at the pod's own host veth (docs/architecture.md, "The plugin (cni/)").
 */
#define XCNI_GW6 "fe80::1"

/* What IPAM gave: an IPv4 address, an IPv6 one, or both. */
struct xcni_ipam {
	int has4, has6;
	uint32_t ip; /* network byte order */
	uint8_t plen;
	uint32_t gw;
	struct in6_addr ip6;
	uint8_t plen6;
	int idx4, idx6; /* their places in the IPAM result's "ips", for messages */
	json_t *routes; /* owned; array of {dst} to install in the pod, both families */
	json_t *dns; /* owned, may be NULL */
};

int xcni_ipam_parse(json_t *res, struct xcni_ipam *out, struct cni_err *e);
void xcni_ipam_free(struct xcni_ipam *ipam);

struct cni_attach {
	char host_if[IF_NAMESIZE];
	uint8_t host_mac[6];
	char pod_if[IF_NAMESIZE];
	uint8_t pod_mac[6];
	char netns[PATH_MAX];
	unsigned int mtu;
};

/* The ADD result in the layout of version ver. */
json_t *xcni_result_build(const char *ver, const struct cni_attach *a,
			  const struct xcni_ipam *ipam);
json_t *cni_error_json(const char *ver, const struct cni_err *e);
json_t *cni_version_json(const char *ver);

/* Delegation to an IPAM plugin through the CNI exec protocol. */
struct cni_env {
	const char *command;
	const char *container_id;
	const char *netns;
	const char *ifname;
	const char *args;
	const char *path;
};

/* A delegated plugin started but not yet waited for. */
struct cni_proc {
	pid_t pid;
	int out_fd;
	char type[64];
	char command[16];
};

/* Starts plugin `type` from env->path with conf on its stdin. */
int cni_exec_start(const struct cni_env *env, const char *type, json_t *conf,
		   struct cni_proc *p, struct cni_err *e);
/* Waits for it; *out gets its JSON result. */
int cni_exec_finish(struct cni_proc *p, json_t **out, struct cni_err *e);
/* Both in one: runs plugin `type` and returns its result. */
int cni_exec(const struct cni_env *env, const char *type, json_t *conf, json_t **out,
	     struct cni_err *e);
/* 0 if plugin type is found and executable in path, else -errno. */
int cni_find_plugin(const char *path, const char *type, char *out, size_t len);

/*
 * Attachment records (cni/state.c): <stateDir>/<network>/<host veth>, one per
 * attachment, written by ADD and read by CHECK, DEL and GC.
 */
int xcni_mkdir_p(const char *path);
int xcni_state_dir_make(const struct xcni_conf *conf, struct cni_err *e);
int xcni_state_write(const struct xcni_conf *conf, const struct cni_env *env,
		     const char *host_if, const struct xcni_ipam *ipam, const char *attach,
		     struct cni_err *e);
/* 1 if host_if has a record (*ip its IPv4 or 0, attach its attach point), 0 if not. */
int xcni_state_read(const struct xcni_conf *conf, const char *host_if, uint32_t *ip,
		    char *attach, size_t len);
/* Removes the record and any .tmp a killed ADD left. */
void xcni_state_remove(const struct xcni_conf *conf, const char *host_if);
/* Calls cb with the container ID and interface of every record of the network. */
void xcni_state_foreach(const struct xcni_conf *conf,
			void (*cb)(const char *cid, const char *ifname, void *arg), void *arg);

/* The data plane xcnid pinned (cni/dataplane.c). */
#include "xcni_shared.h"

#define XCNI_DEFAULT_PIN_DIR XCNI_PIN_ROOT

/*
 * IPv4 BIG TCP on the pod's veth pair (GSO/GRO up to XCNI_BIG_TCP_SIZE instead
 * of 64K). Auto: on when the node has no overlay, whose Geneve encapsulation
 * needs packets below 64K.
 */
enum { XCNI_BIG_TCP_AUTO, XCNI_BIG_TCP_ON, XCNI_BIG_TCP_OFF };
#define XCNI_BIG_TCP_SIZE 185000

struct xcni_dp {
	char pin_dir[1024];
	int from_fd, to_fd; /* pinned programs */
	int ep_fd, if_fd; /* endpoints and ifindex maps */
	int ep6_fd, if6_fd; /* endpoints6 and ifindex6; -1 under an xcnid without IPv6 */
	int frag_fd, frag6_fd; /* the fragment shares (by ep_id); -1 under an xcnid before them */
	int fqdn_fd, ring_fd; /* names' addresses learned, per pod (bpf/lib/dns.h); -1: none */
	unsigned int pod_mtu; /* what the node's overlay leaves pods, 0: no limit */
};

/* The pods' MTU: the config's, capped by what the node's overlay leaves. */
unsigned int xcni_dp_pod_mtu(const struct xcni_dp *dp, unsigned int conf_mtu);

int xcni_dp_open(struct xcni_dp *dp, const char *pin_dir, struct cni_err *e);
/* GC: the fragment shares and the DNS-learned addresses of ep_ids no
 * endpoint holds (the node's kept). */
void xcni_dp_share_gc(const struct xcni_dp *dp);
void xcni_dp_close(struct xcni_dp *dp);
/*
 * mode: "auto" (TCX, else tc clsact, saying why on stderr), "tcx" or "tc".
 * *used gets the attach point taken, "tcx" or "tc", for the state record.
 */
int xcni_dp_attach(const struct xcni_dp *dp, const char *mode, int ifindex, const char *ifname,
		   const char **used, struct cni_err *e);
/* Undoes an attach made as `used` ("tcx", "tc"); NULL when unknown tries both. */
void xcni_dp_detach(const struct xcni_dp *dp, int ifindex, const char *ifname, const char *used);
/* 0 if the programs are attached to ifindex as `used` says, else -errno. */
int xcni_dp_attached(const struct xcni_dp *dp, const char *used, int ifindex, const char *ifname);
int xcni_dp_endpoint_add(const struct xcni_dp *dp, __u32 ip, const struct xcni_endpoint *ep,
			 struct cni_err *e);
void xcni_dp_endpoint_del(const struct xcni_dp *dp, __u32 ip, __u32 ep_id);
int xcni_dp_endpoint_get(const struct xcni_dp *dp, __u32 ip, struct xcni_endpoint *ep);
int xcni_dp_gc(const struct xcni_dp *dp, const __u32 *stale, size_t n);
/* The IPv6 entries (endpoints6, ifindex6) of an IPv6 or dual-stack pod. */
int xcni_dp_endpoint6_add(const struct xcni_dp *dp, const struct in6_addr *ip6,
			  const struct xcni_endpoint *ep, struct cni_err *e);
void xcni_dp_endpoint6_del(const struct xcni_dp *dp, const struct in6_addr *ip6, __u32 ep_id);
/* The walk of xcni_dp_gc over endpoints6 alone. */
int xcni_dp_gc6(const struct xcni_dp *dp, const __u32 *stale, size_t n);
int xcni_dp_endpoint6_get(const struct xcni_dp *dp, const struct in6_addr *ip6,
			  struct xcni_endpoint *ep);
/* Stable endpoint id of an attachment. */
__u32 xcni_ep_id(const char *container_id, const char *ifname);

/*
 * Fault injection for tests: xcni_failpoint is xcni_inject's (-EIO when
 * XCNI_TEST_FAIL_AT names the step). Both it and xcni_killpoint (lib/killpoint.h) kill the plugin
 * (SIGKILL, no unwinding) when XCNI_TEST_KILL_AT names the step: a crash at that
 * exact point, which DEL and GC must clean up after.
 */
#include "lib/system/killpoint.h"
int xcni_failpoint(const char *step);

#endif
