#!/usr/bin/env bash
# Side-by-side benchmarks of the leanest gorilla/websocket server (raw-lean),
# a raw gorilla/websocket hub with rooms (raw), melody, gws and rushws.
#
#   bash bench/run.sh          # full run: 3 repetitions, 10k connections (about 35 minutes)
#   bash bench/run.sh -smoke   # smoke run for CI: 1 repetition, small counts (60-90 s);
#                              # exits 1 when rushws is over the idle goroutine or heap target
#
# The server runs on core 0 and the load generator on core 1 (taskset,
# GOMAXPROCS=1 each), a fresh server for every measurement. Implementations
# are interleaved within every scenario. Idle memory is measured twice: with
# the Go load generator (idle) and with npm ws clients as users' Node.js
# clients open them (idle-ws, bench/node/idle.mjs, installed with npm ci),
# the latter also against examples/echo-chat as shipped. rushws runs in both
# read modes (rushws: core.ReadAuto, rushws-goroutine: core.ReadGoroutine).
# Output goes to bench/results/<mode>/: raw.jsonl (one JSON line per
# measurement), table.md (ratio tables and targets), fanout.png (chart),
# server.log, machine.txt.
#
# Environment: BENCH_PORT (default 18080; the stats port is BENCH_PORT+1),
# BENCH_REPS (default 3 full, 1 smoke), BENCH_WS_CONNS (npm ws idle
# connections; default 10000 full, 300 smoke), BENCH_WS_HEARTBEATS (smoke:
# the npm ws heartbeat settings, default "off"; "off on" for both).
set -euo pipefail

mode=full
for arg in "$@"; do
	case "$arg" in
	-smoke | --smoke) mode=smoke ;;
	-h | --help)
		sed -n '2,23p' "$0"
		exit 0
		;;
	*)
		echo "run.sh: unknown argument $arg (use -smoke)" >&2
		exit 2
		;;
	esac
done

cd "$(dirname "$0")"
port=${BENCH_PORT:-18080}
sport=$((port + 1))
out=results/$mode
rm -rf "$out"
mkdir -p "$out" bin
jsonl=$out/raw.jsonl
: >"$jsonl"
start_time=$(date +%s)

if [[ $mode == smoke ]]; then
	reps=${BENCH_REPS:-1}
	idle_conns=2000
	accept_conns=2000
	idle_hold=1s
	ping=1s
	ping_hold=2500ms
	# npm ws idle clients: few, heartbeats off only, to prove the path.
	ws_conns=${BENCH_WS_CONNS:-300}
	ws_hold=1s
	read -ra ws_heartbeats <<<"${BENCH_WS_HEARTBEATS:-off}"
	fan_subs=(200)
	rates_200="10000,20000"
	fan_step=1s
	echo_clients=1,100
	echo_step=1s
	slow=0
else
	reps=${BENCH_REPS:-3}
	idle_conns=10000
	accept_conns=10000
	idle_hold=2s
	# Heartbeats on: a 5s interval for every implementation (rushws's default
	# is 25s), so that at least one ping and pong have happened before the
	# measurement, which is taken after 7s.
	ping=5s
	ping_hold=7s
	ws_conns=${BENCH_WS_CONNS:-10000}
	ws_hold=2s
	ws_heartbeats=(off on)
	fan_subs=(1000 10000)
	# Steps about 1.25x apart above 50k, so that "max sustained" (the
	# highest sustained step) can tell 1.5x raw from less; up to 600k, twice
	# the 300k top that rushws reached at 1k subscribers before.
	rates_1000="12500,25000,37500,50000,62500,75000,100000,125000,150000,200000,250000,300000,375000,450000,525000,600000"
	rates_10000="12500,25000,37500,50000,62500,75000,100000,125000,150000,200000,250000,300000,375000,450000,525000,600000"
	fan_step=3s
	echo_clients=1,100,1000
	echo_step=3s
	slow=1
fi

echo "run.sh: $mode run, $reps repetition(s), results in bench/$out" >&2
go build -o bin/ ./cmd/benchserver ./cmd/loadgen ./cmd/report ./cmd/chart
# examples/echo-chat as shipped, built from the library's module.
(cd .. && go build -o bench/bin/echo-chat ./examples/echo-chat)

