/* SPDX-License-Identifier: GPL-2.0-only */
/* pvg_vmbus C shim: types shared by bus.c (the Rust side mirrors what it uses). */
#ifndef PVG_VMBUS_BUS_H
#define PVG_VMBUS_BUS_H

#include <linux/device.h>
#include <linux/uuid.h>

struct pvg_vmbus_device {
	struct device dev;
	guid_t class_id;
	guid_t instance_id;
	void *core;		/* the Rust core's device object */
};

typedef int (*pvg_probe_fn)(struct pvg_vmbus_device *dev, void *ctx);
typedef void (*pvg_remove_fn)(struct pvg_vmbus_device *dev, void *ctx);

struct pvg_vmbus_driver {
	struct device_driver driver;
	guid_t class_id;
	pvg_probe_fn probe;
	pvg_remove_fn remove;
	void *ctx;
};

/* Attribute ids passed to pvg_vmbus_rust_show(); keep in sync with vmbus_main.rs. */
enum {
	PVG_ATTR_RELID,
	PVG_ATTR_STATE,
	PVG_ATTR_MONITOR_ID,
	PVG_ATTR_OUT_READ_INDEX,
	PVG_ATTR_OUT_WRITE_INDEX,
	PVG_ATTR_OUT_INTR_MASK,
	PVG_ATTR_IN_READ_INDEX,
	PVG_ATTR_IN_WRITE_INDEX,
	PVG_ATTR_IN_INTR_MASK,
	PVG_ATTR_INTERRUPTS_IN,
	PVG_ATTR_SIGNALS_OUT,
	PVG_ATTR_TARGET_CPU,
	PVG_ATTR_CHANNELS,
};

int pvg_vmbus_bus_register(void);
void pvg_vmbus_bus_unregister(void);
struct pvg_vmbus_device *pvg_vmbus_device_create(const u8 *class_id, const u8 *instance_id,
						 u32 relid, void *core);
int pvg_vmbus_device_add(struct pvg_vmbus_device *vdev);
void pvg_vmbus_device_del(struct pvg_vmbus_device *vdev);
void pvg_vmbus_device_put(struct pvg_vmbus_device *vdev);
struct device *pvg_vmbus_device_dev(struct pvg_vmbus_device *vdev);
void *pvg_vmbus_device_core(struct pvg_vmbus_device *vdev);

struct pvg_vmbus_driver *pvg_vmbus_driver_register(const char *name, const u8 *class_id,
						   pvg_probe_fn probe, pvg_remove_fn remove,
						   void *ctx, struct module *owner);
void pvg_vmbus_driver_unregister(struct pvg_vmbus_driver *drv);
void *pvg_vmbus_get_drvdata(struct pvg_vmbus_device *vdev);
void pvg_vmbus_set_drvdata(struct pvg_vmbus_device *vdev, void *data);
struct device *pvg_vmbus_dev(struct pvg_vmbus_device *vdev);

#endif
