package log

import (
	"encoding/binary"
	"hash/crc32"
	"log/slog"
	"testing"

	"github.com/chronik-stream/chronik/internal/records"
)

// batchSpec describes a v2 record batch for tests.
type batchSpec struct {
	records    int   // default 1
	valueSize  int   // bytes per record value
	baseTs     int64 // base timestamp (default 1000)
	tsStep     int64 // timestamp delta between records
	tsDeltas   []int64
	pid        int64 // -1 for none (set noPID=false to use 0)
	epoch      int16
	seq        int32
	attrs      int16
	idempotent bool // use pid/epoch/seq; otherwise pid -1
	fill       byte
}

// makeBatch encodes a valid v2 batch (base offset 0) as a producer would.
func makeBatch(s batchSpec) []byte {
	n := s.records
	if n == 0 {
		n = 1
	}
	if s.baseTs == 0 {
		s.baseTs = 1000
	}
	var recs []byte
	maxTs := s.baseTs
	for i := 0; i < n; i++ {
		delta := int64(i) * s.tsStep
		if s.tsDeltas != nil {
			delta = s.tsDeltas[i]
		}
		maxTs = max(maxTs, s.baseTs+delta)
		var r []byte
		r = append(r, 0) // attributes
		r = binary.AppendVarint(r, delta)
		r = binary.AppendVarint(r, int64(i))
		r = binary.AppendVarint(r, -1) // null key
		r = binary.AppendVarint(r, int64(s.valueSize))
		for j := 0; j < s.valueSize; j++ {
			r = append(r, s.fill+byte(i+j))
		}
		r = binary.AppendVarint(r, 0) // headers
		recs = binary.AppendVarint(recs, int64(len(r)))
		recs = append(recs, r...)
	}
	b := make([]byte, 61, 61+len(recs))
	b = append(b, recs...)
	be := binary.BigEndian
	be.PutUint64(b[0:], 0)
	be.PutUint32(b[8:], uint32(len(b)-12))
	be.PutUint32(b[12:], 7) // leader epoch: the broker rewrites it to 0
	b[16] = 2
	be.PutUint16(b[21:], uint16(s.attrs))
	be.PutUint32(b[23:], uint32(n-1))
	be.PutUint64(b[27:], uint64(s.baseTs))
	be.PutUint64(b[35:], uint64(maxTs))
	pid, epoch, seq := int64(-1), int16(-1), int32(-1)
	if s.idempotent {
		pid, epoch, seq = s.pid, s.epoch, s.seq
	}
	be.PutUint64(b[43:], uint64(pid))
	be.PutUint16(b[51:], uint16(epoch))
	be.PutUint32(b[53:], uint32(seq))
	be.PutUint32(b[57:], uint32(n))
	be.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// testLogger sends slog output to t.Log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(b[:len(b)-1]))
	return len(b), nil
}

func headerOf(t testing.TB, b []byte) records.Header {
	t.Helper()
	h, err := records.ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
