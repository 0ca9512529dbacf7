# LUN hot add, resize and hot remove: the host adds a LUN (ENUMERATE_BUS) and a new disk
# appears in lsblk; the host grows LUN 0 and the disk's capacity follows (set_capacity with a
# RESIZE uevent) while a file system on it stays mounted and usable; the host removes the
# added LUN and its disk goes away.
# timeout: 300
# boot: vcpus=2
# sim: --disk size=128M
size_is() { [ "$(cat /sys/block/$1/size 2>/dev/null)" = "$2" ]; }
# The host may signal a resize only through a unit attention (as Hyper-V does): I/O to the
# LUN makes the driver see it.
poke() { dd if=/dev/$1 of=/dev/null bs=4k count=1 iflag=direct status=none 2>/dev/null || true; }

load pvg_storvsc
wait_until 60 "disk pvda" test -e /sys/block/pvda
note "before: $(lsblk -dn -o NAME,SIZE | grep pvd | tr '\n' ' ')"
[ ! -e /sys/block/pvdb ] || fail "pvdb exists before the hot add"

host sim disk add size=64M,lun=2
wait_until 60 "disk pvdb" test -e /sys/block/pvdb
wait_until 10 "pvdb at 64 MiB" size_is pvdb 131072
expect_klog 'pvg_storvsc: .*: LUN 2 is pvdb: 131072 sectors' "hot-added LUN line"
expect_eq "$(lsblk -dn -b -o SIZE /dev/pvdb)" $((64 * 1024 * 1024)) "lsblk size of the added disk"
dd if=/dev/urandom of=/dev/pvdb bs=1M count=4 oflag=direct status=none

mkfs.ext4 -q -F /dev/pvda
mkdir -p /mnt/pvd
mount /dev/pvda /mnt/pvd
echo before-resize >/mnt/pvd/marker
host sim disk resize 0 192M
for _ in $(seq 100); do size_is pvda 393216 && break; poke pvda; sleep 0.3; done
size_is pvda 393216 || fail "pvda did not grow: $(cat /sys/block/pvda/size) sectors"
expect_klog 'pvg_storvsc: .*: pvda: capacity changed from 262144 to 393216 sectors' "resize line"
expect_eq "$(lsblk -dn -b -o SIZE /dev/pvda)" $((192 * 1024 * 1024)) "lsblk size after the resize"
resize2fs /dev/pvda >/dev/null 2>&1 || fail "resize2fs on the grown disk failed"
expect_eq "$(cat /mnt/pvd/marker)" before-resize "file across the resize"
umount /mnt/pvd

host sim disk remove 2
wait_until 60 "pvdb gone" test ! -e /sys/block/pvdb
expect_klog 'pvg_storvsc: .*: LUN 2 \(pvdb\) removed' "hot-remove line"
note "after: $(lsblk -dn -o NAME,SIZE | grep pvd | tr '\n' ' ')"
[ -e /sys/block/pvda ] || fail "pvda went away with LUN 2"
unload pvg_storvsc
unload pvg_vmbus
