package log

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"path"
	"strings"
	"testing"

	"github.com/chronik-stream/chronik/internal/records"
	"github.com/chronik-stream/chronik/internal/vfs"
)

// The corruption table (etcd's repair_test style): one scenario, many ways
// to damage the files a crash left behind. Recovery must drop only the
// damaged tail, keep everything before it readable, keep the cut bytes in a
// .broken file, and take appends at the right offset afterwards.

const corruptDir = "/data/t-0"

type batchLoc struct {
	base, last int64
	pos, size  int
}

type segLayout struct {
	base    int64
	name    string
	data    []byte
	batches []batchLoc
}

type damaged struct {
	t      *testing.T
	fs     *vfs.MemFS
	segs   []segLayout
	rp     recoveryPoint
	hasRP  bool
	rng    *rand.Rand
	seg    int  // segment of the first damaged log byte; -1 if the log is intact
	pos    int  // its position
	broken bool // recovery should write a .broken file
	note   string
}

// scanStart is the first position of the last segment that recovery scans.
func (d *damaged) scanStart() int {
	last := d.segs[len(d.segs)-1]
	if d.hasRP && d.rp.segBase == last.base {
		return int(d.rp.pos)
	}
	return 0
}

func (d *damaged) lastSeg() (int, *segLayout) { return len(d.segs) - 1, &d.segs[len(d.segs)-1] }

// atBoundary reports whether pos is where a batch of s starts or s ends.
func (s *segLayout) atBoundary(pos int) bool {
	for _, b := range s.batches {
		if b.pos == pos || b.pos+b.size == pos {
			return true
		}
	}
	return pos == 0
}

// damageLog replaces segment i's bytes with data, recording the first
// differing byte as the damage.
func (d *damaged) damageLog(i int, data []byte) {
	s := &d.segs[i]
	old := s.data
	first := -1
	for j := 0; j < min(len(old), len(data)); j++ {
		if old[j] != data[j] {
			first = j
			break
		}
	}
	if first < 0 && len(data) != len(old) {
		first = min(len(old), len(data))
	}
	if first < 0 {
		return
	}
	if d.seg < 0 || i < d.seg || (i == d.seg && first < d.pos) {
		d.seg, d.pos = i, first
	}
	// Recovery cuts (and keeps) the bytes after the last good batch, unless
	// the file now ends exactly there.
	d.broken = len(data) > d.pos || !s.atBoundary(d.pos) || i < len(d.segs)-1
	must(d.t, d.fs.WriteFile(s.name, data))
}

func tamper(t *testing.T, fs *vfs.MemFS, name string, f func([]byte) []byte) {
	b, err := fs.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	must(t, fs.WriteFile(name, f(b)))
}

