#!/bin/bash
# build-image.sh — the disk image of the vm tier: the Debian test bed with metainit as its init.
#
# Model: the test bed's mkrootfs.sh builds kernel, initramfs and an ext4 image of a Debian rootfs
# in a work directory of our own (never the ns tier's rootfs), with an overlay copied over the
# rootfs just before the image is made. The overlay is assembled here from the repository's build
# output (run `npm run build` first):
#
#   /opt/metainit/        bin/ dist/src/ build/Release/metainit.node package.json
#                         oclif.manifest.json, the production node_modules, and `node`: the
#                         host's Node 20 binary (the image's own nodejs is Debian's 18)
#   /usr/sbin/metainit    shell wrapper; /sbin is a symlink to usr/sbin in the image, so the
#                         kernel finds it as init=/sbin/metainit (no arguments: `boot`)
#   /etc/metainit/        test/vm/guest-config/
#
# Every stage is cached by mkrootfs.sh's stamps: a rebuild of the repo makes a new image (~15 s),
# an unchanged tree makes nothing. A fresh work directory is seeded from the ns tier's cache
# (rootfs, kernel, .deb files) when that exists, so no download is needed.
#
# Usage: test/vm/build-image.sh             prints the image path as its last line
# Environment: METAINIT_VM_WORKDIR (default /var/cache/metainit-vm), METAINIT_TESTBED (the ns
# tier's rootfs, default /var/cache/metainit-testbed/rootfs), METAINIT_TESTBED_SCRIPTS (default
# ../shared/testbed next to the repository).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
VM_DIR=$REPO/test/vm
WORKDIR=${METAINIT_VM_WORKDIR:-/var/cache/metainit-vm}
SEED=$(dirname "${METAINIT_TESTBED:-/var/cache/metainit-testbed/rootfs}")
TESTBED=${METAINIT_TESTBED_SCRIPTS:-$(cd "$REPO/.." && pwd)/shared/testbed}
OVERLAY=$WORKDIR/overlay

say() { printf '[build-image %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { say "build-image: unable to build the vm image: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (mkrootfs.sh uses chroot and mkfs)"
[ -x "$TESTBED/mkrootfs.sh" ] || die "$TESTBED/mkrootfs.sh: not found (set METAINIT_TESTBED_SCRIPTS)"
for f in bin/run.js dist/src/pid1/main.js build/Release/metainit.node oclif.manifest.json package.json; do
    [ -e "$REPO/$f" ] || die "$REPO/$f: not found (fix: npm run build)"
done
NODE=$(readlink -f "$(command -v node)") || die "node: not found on the host"
[ "$("$NODE" -p 'process.versions.node.split(".")[0]')" -ge 20 ] || die "$NODE: Node 20 or newer needed"

mkdir -p "$WORKDIR/cache"
exec 9> "$WORKDIR/.build-image.lock"
flock 9 || die "unable to lock $WORKDIR/.build-image.lock"    # one build at a time per work dir

# ------------------------------------------------------------------ seed from the ns tier's cache
if [ ! -d "$WORKDIR/cache/debs" ] && [ -d "$SEED/cache/debs" ]; then
    say "seeding the .deb cache from $SEED/cache/debs (hard links)"
    cp -al "$SEED/cache/debs" "$WORKDIR/cache/debs"
fi
if [ ! -e "$WORKDIR/rootfs/.testbed-stamp" ] && [ -e "$SEED/rootfs/.testbed-stamp" ] && [ -f "$SEED/kernel/vmlinuz" ]; then
    say "seeding rootfs and kernel from $SEED (mkrootfs.sh rebuilds them if they are stale)"
    rm -rf "$WORKDIR/rootfs" "$WORKDIR/kernel"
    cp -a "$SEED/rootfs" "$WORKDIR/rootfs.seed" && mv "$WORKDIR/rootfs.seed" "$WORKDIR/rootfs"
    cp -a "$SEED/kernel" "$WORKDIR/kernel"
    rm -f "$WORKDIR/kernel/initrd.img" "$WORKDIR/kernel/initrd.stamp"
    cp "$SEED/cache/kernel-version" "$WORKDIR/cache/kernel-version"
    echo "$WORKDIR/cache/debs/$(basename "$(cat "$SEED/cache/kernel-deb")")" > "$WORKDIR/cache/kernel-deb"
fi

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
printf '#!/bin/sh\nexec /opt/metainit/node /opt/metainit/bin/run.js "$@"\n' > "$OVERLAY/usr/sbin/metainit"
chmod 755 "$OVERLAY/usr/sbin/metainit"
# The overlay's directories are extracted over the rootfs's own (/, /etc, /usr …): give them the
# usual owner and mode, and a fixed mtime so that mkrootfs.sh's image stamp (names, sizes,
# mtimes) only changes when a file does.
chown -R 0:0 "$OVERLAY"
find "$OVERLAY" -type d -exec chmod 755 {} + -exec touch -h -d 2024-01-01T00:00:00Z {} +
touch -h -d 2024-01-01T00:00:00Z "$OVERLAY/usr/sbin/metainit"

# Files of an earlier overlay that are gone from this one must not linger in the rootfs.
rm -rf "$WORKDIR/rootfs/opt/metainit" "$WORKDIR/rootfs/etc/metainit"

say "mkrootfs.sh all (WORKDIR=$WORKDIR, OVERLAY=$OVERLAY)"
WORKDIR=$WORKDIR OVERLAY=$OVERLAY "$TESTBED/mkrootfs.sh" all >&2 || die "mkrootfs.sh failed (log above)"
[ -f "$WORKDIR/rootfs.ext4" ] && [ -f "$WORKDIR/kernel/initrd.img" ] || die "mkrootfs.sh made no image"
echo "$WORKDIR/rootfs.ext4"
