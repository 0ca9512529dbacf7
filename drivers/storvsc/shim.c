// SPDX-License-Identifier: GPL-2.0-only
/*
 * pvg_storvsc C shim: the kernel static inlines and macros the Rust side cannot call
 * (blk_rq_pos, req_op, rq_for_each_segment, THIS_MODULE in a block_device_operations,
 * DEVICE_ATTR, INIT_WORK, queue_work, cpumask walks, virt_to_phys, ZERO_PAGE). No decision
 * is taken here; see blk.rs, shim.rs and the driver's Rust files.
 */
#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/cpumask.h>
#include <linux/device.h>
#include <linux/io.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sysfs.h>
#include <linux/workqueue.h>
#include <asm/pgtable.h>

/* The Rust side (blk.rs, vstor_proto::srb::blk_status) uses these values. */
static_assert(BLK_STS_OK == 0);
static_assert(BLK_STS_NOTSUPP == 1);
static_assert(BLK_STS_TIMEOUT == 2);
static_assert(BLK_STS_TARGET == 5);
static_assert(BLK_STS_MEDIUM == 7);
static_assert(BLK_STS_RESOURCE == 9);
static_assert(BLK_STS_IOERR == 10);
static_assert(BLK_STS_OFFLINE == 16);
static_assert(PAGE_SIZE == 4096);	/* Hyper-V pages are 4 KiB; GPA lists use page frames */

/* --- Requests (blk.rs Request) ---------------------------------------------------------- */

u64 pvg_stor_rq_pos(struct request *rq);
unsigned int pvg_stor_rq_bytes(struct request *rq);
unsigned int pvg_stor_rq_op(struct request *rq);
bool pvg_stor_rq_fua(struct request *rq);
bool pvg_stor_rq_nounmap(struct request *rq);
int pvg_stor_rq_for_each_segment(struct request *rq,
				 int (*fn)(void *ctx, u64 pfn, u32 offset, u32 len), void *ctx);

u64 pvg_stor_rq_pos(struct request *rq)
{
	return blk_rq_pos(rq);
}

unsigned int pvg_stor_rq_bytes(struct request *rq)
{
	return blk_rq_bytes(rq);
}

/* blk.rs ReqOp: 0 read, 1 write, 2 flush, 3 discard, 4 write zeroes, 5 anything else. */
unsigned int pvg_stor_rq_op(struct request *rq)
{
	switch (req_op(rq)) {
	case REQ_OP_READ:
		return 0;
	case REQ_OP_WRITE:
		return 1;
	case REQ_OP_FLUSH:
		return 2;
	case REQ_OP_DISCARD:
		return 3;
	case REQ_OP_WRITE_ZEROES:
		return 4;
	default:
		return 5;
	}
}

bool pvg_stor_rq_fua(struct request *rq)
{
	return rq->cmd_flags & REQ_FUA;
}

bool pvg_stor_rq_nounmap(struct request *rq)
{
	return rq->cmd_flags & REQ_NOUNMAP;
}

/*
 * Calls fn for every single-page segment of a request with data (read/write), in order;
 * stops at the first non-zero return and returns it. The page frame is the guest-physical
 * frame of the bvec's page (no bounce: the host reads/writes these pages directly).
 */
int pvg_stor_rq_for_each_segment(struct request *rq,
				 int (*fn)(void *ctx, u64 pfn, u32 offset, u32 len), void *ctx)
{
	struct req_iterator iter;
	struct bio_vec bv;
	int ret;

	if (!blk_rq_bytes(rq) || !(req_op(rq) == REQ_OP_READ || req_op(rq) == REQ_OP_WRITE))
		return 0;
	rq_for_each_segment(bv, rq, iter) {
		ret = fn(ctx, page_to_pfn(bv.bv_page), bv.bv_offset, bv.bv_len);
		if (ret)
			return ret;
	}
	return 0;
}

