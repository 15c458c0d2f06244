#!/bin/bash
# test/testbed/build.sh — builds the Debian test bed that the ns and vm tiers run on.
#
#   build.sh rootfs   $WORKDIR/rootfs/     Debian $SUITE (mmdebstrap, minbase) with systemd,
#                                          sysvinit, OpenRC, runit, s6, a few
#                                          real daemons, tang and accountsservice (packages that
#                                          exist only as systemd units), and
#                                          the test services of test/testbed/root/ enabled.
#   build.sh kernel   $WORKDIR/kernel/     vmlinuz of Debian's linux-image-amd64 (taken out of
#                                          its .deb, never installed on the host) and initrd.img:
#                                          a static busybox, the virtio and ext4 modules and
#                                          test/testbed/initramfs-init as /init.
#   build.sh image    $IMAGE               an ext4 image of the rootfs, with $OVERLAY on top.
#   build.sh all      all of it (the default). Each stage builds the ones it needs first.
#
# Everything is cached outside the repository, in $WORKDIR (default /var/cache/metainit-testbed;
# .deb files in $WORKDIR/cache/debs). Every output has a stamp: a hash of what it is made from
# (this script, the package list, the mirror, the files copied in). A stage whose stamp still
# matches is skipped, so an unchanged build does nothing; FORCE=1 rebuilds all the same.
#
# Environment:
#   WORKDIR          where the outputs go (default /var/cache/metainit-testbed)
#   IMAGE            the image file (default $WORKDIR/rootfs.ext4; its stamp is $IMAGE.stamp)
#   OVERLAY          a directory copied over the root in the image only ($WORKDIR/rootfs stays
#                    as it is); the vm tier puts metainit there (test/vm/build-image.sh)
#   IMAGE_FREE_MB    free space in the image (default 512)
#   SUITE            Debian suite (default bookworm)
#   MIRROR           Debian mirror (default: the host's apt sources' .../debian URI)
#   SECURITY_MIRROR  security mirror (default: the host's .../debian-security URI; none: skip)
#   EXTRA_PACKAGES   more packages for the root
#   FORCE=1          rebuild every stage asked for
#
# Needs root and these host tools (Debian packages): mmdebstrap, dpkg-deb (dpkg), depmod and
# modprobe (kmod), cpio, gzip, mkfs.ext4 (e2fsprogs). .ci/run installs them.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
WORKDIR=${WORKDIR:-/var/cache/metainit-testbed}
ROOTFS=$WORKDIR/rootfs
KERNEL=$WORKDIR/kernel
DEBS=$WORKDIR/cache/debs
IMAGE=${IMAGE:-$WORKDIR/rootfs.ext4}
OVERLAY=${OVERLAY:-}
IMAGE_FREE_MB=${IMAGE_FREE_MB:-512}
SUITE=${SUITE:-bookworm}
FORCE=${FORCE:-0}
PACKAGES="systemd udev dbus sysvinit-core initscripts openrc runit s6 execline busybox-static
          cron rsyslog openssh-server procps psmisc iproute2 kmod less tang accountsservice runit-services
          ${EXTRA_PACKAGES:-}"

