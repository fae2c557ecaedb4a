package broker

// Authorization of the transaction APIs (see acl_hooks.go for the shape of
// a hook), as Kafka's KafkaApis checks them:
//
//   - AddPartitionsToTxn v0-v3: WRITE on the transactional id
//     (TRANSACTIONAL_ID_AUTHORIZATION_FAILED everywhere), then WRITE on each
//     topic: unauthorized partitions TOPIC_AUTHORIZATION_FAILED, the rest
//     OPERATION_NOT_ATTEMPTED, nothing added. v4+ (broker to coordinator):
//     CLUSTER_ACTION on the cluster.
//   - AddOffsetsToTxn: WRITE on the transactional id, READ on the group.
//   - EndTxn: WRITE on the transactional id.
//   - TxnOffsetCommit: WRITE on the transactional id, READ on the group,
//     READ on each topic (per partition).
//   - DescribeTransactions and ListTransactions check DESCRIBE per id in
//     their handlers (65, 66).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/internal/auth"
)

func init() {
	aclHooks[kmsg.AddPartitionsToTxn.Int16()] = aclAddPartitionsToTxn
	aclHooks[kmsg.AddOffsetsToTxn.Int16()] = aclAddOffsetsToTxn
	aclHooks[kmsg.EndTxn.Int16()] = aclEndTxn
	aclHooks[kmsg.TxnOffsetCommit.Int16()] = aclTxnOffsetCommit
	aclExempt[kmsg.DescribeTransactions.Int16()] = true
	aclExempt[kmsg.ListTransactions.Int16()] = true
}

func (r *request) txnWrite(id string) bool {
	return r.authorize(auth.OpWrite, auth.ResourceTransactionalID, id)
}

func aclAddPartitionsToTxn(r *request) (func(kmsg.Response), kmsg.Response, error) {
	req := r.kreq.(*kmsg.AddPartitionsToTxnRequest)
	resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	if r.version >= 4 {
		if r.authorizeCluster(auth.OpClusterAction) {
			return nil, nil, nil
		}
		resp.ErrorCode = codeClusterAuth
		return nil, resp, nil
	}
	deniedTopic := map[string]bool{}
	txnDenied := !r.txnWrite(req.TransactionalID)
	if !txnDenied {
		for _, t := range req.Topics {
			if !r.authorize(auth.OpWrite, auth.ResourceTopic, t.Topic) {
				deniedTopic[t.Topic] = true
			}
		}
		if len(deniedTopic) == 0 {
			return nil, nil, nil
		}
	}
	for _, t := range req.Topics {
		st := kmsg.NewAddPartitionsToTxnResponseTopic()
		st.Topic = t.Topic
		code := codeTxnAuth
		if !txnDenied {
			code = kerr.OperationNotAttempted.Code
			if deniedTopic[t.Topic] {
				code = codeTopicAuth
			}
		}
		for _, p := range t.Partitions {
			sp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
			sp.Partition, sp.ErrorCode = p, code
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return nil, resp, nil
}

func aclAddOffsetsToTxn(r *request) (func(kmsg.Response), kmsg.Response, error) {
	req := r.kreq.(*kmsg.AddOffsetsToTxnRequest)
	resp := req.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
	switch {
	case !r.txnWrite(req.TransactionalID):
		resp.ErrorCode = codeTxnAuth
	case !r.authorize(auth.OpRead, auth.ResourceGroup, req.Group):
		resp.ErrorCode = codeGroupAuth
	default:
		return nil, nil, nil
	}
	return nil, resp, nil
}

func aclEndTxn(r *request) (func(kmsg.Response), kmsg.Response, error) {
	req := r.kreq.(*kmsg.EndTxnRequest)
	if r.txnWrite(req.TransactionalID) {
		return nil, nil, nil
	}
	resp := req.ResponseKind().(*kmsg.EndTxnResponse)
	resp.ErrorCode, resp.ProducerID, resp.ProducerEpoch = codeTxnAuth, -1, -1
	return nil, resp, nil
}

func aclTxnOffsetCommit(r *request) (func(kmsg.Response), kmsg.Response, error) {
	req := r.kreq.(*kmsg.TxnOffsetCommitRequest)
	all := 0
	switch {
	case !r.txnWrite(req.TransactionalID):
		all = int(codeTxnAuth)
	case !r.authorize(auth.OpRead, auth.ResourceGroup, req.Group):
		all = int(codeGroupAuth)
	}
	denied := map[string]bool{}
	if all == 0 {
		for _, t := range req.Topics {
			if !r.authorize(auth.OpRead, auth.ResourceTopic, t.Topic) {
				denied[t.Topic] = true
			}
		}
		if len(denied) == 0 {
			return nil, nil, nil
		}
	}
	resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
	if all != 0 {
		for _, t := range req.Topics {
			st := kmsg.NewTxnOffsetCommitResponseTopic()
			st.Topic = t.Topic
			for _, p := range t.Partitions {
				sp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
				sp.Partition, sp.ErrorCode = p.Partition, int16(all)
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return nil, resp, nil
	}
	// Authorized topics go through; denied ones are answered after.
	var allowed []kmsg.TxnOffsetCommitRequestTopic
	for _, t := range req.Topics {
		if !denied[t.Topic] {
			allowed = append(allowed, t)
		}
	}
	orig := req.Topics
	req.Topics = allowed
	post := func(res kmsg.Response) {
		out := res.(*kmsg.TxnOffsetCommitResponse)
		for _, t := range orig {
			if !denied[t.Topic] {
				continue
			}
			st := kmsg.NewTxnOffsetCommitResponseTopic()
			st.Topic = t.Topic
			for _, p := range t.Partitions {
				sp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
				sp.Partition, sp.ErrorCode = p.Partition, codeTopicAuth
				st.Partitions = append(st.Partitions, sp)
			}
			out.Topics = append(out.Topics, st)
		}
	}
	return post, nil, nil
}
