package cli

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestHistogramIndexRoundTrip(t *testing.T) {
	t.Parallel()
	vals := []uint64{0, 1, 255, 256, 257, 511, 512, 1000, 1 << 20, 123456789, 1 << 40, math.MaxUint64 >> 1, math.MaxUint64}
	for _, v := range vals {
		i := histIndex(v)
		if i < 0 || i >= histBuckets {
			t.Fatalf("histIndex(%d) = %d, out of [0, %d)", v, i, histBuckets)
		}
		hi := histHighest(i)
		if hi < v {
			t.Errorf("value %d in bucket %d whose highest value is %d", v, i, hi)
		}
		if i > 0 && histHighest(i-1) >= v {
			t.Errorf("value %d in bucket %d but bucket %d reaches %d", v, i, i-1, histHighest(i-1))
		}
	}
	// Buckets are contiguous: each starts right after the previous one.
	for i := 1; i < histBuckets; i++ {
		if got := histIndex(histHighest(i-1) + 1); got != i {
			t.Fatalf("bucket after %d's highest value %d is %d, want %d", i-1, histHighest(i-1), got, i)
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	var h histogram
	vals := make([]uint64, 100000)
	for i := range vals {
		// Latency-like: log-normal-ish between 50 µs and a few seconds.
		vals[i] = uint64(50_000 * math.Exp(rng.NormFloat64()*1.5+1))
		h.record(vals[i])
	}
	slices.Sort(vals)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		exact := vals[int(math.Ceil(q*float64(len(vals))))-1]
		got := h.quantile(q)
		if got < exact || float64(got-exact) > float64(exact)/float64(histHalf)+1 {
			t.Errorf("q%v = %d, exact %d: beyond one bucket width (%.2f%%)", q, got, exact, 100/float64(histHalf))
		}
	}
	if h.quantile(1) != vals[len(vals)-1] || h.max != vals[len(vals)-1] || h.min != vals[0] {
		t.Errorf("max/min: q1 %d, max %d, min %d; want %d and %d", h.quantile(1), h.max, h.min, vals[len(vals)-1], vals[0])
	}
	var a, b histogram
	for i, v := range vals {
		if i%2 == 0 {
			a.record(v)
		} else {
			b.record(v)
		}
	}
	a.merge(&b)
	if a.n != h.n || a.quantile(0.99) != h.quantile(0.99) || a.max != h.max || a.min != h.min {
		t.Errorf("merged histogram differs: n %d/%d p99 %d/%d", a.n, h.n, a.quantile(0.99), h.quantile(0.99))
	}
	var empty histogram
	if empty.quantile(0.5) != 0 || empty.mean() != 0 {
		t.Error("empty histogram should report zeroes")
	}
	empty.recordDuration(-time.Second)
	if empty.max != 0 {
		t.Error("negative durations count as 0")
	}
}

func TestParseFormat(t *testing.T) {
	t.Parallel()
	r := &kgo.Record{
		Topic: "t", Partition: 3, Offset: 42, Key: []byte("k"), Value: []byte("v"),
		Timestamp: time.UnixMilli(1700000000123),
		Headers:   []kgo.RecordHeader{{Key: "a", Value: []byte("1")}, {Key: "b", Value: []byte("2")}},
	}
	for _, c := range []struct{ format, want string }{
		{`%v\n`, "v\n"},
		{`%t/%p@%o %k=%v %T [%h]\t%K %S 100%%\\`, "t/3@42 k=v 1700000000123 [a=1,b=2]\t1 1 100%\\"},
		{`\x%v`, `\xv`},
	} {
		f, err := parseFormat(c.format)
		if err != nil {
			t.Fatalf("parseFormat(%q): %v", c.format, err)
		}
		if got := string(f.append(nil, r)); got != c.want {
			t.Errorf("format %q: got %q, want %q", c.format, got, c.want)
		}
	}
	null := &kgo.Record{}
	f, _ := parseFormat("%K %S")
	if got := string(f.append(nil, null)); got != "-1 -1" {
		t.Errorf("null lengths: %q", got)
	}
	for _, bad := range []string{"%", "%x", "abc %q"} {
		if _, err := parseFormat(bad); err == nil {
			t.Errorf("parseFormat(%q) accepted", bad)
		}
	}
}

func TestParseFrom(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in         string
		start, end int64
		want       int64
	}{
		{"earliest", 5, 10, 5}, {"latest", 5, 10, 10}, {"7", 5, 10, 7}, {"2", 5, 10, 5},
		{"99", 5, 10, 10}, {"-3", 5, 10, 7}, {"-30", 5, 10, 5}, {"end", 0, 4, 4}, {"beginning", 1, 4, 1},
	} {
		s, err := parseFrom(c.in)
		if err != nil {
			t.Fatalf("parseFrom(%q): %v", c.in, err)
		}
		if got := s.resolve(c.start, c.end); got != c.want {
			t.Errorf("--from %s in [%d, %d]: %d, want %d", c.in, c.start, c.end, got, c.want)
		}
	}
	if _, err := parseFrom("yesterday"); err == nil {
		t.Error("parseFrom accepted yesterday")
	}
}

func TestParseInterleaved(t *testing.T) {
	t.Parallel()
	c := newCommand(Env{Stderr: &strings.Builder{}}, "x", "x", "")
	n := c.fs.Int("n", 0, "")
	b := c.fs.Bool("v", false, "")
	pos, err := c.parse([]string{"a", "-n", "3", "b", "--v", "--", "-n", "c"})
	if err != nil {
		t.Fatal(err)
	}
	if *n != 3 || !*b || strings.Join(pos, " ") != "a b -n c" {
		t.Errorf("n=%d v=%v pos=%q", *n, *b, pos)
	}
	if _, err := c.parse([]string{"--nope"}); err == nil {
		t.Error("unknown flag accepted")
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"nope"}, {"topic"}, {"topic", "frob"}, {"topic", "create"}, {"topic", "alter", "x"},
		{"produce"}, {"consume"}, {"consume", "t", "--format", "%z"}, {"consume", "t", "--group", "g", "--partition", "1"},
		{"bench", "produce", "--acks", "1", "--idempotent"}, {"bench", "produce", "--max-inflight", "3"},
		{"group", "reset-offsets", "g"}, {"group", "reset-offsets", "g", "--topic", "t"},
		{"log", "verify"}, {"log", "dump", "a", "b"},
	} {
		if r := run(t, "", args...); r.code != ExitUsage {
			t.Errorf("chronik %s: exit %d, want %d (stderr %q)", strings.Join(args, " "), r.code, ExitUsage, r.stderr)
		}
	}
	if r := run(t, "", "topic", "create", "-h"); r.code != 0 || !strings.Contains(r.stderr, "--partitions") {
		t.Errorf("-h: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestNoBroker(t *testing.T) {
	t.Parallel()
	r := run(t, "", "topic", "list", "--bootstrap", "127.0.0.1:1", "--timeout", "500ms")
	if r.code != ExitFail || !strings.Contains(r.stderr, "chronik topic list: cannot connect to 127.0.0.1:1") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}
