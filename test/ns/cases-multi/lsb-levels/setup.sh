#!/bin/sh
# Runs inside the namespace after the overlay is mounted, before metainit starts (ROOT = $1):
# install the parallel-levels fixture scripts (test/fixtures/lsb/levels) as an administrator would.
set -e
root=$1
fixtures=$(cd "$(dirname "$0")/../../../fixtures/lsb/levels" && pwd)
for s in lvl1 lvl2 lvl3 lvl4; do install -m 755 "$fixtures/$s" "$root/etc/init.d/$s"; done
