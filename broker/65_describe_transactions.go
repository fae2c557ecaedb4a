package broker

// DescribeTransactions: v0.
//
// Behavior: describes each requested transactional id from the transaction
// coordinator: state (Kafka's names), producer id and epoch, timeout, the
// start time of the open transaction (-1 if none) and its partitions by
// topic. An unknown id is TRANSACTIONAL_ID_NOT_FOUND; one the principal may
// not DESCRIBE is TRANSACTIONAL_ID_AUTHORIZATION_FAILED (acl_hooks_txn.go).

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/internal/auth"
)

func init() { regKey(kmsg.DescribeTransactions, 0, 0, handleDescribeTransactions) }

func handleDescribeTransactions(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DescribeTransactionsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeTransactionsResponse)
	for _, id := range req.TransactionalIDs {
		s := kmsg.NewDescribeTransactionsResponseTransactionState()
		s.TransactionalID = id
		s.ProducerID, s.ProducerEpoch, s.StartTimestamp = -1, -1, -1
		if !r.authorize(auth.OpDescribe, auth.ResourceTransactionalID, id) {
			s.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
			resp.TransactionStates = append(resp.TransactionStates, s)
			continue
		}
		d, ok := r.c.b.txns.Describe(id)
		if !ok {
			s.ErrorCode = kerr.TransactionalIDNotFound.Code
			resp.TransactionStates = append(resp.TransactionStates, s)
			continue
		}
		s.State = d.State.String()
		s.TimeoutMillis = d.TimeoutMs
		s.StartTimestamp = d.StartMs
		s.ProducerID, s.ProducerEpoch = d.PID, d.Epoch
		byTopic := map[string][]int32{}
		var names []string
		for _, tp := range d.Partitions {
			if _, ok := byTopic[tp.Topic]; !ok {
				names = append(names, tp.Topic)
			}
			byTopic[tp.Topic] = append(byTopic[tp.Topic], tp.Partition)
		}
		slices.Sort(names)
		for _, n := range names {
			t := kmsg.NewDescribeTransactionsResponseTransactionStateTopic()
			t.Topic = n
			t.Partitions = byTopic[n]
			slices.Sort(t.Partitions)
			s.Topics = append(s.Topics, t)
		}
		resp.TransactionStates = append(resp.TransactionStates, s)
	}
	return resp, nil
}
