// Command report turns the load generators' JSON lines into the ratio table
// of BENCHMARKS.md: every figure as the median of the repetitions with its
// range, and as a ratio from the same repetition (median, min-max), then the
// targets with a verdict each. Idle memory is compared with raw-lean (the
// leanest gorilla server, the memory baseline); accepts, fan-out, echo and
// slow consumers with raw (the gorilla hub with rooms, the floor for
// fan-out). A file without raw-lean falls back to raw.
//
// With -check it is the CI gate: it exits 1 when rushws (on net/http) is over
// the deterministic idle targets (heartbeats off): goroutines per idle
// connection above 1.05 in core.ReadAuto (rushws; 1 today, 0 once idle
// connections park on a poller) or outside 0.95-1.05 in core.ReadGoroutine
// (rushws-goroutine), or Go heap in use after GC above 9 KiB per idle
// connection. It prints the RSS per idle connection as read beside them,
// with its ratio to raw-lean, one line per npm ws idle measurement, and adds
// the same lines to the table.
package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/rushws/rushws/bench/internal/results"
)

type rec = results.Record

var (
	core3   = []string{"raw", "melody", "rushws"}
	echoes  = []string{"raw-lean", "raw", "melody", "gws", "rushws"}
	idles   = []string{"raw-lean", "raw", "melody", "gws", "rushws", "rushws-goroutine", "rushws-echo", "rushws-gin"}
	wsIdles = append(idles[:len(idles):len(idles)], "echo-chat")
	mounts  = []string{"rushws", "rushws-goroutine", "rushws-echo", "rushws-gin"}
	// mountName names how each rushws implementation is mounted.
	mountName = map[string]string{"rushws": "net/http", "rushws-goroutine": "net/http, ReadGoroutine", "rushws-echo": "Echo", "rushws-gin": "Gin", "echo-chat": "examples/echo-chat as shipped"}
)

// Targets, as ratios from the same repetition (to raw-lean for idle memory,
// to raw for the rest) unless said otherwise.
const (
	idleRSSMax       = 1.25 // idle RSS per connection as read, through net/http, Echo, Gin and echo-chat
	fanMaxMin        = 1.5  // max sustained deliveries/s
	fanCPUMax        = 0.8  // server CPU per delivery at raw's maximum load
	fanP99Max        = 1.0  // fan-out p99 at half of raw's maximum
	echoCPUMax       = 1.0  // server CPU per round trip, 100 clients
	gateGoroutines   = 1.05 // goroutines per idle connection, at most (CI gate)
	gateGoroutineMin = 0.95 // and at least, in core.ReadGoroutine (CI gate)
	gateHeap         = 9216 // bytes of Go heap in use after GC per idle connection (CI gate)
)

func main() {
	in := flag.String("in", "results/full/raw.jsonl", "load generator output")
	out := flag.String("out", "", "write the Markdown table here (default stdout)")
	check := flag.Bool("check", false, "CI gate: exit 1 when rushws misses the idle goroutine or heap target")
	header := flag.String("header", "", "text put above the tables (command, machine)")
	flag.Parse()

	rs, err := results.Load(*in)
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
	w := io.Writer(os.Stdout)
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			fmt.Fprintln(os.Stderr, "report:", err)
			os.Exit(1)
		}
		defer f.Close()
		w = f
	}
	if *header != "" {
		fmt.Fprintln(w, *header)
		fmt.Fprintln(w)
	}
	r := &reporter{w: w, rs: rs, base: "raw"}
	code := 0
	if *check {
		code = r.gate()
	}
	r.all()
	invalid := len(results.Filter(rs, func(x rec) bool { return !x.Bool("valid") }))
	fmt.Fprintf(w, "\n%d measurements, %d marked invalid (load generator above its CPU limit, or connections lost); figures marked * include invalid measurements.\n", len(rs), invalid)
	if code != 0 {
		os.Exit(code)
	}
}

type reporter struct {
	w  io.Writer
	rs []rec
	// base is the implementation ratios are taken to: raw by default,
	// raw-lean for idle memory (see baseFor).
	base string
	// targets and others collect the rows of the two targets tables.
	targets, others [][]string
	// gateLines is the CI gate's outcome, shown in the table when -check.
	gateLines []string
}

func (r *reporter) p(format string, a ...any) { fmt.Fprintf(r.w, format, a...) }

// metric is one figure per (impl, rep), from the records of one scenario.
type metric func(impl string, rep int) (float64, bool)

// perRep builds a metric from the records matching sel, reduced per rep by
// pick (which also reports whether all its inputs were valid).
func (r *reporter) perRep(sel func(rec) bool, pick func([]rec) (float64, bool)) metric {
	return func(impl string, rep int) (float64, bool) {
		xs := results.Filter(r.rs, func(x rec) bool { return x.Str("impl") == impl && x.Rep() == rep && sel(x) })
		if len(xs) == 0 {
			return math.NaN(), true
		}
		return pick(xs)
	}
}

