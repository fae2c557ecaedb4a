package broker_test

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestFetchEmptyRecordsNotNull: an empty fetch answer carries a zero-length
// record set, never a null one (size -1). librdkafka rejects the latter with
// "invalid MessageSetSize -1" and loops forever; found with kcat.
func TestFetchEmptyRecordsNotNull(t *testing.T) {
	t.Parallel()
	_, addr := startBroker(t)
	createTopic(t, addr, "empty", 1, nil)
	c := dialRaw(t, addr)
	for _, v := range []int16{4, 11, 12} {
		req := kmsg.NewPtrFetchRequest()
		req.SetVersion(v)
		ft := kmsg.NewFetchRequestTopic()
		ft.Topic = "empty"
		fp := kmsg.NewFetchRequestTopicPartition()
		fp.PartitionMaxBytes = 1 << 20
		ft.Partitions = append(ft.Partitions, fp)
		req.Topics = append(req.Topics, ft)
		resp := c.roundTrip(req, int32(v)).(*kmsg.FetchResponse)
		p := resp.Topics[0].Partitions[0]
		if p.ErrorCode != 0 {
			t.Fatalf("v%d: error %d", v, p.ErrorCode)
		}
		if p.RecordBatches == nil {
			t.Fatalf("v%d: null record set for an empty partition", v)
		}
	}
}

// TestTimestampBounds: with CreateTime, a record more than
// message.timestamp.after.max.ms (default 1 h) in the future is refused
// with INVALID_TIMESTAMP and nothing is appended, as Kafka does; found by
// the differential tests against Kafka 4.1.
func TestTimestampBounds(t *testing.T) {
	t.Parallel()
	_, addr := startBroker(t)
	createTopic(t, addr, "ts", 1, nil)
	createTopic(t, addr, "ts-past", 1, map[string]*string{"message.timestamp.before.max.ms": kmsg.StringPtr("60000")})
	cl := newFranz(t, addr, kgo.RecordRetries(0))
	ctx := testCtx(t)
	future := &kgo.Record{Topic: "ts", Value: []byte("future"), Timestamp: time.Now().Add(2 * time.Hour)}
	if err := cl.ProduceSync(ctx, future).FirstErr(); !errors.Is(err, kerr.InvalidTimestamp) {
		t.Fatalf("2 h in the future: %v, want INVALID_TIMESTAMP", err)
	}
	past := &kgo.Record{Topic: "ts-past", Value: []byte("past"), Timestamp: time.Now().Add(-time.Hour)}
	if err := cl.ProduceSync(ctx, past).FirstErr(); !errors.Is(err, kerr.InvalidTimestamp) {
		t.Fatalf("1 h in the past with before.max.ms 60000: %v, want INVALID_TIMESTAMP", err)
	}
	ok := &kgo.Record{Topic: "ts", Value: []byte("now"), Timestamp: time.Now().Add(30 * time.Minute)}
	if err := cl.ProduceSync(ctx, ok).FirstErr(); err != nil || ok.Offset != 0 {
		t.Fatalf("30 min ahead: %v at offset %d, want offset 0", err, ok.Offset)
	}
}