say() { printf '[testbed %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { say "build.sh: unable to build the test bed: $*"; exit 1; }
digest() { sha256sum | cut -c1-16; }
need() { command -v "$1" >/dev/null || die "$1 not found (fix: apt-get install $2)"; }
current() { [ "$FORCE" != 1 ] && [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }  # STAMPFILE KEY
# rm -rf, but never of a tree with something mounted in it (a bind mount of the host's /dev…)
remove() { ! findmnt -rn -o TARGET | grep -qF "$1" || die "$1: something is mounted in it"; rm -rf "$1"; }

# ------------------------------------------------------------------------------ the mirror
# The URIs of the host's apt sources, one-line (.list) and deb822 (.sources) style, so that a
# machine behind a local mirror builds from that mirror.
apt_uris() {
    {
        cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
            | awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^(https?|file):/) { print $i; break } }'
        cat /etc/apt/sources.list.d/*.sources 2>/dev/null \
            | awk 'tolower($1) == "uris:" { for (i = 2; i <= NF; i++) print $i }'
    } | sed 's|/*$||'
}
MIRROR=${MIRROR:-$(apt_uris | grep -E '/debian$' | head -n1 || true)}
SECURITY_MIRROR=${SECURITY_MIRROR:-$(apt_uris | grep -E '/debian-security$' | head -n1 || true)}
SOURCES=("deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main")
[ -z "$SECURITY_MIRROR" ] || [ "$SECURITY_MIRROR" = none ] || SOURCES+=("deb $SECURITY_MIRROR $SUITE-security main")

# What the root is made from: this script, the files of root/ (with their modes), the sources
# and the packages.
ROOTFS_KEY=$({
    cat "$HERE/build.sh"
    (cd "$HERE/root" && find . -printf '%y %m %p %l\n' | LC_ALL=C sort && find . -type f -exec sha256sum {} + | LC_ALL=C sort)
    printf '%s\n' "${SOURCES[@]}" $PACKAGES
} | digest)

# ------------------------------------------------------------------------------- the root
build_rootfs() {
    [ -z "${ROOTFS_DONE:-}" ] || return 0
    ROOTFS_DONE=1
    if current "$ROOTFS/.testbed-stamp" "$ROOTFS_KEY"; then say "rootfs up to date ($ROOTFS)"; return; fi
    [ ! -e "$ROOTFS" ] || [ -e "$ROOTFS/.testbed-stamp" ] || die "$ROOTFS was not made by build.sh (no .testbed-stamp): remove it or choose another WORKDIR"
    [ -n "$MIRROR" ] || die "no .../debian mirror in the host's apt sources (fix: set MIRROR=)"
    need mmdebstrap mmdebstrap
    local new=$WORKDIR/rootfs.new log=$WORKDIR/logs/mmdebstrap.log start=$SECONDS
    remove "$new"
    mkdir -p "$DEBS" "$WORKDIR/logs"
    say "mmdebstrap $SUITE from $MIRROR into $new (log: $log)"
    # sync-in / sync-out keep every downloaded .deb in $DEBS for the next build; essential/unlink
    # is skipped so that the essential packages' .debs stay there too. The package lists are
    # kept until the kernel's .deb is fetched (below), then removed.
    # shellcheck disable=SC2016  # $1 is for mmdebstrap's hook shell
    mmdebstrap --variant=minbase --mode=root --arch=amd64 \
        --include="$(echo $PACKAGES | tr ' ' ,)" \
        --aptopt='Acquire::Retries "3"' \
        --setup-hook='mkdir -p "$1/var/cache/apt/archives"' \
        --setup-hook="sync-in $DEBS /var/cache/apt/archives" \
        --customize-hook="sync-out /var/cache/apt/archives $DEBS" \
        --skip=essential/unlink --skip=cleanup/apt/lists \
        "$SUITE" "$new" "${SOURCES[@]}" > "$log" 2>&1 \
        || { tail -n 20 "$log" >&2; die "mmdebstrap failed (log: $log)"; }
    fetch_kernel_deb "$new"
    customize "$new"
    rm -rf "$new"/var/lib/apt/lists/* "$new"/var/cache/apt/archives/*.deb
    echo "$ROOTFS_KEY" > "$new/.testbed-stamp"
    remove "$ROOTFS"
    mv "$new" "$ROOTFS"
    say "rootfs built in $((SECONDS - start)) s: $(du -sh "$ROOTFS" | cut -f1) ($ROOTFS)"
}

# The kernel package linux-image-amd64 depends on, downloaded by the root's own apt (same
# mirror and suite) into $DEBS; its file name is kept in the root as /.testbed-kernel.
fetch_kernel_deb() {
    local r=$1 pkg file
    pkg=$(chroot "$r" apt-cache depends linux-image-amd64 | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n1)
    [ -n "$pkg" ] || die "apt-cache depends linux-image-amd64: no kernel package found"
    file=$(chroot "$r" apt-cache show --no-all-versions "$pkg" | sed -n 's|^Filename: .*/||p')
    if [ ! -f "$DEBS/$file" ]; then
        say "downloading $pkg"
        chroot "$r" sh -c 'cd /tmp && apt-get download -q "$1"' sh "$pkg" > /dev/null
        mv "$r/tmp/$file" "$DEBS/$file"
    fi
    echo "$file" > "$r/.testbed-kernel"
}

# The test bed's own files and settings. Files go in through tar and commands run chrooted, so
# that absolute symlinks of the root (e.g. /etc/service) resolve inside it, never on the host.
customize() {
    local r=$1
    tar -C "$HERE/root" --owner=0 --group=0 --mode=go-w -cf - . | chroot "$r" tar -xpf - --no-overwrite-dir -C /
    chroot "$r" /bin/sh -ec '
        ln -sfn /etc/sv/hello-runit /etc/service/hello-runit
        mkdir -p /etc/s6/scan
        ln -sfn /etc/s6/sv/hello-s6 /etc/s6/scan/hello-s6
        update-rc.d hello-sysv defaults >/dev/null 2>&1
        systemctl enable hello-systemd.service ready-late.service >/dev/null 2>&1
        passwd -qd root'
}

# ------------------------------------------------------------------------- kernel and initrd
build_kernel() {
    build_rootfs
    local deb key x ir kver m n
    deb=$DEBS/$(cat "$ROOTFS/.testbed-kernel")
    key=$({ cat "$ROOTFS/.testbed-stamp"; cat "$HERE/initramfs-init"; } | digest)
    if current "$KERNEL/stamp" "$key"; then say "kernel and initrd up to date ($KERNEL)"; return; fi
    [ -f "$deb" ] || die "$deb: not found (fix: FORCE=1 $0 rootfs)"
    need dpkg-deb dpkg; need depmod kmod; need modprobe kmod; need cpio cpio; need gzip gzip
    x=$(mktemp -d "$WORKDIR/.kernel.XXXXXX")
    dpkg-deb -x "$deb" "$x/deb"
    kver=$(ls "$x/deb/lib/modules")
    depmod -b "$x/deb" "$kver"      # modules.dep of the extracted tree only (-b), not the host's
    ir=$x/initrd
    mkdir -p "$ir"/{bin,dev,proc,sys,root}
    cp "$ROOTFS/bin/busybox" "$ir/bin/busybox"
    cp "$HERE/initramfs-init" "$ir/init"
    chmod 755 "$ir/init"
    # the modules to mount root=/dev/vda, each after the ones it needs
    for m in virtio_pci virtio_blk ext4; do
        modprobe -d "$x/deb" -S "$kver" --show-depends "$m" | awk '$1 == "insmod" { print $2 }'
    done | awk '!seen[$0]++' | sed "s|^$x/deb||" | while read -r m; do
        mkdir -p "$ir$(dirname "$m")"
        cp "$x/deb$m" "$ir$m"
        echo "$m" >> "$ir/modules"
    done
    mkdir -p "$x/out"
    cp "$x/deb/boot/vmlinuz-$kver" "$x/out/vmlinuz"
    (cd "$ir" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -9) > "$x/out/initrd.img"
    echo "$kver" > "$x/out/version"
    echo "$key" > "$x/out/stamp"
    n=$(wc -l < "$ir/modules")
    rm -rf "$KERNEL"
    mv "$x/out" "$KERNEL"
    rm -rf "$x"
    say "kernel $kver and initrd ($(du -h "$KERNEL/initrd.img" | cut -f1), $n modules) in $KERNEL"
}

# ------------------------------------------------------------------------------ the image
build_image() {
    build_rootfs
    local key stage size start=$SECONDS
    [ -z "$OVERLAY" ] || [ -d "$OVERLAY" ] || die "OVERLAY=$OVERLAY is not a directory"
    key=$({
        cat "$ROOTFS/.testbed-stamp"; echo "$IMAGE_FREE_MB"
        [ -z "$OVERLAY" ] || (cd "$OVERLAY" && find . -printf '%y %m %U:%G %p %l\n' | LC_ALL=C sort && find . -type f -exec sha256sum {} + | LC_ALL=C sort)
    } | digest)
    if current "$IMAGE.stamp" "$key"; then say "image up to date ($IMAGE)"; return; fi
    need mkfs.ext4 e2fsprogs
    # A stage of hard links to the root; tar replaces (unlinks) a file before writing it, so the
    # overlay never writes through a link into $ROOTFS. Its directories are created, not linked.
    stage=$(mktemp -d "$WORKDIR/.stage.XXXXXX")
    cp -al "$ROOTFS/." "$stage/"
    if [ -n "$OVERLAY" ]; then
        tar -C "$OVERLAY" -cf - . | chroot "$stage" tar -xpf - --no-overwrite-dir -C /
    fi
    size=$(($(du -sm "$stage" | cut -f1) * 5 / 4 + IMAGE_FREE_MB))
    mkdir -p "$(dirname "$IMAGE")"
    rm -f "$IMAGE.new"
    mkfs.ext4 -q -F -L testbed -m 0 -E root_owner=0:0 -d "$stage" "$IMAGE.new" "${size}M" > /dev/null
    remove "$stage"
    mv "$IMAGE.new" "$IMAGE"
    echo "$key" > "$IMAGE.stamp"
    say "image built in $((SECONDS - start)) s: $size MiB ($IMAGE)"
}

# ------------------------------------------------------------------------------------ main
[ "$(id -u)" = 0 ] || die "must run as root (mmdebstrap --mode=root, chroot, mkfs.ext4 -d)"
mkdir -p "$WORKDIR"
exec 9> "$WORKDIR/.lock"
flock 9      # one build at a time per work directory
trap 'rm -rf "$WORKDIR"/.kernel.?????? "$WORKDIR"/.stage.??????' EXIT
case ${1:-all} in
    rootfs) build_rootfs ;;
    kernel) build_kernel ;;
    image) build_image ;;
    all) build_kernel; build_image ;;
    *) echo "usage: $0 [rootfs|kernel|image|all]" >&2; exit 2 ;;
esac