func field(k string) func([]rec) (float64, bool) {
	return func(xs []rec) (float64, bool) { return xs[0].Num(k), xs[0].Bool("valid") }
}

// cell is a summarized figure and its ratio to r.base.
type cell struct {
	val, ratio results.Summary
	valid      bool
}

// measured reports whether the cell holds at least one figure.
func (c cell) measured() bool { return c.val.N > 0 }

func (r *reporter) cell(m metric, impl string) cell {
	var vals, ratios []float64
	valid := true
	for _, rep := range results.Reps(r.rs) {
		v, ok := m(impl, rep)
		if math.IsNaN(v) {
			continue
		}
		valid = valid && ok
		vals = append(vals, v)
		if b, okb := m(r.base, rep); !math.IsNaN(b) && b != 0 {
			ratios = append(ratios, v/b)
			valid = valid && okb
		}
	}
	return cell{results.Summarize(vals), results.Summarize(ratios), valid}
}

func fmtNum(v float64) string {
	switch {
	case math.IsNaN(v):
		return "n/a"
	case math.Abs(v) >= 1000:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

func (c cell) value() string {
	s := fmtNum(c.val.Median)
	if c.val.N > 1 {
		s += fmt.Sprintf(" (%s–%s)", fmtNum(c.val.Min), fmtNum(c.val.Max))
	}
	if !c.valid {
		s += "*"
	}
	return s
}

func (c cell) ratioStr() string {
	if math.IsNaN(c.ratio.Median) {
		return "n/a"
	}
	s := fmt.Sprintf("%.2fx", c.ratio.Median)
	if c.ratio.N > 1 {
		s += fmt.Sprintf(" (%.2f–%.2f)", c.ratio.Min, c.ratio.Max)
	}
	return s
}

// starred is ratioStr marked when an invalid measurement went into it.
func (c cell) starred() string {
	s := c.ratioStr()
	if !c.valid && s != "n/a" {
		s += "*"
	}
	return s
}

// table prints one row per impl: value and ratio to r.base.
// A table with no measured row is left out.
func (r *reporter) table(title, unit string, m metric, impls []string) map[string]cell {
	out := map[string]cell{}
	var rows []string
	for _, impl := range impls {
		c := r.cell(m, impl)
		if !c.measured() {
			continue
		}
		out[impl] = c
		rows = append(rows, fmt.Sprintf("| %s | %s | %s |\n", impl, c.value(), c.ratioStr()))
	}
	if len(rows) > 0 {
		r.p("\n### %s\n\n| implementation | %s | ratio to %s |\n|---|---|---|\n%s", title, unit, r.base, strings.Join(rows, ""))
	}
	return out
}

// table2 prints one row per impl with two figures side by side (heartbeats
// off and on, for instance), each with its ratio to r.base.
func (r *reporter) table2(title, unit string, cols [2]string, ms [2]metric, impls []string) [2]map[string]cell {
	out := [2]map[string]cell{{}, {}}
	var rows []string
	for _, impl := range impls {
		a, b := r.cell(ms[0], impl), r.cell(ms[1], impl)
		if a.measured() {
			out[0][impl] = a
		}
		if b.measured() {
			out[1][impl] = b
		}
		if a.measured() || b.measured() {
			rows = append(rows, fmt.Sprintf("| %s | %s | %s | %s | %s |\n", impl, a.value(), a.ratioStr(), b.value(), b.ratioStr()))
		}
	}
	if len(rows) > 0 {
		r.p("\n### %s\n\n| implementation | %s, %s | ratio to %s | %s, %s | ratio to %s |\n|---|---|---|---|---|\n%s", title, cols[0], unit, r.base, cols[1], unit, r.base, strings.Join(rows, ""))
	}
	return out
}

func scen(s string, extra ...func(rec) bool) func(rec) bool {
	return func(x rec) bool {
		if x.Str("scenario") != s {
			return false
		}
		for _, e := range extra {
			if !e(x) {
				return false
			}
		}
		return true
	}
}

func eq(k string, v any) func(rec) bool {
	return func(x rec) bool {
		switch v := v.(type) {
		case string:
			return x.Str(k) == v
		case float64:
			return x.Num(k) == v
		}
		return false
	}
}

// target adds a row to the targets table; other adds one to the table of
// earlier targets that still apply.
func (r *reporter) target(metric, melody, rushws, target, verdict string) {
	r.targets = append(r.targets, []string{metric, melody, rushws, target, verdict})
}

func (r *reporter) other(metric, melody, rushws, target, verdict string) {
	r.others = append(r.others, []string{metric, melody, rushws, target, verdict})
}

func verdict(ok bool, c cell) string {
	if !c.measured() || math.IsNaN(c.val.Median) {
		return "not measured"
	}
	if ok {
		return "met"
	}
	return "**missed**"
}

// ratioVerdict judges a ratio target on the median ratio.
func ratioVerdict(c cell, atMost bool, limit float64) string {
	if math.IsNaN(c.ratio.Median) {
		return "not measured"
	}
	if atMost {
		return verdict(c.ratio.Median <= limit, c)
	}
	return verdict(c.ratio.Median >= limit, c)
}

// with shows a figure and its ratio: "12.3 KiB, 1.21x (1.1–1.3)".
func with(c cell, format func(float64) string) string {
	if !c.measured() {
		return "n/a"
	}
	return format(c.val.Median) + ", " + c.starred()
}

func kib(v float64) string { return fmt.Sprintf("%.1f KiB", v/1024) }

func us(v float64) string { return fmtNum(v) + " µs" }

func perS(v float64) string { return fmtNum(v) + "/s" }

// baseFor returns the implementation the ratios of a scenario are taken to:
// raw-lean when the run measured it in that scenario, else raw.
func (r *reporter) baseFor(scenario string) string {
	if len(results.Filter(r.rs, scen(scenario, eq("impl", "raw-lean")))) > 0 {
		return "raw-lean"
	}
	return "raw"
}

func (r *reporter) all() {
	r.p("## Results\n\nEvery figure: median of the repetitions (min–max). Ratios: to the baseline named in the column from the same repetition, then median (min–max): raw-lean (the leanest gorilla server) for idle memory, raw (the gorilla hub with rooms) for accepts, fan-out, echo and slow consumers. Differences under 10%% are noise.\n")

	if len(r.gateLines) > 0 {
		r.p("\n## CI gate (`report -check`)\n\nGated, rushws on net/http, heartbeats off: goroutines per idle connection ≤ %.2f in core.ReadAuto (rushws: 1 today, 0 once idle connections park on a poller) and %.2f–%.2f in core.ReadGoroutine (rushws-goroutine), and Go heap in use after GC ≤ %d bytes per idle connection. RSS as read is shown beside them, not gated (too noisy).\n\n| repetition | implementation | goroutines per connection | Go heap in use after GC, bytes per connection | RSS as read, bytes per connection | RSS as read, ratio to %s | gate |\n|---|---|---|---|---|---|---|\n", gateGoroutines, gateGoroutineMin, gateGoroutines, gateHeap, r.baseFor("idle"))
		for _, l := range r.gateLines {
			r.p("%s\n", l)
		}
	}

	// Idle, Go load generator.
	r.base = r.baseFor("idle")
	r.p("\n## Idle connections, Go load generator\n\nPer connection: server figure while the connections are held minus the figure before the first dial, divided by the count. *As read*: RSS read first, with no GC forced at any point while the connections were open, as a user's server shows it. *Freed*: after `runtime.GC` and `debug.FreeOSMemory`, which no server does; it shows the live memory without the GC's headroom. melody cannot turn heartbeats off: its \"off\" column keeps its 54 s default. rushws is core.ReadAuto, rushws-goroutine core.ReadGoroutine.\n")
	idleSel := func(hb string) func(rec) bool { return scen("idle", eq("heartbeat", hb)) }
	n := ""
	if xs := results.Filter(r.rs, scen("idle")); len(xs) > 0 {
		n = fmt.Sprintf(", %.0f connections", xs[0].Num("conns"))
	}
	hbCols := [2]string{"heartbeats off", "heartbeats on"}
	idle2 := func(k string) [2]metric {
		return [2]metric{r.perRep(idleSel("off"), field(k)), r.perRep(idleSel("on"), field(k))}
	}
	asRead := r.table2("RSS per idle connection as read (no forced GC)"+n, "bytes", hbCols, idle2("rss_before_free_per_conn"), idles)
	r.table2("RSS per idle connection after runtime.GC + debug.FreeOSMemory (freed)", "bytes", hbCols, idle2("rss_per_conn"), idles)
	r.table2("Go heap in use per idle connection, as read (before the GC)", "bytes", hbCols, idle2("heap_inuse_as_read_per_conn"), idles)
	heap := r.table2("Go heap in use per idle connection, after runtime.GC", "bytes", hbCols, idle2("heap_inuse_per_conn"), idles)
	r.table2("Goroutine stacks per idle connection", "bytes", hbCols, idle2("stack_per_conn"), idles)
	gor := r.table2("Goroutines per idle connection", "goroutines", hbCols, idle2("goroutines_per_conn"), idles)
	extra := func(k string) metric {
		return func(impl string, rep int) (float64, bool) {
			on, ok1 := r.perRep(idleSel("on"), field(k))(impl, rep)
			off, ok2 := r.perRep(idleSel("off"), field(k))(impl, rep)
			return on - off, ok1 && ok2
		}
	}
	r.table2("Heartbeats on: extra RSS per connection (on minus off, same repetition)", "bytes", [2]string{"as read", "freed"}, [2]metric{extra("rss_before_free_per_conn"), extra("rss_per_conn")}, idles)

	// Idle, npm ws clients.
	r.base = r.baseFor("idle-ws")
	wsRead := r.idleWS()

	// Accept: to raw, as the accept targets were set.
	r.base = "raw"
	r.p("\n## Accept rate\n")
	acc := r.table("Upgrades per second (10,000 dials or the smoke count, 32 at a time)", "accepts/s", r.perRep(scen("accept"), field("accept_per_s")), idles)
	r.table("Server CPU per accept", "µs", r.perRep(scen("accept"), field("server_cpu_us_per_accept")), idles)

	// Fan-out.
	r.p("\n## Room fan-out\n\nMax sustained deliveries/s: the highest delivered rate of a ladder step that was sustained (at least 95%% of the offered deliveries arrived within the step, none lost after draining); it is quantized by the ladder's steps. Peak delivered: the highest delivered rate of any step, including the saturated last one.\n\nSteps compared, per repetition, the same offered load for every implementation: *raw's maximum load* is the ladder step whose offered rate is nearest raw's peak delivered rate (ties to the lower step); *half raw's maximum* is the step nearest half of that peak. An implementation whose ladder stopped before that step shows n/a there (it saturated below it).\n")
	fan := map[float64]map[string]map[string]cell{}
	for _, subs := range r.subsCounts() {
		fan[subs] = r.fanout(subs)
	}

	// Echo.
	r.p("\n## Echo round trips\n")
	echoPS := map[float64]map[string]cell{}
	echoCPU := map[float64]map[string]cell{}
	for _, n := range r.distinct("echo", "clients") {
		sel := scen("echo", eq("clients", n))
		echoPS[n] = r.table(fmt.Sprintf("Echo round trips, %.0f client(s)", n), "round trips/s", r.perRep(sel, field("echo_per_s")), echoes)
		echoCPU[n] = r.table(fmt.Sprintf("Server CPU per round trip, %.0f client(s)", n), "µs", r.perRep(sel, field("server_cpu_us_per_echo")), echoes)
		r.table(fmt.Sprintf("Echo p99, %.0f client(s)", n), "µs", r.perRep(sel, field("p99_us")), echoes)
	}

	r.slow()

	// Targets.
	idleBase := r.baseFor("idle")
	for i, hb := range []string{"off", "on"} {
		for _, m := range mounts {
			c, ok := asRead[i][m]
			if !ok {
				continue
			}
			r.target(fmt.Sprintf("idle RSS per connection as read, through %s, heartbeats %s (ratio to %s)", mountName[m], hb, idleBase),
				with(asRead[i]["melody"], kib), with(c, kib), fmt.Sprintf("≤ %.2fx", idleRSSMax), ratioVerdict(c, true, idleRSSMax))
		}
	}
	wsBase := r.baseFor("idle-ws")
	for _, hb := range []string{"off", "on"} {
		for _, m := range append(mounts[:len(mounts):len(mounts)], "echo-chat") {
			c, ok := wsRead[hb][m]
			if !ok {
				continue
			}
			r.target(fmt.Sprintf("idle RSS per connection as read, npm ws clients, through %s, heartbeats %s (ratio to %s)", mountName[m], hb, wsBase),
				with(wsRead[hb]["melody"], kib), with(c, kib), fmt.Sprintf("≤ %.2fx", idleRSSMax), ratioVerdict(c, true, idleRSSMax))
		}
	}
	for _, subs := range r.subsCounts() {
		f := fan[subs]
		label := fmt.Sprintf("%.0f subscribers", subs)
		if c, ok := f["sustained"]["rushws"]; ok {
			r.target("fan-out max sustained deliveries/s, "+label, with(f["sustained"]["melody"], perS), with(c, perS), fmt.Sprintf("≥ %.1fx", fanMaxMin), ratioVerdict(c, false, fanMaxMin))
		}
		if c, ok := f["cpuMax"]["rushws"]; ok {
			r.target("server CPU per delivery at raw's maximum load, "+label, with(f["cpuMax"]["melody"], us), with(c, us), fmt.Sprintf("≤ %.1fx", fanCPUMax), ratioVerdict(c, true, fanCPUMax))
		} else if _, ran := f["sustained"]["rushws"]; ran {
			r.target("server CPU per delivery at raw's maximum load, "+label, "", "n/a: rushws's ladder stopped below that step", fmt.Sprintf("≤ %.1fx", fanCPUMax), "**missed**")
		}
		if c, ok := f["p99"]["rushws"]; ok {
			r.target("fan-out p99 at half raw's maximum, "+label, with(f["p99"]["melody"], us), with(c, us), fmt.Sprintf("≤ %.1fx", fanP99Max), ratioVerdict(c, true, fanP99Max))
		}
	}
	if c, ok := echoCPU[100]["rushws"]; ok {
		r.target("server CPU per echo round trip, 100 clients", with(echoCPU[100]["melody"], us), with(c, us), fmt.Sprintf("≤ %.1fx", echoCPUMax), ratioVerdict(c, true, echoCPUMax))
	}
	for _, m := range []string{"rushws", "rushws-goroutine"} {
		if c, ok := heap[0][m]; ok {
			r.target(fmt.Sprintf("Go heap in use after GC per idle connection, %s, heartbeats off (CI gate)", m), with(heap[0]["melody"], kib), with(c, kib), "≤ 9 KiB", verdict(c.val.Median <= gateHeap, c))
		}
	}
	if c, ok := gor[0]["rushws"]; ok {
		r.target("goroutines per idle connection, core.ReadAuto, heartbeats off (CI gate)", fmtNum(gor[0]["melody"].val.Median), fmtNum(c.val.Median), fmt.Sprintf("≤ 1 (≤ %.2f)", gateGoroutines), verdict(c.val.Median <= gateGoroutines, c))
	}
	if c, ok := gor[0]["rushws-goroutine"]; ok {
		r.target("goroutines per idle connection, core.ReadGoroutine, heartbeats off (CI gate)", fmtNum(gor[0]["melody"].val.Median), fmtNum(c.val.Median), fmt.Sprintf("1 (%.2f–%.2f)", gateGoroutineMin, gateGoroutines), verdict(c.val.Median >= gateGoroutineMin && c.val.Median <= gateGoroutines, c))
	}

	// Earlier targets that still apply.
	for _, subs := range r.subsCounts() {
		if c, ok := fan[subs]["lost"]["rushws"]; ok {
			r.other(fmt.Sprintf("messages lost below saturation, %.0f subscribers", subs), fmtNum(fan[subs]["lost"]["melody"].val.Max), fmtNum(c.val.Max), "0", verdict(c.val.Max == 0, c))
		}
	}
	if c, ok := echoPS[100]["rushws"]; ok {
		r.other("echo round trips/s with 100 clients", echoPS[100]["melody"].starred(), c.starred(), "≥ 0.95x", ratioVerdict(c, false, 0.95))
	}
	for _, m := range []string{"rushws-echo", "rushws-gin"} {
		if c, ok := acc[m]; ok {
			r.other("accept rate through "+mountName[m], acc["melody"].starred(), c.starred(), "≥ 0.9x", ratioVerdict(c, false, 0.9))
		}
	}

	head := "| metric | melody | rushws | rushws target | verdict |\n|---|---|---|---|---|\n"
	r.p("\n## Targets\n\nRatios from the same repetition (to raw-lean for idle memory, to raw for the rest), then the median (min–max) over the repetitions; the verdict is on the median. melody's column is this run's measurement, for comparison.\n\n%s", head)
	for _, t := range r.targets {
		r.p("| %s |\n", strings.Join(t, " | "))
	}
	if len(r.others) > 0 {
		r.p("\n### Earlier targets that still apply\n\n%s", head)
		for _, t := range r.others {
			r.p("| %s |\n", strings.Join(t, " | "))
		}
	}
}

// idleWS reports the npm ws idle clients (scenario idle-ws): one table per
// heartbeat setting, every figure per connection. It returns the RSS as read
// per heartbeat setting and implementation, for the targets.
func (r *reporter) idleWS() map[string]map[string]cell {
	out := map[string]map[string]cell{}
	xs := results.Filter(r.rs, scen("idle-ws"))
	if len(xs) == 0 {
		return out
	}
	r.p("\n## Idle connections, npm ws clients\n\n%.0f connections opened as users' Node.js clients open them (%s): npm `ws` with its default options, so permessage-deflate is offered (no server here accepts it), an `Origin` header of the server's own origin, each connection on its own room path `/ws/idle-N` (rushws, raw and melody join that room; raw-lean and gws ignore the path), from rotating source addresses 127.0.0.2 to 127.0.0.254. *RSS as read*: VmRSS from /proc/<pid>/status after the hold, before the server is asked anything, minus the same read before the first dial. *Freed*: after `runtime.GC` + `debug.FreeOSMemory` (benchserver's `/stats?free=1`). Goroutines and heap from the server's stats; examples/echo-chat is measured unmodified, through its Prometheus endpoint (`/admin/metrics`): no GC can be forced there, so it has no freed or after-GC figures, its baseline heap is as read, and its heartbeats stay at their shipped 25 s default in both tables (its hub spreads pings over the interval, so some connections are pinged within the hold). melody cannot turn heartbeats off (54 s default). Ratios: to %s from the same repetition.\n", xs[0].Num("conns"), xs[0].Str("client"), r.base)
	for _, hb := range []string{"off", "on"} {
		sel := scen("idle-ws", eq("heartbeat", hb))
		if len(results.Filter(r.rs, sel)) == 0 {
			continue
		}
		f := func(k string) metric { return r.perRep(sel, field(k)) }
		out[hb] = map[string]cell{}
		var rows []string
		for _, impl := range wsIdles {
			read := r.cell(f("rss_before_free_per_conn"), impl)
			if !read.measured() {
				continue
			}
			out[hb][impl] = read
			freed := r.cell(f("rss_per_conn"), impl)
			rows = append(rows, fmt.Sprintf("| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", impl,
				kibCell(read), read.ratioStr(), r.cell(f("goroutines_per_conn"), impl).value(),
				kibCell(freed), freed.ratioStr(),
				kibCell(r.cell(f("heap_inuse_as_read_per_conn"), impl)), kibCell(r.cell(f("heap_inuse_per_conn"), impl)),
				r.cell(f("pings_per_conn"), impl).value()))
		}
		title := "heartbeats off"
		if hb == "on" {
			title = "heartbeats on (every implementation pings every 5 s in the full run, 1 s in the smoke run; echo-chat as shipped)"
		}
		r.p("\n### Per idle connection, npm ws clients, %s\n\n| implementation | RSS as read, KiB | ratio to %s | goroutines | RSS freed, KiB | ratio to %s | Go heap in use as read, KiB | Go heap in use after GC, KiB | pings received |\n|---|---|---|---|---|---|---|---|---|\n%s", title, r.base, r.base, strings.Join(rows, ""))
	}
	return out
}

// kibCell shows a cell of bytes in KiB: median (min–max).
func kibCell(c cell) string {
	if !c.measured() {
		return "n/a"
	}
	s := fmt.Sprintf("%.2f", c.val.Median/1024)
	if c.val.N > 1 {
		s += fmt.Sprintf(" (%.2f–%.2f)", c.val.Min/1024, c.val.Max/1024)
	}
	if !c.valid {
		s += "*"
	}
	return s
}

func (r *reporter) distinct(scenario, k string) []float64 {
	var out []float64
	for _, x := range results.Filter(r.rs, scen(scenario)) {
		v := x.Num(k)
		found := false
		for _, o := range out {
			found = found || o == v
		}
		if !found && !math.IsNaN(v) {
			out = append(out, v)
		}
	}
	return out
}

func (r *reporter) subsCounts() []float64 { return r.distinct("fanout", "subs") }

// peak is the highest delivered rate of any step and whether that step was
// valid.
func peak(xs []rec) (float64, bool) {
	best, valid := math.NaN(), true
	for _, x := range xs {
		if v := x.Num("delivered_per_s"); math.IsNaN(best) || v > best {
			best, valid = v, x.Bool("valid")
		}
	}
	return best, valid
}

// fanout reports one subscriber count: max sustained and peak deliveries/s,
// and CPU per delivery and latency at raw's maximum load and at half of it
// (the steps are picked from raw's ladder of the same repetition; see all).
func (r *reporter) fanout(subs float64) map[string]map[string]cell {
	sel := scen("fanout", eq("subs", subs))
	label := fmt.Sprintf("%.0f", subs)
	ladder := func(impl string, rep int) []rec {
		return results.Filter(r.rs, func(x rec) bool { return sel(x) && x.Str("impl") == impl && x.Rep() == rep })
	}
	// step returns raw's ladder step nearest share × raw's peak delivered
	// rate in rep (NaN without raw).
	step := func(rep int, share float64) float64 {
		xs := ladder("raw", rep)
		pk, _ := peak(xs)
		if math.IsNaN(pk) {
			return math.NaN()
		}
		want, best := pk*share, math.NaN()
		for _, x := range xs {
			o := x.Num("offered_per_s")
			d, bd := math.Abs(o-want), math.Abs(best-want)
			if math.IsNaN(best) || d < bd || (d == bd && o < best) {
				best = o
			}
		}
		return best
	}
	at := func(share float64, k string) metric {
		return func(impl string, rep int) (float64, bool) {
			o := step(rep, share)
			for _, x := range ladder(impl, rep) {
				if x.Num("offered_per_s") == o {
					return x.Num(k), x.Bool("valid")
				}
			}
			return math.NaN(), true
		}
	}
	sustained := func(xs []rec) (float64, bool) {
		best, valid := 0.0, true
		for _, x := range xs {
			if v := x.Num("delivered_per_s"); x.Bool("sustained") && v > best {
				best, valid = v, x.Bool("valid")
			}
		}
		return best, valid
	}
	lost := func(xs []rec) (float64, bool) {
		total := 0.0
		for _, x := range xs {
			if x.Num("delivery_ratio") >= 0.95 {
				total += x.Num("lost")
			}
		}
		return total, true
	}
	var picked []string
	for _, rep := range results.Reps(r.rs) {
		pk, _ := peak(ladder("raw", rep))
		if !math.IsNaN(pk) {
			picked = append(picked, fmt.Sprintf("repetition %d: raw's peak %s/s, maximum-load step %s/s, half step %s/s", rep, fmtNum(pk), fmtNum(step(rep, 1)), fmtNum(step(rep, 0.5))))
		}
	}
	r.p("\n### 1 publisher to %s subscribers\n\nSteps compared (offered deliveries/s): %s.\n", label, strings.Join(picked, "; "))
	out := map[string]map[string]cell{}
	out["sustained"] = r.table("Max sustained deliveries/s, "+label+" subscribers", "deliveries/s", r.perRep(sel, sustained), core3)
	out["max"] = r.table("Peak delivered deliveries/s, "+label+" subscribers (any step, saturated included)", "deliveries/s", r.perRep(sel, peak), core3)
	out["cpuMax"] = r.table("Server CPU per delivery at raw's maximum load, "+label+" subscribers", "µs", at(1, "server_cpu_us_per_delivery"), core3)
	out["cpu"] = r.table("Server CPU per delivery at half raw's maximum, "+label+" subscribers", "µs", at(0.5, "server_cpu_us_per_delivery"), core3)
	out["p50"] = r.table("Fan-out p50 at half raw's maximum, "+label+" subscribers", "µs", at(0.5, "p50_us"), core3)
	out["p99"] = r.table("Fan-out p99 at half raw's maximum, "+label+" subscribers", "µs", at(0.5, "p99_us"), core3)
	r.table("Fan-out p99.9 at half raw's maximum, "+label+" subscribers", "µs", at(0.5, "p999_us"), core3)
	r.table("Fan-out p99 at raw's maximum load, "+label+" subscribers", "µs", at(1, "p99_us"), core3)
	out["lost"] = r.table("Messages lost on steps below saturation (delivered ≥ 95% of offered), "+label+" subscribers", "messages", r.perRep(sel, lost), core3)

	// The ladder itself, median per step.
	r.p("\n#### Ladder, %s subscribers (median of repetitions; delivered/s, p99 µs, server µs per delivery, load generator CPU)\n\n| offered/s |", label)
	for _, impl := range core3 {
		r.p(" %s |", impl)
	}
	r.p("\n|---|")
	for range core3 {
		r.p("---|")
	}
	r.p("\n")
	for _, off := range r.distinctSel(sel, "offered_per_s") {
		r.p("| %s |", fmtNum(off))
		for _, impl := range core3 {
			xs := results.Filter(r.rs, func(x rec) bool { return sel(x) && x.Str("impl") == impl && x.Num("offered_per_s") == off })
			if len(xs) == 0 {
				r.p(" – |")
				continue
			}
			col := func(k string) float64 {
				var v []float64
				for _, x := range xs {
					v = append(v, x.Num(k))
				}
				return results.Summarize(v).Median
			}
			mark := ""
			for _, x := range xs {
				if !x.Bool("valid") {
					mark = "*"
				}
			}
			r.p(" %s / %s / %s / %.0f%%%s |", fmtNum(col("delivered_per_s")), fmtNum(col("p99_us")), fmtNum(col("server_cpu_us_per_delivery")), 100*col("client_cpu"), mark)
		}
		r.p("\n")
	}
	return out
}

func (r *reporter) distinctSel(sel func(rec) bool, k string) []float64 {
	var out []float64
	for _, x := range results.Filter(r.rs, sel) {
		v := x.Num(k)
		found := false
		for _, o := range out {
			found = found || o == v
		}
		if !found {
			out = append(out, v)
		}
	}
	for i := range out { // insertion sort: few values
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// slow compares the stalled phase with the all-reading phase.
func (r *reporter) slow() {
	if len(results.Filter(r.rs, scen("slow"))) == 0 {
		return
	}
	r.p("\n## Slow consumers\n\nThe same rate twice: every subscriber reading, then 1%% of them stalled. Only the others are counted.\n")
	ratio := func(k string) metric {
		return func(impl string, rep int) (float64, bool) {
			xs := results.Filter(r.rs, func(x rec) bool { return x.Str("scenario") == "slow" && x.Str("impl") == impl && x.Rep() == rep })
			var a, b rec
			for _, x := range xs {
				if x.Str("phase") == "stalled" {
					b = x
				} else {
					a = x
				}
			}
			if a == nil || b == nil {
				return math.NaN(), true
			}
			return b.Num(k) / a.Num(k), a.Bool("valid") && b.Bool("valid")
		}
	}
	stalled := func(k string) metric {
		return r.perRep(scen("slow", eq("phase", "stalled")), field(k))
	}
	r.table("Others' p99, stalled phase ÷ all-reading phase", "ratio", ratio("p99_us"), core3)
	r.table("Others' delivered/s, stalled phase ÷ all-reading phase", "ratio", ratio("delivered_per_s"), core3)
	r.table("Messages lost to the others in the stalled phase", "messages", stalled("lost"), core3)
	r.table("Slow closes (server counter, end of stalled phase)", "connections", stalled("server_slow_closes"), core3)
	r.table("Drops (server counter, end of stalled phase)", "messages", stalled("server_drops"), core3)
}

// gate applies the CI gate to the idle figures with heartbeats off: rushws
// on net/http is gated in both read modes (core.ReadAuto: at most 1
// goroutine per connection; core.ReadGoroutine: 1); Echo and Gin are
// printed for information, and so is every npm ws idle measurement. It
// prints one line per measurement on stderr, keeps the gated ones for the
// table, and returns the exit code.
func (r *reporter) gate() int {
	idle := func(impl string, rep int) rec {
		xs := results.Filter(r.rs, func(x rec) bool {
			return x.Str("scenario") == "idle" && x.Str("impl") == impl && x.Str("heartbeat") == "off" && x.Rep() == rep
		})
		if len(xs) == 0 {
			return nil
		}
		return xs[0]
	}
	base := r.baseFor("idle")
	code, gated := 0, 0
	for _, rep := range results.Reps(r.rs) {
		baseRSS := math.NaN()
		if x := idle(base, rep); x != nil {
			baseRSS = x.Num("rss_before_free_per_conn")
		}
		for _, impl := range mounts {
			x := idle(impl, rep)
			if x == nil {
				continue
			}
			g, heap, rss := x.Num("goroutines_per_conn"), x.Num("heap_inuse_per_conn"), x.Num("rss_before_free_per_conn")
			ratio := "n/a"
			if !math.IsNaN(baseRSS) && baseRSS != 0 {
				ratio = fmt.Sprintf("%.2fx", rss/baseRSS)
			}
			status, limits := "information (not gated)", fmt.Sprintf("limits %.2f and %d", gateGoroutines, gateHeap)
			switch impl {
			case "rushws": // core.ReadAuto: 1 today, 0 once idle connections park on a poller
				gated++
				status, limits = "pass", fmt.Sprintf("core.ReadAuto, limits <= %.2f and %d", gateGoroutines, gateHeap)
				if !(g <= gateGoroutines) || !(heap <= gateHeap) {
					status, code = "**FAIL**", 1
				}
			case "rushws-goroutine": // core.ReadGoroutine: one reader per connection
				gated++
				status, limits = "pass", fmt.Sprintf("core.ReadGoroutine, limits %.2f-%.2f and %d", gateGoroutineMin, gateGoroutines, gateHeap)
				if !(g >= gateGoroutineMin && g <= gateGoroutines) || !(heap <= gateHeap) {
					status, code = "**FAIL**", 1
				}
			}
			fmt.Fprintf(os.Stderr, "check: %s idle rep %d, heartbeats off: %.3f goroutines and %.0f bytes of Go heap in use per connection (%s): %s; RSS as read %.0f bytes per connection, %s %s (%.0f)\n",
				impl, rep, g, heap, limits, strings.Trim(status, "*"), rss, ratio, base, baseRSS)
			r.gateLines = append(r.gateLines, fmt.Sprintf("| %d | %s | %.3f | %.0f | %.0f | %s | %s |", rep, impl, g, heap, rss, ratio, status))
		}
	}
	r.printIdleWS()
	if gated == 0 {
		fmt.Fprintln(os.Stderr, "check: FAIL: no rushws idle measurement with heartbeats off")
		r.gateLines = append(r.gateLines, "| – | rushws | – | – | – | – | **FAIL**: no measurement |")
		return 1
	}
	if code != 0 {
		fmt.Fprintln(os.Stderr, "check: FAIL: rushws is over the idle target")
	}
	return code
}

// printIdleWS prints one line per npm ws idle measurement on stderr, for
// information: RSS as read and its ratio to the baseline of the same
// repetition and heartbeat setting, goroutines, freed RSS and heap.
func (r *reporter) printIdleWS() {
	base := r.baseFor("idle-ws")
	xs := results.Filter(r.rs, scen("idle-ws"))
	for _, x := range xs {
		ratio := "n/a"
		for _, b := range xs {
			if b.Str("impl") == base && b.Rep() == x.Rep() && b.Str("heartbeat") == x.Str("heartbeat") && b.Num("rss_before_free_per_conn") > 0 {
				ratio = fmt.Sprintf("%.2fx", x.Num("rss_before_free_per_conn")/b.Num("rss_before_free_per_conn"))
			}
		}
		k := func(f string) string {
			if v := x.Num(f); !math.IsNaN(v) {
				return fmt.Sprintf("%.2f KiB", v/1024)
			}
			return "n/a"
		}
		note := ""
		if !x.Bool("valid") {
			note = " (marked invalid: " + x.Str("note") + ")"
		}
		fmt.Fprintf(os.Stderr, "idle-ws: %s rep %d, heartbeats %s, %.0f npm ws connections: RSS as read %s per connection, %s %s; %.3f goroutines per connection; freed %s; heap in use as read %s, after GC %s; %.2f pings received per connection%s\n",
			x.Str("impl"), x.Rep(), x.Str("heartbeat"), x.Num("conns"), k("rss_before_free_per_conn"), ratio, base,
			x.Num("goroutines_per_conn"), k("rss_per_conn"), k("heap_inuse_as_read_per_conn"), k("heap_inuse_per_conn"), x.Num("pings_per_conn"), note)
	}
}
