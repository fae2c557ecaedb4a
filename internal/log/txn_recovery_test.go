package log

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/chronik-stream/chronik/internal/records"
	"github.com/chronik-stream/chronik/internal/vfs"
)

// txnScript is a fixed sequence of transactional work over several segment
// rolls: aborts and commits, a marker with a newer epoch (a fence), a
// marker for a producer with nothing open, plain batches in between.
type txnStep struct {
	name    string
	do      func(t *testing.T, p *Partition, w *txnWriter) error
	durable bool // wait for the step's offsets to be durable
}

// txnWriter tracks the sequences and epochs the script's producers use, and
// the markers acknowledged (durable).
type txnWriter struct {
	seq        map[int64]int32
	epoch      map[int64]int16
	last       int64 // last offset written
	ackedAbort []AbortedTxn
	pending    []AbortedTxn    // aborts not yet durable
	first      map[int64]int64 // first offset of the open transaction
}

func (w *txnWriter) data(p *Partition, pid int64, n int) error {
	res, err := p.Append(makeBatch(batchSpec{records: n, idempotent: true, pid: pid, epoch: w.epoch[pid], seq: w.seq[pid],
		attrs: records.TransactionalBit, valueSize: 30}))
	if err != nil {
		return err
	}
	if _, ok := w.first[pid]; !ok {
		w.first[pid] = res.BaseOffset
	}
	w.seq[pid] += int32(n)
	w.last = res.LastOffset
	return nil
}

func (w *txnWriter) marker(p *Partition, pid int64, epoch int16, commit bool) error {
	off, err := p.AppendMarker(pid, epoch, commit, 3)
	if err != nil {
		return err
	}
	if epoch > w.epoch[pid] {
		w.epoch[pid], w.seq[pid] = epoch, 0
	}
	if f, ok := w.first[pid]; ok && !commit {
		w.pending = append(w.pending, AbortedTxn{ProducerID: pid, FirstOffset: f, LastOffset: off})
	}
	delete(w.first, pid)
	w.last = off
	return nil
}

func (w *txnWriter) plain(p *Partition, n int) error {
	res, err := p.Append(makeBatch(batchSpec{records: n, valueSize: 30}))
	if err == nil {
		w.last = res.LastOffset
	}
	return err
}

func txnScript() []txnStep {
	return []txnStep{
		{"p1 data", func(t *testing.T, p *Partition, w *txnWriter) error { return w.data(p, 1, 3) }, false},
		{"plain", func(t *testing.T, p *Partition, w *txnWriter) error { return w.plain(p, 2) }, true},
		{"p2 data", func(t *testing.T, p *Partition, w *txnWriter) error { return w.data(p, 2, 2) }, false},
		{"p1 data again", func(t *testing.T, p *Partition, w *txnWriter) error { return w.data(p, 1, 2) }, true},
		{"p1 abort, not synced", func(t *testing.T, p *Partition, w *txnWriter) error { return w.marker(p, 1, 0, false) }, false},
		{"plain after the abort", func(t *testing.T, p *Partition, w *txnWriter) error { return w.plain(p, 4) }, true},
		{"p2 commit", func(t *testing.T, p *Partition, w *txnWriter) error { return w.marker(p, 2, 0, true) }, true},
		{"p3 data", func(t *testing.T, p *Partition, w *txnWriter) error { return w.data(p, 3, 5) }, false},
		{"p1 new transaction", func(t *testing.T, p *Partition, w *txnWriter) error { return w.data(p, 1, 1) }, false},
		{"plain, rolls", func(t *testing.T, p *Partition, w *txnWriter) error { return w.plain(p, 6) }, true},
		{"p3 abort", func(t *testing.T, p *Partition, w *txnWriter) error { return w.marker(p, 3, 0, false) }, false},
		{"p1 fenced by an abort at epoch 1", func(t *testing.T, p *Partition, w *txnWriter) error { return w.marker(p, 1, 1, false) }, true},
		{"p4 marker with nothing open", func(t *testing.T, p *Partition, w *txnWriter) error { return w.marker(p, 4, 0, false) }, true},
		{"p1 epoch 1 data", func(t *testing.T, p *Partition, w *txnWriter) error { return w.data(p, 1, 2) }, false},
		{"p2 data", func(t *testing.T, p *Partition, w *txnWriter) error { return w.data(p, 2, 3) }, true},
		{"p2 abort", func(t *testing.T, p *Partition, w *txnWriter) error { return w.marker(p, 2, 0, false) }, true},
		{"plain, rolls again", func(t *testing.T, p *Partition, w *txnWriter) error { return w.plain(p, 8) }, false},
		{"p1 commit", func(t *testing.T, p *Partition, w *txnWriter) error { return w.marker(p, 1, 1, true) }, true},
	}
}

