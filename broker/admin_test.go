package broker_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/broker"
)

func TestCreatePartitions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b, addr := startBroker(t, func(c *broker.Config) { c.DataDir = dir })
	ctx := testCtx(t)
	cl := newFranz(t, addr)
	adm := kadm.NewClient(cl)
	createTopic(t, addr, "grow", 2, nil)

	// Validate-only changes nothing.
	if rs, err := adm.ValidateCreatePartitions(ctx, 3, "grow"); err != nil || rs["grow"].Err != nil {
		t.Fatalf("validate: %v %v", err, rs["grow"].Err)
	}
	if td, _ := adm.ListTopics(ctx, "grow"); len(td["grow"].Partitions) != 2 {
		t.Fatalf("validate-only grew the topic to %d", len(td["grow"].Partitions))
	}
	rs, err := adm.CreatePartitions(ctx, 3, "grow")
	if err != nil || rs["grow"].Err != nil {
		t.Fatalf("create: %v %v", err, rs["grow"].Err)
	}
	if td, _ := adm.ListTopics(ctx, "grow"); len(td["grow"].Partitions) != 5 {
		t.Fatalf("topic has %d partitions after adding 3 to 2", len(td["grow"].Partitions))
	}
	// The new partitions take records at once.
	for p := int32(0); p < 5; p++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "grow", Partition: p, Value: fmt.Appendf(nil, "p%d", p)}).FirstErr(); err != nil {
			t.Fatalf("produce to partition %d: %v", p, err)
		}
	}
	if got := consumeFranz(t, addr, "grow", 4, 1); string(got[0].Value) != "p4" {
		t.Fatalf("partition 4: %q", got[0].Value)
	}

	// Kafka's errors and messages.
	cases := []struct {
		count int
		want  error
		msg   string
	}{
		{5, kerr.InvalidPartitions, "Topic already has 5 partition(s)."},
		{3, kerr.InvalidPartitions, "The topic grow currently has 5 partition(s); 3 would not be an increase."},
	}
	for _, c := range cases {
		rs, err := adm.UpdatePartitions(ctx, c.count, "grow")
		if err != nil {
			t.Fatal(err)
		}
		if r := rs["grow"]; !errors.Is(r.Err, c.want) || r.ErrMessage != c.msg {
			t.Errorf("set %d: %v %q, want %v %q", c.count, r.Err, r.ErrMessage, c.want, c.msg)
		}
	}
	if rs, _ := adm.UpdatePartitions(ctx, 3, "no-such-topic"); !errors.Is(rs["no-such-topic"].Err, kerr.UnknownTopicOrPartition) {
		t.Errorf("unknown topic: %v", rs["no-such-topic"].Err)
	}

	// Raw requests: duplicates, assignments, the size bound.
	req := kmsg.NewPtrCreatePartitionsRequest()
	add := func(topic string, count int32, assignment ...[]int32) {
		rt := kmsg.NewCreatePartitionsRequestTopic()
		rt.Topic, rt.Count = topic, count
		for _, a := range assignment {
			ra := kmsg.NewCreatePartitionsRequestTopicAssignment()
			ra.Replicas = a
			rt.Assignment = append(rt.Assignment, ra)
		}
		req.Topics = append(req.Topics, rt)
	}
	createTopic(t, addr, "assign", 1, nil)
	add("grow", 6)
	add("grow", 7)
	add("assign", 3, []int32{1})
	add("big", 1)
	req.ValidateOnly = true
	resp := request[*kmsg.CreatePartitionsResponse](t, cl, req)
	want := map[string]string{
		"grow":   "INVALID_REQUEST: Duplicate topic name.",
		"assign": "INVALID_REPLICA_ASSIGNMENT: Attempted to add 2 additional partition(s), but only 1 assignment(s) were specified.",
		"big":    "UNKNOWN_TOPIC_OR_PARTITION",
	}
	if len(resp.Topics) != 3 {
		t.Fatalf("%d answers, want one per distinct topic: %+v", len(resp.Topics), resp.Topics)
	}
	for _, rt := range resp.Topics {
		got := fmt.Sprint(kerr.ErrorForCode(rt.ErrorCode))
		if rt.ErrorMessage != nil {
			got = strings.SplitN(got, ":", 2)[0] + ": " + *rt.ErrorMessage
		}
		if !strings.HasPrefix(got, want[rt.Topic]) {
			t.Errorf("%s: %s, want %s", rt.Topic, got, want[rt.Topic])
		}
	}
	for _, c := range []struct {
		replicas []int32
		msg      string
	}{
		{[]int32{}, "The manual partition assignment includes an empty replica list."},
		{[]int32{2}, "The manual partition assignment includes broker 2, but no such broker is registered."},
		{[]int32{1, 1}, "The manual partition assignment includes the broker 1 more than once."},
		{[]int32{1}, ""},
	} {
		req := kmsg.NewPtrCreatePartitionsRequest()
		rt := kmsg.NewCreatePartitionsRequestTopic()
		rt.Topic, rt.Count = "assign", 2
		ra := kmsg.NewCreatePartitionsRequestTopicAssignment()
		ra.Replicas = c.replicas
		rt.Assignment = append(rt.Assignment, ra)
		req.Topics = append(req.Topics, rt)
		r := request[*kmsg.CreatePartitionsResponse](t, cl, req).Topics[0]
		if c.msg == "" {
			if r.ErrorCode != 0 {
				t.Errorf("assignment %v: error %d", c.replicas, r.ErrorCode)
			}
			continue
		}
		if r.ErrorCode != kerr.InvalidReplicaAssignment.Code || deref(r.ErrorMessage) != c.msg {
			t.Errorf("assignment %v: %d %q", c.replicas, r.ErrorCode, deref(r.ErrorMessage))
		}
	}
	if rs, _ := adm.ValidateUpdatePartitions(ctx, 20000, "assign"); !errors.Is(rs["assign"].Err, kerr.PolicyViolation) {
		t.Errorf("20000 partitions: %v", rs["assign"].Err)
	}

	// The count survives a restart.
	cl.Close()
	b.Close()
	_, addr = startBroker(t, func(c *broker.Config) { c.DataDir = dir })
	adm = kadm.NewClient(newFranz(t, addr))
	if td, err := adm.ListTopics(ctx, "grow", "assign"); err != nil || len(td["grow"].Partitions) != 5 || len(td["assign"].Partitions) != 2 {
		t.Fatalf("after restart: %v %d %d", err, len(td["grow"].Partitions), len(td["assign"].Partitions))
	}
	if got := consumeFranz(t, addr, "grow", 4, 1); string(got[0].Value) != "p4" {
		t.Fatalf("partition 4 after restart: %q", got[0].Value)
	}
}

