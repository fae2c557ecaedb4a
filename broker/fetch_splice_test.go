package broker

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	klog "github.com/chronik-stream/chronik/internal/log"
	"github.com/chronik-stream/chronik/internal/records"
)

// spliceLog is a partition log holding n batches of size bytes of values.
func spliceLog(t *testing.T, n, size int) *klog.Partition {
	t.Helper()
	p, err := klog.Open(t.TempDir(), "t", 0, klog.DefaultConfig(), klog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	var last int64
	for i := 0; i < n; i++ {
		b, err := records.Build(records.BuildOptions{BaseTimestamp: 1000, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1},
			[]records.Record{{Value: bytes.Repeat([]byte{byte('a' + i)}, size)}})
		if err != nil {
			t.Fatal(err)
		}
		res, err := p.Append(b)
		if err != nil {
			t.Fatal(err)
		}
		last = res.LastOffset
	}
	if err := p.WaitDurable(context.Background(), last); err != nil {
		t.Fatal(err)
	}
	return p
}

// A spliced fetch response is byte for byte what kmsg encodes with the
// records in place, in every version that splices (v4-v17), with spans and
// inline records mixed among topics and partitions.
func TestWriteSplicedMatchesKmsg(t *testing.T) {
	logs := []*klog.Partition{spliceLog(t, 3, 20_000), spliceLog(t, 40, 1000)}
	rng := rand.New(rand.NewPCG(3, 4))
	for v := int16(4); v <= 17; v++ {
		for round := 0; round < 5; round++ {
			resp := &kmsg.FetchResponse{Version: v}
			want := &kmsg.FetchResponse{Version: v}
			var f fetchSplice
			for ti := 0; ti < 1+rng.IntN(3); ti++ {
				st := kmsg.NewFetchResponseTopic()
				st.Topic = string(rune('a'+ti)) + "-topic"
				wt := st
				wt.Partitions = nil
				for pi := 0; pi < 1+rng.IntN(4); pi++ {
					sp := kmsg.NewFetchResponseTopicPartition()
					sp.Partition = int32(pi)
					sp.HighWatermark = rng.Int64N(1 << 40)
					sp.RecordBatches = []byte{}
					wp := sp
					switch rng.IntN(3) {
					case 0: // a span
						res, span, err := logs[rng.IntN(2)].ReadSpan(int64(rng.IntN(3)), 1+rng.IntN(50_000), true, false)
						if err != nil || span.Len == 0 {
							t.Fatalf("ReadSpan: %v, %d bytes", err, span.Len)
						}
						recs, err := span.ReadInto(nil)
						if err != nil {
							t.Fatal(err)
						}
						wp.RecordBatches, wp.HighWatermark = recs, res.HighWatermark
						sp.HighWatermark = res.HighWatermark
						sp.RecordBatches = f.add(span, ti, pi)
					case 1: // inline records
						wp.RecordBatches = bytes.Repeat([]byte{byte(pi)}, rng.IntN(100))
						sp.RecordBatches = wp.RecordBatches
					}
					st.Partitions = append(st.Partitions, sp)
					wt.Partitions = append(wt.Partitions, wp)
				}
				resp.Topics = append(resp.Topics, st)
				want.Topics = append(want.Topics, wt)
			}
			p := &pending{corr: 77, resp: resp, flexHdr: resp.IsFlexible()}
			frame := p.frame(nil)
			wantFrame := (&pending{corr: 77, resp: want, flexHdr: want.IsFlexible()}).frame(nil)
			var out bytes.Buffer
			bw := bufio.NewWriter(&out)
			c := &conn{}
			if err := c.writeSpliced(bw, frame, resp.IsFlexible(), &f); err != nil {
				t.Fatalf("v%d: %v", v, err)
			}
			bw.Flush()
			f.release()
			if !bytes.Equal(out.Bytes(), wantFrame) {
				t.Fatalf("v%d round %d: spliced frame (%d bytes) differs from kmsg's (%d bytes)", v, round, out.Len(), len(wantFrame))
			}
			got := kmsg.NewPtrFetchResponse()
			got.Version = v
			if err := got.ReadFrom(out.Bytes()[8+boolInt(resp.IsFlexible()):]); err != nil {
				t.Fatalf("v%d: spliced response does not decode: %v", v, err)
			}
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// A marker that is not where kmsg put it (here: the encoded response
// altered) makes writeSpliced write nothing, and inline puts the records
// into the response instead.
func TestWriteSplicedRefusesMisplacedMarker(t *testing.T) {
	lg := spliceLog(t, 2, 30_000)
	_, span, err := lg.ReadSpan(0, 1<<20, true, false)
	if err != nil {
		t.Fatal(err)
	}
	want, err := span.ReadInto(nil)
	if err != nil {
		t.Fatal(err)
	}
	resp := kmsg.NewPtrFetchResponse()
	resp.Version = 12
	st := kmsg.NewFetchResponseTopic()
	sp := kmsg.NewFetchResponseTopicPartition()
	var f fetchSplice
	sp.RecordBatches = f.add(span, 0, 0)
	st.Partitions = append(st.Partitions, sp)
	resp.Topics = append(resp.Topics, st)
	frame := (&pending{corr: 1, resp: resp, flexHdr: true}).frame(nil)
	i := bytes.Index(frame, f.marker(0))
	frame[i-1]++ // the length prefix is no longer that of 16 bytes
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	if err := (&conn{}).writeSpliced(bw, frame, true, &f); !errors.Is(err, errNoSplice) {
		t.Fatalf("writeSpliced: %v, want errNoSplice", err)
	}
	if bw.Buffered() != 0 || out.Len() != 0 {
		t.Fatal("writeSpliced wrote something")
	}
	if err := f.inline(resp); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(resp.Topics[0].Partitions[0].RecordBatches, want) || len(f.spans) != 0 {
		t.Fatal("inline did not put the span's records into the response")
	}
}
