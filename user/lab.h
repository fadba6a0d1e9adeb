/* SPDX-License-Identifier: Apache-2.0 */
/* xcnictl lab: a cluster made of network namespaces on one machine. */
#ifndef XCNI_LAB_H
#define XCNI_LAB_H

/* argv[0] is "lab"; returns the process exit code (0 ok, 1 failed/blocked, 2 usage or error). */
int lab_main(int argc, char **argv);

#endif
