package broker

// ListOffsets: v1-v10.
//
// Behavior: timestamp -2 is the log start offset, -1 the high watermark
// (the last stable offset for read_committed, equal to it until
// transactions exist), -3 the record with the largest timestamp (KIP-734),
// -4 the earliest local offset (the log start: nothing is tiered), -5 the
// latest tiered offset (-1: nothing is tiered, KIP-1005). Any other
// timestamp is the earliest offset whose record timestamp is at least it,
// found through the time index; none gives offset -1 and timestamp -1.
//
// Version notes: v0 (an array of old-style offsets) is not offered; v10's
// timeout only matters for remote storage.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(kmsg.ListOffsets, 1, 10, handleListOffsets) }

func handleListOffsets(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.ListOffsetsRequest)
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	b := r.c.b
	for _, rt := range req.Topics {
		ts := b.topic(rt.Topic)
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.Timestamp, sp.Offset, sp.LeaderEpoch = -1, -1, -1
			p := ts.partition(rp.Partition)
			switch {
			case p == nil:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case checkLeaderEpoch(rp.CurrentLeaderEpoch) != 0:
				sp.ErrorCode = checkLeaderEpoch(rp.CurrentLeaderEpoch)
			default:
				logStart, hw, _ := p.Offsets()
				switch rp.Timestamp {
				case -2, -4: // earliest, earliest local
					sp.Offset, sp.LeaderEpoch = logStart, leaderEpoch
				case -1: // latest (the LSO for read_committed; equal for now)
					sp.Offset, sp.LeaderEpoch = hw, leaderEpoch
				case -5: // latest tiered: nothing is tiered
				case -3:
					off, tsv, ok, err := p.MaxTimestamp()
					if err != nil {
						sp.ErrorCode = errorCode(err)
					} else if ok && off < hw {
						sp.Offset, sp.Timestamp, sp.LeaderEpoch = off, tsv, leaderEpoch
					}
				default:
					if rp.Timestamp < 0 {
						sp.ErrorCode = kerr.InvalidRequest.Code
						break
					}
					off, tsv, ok, err := p.OffsetForTimestamp(rp.Timestamp)
					if err != nil {
						sp.ErrorCode = errorCode(err)
					} else if ok && off < hw {
						sp.Offset, sp.Timestamp, sp.LeaderEpoch = off, tsv, leaderEpoch
					}
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
