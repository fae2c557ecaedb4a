package log

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chronik-stream/chronik/internal/records"
	"github.com/chronik-stream/chronik/internal/vfs"
)

func openTest(t testing.TB, dir string, cfg Config, opts Options) *Partition {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	p, err := Open(dir, "t", 0, cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func appendWait(t testing.TB, p *Partition, b []byte) AppendResult {
	t.Helper()
	res, err := p.Append(b)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.WaitDurable(ctx, res.LastOffset); err != nil {
		t.Fatal(err)
	}
	return res
}

func TestAppendReadRoundTrip(t *testing.T) {
	p := openTest(t, t.TempDir(), DefaultConfig(), Options{})
	var want [][]byte
	for i := 0; i < 10; i++ {
		b := makeBatch(batchSpec{records: i + 1, valueSize: 10})
		res := appendWait(t, p, b)
		if res.LastOffset-res.BaseOffset != int64(i) {
			t.Fatalf("append %d: offsets %d..%d", i, res.BaseOffset, res.LastOffset)
		}
		want = append(want, b)
	}
	ls, hw, leo := p.Offsets()
	if ls != 0 || hw != 55 || leo != 55 {
		t.Fatalf("offsets %d %d %d", ls, hw, leo)
	}
	rr, err := p.Read(0, 1<<20, true)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rr.Records, bytes.Join(want, nil)) {
		t.Fatalf("read back differs")
	}
	var next int64
	err = records.Split(rr.Records, func(h records.Header, b []byte) error {
		if h.BaseOffset != next {
			t.Fatalf("base %d want %d", h.BaseOffset, next)
		}
		next = h.LastOffset() + 1
		return records.CheckCRC(b)
	})
	if err != nil {
		t.Fatal(err)
	}
	// Read from the middle of a batch returns that batch.
	rr, err = p.Read(12, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := records.ParseHeader(rr.Records)
	if h.BaseOffset != 10 || len(rr.Records) != h.Size() {
		t.Fatalf("got batch %d size %d", h.BaseOffset, len(rr.Records))
	}
	if rr, err = p.Read(55, 100, true); err != nil || len(rr.Records) != 0 {
		t.Fatalf("read at HW: %v %d", err, len(rr.Records))
	}
	if _, err = p.Read(56, 100, true); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read past LEO: %v", err)
	}
}

func TestMultipleBatchesPerAppend(t *testing.T) {
	p := openTest(t, t.TempDir(), DefaultConfig(), Options{})
	appendWait(t, p, makeBatch(batchSpec{records: 2}))
	req := bytes.Join([][]byte{
		makeBatch(batchSpec{records: 3}),
		makeBatch(batchSpec{records: 1}),
		makeBatch(batchSpec{records: 4}),
	}, nil)
	res := appendWait(t, p, req)
	if res.BaseOffset != 2 || res.LastOffset != 9 {
		t.Fatalf("offsets %d..%d", res.BaseOffset, res.LastOffset)
	}
	rr, err := p.Read(2, 1<<20, false)
	must(t, err)
	var bases []int64
	must(t, records.Split(rr.Records, func(h records.Header, b []byte) error {
		bases = append(bases, h.BaseOffset)
		if h.PartitionLeaderEpoch != 0 {
			t.Errorf("leader epoch %d", h.PartitionLeaderEpoch)
		}
		return records.CheckCRC(b)
	}))
	if len(bases) != 3 || bases[0] != 2 || bases[1] != 5 || bases[2] != 6 {
		t.Fatalf("bases %v", bases)
	}
	// A bad batch anywhere rejects the whole append.
	bad := bytes.Join([][]byte{makeBatch(batchSpec{}), makeBatch(batchSpec{})}, nil)
	bad[len(bad)-1] ^= 1
	if _, err := p.Append(bad); !errors.Is(err, records.ErrCorrupt) {
		t.Fatalf("corrupt second batch: %v", err)
	}
	if _, err := p.Append(bad[:len(bad)-3]); !errors.Is(err, records.ErrCorrupt) {
		t.Fatalf("partial batch: %v", err)
	}
	if _, _, leo := p.Offsets(); leo != 10 {
		t.Fatalf("leo %d after rejected appends", leo)
	}
}

func TestReadKIP74(t *testing.T) {
	p := openTest(t, t.TempDir(), DefaultConfig(), Options{})
	b1 := makeBatch(batchSpec{records: 2, valueSize: 100})
	b2 := makeBatch(batchSpec{records: 2, valueSize: 100})
	b3 := makeBatch(batchSpec{records: 2, valueSize: 100})
	for _, b := range [][]byte{b1, b2, b3} {
		appendWait(t, p, b)
	}
	n := len(b1)
	cases := []struct {
		offset   int64
		maxBytes int
		minOne   bool
		want     int // batches
	}{
		{0, 10, true, 1},
		{0, 10, false, 0},
		{0, 0, true, 1},
		{0, n, false, 1},
		{0, 2*n - 1, false, 1},
		{0, 2 * n, false, 2},
		{1, 3 * n, false, 3},
		{3, 3 * n, false, 2},
		{5, 10, true, 1},
		{6, 10, true, 0}, // at the HW
	}
	for _, c := range cases {
		rr, err := p.Read(c.offset, c.maxBytes, c.minOne)
		must(t, err)
		if len(rr.Records) != c.want*n {
			t.Errorf("Read(%d, %d, %v): %d bytes, want %d batches", c.offset, c.maxBytes, c.minOne, len(rr.Records), c.want)
		}
		if rr.HighWatermark != 6 || rr.LogStartOffset != 0 {
			t.Errorf("hw %d ls %d", rr.HighWatermark, rr.LogStartOffset)
		}
	}
	for _, off := range []int64{-1, 7, 100} {
		if _, err := p.Read(off, 100, true); !errors.Is(err, ErrOffsetOutOfRange) {
			t.Errorf("Read(%d): %v", off, err)
		}
	}
}

// blockSyncs makes every segment fsync on fs wait until release is closed.
func blockSyncs(fs *vfs.MemFS) (release func()) {
	ch := make(chan struct{})
	fs.SetHook(func(op vfs.Op, path string) error {
		if op == vfs.OpSync && strings.HasSuffix(path, ".log") {
			<-ch
		}
		return nil
	})
	var once sync.Once
	return func() { once.Do(func() { close(ch) }) }
}

func TestHighWatermarkWaitsForFsync(t *testing.T) {
	fs := vfs.NewMemFS()
	p := openTest(t, "/data/t-0", DefaultConfig(), Options{FS: fs})
	release := blockSyncs(fs)
	defer release()
	b := makeBatch(batchSpec{records: 3})
	res, err := p.Append(b)
	must(t, err)
	if _, hw, leo := p.Offsets(); hw != 0 || leo != 3 {
		t.Fatalf("before fsync: hw %d leo %d", hw, leo)
	}
	rr, err := p.Read(0, 1<<20, true)
	if err != nil || len(rr.Records) != 0 || rr.HighWatermark != 0 {
		t.Fatalf("read before fsync: %v %d bytes hw %d", err, len(rr.Records), rr.HighWatermark)
	}
	notify := p.Notify()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := p.WaitDurable(ctx, res.LastOffset); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitDurable before fsync: %v", err)
	}
	// A second append while the first fsync is blocked shares a later fsync.
	res2, err := p.Append(makeBatch(batchSpec{records: 2}))
	must(t, err)
	release()
	<-notify
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	must(t, p.WaitDurable(ctx2, res2.LastOffset))
	if _, hw, leo := p.Offsets(); hw != 5 || leo != 5 {
		t.Fatalf("after fsync: hw %d leo %d", hw, leo)
	}
	rr, err = p.Read(0, 1<<20, true)
	must(t, err)
	if len(rr.Records) != len(b)+len(makeBatch(batchSpec{records: 2})) {
		t.Fatalf("read after fsync: %d bytes", len(rr.Records))
	}
}

