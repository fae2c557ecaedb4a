package records

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestBuildRoundTrip(t *testing.T) {
	sets := map[string][]Record{
		"empty":  nil,
		"one":    sampleRecords(1, 10, 1),
		"few":    sampleRecords(7, 100, 2),
		"many":   sampleRecords(5000, 20, 3),
		"big":    sampleRecords(3, 300<<10, 4),
		"nulls":  {{OffsetDelta: 0}, {OffsetDelta: 1, Key: []byte{}, Value: []byte{}}},
		"header": {{Headers: []RecordHeader{{Key: "k"}, {Key: "", Value: []byte("v")}}}},
	}
	for name, recs := range sets {
		for _, c := range allCodecs {
			t.Run(fmt.Sprintf("%s/%s", name, c), func(t *testing.T) {
				opts := noProducer(c)
				opts.BaseOffset = 1000
				opts.PartitionLeaderEpoch = 7
				b := mustBuild(t, opts, recs)
				if err := CheckCRC(b); err != nil {
					t.Fatal(err)
				}
				h, got, err := RecordsOf(b)
				if err != nil {
					t.Fatal(err)
				}
				equalRecords(t, got, recs)
				if h.Codec() != c || h.NumRecords != int32(len(recs)) || h.BaseOffset != 1000 ||
					h.PartitionLeaderEpoch != 7 || h.Size() != len(b) {
					t.Fatalf("header %+v", h)
				}
				if len(recs) == 0 {
					if h.LastOffsetDelta != -1 || h.MaxTimestamp != -1 {
						t.Fatalf("empty batch header %+v", h)
					}
					return
				}
				if _, err := Validate(b); err != nil {
					t.Fatalf("Validate: %v", err)
				}
				if _, err := ValidateDeep(b, 0); err != nil {
					t.Fatalf("ValidateDeep: %v", err)
				}
				n := 0
				if _, err := Iterate(b, 0, func(r *Record) error {
					if r.OffsetDelta != int32(n) || !bytes.Equal(r.Value, recs[n].Value) {
						t.Fatalf("Iterate record %d: %+v", n, r)
					}
					n++
					return nil
				}); err != nil || n != len(recs) {
					t.Fatalf("Iterate: %d records, %v", n, err)
				}
			})
		}
	}
}

func TestBuildHeader(t *testing.T) {
	recs := []Record{
		{OffsetDelta: 0, TimestampDelta: 5},
		{OffsetDelta: 1, TimestampDelta: 50},
		{OffsetDelta: 2, TimestampDelta: -10},
	}
	b := mustBuild(t, BuildOptions{
		BaseOffset: 42, Codec: CodecZstd, Level: 19, ProducerID: 9, ProducerEpoch: 3,
		BaseSequence: 100, Transactional: true, BaseTimestamp: 1000, PartitionLeaderEpoch: 5,
	}, recs)
	h, err := ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	want := Header{
		BaseOffset: 42, BatchLength: int32(len(b) - LogOverhead), PartitionLeaderEpoch: 5,
		Magic: 2, CRC: Checksum(b), Attributes: int16(CodecZstd) | TransactionalBit,
		LastOffsetDelta: 2, BaseTimestamp: 1000, MaxTimestamp: 1050, ProducerID: 9,
		ProducerEpoch: 3, BaseSequence: 100, NumRecords: 3,
	}
	if h != want {
		t.Fatalf("\n got %+v\nwant %+v", h, want)
	}
	if h.LastSequence() != 102 || h.TimestampType() != TimestampCreate {
		t.Fatalf("last sequence %d, timestamp type %d", h.LastSequence(), h.TimestampType())
	}

	// Log-append time: max timestamp is the base timestamp.
	b = mustBuild(t, BuildOptions{LogAppendTime: true, BaseTimestamp: 777, Control: true}, recs)
	h, _ = ParseHeader(b)
	if h.MaxTimestamp != 777 || h.TimestampType() != TimestampLogAppend || !h.IsControl() || h.IsTransactional() {
		t.Fatalf("log append time header %+v", h)
	}
	if _, err := Validate(b); !errors.Is(err, ErrControlBatch) {
		t.Fatalf("control batch: %v", err)
	}
	if _, err := ValidateDeep(b, 0); !errors.Is(err, ErrControlBatch) {
		t.Fatalf("control batch deep: %v", err)
	}
	if _, _, err := RecordsOf(b); err != nil {
		t.Fatalf("RecordsOf of a control batch: %v", err)
	}

	// Build takes offset deltas as given; Validate catches a bad caller.
	b = mustBuild(t, noProducer(CodecNone), []Record{{OffsetDelta: 0}, {OffsetDelta: 5}})
	if h, _ := ParseHeader(b); h.LastOffsetDelta != 5 {
		t.Fatalf("last offset delta %d", h.LastOffsetDelta)
	}
	if _, err := Validate(b); !errors.Is(err, ErrInvalid) {
		t.Fatalf("gappy batch: %v", err)
	}

	if _, err := Build(BuildOptions{Codec: 6}, recs); err == nil {
		t.Fatal("codec 6 built")
	}
	if _, err := Build(BuildOptions{Codec: CodecGzip, Level: 12}, recs); err == nil {
		t.Fatal("gzip level 12 built")
	}
}

