package broker_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// franzModes are the producer settings every client scenario runs under.
var franzModes = []struct {
	name string
	opts []kgo.Opt
	acks int // -1, 0, 1
}{
	{"idempotent-acks-all", []kgo.Opt{kgo.RequiredAcks(kgo.AllISRAcks())}, -1},
	{"acks-all", []kgo.Opt{kgo.DisableIdempotentWrite(), kgo.RequiredAcks(kgo.AllISRAcks())}, -1},
	{"acks-1", []kgo.Opt{kgo.DisableIdempotentWrite(), kgo.RequiredAcks(kgo.LeaderAck())}, 1},
	{"acks-0", []kgo.Opt{kgo.DisableIdempotentWrite(), kgo.RequiredAcks(kgo.NoAck())}, 0},
}

func newFranz(t testing.TB, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func createTopic(t testing.TB, addr, topic string, partitions int32, configs map[string]*string) {
	t.Helper()
	cl := newFranz(t, addr)
	adm := kadm.NewClient(cl)
	resp, err := adm.CreateTopics(testCtx(t), partitions, 1, configs, topic)
	if err != nil {
		t.Fatal(err)
	}
	if err := resp.Error(); err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
}

// consumeFranz reads exactly n records from one partition from offset 0.
func consumeFranz(t testing.TB, addr, topic string, partition int32, n int) []*kgo.Record {
	t.Helper()
	cl := newFranz(t, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		topic: {partition: kgo.NewOffset().AtStart()},
	}), kgo.FetchMaxBytes(16<<20))
	ctx := testCtx(t)
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records from %s/%d: %v", len(out), n, topic, partition, err)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		out = append(out, fs.Records()...)
	}
	if len(out) != n {
		t.Fatalf("consumed %d records from %s/%d, want %d", len(out), topic, partition, n)
	}
	return out
}

func TestFranzProduceConsume(t *testing.T) {
	t.Parallel()
	_, addr := startBroker(t)
	for _, m := range franzModes {
		t.Run(m.name, func(t *testing.T) {
			ctx := testCtx(t)
			cl := newFranz(t, addr, m.opts...)
			topic := "franz-" + m.name
			createTopic(t, addr, topic, 3, nil)

			// 50 records in order, then 30 more to partition 0: offsets 0-79.
			var rs []*kgo.Record
			for i := range 80 {
				rs = append(rs, &kgo.Record{Topic: topic, Partition: 0, Value: fmt.Appendf(nil, "v%d", i)})
			}
			if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
				t.Fatal(err)
			}
			if m.acks != 0 {
				for i, r := range rs {
					if r.Offset != int64(i) {
						t.Fatalf("record %d acknowledged at offset %d", i, r.Offset)
					}
				}
			}
			// 15 records over 3 partitions.
			var spread []*kgo.Record
			for i := range 15 {
				spread = append(spread, &kgo.Record{Topic: topic, Partition: int32(1 + i%2), Value: fmt.Appendf(nil, "s%d", i)})
			}
			if err := cl.ProduceSync(ctx, spread...).FirstErr(); err != nil {
				t.Fatal(err)
			}

			got := consumeFranz(t, addr, topic, 0, 80)
			for i, r := range got {
				if r.Offset != int64(i) || string(r.Value) != fmt.Sprintf("v%d", i) {
					t.Fatalf("partition 0 record %d: offset %d value %q", i, r.Offset, r.Value)
				}
			}
			for p := int32(1); p <= 2; p++ {
				var want []string
				for i := range 15 {
					if int32(1+i%2) == p {
						want = append(want, fmt.Sprintf("s%d", i))
					}
				}
				got := consumeFranz(t, addr, topic, p, len(want))
				for i, r := range got {
					if r.Offset != int64(i) || string(r.Value) != want[i] {
						t.Fatalf("partition %d record %d: offset %d value %q, want %q", p, i, r.Offset, r.Value, want[i])
					}
				}
			}
		})
	}
}

func TestFranzRecordShapes(t *testing.T) {
	t.Parallel()
	_, addr := startBroker(t)
	ctx := testCtx(t)
	maxMsg := "2097152"
	createTopic(t, addr, "shapes", 1, map[string]*string{"max.message.bytes": &maxMsg})
	cl := newFranz(t, addr, kgo.ProducerBatchMaxBytes(2<<20))
	big := bytes.Repeat([]byte("x"), 1<<20)
	rs := []*kgo.Record{
		{Topic: "shapes", Key: []byte("k"), Value: []byte("v"), Headers: []kgo.RecordHeader{{Key: "h1", Value: []byte("a")}, {Key: "h2", Value: nil}}},
		{Topic: "shapes", Key: nil, Value: []byte("null key")},
		{Topic: "shapes", Key: []byte("null value"), Value: nil},
		{Topic: "shapes", Key: nil, Value: nil},
		{Topic: "shapes", Key: []byte("big"), Value: big},
	}
	for _, r := range rs {
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce %q: %v", r.Key, err)
		}
	}
	got := consumeFranz(t, addr, "shapes", 0, len(rs))
	for i, r := range got {
		w := rs[i]
		if (r.Key == nil) != (w.Key == nil) || !bytes.Equal(r.Key, w.Key) || (r.Value == nil) != (w.Value == nil) || !bytes.Equal(r.Value, w.Value) {
			t.Fatalf("record %d: key %q value len %d (nil %v), want key %q value len %d (nil %v)", i, r.Key, len(r.Value), r.Value == nil, w.Key, len(w.Value), w.Value == nil)
		}
		if len(r.Headers) != len(w.Headers) {
			t.Fatalf("record %d: %d headers, want %d", i, len(r.Headers), len(w.Headers))
		}
		for j, h := range r.Headers {
			if h.Key != w.Headers[j].Key || !bytes.Equal(h.Value, w.Headers[j].Value) {
				t.Fatalf("record %d header %d: %q=%q", i, j, h.Key, h.Value)
			}
		}
	}
	// Over the topic's max.message.bytes: MESSAGE_TOO_LARGE, not a crash.
	huge := &kgo.Record{Topic: "shapes", Value: bytes.Repeat([]byte("y"), 3<<20)}
	cl2 := newFranz(t, addr, kgo.ProducerBatchMaxBytes(8<<20), kgo.RecordRetries(0), kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err := cl2.ProduceSync(context.Background(), huge).FirstErr(); err == nil {
		t.Fatal("a 3 MiB record was accepted by a topic with max.message.bytes 2 MiB")
	}
}
