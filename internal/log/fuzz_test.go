package log

import (
	"bytes"
	"testing"

	"github.com/chronik-stream/chronik/internal/records"
	"github.com/chronik-stream/chronik/internal/vfs"
)

// FuzzRecoverSegment opens a partition whose only segment holds arbitrary
// bytes. Properties: Open never panics; everything served below the high
// watermark is whole, CRC-valid batches with contiguous offsets from 0; the
// served bytes are a prefix of the input; appends continue at the log end.
func FuzzRecoverSegment(f *testing.F) {
	one := makeBatch(batchSpec{records: 3, valueSize: 10})
	two := makeBatch(batchSpec{records: 1})
	records.SetBaseOffset(two, 3)
	f.Add([]byte{})
	f.Add(make([]byte, 100))
	f.Add(one)
	f.Add(append(bytes.Clone(one), two...))
	f.Add(append(append(bytes.Clone(one), two...), 0xde, 0xad))
	f.Add(append(bytes.Clone(one), two[:40]...))
	f.Fuzz(func(t *testing.T, data []byte) {
		fs := vfs.NewMemFS()
		dir := "/d/t-0"
		must(t, fs.MkdirAll(dir, 0o755))
		must(t, fs.WriteFile(dir+"/00000000000000000000.log", data))
		p, err := Open(dir, "t", 0, Config{IndexIntervalBytes: 64}, Options{FS: fs, Logger: quietLogger})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		_, hw, leo := p.Offsets()
		if hw != leo {
			t.Fatalf("hw %d leo %d", hw, leo)
		}
		var served []byte
		for next := int64(0); next < hw; {
			rr, err := p.Read(next, 1<<20, true)
			if err != nil {
				t.Fatal(err)
			}
			if len(rr.Records) == 0 {
				t.Fatalf("nothing at %d below hw %d", next, hw)
			}
			err = records.Split(rr.Records, func(h records.Header, b []byte) error {
				if h.BaseOffset != next {
					t.Fatalf("batch at %d, want %d", h.BaseOffset, next)
				}
				next = h.LastOffset() + 1
				return records.CheckCRC(b)
			})
			if err != nil {
				t.Fatal(err)
			}
			served = append(served, rr.Records...)
		}
		if !bytes.HasPrefix(data, served) {
			t.Fatal("served bytes are not a prefix of the segment")
		}
		res, err := p.Append(makeBatch(batchSpec{}))
		if err != nil || res.BaseOffset != leo {
			t.Fatalf("append after recovery: %+v %v", res, err)
		}
		p.OffsetForTimestamp(0)
		p.MaxTimestamp()
	})
}

// FuzzDecodeAborted decodes arbitrary aborted-transactions files and
// producer snapshots (v1 and v2). Properties: no panic; an aborted list
// that decodes re-encodes to the same bytes; a snapshot that decodes
// re-encodes (as v2) to bytes that decode to the same state.
func FuzzDecodeAborted(f *testing.F) {
	f.Add([]byte{})
	f.Add(encodeAborted(nil))
	f.Add(encodeAborted([]AbortedTxn{{ProducerID: 1, FirstOffset: 2, LastOffset: 5}, {ProducerID: 7, FirstOffset: 3, LastOffset: 9}}))
	st := newProducerState()
	st.replay(&records.Header{ProducerID: 4, ProducerEpoch: 1, BaseSequence: 0, LastOffsetDelta: 2, BaseOffset: 10, Attributes: records.TransactionalBit})
	f.Add(st.encode())
	f.Add(encodeSnapshotV1(st))
	f.Fuzz(func(t *testing.T, data []byte) {
		if ab, err := decodeAborted(data); err == nil && !bytes.Equal(encodeAborted(ab), data) {
			t.Fatalf("aborted list %+v re-encodes differently", ab)
		}
		if s, err := decodeProducerSnapshot(data); err == nil {
			enc := s.encode()
			s2, err := decodeProducerSnapshot(enc)
			if err != nil || !bytes.Equal(s2.encode(), enc) {
				t.Fatalf("a decoded snapshot does not round-trip: %v", err)
			}
		}
	})
}