func TestAlterTopicConfigs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b, addr := startBroker(t, func(c *broker.Config) { c.DataDir = dir })
	ctx := testCtx(t)
	cl := newFranz(t, addr, kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.RecordRetries(0))
	adm := kadm.NewClient(cl)
	createTopic(t, addr, "alter", 1, map[string]*string{"retention.ms": ptr("1000000")})

	describe := func(name string) (string, kmsg.ConfigSource) {
		t.Helper()
		rcs, err := adm.DescribeTopicConfigs(ctx, "alter")
		if err != nil {
			t.Fatal(err)
		}
		c, err := rcs.On("alter", nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range c.Configs {
			if e.Key == name {
				return e.MaybeValue(), e.Source
			}
		}
		t.Fatalf("no config %s", name)
		return "", 0
	}

	// Incremental: set two, keep the rest.
	rs, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
		{Name: "max.message.bytes", Value: ptr("2000")},
		{Name: "compression.type", Value: ptr("gzip")},
	}, "alter")
	if err != nil || rs[0].Err != nil {
		t.Fatalf("alter: %v %v", err, rs)
	}
	if v, src := describe("max.message.bytes"); v != "2000" || src != kmsg.ConfigSourceDynamicTopicConfig {
		t.Fatalf("max.message.bytes %q from %v", v, src)
	}
	if v, _ := describe("retention.ms"); v != "1000000" {
		t.Fatalf("retention.ms %q: an incremental alter dropped it", v)
	}
	// Live: a batch over the new limit is refused, a small one is stored
	// recompressed.
	big := &kgo.Record{Topic: "alter", Key: []byte("k"), Value: bytes.Repeat([]byte{'x'}, 5000)}
	if err := cl.ProduceSync(ctx, big).FirstErr(); !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("5000-byte record with max.message.bytes 2000: %v", err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "alter", Value: []byte("small small small small small small")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if codecs := storedCodecsT(t, addr, "alter"); len(codecs) != 1 || codecs[0] != "gzip" {
		t.Fatalf("stored %v after compression.type=gzip", codecs)
	}

	// Delete and append.
	rs, err = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
		{Op: kadm.DeleteConfig, Name: "max.message.bytes"},
		{Op: kadm.AppendConfig, Name: "cleanup.policy", Value: ptr("compact")},
	}, "alter")
	if err != nil || rs[0].Err != nil {
		t.Fatalf("alter: %v %v", err, rs)
	}
	if v, src := describe("max.message.bytes"); v != "1048588" || src != kmsg.ConfigSourceDefaultConfig {
		t.Fatalf("max.message.bytes %q from %v after delete", v, src)
	}
	if v, _ := describe("cleanup.policy"); v != "delete,compact" {
		t.Fatalf("cleanup.policy %q after append", v)
	}
	if err := cl.ProduceSync(ctx, big).FirstErr(); err != nil {
		t.Fatalf("5000-byte record after deleting the limit: %v", err)
	}

	// Legacy AlterConfigs replaces every override.
	rs, err = adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "message.timestamp.type", Value: ptr("LogAppendTime")}}, "alter")
	if err != nil || rs[0].Err != nil {
		t.Fatalf("alter state: %v %v", err, rs)
	}
	if v, src := describe("retention.ms"); v == "1000000" || src != kmsg.ConfigSourceDefaultConfig {
		t.Fatalf("retention.ms %q from %v after a replacing alter", v, src)
	}
	before := time.Now().Add(-time.Second)
	old := &kgo.Record{Topic: "alter", Key: []byte("k"), Value: []byte("old"), Timestamp: time.UnixMilli(1000)}
	if err := cl.ProduceSync(ctx, old).FirstErr(); err != nil {
		t.Fatal(err)
	}
	got := consumeFranz(t, addr, "alter", 0, 3)
	if ts := got[2].Timestamp; ts.Before(before) {
		t.Fatalf("record timestamp %v with LogAppendTime", ts)
	}

	// Errors, with Kafka's messages.
	bad := []struct {
		configs []kadm.AlterConfig
		want    error
	}{
		{[]kadm.AlterConfig{{Name: "no.such.config", Value: ptr("1")}}, kerr.InvalidConfig},
		{[]kadm.AlterConfig{{Name: "retention.ms", Value: ptr("soon")}}, kerr.InvalidConfig},
		{[]kadm.AlterConfig{{Name: "retention.ms", Value: nil}}, kerr.InvalidRequest},
		{[]kadm.AlterConfig{{Name: "retention.ms", Value: ptr("1")}, {Name: "retention.ms", Value: ptr("2")}}, kerr.InvalidRequest},
		{[]kadm.AlterConfig{{Op: kadm.AppendConfig, Name: "retention.ms", Value: ptr("2")}}, kerr.InvalidConfig},
	}
	for _, c := range bad {
		rs, err := adm.AlterTopicConfigs(ctx, c.configs, "alter")
		if err != nil {
			t.Fatal(err)
		}
		if !errors.Is(rs[0].Err, c.want) || rs[0].ErrMessage == "" {
			t.Errorf("%+v: %v %q, want %v", c.configs, rs[0].Err, rs[0].ErrMessage, c.want)
		}
	}
	if rs, _ := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: ptr("5")}}, "missing"); !errors.Is(rs[0].Err, kerr.UnknownTopicOrPartition) {
		t.Errorf("unknown topic: %v", rs[0].Err)
	}
	if rs, _ := adm.ValidateAlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: ptr("5")}}, "alter"); rs[0].Err != nil {
		t.Errorf("validate: %v", rs[0].Err)
	}
	if v, _ := describe("retention.ms"); v == "5" {
		t.Fatal("validate-only changed retention.ms")
	}

	// Broker resources: nothing is dynamic.
	if rs, _ := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Name: "log.retention.ms", Value: ptr("5")}}, 1); !errors.Is(rs[0].Err, kerr.InvalidRequest) || !strings.Contains(rs[0].ErrMessage, "Cannot update these configs dynamically") {
		t.Errorf("broker config: %v %q", rs[0].Err, rs[0].ErrMessage)
	}
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	for _, name := range []string{"7", "x", "1", ""} {
		rr := kmsg.NewIncrementalAlterConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeBroker, name
		req.Resources = append(req.Resources, rr)
	}
	req.SetVersion(1)
	for _, rr := range dialRaw(t, addr).roundTrip(req, 1).(*kmsg.IncrementalAlterConfigsResponse).Resources {
		want := map[string]int16{"7": kerr.InvalidRequest.Code, "x": kerr.InvalidRequest.Code, "1": 0, "": 0}[rr.ResourceName]
		if rr.ErrorCode != want {
			t.Errorf("broker %q: error %d, want %d", rr.ResourceName, rr.ErrorCode, want)
		}
	}
	// A resource named twice is refused both times.
	lreq := kmsg.NewPtrAlterConfigsRequest()
	for range 2 {
		rr := kmsg.NewAlterConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, "alter"
		lreq.Resources = append(lreq.Resources, rr)
	}
	for _, rr := range request[*kmsg.AlterConfigsResponse](t, cl, lreq).Resources {
		if rr.ErrorCode != kerr.InvalidRequest.Code || deref(rr.ErrorMessage) != "Each resource must appear at most once." {
			t.Errorf("duplicate resource: %d %q", rr.ErrorCode, deref(rr.ErrorMessage))
		}
	}

	// Overrides survive a restart.
	cl.Close()
	b.Close()
	_, addr = startBroker(t, func(c *broker.Config) { c.DataDir = dir })
	adm = kadm.NewClient(newFranz(t, addr))
	if v, _ := describe("message.timestamp.type"); v != "LogAppendTime" {
		t.Fatalf("message.timestamp.type %q after restart", v)
	}
}

