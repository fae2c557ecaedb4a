package records

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"testing"
)

var allCodecs = []Codec{CodecNone, CodecGzip, CodecSnappy, CodecLZ4, CodecZstd}

// prng is a small deterministic generator (xorshift64*), so that test data
// and golden files do not depend on math/rand's algorithms.
type prng uint64

func (p *prng) next() uint64 {
	x := uint64(*p)
	x ^= x >> 12
	x ^= x << 25
	x ^= x >> 27
	*p = prng(x)
	return x * 2685821657736338717
}

func (p *prng) intn(n int) int { return int(p.next() % uint64(n)) }

var words = []string{"alpha", "beta", "gamma", "delta", "user", "order", "id", "status",
	"ok", "failed", "timestamp", "payload", "kafka", "chronik", "{", "}", ":", ",", "\""}

// text returns n bytes of compressible pseudo-JSON.
func (p *prng) text(n int) []byte {
	b := make([]byte, 0, n+16)
	for len(b) < n {
		b = append(b, words[p.intn(len(words))]...)
		b = append(b, ' ')
		if p.intn(8) == 0 {
			b = fmt.Appendf(b, "%d ", p.next()%100000)
		}
	}
	return b[:n]
}

// sampleRecords returns n records exercising the encoding's corners: null
// and empty keys and values, headers with null values, negative timestamp
// deltas. Values are about valueSize bytes of compressible text.
func sampleRecords(n, valueSize int, seed uint64) []Record {
	p := prng(seed | 1)
	recs := make([]Record, n)
	for i := range recs {
		r := &recs[i]
		r.OffsetDelta = int32(i)
		r.TimestampDelta = int64(i*7) - 3
		switch i % 4 {
		case 0:
			r.Key = nil
		case 1:
			r.Key = []byte{}
		default:
			r.Key = fmt.Appendf(nil, "key-%d", p.next()%1000)
		}
		switch i % 5 {
		case 3:
			r.Value = nil
		case 4:
			r.Value = []byte{}
		default:
			r.Value = p.text(valueSize/2 + p.intn(valueSize+1))
		}
		if i%3 == 0 {
			r.Headers = []RecordHeader{
				{Key: "trace-id", Value: fmt.Appendf(nil, "%016x", p.next())},
				{Key: "ünïcode", Value: nil},
				{Key: "", Value: []byte{}},
			}
		}
	}
	return recs
}

func rawSection(recs []Record) []byte {
	var b []byte
	for i := range recs {
		b = AppendRecord(b, &recs[i])
	}
	return b
}

// noProducer is BuildOptions for a batch without a producer.
func noProducer(c Codec) BuildOptions {
	return BuildOptions{
		Codec: c, Level: -1, ProducerID: NoProducerID, ProducerEpoch: -1,
		BaseSequence: NoSequence, BaseTimestamp: 1_700_000_000_000,
	}
}

func mustBuild(t testing.TB, opts BuildOptions, recs []Record) []byte {
	t.Helper()
	b, err := Build(opts, recs)
	if err != nil {
		t.Fatalf("Build(%+v): %v", opts, err)
	}
	return b
}

func equalRecords(t testing.TB, got, want []Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if len(g.Headers) == 0 && len(w.Headers) == 0 {
			g.Headers, w.Headers = nil, nil
		}
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("record %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

// isRecordsErr reports whether err is one of the package's batch errors.
func isRecordsErr(err error) bool {
	return errors.Is(err, ErrCorrupt) || errors.Is(err, ErrInvalid) ||
		errors.Is(err, ErrUnsupported) || errors.Is(err, ErrControlBatch)
}

// fixBatch rewrites the length and CRC of b (at least a header long) so
// that only its content decides whether it is valid.
func fixBatch(b []byte) []byte {
	binary.BigEndian.PutUint32(b[lengthOffset:], uint32(len(b)-LogOverhead))
	binary.BigEndian.PutUint32(b[crcOffset:], Checksum(b))
	return b
}

// withSection returns batch with its record section replaced by sec and
// count set, fixed up.
func withSection(batch, sec []byte, count int32) []byte {
	b := append(bytes.Clone(batch[:HeaderSize]), sec...)
	binary.BigEndian.PutUint32(b[countOffset:], uint32(count))
	binary.BigEndian.PutUint32(b[lastDeltaOffs:], uint32(count-1))
	return fixBatch(b)
}
