#!/usr/bin/env bash
# Side-by-side benchmarks of raw gorilla/websocket, melody and rushws.
#
#   bash bench/run.sh          # full run: 3 repetitions, 10k connections (under 20 minutes)
#   bash bench/run.sh -smoke   # smoke run for CI: 1 repetition, small counts (60-90 s);
#                              # exits 1 when rushws is over the idle goroutine or heap target
#
# The server runs on core 0 and the load generator on core 1 (taskset,
# GOMAXPROCS=1 each), a fresh server for every measurement. Implementations
# are interleaved (raw, melody, rushws, ...) within every scenario; the idle
# and accept scenarios also run rushws through Echo and Gin (rushws-echo,
# rushws-gin). Output goes to bench/results/<mode>/: raw.jsonl (one JSON line
# per measurement), table.md (ratio tables and targets), fanout.png (chart),
# server.log, machine.txt.
#
# Environment: BENCH_PORT (default 18080; the stats port is BENCH_PORT+1),
# BENCH_REPS (default 3 full, 1 smoke).
set -euo pipefail

mode=full
for arg in "$@"; do
	case "$arg" in
	-smoke | --smoke) mode=smoke ;;
	-h | --help)
		sed -n '2,17p' "$0"
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
	fan_subs=(1000 10000)
	# Steps about 1.25x apart above 50k, so that "max sustained" (the
	# highest sustained step) can tell 1.5x raw from less.
	rates_1000="12500,25000,37500,50000,62500,75000,100000,125000,150000,200000,250000,300000"
	rates_10000="12500,25000,37500,50000,62500,75000,100000,125000,150000,200000,250000,300000"
	fan_step=3s
	echo_clients=1,100,1000
	echo_step=3s
	slow=1
fi

echo "run.sh: $mode run, $reps repetition(s), results in bench/$out" >&2
go build -o bin/ ./cmd/benchserver ./cmd/loadgen ./cmd/report ./cmd/chart

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

start_server() { # impl [flags...]
	local impl=$1
	shift
	GOMAXPROCS=1 "${pin0[@]}" bin/benchserver -impl "$impl" -addr "127.0.0.1:$port" -stats "127.0.0.1:$sport" "$@" 2>>"$out/server.log" &
	server_pid=$!
	for _ in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$sport") 2>/dev/null; then
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

core=(raw melody rushws)
mounts=(raw melody rushws rushws-echo rushws-gin)
failed=0
for rep in $(seq "$reps"); do
	echo "run.sh: repetition $rep: idle" >&2
	for impl in "${mounts[@]}"; do
		run "$impl" "$rep" -ping 0 -- -scenario idle -heartbeat off -conns "$idle_conns" -hold "$idle_hold" || failed=1
	done
	for impl in "${mounts[@]}"; do
		run "$impl" "$rep" -ping "$ping" -- -scenario idle -heartbeat on -conns "$idle_conns" -hold "$ping_hold" || failed=1
	done
	echo "run.sh: repetition $rep: accept" >&2
	for impl in "${mounts[@]}"; do
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
	for impl in "${core[@]}"; do
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
