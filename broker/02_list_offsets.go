package broker

// ListOffsets: v1-v10.
//
// Behavior: timestamp -2 is the log start offset, -1 the high watermark
// (the last stable offset for read_committed, which also bounds the
// timestamp lookups, as in Kafka), -3 the record with the largest timestamp (KIP-734),
// -4 the earliest local offset (the log start: nothing is tiered), -5 the
// latest tiered offset (-1: nothing is tiered, KIP-1005). Any other
// timestamp is the earliest offset whose record timestamp is at least it,
// found through the time index; none gives offset -1 and timestamp -1.
//
// Version notes: v0 answers with old-style offsets, as Kafka's
// legacyFetchOffsetsBefore does for a log of one segment: the log start and
// (when the log is not empty) the log end, capped at the high watermark,
// newest first, at most max_num_offsets of them. -1 starts from the end, -2
// from the start; other negative timestamps are UNSUPPORTED_VERSION. For a
// timestamp, Kafka picks segments by file modification time, which we do
// not track: we answer the offset of the first record at or after it (the
// high watermark if none), then the log start. v10's timeout only matters
// for remote storage.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	klog "github.com/chronik-stream/chronik/internal/log"
)

func init() { regKey(kmsg.ListOffsets, 0, 10, handleListOffsets) }

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
			case r.version == 0:
				offs, err := legacyOffsets(p, rp.Timestamp, rp.MaxNumOffsets)
				sp.OldStyleOffsets, sp.ErrorCode = offs, errorCode(err)
			default:
				logStart, hw, _ := p.Offsets()
				if r.version >= 2 && req.IsolationLevel == 1 {
					// read_committed sees up to the last stable offset.
					hw = p.LastStableOffset()
				}
				switch rp.Timestamp {
				case -2, -4: // earliest, earliest local
					sp.Offset, sp.LeaderEpoch = logStart, leaderEpoch
				case -1: // latest (the LSO for read_committed)
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

// legacyOffsets answers ListOffsets v0 (see the header comment).
func legacyOffsets(p *klog.Partition, ts int64, maxNum int32) ([]int64, error) {
	logStart, hw, logEnd := p.Offsets()
	// Kafka's offset array, oldest first: each segment's base (ours is one
	// segment from the log start), then the log end if the last segment
	// holds data.
	all := []int64{logStart}
	if logEnd > logStart {
		all = append(all, logEnd)
	}
	start := len(all) - 1
	switch {
	case ts == -1:
	case ts == -2:
		start = 0
	case ts < -2:
		return nil, kerr.UnsupportedVersion
	default:
		off, _, ok, err := p.OffsetForTimestamp(ts)
		if err != nil {
			return nil, err
		}
		if !ok || off > hw {
			off = hw
		}
		all = []int64{logStart}
		if off > logStart {
			all = append(all, off)
		}
		start = len(all) - 1
	}
	n := min(int(max(maxNum, 0)), start+1)
	out := make([]int64, 0, n)
	for i := start; i >= 0 && len(out) < n; i-- {
		out = append(out, all[i])
	}
	// A consumer never sees an offset above the high watermark.
	if len(out) > 0 && out[0] > hw {
		out[0] = hw
	}
	return out, nil
}