// TestTxnCrashPoints runs txnScript and takes a crash image after every
// step (only synced data, and a torn variant keeping part of the unsynced
// writes). Each image must reopen to exactly the transaction state its log
// implies, keep every acknowledged abort, and stay consistent through more
// work, a clean restart and another crash.
func TestTxnCrashPoints(t *testing.T) {
	for _, segBytes := range []int64{450, 900, 1 << 20} {
		t.Run(fmt.Sprint("segment", segBytes), func(t *testing.T) {
			t.Parallel()
			txnCrashPoints(t, segBytes)
		})
	}
}

func txnCrashPoints(t *testing.T, segBytes int64) {
	fs := vfs.NewMemFS()
	cfg := Config{SegmentBytes: segBytes, IndexIntervalBytes: 100}
	dir := "/data/t-0"
	p, err := Open(dir, "t", 0, cfg, Options{FS: fs, Logger: testLogger(t)})
	must(t, err)
	w := &txnWriter{seq: map[int64]int32{}, epoch: map[int64]int16{}, first: map[int64]int64{}}
	type image struct {
		after string
		fs    *vfs.MemFS
		acked []AbortedTxn
	}
	var images []image
	rng := rand.New(rand.NewPCG(uint64(segBytes), 1))
	for _, st := range txnScript() {
		must(t, st.do(t, p, w))
		if st.durable {
			must(t, p.WaitDurable(context.Background(), w.last))
			w.ackedAbort = append(w.ackedAbort, w.pending...)
			w.pending = nil
		}
		acked := slices.Clone(w.ackedAbort)
		images = append(images, image{st.name, fs.Crash(), acked}, image{st.name + " (torn)", fs.CrashWith(rng), acked})
	}
	p.vmu.RLock()
	rolls := len(p.segs) - 1
	p.vmu.RUnlock()
	must(t, p.Close())
	t.Logf("%d rolls", rolls)
	images = append(images, image{"clean close", fs, w.ackedAbort})

	for _, im := range images {
		opts := Options{FS: im.fs, Logger: testLogger(t)}
		p, err := Open(dir, "t", 0, cfg, opts)
		if err != nil {
			t.Fatalf("after %q: %v", im.after, err)
		}
		checkTxnState(t, p, "after "+im.after)
		got := p.AbortedTxns(0, 1<<62)
		for _, a := range im.acked {
			if !slices.Contains(got, a) {
				t.Fatalf("after %q: acknowledged abort %+v lost; have %+v", im.after, a, got)
			}
		}
		// End what is open (markers with the producers' newest epochs),
		// crash with nothing synced after, and check again; then a clean
		// restart.
		ongoing, _ := txnModel(t, p)
		for pid := range ongoing {
			var epoch int16
			for _, pi := range p.Producers() {
				if pi.ProducerID == pid {
					epoch = pi.ProducerEpoch
				}
			}
			_, err := p.AppendMarker(pid, epoch, pid%2 == 0, 4)
			must(t, err)
		}
		_, err = p.Append(makeBatch(batchSpec{records: 1, idempotent: true, pid: 9, attrs: records.TransactionalBit}))
		must(t, err)
		crashed := im.fs.CrashWith(rng)
		p.Close()
		for round, fs2 := range []*vfs.MemFS{crashed, crashed} {
			p, err = Open(dir, "t", 0, cfg, Options{FS: fs2, Logger: testLogger(t)})
			must(t, err)
			checkTxnState(t, p, fmt.Sprintf("after %q, more work, crash, round %d", im.after, round))
			must(t, p.Close()) // round 1 reopens after this clean close
		}
	}
}