func TestFailedFsyncFailsPartition(t *testing.T) {
	fs := vfs.NewMemFS()
	p := openTest(t, "/data/t-0", DefaultConfig(), Options{FS: fs})
	appendWait(t, p, makeBatch(batchSpec{}))
	boom := errors.New("EIO")
	fs.SetHook(func(op vfs.Op, path string) error {
		if op == vfs.OpSync {
			return boom
		}
		return nil
	})
	res, err := p.Append(makeBatch(batchSpec{}))
	must(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.WaitDurable(ctx, res.LastOffset); !errors.Is(err, ErrStorage) || !errors.Is(err, boom) {
		t.Fatalf("WaitDurable: %v", err)
	}
	fs.SetHook(nil)
	if _, err := p.Append(makeBatch(batchSpec{})); !errors.Is(err, ErrStorage) {
		t.Fatalf("append after failure: %v", err)
	}
	if _, hw, _ := p.Offsets(); hw != 1 {
		t.Fatalf("hw %d: unsynced data became visible", hw)
	}
	if err := p.WaitDurable(ctx, 0); err != nil {
		t.Fatalf("already durable offset: %v", err)
	}
	if _, err := p.Read(0, 100, true); !errors.Is(err, ErrStorage) {
		t.Fatalf("read from a failed partition: %v", err)
	}
}

func TestValidationErrors(t *testing.T) {
	p := openTest(t, t.TempDir(), Config{MaxMessageBytes: 500}, Options{})
	if _, err := p.Append(makeBatch(batchSpec{valueSize: 600})); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("too large: %v", err)
	}
	if _, err := p.Append(makeBatch(batchSpec{attrs: records.ControlBit})); !errors.Is(err, records.ErrControlBatch) {
		t.Fatalf("control batch: %v", err)
	}
	b := makeBatch(batchSpec{})
	b[16] = 1
	if _, err := p.Append(b); !errors.Is(err, records.ErrUnsupported) {
		t.Fatalf("magic 1: %v", err)
	}
	if _, err := p.Append(nil); !errors.Is(err, records.ErrCorrupt) {
		t.Fatalf("empty: %v", err)
	}
	b = makeBatch(batchSpec{})
	b[len(b)-1] ^= 0xff
	if _, err := p.Append(b); !errors.Is(err, records.ErrCorrupt) {
		t.Fatalf("bad crc: %v", err)
	}
	if _, _, leo := p.Offsets(); leo != 0 {
		t.Fatalf("leo %d", leo)
	}
}

