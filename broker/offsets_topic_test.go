package broker_test

import (
	"context"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func metadataTopics(t *testing.T, cl *kgo.Client, topics ...string) map[string]kmsg.MetadataResponseTopic {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	if topics != nil {
		req.Topics = []kmsg.MetadataRequestTopic{}
		for _, name := range topics {
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr(name)
			req.Topics = append(req.Topics, rt)
		}
	}
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]kmsg.MetadataResponseTopic{}
	for _, rt := range resp.Topics {
		if rt.Topic != nil {
			out[*rt.Topic] = rt
		}
	}
	return out
}

// __consumer_offsets appears in Metadata as an internal topic once the group
// coordinator exists, as Kafka creates it on the first coordinator lookup.
func TestMetadataOffsetsTopic(t *testing.T) {
	_, addr := startGroupBroker(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(context.Background(), 2, 1, nil, "zz-user"); err != nil {
		t.Fatal(err)
	}
	if _, ok := metadataTopics(t, cl)["__consumer_offsets"]; ok {
		t.Fatal("__consumer_offsets listed before any group request")
	}

	freq := kmsg.NewPtrFindCoordinatorRequest()
	freq.CoordinatorKey = "g"
	if _, err := freq.RequestWith(context.Background(), cl); err != nil {
		t.Fatal(err)
	}
	check := func(what string, mt kmsg.MetadataResponseTopic, ok bool) {
		t.Helper()
		switch {
		case !ok:
			t.Fatalf("%s: __consumer_offsets missing", what)
		case mt.ErrorCode != 0:
			t.Fatalf("%s: %v", what, kerr.ErrorForCode(mt.ErrorCode))
		case !mt.IsInternal:
			t.Fatalf("%s: not internal", what)
		case len(mt.Partitions) != 1 || mt.Partitions[0].Partition != 0 || mt.Partitions[0].Leader != 1:
			t.Fatalf("%s: partitions %+v", what, mt.Partitions)
		case mt.TopicID == [16]byte{}:
			t.Fatalf("%s: no topic id", what)
		}
	}
	all := metadataTopics(t, cl)
	mt, ok := all["__consumer_offsets"]
	check("all topics", mt, ok)
	if u := all["zz-user"]; u.IsInternal || len(u.Partitions) != 2 {
		t.Fatalf("user topic: internal %v, %d partitions", u.IsInternal, len(u.Partitions))
	}
	named, ok := metadataTopics(t, cl, "__consumer_offsets")["__consumer_offsets"]
	check("by name", named, ok)
	if named.TopicID != mt.TopicID {
		t.Fatalf("topic id %x by name, %x listed", named.TopicID, mt.TopicID)
	}

	// By id (Metadata v12+).
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.TopicID = mt.TopicID
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Topics) != 1 || resp.Topics[0].Topic == nil || *resp.Topics[0].Topic != "__consumer_offsets" {
		t.Fatalf("by id: %+v", resp.Topics)
	}
	check("by id", resp.Topics[0], true)
}

