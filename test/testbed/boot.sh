#!/bin/bash
# test/testbed/boot.sh — boots the test bed's kernel and an image in qemu (what build.sh made),
# the serial console going to a file, until the guest stops or a timeout ends it.
#
# Usage: boot.sh [options] [-- more kernel command line words]
#   -I IMAGE     disk image, root=/dev/vda (default $WORKDIR/rootfs.ext4)
#   -w           let the guest write to the image (default: qemu -snapshot, image unchanged)
#   -i INIT      init= (default /sbin/init)
#   -m MARKER    a fixed string to watch for on the console
#   -t SECONDS   timeout (default 120): then qemu is killed
#   -l FILE      the serial console (default $WORKDIR/logs/boot-<date>.log)
#   -c CPUS      vCPUs (default 2)        -M MiB   memory (default 1024)
#   -q ARGS      more qemu arguments (split on blanks)
# Environment: WORKDIR (default /var/cache/metainit-testbed; kernel/ comes from there),
# ACCEL=auto|kvm|tcg (auto: kvm only with a usable /dev/kvm AND vmx/svm in /proc/cpuinfo; a
# /dev/kvm without them, such as the kvm_pvm software module, cannot run Debian's kernel).
#
# Exit status: 0 the guest stopped by itself and the marker (if any) was seen; 1 it stopped
# without the marker; 2 timeout; 3 usage error or qemu did not start. The last line of stdout
# sums up: "boot.sh: rc=… accel=… marker_at=…s elapsed=…s log=…".
set -uo pipefail

WORKDIR=${WORKDIR:-/var/cache/metainit-testbed}
IMAGE=$WORKDIR/rootfs.ext4 INIT=/sbin/init MARKER= TIMEOUT=120 LOG= CPUS=2 MEM=1024 EXTRA=
SNAPSHOT=(-snapshot)
usage() { sed -n '5,13s/^# \{0,1\}//p' "$0" >&2; exit 3; }
while getopts 'I:wi:m:t:l:c:M:q:h' o; do
    case $o in
        I) IMAGE=$OPTARG ;; w) SNAPSHOT=() ;; i) INIT=$OPTARG ;; m) MARKER=$OPTARG ;;
        t) TIMEOUT=$OPTARG ;; l) LOG=$OPTARG ;; c) CPUS=$OPTARG ;; M) MEM=$OPTARG ;;
        q) EXTRA=$OPTARG ;; *) usage ;;
    esac
done
shift $((OPTIND - 1))

for f in "$WORKDIR/kernel/vmlinuz" "$WORKDIR/kernel/initrd.img" "$IMAGE"; do
    [ -r "$f" ] || { echo "boot.sh: $f: not found (fix: test/testbed/build.sh all)" >&2; exit 3; }
done
command -v qemu-system-x86_64 >/dev/null || { echo "boot.sh: qemu-system-x86_64 not found (fix: apt-get install qemu-system-x86)" >&2; exit 3; }

accel=${ACCEL:-auto}
if [ "$accel" = auto ]; then
    accel=tcg
    if [ -r /dev/kvm ] && [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then accel=kvm; fi
fi
case $accel in
    kvm) cpu=(-accel kvm -cpu host) ;;
    tcg) cpu=(-accel tcg,thread=multi -cpu max) ;;
    *) usage ;;
esac

if [ -z "$LOG" ]; then mkdir -p "$WORKDIR/logs"; LOG=$WORKDIR/logs/boot-$(date +%Y%m%d-%H%M%S)-$$.log; fi
: > "$LOG"
# panic=-1 with -no-reboot: a kernel panic (init died) ends qemu at once instead of hanging.
# shellcheck disable=SC2206  # -q ARGS is split on purpose
qemu=(qemu-system-x86_64 "${cpu[@]}" -M q35 -smp "$CPUS" -m "$MEM" -nodefaults -no-reboot
      -display none -monitor none -serial "file:$LOG" -nic none
      -kernel "$WORKDIR/kernel/vmlinuz" -initrd "$WORKDIR/kernel/initrd.img"
      -append "console=ttyS0,115200 root=/dev/vda rw panic=-1 init=$INIT $*"
      -drive "file=$IMAGE,format=raw,if=virtio,cache=unsafe" "${SNAPSHOT[@]}" $EXTRA)

start=$(date +%s%N)
secs() { awk -v ns=$(($(date +%s%N) - start)) 'BEGIN { printf "%.2f", ns / 1e9 }'; }
"${qemu[@]}" 2> "$LOG.qemu" &
pid=$!
marker_at=- stopped=no
while :; do
    if [ -n "$MARKER" ] && [ "$marker_at" = - ] && grep -qaF -- "$MARKER" "$LOG"; then marker_at=$(secs); fi
    if ! kill -0 "$pid" 2>/dev/null; then stopped=yes; break; fi
    [ $(($(date +%s%N) - start)) -lt $((TIMEOUT * 1000000000)) ] || break
    sleep 0.1
done
if [ $stopped = no ]; then kill "$pid"; sleep 1; kill -9 "$pid" 2>/dev/null; fi
wait "$pid"
qrc=$?
# the marker may come with the last output before qemu exits
if [ -n "$MARKER" ] && [ "$marker_at" = - ] && grep -qaF -- "$MARKER" "$LOG"; then marker_at=end; fi

if [ $stopped = yes ] && [ $qrc != 0 ] && [ ! -s "$LOG" ]; then
    echo "boot.sh: qemu exited with status $qrc:" >&2; cat "$LOG.qemu" >&2; rc=3
elif [ $stopped = no ]; then rc=2
elif [ -n "$MARKER" ] && [ "$marker_at" = - ]; then rc=1
else rc=0
fi
[ -s "$LOG.qemu" ] || rm -f "$LOG.qemu"
echo "boot.sh: rc=$rc accel=$accel marker_at=${marker_at}s elapsed=$(secs)s log=$LOG"
exit $rc