// storedCodecsT is storedCodecs by name.
func storedCodecsT(t *testing.T, addr, topic string) []string {
	var out []string
	for _, c := range storedCodecs(t, addr, topic) {
		out = append(out, c.String())
	}
	return out
}

func TestDescribeLogDirs(t *testing.T) {
	t.Parallel()
	b, addr := startBroker(t)
	_ = b
	ctx := testCtx(t)
	cl := newFranz(t, addr, kgo.ProducerBatchCompression(kgo.NoCompression()))
	adm := kadm.NewClient(cl)
	createTopic(t, addr, "dirs-a", 2, nil)
	createTopic(t, addr, "dirs-b", 1, nil)
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "dirs-a", Partition: 1, Value: bytes.Repeat([]byte("d"), 1000)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	all, err := adm.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	dirs := all[1]
	if len(dirs) != 1 {
		t.Fatalf("%d log dirs, want 1", len(dirs))
	}
	for path, d := range dirs {
		if d.Err != nil || !filepath.IsAbs(path) {
			t.Fatalf("dir %q: %v", path, d.Err)
		}
		if d.TotalBytes <= 0 || d.UsableBytes <= 0 || d.UsableBytes > d.TotalBytes {
			t.Errorf("volume bytes %d/%d", d.UsableBytes, d.TotalBytes)
		}
		p1, ok := d.Topics.Lookup("dirs-a", 1)
		if !ok || p1.Size < 1000 || p1.OffsetLag != 0 {
			t.Fatalf("dirs-a/1: %+v %v", p1, ok)
		}
		if p0, ok := d.Topics.Lookup("dirs-a", 0); !ok || p0.Size != 0 {
			t.Fatalf("dirs-a/0: %+v %v", p0, ok)
		}
		if _, ok := d.Topics.Lookup("dirs-b", 0); !ok {
			t.Fatal("dirs-b/0 missing")
		}
	}
	// Only what was asked for, and only what exists.
	set := make(kadm.TopicsSet)
	set.Add("dirs-a", 1, 7)
	set.Add("nope", 0)
	got, err := adm.DescribeBrokerLogDirs(ctx, 1, set)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range got {
		if len(d.Topics) != 1 || len(d.Topics["dirs-a"]) != 1 {
			t.Fatalf("asked for dirs-a/1: got %+v", d.Topics)
		}
	}
}