/* --- Queue limits and disks (blk.rs Limits, Disk) ---------------------------------------- */

void pvg_stor_lim_set_features(struct queue_limits *lim, bool write_cache, bool fua, bool rotational);
void pvg_stor_disk_setup(struct gendisk *disk, void *private_data);
const struct attribute_group **pvg_stor_disk_groups(void);

void pvg_stor_lim_set_features(struct queue_limits *lim, bool write_cache, bool fua, bool rotational)
{
	lim->features = 0;
	if (write_cache)
		lim->features |= BLK_FEAT_WRITE_CACHE;
	if (write_cache && fua)
		lim->features |= BLK_FEAT_FUA;
	if (rotational)
		lim->features |= BLK_FEAT_ROTATIONAL;
}

/* The module owns its disks' operations table, so an open disk pins the module. */
static const struct block_device_operations pvg_stor_fops = {
	.owner = THIS_MODULE,
};

void pvg_stor_disk_setup(struct gendisk *disk, void *private_data)
{
	disk->fops = &pvg_stor_fops;
	disk->private_data = private_data;
}

/* Identity attributes of the disk device (/sys/block/pvdX/{serial,wwid,wwn}), formatted in
 * Rust (lun.rs) from the LUN the disk's private_data points to. */
ssize_t pvg_stor_show_identity(void *lun, int which, char *buf);

#define PVG_STOR_ATTR(_name, _which)						\
static ssize_t _name##_show(struct device *dev, struct device_attribute *a,	\
			    char *buf)						\
{										\
	return pvg_stor_show_identity(dev_to_disk(dev)->private_data, _which, buf); \
}										\
static DEVICE_ATTR_RO(_name)

PVG_STOR_ATTR(serial, 0);
PVG_STOR_ATTR(wwid, 1);
PVG_STOR_ATTR(wwn, 2);

static struct attribute *pvg_stor_disk_attrs[] = {
	&dev_attr_serial.attr,
	&dev_attr_wwid.attr,
	&dev_attr_wwn.attr,
	NULL,
};

static const struct attribute_group pvg_stor_disk_group = {
	.attrs = pvg_stor_disk_attrs,
};

static const struct attribute_group *pvg_stor_disk_attr_groups[] = {
	&pvg_stor_disk_group,
	NULL,
};

const struct attribute_group **pvg_stor_disk_groups(void)
{
	return pvg_stor_disk_attr_groups;
}

/* --- Work items (drivers/common/kwork.rs) ------------------------------------------------- */

#include "../common/kwork.c"

/* --- CPUs and memory (shim.rs) ---------------------------------------------------------- */

unsigned int pvg_stor_nr_cpu_ids(void);
bool pvg_stor_cpu_possible(unsigned int cpu);
unsigned int pvg_stor_num_online_cpus(void);
int pvg_stor_nth_online_cpu(unsigned int n);
u64 pvg_stor_virt_to_phys(const void *p);
u64 pvg_stor_zero_page_pfn(void);

unsigned int pvg_stor_nr_cpu_ids(void)
{
	return nr_cpu_ids;
}

bool pvg_stor_cpu_possible(unsigned int cpu)
{
	return cpu < nr_cpu_ids && cpu_possible(cpu);
}

unsigned int pvg_stor_num_online_cpus(void)
{
	return num_online_cpus();
}

/* The n-th online CPU, or -1 when there are fewer. */
int pvg_stor_nth_online_cpu(unsigned int n)
{
	unsigned int cpu = cpumask_nth(n, cpu_online_mask);

	return cpu < nr_cpu_ids ? (int)cpu : -1;
}

u64 pvg_stor_virt_to_phys(const void *p)
{
	return virt_to_phys((void *)p);
}

/* The shared zero page: WRITE SAME's one block of zeros (the host only reads it). */
u64 pvg_stor_zero_page_pfn(void)
{
	return page_to_pfn(ZERO_PAGE(0));
}
