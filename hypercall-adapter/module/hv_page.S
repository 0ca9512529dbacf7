/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A page of pvg_hcall's own .text for the Hyper-V hypercall page, used only when the running
 * kernel has not set one up (kernel without CONFIG_HYPERV, or Hyper-V not initialised). The
 * hypervisor overlays it with its hypercall code once HV_X64_MSR_HYPERCALL points at it; until
 * then it traps (int3). A module cannot allocate executable memory, but it owns its text.
 */
#include <linux/annotate.h>
#include <linux/linkage.h>

	.pushsection .text.pvg_hv_page, "ax"
	.balign 4096
SYM_CODE_START_NOALIGN(pvg_hv_own_page)
	/* Reached by a direct call only; its address is taken just to find its PFN. */
	ANNOTATE_NOENDBR
	.fill 4096, 1, 0xcc
SYM_CODE_END(pvg_hv_own_page)
	.popsection
