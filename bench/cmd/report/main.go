// Command report turns the load generator's JSON lines into the ratio table
// of BENCHMARKS.md: every figure as the median of the repetitions with its
// range, and as a ratio to raw from the same repetition (median, min-max).
// With -check it exits 1 when rushws is over the deterministic idle targets:
// goroutines per idle connection above 1.05, or Go heap in use after GC above
// 9 KiB per idle connection (heartbeats off).
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

var core3 = []string{"raw", "melody", "rushws"}

func main() {
	in := flag.String("in", "results/full/raw.jsonl", "load generator output")
	out := flag.String("out", "", "write the Markdown table here (default stdout)")
	check := flag.Bool("check", false, "exit 1 when rushws misses the idle goroutine or heap target")
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
	r := &reporter{w: w, rs: rs}
	r.all()
	invalid := len(results.Filter(rs, func(x rec) bool { return !x.Bool("valid") }))
	fmt.Fprintf(w, "\n%d measurements, %d marked invalid (load generator above its CPU limit, or connections lost); figures marked * include invalid measurements.\n", len(rs), invalid)
	if *check {
		os.Exit(r.check())
	}
}

type reporter struct {
	w  io.Writer
	rs []rec
	// targets collects the rows of the targets table.
	targets [][]string
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

// cell is a summarized figure and its ratio to raw.
type cell struct {
	val, ratio results.Summary
	valid      bool
}

func (r *reporter) cell(m metric, impl string) cell {
	var vals, ratios []float64
	valid := true
	for _, rep := range results.Reps(r.rs) {
		v, ok := m(impl, rep)
		valid = valid && ok
		vals = append(vals, v)
		if b, okb := m("raw", rep); !math.IsNaN(b) && b != 0 {
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

// table prints one row per impl: value and ratio to raw.
func (r *reporter) table(title, unit string, m metric, impls []string) map[string]cell {
	r.p("\n### %s\n\n| implementation | %s | ratio to raw |\n|---|---|---|\n", title, unit)
	out := map[string]cell{}
	for _, impl := range impls {
		c := r.cell(m, impl)
		if c.val.N == 0 {
			continue
		}
		out[impl] = c
		r.p("| %s | %s | %s |\n", impl, c.value(), c.ratioStr())
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

func (r *reporter) target(metric, melody, rushws, target string, met string) {
	r.targets = append(r.targets, []string{metric, melody, rushws, target, met})
}

func verdict(ok bool, c cell) string {
	if c.val.N == 0 {
		return "not measured"
	}
	if ok {
		return "met"
	}
	return "**missed**"
}

func (r *reporter) all() {
	r.p("## Results\n\nEvery figure: median of the repetitions (min–max). Ratios: to raw from the same repetition, then median (min–max). Differences under 10%% are noise.\n")

	// Idle.
	r.p("\n## Idle connections\n")
	var idleOff, idleOn map[string]cell
	var gOff, heapOff map[string]cell
	for _, hb := range []string{"off", "on"} {
		sel := scen("idle", eq("heartbeat", hb))
		n := ""
		if xs := results.Filter(r.rs, sel); len(xs) > 0 {
			n = fmt.Sprintf(" at %.0f connections", xs[0].Num("conns"))
		}
		rss := r.table("RSS per idle connection after debug.FreeOSMemory, heartbeats "+hb+n, "bytes", r.perRep(sel, field("rss_per_conn")), core3)
		heap := r.table("Go heap in use after GC per idle connection, heartbeats "+hb, "bytes", r.perRep(sel, field("heap_inuse_per_conn")), core3)
		r.table("Goroutine stacks per idle connection, heartbeats "+hb, "bytes", r.perRep(sel, field("stack_per_conn")), core3)
		g := r.table("Goroutines per idle connection, heartbeats "+hb, "goroutines", r.perRep(sel, field("goroutines_per_conn")), core3)
		if hb == "off" {
			idleOff, gOff, heapOff = rss, g, heap
		} else {
			idleOn = rss
		}
	}
	extra := func(impl string, rep int) (float64, bool) {
		on, ok1 := r.perRep(scen("idle", eq("heartbeat", "on")), field("rss_per_conn"))(impl, rep)
		off, ok2 := r.perRep(scen("idle", eq("heartbeat", "off")), field("rss_per_conn"))(impl, rep)
		return on - off, ok1 && ok2
	}
	hbExtra := r.table("Heartbeats on: extra RSS per connection (on minus off, same repetition)", "bytes", extra, core3)
	_ = idleOn

	// Accept.
	r.p("\n## Accept rate\n")
	acc := r.table("Upgrades per second (10,000 dials or the smoke count, 32 at a time)", "accepts/s", r.perRep(scen("accept"), field("accept_per_s")), []string{"raw", "melody", "rushws", "rushws-echo", "rushws-gin"})
	r.table("Server CPU per accept", "µs", r.perRep(scen("accept"), field("server_cpu_us_per_accept")), []string{"raw", "melody", "rushws", "rushws-echo", "rushws-gin"})

	// Fan-out.
	r.p("\n## Room fan-out\n")
	fan := map[float64]map[string]map[string]cell{}
	for _, subs := range r.subsCounts() {
		fan[subs] = r.fanout(subs)
	}

	// Echo.
	r.p("\n## Echo round trips\n")
	echo := map[float64]map[string]cell{}
	for _, n := range r.distinct("echo", "clients") {
		sel := scen("echo", eq("clients", n))
		echo[n] = r.table(fmt.Sprintf("Echo with %.0f clients", n), "round trips/s", r.perRep(sel, field("echo_per_s")), core3)
		r.table(fmt.Sprintf("Echo p99 with %.0f clients", n), "µs", r.perRep(sel, field("p99_us")), core3)
	}

	r.slow()

	// Targets.
	kib := func(c cell) string { return fmt.Sprintf("%.1f KiB (%s)", c.val.Median/1024, c.ratioStr()) }
	if c, ok := idleOff["rushws"]; ok {
		r.target("RSS per idle connection (heartbeats off)", kib(idleOff["melody"]), kib(c), "≤ 9 KiB and ≤ 1.3x raw", verdict(c.val.Median <= 9216 && c.ratio.Median <= 1.3, c))
	}
	if c, ok := heapOff["rushws"]; ok {
		r.target("Go heap in use per idle connection (CI gate)", kib(heapOff["melody"]), kib(c), "≤ 9 KiB", verdict(c.val.Median <= 9216, c))
	}
	if c, ok := gOff["rushws"]; ok {
		r.target("goroutines per idle connection", fmtNum(gOff["melody"].val.Median), fmtNum(c.val.Median), "1", verdict(c.val.Median <= 1.05, c))
	}
	if c, ok := hbExtra["rushws"]; ok {
		r.target("heartbeats on: extra RSS per connection", fmt.Sprintf("%.2f KiB", hbExtra["melody"].val.Median/1024), fmt.Sprintf("%.2f KiB", c.val.Median/1024), "≤ 0.5 KiB", verdict(c.val.Median <= 512, c))
	}
	for _, subs := range r.subsCounts() {
		f := fan[subs]
		label := fmt.Sprintf("%.0f", subs)
		if c, ok := f["cpu"]["rushws"]; ok {
			r.target("server CPU per delivery, "+label+" subscribers (at half raw's max)", f["cpu"]["melody"].ratioStr(), c.ratioStr(), "≤ 1.05x", verdict(c.ratio.Median <= 1.05, c))
		}
		if c, ok := f["max"]["rushws"]; ok {
			r.target("max deliveries/s, "+label+" subscribers", f["max"]["melody"].ratioStr(), c.ratioStr(), "≥ 1.0x", verdict(c.ratio.Median >= 1.0, c))
		}
		if c, ok := f["p99"]["rushws"]; ok {
			r.target("fan-out p99 at half raw's max, "+label+" subscribers", f["p99"]["melody"].ratioStr(), c.ratioStr(), "≤ 1.1x", verdict(c.ratio.Median <= 1.1, c))
		}
		if c, ok := f["lost"]["rushws"]; ok {
			r.target("messages lost below saturation, "+label+" subscribers", fmtNum(f["lost"]["melody"].val.Max), fmtNum(c.val.Max), "0", verdict(c.val.Max == 0, c))
		}
	}
	if c, ok := echo[100]["rushws"]; ok {
		r.target("echo/s with 100 clients", echo[100]["melody"].ratioStr(), c.ratioStr(), "≥ 0.95x", verdict(c.ratio.Median >= 0.95, c))
	}
	for _, m := range []string{"rushws-echo", "rushws-gin"} {
		if c, ok := acc[m]; ok {
			r.target("accept rate through "+strings.TrimPrefix(m, "rushws-"), acc["melody"].ratioStr(), c.ratioStr(), "≥ 0.9x", verdict(c.ratio.Median >= 0.9, c))
		}
	}
	r.p("\n## Targets\n\nRatios to raw from the same run. melody's column is this run's measurement.\n\n| metric | melody | rushws | rushws target | verdict |\n|---|---|---|---|---|\n")
	for _, t := range r.targets {
		r.p("| %s |\n", strings.Join(t, " | "))
	}
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

// fanout reports one subscriber count. "Max" is the highest delivered rate
// of any ladder step (the last step is past saturation, so this is the
// server's capacity, or the load generator's when the step is invalid).
// CPU per delivery and p99 are compared at the ladder step nearest half of
// raw's max from the same repetition: the same offered load for everyone.
func (r *reporter) fanout(subs float64) map[string]map[string]cell {
	sel := scen("fanout", eq("subs", subs))
	label := fmt.Sprintf("%.0f", subs)
	peak := func(xs []rec) (float64, bool) {
		best, valid := math.NaN(), true
		for _, x := range xs {
			if v := x.Num("delivered_per_s"); math.IsNaN(best) || v > best {
				best, valid = v, x.Bool("valid")
			}
		}
		return best, valid
	}
	half := func(rep int) float64 {
		v, _ := peak(results.Filter(r.rs, func(x rec) bool { return sel(x) && x.Str("impl") == "raw" && x.Rep() == rep }))
		return v / 2
	}
	atHalf := func(k string) metric {
		return func(impl string, rep int) (float64, bool) {
			xs := results.Filter(r.rs, func(x rec) bool { return sel(x) && x.Str("impl") == impl && x.Rep() == rep })
			h := half(rep)
			var best rec
			for _, x := range xs {
				if best == nil || math.Abs(x.Num("offered_per_s")-h) < math.Abs(best.Num("offered_per_s")-h) {
					best = x
				}
			}
			if best == nil {
				return math.NaN(), true
			}
			return best.Num(k), best.Bool("valid")
		}
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
	out := map[string]map[string]cell{}
	out["max"] = r.table("Max deliveries/s, 1 publisher to "+label+" subscribers (peak delivered on the ladder)", "deliveries/s", r.perRep(sel, peak), core3)
	out["cpu"] = r.table("Server CPU per delivery at half raw's max, "+label+" subscribers", "µs", atHalf("server_cpu_us_per_delivery"), core3)
	out["p50"] = r.table("Fan-out p50 at half raw's max, "+label+" subscribers", "µs", atHalf("p50_us"), core3)
	out["p99"] = r.table("Fan-out p99 at half raw's max, "+label+" subscribers", "µs", atHalf("p99_us"), core3)
	r.table("Fan-out p99.9 at half raw's max, "+label+" subscribers", "µs", atHalf("p999_us"), core3)
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

// check applies the CI gate to the idle figures with heartbeats off.
func (r *reporter) check() int {
	xs := results.Filter(r.rs, func(x rec) bool {
		return x.Str("scenario") == "idle" && x.Str("impl") == "rushws" && x.Str("heartbeat") == "off"
	})
	if len(xs) == 0 {
		fmt.Fprintln(os.Stderr, "check: no rushws idle measurement")
		return 1
	}
	code := 0
	for _, x := range xs {
		g, heap := x.Num("goroutines_per_conn"), x.Num("heap_inuse_per_conn")
		fmt.Fprintf(os.Stderr, "check: rushws idle rep %d: %.3f goroutines and %.0f bytes of Go heap in use per connection (limits 1.05 and 9216)\n", x.Rep(), g, heap)
		if !(g <= 1.05) || !(heap <= 9216) {
			code = 1
		}
	}
	if code != 0 {
		fmt.Fprintln(os.Stderr, "check: FAIL: rushws is over the idle target")
	}
	return code
}
