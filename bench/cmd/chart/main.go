// Command chart draws the fan-out ladder from the load generator's JSON
// lines as one PNG: deliveries/s delivered and p99 latency against offered
// load, for each subscriber count and implementation (median of the
// repetitions at each step).
package main

import (
	"flag"
	"fmt"
	"image/color"
	"math"
	"os"
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/rushws/rushws/bench/internal/results"
)

var (
	impls  = []string{"raw", "melody", "rushws"}
	colors = map[string]color.Color{
		"raw":    color.RGBA{0x44, 0x44, 0x44, 0xff},
		"melody": color.RGBA{0xd6, 0x27, 0x28, 0xff},
		"rushws": color.RGBA{0x1f, 0x77, 0xb4, 0xff},
	}
)

func main() {
	in := flag.String("in", "results/full/raw.jsonl", "load generator output")
	out := flag.String("out", "results/full/fanout.png", "PNG to write")
	title := flag.String("title", "", "title suffix (run mode, date)")
	flag.Parse()
	rs, err := results.Load(*in)
	if err != nil {
		fail(err)
	}
	fan := results.Filter(rs, func(r results.Record) bool { return r.Str("scenario") == "fanout" })
	var subsList []float64
	for _, r := range fan {
		s := r.Num("subs")
		if !contains(subsList, s) {
			subsList = append(subsList, s)
		}
	}
	sort.Float64s(subsList)
	if len(subsList) == 0 {
		fail(fmt.Errorf("no fanout measurements in %s", *in))
	}
	rows := len(subsList)
	const cols = 2
	plots := make([][]*plot.Plot, rows)
	for i, subs := range subsList {
		plots[i] = make([]*plot.Plot, cols)
		thr := plot.New()
		thr.Title.Text = fmt.Sprintf("1 publisher to %.0f subscribers %s", subs, *title)
		thr.X.Label.Text = "offered deliveries/s"
		thr.Y.Label.Text = "delivered deliveries/s"
		lat := plot.New()
		lat.Title.Text = fmt.Sprintf("p99 latency, %.0f subscribers", subs)
		lat.X.Label.Text = "offered deliveries/s"
		lat.Y.Label.Text = "p99 (ms, log scale)"
		lat.Y.Scale = plot.LogScale{}
		lat.Y.Tick.Marker = logTicks{}
		thr.X.Tick.Marker, thr.Y.Tick.Marker, lat.X.Tick.Marker = plainTicks{}, plainTicks{}, plainTicks{}
		maxOff := 0.0
		for _, impl := range impls {
			pts, lpts := series(fan, impl, subs)
			if len(pts) == 0 {
				continue
			}
			for _, p := range pts {
				maxOff = math.Max(maxOff, p.X)
			}
			addLine(thr, impl, pts)
			addLine(lat, impl, lpts)
		}
		ideal := plotter.XYs{{X: 0, Y: 0}, {X: maxOff, Y: maxOff}}
		if l, err := plotter.NewLine(ideal); err == nil {
			l.Color = color.Gray{0xbb}
			l.Dashes = []vg.Length{vg.Points(3), vg.Points(3)}
			thr.Add(l)
			thr.Legend.Add("offered", l)
		}
		thr.Legend.Top, thr.Legend.Left = true, true
		lat.Legend.Top, lat.Legend.Left = true, true
		thr.Add(plotter.NewGrid())
		lat.Add(plotter.NewGrid())
		plots[i][0], plots[i][1] = thr, lat
	}
	img := vgimg.New(vg.Points(1100), vg.Points(float64(380*rows)))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Points(12), PadY: vg.Points(12), PadTop: vg.Points(6), PadBottom: vg.Points(6), PadLeft: vg.Points(6), PadRight: vg.Points(6)}
	canvases := plot.Align(plots, tiles, dc)
	for i := range plots {
		for j := range plots[i] {
			plots[i][j].Draw(canvases[i][j])
		}
	}
	f, err := os.Create(*out)
	if err != nil {
		fail(err)
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		fail(err)
	}
	if err := f.Close(); err != nil {
		fail(err)
	}
}

// series returns delivered/s and p99 (ms) against offered load, the median
// of the repetitions at each step.
func series(fan []results.Record, impl string, subs float64) (plotter.XYs, plotter.XYs) {
	by := map[float64][]results.Record{}
	for _, r := range fan {
		if r.Str("impl") == impl && r.Num("subs") == subs {
			by[r.Num("offered_per_s")] = append(by[r.Num("offered_per_s")], r)
		}
	}
	var offs []float64
	for o := range by {
		offs = append(offs, o)
	}
	sort.Float64s(offs)
	var thr, lat plotter.XYs
	for _, o := range offs {
		var d, p []float64
		for _, r := range by[o] {
			d = append(d, r.Num("delivered_per_s"))
			p = append(p, r.Num("p99_us")/1000)
		}
		thr = append(thr, plotter.XY{X: o, Y: results.Summarize(d).Median})
		if v := results.Summarize(p).Median; v > 0 {
			lat = append(lat, plotter.XY{X: o, Y: v})
		}
	}
	return thr, lat
}

func addLine(p *plot.Plot, impl string, pts plotter.XYs) {
	if len(pts) == 0 {
		return
	}
	l, s, err := plotter.NewLinePoints(pts)
	if err != nil {
		return
	}
	l.Color, s.Color = colors[impl], colors[impl]
	l.Width = vg.Points(1.5)
	p.Add(l, s)
	p.Legend.Add(impl, l, s)
}

// plainTicks are the default ticks labelled without decimals.
type plainTicks struct{}

func (plainTicks) Ticks(min, max float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(min, max)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = fmt.Sprintf("%.0f", ts[i].Value)
		}
	}
	return ts
}

// logTicks label 1, 2, 3 and 5 times each power of ten.
type logTicks struct{}

func (logTicks) Ticks(min, max float64) []plot.Tick {
	var ts []plot.Tick
	for e := math.Floor(math.Log10(min)); e <= math.Ceil(math.Log10(max)); e++ {
		for _, m := range []float64{1, 2, 3, 5} {
			v := m * math.Pow(10, e)
			if v >= min && v <= max {
				ts = append(ts, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', -1, 64)})
			}
		}
	}
	return ts
}

func contains(v []float64, x float64) bool {
	for _, y := range v {
		if y == x {
			return true
		}
	}
	return false
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "chart:", err)
	os.Exit(1)
}
