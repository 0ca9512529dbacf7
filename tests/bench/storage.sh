# scripts/bench storage (guest part): the synthetic disk (pvg_storvsc against the simulator's
# StorVSP) against virtio-blk (QEMU) on identical raw images of 1 GiB, in the same guest and
# run: 4 KiB random reads at queue depth 32, 1 MiB sequential reads and writes (queue depth
# 8), fio with O_DIRECT and libaio, 2 x 10 s per disk and job, the disks taking turns.
# scripts/bench makes the images (the same random bytes in two files on the host) and adds the virtio-blk
# device; both images are served from the host's page cache (the StorVSP's buffered
# preadv/pwritev; QEMU's cache=writeback, aio=threads).
# Besides throughput, where the time goes: CPU seconds per I/O of the guest (fio's view of
# its vCPUs), of the simulator's storage threads and of its other threads (SynIC and
# doorbells), of QEMU's vCPU threads (TCG) and of its other threads (virtio-blk's I/O),
# measured by the host around each run ('host cputimes'), guest interrupts per I/O, for the
# synthetic disk the simulator's hypercalls (guest signals) and interrupts per I/O, and the
# simulator's hypercall round trip (pvg_hcall's bench) before the jobs.
# timeout: 900
# boot: vcpus=2
# sim: --disk path={workdir}/pvd.img,create=no,remove=on
RUNTIME=10

load pvg_storvsc
load virtio_blk
wait_until 60 "disk pvda" test -e /sys/block/pvda
wait_until 60 "disk vda" test -e /sys/block/vda
expect_eq "$(cat /sys/block/pvda/size)" "$(cat /sys/block/vda/size)" "the two disks' sizes"
note "pvda: $(lsblk -dn -o NAME,SIZE,LOG-SEC,MIN-IO /dev/pvda), $(ls /sys/block/pvda/mq | wc -l) queues; vda: $(lsblk -dn -o NAME,SIZE,LOG-SEC,MIN-IO /dev/vda), $(ls /sys/block/vda/mq | wc -l) queues"
cmp -n $((64 * 1024 * 1024)) /dev/pvda /dev/vda || fail "the two disks do not hold the same data"

# Interrupts of a disk's device in /proc/interrupts: pvg_hcall's vectors carry VMBus (the
# synthetic disk is the only VMBus device here), virtio-blk has its own.
irqs() { awk -v pat="$1" '$0 ~ pat { for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i } END { print s + 0 }' /proc/interrupts; }

# run NAME DEV FIO-ARGS...: one fio run; appends a JSON line with fio's numbers and what
# the host and the guest counted around it to /tmp/runs.jsonl.
run() {
	local name=$1 dev=$2 pat c0 c1 i0 i1 s0="" s1=""
	shift 2
	case $dev in pvda) pat=pvg_hcall ;; vda) pat=virtio ;; esac
	[ $dev = vda ] || s0=$(host sim stats) || fail "host sim stats: $s0"
	c0=$(host cputimes) || fail "host cputimes: $c0"
	i0=$(irqs "$pat")
	fio --name="$name" --filename=/dev/$dev --direct=1 --ioengine=libaio --numjobs=1 \
		--time_based --runtime="$RUNTIME" --size=1G "$@" \
		--output-format=json --output=/tmp/fio.json >/dev/null || fail "fio $name on $dev failed"
	i1=$(irqs "$pat")
	c1=$(host cputimes) || fail "host cputimes: $c1"
	[ $dev = vda ] || s1=$(host sim stats) || fail "host sim stats: $s1"
	python3 - "$dev" "$name" "$c0" "$c1" "$((i1 - i0))" "$s0" "$s1" /tmp/fio.json >>/tmp/runs.jsonl <<'PY'
import json, sys
dev, name, c0, c1, irqs, s0, s1, out = sys.argv[1:9]
job = json.load(open(out))["jobs"][0]
if job["error"]:
    sys.exit(f"FAIL: fio {name} on {dev}: error {job['error']}")