var corruptions = []struct {
	name   string
	damage func(t *testing.T, d *damaged)
}{
	{"none", func(t *testing.T, d *damaged) {}},
	{"truncate last segment mid-batch", func(t *testing.T, d *damaged) {
		i, s := d.lastSeg()
		start := d.scanStart()
		if len(s.data) == start {
			return
		}
		pos := start + d.rng.IntN(len(s.data)-start)
		d.damageLog(i, bytes.Clone(s.data[:pos]))
	}},
	{"truncate last segment at a batch boundary", func(t *testing.T, d *damaged) {
		i, s := d.lastSeg()
		var cands []int
		for _, b := range s.batches {
			if b.pos >= d.scanStart() {
				cands = append(cands, b.pos)
			}
		}
		if len(cands) == 0 {
			return
		}
		d.damageLog(i, bytes.Clone(s.data[:cands[d.rng.IntN(len(cands))]]))
	}},
	{"junk in last segment", func(t *testing.T, d *damaged) {
		i, s := d.lastSeg()
		start := d.scanStart()
		if len(s.data)-start < 5 {
			return
		}
		data := bytes.Clone(s.data)
		pos := start + d.rng.IntN(len(data)-start-4)
		n := 5 + d.rng.IntN(min(40, len(data)-pos-4))
		for j := pos; j < pos+n && j < len(data); j++ {
			data[j] ^= byte(1 + d.rng.IntN(255))
		}
		d.damageLog(i, data)
	}},
	{"zeroed region in last segment", func(t *testing.T, d *damaged) {
		i, s := d.lastSeg()
		start := d.scanStart()
		if len(s.data)-start < 5 {
			return
		}
		data := bytes.Clone(s.data)
		pos := start + d.rng.IntN(len(data)-start-4)
		clear(data[pos:min(len(data), pos+512)]) // a sector
		d.damageLog(i, data)
	}},
	{"zeroed tail (unwritten blocks)", func(t *testing.T, d *damaged) {
		i, s := d.lastSeg()
		start := d.scanStart()
		if len(s.data) == start {
			return
		}
		data := bytes.Clone(s.data)
		clear(data[start+d.rng.IntN(len(data)-start):])
		data = append(data, make([]byte, 4096)...)
		d.damageLog(i, data)
	}},
	{"garbage appended", func(t *testing.T, d *damaged) {
		i, s := d.lastSeg()
		junk := make([]byte, 1+d.rng.IntN(300))
		for j := range junk {
			junk[j] = byte(d.rng.IntN(256))
		}
		d.damageLog(i, append(bytes.Clone(s.data), junk...))
	}},
	{"index files deleted", func(t *testing.T, d *damaged) {
		for _, s := range d.segs {
			for _, suf := range []string{indexSuffix, timeIndexSuffix} {
				must(t, d.fs.Remove(strings.TrimSuffix(s.name, logSuffix)+suf))
			}
		}
	}},
	{"index files junk", func(t *testing.T, d *damaged) {
		for _, s := range d.segs {
			for _, suf := range []string{indexSuffix, timeIndexSuffix} {
				tamper(t, d.fs, strings.TrimSuffix(s.name, logSuffix)+suf, func(b []byte) []byte {
					for j := range b {
						if d.rng.IntN(3) == 0 {
							b[j] = byte(d.rng.IntN(256))
						}
					}
					return append(b, 1, 2, 3) // and a torn entry
				})
			}
		}
	}},
	{"recovery point missing, junk in first segment", func(t *testing.T, d *damaged) {
		must(t, d.fs.Remove(path.Join(corruptDir, recoveryFile)))
		d.hasRP = false
		data := bytes.Clone(d.segs[0].data)
		pos := d.rng.IntN(len(data) - 5)
		for j := pos; j < pos+5; j++ {
			data[j] ^= 0x5a
		}
		d.damageLog(0, data)
	}},
	{"recovery point garbage", func(t *testing.T, d *damaged) {
		must(t, d.fs.WriteFile(path.Join(corruptDir, recoveryFile), []byte("garbage")))
	}},
	{"producer snapshots garbage", func(t *testing.T, d *damaged) {
		names, _ := d.fs.ReadDir(corruptDir)
		for _, n := range names {
			if strings.HasSuffix(n, snapshotSuffix) {
				tamper(t, d.fs, path.Join(corruptDir, n), func(b []byte) []byte { b[len(b)-1] ^= 1; return b })
			}
		}
	}},
}

func TestCorruptionRecovery(t *testing.T) {
	for _, c := range corruptions {
		for seed := uint64(0); seed < 6; seed++ {
			t.Run(fmt.Sprintf("%s/%d", c.name, seed), func(t *testing.T) {
				t.Parallel()
				corruptionRound(t, seed, c.damage)
			})
		}
	}
}