// TestAppendRecordMatchesFranz checks our record encoding byte for byte
// against franz-go's.
func TestAppendRecordMatchesFranz(t *testing.T) {
	for i, r := range sampleRecords(50, 40, 6) {
		r.TimestampDelta = int64(i) * 1e12 // varlong territory
		kr := franzRecord(&r)
		want := kr.AppendTo(nil)
		if got := AppendRecord(nil, &r); !bytes.Equal(got, want) {
			t.Fatalf("record %d:\n got % x\nwant % x", i, got, want)
		}
	}
}

// franzRecord converts r to kmsg's type, computing its length.
func franzRecord(r *Record) kmsg.Record {
	kr := kmsg.Record{
		Attributes: r.Attributes, TimestampDelta64: r.TimestampDelta,
		OffsetDelta: r.OffsetDelta, Key: r.Key, Value: r.Value,
	}
	for _, h := range r.Headers {
		kr.Headers = append(kr.Headers, kmsg.Header{Key: h.Key, Value: h.Value})
	}
	kr.Length = int32(len(kr.AppendTo(nil)) - 1) // Length 0 takes one byte
	return kr
}

// TestBuildReadByFranz parses our batches with franz-go's batch decoder.
func TestBuildReadByFranz(t *testing.T) {
	recs := sampleRecords(20, 100, 7)
	for _, c := range allCodecs {
		b := mustBuild(t, noProducer(c), recs)
		var kb kmsg.RecordBatch
		if err := kb.ReadFrom(b); err != nil {
			t.Fatal(err)
		}
		if uint32(kb.CRC) != Checksum(b) || int(kb.Length) != len(b)-LogOverhead || kb.NumRecords != 20 ||
			kb.Attributes&7 != int16(c) || kb.ProducerID != -1 {
			t.Fatalf("%s: franz-go reads %+v", c, kb)
		}
	}
}

