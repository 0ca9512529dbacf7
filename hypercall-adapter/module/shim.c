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
#include <linux/module.h>
#include <linux/smp.h>

/* Exports (implemented in Rust, ops.rs). */
const void *pvg_hcall_ops(void);
EXPORT_SYMBOL_GPL(pvg_hcall_ops);

/* Helpers for Rust (shim.rs). */
u64 pvg_virt_to_phys(const void *p);
unsigned long pvg_irq_save(void);
void pvg_irq_restore(unsigned long flags);
int pvg_irq_set_affinity_cpu(unsigned int irq, unsigned int cpu);
unsigned int pvg_num_possible_cpus(void);
bool pvg_cpu_online(unsigned int cpu);
int pvg_smp_call_on(unsigned int cpu, void (*fn)(void *), void *arg);

u64 pvg_virt_to_phys(const void *p)
{
	return virt_to_phys(p);
}

unsigned long pvg_irq_save(void)
{
	unsigned long flags;

	local_irq_save(flags);
	return flags;
}

void pvg_irq_restore(unsigned long flags)
{
	local_irq_restore(flags);
}

int pvg_irq_set_affinity_cpu(unsigned int irq, unsigned int cpu)
{
	if (cpu >= nr_cpu_ids || !cpu_online(cpu))
		return -EINVAL;
	return irq_set_affinity(irq, cpumask_of(cpu));
}

unsigned int pvg_num_possible_cpus(void)
{
	return num_possible_cpus();
}

bool pvg_cpu_online(unsigned int cpu)
{
	return cpu < nr_cpu_ids && cpu_online(cpu);
}

int pvg_smp_call_on(unsigned int cpu, void (*fn)(void *), void *arg)
{
	return smp_call_function_single(cpu, fn, arg, 1);
}
