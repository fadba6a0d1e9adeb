/* SPDX-License-Identifier: Apache-2.0 */
/* xcnictl lab ui: the service map of every lab node's flows (ui.c). */
#ifndef XCNI_LAB_UI_H
#define XCNI_LAB_UI_H

int lab_cmd_ui(int argc, char **argv);

#endif
