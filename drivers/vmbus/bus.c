// SPDX-License-Identifier: GPL-2.0-only
/*
 * pvg_vmbus C shim: the Linux bus type, devices and driver registration, which Rust-for-Linux
 * has no abstraction for, plus the exports VSC modules link against. Every decision (which
 * devices exist, channel state, protocol) is made in Rust (vmbus_main.rs); this file only
 * translates between `struct device`/`struct device_driver` and the Rust core.
 */
#include <linux/device.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/sysfs.h>
#include <linux/uuid.h>
#include <linux/vmalloc.h>

#include "bus.h"

/* Helpers shared by the pvguest modules (kglue.rs). */
#include "../common/kglue.c"

/* Rust side (vmbus_main.rs). */
int pvg_vmbus_rust_show(void *core, int attr, char *buf);
void pvg_vmbus_rust_device_released(void *core);

static struct device *pvg_root;

static inline struct pvg_vmbus_device *to_vdev(const struct device *dev)
{
	return container_of(dev, struct pvg_vmbus_device, dev);
}

static inline struct pvg_vmbus_driver *to_vdrv(const struct device_driver *drv)
{
	return container_of(drv, struct pvg_vmbus_driver, driver);
}

static int pvg_vmbus_match(struct device *dev, const struct device_driver *drv)
{
	return guid_equal(&to_vdev(dev)->class_id, &to_vdrv(drv)->class_id);
}

static int pvg_vmbus_uevent(const struct device *dev, struct kobj_uevent_env *env)
{
	/* Same modalias form as the in-kernel hv_vmbus: the class GUID's 16 bytes in hex. */
	return add_uevent_var(env, "MODALIAS=vmbus:%*phN", UUID_SIZE, &to_vdev(dev)->class_id);
}

static int pvg_vmbus_probe(struct device *dev)
{
	struct pvg_vmbus_driver *drv = to_vdrv(dev->driver);

	return drv->probe(to_vdev(dev), drv->ctx);
}

static void pvg_vmbus_remove(struct device *dev)
{
	struct pvg_vmbus_driver *drv = to_vdrv(dev->driver);

	drv->remove(to_vdev(dev), drv->ctx);
}

/* sysfs attributes, formatted by Rust. */
#define PVG_ATTR(_name, _id)							\
static ssize_t _name##_show(struct device *dev, struct device_attribute *a,	\
			    char *buf)						\
{										\
	return pvg_vmbus_rust_show(to_vdev(dev)->core, _id, buf);		\
}										\
static DEVICE_ATTR_RO(_name)

static ssize_t class_id_show(struct device *dev, struct device_attribute *a, char *buf)
{
	return sysfs_emit(buf, "{%pUl}\n", &to_vdev(dev)->class_id);
}
static DEVICE_ATTR_RO(class_id);

static ssize_t device_id_show(struct device *dev, struct device_attribute *a, char *buf)
{
	return sysfs_emit(buf, "{%pUl}\n", &to_vdev(dev)->instance_id);
}
static DEVICE_ATTR_RO(device_id);

static ssize_t modalias_show(struct device *dev, struct device_attribute *a, char *buf)
{
	return sysfs_emit(buf, "vmbus:%*phN\n", UUID_SIZE, &to_vdev(dev)->class_id);
}
static DEVICE_ATTR_RO(modalias);

PVG_ATTR(id, PVG_ATTR_RELID);
PVG_ATTR(state, PVG_ATTR_STATE);
PVG_ATTR(monitor_id, PVG_ATTR_MONITOR_ID);
PVG_ATTR(out_read_index, PVG_ATTR_OUT_READ_INDEX);
PVG_ATTR(out_write_index, PVG_ATTR_OUT_WRITE_INDEX);
PVG_ATTR(out_intr_mask, PVG_ATTR_OUT_INTR_MASK);
PVG_ATTR(in_read_index, PVG_ATTR_IN_READ_INDEX);
PVG_ATTR(in_write_index, PVG_ATTR_IN_WRITE_INDEX);
PVG_ATTR(in_intr_mask, PVG_ATTR_IN_INTR_MASK);
PVG_ATTR(interrupts_in, PVG_ATTR_INTERRUPTS_IN);
PVG_ATTR(signals_out, PVG_ATTR_SIGNALS_OUT);
PVG_ATTR(target_cpu, PVG_ATTR_TARGET_CPU);
PVG_ATTR(channels, PVG_ATTR_CHANNELS);

