#!/bin/bash
# Demo (npm run demo:multi): the README's headline — runit, s6, sysv rc, OpenRC and native
# services side by side under metainit as PID 1, in one Debian root, one cron for two claimants.
# The root is an overlay of the test bed (built by test/testbed/build.sh, cached in
# /var/cache/metainit-testbed) mounted inside a new PID + mount namespace; the configuration is
# test/ns/cases-multi/five-inits. Needs root. Nothing on the host changes: the overlay's upper
# directory and /run inside are private, removed at the end.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
unset NODE_EXTRA_CA_CERTS
testbed=${METAINIT_TESTBED:-/var/cache/metainit-testbed/rootfs}
if [ ! -d "$testbed/etc" ]; then
  echo "== building the Debian test bed (once, cached in $(dirname "$testbed"))"
  WORKDIR=$(dirname "$testbed") "$here/test/testbed/build.sh" rootfs
fi
case_dir=$here/test/ns/cases-multi/five-inits
scratch=$(mktemp -d /tmp/metainit-demo-multi.XXXXXX)
sock=$scratch/control.sock
mi() { node "$here/bin/run.js" "$@" --socket "$sock"; }

echo "== booting metainit as PID 1 of a new PID namespace over an overlay of $testbed"
unshare --pid --fork --kill-child --mount --propagation private --mount-proc sh -c '
  set -e
  scratch=$1 testbed=$2 case=$3 run=$4 sock=$5
  mount -t tmpfs -o mode=755 tmpfs /run
  mkdir -p /run/test && mount --bind "$scratch" /run/test
  o=/run/test/overlay && mkdir -p "$o/upper" "$o/work" /run/test/root
  cp -a "$case/overlay/." "$o/upper/"
  mount -t overlay overlay -o lowerdir="$testbed",upperdir="$o/upper",workdir="$o/work" /run/test/root
  "$case/setup.sh" /run/test/root > /dev/null
  exec node "$run" boot --config-dir "$case" --socket "$sock"' \
  demo "$scratch" "$testbed" "$case_dir" "$here/bin/run.js" "$sock" > "$scratch/console.log" 2>&1 &
ns=$!
for _ in $(seq 300); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || { echo "metainit did not come up:"; cat "$scratch/console.log"; exit 1; }
# until the five hello services run (at most 60 s)
for _ in $(seq 120); do
  up=$(mi status --state running 2>/dev/null | grep -c '/hello-' || true)
  [ "$up" -ge 4 ] && break
  sleep 0.5
done

echo; echo "== metainit status"; mi status || true
echo; echo "== metainit roles"; mi roles
echo; echo "== metainit status runit/cron"; mi status runit/cron || true
echo; echo "== metainit poweroff (instances stop in reverse dependency order, then the namespace ends)"
mi poweroff
rc=0; wait $ns || rc=$?
echo "namespace ended with status $rc"
echo; echo "== PID 1 console (last 15 lines)"; tail -n 15 "$scratch/console.log"
rm -rf "$scratch"
