#!/bin/sh
# Runs inside the namespace after the overlay is mounted, before metainit starts (ROOT = $1):
# the OpenRC default runlevel of the overlay holds only hello-openrc, set with rc-update as an
# administrator would (the test bed's default runlevel also lists cron, ssh, dbus …).
set -e
root=$1
for link in "$root"/etc/runlevels/default/*; do
  chroot "$root" rc-update -q del "${link##*/}" default
done
chroot "$root" rc-update -q add hello-openrc default
