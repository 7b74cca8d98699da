#!/usr/bin/env bash
# run.sh builds each chat example, starts it on a free port, and drives it in
# a real browser with chat.mjs (Debian's Chromium under playwright-core).
# Run it from anywhere: bash e2e/run.sh. It exits non-zero if any app fails.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

# Debian's Chromium; playwright's own browser download cannot work here.
if ! command -v chromium >/dev/null 2>&1 && ! test -x /usr/bin/chromium; then
	echo "e2e: installing Chromium (apt-get install -y chromium)"
	if [ "$(id -u)" -ne 0 ]; then
		echo "e2e: Chromium is missing and this is not root: run 'apt-get install -y chromium'" >&2
		exit 1
	fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if [ ! -d e2e/node_modules/playwright-core ]; then
	(cd e2e && npm ci --no-audit --no-fund)
fi

tmp=$(mktemp -d)
pids=()
cleanup() {
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

failed=()
for app in echo-chat gin-chat; do
	echo "=== $app"
	go build -o "$tmp/$app" "./examples/$app"
	GIN_MODE=release "$tmp/$app" -addr 127.0.0.1:0 >"$tmp/$app.log" 2>&1 &
	pid=$!
	pids+=("$pid")

	url=""
	for _ in $(seq 1 100); do
		url=$(sed -n 's|^listening on \(http://[^[:space:]]*\).*|\1|p' "$tmp/$app.log" | head -n 1)
		[ -n "$url" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if [ -z "$url" ]; then
		echo "FAIL $app: no 'listening on' line; its output:" >&2
		sed 's/^/  | /' "$tmp/$app.log" >&2
		failed+=("$app")
		continue
	fi
	echo "  server: $url"

	ok=1
	BASE_URL="$url" node e2e/chat.mjs || ok=0

	# Graceful shutdown: SIGTERM must end the process, cleanly, within 15s.
	kill -TERM "$pid"
	status=0
	for _ in $(seq 1 150); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "FAIL $app: still running 15s after SIGTERM" >&2
		ok=0
	else
		wait "$pid" || status=$?
		if [ "$status" -ne 0 ]; then
			echo "FAIL $app: exited with status $status after SIGTERM" >&2
			ok=0
		fi
	fi

	if [ "$ok" -eq 1 ]; then
		echo "ok   $app"
	else
		echo "  $app output:" >&2
		sed 's/^/  | /' "$tmp/$app.log" >&2
		failed+=("$app")
	fi
done

if [ "${#failed[@]}" -gt 0 ]; then
	echo "e2e: FAILED: ${failed[*]}" >&2
	exit 1
fi
echo "e2e: all passed"
