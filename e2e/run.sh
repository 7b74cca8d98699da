#!/usr/bin/env bash
# run.sh runs every end-to-end test with real clients; .ci/run calls it.
# Run it from anywhere: bash e2e/run.sh. It installs what is missing
# (Debian's chromium with apt-get, the npm packages with npm ci) and fails,
# never skips, when something cannot run. In order:
#
#   1. tsc --noEmit on e2e/types/example.ts: client/rushws.d.ts types a
#      typed app and catches its mistakes.
#   2. node --test e2e/node/: the JS client (client/rushws.js) under Node's
#      test runner, and the wire protocol through the npm ws package and
#      wscat, against the Go test server (e2e/testserver); the client's
#      connection state recovery against a fake server on the npm ws
#      package that implements the recovery wire design
#      (e2e/node/recoveryserver.mjs), and against the test server's hub
#      with recovery on (a drop, and 4409).
#   3. e2e/chat.mjs in Chromium against examples/echo-chat, gin-chat and
#      echo5-chat, each then stopped with SIGTERM; e2e/chat-restart.mjs
#      then restarts each under an open page, which must reconnect by
#      itself and send what was typed while the server was down.
#   4. e2e/demo.mjs in Chromium against examples/demo: chat, typing, stats,
#      foreign origin, server kill and restart, token expiry; screenshots go
#      to $RUSHWS_E2E_ARTIFACTS (default e2e/artifacts, kept by CI).
#   5. e2e/recovery.mjs in Chromium against two instances of
#      examples/cluster sharing the Redis at $RUSHWS_REDIS_ADDR (default
#      127.0.0.1:6379; an instance that cannot reach it fails the step):
#      a tab whose connection is reset by a proxy (no close frame) while
#      another tab chats recovers on the other instance and shows every
#      missed message once, in order.
#
# (The second Go implementation, github.com/coder/websocket, chats with
# both chat examples in their Go tests: go test ./examples/...)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
artifacts=${RUSHWS_E2E_ARTIFACTS:-$root/e2e/artifacts}

fail() { echo "e2e: $*" >&2; exit 1; }

command -v node >/dev/null 2>&1 || fail "node is missing (Node.js 20 or later is needed)"
command -v npm >/dev/null 2>&1 || fail "npm is missing"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' ||
	fail "Node.js $(node --version) is too old: 20 or later is needed"

# Debian's Chromium; playwright's own browser download cannot work here.
if ! test -x "${CHROMIUM:-/usr/bin/chromium}"; then
	echo "e2e: installing Chromium (apt-get install -y chromium)"
	if [ "$(id -u)" -ne 0 ]; then
		fail "Chromium is missing and this is not root: run 'apt-get install -y chromium'"
	fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
	test -x "${CHROMIUM:-/usr/bin/chromium}" || fail "apt-get install chromium did not provide ${CHROMIUM:-/usr/bin/chromium}"
fi

# The npm packages, exactly as locked.
for pkg in playwright-core ws wscat typescript; do
	if [ ! -d "e2e/node_modules/$pkg" ]; then
		(cd e2e && npm ci --no-audit --no-fund)
		break
	fi
done

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

echo "=== tsc --noEmit (client/rushws.d.ts on e2e/types/example.ts)"
if (cd e2e && node node_modules/typescript/bin/tsc -p .); then
	echo "ok   tsc"
else
	failed+=("tsc")
fi

echo "=== typed protocol: rushws-ts output checked by tsc (e2e/typed/run.sh)"; if bash e2e/typed/run.sh; then echo "ok   typed"; else failed+=("typed"); fi
echo "=== build the test server, the chat examples and the demo"
go build -o "$tmp/testserver" ./e2e/testserver
for app in echo-chat gin-chat echo5-chat demo cluster; do
	go build -o "$tmp/$app" "./examples/$app"
done

echo "=== node --test e2e/node/ (rushws.js, npm ws, wscat)"
if RUSHWS_E2E_SERVER="$tmp/testserver" node --test --test-timeout=60000 e2e/node/; then
	echo "ok   node --test"
else
	failed+=("node --test")
fi
echo "=== client auth in Chromium (e2e/auth.mjs: token refresh, removed user, refused handshakes)"; if TESTSERVER_BIN="$tmp/testserver" node e2e/auth.mjs; then echo "ok   auth"; else failed+=("auth"); fi
if RUSHWS_E2E_SERVER="$tmp/testserver" bash e2e/package.sh; then echo "ok   package"; else failed+=("package (@rushws/client: npm pack, Vite app, Node script, Chromium)"); fi

for app in echo-chat gin-chat echo5-chat; do
	echo "=== $app in Chromium"
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

	# The page outlives a restart: it reconnects and sends what waited.
	APP_BIN="$tmp/$app" node e2e/chat-restart.mjs || ok=0

	if [ "$ok" -eq 1 ]; then
		echo "ok   $app"
	else
		echo "  $app output:" >&2
		sed 's/^/  | /' "$tmp/$app.log" >&2
		failed+=("$app")
	fi
done

echo "=== demo in Chromium (screenshots in $artifacts)"
mkdir -p "$artifacts"
if DEMO_BIN="$tmp/demo" ARTIFACTS="$artifacts" node e2e/demo.mjs; then
	echo "ok   demo"
else
	failed+=("demo")
fi

echo "=== connection state recovery in Chromium (two examples/cluster instances, Redis)"
redis=${RUSHWS_REDIS_ADDR:-127.0.0.1:6379}
prefix="e2e-recovery-$$"
urls=()
ok=1
for i in 1 2; do
	"$tmp/cluster" -addr 127.0.0.1:0 -redis "$redis" -prefix "$prefix" >"$tmp/cluster$i.out" 2>"$tmp/cluster$i.log" &
	pid=$!
	pids+=("$pid")
	url=""
	for _ in $(seq 1 100); do
		url=$(sed -n 's|^listening on \(http://[^[:space:]]*\).*|\1|p' "$tmp/cluster$i.out" | head -n 1)
		[ -n "$url" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if [ -z "$url" ]; then
		echo "FAIL recovery: cluster instance $i did not start (Redis at $redis?); its log:" >&2
		sed 's/^/  | /' "$tmp/cluster$i.log" >&2
		ok=0
		break
	fi
	urls+=("$url")
done
if [ "$ok" -eq 1 ] && BASE_URLS="${urls[0]},${urls[1]}" node e2e/recovery.mjs; then
	echo "ok   recovery"
else
	for i in 1 2; do sed "s/^/  | cluster $i: /" "$tmp/cluster$i.log" >&2 || true; done
	failed+=("recovery")
fi
# The test's keys: sessions and histories under its own prefix.
if command -v redis-cli >/dev/null 2>&1; then
	redis-cli -h "${redis%:*}" -p "${redis##*:}" --scan --pattern "$prefix:*" | xargs -r redis-cli -h "${redis%:*}" -p "${redis##*:}" del >/dev/null || true
fi

if [ "${#failed[@]}" -gt 0 ]; then
	echo "e2e: FAILED: ${failed[*]}" >&2
	exit 1
fi
echo "e2e: all passed"
