package broker

// CreateTopics: v0-v7.
//
// Behavior: validates each topic as Kafka does — duplicates within one
// request get INVALID_REQUEST, partitions and replication factor -1 take the
// broker defaults, a replication factor above 1 cannot be met by one broker
// (INVALID_REPLICATION_FACTOR), a manual assignment must place every
// partition on this node only, configs are checked by name and value
// (INVALID_CONFIG) — then persists the topic and opens its partitions.
// validate_only checks without creating. v5+ returns the topic's effective
// configs; v7 its id.

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/internal/meta"
)

func init() { regKey(kmsg.CreateTopics, 0, 7, handleCreateTopics) }

func handleCreateTopics(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.CreateTopicsRequest)
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	b := r.c.b

	seen := make(map[string]int, len(req.Topics))
	for _, rt := range req.Topics {
		seen[rt.Topic]++
	}
	for _, rt := range req.Topics {
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		st.NumPartitions, st.ReplicationFactor = -1, -1
		if r.version >= 5 {
			st.Configs = []kmsg.CreateTopicsResponseTopicConfig{} // Kafka: empty, not null, on failure
		}
		fail := func(code int16, msg string) {
			st.ErrorCode = code
			st.ErrorMessage = &msg
		}
		if seen[rt.Topic] > 1 {
			fail(kerr.InvalidRequest.Code, fmt.Sprintf("Create topics request contains multiple entries for the topic %s.", rt.Topic))
			resp.Topics = append(resp.Topics, st)
			continue
		}
		partitions, code, msg := createTopicPartitions(b, &rt)
		if code != 0 {
			fail(code, msg)
			resp.Topics = append(resp.Topics, st)
			continue
		}
		configs := make(map[string]string, len(rt.Configs))
		for _, c := range rt.Configs {
			if c.Value == nil {
				code, msg = kerr.InvalidConfig.Code, fmt.Sprintf("Null value not supported for topic configs: %s", c.Name)
				break
			}
			configs[c.Name] = *c.Value
		}
		if code != 0 {
			fail(code, msg)
			resp.Topics = append(resp.Topics, st)
			continue
		}
		t, err := b.createTopic(rt.Topic, partitions, configs, req.ValidateOnly)
		if err != nil {
			fail(errorCode(err), err.Error())
			resp.Topics = append(resp.Topics, st)
			continue
		}
		st.TopicID = t.ID
		st.NumPartitions, st.ReplicationFactor = t.Partitions, 1
		if r.version >= 5 {
			t.Configs = configs // validate-only topics were not stored
			for _, e := range meta.DescribeTopicConfigs(t, b.brokerConfigs()) {
				c := kmsg.NewCreateTopicsResponseTopicConfig()
				c.Name, c.ReadOnly, c.Source, c.IsSensitive = e.Name, e.ReadOnly, int8(e.Source), e.Sensitive
				if !e.IsNull && !e.Sensitive {
					v := e.Value
					c.Value = &v
				}
				st.Configs = append(st.Configs, c)
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}

// createTopicPartitions works out the partition count from the request's
// count, replication factor and assignment, with Kafka's errors.
func createTopicPartitions(b *Broker, rt *kmsg.CreateTopicsRequestTopic) (int32, int16, string) {
	if len(rt.ReplicaAssignment) > 0 {
		if rt.NumPartitions != -1 || rt.ReplicationFactor != -1 {
			return 0, kerr.InvalidRequest.Code, "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time."
		}
		seen := make(map[int32]bool)
		for _, a := range rt.ReplicaAssignment {
			if a.Partition < 0 || int(a.Partition) >= len(rt.ReplicaAssignment) || seen[a.Partition] {
				return 0, kerr.InvalidReplicaAssignment.Code, "Partitions in the replica assignment must be consecutive and start at 0."
			}
			seen[a.Partition] = true
			if len(a.Replicas) != 1 || a.Replicas[0] != b.cfg.NodeID {
				return 0, kerr.InvalidReplicaAssignment.Code, fmt.Sprintf("Replica assignment %v of partition %d names brokers other than the only one, %d.", a.Replicas, a.Partition, b.cfg.NodeID)
			}
		}
		return int32(len(rt.ReplicaAssignment)), 0, ""
	}
	switch {
	case rt.NumPartitions == 0 || rt.NumPartitions < -1:
		return 0, kerr.InvalidPartitions.Code, "Number of partitions was set to an invalid non-positive value."
	case rt.ReplicationFactor == 0 || rt.ReplicationFactor < -1:
		return 0, kerr.InvalidReplicationFactor.Code, "Replication factor must be larger than 0, or -1 to use the default value."
	case rt.ReplicationFactor > 1:
		return 0, kerr.InvalidReplicationFactor.Code, fmt.Sprintf("Unable to replicate the partition %d time(s): The target replication factor of %d cannot be reached because only 1 broker(s) are registered.", rt.ReplicationFactor, rt.ReplicationFactor)
	}
	if rt.NumPartitions == -1 {
		return b.cfg.NumPartitions, 0, ""
	}
	return rt.NumPartitions, 0, ""
}
