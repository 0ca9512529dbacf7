// SPDX-License-Identifier: GPL-2.0-only
/*
 * Kernel static inlines and macros the Rust side of every pvguest module needs (kglue.rs).
 * #included by each module's C shim (one copy of the source; module-local symbols).
 */
#include <linux/cpumask.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/irqflags.h>
#include <linux/smp.h>

u64 pvg_virt_to_phys(const void *p);
unsigned long pvg_irq_save(void);
void pvg_irq_restore(unsigned long flags);
int pvg_irq_set_affinity_cpu(unsigned int irq, unsigned int cpu);
unsigned int pvg_num_possible_cpus(void);
bool pvg_cpu_online(unsigned int cpu);
int pvg_smp_call_on(unsigned int cpu, void (*fn)(void *), void *arg);

u64 pvg_virt_to_phys(const void *p)
{
	return virt_to_phys((void *)p);
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

