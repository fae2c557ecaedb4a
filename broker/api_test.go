package broker_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/broker"
)

// request sends one kmsg request through a franz-go client.
func request[R kmsg.Response](t *testing.T, cl *kgo.Client, req kmsg.Request) R {
	t.Helper()
	resp, err := cl.Request(testCtx(t), req)
	if err != nil {
		t.Fatalf("%T: %v", req, err)
	}
	return resp.(R)
}

func TestCreateTopicsErrors(t *testing.T) {
	t.Parallel()
	_, addr := startBroker(t)
	cl := newFranz(t, addr)
	adm := kadm.NewClient(cl)
	ctx := testCtx(t)

	if _, err := adm.CreateTopic(ctx, 2, 1, nil, "t1"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name       string
		partitions int32
		rf         int16
		configs    map[string]*string
		want       error
	}{
		{"t1", 1, 1, nil, kerr.TopicAlreadyExists},
		{"rf3", 1, 3, nil, kerr.InvalidReplicationFactor},
		{"zero-partitions", 0, 1, nil, kerr.InvalidPartitions},
		{"bad/name", 1, 1, nil, kerr.InvalidTopicException},
		{"bad-config", 1, 1, map[string]*string{"no.such.config": kadm.StringPtr("1")}, kerr.InvalidConfig},
		{"bad-value", 1, 1, map[string]*string{"retention.ms": kadm.StringPtr("soon")}, kerr.InvalidConfig},
	}
	for _, c := range cases {
		resp, err := adm.CreateTopic(ctx, c.partitions, c.rf, c.configs, c.name)
		if err != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
			continue
		}
		if !errors.Is(resp.Err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, resp.Err, c.want)
		}
		if resp.Err != nil && resp.ErrMessage == "" {
			t.Errorf("%s: no error message", c.name)
		}
	}

	// Duplicates within one request are both refused.
	req := kmsg.NewPtrCreateTopicsRequest()
	for range 2 {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "dup", 1, 1
		req.Topics = append(req.Topics, rt)
	}
	resp := request[*kmsg.CreateTopicsResponse](t, cl, req)
	for _, rt := range resp.Topics {
		if rt.ErrorCode != kerr.InvalidRequest.Code {
			t.Errorf("duplicate topic in one request: code %d", rt.ErrorCode)
		}
	}

	// Validate-only creates nothing.
	vreq := kmsg.NewPtrCreateTopicsRequest()
	vreq.ValidateOnly = true
	vt := kmsg.NewCreateTopicsRequestTopic()
	vt.Topic, vt.NumPartitions, vt.ReplicationFactor = "validated", 4, -1
	vreq.Topics = append(vreq.Topics, vt)
	vresp := request[*kmsg.CreateTopicsResponse](t, cl, vreq)
	if vresp.Topics[0].ErrorCode != 0 || vresp.Topics[0].NumPartitions != 4 {
		t.Fatalf("validate only: %+v", vresp.Topics[0])
	}
	md, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if md.Has("validated") {
		t.Fatal("validate-only created the topic")
	}
}

func TestDeleteAndRecreate(t *testing.T) {
	t.Parallel()
	_, addr := startBroker(t)
	cl := newFranz(t, addr)
	adm := kadm.NewClient(cl)
	ctx := testCtx(t)
	createTopic(t, addr, "gone", 2, nil)
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "gone", Value: []byte("old")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	before, _ := adm.ListTopics(ctx, "gone")
	resp, err := adm.DeleteTopics(ctx, "gone")
	if err != nil || resp.Error() != nil {
		t.Fatalf("delete: %v %v", err, resp.Error())
	}
	dresp, _ := adm.DeleteTopics(ctx, "gone")
	if !errors.Is(dresp["gone"].Err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("second delete: %v", dresp["gone"].Err)
	}
	createTopic(t, addr, "gone", 1, nil)
	// A new client: kgo may answer metadata from its cache.
	after, _ := kadm.NewClient(newFranz(t, addr)).ListTopics(ctx, "gone")
	if before["gone"].ID == after["gone"].ID || before["gone"].ID == [16]byte{} {
		t.Fatalf("recreated topic kept its id %x (before %x)", after["gone"].ID, before["gone"].ID)
	}
	offs, err := adm.ListEndOffsets(ctx, "gone")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := offs.Lookup("gone", 0); o.Offset != 0 {
		t.Fatalf("recreated topic has end offset %d", o.Offset)
	}
}

