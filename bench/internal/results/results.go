// Package results reads the load generator's JSON lines and reduces them to
// the figures the report and the chart show.
package results

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
	"slices"
	"sort"
)

// Record is one measurement line.
type Record map[string]any

// Num returns a numeric field, or NaN.
func (r Record) Num(k string) float64 {
	if v, ok := r[k].(float64); ok {
		return v
	}
	return math.NaN()
}

// Str returns a string field.
func (r Record) Str(k string) string { s, _ := r[k].(string); return s }

// Bool returns a boolean field.
func (r Record) Bool(k string) bool { b, _ := r[k].(bool); return b }

// Rep returns the repetition number.
func (r Record) Rep() int { return int(r.Num("rep")) }

// Load reads every JSON line of path.
func Load(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r Record
		if json.Unmarshal(sc.Bytes(), &r) == nil && r["scenario"] != nil {
			out = append(out, r)
		}
	}
	return out, sc.Err()
}

// Filter returns the records for which keep is true.
func Filter(rs []Record, keep func(Record) bool) []Record {
	var out []Record
	for _, r := range rs {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// Reps returns the repetition numbers present, sorted.
func Reps(rs []Record) []int {
	var out []int
	for _, r := range rs {
		if !slices.Contains(out, r.Rep()) {
			out = append(out, r.Rep())
		}
	}
	sort.Ints(out)
	return out
}

// Summary is the median and range of a set of values.
type Summary struct {
	Median, Min, Max float64
	N                int
}

// Summarize reduces values, ignoring NaNs.
func Summarize(v []float64) Summary {
	var x []float64
	for _, f := range v {
		if !math.IsNaN(f) && !math.IsInf(f, 0) {
			x = append(x, f)
		}
	}
	if len(x) == 0 {
		return Summary{Median: math.NaN(), Min: math.NaN(), Max: math.NaN()}
	}
	sort.Float64s(x)
	m := x[len(x)/2]
	if len(x)%2 == 0 {
		m = (x[len(x)/2-1] + x[len(x)/2]) / 2
	}
	return Summary{Median: m, Min: x[0], Max: x[len(x)-1], N: len(x)}
}
