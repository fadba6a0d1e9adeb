/* SPDX-License-Identifier: Apache-2.0 */
/* xcnictl lab ui: the service map of every lab node's flows (ui.c). */
#ifndef XCNI_LAB_UI_H
#define XCNI_LAB_UI_H

#include "lib/system/print.h"

int lab_cmd_ui(int argc, char **argv);
extern const struct pt_opt lab_ui_opts[]; /* its options */
/* xcnictl ui: the same map of a cluster's agents over HTTPS (--kubeconfig, --agent). */
int ctl_ui_main(int argc, char **argv);

#endif
