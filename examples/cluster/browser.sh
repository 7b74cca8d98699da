#!/usr/bin/env bash
# browser.sh builds examples/cluster, runs it twice on free ports against
# the Redis at RUSHWS_REDIS_ADDR (default 127.0.0.1:6379), and drives both
# instances in Chromium with browser.mjs: a tab on each chats with the
# other through Redis. Both instances are stopped with SIGTERM and must
# exit cleanly. Needs e2e's npm packages (npm ci in e2e/) and Chromium.
#
#	bash examples/cluster/browser.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
redis=${RUSHWS_REDIS_ADDR:-127.0.0.1:6379}
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/cluster" ./examples/cluster
prefix="e2e-cluster-$$"
urls=()
for i in 1 2; do
	"$tmp/cluster" -addr 127.0.0.1:0 -redis "$redis" -prefix "$prefix" >"$tmp/out$i" 2>"$tmp/log$i" &
	pids+=($!)
	for _ in $(seq 100); do
		grep -q '^listening on ' "$tmp/out$i" && break
		sleep 0.05
	done
	line=$(head -n1 "$tmp/out$i")
	[ -n "$line" ] || { echo "cluster instance $i did not start:"; cat "$tmp/log$i"; exit 1; }
	urls+=("${line#listening on }")
done

BASE_URLS="${urls[0]},${urls[1]}" node examples/cluster/browser.mjs

for p in "${pids[@]}"; do kill -TERM "$p"; done
for i in 0 1; do
	if ! wait "${pids[$i]}"; then
		echo "cluster instance $((i + 1)) did not exit cleanly:"; cat "$tmp/log$((i + 1))"; exit 1
	fi
done
pids=()
echo "PASS examples/cluster: two instances, one room, through Redis"
