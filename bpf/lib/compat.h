/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Constants newer than some distributions' UAPI headers, with the kernel's values. */
#ifndef XCNI_COMPAT_H
#define XCNI_COMPAT_H

#ifndef TC_ACT_OK
#define TC_ACT_OK 0
#endif
#ifndef TC_ACT_SHOT
#define TC_ACT_SHOT 2
#endif
#ifndef TC_ACT_REDIRECT
#define TC_ACT_REDIRECT 7
#endif
#ifndef ETH_P_IP
#define ETH_P_IP 0x0800
#endif
#ifndef ETH_P_ARP
#define ETH_P_ARP 0x0806
#endif

#endif
