/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Layer 12 of the lab (commands): xcnictl connectivity test. Deploys its own
 * probe namespace (pods on two nodes, a ClusterIP and a NodePort Service, a
 * NetworkPolicy that must block), runs a table of named tests through the
 * lab's probes while watching every node's drop counters, reports, and
 * removes the namespace.
 */
#ifndef XCNI_LAB_CONNTEST_H
#define XCNI_LAB_CONNTEST_H

#include <signal.h>
#include <jansson.h>

#include "lab/apply.h"
#include "lab/dns.h"
#include "lab/probe.h"
#include "lab/state.h"
#include "lab/svc.h"
#include "lab/underlay.h"
#include "lib/system/print.h"

/* The namespace the test deploys into (and removes). */
#define LAB_CONNTEST_NS "xcni-conntest"

enum lab_ct_from { CT_FROM_CLIENT, CT_FROM_STRANGER, CT_FROM_OUTSIDE };
enum lab_ct_to {
	CT_TO_ECHO_SAME, CT_TO_ECHO_OTHER, CT_TO_SVC, CT_TO_NODEPORT_A, CT_TO_NODEPORT_B, CT_TO_OUTSIDE,
	CT_TO_DNS, CT_TO_GUARDED,
};
enum lab_ct_need { CT_NEED_2NODES = 1, CT_NEED_OUTSIDE = 2, CT_NEED_DNS = 4 };

/*
 * One test: run once per IP family, named NAME/ipv4, NAME/ipv6. The table is
 * the lab's and the cluster's (user/ctl/conntest_k8s.c): one name, one meaning.
 */
struct lab_ct_case {
	const char *name;
	enum lab_ct_from from;
	enum lab_ct_to to;
	const char *port; /* PORT/PROTO; "" for the NodePort (the manifest's) */
	bool allow; /* else: blocked, and by policy */
	unsigned int needs;
	const char *answer; /* what the listener must say (its NS/POD), or NULL */
};
extern const struct lab_ct_case lab_ct_cases[];
extern const size_t lab_ct_ncases;

#define LAB_CT_MAX_GLOBS 32

/* The command line of connectivity test, lab or cluster. */
struct lab_ct_opts {
	const char *globs[LAB_CT_MAX_GLOBS];
	size_t nglobs;
	const char *nodes[2];
	size_t nnodes;
	const char *image; /* the probe pods' (set: --image given) */
	bool image_set;
	int timeout_ms;
	bool keep, verbose, list, manifest;
	/* A cluster: --kubeconfig FILE or --in-cluster (else KUBECONFIG, when no lab is up). */
	const char *kubeconfig;
	bool in_cluster;
	int ready_timeout_s; /* the probe pods' wait for Ready, and the namespace's removal */
	/* A cluster: the flows client certificate (--tls DIR, else XCNI_FLOWS_TLS):
	 * the drops are judged from the agents' flow records (else their counters). */
	const char *tls_dir;
	/* -o json: the result as one JSON object on stdout (the progress lines
	 * go to stderr); --junit FILE: as JUnit XML. */
	bool json;
	const char *junit;
};

/* Their options: what they parse with, and xcnictl checks and completes. */
extern const struct pt_opt lab_conntest_opts[], lab_conntest_probe_opts[];
/* -1: go on; else the exit code (0 --help, 2 usage, said). */
int lab_conntest_parse(int argc, char **argv, struct lab_ct_opts *o);
/* Whether NAME/FAMILY is selected by --test (every test without one). */
bool lab_conntest_selected(const struct lab_ct_opts *o, const char *full);
/* How many tests of families fams (LAB_FAM_V4 | LAB_FAM_V6) --test selects. */
size_t lab_conntest_count(const struct lab_ct_opts *o, unsigned int fams);
/* Every --test glob names a test: 0, or 2 (said: a misspelt one would pass by running nothing). */
int lab_conntest_globs_check(const struct lab_ct_opts *o);
const char *lab_ct_from_word(enum lab_ct_from f);
/* The probe namespace's manifest for a cluster (nodes a and b), YAML; the caller's to free. */
char *lab_conntest_manifest(const char *a, const char *b, const char *image);
/* Whether no lab is up in $XCNI_LAB_DIR (or the default): its lab.json is missing. */
bool lab_conntest_no_lab(void);
/*
 * A failed test's first lines, the lab's and the cluster's: res 1 connected, 2
 * answered by the wrong listener (or, want set, without want: the address
 * pod-to-dns must be answered), 0 not (fate), -1 the probe failed (answer
 * says why); denied: what a test that must be denied expected.
 */
void lab_ct_say_failed(const struct lab_ct_case *t, const char *full, const char *what, int res,
		       const char *answer, int fate, const char *want, const char *denied);
/*
 * One test's result, as -o json and --junit report it: status "pass", "fail"
 * or "skip"; detail: the fate, why it failed, or why skipped. Its time is
 * since the previous result (the tests run one at a time).
 */
void lab_ct_result(const char *full, const char *what, const char *status, const char *detail);
/* The results so far (a JSON array of {name, path, status, detail, seconds}); borrowed. */
json_t *lab_ct_results(void);
/* Runs the table in the lab: 0 every test passed, 1 one failed, 2 usage or error. */
int lab_conntest_run(const struct lab_ct_opts *o);
/*
 * xcnictl connectivity probe --to ADDR --port PORT/PROTO [--dns NAME]
 * [--timeout-ms MS]: one probe from the calling process's netns, as one JSON
 * line on stdout, exit 0 whatever the probe found (the cluster's run reads
 * it back through the kubelet's run endpoint, which drops the output of a
 * command that fails); 2 for a usage error. argv[0] is "probe".
 */
int lab_cmd_conntest_probe(int argc, char **argv);

#endif