static struct attribute *pvg_vmbus_dev_attrs[] = {
	&dev_attr_class_id.attr,
	&dev_attr_device_id.attr,
	&dev_attr_modalias.attr,
	&dev_attr_id.attr,
	&dev_attr_state.attr,
	&dev_attr_monitor_id.attr,
	&dev_attr_out_read_index.attr,
	&dev_attr_out_write_index.attr,
	&dev_attr_out_intr_mask.attr,
	&dev_attr_in_read_index.attr,
	&dev_attr_in_write_index.attr,
	&dev_attr_in_intr_mask.attr,
	&dev_attr_interrupts_in.attr,
	&dev_attr_signals_out.attr,
	&dev_attr_target_cpu.attr,
	&dev_attr_channels.attr,
	NULL,
};
ATTRIBUTE_GROUPS(pvg_vmbus_dev);

static const struct bus_type pvg_vmbus_bus = {
	.name = "pvg_vmbus",
	.match = pvg_vmbus_match,
	.uevent = pvg_vmbus_uevent,
	.probe = pvg_vmbus_probe,
	.remove = pvg_vmbus_remove,
	.dev_groups = pvg_vmbus_dev_groups,
};

int pvg_vmbus_bus_register(void)
{
	int ret = bus_register(&pvg_vmbus_bus);

	if (ret)
		return ret;
	pvg_root = root_device_register("pvg_vmbus");
	if (IS_ERR(pvg_root)) {
		ret = PTR_ERR(pvg_root);
		bus_unregister(&pvg_vmbus_bus);
		return ret;
	}
	return 0;
}

void pvg_vmbus_bus_unregister(void)
{
	root_device_unregister(pvg_root);
	bus_unregister(&pvg_vmbus_bus);
}

static void pvg_vmbus_device_release(struct device *dev)
{
	struct pvg_vmbus_device *vdev = to_vdev(dev);

	if (vdev->core)
		pvg_vmbus_rust_device_released(vdev->core);
	kfree(vdev);
}

struct pvg_vmbus_device *pvg_vmbus_device_create(const u8 *class_id, const u8 *instance_id,
						 u32 relid, void *core)
{
	struct pvg_vmbus_device *vdev = kzalloc(sizeof(*vdev), GFP_KERNEL);
	int ret;

	if (!vdev)
		return ERR_PTR(-ENOMEM);
	memcpy(&vdev->class_id, class_id, UUID_SIZE);
	memcpy(&vdev->instance_id, instance_id, UUID_SIZE);
	vdev->core = core;
	device_initialize(&vdev->dev);
	vdev->dev.bus = &pvg_vmbus_bus;
	vdev->dev.parent = pvg_root;
	vdev->dev.release = pvg_vmbus_device_release;
	/* The in-kernel driver names devices by instance GUID; we do too. */
	ret = dev_set_name(&vdev->dev, "%pUl", &vdev->instance_id);
	if (ret) {
		/* The caller keeps its reference to `core` on failure. */
		vdev->core = NULL;
		put_device(&vdev->dev);
		return ERR_PTR(ret);
	}
	(void)relid;
	return vdev;
}

int pvg_vmbus_device_add(struct pvg_vmbus_device *vdev)
{
	return device_add(&vdev->dev);
}

void pvg_vmbus_device_del(struct pvg_vmbus_device *vdev)
{
	device_del(&vdev->dev);
}

void pvg_vmbus_device_put(struct pvg_vmbus_device *vdev)
{
	put_device(&vdev->dev);
}

struct device *pvg_vmbus_device_dev(struct pvg_vmbus_device *vdev)
{
	return &vdev->dev;
}

/* --- Exported to VSC modules ------------------------------------------------------------- */

struct pvg_vmbus_driver *pvg_vmbus_driver_register(const char *name, const u8 *class_id,
						   pvg_probe_fn probe, pvg_remove_fn remove,
						   void *ctx, struct module *owner)
{
	struct pvg_vmbus_driver *drv = kzalloc(sizeof(*drv), GFP_KERNEL);
	int ret;

	if (!drv)
		return ERR_PTR(-ENOMEM);
	memcpy(&drv->class_id, class_id, UUID_SIZE);
	drv->probe = probe;
	drv->remove = remove;
	drv->ctx = ctx;
	drv->driver.name = name;
	drv->driver.bus = &pvg_vmbus_bus;
	drv->driver.owner = owner;
	drv->driver.mod_name = owner ? owner->name : NULL;
	ret = driver_register(&drv->driver);
	if (ret) {
		kfree(drv);
		return ERR_PTR(ret);
	}
	return drv;
}
EXPORT_SYMBOL_GPL(pvg_vmbus_driver_register);

