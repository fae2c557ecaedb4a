package group

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// OffsetFetch v9 (KIP-848): a consumer-protocol group checks the member id
// and epoch as ConsumerGroup.validateOffsetFetch does; classic groups and
// requests without a member (nil id, negative epoch) are not checked.
func TestFetchValidatesConsumerMember(t *testing.T) {
	e := newConsumerEnv(t)
	r := e.c.ConsumerHeartbeat(hb("g", "a", 0, nil, "t"))
	wantErr(t, "join a", r.Err, nil)
	epoch := r.MemberEpoch
	res := e.commit(CommitRequest{Group: "g", MemberID: "a", Generation: epoch, RetentionTime: -1, Topics: []CommitTopic{{Topic: "t", Partitions: []CommitPartition{{Partition: 0, Offset: 7}}}}})
	allNil(t, "commit", res)

	str := func(s string) *string { return &s }
	topics := []FetchTopic{{Topic: "t", Partitions: []int32{0}}}
	for _, c := range []struct {
		what     string
		memberID *string
		epoch    int32
		want     error
	}{
		{"admin (null member, epoch -1)", nil, -1, nil},
		{"current member and epoch", str("a"), epoch, nil},
		{"unknown member", str("zz"), epoch, kerr.UnknownMemberID},
		{"empty member id", str(""), epoch, kerr.UnknownMemberID},
		{"null member with an epoch", nil, epoch, kerr.UnknownMemberID},
		{"member with epoch -1", str("a"), -1, kerr.StaleMemberEpoch},
		{"older epoch", str("a"), epoch - 1, kerr.StaleMemberEpoch},
		{"newer epoch", str("a"), epoch + 1, kerr.StaleMemberEpoch},
	} {
		got := e.c.Fetch(FetchRequest{Group: "g", Topics: topics, MemberID: c.memberID, MemberEpoch: c.epoch})
		wantErr(t, c.what, got.Err, c.want)
		if c.want == nil && (len(got.Topics) != 1 || got.Topics[0].Partitions[0].Offset != 7) {
			t.Fatalf("%s: got %+v, want offset 7", c.what, got.Topics)
		}
		if c.want != nil && got.Topics != nil {
			t.Fatalf("%s: a group error with partitions %+v", c.what, got.Topics)
		}
	}

	// A group we do not know answers -1 whatever the member.
	got := e.c.Fetch(FetchRequest{Group: "nope", Topics: topics, MemberID: str("a"), MemberEpoch: 3})
	wantErr(t, "unknown group", got.Err, nil)
	if got.Topics[0].Partitions[0].Offset != -1 {
		t.Fatalf("unknown group: %+v", got.Topics)
	}

	// Classic groups ignore member id and epoch.
	allNil(t, "simple commit", e.commit(simpleCommit("classic", map[string][]int64{"t": {3}})))
	got = e.c.Fetch(FetchRequest{Group: "classic", Topics: topics, MemberID: str("who"), MemberEpoch: 42})
	wantErr(t, "classic group", got.Err, nil)
	if got.Topics[0].Partitions[0].Offset != 3 {
		t.Fatalf("classic group: %+v", got.Topics)
	}
}
