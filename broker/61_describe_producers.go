package broker

// DescribeProducers: v0.
//
// Behavior: lists, per partition, the producers the log keeps idempotence
// state for (internal/log's producer state, Kafka's ProducerStateManager):
// producer id, epoch, the sequence of its last appended record and the max
// timestamp of its last batch, in producer id order. Without transactions
// the coordinator epoch and the current transaction start offset are -1. An
// unknown partition is UNKNOWN_TOPIC_OR_PARTITION. ACLs: READ on the topic
// (TOPIC_AUTHORIZATION_FAILED).
//
// Version notes: as Kafka, a producer idle for producer.id.expiration.ms
// (1 day) with no transaction open is forgotten and no longer listed; the
// check runs every 10 minutes.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/internal/auth"
)

func init() { regKey(kmsg.DescribeProducers, 0, 0, handleDescribeProducers) }

func handleDescribeProducers(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DescribeProducersRequest)
	resp := req.ResponseKind().(*kmsg.DescribeProducersResponse)
	b := r.c.b
	for _, rt := range req.Topics {
		allowed := r.authorize(auth.OpRead, auth.ResourceTopic, rt.Topic)
		ts := b.topic(rt.Topic)
		st := kmsg.NewDescribeProducersResponseTopic()
		st.Topic = rt.Topic
		for _, part := range rt.Partitions {
			sp := kmsg.NewDescribeProducersResponseTopicPartition()
			sp.Partition = part
			p := ts.partition(part)
			if !allowed {
				sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			if p == nil {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			for _, pi := range p.Producers() {
				ap := kmsg.NewDescribeProducersResponseTopicPartitionActiveProducer()
				ap.ProducerID, ap.ProducerEpoch = pi.ProducerID, int32(pi.ProducerEpoch)
				ap.LastSequence, ap.LastTimestamp = pi.LastSequence, pi.LastTimestamp
				ap.CoordinatorEpoch, ap.CurrentTxnStartOffset = -1, pi.CurrentTxnStartOffset
				sp.ActiveProducers = append(sp.ActiveProducers, ap)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
