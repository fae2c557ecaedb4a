package broker

// OffsetCommit: v0-v9.
//
// Behavior: every partition of the request is answered. Partitions of
// unknown topics get UNKNOWN_TOPIC_OR_PARTITION; the rest go to the group
// coordinator, which checks the committer as Kafka does: generation -1 with
// no member id is a "simple" commit (a consumer using assign()), accepted
// when the group is Empty or unknown (which creates it); otherwise the
// member must be known (UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID) and of the
// current generation (ILLEGAL_GENERATION), and the group must not be
// CompletingRebalance (REBALANCE_IN_PROGRESS). In a consumer-protocol
// group (KIP-848) the generation is the member epoch, checked as Kafka's
// ConsumerGroup.validateOffsetCommit does: the member must be known
// (UNKNOWN_MEMBER_ID; an admin commit, -1 without member id, only while the
// group has no members) and commit at its current epoch, or an older one
// only for partitions it still owns (STALE_MEMBER_EPOCH). Metadata longer than
// offset.metadata.max.bytes gets OFFSET_METADATA_TOO_LARGE. The offsets of
// one request are one batch of the offsets log; the answer is written after
// the fsync that covers it (invariant 1), and OffsetFetch sees them only
// then.
//
// The request is processed on the connection's writer, after every earlier
// request of the connection was answered, so an OffsetFetch pipelined behind
// a commit sees it, as with Kafka's one-request-at-a-time connections.
//
// Version notes: v1 carries a commit timestamp and v2-v4 a retention time
// (an explicit expiry, as Kafka honours it); v5 dropped both. v6 adds the
// leader epoch (KIP-320), v7 the group instance id (KIP-345), v8 is
// flexible, v9 is the KIP-848 bump (the generation doubles as member epoch
// for consumer-protocol groups, see above). v0 commits are kept
// in the log too (Kafka stored them in ZooKeeper). Not done: v10 (topic ids).

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/internal/group"
)

func init() { regKey(kmsg.OffsetCommit, 0, 9, handleOffsetCommit) }

func handleOffsetCommit(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.OffsetCommitRequest)
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	b := r.c.b

	gr := group.CommitRequest{
		Group:         req.Group,
		MemberID:      req.MemberID,
		InstanceID:    req.InstanceID,
		Generation:    req.Generation,
		RetentionTime: -1,
		Topics:        make([]group.CommitTopic, len(req.Topics)),
	}
	if r.version == 0 {
		gr.Generation, gr.MemberID = -1, ""
	}
	if r.version >= 2 && r.version <= 4 && req.RetentionTimeMillis >= 0 {
		gr.RetentionTime = msDuration64(req.RetentionTimeMillis)
	}
	resp.Topics = make([]kmsg.OffsetCommitResponseTopic, len(req.Topics))
	for i, rt := range req.Topics {
		st := &resp.Topics[i]
		*st = kmsg.NewOffsetCommitResponseTopic()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.OffsetCommitResponseTopicPartition, len(rt.Partitions))
		gt := &gr.Topics[i]
		gt.Topic = rt.Topic
		gt.Partitions = make([]group.CommitPartition, len(rt.Partitions))
		for j, rp := range rt.Partitions {
			st.Partitions[j] = kmsg.NewOffsetCommitResponseTopicPartition()
			st.Partitions[j].Partition = rp.Partition
			gp := group.CommitPartition{Partition: rp.Partition, Offset: rp.Offset, LeaderEpoch: -1, Metadata: rp.Metadata, Timestamp: -1}
			if r.version == 1 {
				gp.Timestamp = rp.Timestamp
			}
			if r.version >= 6 {
				gp.LeaderEpoch = rp.LeaderEpoch
			}
			gt.Partitions[j] = gp
		}
	}
	r.wait = func() {
		var res group.CommitResult
		c, err := b.coordinator()
		if err == nil {
			res, err = awaitGroup(b, c.Commit(gr))
		}
		// Only the topics we built: an ACL hook may have appended others.
		for i := range gr.Topics {
			for j := range gr.Topics[i].Partitions {
				perr := err
				if err == nil {
					perr = res.Errs[i][j]
				}
				resp.Topics[i].Partitions[j].ErrorCode = errorCode(perr)
			}
		}
	}
	return resp, nil
}