// TestTxnSnapshotWithoutAbortedFile: a crash between writing the
// aborted-transactions file and the snapshot (here: the snapshot's rename
// fails) leaves a newer file than snapshot; recovery must still agree
// with the log.
func TestTxnSnapshotWithoutAbortedFile(t *testing.T) {
	fs := vfs.NewMemFS()
	cfg := Config{SegmentBytes: 400}
	dir := "/data/t-0"
	p, err := Open(dir, "t", 0, cfg, Options{FS: fs, Logger: testLogger(t)})
	must(t, err)
	w := &txnWriter{seq: map[int64]int32{}, epoch: map[int64]int16{}, first: map[int64]int64{}}
	must(t, w.data(p, 1, 2))
	must(t, w.marker(p, 1, 0, false))
	must(t, w.data(p, 2, 2))
	must(t, p.WaitDurable(context.Background(), w.last))
	fs.SetHook(func(op vfs.Op, path string) error {
		if op == vfs.OpRename && strings.HasSuffix(path, snapshotSuffix+tmpSuffix) {
			return errors.New("injected rename failure")
		}
		return nil
	})
	for i := 0; i < 20; i++ {
		if err := w.plain(p, 3); err != nil {
			break // the roll failed the partition
		}
	}
	if _, err := p.Append(makeBatch(batchSpec{})); !errors.Is(err, ErrStorage) {
		t.Fatalf("append after the failed snapshot: %v", err)
	}
	crashed := fs.Crash()
	p.Close()
	if _, _, err := crashed.Stat(filepath.Join(dir, abortedFile)); err != nil {
		t.Fatalf("no aborted-transactions file: %v", err)
	}
	p, err = Open(dir, "t", 0, cfg, Options{FS: crashed, Logger: testLogger(t)})
	must(t, err)
	defer p.Close()
	checkTxnState(t, p, "after the failed snapshot")
	if got := p.AbortedTxns(0, 1<<62); len(got) != 1 || got[0].ProducerID != 1 {
		t.Fatalf("aborted %+v", got)
	}
}

// TestTxnRecoveryCostIsTheTail: with many aborted transactions in closed
// segments, reopening reads the aborted-transactions file and the tail
// only, and the list is complete.
func TestTxnRecoveryCostIsTheTail(t *testing.T) {
	for _, crash := range []bool{false, true} {
		t.Run(fmt.Sprint("crash=", crash), func(t *testing.T) {
			fs := vfs.NewMemFS()
			cfg := Config{SegmentBytes: 4096, IndexIntervalBytes: 512}
			p, err := Open("/data/t-0", "t", 0, cfg, Options{FS: fs, Logger: testLogger(t)})
			must(t, err)
			w := &txnWriter{seq: map[int64]int32{}, epoch: map[int64]int16{}, first: map[int64]int64{}}
			for i := 0; i < 400; i++ {
				pid := int64(1 + i%3)
				must(t, w.data(p, pid, 3))
				if i%2 == 1 {
					must(t, w.marker(p, pid, 0, i%4 == 1))
				}
				must(t, w.plain(p, 2))
			}
			must(t, p.WaitDurable(context.Background(), w.last))
			want := p.AbortedTxns(0, 1<<62)
			total := p.Size()
			p.vmu.RLock()
			nsegs, active := len(p.segs), p.segs[len(p.segs)-1].size.Load()
			p.vmu.RUnlock()
			if crash {
				fs = fs.Crash()
				p.Close()
			} else {
				must(t, p.Close())
			}
			before := fs.ReadBytes()
			p2, err := Open("/data/t-0", "t", 0, cfg, Options{FS: fs, Logger: testLogger(t)})
			must(t, err)
			defer p2.Close()
			read := fs.ReadBytes() - before
			budget := int64(nsegs)*64 + 4096 + int64(len(want))*24 + 3*active
			t.Logf("%d segments, %d bytes, %d aborted; reopening read %d bytes (budget %d)", nsegs, total, len(want), read, budget)
			if read > budget {
				t.Fatalf("reopening read %d bytes, budget %d", read, budget)
			}
			if got := p2.AbortedTxns(0, 1<<62); !reflect.DeepEqual(got, want) || len(want) < 100 {
				t.Fatalf("%d aborted after reopening, want %d", len(got), len(want))
			}
			checkTxnState(t, p2, "reopened")
		})
	}
}

// A damaged aborted-transactions file is rebuilt from the log.
func TestTxnAbortedFileDamaged(t *testing.T) {
	fs := vfs.NewMemFS()
	cfg := Config{SegmentBytes: 500}
	dir := "/data/t-0"
	p, err := Open(dir, "t", 0, cfg, Options{FS: fs, Logger: testLogger(t)})
	must(t, err)
	w := &txnWriter{seq: map[int64]int32{}, epoch: map[int64]int16{}, first: map[int64]int64{}}
	for i := 0; i < 30; i++ {
		must(t, w.data(p, int64(1+i%2), 2))
		must(t, w.marker(p, int64(1+i%2), 0, i%3 == 0))
	}
	want := p.AbortedTxns(0, 1<<62)
	must(t, p.Close())
	path := filepath.Join(dir, abortedFile)
	b, err := fs.ReadFile(path)
	must(t, err)
	b[len(b)-1] ^= 1
	must(t, fs.WriteFile(path, b))
	p, err = Open(dir, "t", 0, cfg, Options{FS: fs, Logger: testLogger(t)})
	must(t, err)
	defer p.Close()
	if got := p.AbortedTxns(0, 1<<62); !reflect.DeepEqual(got, want) {
		t.Fatalf("aborted after rebuilding %+v, want %+v", got, want)
	}
	checkTxnState(t, p, "rebuilt")
}

