package main

import (
	"fmt"
	"image/color"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/certsight/certsight/tests/bench/internal/edgeresult"
)

var (
	ours   = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff} // certsight
	others = color.RGBA{R: 0xb0, G: 0xb0, B: 0xb0, A: 0xff}
	marks  = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
)

func isOurs(name string) bool { return len(name) >= 9 && name[:9] == "certsight" }

// hbars draws one horizontal bar per name (first name on top), certsight's
// in colour; value labels sit at the bars' ends.
func hbars(p *plot.Plot, names []string, vals []float64, format string) error {
	n := len(names)
	mine := make(plotter.Values, n)
	rest := make(plotter.Values, n)
	labels := plotter.XYLabels{}
	// NominalY puts the first name at the bottom; reverse so the table's
	// order reads top-down.
	ys := make([]string, n)
	for i := range names {
		j := n - 1 - i
		ys[j] = names[i]
		if isOurs(names[i]) {
			mine[j] = vals[i]
		} else {
			rest[j] = vals[i]
		}
		labels.XYs = append(labels.XYs, plotter.XY{X: vals[i], Y: float64(j)})
		labels.Labels = append(labels.Labels, " "+fmt.Sprintf(format, vals[i]))
	}
	for _, set := range []struct {
		v plotter.Values
		c color.Color
	}{{mine, ours}, {rest, others}} {
		b, err := plotter.NewBarChart(set.v, vg.Points(14))
		if err != nil {
			return err
		}
		b.Horizontal = true
		b.Color = set.c
		b.LineStyle.Width = 0
		p.Add(b)
	}
	l, err := plotter.NewLabels(labels)
	if err != nil {
		return err
	}
	for i := range l.TextStyle {
		l.TextStyle[i].YAlign = draw.YCenter
		l.TextStyle[i].Font.Size = vg.Points(9)
	}
	p.Add(l)
	p.NominalY(ys...)
	p.X.Min = 0
	return nil
}

func vline(p *plot.Plot, x float64, n int, label string, dashes []vg.Length) error {
	l, err := plotter.NewLine(plotter.XYs{{X: x, Y: -0.5}, {X: x, Y: float64(n) - 0.5}})
	if err != nil {
		return err
	}
	l.Color = marks
	l.Dashes = dashes
	l.Width = vg.Points(1)
	p.Add(l)
	p.Legend.Add(label, l)
	return nil
}

func plotEdgeBars(d *edgeresult.Document, file, title, xlabel string, val func(int) float64, baselineLines bool) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xlabel
	names := make([]string, len(d.Summary))
	vals := make([]float64, len(d.Summary))
	base := math.NaN()
	for i, s := range d.Summary {
		names[i] = s.Name
		vals[i] = val(i)
		if s.Name == d.Baseline {
			base = vals[i]
		}
	}
	if err := hbars(p, names, vals, "%.0f"); err != nil {
		return err
	}
	if baselineLines && !math.IsNaN(base) {
		if err := vline(p, base, len(names), d.Baseline+" ×1.0", nil); err != nil {
			return err
		}
		if err := vline(p, 1.3*base, len(names), d.Baseline+" ×1.3", []vg.Length{vg.Points(4), vg.Points(3)}); err != nil {
			return err
		}
		p.Legend.Top = true
	}
	p.X.Max = slices.Max(vals) * 1.18
	if baselineLines && !math.IsNaN(base) {
		p.X.Max = math.Max(p.X.Max, 1.3*base) * 1.25 // room for the legend
	}
	return p.Save(7*vg.Inch, 3.6*vg.Inch, file)
}

// latencyPoints are the percentiles drawn, at x = -log10(1-q) so the tail
// gets room.
var latencyPoints = []struct {
	q     float64
	label string
}{{0.5, "p50"}, {0.75, "p75"}, {0.9, "p90"}, {0.95, "p95"}, {0.99, "p99"}, {0.999, "p99.9"}}

func plotLatency(d *edgeresult.Document, file string) error {
	p := plot.New()
	p.Title.Text = "Latency percentiles (client side, shared machine)"
	p.Y.Label.Text = "ms"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	var ticks []plot.Tick
	for _, lp := range latencyPoints {
		ticks = append(ticks, plot.Tick{Value: -math.Log10(1 - lp.q), Label: lp.label})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	var args []any
	for _, s := range d.Summary {
		var xys plotter.XYs
		for _, lp := range latencyPoints {
			v := s.Hist.Quantile(lp.q)
			if v <= 0 { // an empty histogram
				continue
			}
			xys = append(xys, plotter.XY{X: -math.Log10(1 - lp.q), Y: v / 1e3})
		}
		if len(xys) > 0 {
			args = append(args, s.Name, xys)
		}
	}
	if err := plotutil.AddLinePoints(p, args...); err != nil {
		return err
	}
	p.Legend.Top = true
	p.Legend.Left = true
	return p.Save(7*vg.Inch, 4.2*vg.Inch, file)
}

func plotNSS(rows []nssRow, file string) error {
	p := plot.New()
	p.Title.Text = "NSS database scan: CPU time against size"
	p.X.Label.Text = "certificates in the database"
	p.Y.Label.Text = "CPU seconds (user + system)"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
	byProgram := map[string]plotter.XYs{}
	var order []string
	for _, r := range rows {
		if _, ok := byProgram[r.Program]; !ok {
			order = append(order, r.Program)
		}
		// CPU time is counted in 10 ms ticks; keep the log scale finite.
		byProgram[r.Program] = append(byProgram[r.Program], plotter.XY{X: float64(r.Certs), Y: math.Max(r.CPU, 0.005)})
	}
	var args []any
	for _, name := range order {
		xys := byProgram[name]
		slices.SortFunc(xys, func(a, b plotter.XY) int { return int(a.X - b.X) })
		args = append(args, name, xys)
	}
	if err := plotutil.AddLinePoints(p, args...); err != nil {
		return err
	}
	p.Legend.Top = true
	p.Legend.Left = true
	return p.Save(7*vg.Inch, 4.2*vg.Inch, file)
}

func plotMiddleware(names []string, ns []float64, file string) error {
	p := plot.New()
	p.Title.Text = "Edge middleware and rules: time per request"
	p.X.Label.Text = "ns per operation"
	if err := hbars(p, names, ns, "%.0f ns"); err != nil {
		return err
	}
	if err := vline(p, 1000, len(names), "1 µs budget", []vg.Length{vg.Points(4), vg.Points(3)}); err != nil {
		return err
	}
	p.Legend.Top = true
	p.X.Max = math.Max(slices.Max(ns), 1000) * 1.25
	return p.Save(7*vg.Inch, 3.2*vg.Inch, file)
}