func TestLogAppendTime(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	p := openTest(t, t.TempDir(), Config{LogAppendTime: true}, Options{Now: func() time.Time { return now }})
	res := appendWait(t, p, makeBatch(batchSpec{records: 3, baseTs: 5}))
	if res.LogAppendTime != now.UnixMilli() {
		t.Fatalf("LogAppendTime %d", res.LogAppendTime)
	}
	rr, err := p.Read(0, 1<<20, false)
	must(t, err)
	h, err := records.Validate(rr.Records)
	must(t, err)
	if h.TimestampType() != records.TimestampLogAppend || h.MaxTimestamp != now.UnixMilli() {
		t.Fatalf("type %d max %d", h.TimestampType(), h.MaxTimestamp)
	}
	off, ts, ok, err := p.OffsetForTimestamp(now.UnixMilli())
	if err != nil || !ok || off != 0 || ts != now.UnixMilli() {
		t.Fatalf("OffsetForTimestamp: %d %d %v %v", off, ts, ok, err)
	}
	p2 := openTest(t, t.TempDir(), DefaultConfig(), Options{})
	if res := appendWait(t, p2, makeBatch(batchSpec{})); res.LogAppendTime != -1 {
		t.Fatalf("CreateTime topic: LogAppendTime %d", res.LogAppendTime)
	}
}

