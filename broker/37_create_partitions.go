package broker

// CreatePartitions: v0-v3.
//
// Behavior: raises each topic's partition count with the checks of Kafka's
// controller (ControllerApis and ReplicationControlManager.createPartitions):
// a topic named twice in one request gets INVALID_REQUEST ("Duplicate topic
// name."), an unknown topic UNKNOWN_TOPIC_OR_PARTITION, a count that is not
// an increase INVALID_PARTITIONS ("Topic already has N partition(s)." / "The
// topic T currently has N partition(s); M would not be an increase."). A
// manual assignment needs one replica list per new partition, each naming
// this node exactly once (INVALID_REPLICA_ASSIGNMENT, Kafka's messages).
// More than 10000 new partitions for one topic is POLICY_VIOLATION, as
// Kafka bounds one controller operation. validate_only checks only.
// ACLs: ALTER on the topic (TOPIC_AUTHORIZATION_FAILED), checked after
// duplicates, as in Kafka. Otherwise the count is persisted, then the new partition logs are opened
// (start-up finishes what a crash interrupts), then the topic is
// republished, so metadata, produce and fetch see the new partitions when
// we answer.
//
// Version notes: v1 is v0 (throttling), v2 is flexible, v3 is v2. The
// timeout is not needed: the change is complete when we answer.

import (
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/internal/auth"
)

func init() { regKey(kmsg.CreatePartitions, 0, 3, handleCreatePartitions) }

func handleCreatePartitions(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.CreatePartitionsRequest)
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	b := r.c.b

	count := make(map[string]int, len(req.Topics))
	for _, rt := range req.Topics {
		count[rt.Topic]++
	}
	answered := make(map[string]bool, len(req.Topics))
	for _, rt := range req.Topics {
		if answered[rt.Topic] {
			continue // a duplicate gets one answer, as in Kafka
		}
		answered[rt.Topic] = true
		st := kmsg.NewCreatePartitionsResponseTopic()
		st.Topic = rt.Topic
		fail := func(code int16, msg string) {
			st.ErrorCode = code
			st.ErrorMessage = &msg
		}
		if count[rt.Topic] > 1 {
			fail(kerr.InvalidRequest.Code, "Duplicate topic name.")
			resp.Topics = append(resp.Topics, st)
			continue
		}
		if !r.authorize(auth.OpAlter, auth.ResourceTopic, rt.Topic) {
			st.ErrorCode = kerr.TopicAuthorizationFailed.Code
			resp.Topics = append(resp.Topics, st)
			continue
		}
		// The count checks come first, as in Kafka.
		cur, _ := b.meta.Topic(rt.Topic)
		if _, err := b.meta.CreatePartitions(rt.Topic, rt.Count, true); err != nil {
			fail(errorCode(err), err.Error())
			resp.Topics = append(resp.Topics, st)
			continue
		}
		if code, msg := checkNewPartitions(b, rt, rt.Count-cur.Partitions); code != 0 {
			fail(code, msg)
			resp.Topics = append(resp.Topics, st)
			continue
		}
		if err := b.createPartitions(rt.Topic, rt.Count, req.ValidateOnly); err != nil {
			fail(errorCode(err), err.Error())
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}

// checkNewPartitions checks the size of an increase and its manual
// assignment against a single node whose topics all have one replica.
func checkNewPartitions(b *Broker, rt kmsg.CreatePartitionsRequestTopic, additional int32) (int16, string) {
	if additional > maxNewPartitions {
		return kerr.PolicyViolation.Code, "Unable to perform excessively large batch operation."
	}
	if rt.Assignment == nil {
		return 0, ""
	}
	if int32(len(rt.Assignment)) != additional {
		return kerr.InvalidReplicaAssignment.Code, fmt.Sprintf("Attempted to add %d additional partition(s), but only %d assignment(s) were specified.", additional, len(rt.Assignment))
	}
	for _, a := range rt.Assignment {
		if len(a.Replicas) == 0 {
			return kerr.InvalidReplicaAssignment.Code, "The manual partition assignment includes an empty replica list."
		}
		sorted := slices.Sorted(slices.Values(a.Replicas))
		for i, id := range sorted {
			if id != b.cfg.NodeID {
				return kerr.InvalidReplicaAssignment.Code, fmt.Sprintf("The manual partition assignment includes broker %d, but no such broker is registered.", id)
			}
			if i > 0 && sorted[i-1] == id {
				return kerr.InvalidReplicaAssignment.Code, fmt.Sprintf("The manual partition assignment includes the broker %d more than once.", id)
			}
		}
		if len(sorted) != 1 {
			return kerr.InvalidReplicaAssignment.Code, fmt.Sprintf("The manual partition assignment includes a partition with %d replica(s), but this is not consistent with previous partitions, which have 1 replica(s).", len(sorted))
		}
	}
	return 0, ""
}
