// SPDX-License-Identifier: GPL-2.0-only
/*
 * Work-item helpers (INIT_WORK and queue_work are macros/static inlines Rust bindings cannot
 * call) for drivers/common/kwork.rs. Included by the C shim of each module that uses it.
 */
#include <linux/workqueue.h>

void pvg_work_init(struct work_struct *work, void (*fn)(struct work_struct *));
bool pvg_work_queue(struct work_struct *work);

void pvg_work_init(struct work_struct *work, void (*fn)(struct work_struct *))
{
	INIT_WORK(work, fn);
}

/* Long-running work (rescans, sub-channel setup) goes to the unbound long queue. */
bool pvg_work_queue(struct work_struct *work)
{
	return queue_work(system_dfl_long_wq, work);
}
