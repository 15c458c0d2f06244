#!/bin/bash
# The test command (npm test): build, make sure the Debian test bed exists, run every tier.
#   unit  test/unit  pure logic with a strict fake sys, plus the addon and reaper as a subreaper
#   ns    test/ns    the built CLI as PID 1 inside unshare --pid --fork --mount (needs root)
#   vm    test/vm    a real kernel in qemu boots init=/sbin/metainit on the test-bed image
#                    (machine mode: stage 1, stage 4 unmount / remount-ro / reboot(2), clean disk)
# METAINIT_TESTBED overrides the root filesystem used by the ns tier (default: built by
# test/testbed/build.sh into /var/cache/metainit-testbed, ~40 s cold, a no-op when up to date).
set -euo pipefail
cd "$(dirname "$0")/.."
unset NODE_EXTRA_CA_CERTS
npm run build --silent
export METAINIT_TESTBED=${METAINIT_TESTBED:-/var/cache/metainit-testbed/rootfs}
# build.sh only ever replaces a root it made (one with its stamp): a root of your own is used as is.
if [ "$(id -u)" != 0 ]; then
  echo "test: not root: the ns and vm tiers will skip (no test bed is built)" >&2
elif [ ! -e "$METAINIT_TESTBED" ] || [ -e "$METAINIT_TESTBED/.testbed-stamp" ]; then
  WORKDIR=$(dirname "$METAINIT_TESTBED") test/testbed/build.sh rootfs
fi
npx mocha --timeout 120000 'dist/test/unit/**/*.test.js' 'dist/test/ns/**/*.test.js' 'dist/test/vm/**/*.test.js' "$@"