func TestOffsetForLeaderEpoch(t *testing.T) {
	t.Parallel()
	_, addr := startBroker(t)
	ctx := testCtx(t)
	cl := newFranz(t, addr)
	adm := kadm.NewClient(cl)
	createTopic(t, addr, "ofle", 1, nil)
	for i := range 7 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "ofle", Value: fmt.Appendf(nil, "%d", i)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	var req kadm.OffsetForLeaderEpochRequest
	req.Add("ofle", 0, 0)
	rs, err := adm.OffsetForLeaderEpoch(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if r := rs["ofle"][0]; r.Err != nil || r.LeaderEpoch != 0 || r.EndOffset != 7 {
		t.Fatalf("epoch 0: %+v", r)
	}
	// Raw: an unknown later epoch, the undefined epoch, fenced and unknown
	// current epochs, an unknown partition.
	raw := kmsg.NewPtrOffsetForLeaderEpochRequest()
	raw.ReplicaID = -1
	rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
	rt.Topic = "ofle"
	for _, c := range []struct{ part, current, epoch int32 }{{0, -1, 3}, {0, -1, -1}, {0, 1, 0}, {0, 0, 0}, {5, -1, 0}} {
		rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		rp.Partition, rp.CurrentLeaderEpoch, rp.LeaderEpoch = c.part, c.current, c.epoch
		rt.Partitions = append(rt.Partitions, rp)
	}
	raw.Topics = append(raw.Topics, rt)
	raw.SetVersion(4)
	resp := dialRaw(t, addr).roundTrip(raw, 1).(*kmsg.OffsetForLeaderEpochResponse)
	want := []struct {
		code          int16
		epoch, offset int64
	}{{0, -1, -1}, {0, -1, -1}, {kerr.UnknownLeaderEpoch.Code, -1, -1}, {0, 0, 7}, {kerr.UnknownTopicOrPartition.Code, -1, -1}}
	for i, p := range resp.Topics[0].Partitions {
		w := want[i]
		if p.ErrorCode != w.code || int64(p.LeaderEpoch) != w.epoch || p.EndOffset != w.offset {
			t.Errorf("case %d: error %d epoch %d offset %d, want %+v", i, p.ErrorCode, p.LeaderEpoch, p.EndOffset, w)
		}
	}
}

func TestDescribeTopicPartitions(t *testing.T) {
	t.Parallel()
	_, addr := startBroker(t)
	cl := newFranz(t, addr)
	createTopic(t, addr, "dtp-a", 3, nil)
	createTopic(t, addr, "dtp-b", 2, nil)
	createTopic(t, addr, "dtp-c", 4, nil)

	type page struct {
		parts  []string
		cursor string
	}
	call := func(topics []string, limit int32, cursor *kmsg.DescribeTopicPartitionsRequestCursor) (page, *kmsg.DescribeTopicPartitionsResponse) {
		t.Helper()
		req := kmsg.NewPtrDescribeTopicPartitionsRequest()
		for _, n := range topics {
			rt := kmsg.NewDescribeTopicPartitionsRequestTopic()
			rt.Topic = n
			req.Topics = append(req.Topics, rt)
		}
		req.ResponsePartitionLimit = limit
		req.Cursor = cursor
		resp := request[*kmsg.DescribeTopicPartitionsResponse](t, cl, req)
		var p page
		for _, rt := range resp.Topics {
			if rt.ErrorCode != 0 {
				p.parts = append(p.parts, fmt.Sprintf("%s!%d", *rt.Topic, rt.ErrorCode))
				continue
			}
			for _, rp := range rt.Partitions {
				if rp.LeaderID != 1 || len(rp.Replicas) != 1 || len(rp.ISR) != 1 || rp.LeaderEpoch != 0 {
					t.Fatalf("%s/%d: %+v", *rt.Topic, rp.Partition, rp)
				}
				p.parts = append(p.parts, fmt.Sprintf("%s/%d", *rt.Topic, rp.Partition))
			}
		}
		if resp.NextCursor != nil {
			p.cursor = fmt.Sprintf("%s/%d", resp.NextCursor.Topic, resp.NextCursor.Partition)
		}
		return p, resp
	}
	cursor := func(topic string, part int32) *kmsg.DescribeTopicPartitionsRequestCursor {
		c := kmsg.NewDescribeTopicPartitionsRequestCursor()
		c.Topic, c.Partition = topic, part
		return &c
	}
	// Pages of 4 over every topic (only ours exist).
	var seen []string
	var cur *kmsg.DescribeTopicPartitionsRequestCursor
	for range 10 {
		p, resp := call(nil, 4, cur)
		seen = append(seen, p.parts...)
		if resp.NextCursor == nil {
			break
		}
		cur = cursor(resp.NextCursor.Topic, resp.NextCursor.Partition)
	}
	if got := strings.Join(seen, " "); got != "dtp-a/0 dtp-a/1 dtp-a/2 dtp-b/0 dtp-b/1 dtp-c/0 dtp-c/1 dtp-c/2 dtp-c/3" {
		t.Fatalf("paged: %s", got)
	}
	// A limit ending exactly at a topic's end points at the next topic.
	if p, _ := call([]string{"dtp-b", "dtp-a"}, 3, nil); strings.Join(p.parts, " ") != "dtp-a/0 dtp-a/1 dtp-a/2" || p.cursor != "dtp-b/0" {
		t.Fatalf("limit 3: %+v", p)
	}
	// Named topics that do not exist use no budget.
	if p, _ := call([]string{"dtp-a", "missing", "bad/name"}, 100, nil); strings.Join(p.parts, " ") != fmt.Sprintf("bad/name!%d dtp-a/0 dtp-a/1 dtp-a/2 missing!%d", kerr.InvalidTopicException.Code, kerr.UnknownTopicOrPartition.Code) {
		t.Fatalf("missing topics: %+v", p)
	}
	// A cursor inside a topic starts there; a cursor on a topic that is not
	// requested is INVALID_REQUEST.
	if p, _ := call([]string{"dtp-c"}, 2, cursor("dtp-c", 1)); strings.Join(p.parts, " ") != "dtp-c/1 dtp-c/2" || p.cursor != "dtp-c/3" {
		t.Fatalf("cursor: %+v", p)
	}
	if p, _ := call([]string{"dtp-a"}, 2, cursor("dtp-c", 0)); strings.Join(p.parts, " ") != fmt.Sprintf("dtp-a!%d", kerr.InvalidRequest.Code) {
		t.Fatalf("foreign cursor: %+v", p)
	}
	if p, _ := call([]string{"dtp-a"}, 2, cursor("dtp-a", -1)); strings.Join(p.parts, " ") != fmt.Sprintf("dtp-a!%d", kerr.InvalidRequest.Code) {
		t.Fatalf("negative cursor: %+v", p)
	}
	// A limit of 0 still returns one partition.
	if p, _ := call([]string{"dtp-a"}, 0, nil); len(p.parts) != 1 || p.cursor != "dtp-a/1" {
		t.Fatalf("limit 0: %+v", p)
	}
}

// TestCreatePartitionsRacingDelete: adding partitions while the topic is
// deleted never leaves partition logs behind for a later topic of the same
// name: it starts empty, with the partitions it was created with.
func TestCreatePartitionsRacingDelete(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, addr := startBroker(t, func(c *broker.Config) { c.DataDir = dir })
	ctx := testCtx(t)
	cl := newFranz(t, addr)
	adm := kadm.NewClient(cl)
	// Another connection, or the broker would serve the two in order.
	adm2 := kadm.NewClient(newFranz(t, addr))
	for i := range 15 {
		createTopic(t, addr, "race", 1, nil)
		// A fresh client: one that knew the previous topic's id would be
		// told UNKNOWN_TOPIC_ID.
		pcl := newFranz(t, addr)
		if err := pcl.ProduceSync(ctx, &kgo.Record{Topic: "race", Value: []byte("old")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			adm2.UpdatePartitions(ctx, 4, "race")
		}()
		if i%2 == 1 {
			time.Sleep(time.Duration(i) * 100 * time.Microsecond)
		}
		if _, err := adm.DeleteTopic(ctx, "race"); err != nil {
			t.Fatal(err)
		}
		<-done
		pcl.Close()
	}
	createTopic(t, addr, "race", 1, nil)
	td, err := adm.ListTopics(ctx, "race")
	if err != nil || len(td["race"].Partitions) != 1 {
		t.Fatalf("re-created topic: %v, %d partitions", err, len(td["race"].Partitions))
	}
	ends, err := adm.ListEndOffsets(ctx, "race")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := ends.Lookup("race", 0); o.Offset != 0 {
		t.Fatalf("re-created topic ends at %d: old data survived", o.Offset)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "race-") && e.Name() != "race-0" {
			t.Errorf("partition directory %s outlived its topic", e.Name())
		}
	}
}