func TestRollByBytesAndIndexLookups(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{SegmentBytes: 4000, IndexIntervalBytes: 300}
	p := openTest(t, dir, cfg, Options{})
	var batches [][]byte
	next := int64(0)
	for i := 0; i < 120; i++ {
		b := makeBatch(batchSpec{records: 1 + i%4, valueSize: 20 + i%50, baseTs: 10_000 + int64(i)*10, tsStep: 1})
		res := appendWait(t, p, b)
		if res.BaseOffset != next {
			t.Fatalf("batch %d at %d, want %d", i, res.BaseOffset, next)
		}
		next = res.LastOffset + 1
		batches = append(batches, b)
	}
	names, _ := os.ReadDir(dir)
	nlogs := 0
	for _, n := range names {
		if strings.HasSuffix(n.Name(), ".log") {
			nlogs++
		}
	}
	if nlogs < 5 {
		t.Fatalf("only %d segments", nlogs)
	}
	check := func(p *Partition) {
		t.Helper()
		for i, b := range batches {
			h, _ := records.ParseHeader(b)
			for off := h.BaseOffset; off <= h.LastOffset(); off++ {
				rr, err := p.Read(off, 1, true)
				must(t, err)
				if !bytes.Equal(rr.Records, b) {
					t.Fatalf("Read(%d): not batch %d", off, i)
				}
			}
		}
		rr, err := p.Read(0, 1<<20, true)
		must(t, err)
		if len(rr.Records) == 0 || len(rr.Records) > 4000 {
			t.Fatalf("a read spans one segment: %d bytes", len(rr.Records))
		}
	}
	check(p)
	if got, want := p.Size(), int64(len(bytes.Join(batches, nil))); got != want {
		t.Fatalf("Size %d, want %d", got, want)
	}
	must(t, p.Close())
	p = openTest(t, dir, cfg, Options{})
	check(p)
	if _, hw, leo := p.Offsets(); hw != next || leo != next {
		t.Fatalf("reopened: hw %d leo %d want %d", hw, leo, next)
	}
	res := appendWait(t, p, makeBatch(batchSpec{}))
	if res.BaseOffset != next {
		t.Fatalf("append after reopen at %d", res.BaseOffset)
	}
}

func TestRollByTime(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	now := time.UnixMilli(1_000_000)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	p := openTest(t, dir, Config{SegmentMs: 1000}, Options{Now: clock})
	appendWait(t, p, makeBatch(batchSpec{}))
	advance(500 * time.Millisecond)
	appendWait(t, p, makeBatch(batchSpec{}))
	if n := segmentCount(t, dir); n != 1 {
		t.Fatalf("%d segments before segment.ms", n)
	}
	advance(600 * time.Millisecond)
	res := appendWait(t, p, makeBatch(batchSpec{}))
	if n := segmentCount(t, dir); n != 2 {
		t.Fatalf("%d segments after segment.ms", n)
	}
	if _, err := os.Stat(filepath.Join(dir, "00000000000000000002.log")); err != nil || res.BaseOffset != 2 {
		t.Fatalf("new segment: %v, base %d", err, res.BaseOffset)
	}
	if _, err := os.Stat(filepath.Join(dir, "00000000000000000002.snapshot")); err != nil {
		t.Fatalf("no producer snapshot on roll: %v", err)
	}
}

func segmentCount(t *testing.T, dir string) int {
	t.Helper()
	names, err := os.ReadDir(dir)
	must(t, err)
	n := 0
	for _, e := range names {
		if strings.HasSuffix(e.Name(), ".log") {
			n++
		}
	}
	return n
}