func TestMetadataAutoCreate(t *testing.T) {
	t.Parallel()
	_, addr := startBroker(t, func(c *broker.Config) { c.NumPartitions = 3 })
	cl := newFranz(t, addr)
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr("auto")
	req.Topics = append(req.Topics, rt)
	req.AllowAutoTopicCreation = true
	resp := request[*kmsg.MetadataResponse](t, cl, req)
	if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 || len(resp.Topics[0].Partitions) != 3 {
		t.Fatalf("auto-create: %+v", resp.Topics)
	}
	if resp.Brokers[0].Host != "127.0.0.1" || resp.Topics[0].Partitions[0].Leader != resp.Brokers[0].NodeID {
		t.Fatalf("brokers %+v", resp.Brokers)
	}

	_, addr2 := startBroker(t, func(c *broker.Config) { c.AutoCreateTopics = false })
	cl2 := newFranz(t, addr2)
	resp2 := request[*kmsg.MetadataResponse](t, cl2, req)
	if resp2.Topics[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("auto-create disabled: code %d", resp2.Topics[0].ErrorCode)
	}
}

func TestDescribeConfigs(t *testing.T) {
	t.Parallel()
	_, addr := startBroker(t, func(c *broker.Config) {
		c.BrokerConfigs = map[string]string{"log.retention.ms": "3600000"}
	})
	cl := newFranz(t, addr)
	adm := kadm.NewClient(cl)
	ctx := testCtx(t)
	createTopic(t, addr, "cfg", 1, map[string]*string{"segment.bytes": kadm.StringPtr("1048576")})
	rcs, err := adm.DescribeTopicConfigs(ctx, "cfg")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On("cfg", nil)
	if err != nil || rc.Err != nil {
		t.Fatal(err, rc.Err)
	}
	got := map[string]kadm.Config{}
	for _, c := range rc.Configs {
		got[c.Key] = c
	}
	check := func(key, value string, source kmsg.ConfigSource) {
		t.Helper()
		c, ok := got[key]
		if !ok {
			t.Fatalf("%s missing", key)
		}
		if c.MaybeValue() != value || c.Source != source {
			t.Errorf("%s = %q (%v), want %q (%v)", key, c.MaybeValue(), c.Source, value, source)
		}
	}
	check("segment.bytes", "1048576", kmsg.ConfigSourceDynamicTopicConfig)
	check("retention.ms", "3600000", kmsg.ConfigSourceStaticBrokerConfig)
	check("cleanup.policy", "delete", kmsg.ConfigSourceDefaultConfig)
	check("max.message.bytes", "1048588", kmsg.ConfigSourceDefaultConfig)

	bcs, err := adm.DescribeBrokerConfigs(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, rc := range bcs {
		for _, c := range rc.Configs {
			if c.Key == "log.retention.ms" && c.MaybeValue() == "3600000" {
				found = true
			}
		}
	}
	if !found {
		t.Fatal("broker config log.retention.ms not described")
	}
	if _, err := adm.DescribeTopicConfigs(ctx, "missing"); err == nil {
		rcs, _ := adm.DescribeTopicConfigs(ctx, "missing")
		if rc, _ := rcs.On("missing", nil); !errors.Is(rc.Err, kerr.UnknownTopicOrPartition) {
			t.Fatalf("unknown topic: %v", rc.Err)
		}
	}
}

func TestListOffsets(t *testing.T) {
	t.Parallel()
	_, addr := startBroker(t)
	cl := newFranz(t, addr)
	adm := kadm.NewClient(cl)
	ctx := testCtx(t)
	createTopic(t, addr, "lo", 1, nil)
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	for i := range 10 {
		ts := base.Add(time.Duration(i) * time.Minute)
		if i == 7 {
			ts = base.Add(30 * time.Minute) // the largest timestamp
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "lo", Value: fmt.Appendf(nil, "%d", i), Timestamp: ts}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	start, _ := adm.ListStartOffsets(ctx, "lo")
	end, _ := adm.ListEndOffsets(ctx, "lo")
	if o, _ := start.Lookup("lo", 0); o.Offset != 0 {
		t.Fatalf("start %d", o.Offset)
	}
	if o, _ := end.Lookup("lo", 0); o.Offset != 10 {
		t.Fatalf("end %d", o.Offset)
	}
	after, err := adm.ListOffsetsAfterMilli(ctx, base.Add(150*time.Second).UnixMilli(), "lo")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := after.Lookup("lo", 0); o.Offset != 3 {
		t.Fatalf("offset after +2.5min: %d, want 3", o.Offset)
	}
	late, _ := adm.ListOffsetsAfterMilli(ctx, time.Now().Add(time.Hour).UnixMilli(), "lo")
	if o, _ := late.Lookup("lo", 0); o.Offset != 10 {
		// kadm maps "none found" (-1) to the end offset.
		t.Fatalf("offset after the future: %d", o.Offset)
	}
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = "lo"
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Timestamp = -3
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := request[*kmsg.ListOffsetsResponse](t, cl, req)
	if p := resp.Topics[0].Partitions[0]; p.Offset != 7 || p.Timestamp != base.Add(30*time.Minute).UnixMilli() {
		t.Fatalf("max timestamp: offset %d ts %d", p.Offset, p.Timestamp)
	}
}

func TestFetchEdges(t *testing.T) {
	t.Parallel()
	_, addr := startBroker(t)
	cl := newFranz(t, addr)
	ctx := testCtx(t)
	createTopic(t, addr, "fe", 1, nil)
	var rs []*kgo.Record
	for i := range 5 {
		rs = append(rs, &kgo.Record{Topic: "fe", Value: fmt.Appendf(nil, "%d", i)})
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	md, err := kadm.NewClient(cl).ListTopics(ctx, "fe")
	if err != nil {
		t.Fatal(err)
	}
	fetch := func(offset int64, maxWait int32, minBytes int32) *kmsg.FetchResponseTopicPartition {
		req := kmsg.NewPtrFetchRequest()
		req.MaxWaitMillis, req.MinBytes = maxWait, minBytes
		ft := kmsg.NewFetchRequestTopic()
		ft.Topic, ft.TopicID = "fe", md["fe"].ID
		fp := kmsg.NewFetchRequestTopicPartition()
		fp.FetchOffset, fp.PartitionMaxBytes = offset, 1<<20
		ft.Partitions = append(ft.Partitions, fp)
		req.Topics = append(req.Topics, ft)
		resp := request[*kmsg.FetchResponse](t, cl, req)
		return &resp.Topics[0].Partitions[0]
	}
	if p := fetch(100, 0, 0); p.ErrorCode != kerr.OffsetOutOfRange.Code {
		t.Fatalf("offset 100: code %d", p.ErrorCode)
	}
	// An offset inside a batch returns that batch.
	p := fetch(2, 0, 0)
	if p.ErrorCode != 0 || p.HighWatermark != 5 || len(p.RecordBatches) == 0 {
		t.Fatalf("offset 2: %+v", p)
	}
	var bt kmsg.RecordBatch
	if err := bt.ReadFrom(p.RecordBatches); err != nil {
		t.Fatal(err)
	}
	if bt.FirstOffset > 2 || bt.FirstOffset+int64(bt.LastOffsetDelta) < 2 {
		t.Fatalf("offset 2 returned batch %d-%d", bt.FirstOffset, bt.FirstOffset+int64(bt.LastOffsetDelta))
	}
	// At the end: empty, no error.
	if p := fetch(5, 0, 0); p.ErrorCode != 0 || len(p.RecordBatches) != 0 {
		t.Fatalf("offset 5: %+v", p)
	}
	// Long poll woken by an append.
	go func() {
		time.Sleep(200 * time.Millisecond)
		cl.ProduceSync(context.Background(), &kgo.Record{Topic: "fe", Value: []byte("late")})
	}()
	start := time.Now()
	if p := fetch(5, 10000, 1); p.ErrorCode != 0 || len(p.RecordBatches) == 0 {
		t.Fatalf("long poll: %+v", p)
	}
	if el := time.Since(start); el > 8*time.Second {
		t.Fatalf("long poll was not woken by the append (%v)", el)
	}
}
