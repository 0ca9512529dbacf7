# Data survives a power cut, part 2 of 2: a new guest boot with its own simulator on the image
# persist-1.sh left (create=no: it must exist, so run both: `scripts/test storage/persist`;
# remove=on: it is deleted when this guest ends). Mounting replays the journal; every fsync'd
# file has the checksum it had when it was fsync'd (f01 too: its unsynced overwrite was rolled
# back with the cut), the checksum list is complete, and e2fsck finds the file system clean.
# timeout: 600
# boot: vcpus=2
# also: hostile
# sim: --disk path={workdir}/../persist.img,create=no,remove=on

load pvg_storvsc
wait_until 60 "disk pvda" test -e /sys/block/pvda
note "after the cut: $(dumpe2fs -h /dev/pvda 2>/dev/null | grep -E '^Filesystem (features|state)' | tr -s ' ' | tr '\n' ';')"
mkdir -p /mnt/pvd
mount /dev/pvda /mnt/pvd
expect_eq "$(wc -l </mnt/pvd/synced.sums)" 32 "checksum lines"
(cd /mnt/pvd/synced && sha256sum -c --quiet ../synced.sums) || fail "fsync'd files differ after the power cut"
note "32 fsync'd files intact; the unsynced file: $(stat -c '%s bytes' /mnt/pvd/unsynced 2>/dev/null || echo 'not there')"
umount /mnt/pvd
e2fsck -fn /dev/pvda >/tmp/fsck.out 2>&1 || { tail -n 20 /tmp/fsck.out; fail "e2fsck found problems (exit $?)"; }
note "$(tail -n 1 /tmp/fsck.out)"
unload pvg_storvsc
unload pvg_vmbus