func TestTimestamps(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{SegmentBytes: 2000, IndexIntervalBytes: 200}
	p := openTest(t, dir, cfg, Options{})
	if _, _, ok, err := p.MaxTimestamp(); ok || err != nil {
		t.Fatalf("empty log: %v %v", ok, err)
	}
	if _, _, ok, err := p.OffsetForTimestamp(0); ok || err != nil {
		t.Fatalf("empty log: %v %v", ok, err)
	}
	// Batch i has 3 records at timestamps 1000+100i + {0, 20, 10}, except
	// batch 25 that carries the largest timestamp, 99999, on record 1.
	type rec struct{ off, ts int64 }
	var all []rec
	for i := 0; i < 40; i++ {
		deltas := []int64{0, 20, 10}
		if i == 25 {
			deltas = []int64{0, 99999 - (1000 + 100*25), 5}
		}
		base := int64(1000 + 100*i)
		res := appendWait(t, p, makeBatch(batchSpec{records: 3, valueSize: 30, baseTs: base, tsDeltas: deltas}))
		for j, d := range deltas {
			all = append(all, rec{res.BaseOffset + int64(j), base + d})
		}
	}
	check := func(p *Partition) {
		t.Helper()
		off, ts, ok, err := p.MaxTimestamp()
		if err != nil || !ok || off != 25*3+1 || ts != 99999 {
			t.Fatalf("MaxTimestamp: %d %d %v %v", off, ts, ok, err)
		}
		for target := int64(900); target <= 5100; target += 7 {
			var want *rec
			for i := range all {
				if all[i].ts >= target {
					want = &all[i]
					break
				}
			}
			off, ts, ok, err := p.OffsetForTimestamp(target)
			must(t, err)
			if want == nil {
				if ok {
					t.Fatalf("OffsetForTimestamp(%d) = %d, want none", target, off)
				}
				continue
			}
			if !ok || off != want.off || ts != want.ts {
				t.Fatalf("OffsetForTimestamp(%d) = %d@%d %v, want %d@%d", target, off, ts, ok, want.off, want.ts)
			}
		}
		if _, _, ok, _ := p.OffsetForTimestamp(100000); ok {
			t.Fatal("found a timestamp past the max")
		}
	}
	check(p)
	must(t, p.Close())
	check(openTest(t, dir, cfg, Options{}))
}

func TestCompressedBatches(t *testing.T) {
	p := openTest(t, t.TempDir(), DefaultConfig(), Options{})
	for i, codec := range []records.Codec{records.CodecGzip, records.CodecSnappy, records.CodecLZ4, records.CodecZstd} {
		var recs []records.Record
		for j := 0; j < 5; j++ {
			recs = append(recs, records.Record{OffsetDelta: int32(j), TimestampDelta: int64(j * 10), Value: bytes.Repeat([]byte{'a' + byte(j)}, 100)})
		}
		b, err := records.Build(records.BuildOptions{Codec: codec, BaseTimestamp: int64(10_000 * (i + 1)), ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, recs)
		must(t, err)
		want := bytes.Clone(b)
		res := appendWait(t, p, b)
		rr, err := p.Read(res.BaseOffset, 1<<20, true)
		must(t, err)
		records.SetBaseOffset(want, res.BaseOffset)
		if !bytes.Equal(rr.Records, want) {
			t.Fatalf("%v batch not stored byte for byte", codec)
		}
		off, ts, ok, err := p.OffsetForTimestamp(int64(10_000*(i+1)) + 25)
		if err != nil || !ok || off != res.BaseOffset+3 || ts != int64(10_000*(i+1))+30 {
			t.Fatalf("%v: OffsetForTimestamp %d %d %v %v", codec, off, ts, ok, err)
		}
	}
	off, ts, ok, err := p.MaxTimestamp()
	if err != nil || !ok || off != 19 || ts != 40_040 {
		t.Fatalf("MaxTimestamp %d %d %v %v", off, ts, ok, err)
	}
	// A compressed batch whose payload does not decompress is refused.
	b, err := records.Build(records.BuildOptions{Codec: records.CodecGzip, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, []records.Record{{Value: []byte("x")}})
	must(t, err)
	b[records.HeaderSize+3] ^= 0xff
	binary.BigEndian.PutUint32(b[17:], records.Checksum(b))
	if _, err := p.Append(b); !errors.Is(err, records.ErrCorrupt) {
		t.Fatalf("bad gzip: %v", err)
	}
}