# The npm ws client, exactly as locked. Without Node.js the idle-ws scenario
# is left out, and said so.
have_node=0
if command -v node >/dev/null && command -v npm >/dev/null &&
	node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then
	have_node=1
	if [[ ! -f node/node_modules/.package-lock.json || node/package-lock.json -nt node/node_modules/.package-lock.json ]]; then
		(cd node && npm ci --no-audit --no-fund >&2)
	fi
else
	echo "run.sh: Node.js 20 or later and npm are missing: the npm ws idle scenario (idle-ws) is not run" >&2
fi

# File descriptors: 10k connections per process.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

pin0=() pin1=()
if command -v taskset >/dev/null && [[ $(nproc) -ge 2 ]]; then
	pin0=(taskset -c 0)
	pin1=(taskset -c 1)
else
	echo "run.sh: taskset or a second core missing: server and load generator are not pinned" >&2
fi

{
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "mode: $mode, repetitions: $reps"
	echo "nproc: $(nproc)"
	lscpu 2>/dev/null | head -n 15 || true
	echo "kernel: $(uname -r)"
	echo "go: $(go version)"
	[[ $have_node == 1 ]] && echo "node: $(node --version), ws $(node -p 'require("./node/node_modules/ws/package.json").version')"
	echo "rushws: $(git -C .. rev-parse --short HEAD 2>/dev/null || echo unknown) $(git -C .. status --short -- core echows ginws 2>/dev/null | wc -l | tr -d ' ') uncommitted file(s) in core/echows/ginws"
	echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out/machine.txt"

server_pid=
stop_server() {
	if [[ -n $server_pid ]]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
		server_pid=
	fi
}
trap stop_server EXIT

# start_server label [flags...]: the label is an implementation of
# benchserver (rushws-goroutine is rushws with -read goroutine) or echo-chat,
# the example app as shipped, which listens on the WebSocket port only.
start_server() {
	local impl=$1 wait_port=$sport
	shift
	case $impl in
	echo-chat)
		GOMAXPROCS=1 "${pin0[@]}" bin/echo-chat -addr "127.0.0.1:$port" >/dev/null 2>"$out/echo-chat.log" &
		wait_port=$port
		;;
	rushws-goroutine)
		GOMAXPROCS=1 "${pin0[@]}" bin/benchserver -impl rushws -read goroutine -addr "127.0.0.1:$port" -stats "127.0.0.1:$sport" "$@" 2>>"$out/server.log" &
		;;
	*)
		GOMAXPROCS=1 "${pin0[@]}" bin/benchserver -impl "$impl" -addr "127.0.0.1:$port" -stats "127.0.0.1:$sport" "$@" 2>>"$out/server.log" &
		;;
	esac
	server_pid=$!
	for _ in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$wait_port") 2>/dev/null; then
			return 0
		fi
		sleep 0.05
	done
	echo "run.sh: $impl server did not start (see $out/server.log)" >&2
	return 1
}

loadgen() { # impl rep [flags...]
	local impl=$1 rep=$2
	shift 2
	GOMAXPROCS=1 "${pin1[@]}" bin/loadgen -impl "$impl" -rep "$rep" -mode "$mode" \
		-addr "127.0.0.1:$port" -stats "127.0.0.1:$sport" -timeout 3m "$@" >>"$jsonl"
}

