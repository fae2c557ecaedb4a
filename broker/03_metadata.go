package broker

// Metadata: v0-v13.
//
// Behavior: one broker (us) leads every partition at leader epoch 0, with
// itself as the only replica and in-sync replica. A null topic list (or an
// empty one in v0) asks for every topic. A requested topic that does not
// exist is created with num.partitions when auto.create.topics.enable is on
// and the request allows it (always before v4); creation is synchronous, so
// the answer already carries its partitions. From v10 topics may be asked
// for by id.
//
// The group coordinator's offsets log is the internal topic
// __consumer_offsets (IsInternal, as Kafka's Topic.isInternal), shown once
// it exists: after the first FindCoordinator or any group request (or a
// previous run's), as Kafka creates it on the first coordinator lookup. It
// is listed among all topics (consumers skip internal topics when they
// subscribe by regex) and answered by name or id; asked for by name before
// it exists, it is created (the coordinator is opened) when the request may
// create topics. It has one partition, the one log the coordinator keeps,
// not offsets.topic.num.partitions (Kafka's 50); we lead it.
//
// Version notes: authorized operations (v8+) report every operation, as
// Kafka does without an authorizer. v13's top-level error code is always 0.

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/internal/meta"
)

func init() { regKey(kmsg.Metadata, 0, 13, handleMetadata) }

// Kafka's ACL operation codes, as bits of an authorized-operations field.
const (
	opRead, opWrite, opCreate, opDelete, opAlter, opDescribe = 3, 4, 5, 6, 7, 8
	opClusterAction, opDescribeConfigs, opAlterConfigs       = 9, 10, 11
	opIdempotentWrite, opCreateTokens, opDescribeTokens      = 12, 13, 14
)

func opBits(ops ...int) int32 {
	var v int32
	for _, op := range ops {
		v |= 1 << op
	}
	return v
}

var (
	topicOps   = opBits(opRead, opWrite, opCreate, opDelete, opAlter, opDescribe, opDescribeConfigs, opAlterConfigs)
	clusterOps = opBits(opCreate, opAlter, opDescribe, opClusterAction, opDescribeConfigs, opAlterConfigs, opIdempotentWrite, opCreateTokens, opDescribeTokens)
)

func handleMetadata(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.MetadataRequest)
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	b := r.c.b

	broker := kmsg.NewMetadataResponseBroker()
	broker.NodeID, broker.Host, broker.Port = b.cfg.NodeID, r.listenerHost(), r.listenerPort()
	resp.Brokers = append(resp.Brokers, broker)
	clusterID := b.meta.ClusterID()
	resp.ClusterID = &clusterID
	resp.ControllerID = b.cfg.NodeID
	if req.IncludeClusterAuthorizedOperations {
		resp.AuthorizedOperations = clusterOps
	}

	describeTopic := func(name string, id [16]byte, partitions int) kmsg.MetadataResponseTopic {
		t := kmsg.NewMetadataResponseTopic()
		t.Topic, t.TopicID = &name, id
		t.IsInternal = isInternalTopic(name)
		for i := range partitions {
			p := kmsg.NewMetadataResponseTopicPartition()
			p.Partition, p.Leader, p.LeaderEpoch = int32(i), b.cfg.NodeID, leaderEpoch
			p.Replicas, p.ISR = []int32{b.cfg.NodeID}, []int32{b.cfg.NodeID}
			p.OfflineReplicas = []int32{}
			t.Partitions = append(t.Partitions, p)
		}
		if req.IncludeTopicAuthorizedOperations {
			t.AuthorizedOperations = topicOps
		}
		return t
	}
	describe := func(ts *topicState) kmsg.MetadataResponseTopic {
		return describeTopic(ts.meta.Name, ts.meta.ID, len(ts.parts))
	}
	// The offsets topic, unless a topic of that name was created before it
	// was internal.
	describeOffsets := func() kmsg.MetadataResponseTopic {
		return describeTopic(offsetsTopic, b.offsetsTopicID(), offsetsTopicPartitions)
	}

	all := req.Topics == nil || (r.version == 0 && len(req.Topics) == 0)
	if all {
		offsets := b.topic(offsetsTopic) == nil && b.offsetsTopicExists()
		for _, ts := range sortedTopics(b.allTopics()) {
			if offsets && ts.meta.Name > offsetsTopic {
				resp.Topics = append(resp.Topics, describeOffsets())
				offsets = false
			}
			resp.Topics = append(resp.Topics, describe(ts))
		}
		if offsets {
			resp.Topics = append(resp.Topics, describeOffsets())
		}
		return resp, nil
	}
	autoCreate := b.cfg.AutoCreateTopics && (r.version < 4 || req.AllowAutoTopicCreation)
	for _, rt := range req.Topics {
		if rt.Topic == nil {
			if ts := b.topicByID(rt.TopicID); ts != nil {
				resp.Topics = append(resp.Topics, describe(ts))
				continue
			}
			if rt.TopicID == b.offsetsTopicID() && b.topic(offsetsTopic) == nil && b.offsetsTopicExists() {
				resp.Topics = append(resp.Topics, describeOffsets())
				continue
			}
			t := kmsg.NewMetadataResponseTopic()
			t.TopicID = rt.TopicID
			t.ErrorCode = kerr.UnknownTopicID.Code
			resp.Topics = append(resp.Topics, t)
			continue
		}
		name := *rt.Topic
		ts := b.topic(name)
		if ts == nil && name == offsetsTopic {
			if !b.offsetsTopicExists() && autoCreate {
				b.groups() // Kafka creates it on demand, too
			}
			if b.offsetsTopicExists() {
				resp.Topics = append(resp.Topics, describeOffsets())
				continue
			}
		}
		if ts == nil && autoCreate && name != offsetsTopic {
			_, err := b.createTopic(name, b.cfg.NumPartitions, nil, false)
			if err != nil && !errors.Is(err, meta.ErrTopicExists) {
				t := kmsg.NewMetadataResponseTopic()
				t.Topic = &name
				t.ErrorCode = errorCode(err)
				resp.Topics = append(resp.Topics, t)
				continue
			}
			ts = b.topic(name)
		}
		if ts == nil {
			t := kmsg.NewMetadataResponseTopic()
			t.Topic = &name
			t.ErrorCode = kerr.UnknownTopicOrPartition.Code
			resp.Topics = append(resp.Topics, t)
			continue
		}
		resp.Topics = append(resp.Topics, describe(ts))
	}
	return resp, nil
}
