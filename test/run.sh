#!/bin/bash
# The test command (npm test): build, make sure the Debian test bed exists, run every tier.
#   unit  test/unit  pure logic with a strict fake sys, plus the addon and reaper as a subreaper
#   ns    test/ns    the built CLI as PID 1 inside unshare --pid --fork --mount (needs root)
#   vm    test/vm    a real kernel in qemu boots init=/sbin/metainit on the test-bed image
#                    (machine mode: stage 1, stage 4 unmount / remount-ro / reboot(2), clean disk)
# METAINIT_TESTBED overrides the root filesystem used by the ns tier (default: built by
# ../shared/testbed/mkrootfs.sh into /var/cache/metainit-testbed, ~1 min cold, cached).
set -euo pipefail
cd "$(dirname "$0")/.."
unset NODE_EXTRA_CA_CERTS
npm run build --silent
export METAINIT_TESTBED=${METAINIT_TESTBED:-/var/cache/metainit-testbed/rootfs}
if [ ! -x "$METAINIT_TESTBED/bin/sh" ]; then
  testbed=${METAINIT_TESTBED_SCRIPTS:-$(cd .. && pwd)/shared/testbed}
  if [ -x "$testbed/mkrootfs.sh" ]; then
    echo "test: building the Debian test bed into $(dirname "$METAINIT_TESTBED") (cached)"
    WORKDIR=$(dirname "$METAINIT_TESTBED") "$testbed/mkrootfs.sh" rootfs
  else
    echo "test: no test bed at $METAINIT_TESTBED and no $testbed/mkrootfs.sh to build one" >&2
    exit 1
  fi
fi
npx mocha --timeout 120000 'dist/test/unit/**/*.test.js' 'dist/test/ns/**/*.test.js' 'dist/test/vm/**/*.test.js' "$@"