# run impl rep server-flags -- loadgen-flags
run() {
	local impl=$1 rep=$2
	shift 2
	local sflags=()
	while [[ $# -gt 0 && $1 != -- ]]; do
		sflags+=("$1")
		shift
	done
	shift
	start_server "$impl" "${sflags[@]}"
	if ! loadgen "$impl" "$rep" "$@"; then
		echo "run.sh: $impl: loadgen $* failed" >&2
		stop_server
		return 1
	fi
	stop_server
	sleep 0.3 # let the closed sockets go
}

# run_ws impl rep heartbeat: the npm ws idle clients against one server.
run_ws() {
	local impl=$1 rep=$2 hb=$3 sflags=(-ping 0) hold=$ws_hold
	if [[ $hb == on ]]; then
		sflags=(-ping "$ping")
		hold=$ping_hold
	fi
	[[ $impl == echo-chat ]] && sflags=() # as shipped: its heartbeats stay at their 25s default
	local target=(-stats "http://127.0.0.1:$sport")
	[[ $impl == echo-chat ]] && target=(-metrics "http://127.0.0.1:$port/admin/metrics")
	if ! start_server "$impl" "${sflags[@]}"; then
		stop_server
		return 1
	fi
	local status=0
	"${pin1[@]}" node node/idle.mjs -impl "$impl" -rep "$rep" -mode "$mode" -heartbeat "$hb" \
		-pid "$server_pid" -url "ws://127.0.0.1:$port" "${target[@]}" \
		-conns "$ws_conns" -hold "$hold" -timeout 3m >>"$jsonl" || status=$?
	if [[ $status != 0 ]]; then
		echo "run.sh: $impl: node idle.mjs failed" >&2
	fi
	stop_server
	if [[ $impl == echo-chat ]]; then # its request log has a line per connection: keep the rest
		grep -v ' msg=request ' "$out/echo-chat.log" >>"$out/server.log" || true
		rm -f "$out/echo-chat.log"
	fi
	sleep 0.3
	return "$status"
}

# core: the implementations with rooms (fan-out, slow consumers); the
# others serve any path and echo only.
core=(raw melody rushws)
echoes=(raw-lean raw melody gws rushws)
accepts=(raw-lean raw melody gws rushws rushws-echo rushws-gin)
mounts=(raw-lean raw melody gws rushws rushws-goroutine rushws-echo rushws-gin)
mounts_on=("${mounts[@]}")
ws_impls=(raw-lean raw melody gws rushws rushws-goroutine rushws-echo rushws-gin echo-chat)
if [[ $mode == smoke ]]; then # kept under about 90 s
	echoes=("${core[@]}")
	mounts_on=(raw-lean rushws rushws-goroutine)
fi
failed=0
for rep in $(seq "$reps"); do
	echo "run.sh: repetition $rep: idle" >&2
	for impl in "${mounts[@]}"; do
		run "$impl" "$rep" -ping 0 -- -scenario idle -heartbeat off -conns "$idle_conns" -hold "$idle_hold" || failed=1
	done
	for impl in "${mounts_on[@]}"; do
		run "$impl" "$rep" -ping "$ping" -- -scenario idle -heartbeat on -conns "$idle_conns" -hold "$ping_hold" || failed=1
	done
	if [[ $have_node == 1 ]]; then
		for hb in "${ws_heartbeats[@]}"; do
			echo "run.sh: repetition $rep: idle, npm ws clients, heartbeats $hb" >&2
			for impl in "${ws_impls[@]}"; do
				run_ws "$impl" "$rep" "$hb" || failed=1
			done
		done
	fi
	echo "run.sh: repetition $rep: accept" >&2
	for impl in "${accepts[@]}"; do
		run "$impl" "$rep" -ping 0 -- -scenario accept -conns "$accept_conns" -concurrency 32 || failed=1
	done
	for subs in "${fan_subs[@]}"; do
		echo "run.sh: repetition $rep: fanout to $subs" >&2
		rates_var=rates_$subs
		for impl in "${core[@]}"; do
			run "$impl" "$rep" -ping 0 -- -scenario fanout -subs "$subs" -rates "${!rates_var}" -step "$fan_step" || failed=1
		done
	done
	echo "run.sh: repetition $rep: echo" >&2
	for impl in "${echoes[@]}"; do
		run "$impl" "$rep" -ping 0 -- -scenario echo -clients "$echo_clients" -step "$echo_step" || failed=1
	done
	if [[ $slow == 1 ]]; then
		echo "run.sh: repetition $rep: slow consumers" >&2
		for impl in "${core[@]}"; do
			run "$impl" "$rep" -ping 0 -- -scenario slow -subs 1000 -rates 20000 -size 32768 -step 8s -slow-frac 0.01 || failed=1
		done
	fi
done

elapsed=$(($(date +%s) - start_time))
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/machine.txt"
echo "elapsed: ${elapsed}s" >>"$out/machine.txt"

cmd="bash bench/run.sh"
[[ $mode == smoke ]] && cmd+=" -smoke"
header="Command: \`$cmd\` ($mode run, $reps repetition(s), ${elapsed}s)

\`\`\`
$(cat "$out/machine.txt")
\`\`\`"
check=()
[[ $mode == smoke ]] && check=(-check)
status=0
bin/report -in "$jsonl" -out "$out/table.md" -header "$header" "${check[@]}" || status=$?
bin/chart -in "$jsonl" -out "$out/fanout.png" -title "($mode)" || status=1
echo "run.sh: done in ${elapsed}s: bench/$out/table.md, bench/$out/fanout.png" >&2
if [[ $failed != 0 ]]; then
	echo "run.sh: some measurements failed (see above)" >&2
	status=1
fi
exit "$status"
