package broker_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-stream/chronik/broker"
)

// Over TCP, large fetches send their records with sendfile (the metric
// counts them) and franz-go reads every record back, in order; with
// FetchCopy nothing is sent from the files and the records are the same.
func TestFetchSendfile(t *testing.T) {
	for _, copyMode := range []bool{false, true} {
		b, addr := startBroker(t, func(c *broker.Config) { c.FetchCopy = copyMode })
		cl := newFranz(t, addr, kgo.DefaultProduceTopic("sf"), kgo.AllowAutoTopicCreation(), kgo.ProducerBatchCompression(kgo.NoCompression()))
		const n = 3000
		val := bytes.Repeat([]byte("v"), 900)
		for i := 0; i < n; i++ {
			r := &kgo.Record{Value: append(binary.BigEndian.AppendUint32(nil, uint32(i)), val...)}
			cl.Produce(context.Background(), r, func(_ *kgo.Record, err error) {
				if err != nil {
					t.Error(err)
				}
			})
		}
		if err := cl.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		cons := newFranz(t, addr, kgo.ConsumeTopics("sf"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		next := 0
		for next < n && ctx.Err() == nil {
			fs := cons.PollFetches(ctx)
			fs.EachRecord(func(r *kgo.Record) {
				if got := int(binary.BigEndian.Uint32(r.Value)); got != next || r.Offset != int64(next) || !bytes.Equal(r.Value[4:], val) {
					t.Fatalf("record %d at offset %d: value %d", next, r.Offset, got)
				}
				next++
			})
		}
		cancel()
		if next != n {
			t.Fatalf("read %d of %d records", next, n)
		}
		sent := sendfileBytes(t, b)
		switch {
		case copyMode && sent != 0:
			t.Fatalf("FetchCopy: %v bytes sent from files", sent)
		case !copyMode && sent < n*900:
			t.Fatalf("%v bytes sent from files, want all %d records' bytes", sent, n)
		}
	}
}

// sendfileBytes is chronik_fetch_sendfile_bytes_total.
func sendfileBytes(t *testing.T, b *broker.Broker) float64 {
	t.Helper()
	mfs, err := b.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "chronik_fetch_sendfile_bytes_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatal("no chronik_fetch_sendfile_bytes_total metric")
	return 0
}