void pvg_vmbus_driver_unregister(struct pvg_vmbus_driver *drv)
{
	driver_unregister(&drv->driver);
	kfree(drv);
}
EXPORT_SYMBOL_GPL(pvg_vmbus_driver_unregister);

void *pvg_vmbus_get_drvdata(struct pvg_vmbus_device *vdev)
{
	return dev_get_drvdata(&vdev->dev);
}
EXPORT_SYMBOL_GPL(pvg_vmbus_get_drvdata);

void pvg_vmbus_set_drvdata(struct pvg_vmbus_device *vdev, void *data)
{
	dev_set_drvdata(&vdev->dev, data);
}
EXPORT_SYMBOL_GPL(pvg_vmbus_set_drvdata);

struct device *pvg_vmbus_dev(struct pvg_vmbus_device *vdev)
{
	return &vdev->dev;
}
EXPORT_SYMBOL_GPL(pvg_vmbus_dev);

void *pvg_vmbus_device_core(struct pvg_vmbus_device *vdev)
{
	return vdev->core;
}

/* --- Memory helpers for the Rust core ---------------------------------------------------- */

u64 pvg_vmbus_vmalloc_to_pfn(const void *addr);
u64 pvg_vmbus_vmalloc_to_pfn(const void *addr)
{
	return vmalloc_to_pfn(addr);
}

/* PFN of a page of a VSC's buffer: vmalloc'ed or in the direct map. */
u64 pvg_vmbus_virt_to_pfn(const void *addr);
u64 pvg_vmbus_virt_to_pfn(const void *addr)
{
	if (is_vmalloc_addr(addr))
		return vmalloc_to_pfn(addr);
	return virt_to_phys((void *)addr) >> PAGE_SHIFT;
}

/* --- Exports implemented in Rust (exports.rs) ---------------------------------------------- */

int pvg_vmbus_device_info(struct pvg_vmbus_device *dev, void *info);
void *pvg_vmbus_primary_channel(struct pvg_vmbus_device *dev);
int pvg_vmbus_open(void *chan, u32 send, u32 recv, const u8 *user, u32 user_len, void *cb,
		   void *sub, void *ctx, int cpu);
void pvg_vmbus_close(void *chan);
int pvg_vmbus_send(void *chan, u16 type, u16 flags, u64 trans_id, const u8 *data, u32 len);
int pvg_vmbus_send_gpa(void *chan, u16 flags, u64 trans_id, const void *ranges, u32 nranges,
		       const u8 *data, u32 len);
int pvg_vmbus_recv(void *chan, u8 *buf, u32 len, void *info);
int pvg_vmbus_gpadl_create(void *chan, void *buf, u32 len, u32 *handle);
int pvg_vmbus_gpadl_teardown(void *chan, u32 handle);
u16 pvg_vmbus_channel_index(void *chan);
u32 pvg_vmbus_channel_target_cpu(void *chan);
bool pvg_vmbus_rescinded(void *chan);
int pvg_vmbus_mask_interrupts(void *chan);
int pvg_vmbus_unmask_interrupts(void *chan);

EXPORT_SYMBOL_GPL(pvg_vmbus_device_info);
EXPORT_SYMBOL_GPL(pvg_vmbus_primary_channel);
EXPORT_SYMBOL_GPL(pvg_vmbus_open);
EXPORT_SYMBOL_GPL(pvg_vmbus_close);
EXPORT_SYMBOL_GPL(pvg_vmbus_send);
EXPORT_SYMBOL_GPL(pvg_vmbus_send_gpa);
EXPORT_SYMBOL_GPL(pvg_vmbus_recv);
EXPORT_SYMBOL_GPL(pvg_vmbus_gpadl_create);
EXPORT_SYMBOL_GPL(pvg_vmbus_gpadl_teardown);
EXPORT_SYMBOL_GPL(pvg_vmbus_channel_index);
EXPORT_SYMBOL_GPL(pvg_vmbus_channel_target_cpu);
EXPORT_SYMBOL_GPL(pvg_vmbus_rescinded);
EXPORT_SYMBOL_GPL(pvg_vmbus_mask_interrupts);
EXPORT_SYMBOL_GPL(pvg_vmbus_unmask_interrupts);
