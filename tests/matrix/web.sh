# Web serving: busybox httpd in the guest on the synthetic NIC serves files of 1 KiB to 1 MiB
# (from ext4 on the synthetic disk when the row has one, else from the root file system); a
# load generator in the peer namespace sends 300 GETs from 8 clients and checks every
# response's status and SHA-256 (netpeer http-load).
# timeout: 300
. /payload/tests/lib/matrix.sh
docroot=/tmp/www
if [ "$(mx_row disk)" = 1 ]; then
	mx_disk
	docroot=$MX_MNT/www
fi
mx_nic
mkdir -p $docroot
expect=""
for size in 1 16 256 1024; do
	head -c "${size}K" /dev/urandom >$docroot/f$size
	expect="$expect /f$size=$(sha256sum <$docroot/f$size | cut -d' ' -f1)"
done
busybox httpd -f -p 80 -h $docroot &
httpd=$!
sleep 0.5
out=$(host net run netpeer http-load $MX_GUEST 80 300 8 $expect) || { kill $httpd; fail "web load: $out"; }
kill $httpd
wait $httpd 2>/dev/null || true
note "web load: $out"
expect_match "$out" 'requests=300 ok=300 bad=0' "verified responses"
mx_nic_done
if [ "$(mx_row disk)" = 1 ]; then mx_disk_done; fi
mx_done
figure "$(printf '%s\n' "$out" | sed -n 's/.*req_s=\([0-9.]*\) mbit_s=\([0-9.]*\).*/\1 req\/s \2 Mbit\/s/p'), 300 verified"
