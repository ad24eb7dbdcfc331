package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// worker is one concurrent client; ops may keep state on it (a refresh token chain).
type worker struct {
	id    int
	state any
}

type opFunc func(ctx context.Context, w *worker) error

type result struct {
	name, target string
	round        int
	ops          int
	elapsed      time.Duration
	p50, p99     time.Duration
	cpuPerOp     time.Duration // -1: unknown
	errors       map[string]int
	errCount     int
}

func (r result) rate() float64 { return float64(r.ops) / r.elapsed.Seconds() }

func (r result) line() string {
	cpu := "-"
	if r.cpuPerOp >= 0 {
		cpu = fmt.Sprintf("%d µs", r.cpuPerOp.Microseconds())
	}
	return fmt.Sprintf("%-44s %8.1f/s  p50 %-10s p99 %-10s cpu/op %-10s errors %d", r.name, r.rate(),
		r.p50.Round(10*time.Microsecond), r.p99.Round(10*time.Microsecond), cpu, r.errCount)
}

// measure runs op on o.concurrency workers for o.duration (or o.count operations), after setup of each
// worker; it reports the latency percentiles, the CPU of process pid per operation and every error.
func measure(ctx context.Context, o options, name, target string, pid int, setup func(ctx context.Context, w *worker) error, op opFunc) (result, error) {
	workers := make([]*worker, o.concurrency)
	for i := range workers {
		workers[i] = &worker{id: i}
		if setup != nil {
			if err := setup(ctx, workers[i]); err != nil {
				return result{}, fmt.Errorf("set up worker %d: %w", i, err)
			}
		}
	}
	// No operation starts after the duration; those started may finish (within a minute), so that
	// slow operations are measured rather than cut off.
	ctx, cancel := context.WithTimeout(ctx, o.duration+time.Minute)
	defer cancel()
	var mu sync.Mutex
	var lat []time.Duration
	errs := map[string]int{}
	errCount, started := 0, 0
	take := func() bool { // one more operation allowed?
		mu.Lock()
		defer mu.Unlock()
		if o.count > 0 && started >= o.count {
			return false
		}
		started++
		return true
	}
	cpu0, cpuOK := procCPU(pid)
	t0 := time.Now()
	deadline := t0.Add(o.duration)
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(deadline) && take() {
				s := time.Now()
				err := op(ctx, w)
				d := time.Since(s)
				mu.Lock()
				if err != nil {
					errCount++
					errs[err.Error()]++
				} else {
					lat = append(lat, d)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(t0)
	cpu1, cpuOK1 := procCPU(pid)
	r := result{name: name, target: target, ops: len(lat), elapsed: elapsed, errors: errs, errCount: errCount, cpuPerOp: -1}
	slices.Sort(lat)
	if n := len(lat); n > 0 {
		r.p50, r.p99 = lat[n/2], lat[min(n-1, n*99/100)]
		if cpuOK && cpuOK1 {
			r.cpuPerOp = (cpu1 - cpu0) / time.Duration(n)
		}
	}
	return r, nil
}

// procCPU reads the user+system CPU time of a local process from /proc/<pid>/stat (Linux).
func procCPU(pid int) (time.Duration, bool) {
	if pid <= 0 {
		return 0, false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command name may hold spaces
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 { // fields 14 and 15 (utime, stime) are f[11] and f[12]
		return 0, false
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / ticks, true
}

func report(w io.Writer, o options, results []result) {
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| measure | target | round | ops | ops/s | p50 | p99 | CPU/op | errors |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	for _, r := range results {
		cpu := "-"
		if r.cpuPerOp >= 0 {
			cpu = fmt.Sprintf("%d µs", r.cpuPerOp.Microseconds())
		}
		fmt.Fprintf(w, "| %s | %s | %d | %d | %.1f | %s | %s | %s | %d |\n", r.name, r.target, r.round, r.ops, r.rate(),
			fmtDur(r.p50), fmtDur(r.p99), cpu, r.errCount)
	}
	// Side-by-side ratios, the argon2id bound and the CPU beyond each yardstick, each against the other
	// OP and the yardsticks of the same round.
	type key struct {
		name, target string
		round        int
	}
	byKey := map[key]result{}
	for _, r := range results {
		byKey[key{r.name, r.target, r.round}] = r
	}
	const argon2Name = "argon2id (this process, GOMAXPROCS at once)"
	suffix := func(round int) string {
		if o.rounds == 1 {
			return ""
		}
		return fmt.Sprintf(" (round %d)", round)
	}
	first := true
	for _, r := range results {
		if r.target != "portcullis" {
			continue
		}
		line := ""
		peer := r.name
		if peer == "refresh (ES256 client)" {
			peer = "refresh" // the other OP's refresh, whatever it signs with
		}
		if other, ok := byKey[key{peer, o.compareName, r.round}]; ok && other.rate() > 0 {
			line = fmt.Sprintf("%s%s: %.2f × %s", r.name, suffix(r.round), r.rate()/other.rate(), o.compareName)
		}
		if b, ok := byKey[key{argon2Name, "this process", r.round}]; ok && b.rate() > 0 &&
			(r.name == "password sign-in" || r.name == "password+TOTP sign-in") {
			line = fmt.Sprintf("%s%s: %.2f × the argon2id bound (%.1f/s)", r.name, suffix(r.round), r.rate()/b.rate(), b.rate())
		}
		if line != "" {
			if first {
				fmt.Fprintln(w)
				first = false
			}
			fmt.Fprintln(w, line)
		}
	}
	// CPU per operation next to its yardsticks measured in this run: two signatures for a refresh, one
	// argon2id hash (GOMAXPROCS at once, as sign-ins run under load) for a password sign-in.
	yardsticks := []struct{ measure, yardstick, what string }{
		{"refresh", "RS256 signature (this process)", "two RS256 signatures (2 × %d µs)"},
		{"refresh (ES256 client)", "ES256 signature (this process)", "two ES256 signatures (2 × %d µs)"},
		{"password sign-in", argon2Name, "one argon2id hash (%d µs)"},
		{"password+TOTP sign-in", argon2Name, "one argon2id hash (%d µs)"},
	}
	for _, y := range yardsticks {
		n := time.Duration(1)
		if strings.HasPrefix(y.what, "two") {
			n = 2
		}
		for _, r := range results {
			if r.name != y.measure || r.target != "portcullis" || r.cpuPerOp <= 0 {
				continue
			}
			ys, ok := byKey[key{y.yardstick, "this process", r.round}]
			if !ok || ys.cpuPerOp <= 0 {
				continue
			}
			fmt.Fprintf(w, "%s%s: %d µs of CPU = "+y.what+" + %d µs\n", r.name, suffix(r.round), r.cpuPerOp.Microseconds(),
				ys.cpuPerOp.Microseconds(), (r.cpuPerOp - n*ys.cpuPerOp).Microseconds())
		}
	}
	var errLines []string
	for _, r := range results {
		for e, n := range r.errors {
			errLines = append(errLines, fmt.Sprintf("%s (%s, round %d): %d × %s", r.name, r.target, r.round, n, e))
		}
	}
	if len(errLines) > 0 {
		sort.Strings(errLines)
		fmt.Fprintln(w, "\nerrors:")
		for _, l := range errLines {
			fmt.Fprintln(w, "  "+l)
		}
	} else {
		fmt.Fprintln(w, "\nerrors: none")
	}
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%d µs", d.Microseconds())
	}
}
