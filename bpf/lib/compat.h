/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Constants newer than some distributions' UAPI headers, with the kernel's values. */
#ifndef XCNI_COMPAT_H
#define XCNI_COMPAT_H

/* Before the fallbacks below: they stand in for what these lack. */
#include <linux/bpf.h>
#include <linux/if_ether.h>

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

#ifndef BPF_F_ADJ_ROOM_DECAP_L3_IPV4
#define BPF_F_ADJ_ROOM_DECAP_L3_IPV4 (1ULL << 7)
#endif

#ifndef EALREADY
#define EALREADY 114
#endif

#ifndef ETH_P_IPV6
#define ETH_P_IPV6 0x86DD
#endif

#ifndef BPF_F_ADJ_ROOM_DECAP_L3_IPV6
#define BPF_F_ADJ_ROOM_DECAP_L3_IPV6 (1ULL << 8)
#endif

#endif
