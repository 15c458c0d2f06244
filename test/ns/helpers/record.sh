#!/bin/sh
# record.sh NAME [READY_AFTER] [STOP_DELAY] — a long-running test service that writes what
# happens to it, one line "NAME EVENT NANOSECONDS" per event, to /run/test/events (the harness
# binds its scratch directory there, so the test reads the file from the host):
#   start  when it runs;  ready  READY_AFTER seconds later (and it creates /run/test/NAME.ready,
#   for `ready: {test: test -f /run/test/NAME.ready}`);  term  when SIGTERM arrives;
#   exit  STOP_DELAY seconds after that, just before it exits 0.
name=$1
ready_after=${2:-0}
stop_delay=${3:-0}
stamp() { echo "$name $1 $(date +%s%N)" >> /run/test/events; }
trap 'stamp term; sleep "$stop_delay"; stamp exit; exit 0' TERM
stamp start
sleep "$ready_after"
stamp ready
: > "/run/test/$name.ready"
sleep 3600 &
wait