func corruptionRound(t *testing.T, seed uint64, damage func(*testing.T, *damaged)) {
	rng := rand.New(rand.NewPCG(seed, 42))
	cfg := Config{SegmentBytes: 2500, IndexIntervalBytes: 150}
	fs := vfs.NewMemFS()
	opts := Options{FS: fs, Logger: testLogger(t)}
	p, err := Open(corruptDir, "t", 0, cfg, opts)
	must(t, err)
	n := 20 + rng.IntN(40)
	seq := int32(0)
	for i := 0; i < n; i++ {
		spec := batchSpec{records: 1 + rng.IntN(4), valueSize: rng.IntN(120), fill: byte(i), baseTs: int64(1000 + i)}
		if i%3 == 0 {
			spec.idempotent, spec.pid, spec.seq = true, 7, seq
			seq += int32(spec.records)
		}
		appendWait(t, p, makeBatch(spec))
	}
	d := &damaged{t: t, fs: fs.Crash(), rng: rng, seg: -1}
	p.Close()

	// Layout of what the crash left.
	names, _ := d.fs.ReadDir(corruptDir)
	for _, name := range names {
		base, ok := parseFileName(name, logSuffix)
		if !ok {
			continue
		}
		full := path.Join(corruptDir, name)
		data, err := d.fs.ReadFile(full)
		must(t, err)
		s := segLayout{base: base, name: full, data: data}
		pos := 0
		must(t, records.Split(data, func(h records.Header, b []byte) error {
			s.batches = append(s.batches, batchLoc{h.BaseOffset, h.LastOffset(), pos, len(b)})
			pos += len(b)
			return nil
		}))
		d.segs = append(d.segs, s)
	}
	if b, err := d.fs.ReadFile(path.Join(corruptDir, recoveryFile)); err == nil {
		d.rp, err = decodeRecoveryPoint(b)
		d.hasRP = err == nil
	}
	damage(t, d)

	// Which batches must survive: all before the first damaged byte.
	var want []batchLoc
	var wantData [][]byte
	for i, s := range d.segs {
		for _, b := range s.batches {
			if d.seg >= 0 && (i > d.seg || (i == d.seg && b.pos+b.size > d.pos)) {
				continue
			}
			want = append(want, b)
			wantData = append(wantData, s.data[b.pos:b.pos+b.size])
		}
	}
	wantLEO := int64(0)
	if len(want) > 0 {
		wantLEO = want[len(want)-1].last + 1
	}

	opts.FS = d.fs
	p, err = Open(corruptDir, "t", 0, cfg, opts)
	must(t, err)
	defer p.Close()
	if ls, hw, leo := p.Offsets(); ls != 0 || hw != wantLEO || leo != wantLEO {
		t.Fatalf("offsets %d %d %d, want leo %d (damage in segment %d at %d)", ls, hw, leo, wantLEO, d.seg, d.pos)
	}
	for i, b := range want {
		for _, off := range []int64{b.base, b.last} {
			rr, err := p.Read(off, 1, true)
			must(t, err)
			if !bytes.Equal(rr.Records, wantData[i]) {
				t.Fatalf("batch %d..%d not intact after recovery", b.base, b.last)
			}
		}
		// A long read by span (which hops with the index) names what a
		// read returns.
		rr, err := p.Read(b.base, 1<<20, true)
		must(t, err)
		_, sp, err := p.ReadSpan(b.base, 1<<20, true, false)
		must(t, err)
		got, err := sp.ReadInto(nil)
		must(t, err)
		sp.Release()
		if !bytes.Equal(got, rr.Records) {
			t.Fatalf("ReadSpan(%d) after recovery: %d bytes, Read %d", b.base, len(got), len(rr.Records))
		}
	}
	names, _ = d.fs.ReadDir(corruptDir)
	brokenFiles := 0
	for _, n := range names {
		if strings.Contains(n, brokenSuffix) {
			brokenFiles++
		}
	}
	if d.broken != (brokenFiles > 0) {
		t.Fatalf("broken files: %d, expected some: %v (names %v)", brokenFiles, d.broken, names)
	}
	// Appends continue at the right offset; the log reopens cleanly.
	res := appendWait(t, p, makeBatch(batchSpec{records: 2}))
	if res.BaseOffset != wantLEO {
		t.Fatalf("append at %d, want %d", res.BaseOffset, wantLEO)
	}
	must(t, p.Close())
	p2, err := Open(corruptDir, "t", 0, cfg, opts)
	must(t, err)
	defer p2.Close()
	if _, hw, _ := p2.Offsets(); hw != wantLEO+2 {
		t.Fatalf("after reopen hw %d", hw)
	}
	rr, err := p2.Read(wantLEO, 1<<20, true)
	must(t, err)
	if h, err := records.Validate(rr.Records); err != nil || h.BaseOffset != wantLEO {
		t.Fatalf("appended batch after recovery: %v %d", err, h.BaseOffset)
	}
	if _, err := p2.Read(wantLEO+3, 1, true); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read past the end: %v", err)
	}
}
