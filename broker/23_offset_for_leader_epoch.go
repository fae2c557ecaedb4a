package broker

// OffsetForLeaderEpoch: v0-v4.
//
// Behavior: every partition we lead has had one leader epoch, 0, since it
// was created, so Kafka's leader-epoch cache (LeaderEpochFileCache.
// endOffsetFor) reduces to: epoch 0, the current one, ends at the log end
// offset (Kafka answers the LEO for the current epoch; a consumer checking
// its position for truncation needs no more); an epoch above it is unknown
// (epoch -1, offset -1, no error); an undefined epoch (-1) gets -1 and -1; an
// epoch below all known ones gets the start offset of the first, the log
// start. The current_leader_epoch field (v2+) is checked first: newer than
// ours is UNKNOWN_LEADER_EPOCH, older FENCED_LEADER_EPOCH. An unknown
// partition is UNKNOWN_TOPIC_OR_PARTITION. ACLs: CLUSTER_ACTION on the
// cluster, or else DESCRIBE on each topic (TOPIC_AUTHORIZATION_FAILED).
//
// Version notes: v1 adds the leader epoch to the answer, v2 the current
// leader epoch, v3 the replica id (ours has no followers to tell apart), v4
// is flexible.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/internal/auth"
)

func init() { regKey(kmsg.OffsetForLeaderEpoch, 0, 4, handleOffsetForLeaderEpoch) }

func handleOffsetForLeaderEpoch(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.OffsetForLeaderEpochRequest)
	resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	b := r.c.b
	all := r.authorizeCluster(auth.OpClusterAction)
	for _, rt := range req.Topics {
		allowed := all || r.authorize(auth.OpDescribe, auth.ResourceTopic, rt.Topic)
		ts := b.topic(rt.Topic)
		st := kmsg.NewOffsetForLeaderEpochResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LeaderEpoch, sp.EndOffset = -1, -1
			p := ts.partition(rp.Partition)
			switch {
			case !allowed:
				sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
			case p == nil:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case checkLeaderEpoch(rp.CurrentLeaderEpoch) != 0:
				sp.ErrorCode = checkLeaderEpoch(rp.CurrentLeaderEpoch)
			default:
				logStart, _, logEnd := p.Offsets()
				switch e := rp.LeaderEpoch; {
				case e == leaderEpoch:
					sp.LeaderEpoch, sp.EndOffset = leaderEpoch, logEnd
				case e < -1:
					sp.LeaderEpoch, sp.EndOffset = e, logStart
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
