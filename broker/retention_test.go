package broker_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-stream/chronik/broker"
)

// fastLogMaintenance makes the broker check retention and compaction often.
func fastLogMaintenance(c *broker.Config) {
	c.BrokerConfigs = map[string]string{
		"log.retention.check.interval.ms": "20",
		"log.cleaner.backoff.ms":          "20",
	}
}

func produceSync(t *testing.T, cl *kgo.Client, recs ...*kgo.Record) {
	t.Helper()
	if err := cl.ProduceSync(testCtx(t), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func startOffset(t *testing.T, adm *kadm.Client, topic string) int64 {
	t.Helper()
	offs, err := adm.ListStartOffsets(testCtx(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	o, ok := offs.Lookup(topic, 0)
	if !ok || o.Err != nil {
		t.Fatalf("start offset of %s: %v %v", topic, ok, o.Err)
	}
	return o.Offset
}

// A topic with a short retention.ms and small segments loses its old
// segments; ListOffsets earliest moves and consumers start there.
func TestRetentionDeletesOldSegments(t *testing.T) {
	t.Parallel()
	_, addr := startBroker(t, fastLogMaintenance)
	topic := "retained"
	str := func(s string) *string { return &s }
	createTopic(t, addr, topic, 1, map[string]*string{
		"retention.ms":           str("300"),
		"internal.segment.bytes": str("1024"),
		"file.delete.delay.ms":   str("0"),
	})
	cl := newFranz(t, addr, kgo.DefaultProduceTopic(topic))
	adm := kadm.NewClient(cl)
	value := make([]byte, 200)
	for i := 0; i < 20; i++ {
		produceSync(t, cl, &kgo.Record{Partition: 0, Value: value})
	}
	if got := startOffset(t, adm, topic); got != 0 {
		t.Fatalf("start offset %d before retention.ms", got)
	}
	time.Sleep(400 * time.Millisecond)
	// New data: the old segments are now past retention.ms (the active one
	// only goes once it rolls).
	for i := 0; i < 5; i++ {
		produceSync(t, cl, &kgo.Record{Partition: 0, Value: value})
	}
	var start int64
	deadline := time.Now().Add(20 * time.Second)
	for start = startOffset(t, adm, topic); start < 15; start = startOffset(t, adm, topic) {
		if time.Now().After(deadline) {
			t.Fatalf("start offset still %d", start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	recs := consumeFranz(t, addr, topic, 0, int(25-start))
	if recs[0].Offset != start {
		t.Fatalf("consumer started at %d, log start %d", recs[0].Offset, start)
	}
}

// A compacted topic keeps the latest value of each key.
func TestCompactedTopicKeepsLatestValues(t *testing.T) {
	t.Parallel()
	_, addr := startBroker(t, fastLogMaintenance)
	topic := "compacted"
	str := func(s string) *string { return &s }
	createTopic(t, addr, topic, 1, map[string]*string{
		"cleanup.policy":            str("compact"),
		"internal.segment.bytes":    str("1024"),
		"min.cleanable.dirty.ratio": str("0.01"),
		"file.delete.delay.ms":      str("0"),
	})
	cl := newFranz(t, addr, kgo.DefaultProduceTopic(topic))
	const keys, rounds = 5, 40
	for r := 0; r < rounds; r++ {
		for k := 0; k < keys; k++ {
			produceSync(t, cl, &kgo.Record{Partition: 0, Key: fmt.Appendf(nil, "k%d", k), Value: fmt.Appendf(nil, "v%d-%d", k, r)})
		}
	}
	// A record without a key is refused.
	if err := cl.ProduceSync(testCtx(t), &kgo.Record{Partition: 0, Value: []byte("no key")}).FirstErr(); err == nil {
		t.Fatal("keyless record accepted on a compacted topic")
	}
	total := keys * rounds
	deadline := time.Now().Add(20 * time.Second)
	for {
		recs := consumeUntilEnd(t, addr, topic, int64(total))
		latest := map[string]string{}
		for _, r := range recs {
			latest[string(r.Key)] = string(r.Value)
		}
		for k := 0; k < keys; k++ {
			if want := fmt.Sprintf("v%d-%d", k, rounds-1); latest[fmt.Sprintf("k%d", k)] != want {
				t.Fatalf("key k%d: latest value %q, want %q", k, latest[fmt.Sprintf("k%d", k)], want)
			}
		}
		if len(recs) < total/2 {
			break // compacted
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %d of %d records", len(recs), total)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// consumeUntilEnd reads partition 0 from the start up to offset end.
func consumeUntilEnd(t *testing.T, addr, topic string, end int64) []*kgo.Record {
	t.Helper()
	cl := newFranz(t, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	defer cl.Close()
	ctx := testCtx(t)
	var out []*kgo.Record
	for len(out) == 0 || out[len(out)-1].Offset < end-1 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consuming %s: %v", topic, err)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		out = append(out, fs.Records()...)
	}
	return out
}
