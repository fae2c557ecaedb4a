package broker_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestDescribeProducers(t *testing.T) {
	t.Parallel()
	_, addr := startBroker(t)
	ctx := testCtx(t)
	createTopic(t, addr, "dp", 2, nil)
	cl := newFranz(t, addr) // idempotent by default
	base := time.UnixMilli(1_700_000_000_000)
	var rs []*kgo.Record
	for i := range 12 {
		rs = append(rs, &kgo.Record{Topic: "dp", Partition: 0, Value: fmt.Appendf(nil, "%d", i), Timestamp: base.Add(time.Duration(i) * time.Second)})
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// A second producer on the same partition.
	cl2 := newFranz(t, addr)
	if err := cl2.ProduceSync(ctx, &kgo.Record{Topic: "dp", Partition: 0, Value: []byte("x"), Timestamp: base}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	set := make(kadm.TopicsSet)
	set.Add("dp", 0, 1)
	got, err := adm.DescribeProducers(ctx, set)
	if err != nil {
		t.Fatal(err)
	}
	p0 := got["dp"].Partitions[0]
	if p0.Err != nil || len(p0.ActiveProducers) != 2 {
		t.Fatalf("partition 0: %v, %d producers", p0.Err, len(p0.ActiveProducers))
	}
	var first kadm.DescribedProducer
	for _, p := range p0.ActiveProducers {
		if p.ProducerID == rs[0].ProducerID {
			first = p
		}
	}
	if first.ProducerID != rs[0].ProducerID || first.ProducerEpoch != rs[0].ProducerEpoch || first.LastSequence != 11 ||
		first.LastTimestamp != base.Add(11*time.Second).UnixMilli() || first.CoordinatorEpoch != -1 || first.CurrentTxnStartOffset != -1 {
		t.Fatalf("producer: %+v, want id %d epoch %d last sequence 11", first, rs[0].ProducerID, rs[0].ProducerEpoch)
	}
	if p1 := got["dp"].Partitions[1]; p1.Err != nil || len(p1.ActiveProducers) != 0 {
		t.Fatalf("partition 1: %+v", p1)
	}
	// An unknown partition.
	req := kmsg.NewPtrDescribeProducersRequest()
	rt := kmsg.NewDescribeProducersRequestTopic()
	rt.Topic, rt.Partitions = "dp", []int32{5}
	req.Topics = append(req.Topics, rt)
	resp := dialRaw(t, addr).roundTrip(req, 1).(*kmsg.DescribeProducersResponse)
	if c := resp.Topics[0].Partitions[0].ErrorCode; c != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("unknown partition: error %d", c)
	}
}
