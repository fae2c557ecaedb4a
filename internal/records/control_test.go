package records

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestEndTxnMarkerRoundTrip builds markers, parses them back, and checks
// what a Kafka client (franz-go's kmsg) reads from them.
func TestEndTxnMarkerRoundTrip(t *testing.T) {
	for _, m := range []EndTxnMarker{
		{Commit: true, CoordinatorEpoch: 0},
		{Commit: false, CoordinatorEpoch: 7},
		{Commit: true, CoordinatorEpoch: 1<<31 - 1},
		{Commit: false, CoordinatorEpoch: -1},
	} {
		b, err := BuildEndTxnMarker(42, 3, m, 1_700_000_000_123)
		if err != nil {
			t.Fatal(err)
		}
		h, err := ParseHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		if !h.IsControl() || !h.IsTransactional() || h.Magic != 2 || h.ProducerID != 42 || h.ProducerEpoch != 3 ||
			h.BaseSequence != -1 || h.NumRecords != 1 || h.LastOffsetDelta != 0 || h.MaxTimestamp != 1_700_000_000_123 ||
			h.Codec() != CodecNone || h.Size() != len(b) {
			t.Fatalf("%+v: header %+v", m, h)
		}
		if err := CheckCRC(b); err != nil {
			t.Fatal(err)
		}
		if _, err := Validate(b); !errors.Is(err, ErrControlBatch) || !errors.Is(err, ErrInvalid) {
			t.Fatalf("Validate of a marker: %v", err)
		}
		got, err := ParseEndTxnMarker(b)
		if err != nil || got != m {
			t.Fatalf("ParseEndTxnMarker = %+v, %v; want %+v", got, err, m)
		}
		typ, err := ParseControlType(b)
		if want := map[bool]ControlType{true: ControlCommit, false: ControlAbort}[m.Commit]; err != nil || typ != want {
			t.Fatalf("ParseControlType = %d, %v; want %d", typ, err, want)
		}

		// franz-go reads the batch and the control record's key and value.
		var kb kmsg.RecordBatch
		if err := kb.ReadFrom(b); err != nil {
			t.Fatal(err)
		}
		if kb.Attributes&0x30 != 0x30 || kb.ProducerID != 42 || kb.FirstSequence != -1 || kb.NumRecords != 1 {
			t.Fatalf("kmsg batch %+v", kb)
		}
		var kr kmsg.Record
		if err := kr.ReadFrom(kb.Records); err != nil {
			t.Fatal(err)
		}
		var key kmsg.ControlRecordKey
		if err := key.ReadFrom(kr.Key); err != nil {
			t.Fatal(err)
		}
		wantType := kmsg.ControlRecordKeyTypeAbort
		if m.Commit {
			wantType = kmsg.ControlRecordKeyTypeCommit
		}
		if key.Version != 0 || key.Type != wantType {
			t.Fatalf("kmsg control key %+v", key)
		}
		var val kmsg.EndTxnMarker
		if err := val.ReadFrom(kr.Value); err != nil || val.Version != 0 || val.CoordinatorEpoch != m.CoordinatorEpoch {
			t.Fatalf("kmsg marker value %+v, %v", val, err)
		}
	}
}

// TestEndTxnMarkerGolden: the marker we write is byte for byte the golden
// commit marker (built with franz-go's kmsg) once the log sets its offset.
func TestEndTxnMarkerGolden(t *testing.T) {
	want, err := os.ReadFile(goldenPath("control_commit"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := BuildEndTxnMarker(4000, 2, EndTxnMarker{Commit: true, CoordinatorEpoch: 5}, 1_700_000_000_000)
	if err != nil {
		t.Fatal(err)
	}
	SetBaseOffset(b, 10)
	if !bytes.Equal(b, want) {
		t.Fatalf("marker:\n% x\nwant\n% x", b, want)
	}
	if m, err := ParseEndTxnMarker(want); err != nil || m != (EndTxnMarker{Commit: true, CoordinatorEpoch: 5}) {
		t.Fatalf("golden marker: %+v, %v", m, err)
	}
}

func TestParseControlTypeErrors(t *testing.T) {
	build := func(control bool, recs []Record) []byte {
		return mustBuild(t, BuildOptions{ProducerID: 1, BaseSequence: -1, Transactional: true, Control: control}, recs)
	}
	cases := []struct {
		name string
		b    []byte
	}{
		{"not control", build(false, []Record{{Key: []byte{0, 0, 0, 1}, Value: []byte{0, 0, 0, 0, 0, 0}}})},
		{"no record", build(true, nil)},
		{"short key", build(true, []Record{{Key: []byte{0, 0, 1}}})},
		{"null key", build(true, []Record{{}})},
		{"negative version", build(true, []Record{{Key: []byte{0xff, 0xff, 0, 1}}})},
		{"negative type", build(true, []Record{{Key: []byte{0, 0, 0xff, 0xfe}}})},
		{"truncated", build(true, []Record{{Key: []byte{0, 0, 0, 1}}})[:HeaderSize+2]},
	}
	for _, c := range cases {
		if typ, err := ParseControlType(c.b); !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrShort) && !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: ParseControlType = %d, %v", c.name, typ, err)
		}
	}
	// Another control type parses, but is no transaction marker.
	other := build(true, []Record{{Key: []byte{0, 0, 0, 2}, Value: []byte{0, 0}}})
	if typ, err := ParseControlType(other); err != nil || typ != 2 {
		t.Fatalf("type 2: %d, %v", typ, err)
	}
	if _, err := ParseEndTxnMarker(other); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("ParseEndTxnMarker of type 2: %v", err)
	}
	// A newer key version is read as version 0, as Kafka does.
	if typ, err := ParseControlType(build(true, []Record{{Key: []byte{0, 1, 0, 1}}})); err != nil || typ != ControlCommit {
		t.Fatalf("key version 1: %d, %v", typ, err)
	}
	// A marker whose value is too short.
	if _, err := ParseEndTxnMarker(build(true, []Record{{Key: []byte{0, 0, 0, 0}, Value: []byte{0, 0, 0}}})); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("short value: %v", err)
	}
}
