// SPDX-License-Identifier: GPL-2.0-only
/* FIXME(lead): temporary exports so VSC modules link while the Rust core is written; each is
 * replaced by its Rust implementation (vmbus_main.rs) and this file deleted. */
#include <linux/module.h>
#include <linux/errno.h>
#include "bus.h"

#pragma GCC diagnostic ignored "-Wmissing-prototypes"

int pvg_vmbus_device_info(struct pvg_vmbus_device *dev, void *info) { return -ENODEV; }
EXPORT_SYMBOL_GPL(pvg_vmbus_device_info);
void *pvg_vmbus_primary_channel(struct pvg_vmbus_device *dev) { return NULL; }
EXPORT_SYMBOL_GPL(pvg_vmbus_primary_channel);
int pvg_vmbus_open(void *chan, u32 s, u32 r, const u8 *ud, u32 ul, void *cb, void *sub, void *ctx, int cpu) { return -ENODEV; }
EXPORT_SYMBOL_GPL(pvg_vmbus_open);
void pvg_vmbus_close(void *chan) { }
EXPORT_SYMBOL_GPL(pvg_vmbus_close);
int pvg_vmbus_send(void *chan, u16 t, u16 f, u64 id, const u8 *d, u32 l) { return -ENODEV; }
EXPORT_SYMBOL_GPL(pvg_vmbus_send);
int pvg_vmbus_send_gpa(void *chan, u16 f, u64 id, const void *r, u32 n, const u8 *d, u32 l) { return -ENODEV; }
EXPORT_SYMBOL_GPL(pvg_vmbus_send_gpa);
int pvg_vmbus_recv(void *chan, u8 *buf, u32 len, void *info) { return -ENODEV; }
EXPORT_SYMBOL_GPL(pvg_vmbus_recv);
int pvg_vmbus_gpadl_create(void *chan, void *buf, u32 len, u32 *h) { return -ENODEV; }
EXPORT_SYMBOL_GPL(pvg_vmbus_gpadl_create);
int pvg_vmbus_gpadl_teardown(void *chan, u32 h) { return -ENODEV; }
EXPORT_SYMBOL_GPL(pvg_vmbus_gpadl_teardown);
u16 pvg_vmbus_channel_index(void *chan) { return 0; }
EXPORT_SYMBOL_GPL(pvg_vmbus_channel_index);
u32 pvg_vmbus_channel_target_cpu(void *chan) { return 0; }
EXPORT_SYMBOL_GPL(pvg_vmbus_channel_target_cpu);
bool pvg_vmbus_rescinded(void *chan) { return true; }
EXPORT_SYMBOL_GPL(pvg_vmbus_rescinded);
