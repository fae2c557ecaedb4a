package log

import (
	"bytes"
	"testing"
)

// ReadInto returns what Read returns, reading into the caller's buffer when
// it fits (whatever that buffer held before) and into a new one otherwise.
func TestReadIntoMatchesRead(t *testing.T) {
	p := openTest(t, t.TempDir(), DefaultConfig(), Options{})
	for i := 0; i < 10; i++ {
		appendWait(t, p, makeBatch(batchSpec{records: i + 1, valueSize: 10}))
	}
	cases := []struct {
		off    int64
		max    int
		minOne bool
	}{{0, 1 << 20, true}, {12, 1, true}, {12, 300, false}, {30, 1 << 20, false}, {54, 10, true}}
	for _, c := range cases {
		want, err := p.Read(c.off, c.max, c.minOne)
		if err != nil {
			t.Fatal(err)
		}
		// Garbage in the spare capacity must not leak into the result.
		buf := bytes.Repeat([]byte{0xAB}, 8)
		buf = append(buf, bytes.Repeat([]byte{0xCD}, 64<<10)...)[:8]
		got, err := p.ReadInto(buf, c.off, c.max, c.minOne)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Records, want.Records) || got.HighWatermark != want.HighWatermark || got.LogStartOffset != want.LogStartOffset {
			t.Fatalf("ReadInto(%d, %d, %v) differs from Read", c.off, c.max, c.minOne)
		}
		if len(got.Records) > 0 {
			if &got.Records[0] != &buf[:9][8] {
				t.Fatalf("ReadInto(%d, %d, %v) did not read into the buffer's spare capacity", c.off, c.max, c.minOne)
			}
			if cap(got.Records) != len(got.Records) {
				t.Fatalf("records capacity %d, want %d", cap(got.Records), len(got.Records))
			}
		}
		if !bytes.Equal(buf, bytes.Repeat([]byte{0xAB}, 8)) {
			t.Fatal("ReadInto wrote into buf[:len(buf)]")
		}
		// A buffer too small for the read: a new one.
		small := make([]byte, 0, 4)
		got, err = p.ReadInto(small, c.off, c.max, c.minOne)
		if err != nil || !bytes.Equal(got.Records, want.Records) {
			t.Fatalf("ReadInto with a small buffer: %v", err)
		}
	}
}
