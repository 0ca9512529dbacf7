// SPDX-License-Identifier: GPL-2.0-only
/*
 * pvg_hcall C shim: the exports other modules link against (Rust items cannot be exported
 * across modules) and the kernel static inlines/macros Rust bindings cannot call.
 * No logic lives here; see the Rust files of this module.
 */
#include <linux/cpumask.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/irqflags.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/smp.h>
#include <linux/static_call.h>
#include <linux/vmalloc.h>
#include <linux/version.h>
#include <asm/msr.h>
#include <xen/xen.h>
#if IS_ENABLED(CONFIG_HYPERV)
#include <asm/mshyperv.h>
#endif

/* Exports (implemented in Rust, ops.rs). */
const void *pvg_hcall_ops(void);
EXPORT_SYMBOL_GPL(pvg_hcall_ops);

/* Helpers shared by the pvguest modules (kglue.rs). */
#include "../../drivers/common/kglue.c"

/* --- Module parameter Rust's module! cannot express (strings) ----------------------------- */

static char *backend = "auto";
module_param(backend, charp, 0444);
MODULE_PARM_DESC(backend, "Backend: auto (default: from CPUID and devices), hyperv, xen, sim or none");

const char *pvg_backend_param(void);
const char *pvg_backend_param(void)
{
	return backend ? backend : "auto";
}

/* --- Safe MSR access (a hypervisor that lies in CPUID must not oops us) -------------------- */

int pvg_rdmsr_safe(u32 msr, u64 *val);
int pvg_wrmsr_safe(u32 msr, u64 val);

int pvg_rdmsr_safe(u32 msr, u64 *val)
{
	return rdmsrq_safe(msr, val);
}

int pvg_wrmsr_safe(u32 msr, u64 val)
{
	return wrmsrq_safe(msr, val);
}

/* --- Hyper-V ------------------------------------------------------------------------------ */

bool pvg_hv_kernel_page(void);
u64 pvg_hv_kernel_hypercall(u64 control, u64 in, u64 out);
u64 pvg_hv_own_hypercall(u64 control, u64 in, u64 out);
u64 pvg_hv_own_page_pfn(void);
void pvg_hv_set_handler(void (*handler)(void));
void pvg_hv_remove_handler(void);
u32 pvg_hv_vp_index(unsigned int cpu);
bool pvg_hv_c_vmbus_active(void);

/* The page of our own .text the hypervisor overlays with its hypercall code when the kernel
 * has not set one up (hv_page.S). */
extern char pvg_hv_own_page[];

#if IS_ENABLED(CONFIG_HYPERV)
bool pvg_hv_kernel_page(void)
{
	/* True once the kernel enabled its hypercall page (HV_X64_MSR_HYPERCALL). */
	return hv_is_hyperv_initialized();
}

u64 pvg_hv_kernel_hypercall(u64 control, u64 in, u64 out)
{
	return static_call_mod(hv_hypercall)(control, in, out);
}

void pvg_hv_set_handler(void (*handler)(void))
{
	hv_setup_vmbus_handler(handler);
}

void pvg_hv_remove_handler(void)
{
	hv_remove_vmbus_handler();
}

u32 pvg_hv_vp_index(unsigned int cpu)
{
	if (hv_vp_index && cpu < nr_cpu_ids && hv_vp_index[cpu] != VP_INVAL)
		return hv_vp_index[cpu];
	return cpu;
}
#else
bool pvg_hv_kernel_page(void) { return false; }
u64 pvg_hv_kernel_hypercall(u64 control, u64 in, u64 out) { return U64_MAX; }
void pvg_hv_set_handler(void (*handler)(void)) { }
void pvg_hv_remove_handler(void) { }
u32 pvg_hv_vp_index(unsigned int cpu) { return cpu; }
#endif

/* Calls our own hypercall page: the TLFS x64 convention (control in rcx, input GPA/value in
 * rdx, output GPA/value in r8, result in rax), with the registers the kernel's own
 * hv_std_hypercall treats as clobbered. A direct call, so IBT is satisfied. */
u64 pvg_hv_own_hypercall(u64 control, u64 in, u64 out)
{
	u64 status;
	register u64 r8 asm("r8") = out;

	asm volatile("call pvg_hv_own_page"
		     : "=a"(status), ASM_CALL_CONSTRAINT, "+c"(control), "+d"(in), "+r"(r8)
		     : : "cc", "memory", "r9", "r10", "r11");
	return status;
}

u64 pvg_hv_own_page_pfn(void)
{
	return vmalloc_to_pfn(pvg_hv_own_page);
}

/* Whether the kernel's C VMBus driver (hv_vmbus) is connected: it then owns the SynIC and the
 * VMBus interrupt, and pvguest must not take them over. Looked up by name so pvg_hcall does
 * not depend on hv_vmbus being built. */
bool pvg_hv_c_vmbus_active(void)
{
	u32 *version = __symbol_get("vmbus_proto_version");
	bool active;

	if (!version)
		return false;
	active = READ_ONCE(*version) != 0;
	symbol_put_addr(version);
	return active;
}

/* --- Xen ---------------------------------------------------------------------------------- */

bool pvg_xen_hvm_guest(void);
bool pvg_xen_hvm_guest(void)
{
	return xen_hvm_domain();
}

/* The kernel version the module is built for (it only loads into that kernel: vermagic). */
u32 pvg_linux_version_code(void);
u32 pvg_linux_version_code(void)
{
	return LINUX_VERSION_CODE;
}
