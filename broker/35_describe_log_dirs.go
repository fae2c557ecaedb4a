package broker

// DescribeLogDirs: v0-v5.
//
// Behavior: we have one log directory, the data directory, reported by its
// absolute path. Each requested partition that exists is listed with its
// size (the bytes of all its segments) and an offset lag of 0 (a lag is
// only ever non-zero for a "future" replica being moved between
// directories, which we never have); requested partitions that do not exist
// are left out, as Kafka does. A null topic list means every partition.
// v4+ reports the file system's total and usable bytes (-1 when unknown),
// v5+ whether the directory is cordoned (KIP-1066): never.
//
// ACLs: DESCRIBE on the cluster; without it the answer lists no directory
// (and from v3 has CLUSTER_AUTHORIZATION_FAILED), as in Kafka.
//
// Version notes: v3 adds the top-level error code, v2 is flexible.

import (
	"path/filepath"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/internal/auth"
)

func init() { regKey(kmsg.DescribeLogDirs, 0, 5, handleDescribeLogDirs) }

func handleDescribeLogDirs(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DescribeLogDirsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeLogDirsResponse)
	b := r.c.b
	if !r.authorizeCluster(auth.OpDescribe) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return resp, nil
	}

	dir := kmsg.NewDescribeLogDirsResponseDir()
	dir.Dir = b.cfg.DataDir
	if abs, err := filepath.Abs(b.cfg.DataDir); err == nil {
		dir.Dir = abs
	}
	dir.TotalBytes, dir.UsableBytes = diskSpace(b.cfg.DataDir)

	describe := func(ts *topicState, parts []int32) {
		dt := kmsg.NewDescribeLogDirsResponseDirTopic()
		dt.Topic = ts.meta.Name
		for _, i := range parts {
			p := ts.partition(i)
			if p == nil {
				continue
			}
			dp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
			dp.Partition, dp.Size, dp.OffsetLag = i, p.Size(), 0
			dt.Partitions = append(dt.Partitions, dp)
		}
		if len(dt.Partitions) > 0 {
			dir.Topics = append(dir.Topics, dt)
		}
	}
	if req.Topics == nil {
		for _, ts := range sortedTopics(b.allTopics()) {
			all := make([]int32, len(ts.parts))
			for i := range all {
				all[i] = int32(i)
			}
			describe(ts, all)
		}
	} else {
		// Kafka answers with a set: each partition once.
		want := make(map[string][]int32)
		var order []string
		for _, rt := range req.Topics {
			if _, ok := want[rt.Topic]; !ok {
				order = append(order, rt.Topic)
			}
			want[rt.Topic] = append(want[rt.Topic], rt.Partitions...)
		}
		for _, name := range order {
			if ts := b.topic(name); ts != nil {
				parts := slices.Compact(slices.Sorted(slices.Values(want[name])))
				describe(ts, parts)
			}
		}
	}
	resp.Dirs = append(resp.Dirs, dir)
	return resp, nil
}
