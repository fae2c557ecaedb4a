package log

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/chronik-stream/chronik/internal/records"
	"github.com/chronik-stream/chronik/internal/vfs"
)

// badOffsetDelta returns a copy of the batch b (at least two records, as
// makeBatch builds them) whose second record claims offset delta 5, with a
// CRC that matches: only the record walk can tell.
func badOffsetDelta(t *testing.T, b []byte) []byte {
	t.Helper()
	b = bytes.Clone(b)
	pos := records.HeaderSize
	l, n := binary.Varint(b[pos:])
	pos += n + int(l) // past record 0
	_, n = binary.Varint(b[pos:])
	pos += n + 1 // record 1: length, attributes
	_, n = binary.Varint(b[pos:])
	pos += n // timestamp delta
	if od, m := binary.Varint(b[pos:]); od != 1 || m != 1 {
		t.Fatalf("record 1 offset delta %d (%d bytes)", od, m)
	}
	b[pos] = byte(5 << 1) // zigzag 5
	reCRC(b)
	return b
}

func reCRC(b []byte) {
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
}

// Append checks the CRC and the records of an uncompressed batch after
// writing it (records.ValidateDeferred). A batch that fails them is cut off
// the segment again, and the answer is the one the checks made up front
// would give, in Kafka's order.
func TestDeferredChecks(t *testing.T) {
	fs := vfs.NewMemFS()
	const dir = "/data/t-0"
	p := openTest(t, dir, DefaultConfig(), Options{FS: fs})
	seg := fileName(dir, 0, logSuffix)
	appendWait(t, p, makeBatch(batchSpec{records: 3, valueSize: 10}))
	size := func() int64 {
		n, _, err := fs.Stat(seg)
		must(t, err)
		return n
	}
	before := size()

	walkBad := badOffsetDelta(t, makeBatch(batchSpec{records: 2, valueSize: 10}))
	crcBad := makeBatch(batchSpec{records: 2, valueSize: 10})
	crcBad[len(crcBad)-1] ^= 1
	countBad := makeBatch(batchSpec{records: 2, valueSize: 10})
	binary.BigEndian.PutUint32(countBad[57:], 3) // record count 3, last offset delta 1
	reCRC(countBad)

	cases := []struct {
		name  string
		batch []byte
		want  error  // Validate's error class
		text  string // and a piece of its text
	}{
		{"records malformed, CRC matching", walkBad, records.ErrInvalid, "offset delta 5"},
		{"CRC wrong", crcBad, records.ErrCorrupt, "crc32c"},
		{"good batch, then a malformed one", append(makeBatch(batchSpec{records: 2}), walkBad...), records.ErrInvalid, "offset delta 5"},
		// The second batch fails a check made up front; the first one's
		// CRC, checked before it in Kafka's order, is the answer.
		{"CRC wrong, then a count mismatch", append(bytes.Clone(crcBad), countBad...), records.ErrCorrupt, "crc32c"},
	}
	for _, c := range cases {
		_, err := p.Append(bytes.Clone(c.batch))
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%s: %v, want %v (%q)", c.name, err, c.want, c.text)
		}
		if got := size(); got != before {
			t.Errorf("%s: segment is %d bytes after the rejected append, was %d", c.name, got, before)
		}
		if _, _, leo := p.Offsets(); leo != 3 {
			t.Errorf("%s: log end %d", c.name, leo)
		}
	}

	// The log goes on from where it was, and reads back whole.
	res := appendWait(t, p, makeBatch(batchSpec{records: 2, valueSize: 10}))
	if res.BaseOffset != 3 || res.LastOffset != 4 {
		t.Fatalf("next append at %d-%d", res.BaseOffset, res.LastOffset)
	}
	rr, err := p.Read(0, 1<<20, false)
	must(t, err)
	n := 0
	must(t, records.Split(rr.Records, func(h records.Header, b []byte) error {
		n++
		_, err := records.Validate(b)
		return err
	}))
	if n != 2 || int64(len(rr.Records)) != size() {
		t.Fatalf("%d batches, %d bytes read, segment %d bytes", n, len(rr.Records), size())
	}
}

// A batch that is not written gets its deferred checks first: a corrupt
// retry of an acknowledged batch, or a corrupt batch out of sequence, is
// CORRUPT_MESSAGE as in Kafka, which checks the CRC before the producer
// state.
func TestDeferredChecksBeforeProducerState(t *testing.T) {
	p := openTest(t, "/data/t-0", DefaultConfig(), Options{FS: vfs.NewMemFS()})
	first := makeBatch(batchSpec{records: 2, idempotent: true, pid: 7, seq: 0})
	appendWait(t, p, bytes.Clone(first))

	dup := bytes.Clone(first)
	dup[len(dup)-1] ^= 1
	if _, err := p.Append(dup); !errors.Is(err, records.ErrCorrupt) {
		t.Errorf("corrupt duplicate: %v", err)
	}
	res, err := p.Append(bytes.Clone(first))
	if err != nil || !res.Duplicate {
		t.Errorf("duplicate: %+v %v", res, err)
	}

	gap := makeBatch(batchSpec{records: 2, idempotent: true, pid: 7, seq: 5})
	if _, err := p.Append(bytes.Clone(gap)); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Errorf("sequence gap: %v", err)
	}
	gap[len(gap)-1] ^= 1
	if _, err := p.Append(gap); !errors.Is(err, records.ErrCorrupt) {
		t.Errorf("corrupt batch with a sequence gap: %v", err)
	}
}

// A crash between the write of a batch and its cut (TestDeferredChecks)
// leaves a batch with a good CRC and malformed records at the end of the
// last segment; recovery drops it like a torn tail.
func TestRecoveryChecksRecordsOfTail(t *testing.T) {
	fs := vfs.NewMemFS()
	const dir = "/data/t-0"
	cfg := DefaultConfig()
	p := openTest(t, dir, cfg, Options{FS: fs})
	appendWait(t, p, makeBatch(batchSpec{records: 3, valueSize: 10}))
	must(t, p.Close())

	seg := fileName(dir, 0, logSuffix)
	data, err := fs.ReadFile(seg)
	must(t, err)
	bad := badOffsetDelta(t, makeBatch(batchSpec{records: 2, valueSize: 10}))
	records.SetBaseOffset(bad, 3)
	must(t, fs.WriteFile(seg, append(bytes.Clone(data), bad...)))

	p = openTest(t, dir, cfg, Options{FS: fs})
	if _, _, leo := p.Offsets(); leo != 3 {
		t.Fatalf("log end %d after recovery, want 3", leo)
	}
	if got, err := fs.ReadFile(seg); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("segment after recovery: %d bytes, want %d (%v)", len(got), len(data), err)
	}
	res := appendWait(t, p, makeBatch(batchSpec{records: 1}))
	if res.BaseOffset != 3 {
		t.Fatalf("append after recovery at %d", res.BaseOffset)
	}
}