r = max((job["read"], job["write"]), key=lambda x: x["io_bytes"])
kv = lambda s: {k: float(v) for k, v in (x.split("=") for x in s.split() if "=" in x)}
t0, t1, h0, h1 = kv(c0), kv(c1), kv(s0), kv(s1)
print(json.dumps({
    "key": ("pvd" if dev == "pvda" else "vblk") + "_" + name,
    "ios": r["total_ios"], "bytes": r["io_bytes"], "secs": job["job_runtime"] / 1000,
    "lat_ns_sum": r["lat_ns"]["mean"] * r["total_ios"],
    "guest_cpu": (job["usr_cpu"] + job["sys_cpu"]) / 100 * job["job_runtime"] / 1000,
    "host": {k: t1[k] - t0.get(k, 0) for k in t1},
    "irqs": int(irqs),
    "sim": {k: h1[k] - h0.get(k, 0) for k in ("calls", "interrupts") if k in h1},
}))
PY
}

# job NAME FIO-ARGS...: the two disks in the order A B B A (half the time each), so a change
# in the machine's load during the job weighs on both alike.
job() {
	local name=$1
	shift
	for dev in pvda vda vda pvda; do
		run "$name" $dev "$@"
	done
}

# The RESULT lines: per disk and job, the runs summed. CPU per I/O: the guest's is fio's
# (its process's user + system time); the host's groups are what 'host cputimes' counted
# around each run (the window also holds fio's start and exit).
results() {
	python3 - /tmp/runs.jsonl <<'PY'
import json, sys
agg = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    a = agg.setdefault(r["key"], {"ios": 0, "bytes": 0, "secs": 0.0, "lat_ns_sum": 0.0, "guest_cpu": 0.0, "irqs": 0, "host": {}, "sim": {}})
    for k in ("ios", "bytes", "secs", "lat_ns_sum", "guest_cpu", "irqs"):
        a[k] += r[k]
    for g in ("host", "sim"):
        for k, v in r[g].items():
            a[g][k] = a[g].get(k, 0) + v
for key, a in agg.items():
    ios = a["ios"] or 1
    print(f"RESULT {key}_iops {a['ios'] / a['secs']:.0f} IO/s")
    print(f"RESULT {key}_MBps {a['bytes'] / a['secs'] / 1e6:.1f} MB/s")
    print(f"RESULT {key}_lat_us {a['lat_ns_sum'] / ios / 1000:.1f} us")
    print(f"RESULT {key}_guest_cpu_us_per_io {a['guest_cpu'] * 1e6 / ios:.1f} us")
    for k in sorted(a["host"]):
        print(f"RESULT {key}_{k}_us_per_io {a['host'][k] * 1e6 / ios:.1f} us")
    print(f"RESULT {key}_irqs_per_io {a['irqs'] / ios:.2f} irq")
    for k, label in (("calls", "hypercalls"), ("interrupts", "sim_interrupts")):
        if k in a["sim"]:
            print(f"RESULT {key}_{label}_per_io {a['sim'][k] / ios:.2f} {label.split('_')[-1]}")
PY
}

d=/sys/kernel/debug/pvg_hcall
echo 2000 >$d/bench
echo "RESULT sim_hypercall_round_trip $(cat $d/bench | tr ' ' '\n' | sed -n 's/^ping_ns=//p') ns"
rm -f /tmp/runs.jsonl
job randread_4k --rw=randread --bs=4k --iodepth=32
job seqread_1m --rw=read --bs=1M --iodepth=8
job seqwrite_1m --rw=write --bs=1M --iodepth=8
results
stats=$(cat /sys/kernel/debug/pvg_storvsc/*/queues)
note "$stats"
expect_eq "$(printf '%s\n' "$stats" | awk 'NR > 1 { e += $4 + $5 } END { print e + 0 }')" 0 "errors+timeouts on pvda"
note "host: $(host sim storage0 stats)"
unload pvg_storvsc
