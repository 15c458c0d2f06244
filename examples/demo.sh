#!/bin/bash
# Demo: boot metainit as PID 1 of a fresh PID + mount namespace with the example services in
# examples/demo, show `metainit status`, `logs` and `roles`, then power the namespace off.
# Needs root (unshare). Nothing on the host is changed: /run inside is a private tmpfs.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
unset NODE_EXTRA_CA_CERTS
sock_dir=$(mktemp -d /tmp/metainit-demo.XXXXXX)
sock=$sock_dir/control.sock
mi() { node "$here/bin/run.js" "$@" --socket "$sock"; }

echo "== booting metainit as PID 1 of a new PID namespace (config: examples/demo)"
unshare --pid --fork --mount --propagation private --mount-proc \
  sh -c 'mount -t tmpfs -o mode=755 tmpfs /run && exec node "$0/bin/run.js" boot --config-dir "$0/examples/demo" --socket "$1"' \
  "$here" "$sock" > "$sock_dir/console.log" 2>&1 &
ns=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || { echo "metainit did not come up:"; cat "$sock_dir/console.log"; exit 1; }

sleep 3
echo; echo "== metainit status"; mi status
echo; echo "== metainit logs ticker -n 3"; mi logs ticker -n 3
echo; echo "== metainit roles"; mi roles
echo; echo "== metainit poweroff (services stop in reverse order, then reboot(2) ends the namespace)"
mi poweroff
rc=0; wait $ns || rc=$?
echo "namespace ended with status $rc ($( [ $rc = 130 ] && echo 'killed by SIGINT: poweroff' || echo 'see console log'))"
echo; echo "== PID 1 console (last 25 lines)"; tail -n 25 "$sock_dir/console.log"
rm -rf "$sock_dir"
