/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cluster state from the Kubernetes API server: list, then watch, Namespaces,
 * Pods, Nodes and NetworkPolicies over HTTPS, behind the same cs_backend
 * interface as the manifest directory.
 */
#ifndef XCNI_K8SAPI_H
#define XCNI_K8SAPI_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/cluster/store.h"

/* Where the API server is and how to prove who we are. */
struct k8s_api_conf {
	char *server; /* "https://host:port", no trailing slash */
	char *source; /* "in-cluster" or the kubeconfig path: what error messages point at */
	bool in_cluster;
	/* The CA that signs the server's certificate: a file, or PEM bytes. */
	char *ca_file;
	char *ca_data;
	size_t ca_len;
	bool insecure; /* insecure-skip-tls-verify */
	/* Bearer token: inline, or a file read again on every (re)connect (it rotates). */
	char *token;
	char *token_file;
	/* Client certificate and key: files, or PEM bytes. */
	char *cert_file, *key_file;
	char *cert_data, *key_data;
	size_t cert_len, key_len;
};

/*
 * The pod's service account: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT,
 * its token and CA under /var/run/secrets/kubernetes.io/serviceaccount.
 * -ENOENT (logged) when not running in a pod.
 */
int k8s_api_conf_in_cluster(struct k8s_api_conf *c);
/*
 * A kubeconfig file, as kubectl reads it: current-context -> cluster (server,
 * certificate-authority[-data], insecure-skip-tls-verify) and
 * user (token, tokenFile, client-certificate[-data], client-key[-data]).
 * Relative paths are relative to the file's directory. -EINVAL (logged, with
 * the field) for what cannot work, e.g. an exec credential plugin.
 */
int k8s_api_conf_kubeconfig(const char *path, struct k8s_api_conf *c);
void k8s_api_conf_free(struct k8s_api_conf *c);
/* A service-account token file: the token without its newline; -EINVAL if it
 * holds a byte no HTTP header may carry. 0 or -errno; *out is the caller's. */
int k8s_read_token(const char *path, char **out);

/*
 * Starts following the API server; does no network I/O before returning, and
 * none of it ever blocks: a slow or dead server leaves the store as it was.
 * kubeconfig NULL: in-cluster. Errors only for configuration that cannot
 * work (logged).
 *
 * The store is written only once every kind has been listed (the first full
 * state), then on every watch event and relist; sync_gen is 0 until then and
 * is bumped by every batch that applied something.
 * flags 0: the policy kinds only;
 * K8S_API_LB: Services and EndpointSlices too (xcnid replacing kube-proxy; RBAC: list and
 * watch on services and endpointslices.discovery.k8s.io). */
#define K8S_API_LB 1u
/* K8S_API_SVC: Services, not EndpointSlices (xcnid beside kube-proxy: the frontends it
 * refuses as sources from outside; RBAC: list and watch on services). */
#define K8S_API_SVC 2u
int k8s_api_open_flags(const char *kubeconfig, struct store *st, unsigned int flags,
		       struct cs_backend **out);

#endif
