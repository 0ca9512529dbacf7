# Two LUNs of a synthetic SCSI controller become blk-mq disks: pvda (512-byte sectors, thin)
# and pvdb (4 KiB sectors, thick), with the right capacity, block sizes, write cache and
# FUA, discard and write-zeroes limits, one hardware queue per vCPU (primary + sub-channel),
# a sysfs serial/wwid/wwn that our udev rule turns into /dev/disk/by-id links, partitions
# pvda1/pvda2 (with their own links), per-queue debugfs counters, and a clean unload.
# timeout: 300
# boot: vcpus=2
# sim: --disk size=256M,sector=512,discard=on --disk size=64M,lun=1,sector=4096
q() { cat /sys/block/$1/queue/$2; }

load pvg_storvsc
wait_until 60 "disks pvda and pvdb" test -e /sys/block/pvda -a -e /sys/block/pvdb
expect_klog 'pvg_storvsc: .*: VSTOR WIN[0-9_]+ \([0-9.]+\), 2 queue\(s\)' "controller line (2 queues on 2 vCPUs)"
expect_klog 'pvg_storvsc: .*: LUN 0 is pvda: 524288 sectors, 512/' "LUN 0 line"
expect_klog 'pvg_storvsc: .*: LUN 1 is pvdb: 131072 sectors, 4096/4096' "LUN 1 line"
lsblk -o NAME,SIZE,LOG-SEC,PHY-SEC,ROTA,DISC-MAX,WSAME,SERIAL,WWN /dev/pvda /dev/pvdb || true

expect_eq "$(cat /sys/block/pvda/size)" 524288 "pvda capacity (512-byte sectors)"
expect_eq "$(cat /sys/block/pvdb/size)" 131072 "pvdb capacity (512-byte sectors)"
expect_eq "$(q pvda logical_block_size)" 512 "pvda logical block size"
expect_eq "$(q pvdb logical_block_size)" 4096 "pvdb logical block size"
[ "$(q pvda physical_block_size)" -ge 512 ] || fail "pvda physical block size $(q pvda physical_block_size)"
expect_eq "$(q pvdb physical_block_size)" 4096 "pvdb physical block size"
note "rotational: pvda $(q pvda rotational), pvdb $(q pvdb rotational)"
for d in pvda pvdb; do
	expect_eq "$(q $d write_cache)" "write back" "$d write cache (the simulator's disks cache writes)"
	expect_eq "$(q $d fua)" 1 "$d FUA"
	[ "$(q $d max_hw_sectors_kb)" -le 512 ] || fail "$d max_hw_sectors_kb $(q $d max_hw_sectors_kb) above 512"
	expect_eq "$(ls /sys/block/$d/mq | wc -l)" 2 "$d hardware queues"
done
[ "$(q pvda discard_max_hw_bytes)" -gt 0 ] || fail "pvda (discard=on) has no discard"
[ "$(q pvda discard_granularity)" -ge 512 ] || fail "pvda discard granularity $(q pvda discard_granularity)"
expect_eq "$(q pvdb discard_max_hw_bytes)" 0 "pvdb (thick) discard"
[ "$(q pvda write_zeroes_max_bytes)" -gt 0 ] || fail "pvda has no write zeroes"

# Identity in sysfs.
serial=$(cat /sys/block/pvda/serial)
wwid=$(cat /sys/block/pvda/wwid)
wwn=$(cat /sys/block/pvda/wwn)
note "pvda serial '$serial' wwid '$wwid' wwn '$wwn'"
[ -n "$serial" ] || fail "pvda has no serial"
expect_match "$wwid" '^(naa|eui)\.[0-9a-f]{16,32}$' "pvda wwid"
expect_match "$wwn" '^0x[0-9a-f]{16,32}$' "pvda wwn"
[ "$(cat /sys/block/pvdb/serial)" != "$serial" ] || fail "two LUNs share serial $serial"

# udev with our rule: by-id links, also for partitions.
mkdir -p /run/udev/rules.d
cp disks.rules /run/udev/rules.d/99-pvguest-storage.rules
/usr/lib/systemd/systemd-udevd --daemon --resolve-names=never
trap 'udevadm control --exit 2>/dev/null || true' EXIT
udevadm trigger --subsystem-match=block --action=add
udevadm settle -t 30
expect_eq "$(readlink -f /dev/disk/by-id/pvguest-$serial)" /dev/pvda "by-id serial link"
expect_eq "$(readlink -f /dev/disk/by-id/wwn-$wwn)" /dev/pvda "by-id wwn link"
printf 'label: gpt\nsize=64MiB\nsize=64MiB\n' | sfdisk -q /dev/pvda
udevadm settle -t 30
wait_until 10 "partitions pvda1 and pvda2" test -e /sys/block/pvda/pvda1 -a -e /sys/block/pvda/pvda2
expect_eq "$(cat /sys/block/pvda/pvda1/size)" 131072 "pvda1 size"
expect_eq "$(readlink -f /dev/disk/by-id/pvguest-$serial-part2)" /dev/pvda2 "by-id partition link"

# Data reaches the disk through both queues' channels and reads back.
dd if=/dev/urandom of=/tmp/pattern bs=1M count=8 status=none
dd if=/tmp/pattern of=/dev/pvda2 bs=1M oflag=direct status=none
dd if=/dev/pvda2 bs=1M count=8 iflag=direct status=none | cmp - /tmp/pattern || fail "pvda2 read back differs"
dd if=/tmp/pattern of=/dev/pvdb bs=1M oflag=direct status=none
dd if=/dev/pvdb bs=1M count=8 iflag=direct status=none | cmp - /tmp/pattern || fail "pvdb read back differs"

stats=$(cat /sys/kernel/debug/pvg_storvsc/*/queues)
note "$stats"
expect_eq "$(printf '%s\n' "$stats" | awk 'NR > 1' | wc -l)" 2 "debugfs queue lines"
expect_eq "$(printf '%s\n' "$stats" | awk 'NR > 1 { e += $4 + $5; f += $9 } END { print e + 0, f + 0 }')" "0 0" "errors+timeouts, in flight"
grep -q '^dead 0$' /sys/kernel/debug/pvg_storvsc/*/info || fail "controller reported dead"

udevadm control --exit
trap - EXIT
unload pvg_storvsc
[ ! -e /sys/block/pvda ] || fail "pvda still there after unload"
expect_klog 'pvg_storvsc: .*: removed' "remove line"
unload pvg_vmbus