// encodeSnapshotV1 writes s in the snapshot format before transactions.
func encodeSnapshotV1(s *producerState) []byte {
	b := make([]byte, 10)
	binary.BigEndian.PutUint16(b, 1)
	pids := make([]int64, 0, len(s.m))
	for pid := range s.m {
		pids = append(pids, pid)
	}
	slices.Sort(pids)
	binary.BigEndian.PutUint32(b[6:], uint32(len(pids)))
	for _, pid := range pids {
		e := s.m[pid]
		b = binary.BigEndian.AppendUint64(b, uint64(pid))
		b = binary.BigEndian.AppendUint16(b, uint16(e.epoch))
		b = append(b, byte(e.n))
		for i := 0; i < e.n; i++ {
			m := &e.batches[i]
			b = binary.BigEndian.AppendUint32(b, uint32(m.firstSeq))
			b = binary.BigEndian.AppendUint32(b, uint32(m.lastSeq))
			b = binary.BigEndian.AppendUint64(b, uint64(m.firstOffset))
			b = binary.BigEndian.AppendUint64(b, uint64(m.lastOffset))
			b = binary.BigEndian.AppendUint64(b, uint64(m.maxTimestamp))
			flags := byte(0)
			if m.transactional {
				flags = 1
			}
			b = append(b, flags)
		}
	}
	binary.BigEndian.PutUint32(b[2:], crc32.Checksum(b[6:], castagnoli))
	return b
}

// A version 1 snapshot (before transactions) still loads.
func TestProducerSnapshotV1(t *testing.T) {
	fs := vfs.NewMemFS()
	dir := "/data/t-0"
	cfg := Config{SegmentBytes: 1 << 20}
	p, err := Open(dir, "t", 0, cfg, Options{FS: fs, Logger: testLogger(t)})
	must(t, err)
	appendWait(t, p, makeBatch(batchSpec{records: 3, idempotent: true, pid: 5, epoch: 2, seq: 0}))
	last := appendWait(t, p, makeBatch(batchSpec{records: 2, idempotent: true, pid: 5, epoch: 2, seq: 3}))
	appendWait(t, p, makeBatch(batchSpec{records: 1, idempotent: true, pid: 6, epoch: 0, seq: 0}))
	p.mu.Lock()
	v1 := encodeSnapshotV1(p.producers)
	want := p.producers.encode()
	p.mu.Unlock()
	must(t, p.Close())

	st, err := decodeProducerSnapshot(v1)
	must(t, err)
	if got := st.encode(); string(got) != string(want) {
		t.Fatalf("v1 snapshot decodes to\n% x\nwant\n% x", got, want)
	}
	// On disk, in place of the snapshot Close wrote.
	snaps := filesWithSuffix(t, fs, dir, snapshotSuffix)
	if len(snaps) != 1 {
		t.Fatalf("snapshots %v", snaps)
	}
	must(t, fs.WriteFile(filepath.Join(dir, snaps[0]), v1))
	before := fs.ReadBytes()
	p, err = Open(dir, "t", 0, cfg, Options{FS: fs, Logger: testLogger(t)})
	must(t, err)
	defer p.Close()
	if read := fs.ReadBytes() - before; read > 4096 {
		t.Fatalf("reopening read %d bytes: the v1 snapshot was not used", read)
	}
	res, err := p.Append(makeBatch(batchSpec{records: 2, idempotent: true, pid: 5, epoch: 2, seq: 3}))
	if err != nil || !res.Duplicate || res.BaseOffset != last.BaseOffset {
		t.Fatalf("retry after loading a v1 snapshot: %+v %v", res, err)
	}
	if infos := p.Producers(); len(infos) != 2 || infos[0].CurrentTxnStartOffset != -1 {
		t.Fatalf("producers %+v", infos)
	}
	// A damaged v1 snapshot is refused.
	v1[len(v1)-1] ^= 1
	if _, err := decodeProducerSnapshot(v1); !errors.Is(err, errBadSnapshot) {
		t.Fatalf("damaged v1 snapshot: %v", err)
	}
}
