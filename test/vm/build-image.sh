#!/bin/bash
# build-image.sh — the disk image of the vm tier: the Debian test bed with metainit as its init.
#
# Model: test/testbed/build.sh makes the kernel, the initramfs and the test bed's root (the same
# root the ns tier uses, $METAINIT_TESTBED), and from that root an ext4 image with an overlay on
# top. The root itself is never changed: build.sh lays the overlay on a stage of hard links. The
# overlay is assembled here from the repository's build output (run `npm run build` first):
#
#   /opt/metainit/        bin/ dist/src/ build/Release/metainit.node package.json
#                         oclif.manifest.json, the production node_modules, and `node`: the
#                         host's Node 20 binary (the test bed has no Node of its own)
#   /usr/sbin/metainit    shell wrapper; /sbin is a symlink to usr/sbin in the image, so the
#                         kernel finds it as init=/sbin/metainit (no arguments: `boot`)
#   /etc/metainit/        test/vm/guest-config/
#   /                     test/vm/guest-root/: the test's own services and units (a runit-only
#                         log-probe, systemd units log-probe, memory-capped, vm-ready-marker,
#                         the probes script); nothing that makes systemd or runit cooperate
#
# build.sh's stamps make an unchanged tree a no-op; a change of the overlay's contents makes a
# new image (~5 s), a change of the test bed rebuilds that first.
#
# Usage: test/vm/build-image.sh             prints the image path as its last line
# Environment: METAINIT_VM_WORKDIR (default /var/cache/metainit-vm: overlay/ and rootfs.ext4),
# METAINIT_TESTBED (the test bed's root, default /var/cache/metainit-testbed/rootfs; build.sh's
# WORKDIR is the directory above it).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
VM_DIR=$REPO/test/vm
VM_WORKDIR=${METAINIT_VM_WORKDIR:-/var/cache/metainit-vm}
TESTBED_DIR=$(dirname "${METAINIT_TESTBED:-/var/cache/metainit-testbed/rootfs}")
OVERLAY=$VM_WORKDIR/overlay

say() { printf '[build-image %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { say "build-image: unable to build the vm image: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (test/testbed/build.sh uses chroot and mkfs)"
for f in bin/run.js dist/src/pid1/main.js build/Release/metainit.node oclif.manifest.json package.json; do
    [ -e "$REPO/$f" ] || die "$REPO/$f: not found (fix: npm run build)"
done
NODE=$(readlink -f "$(command -v node)") || die "node: not found on the host"
[ "$("$NODE" -p 'process.versions.node.split(".")[0]')" -ge 20 ] || die "$NODE: Node 20 or newer needed"

mkdir -p "$VM_WORKDIR/logs"     # logs/: vm-boot.ts keeps each boot's console there
exec 9> "$VM_WORKDIR/.build-image.lock"
flock 9 || die "unable to lock $VM_WORKDIR/.build-image.lock"    # one build at a time per work dir

# ------------------------------------------------------------------------------- the overlay
rm -rf "$OVERLAY"
mkdir -p "$OVERLAY/opt/metainit/build/Release" "$OVERLAY/opt/metainit/dist" "$OVERLAY/opt/metainit/node_modules" \
         "$OVERLAY/usr/sbin" "$OVERLAY/etc"
M=$OVERLAY/opt/metainit
cp -a "$REPO/bin" "$REPO/package.json" "$REPO/oclif.manifest.json" "$M/"
cp -a "$REPO/dist/src" "$M/dist/src"
cp -a "$REPO/build/Release/metainit.node" "$M/build/Release/"
cp -a "$NODE" "$M/node"
# production dependencies only (npm lists every package directory, nested ones included)
deps=$(cd "$REPO" && npm ls --omit=dev --all --parseable 2>/dev/null | sed -n "s|^$REPO/node_modules/||p") || true
[ -n "$deps" ] || die "npm ls: no production dependencies listed (fix: npm ci)"
while read -r d; do
    mkdir -p "$M/node_modules/$(dirname "$d")"
    [ -e "$M/node_modules/$d" ] || cp -a "$REPO/node_modules/$d" "$M/node_modules/$d"
done <<< "$deps"
cp -a "$VM_DIR/guest-config" "$OVERLAY/etc/metainit"
cp -a "$VM_DIR/guest-root/." "$OVERLAY/"
printf '#!/bin/sh\nexec /opt/metainit/node /opt/metainit/bin/run.js "$@"\n' > "$OVERLAY/usr/sbin/metainit"
chmod 755 "$OVERLAY/usr/sbin/metainit"
# Directories that exist in the root (/, /etc, /usr …) keep the root's owner and mode (build.sh
# extracts with --no-overwrite-dir); new ones get the usual root:root 755.
chown -R 0:0 "$OVERLAY"
find "$OVERLAY" -type d -exec chmod 755 {} +

say "test/testbed/build.sh all (WORKDIR=$TESTBED_DIR, IMAGE=$VM_WORKDIR/rootfs.ext4, OVERLAY=$OVERLAY)"
WORKDIR=$TESTBED_DIR IMAGE=$VM_WORKDIR/rootfs.ext4 OVERLAY=$OVERLAY "$REPO/test/testbed/build.sh" all >&2 \
    || die "test/testbed/build.sh failed (log above)"
[ -f "$VM_WORKDIR/rootfs.ext4" ] && [ -f "$TESTBED_DIR/kernel/initrd.img" ] || die "test/testbed/build.sh made no image"
echo "$VM_WORKDIR/rootfs.ext4"