// OffsetFetch v9 checks a consumer-protocol group's member id and epoch.
func TestOffsetFetchMemberEpoch(t *testing.T) {
	addr := start848Broker(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, "of9"); err != nil {
		t.Fatal(err)
	}
	hb := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	hb.Group, hb.MemberID, hb.MemberEpoch = "g9", "m1", 0
	hb.RebalanceTimeoutMillis = 10000
	hb.SubscribedTopicNames = []string{"of9"}
	hb.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	hresp, err := hb.RequestWith(ctx, cl)
	if err != nil || hresp.ErrorCode != 0 {
		t.Fatalf("heartbeat: %v %v", err, kerr.ErrorForCode(hresp.ErrorCode))
	}
	memberID, epoch := *hresp.MemberID, hresp.MemberEpoch

	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Group, commit.MemberID, commit.Generation = "g9", memberID, epoch
	ct := kmsg.NewOffsetCommitRequestTopic()
	ct.Topic = "of9"
	cp := kmsg.NewOffsetCommitRequestTopicPartition()
	cp.Partition, cp.Offset = 0, 11
	ct.Partitions = append(ct.Partitions, cp)
	commit.Topics = append(commit.Topics, ct)
	cresp, err := commit.RequestWith(ctx, cl)
	if err != nil || cresp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("commit: %v %v", err, cresp)
	}

	fetch := func(member *string, epoch int32) (int64, error) {
		req := kmsg.NewPtrOffsetFetchRequest()
		req.Version = 9
		g := kmsg.NewOffsetFetchRequestGroup()
		g.Group, g.MemberID, g.MemberEpoch = "g9", member, epoch
		ft := kmsg.NewOffsetFetchRequestGroupTopic()
		ft.Topic, ft.Partitions = "of9", []int32{0}
		g.Topics = append(g.Topics, ft)
		req.Groups = append(req.Groups, g)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		rg := resp.Groups[0]
		if err := kerr.ErrorForCode(rg.ErrorCode); err != nil {
			return -1, err
		}
		return rg.Topics[0].Partitions[0].Offset, nil
	}
	for _, c := range []struct {
		what   string
		member *string
		epoch  int32
		want   error
	}{
		{"admin", nil, -1, nil},
		{"member at its epoch", kmsg.StringPtr(memberID), epoch, nil},
		{"member at an old epoch", kmsg.StringPtr(memberID), epoch - 1, kerr.StaleMemberEpoch},
		{"member at a newer epoch", kmsg.StringPtr(memberID), epoch + 1, kerr.StaleMemberEpoch},
		{"unknown member", kmsg.StringPtr("nobody"), epoch, kerr.UnknownMemberID},
	} {
		off, err := fetch(c.member, c.epoch)
		if err != c.want || (err == nil && off != 11) {
			t.Errorf("%s: offset %d, err %v; want 11, %v", c.what, off, err, c.want)
		}
	}
}

// CreateTopics cannot make a user topic of __consumer_offsets: the name is
// the group coordinator's, and asking for it creates (opens) that.
func TestCreateTopicsOffsetsTopic(t *testing.T) {
	_, addr := startGroupBroker(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	_, err = kadm.NewClient(cl).CreateTopic(context.Background(), 3, 1, nil, "__consumer_offsets")
	if !errors.Is(err, kerr.TopicAlreadyExists) {
		t.Fatalf("CreateTopics __consumer_offsets: %v, want TOPIC_ALREADY_EXISTS", err)
	}
	mt, ok := metadataTopics(t, cl)["__consumer_offsets"]
	if !ok || !mt.IsInternal || len(mt.Partitions) != 1 {
		t.Fatalf("after CreateTopics: listed %v, %+v", ok, mt)
	}
}

// Asked for by name before it exists, __consumer_offsets is created when the
// request allows auto-creation, and unknown otherwise.
func TestMetadataCreatesOffsetsTopic(t *testing.T) {
	_, addr := startGroupBroker(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr("__consumer_offsets")
	req.Topics = append(req.Topics, rt)
	req.AllowAutoTopicCreation = false
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Topics[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("without auto-creation: %v", kerr.ErrorForCode(resp.Topics[0].ErrorCode))
	}
	req.AllowAutoTopicCreation = true
	if resp, err = req.RequestWith(context.Background(), cl); err != nil {
		t.Fatal(err)
	}
	if mt := resp.Topics[0]; mt.ErrorCode != 0 || !mt.IsInternal || len(mt.Partitions) != 1 {
		t.Fatalf("with auto-creation: %v internal %v partitions %d", kerr.ErrorForCode(mt.ErrorCode), mt.IsInternal, len(mt.Partitions))
	}
	if _, ok := metadataTopics(t, cl)["__consumer_offsets"]; !ok {
		t.Fatal("not listed after it was created")
	}
}

// Producing to the internal offsets topic is refused as Kafka refuses it.
func TestProduceToOffsetsTopic(t *testing.T) {
	_, addr := startGroupBroker(t)
	cl := newFranz(t, addr, kgo.DefaultProduceTopic("__consumer_offsets"), kgo.RecordRetries(1))
	if res := kadm.NewClient(cl).FindGroupCoordinators(testCtx(t), "g"); res.Error() != nil {
		t.Fatal(res.Error())
	}
	err := cl.ProduceSync(testCtx(t), &kgo.Record{Value: []byte("x")}).FirstErr()
	if !errors.Is(err, kerr.InvalidTopicException) {
		t.Fatalf("produce to __consumer_offsets: %v, want INVALID_TOPIC_EXCEPTION", err)
	}
}
