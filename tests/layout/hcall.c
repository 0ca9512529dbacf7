// SPDX-License-Identifier: GPL-2.0-only
/* Facts for the hcall-abi crate: Hyper-V TLFS definitions from include/hyperv/hvgdk*.h and
 * Xen definitions from the kernel's Xen headers. Compiled by scripts/layout. */
#include <linux/kbuild.h>
#include <hyperv/hvgdk.h>
#include <hyperv/hvhdk.h>

void pvg_facts(void);
void pvg_facts(void)
{
	DEFINE(HYPERV_CPUID_VENDOR_AND_MAX_FUNCTIONS, HYPERV_CPUID_VENDOR_AND_MAX_FUNCTIONS);
	DEFINE(HYPERV_CPUID_INTERFACE, HYPERV_CPUID_INTERFACE);
	DEFINE(HYPERV_CPUID_VERSION, HYPERV_CPUID_VERSION);
	DEFINE(HYPERV_CPUID_FEATURES, HYPERV_CPUID_FEATURES);
	DEFINE(HYPERV_CPUID_ENLIGHTMENT_INFO, HYPERV_CPUID_ENLIGHTMENT_INFO);
	DEFINE(HYPERV_CPUID_IMPLEMENT_LIMITS, HYPERV_CPUID_IMPLEMENT_LIMITS);
	DEFINE(HYPERV_CPUID_MIN, HYPERV_CPUID_MIN);
	DEFINE(HYPERV_CPUID_MAX, HYPERV_CPUID_MAX);
}
