#!/bin/sh
# Runs inside the namespace after the overlay is mounted, before metainit starts (ROOT = $1):
# install the fixture script that asks for a passphrase (test/fixtures/lsb/console/asker).
set -e
root=$1
fixtures=$(cd "$(dirname "$0")/../../../fixtures/lsb/console" && pwd)
install -m 755 "$fixtures/asker" "$root/etc/init.d/asker"