func TestIterateStops(t *testing.T) {
	b := mustBuild(t, noProducer(CodecLZ4), sampleRecords(10, 10, 8))
	stop := errors.New("stop")
	n := 0
	_, err := Iterate(b, 0, func(*Record) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if err != stop || n != 3 {
		t.Fatalf("stopped after %d with %v", n, err)
	}
}

func TestIterateReuses(t *testing.T) {
	// Headers are reused by Iterate but owned by RecordsOf's records.
	recs := sampleRecords(7, 10, 9)
	b := mustBuild(t, noProducer(CodecNone), recs)
	_, got, err := RecordsOf(b)
	if err != nil {
		t.Fatal(err)
	}
	equalRecords(t, got, recs)
	got2, err := Records(b[HeaderSize:], len(recs))
	if err != nil {
		t.Fatal(err)
	}
	equalRecords(t, got2, recs)
}

func TestRecordsNegativeCount(t *testing.T) {
	if _, err := Records([]byte{1}, -1); err == nil {
		t.Fatal("trailing byte accepted")
	}
	if recs, err := Records(nil, -5); err != nil || len(recs) != 0 {
		t.Fatal(recs, err)
	}
}

// TestDeepChecks builds compressed batches whose insides are wrong while the
// header and CRC are right: only ValidateDeep (and RecordsOf) see it.
func TestDeepChecks(t *testing.T) {
	recs := sampleRecords(5, 30, 10)
	for _, c := range allCodecs[1:] {
		base := mustBuild(t, noProducer(c), recs)
		compress := func(rs []Record, extra ...byte) []byte {
			z, err := Compress(c, append(rawSection(rs), extra...), -1)
			if err != nil {
				t.Fatal(err)
			}
			return z
		}
		gappy := append([]Record(nil), recs...)
		gappy[2].OffsetDelta = 7
		cases := []struct {
			name  string
			batch []byte
			want  error
		}{
			{"count above records", withSection(base, compress(recs), 6), ErrCorrupt},
			{"count below records", withSection(base, compress(recs), 4), ErrCorrupt},
			{"offset delta gap", withSection(base, compress(gappy), 5), ErrInvalid},
			{"trailing garbage", withSection(base, compress(recs, 0), 5), ErrCorrupt},
			{"not compressed", withSection(base, rawSection(recs), 5), ErrCorrupt},
			{"empty section", withSection(base, nil, 5), ErrCorrupt},
		}
		for _, tc := range cases {
			if _, err := Validate(tc.batch); err != nil {
				t.Fatalf("%s %s: Validate: %v", c, tc.name, err)
			}
			if _, err := ValidateDeep(tc.batch, 0); !errors.Is(err, tc.want) {
				t.Errorf("%s %s: ValidateDeep: %v, want %v", c, tc.name, err, tc.want)
			}
			if _, _, err := RecordsOf(tc.batch); !errors.Is(err, tc.want) {
				t.Errorf("%s %s: RecordsOf: %v, want %v", c, tc.name, err, tc.want)
			}
		}
		// The limit applies.
		big := mustBuild(t, noProducer(c), sampleRecords(100, 1000, 11))
		if _, err := ValidateDeep(big, 10<<10); !errors.Is(err, ErrDecompressLimit) {
			t.Errorf("%s: limit: %v", c, err)
		}
		if _, err := Iterate(big, 10<<10, nil); !errors.Is(err, ErrDecompressLimit) {
			t.Errorf("%s: Iterate limit: %v", c, err)
		}
	}
}

func TestRecordsOfFraming(t *testing.T) {
	b := mustBuild(t, noProducer(CodecGzip), sampleRecords(3, 10, 12))
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"short", b[:30], ErrCorrupt},
		{"truncated", b[:len(b)-1], ErrCorrupt},
		{"extended", append(bytes.Clone(b), 0), ErrCorrupt},
		{"magic 1", func() []byte { c := bytes.Clone(b); c[magicOffset] = 1; return c }(), ErrUnsupported},
		{"codec 7", func() []byte { c := bytes.Clone(b); c[attrOffset+1] |= 7; return c }(), ErrCorrupt},
		{"negative count", func() []byte {
			c := bytes.Clone(b)
			binary.BigEndian.PutUint32(c[countOffset:], 1<<31)
			return c
		}(), ErrCorrupt},
	} {
		if _, _, err := RecordsOf(tc.b); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	// An empty batch, as compaction leaves, may keep its codec.
	e := mustBuild(t, noProducer(CodecZstd), nil)
	e = withSection(e, nil, 0)
	if _, recs, err := RecordsOf(e); err != nil || len(recs) != 0 {
		t.Fatalf("empty compressed batch: %v", err)
	}
}
