package records

import (
	"encoding/binary"
	"errors"
	"testing"
)

// TestIterateCompactedBatch: a batch the log cleaner rebuilt keeps its last
// offset delta while its records keep their offset deltas, with gaps.
// Iterate and RecordsOf read it; Validate, for producers' batches, does not
// accept it.
func TestIterateCompactedBatch(t *testing.T) {
	for _, c := range allCodecs {
		recs := sampleRecords(3, 20, 5)
		recs[0].OffsetDelta, recs[1].OffsetDelta, recs[2].OffsetDelta = 0, 3, 7
		b := mustBuild(t, noProducer(c), recs)
		binary.BigEndian.PutUint32(b[lastDeltaOffs:], 9)
		binary.BigEndian.PutUint32(b[crcOffset:], Checksum(b))
		var got []int32
		h, err := Iterate(b, 0, func(r *Record) error { got = append(got, r.OffsetDelta); return nil })
		if err != nil || h.LastOffsetDelta != 9 || len(got) != 3 || got[1] != 3 || got[2] != 7 {
			t.Fatalf("%s: Iterate: %v %v", c, got, err)
		}
		if _, rs, err := RecordsOf(b); err != nil || len(rs) != 3 {
			t.Fatalf("%s: RecordsOf: %v", c, err)
		}
		if _, err := Validate(b); !errors.Is(err, ErrInvalid) {
			t.Fatalf("%s: Validate accepted a batch with gaps: %v", c, err)
		}
		// Deltas must still increase and stay within the last offset delta.
		for _, deltas := range [][3]int32{{0, 3, 3}, {0, 5, 2}, {0, 3, 10}} {
			bad := sampleRecords(3, 20, 5)
			for i := range bad {
				bad[i].OffsetDelta = deltas[i]
			}
			b := mustBuild(t, noProducer(c), bad)
			binary.BigEndian.PutUint32(b[lastDeltaOffs:], 9)
			binary.BigEndian.PutUint32(b[crcOffset:], Checksum(b))
			if _, err := Iterate(b, 0, nil); !errors.Is(err, ErrInvalid) {
				t.Fatalf("%s: deltas %v: %v", c, deltas, err)
			}
		}
	}
}
