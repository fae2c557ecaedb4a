package broker_test

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/broker"
)

// TestTxnACLs checks the transaction APIs' authorization as Kafka's
// KafkaApis does it (acl_hooks_txn.go): WRITE on the transactional id,
// WRITE on each added topic, READ on the group and its topics.
func TestTxnACLs(t *testing.T) {
	_, addr := startBroker(t, func(c *broker.Config) {
		c.Authorizer = true
		c.AllowEveryoneIfNoACLFound = true
	})
	createTopic(t, addr, "ok", 1, nil)
	createTopic(t, addr, "ro", 1, nil)
	cl := newFranz(t, addr)
	adm := kadm.NewClient(cl)
	ctx := testCtx(t)
	denies := []*kadm.ACLBuilder{
		kadm.NewACLs().TransactionalIDs("locked").Deny("User:ANONYMOUS").DenyHosts("*").Operations(kadm.OpWrite).ResourcePatternType(kadm.ACLPatternLiteral),
		kadm.NewACLs().TransactionalIDs("hidden").Deny("User:ANONYMOUS").DenyHosts("*").Operations(kadm.OpDescribe).ResourcePatternType(kadm.ACLPatternLiteral),
		kadm.NewACLs().Topics("ro").Deny("User:ANONYMOUS").DenyHosts("*").Operations(kadm.OpWrite, kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral),
		kadm.NewACLs().Groups("gx").Deny("User:ANONYMOUS").DenyHosts("*").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral),
	}
	for _, b := range denies {
		res, err := adm.CreateACLs(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
		}
	}

	initTxn := func(id string) *kmsg.InitProducerIDResponse {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.TransactionalID, req.TransactionTimeoutMillis = kmsg.StringPtr(id), 60000
		return txnDirect[*kmsg.InitProducerIDResponse](t, cl, req)
	}
	if r := initTxn("locked"); r.ErrorCode != kerr.TransactionalIDAuthorizationFailed.Code {
		t.Fatalf("InitProducerId without WRITE: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	ok := initTxn("ok-id")
	if ok.ErrorCode != 0 {
		t.Fatalf("InitProducerId: %v", kerr.ErrorForCode(ok.ErrorCode))
	}
	// An ACL on the id exists, so allow.everyone.if.no.acl.found no longer
	// applies to it: WRITE is refused too, as in Kafka.
	if r := initTxn("hidden"); r.ErrorCode != kerr.TransactionalIDAuthorizationFailed.Code {
		t.Fatalf("InitProducerId on an id with only a DESCRIBE deny: %v", kerr.ErrorForCode(r.ErrorCode))
	}

	add := kmsg.NewPtrAddPartitionsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch = "ok-id", ok.ProducerID, ok.ProducerEpoch
	for _, topic := range []string{"ok", "ro"} {
		rt := kmsg.NewAddPartitionsToTxnRequestTopic()
		rt.Topic, rt.Partitions = topic, []int32{0}
		add.Topics = append(add.Topics, rt)
	}
	got := map[string]int16{}
	for _, rt := range txnReq[*kmsg.AddPartitionsToTxnResponse](t, cl, add).Topics { // the client caps this at v3
		got[rt.Topic] = rt.Partitions[0].ErrorCode
	}
	if got["ro"] != kerr.TopicAuthorizationFailed.Code || got["ok"] != kerr.OperationNotAttempted.Code {
		t.Fatalf("AddPartitionsToTxn with a topic without WRITE: %v", got)
	}

	offs := kmsg.NewPtrAddOffsetsToTxnRequest()
	offs.TransactionalID, offs.ProducerID, offs.ProducerEpoch, offs.Group = "ok-id", ok.ProducerID, ok.ProducerEpoch, "gx"
	if r := txnDirect[*kmsg.AddOffsetsToTxnResponse](t, cl, offs); r.ErrorCode != kerr.GroupAuthorizationFailed.Code {
		t.Fatalf("AddOffsetsToTxn without READ on the group: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	offs.Group = "g"
	if r := txnDirect[*kmsg.AddOffsetsToTxnResponse](t, cl, offs); r.ErrorCode != 0 {
		t.Fatalf("AddOffsetsToTxn: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	toc := kmsg.NewPtrTxnOffsetCommitRequest()
	toc.TransactionalID, toc.Group, toc.ProducerID, toc.ProducerEpoch, toc.Generation = "ok-id", "g", ok.ProducerID, ok.ProducerEpoch, -1
	for _, topic := range []string{"ok", "ro"} {
		rt := kmsg.NewTxnOffsetCommitRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset = 0, 1
		rt.Partitions = append(rt.Partitions, rp)
		toc.Topics = append(toc.Topics, rt)
	}
	got = map[string]int16{}
	for _, rt := range txnDirect[*kmsg.TxnOffsetCommitResponse](t, cl, toc).Topics {
		got[rt.Topic] = rt.Partitions[0].ErrorCode
	}
	if len(got) != 2 || got["ro"] != kerr.TopicAuthorizationFailed.Code || got["ok"] != 0 {
		t.Fatalf("TxnOffsetCommit with a topic without READ: %v", got)
	}

	end := kmsg.NewPtrEndTxnRequest()
	end.TransactionalID, end.ProducerID, end.ProducerEpoch = "locked", ok.ProducerID, ok.ProducerEpoch
	if r := txnDirect[*kmsg.EndTxnResponse](t, cl, end); r.ErrorCode != kerr.TransactionalIDAuthorizationFailed.Code {
		t.Fatalf("EndTxn without WRITE: %v", kerr.ErrorForCode(r.ErrorCode))
	}

	dreq := kmsg.NewPtrDescribeTransactionsRequest()
	dreq.TransactionalIDs = []string{"ok-id", "hidden"}
	d := txnDirect[*kmsg.DescribeTransactionsResponse](t, cl, dreq).TransactionStates
	if len(d) != 2 || d[0].ErrorCode != 0 || d[1].ErrorCode != kerr.TransactionalIDAuthorizationFailed.Code {
		t.Fatalf("DescribeTransactions: %+v", d)
	}
	l := txnDirect[*kmsg.ListTransactionsResponse](t, cl, kmsg.NewPtrListTransactionsRequest()).TransactionStates
	if len(l) != 1 || l[0].TransactionalID != "ok-id" {
		t.Fatalf("ListTransactions shows ids the principal may not describe: %+v", l)
	}
}

// txnDirect sends req to node 1 itself, without the client's coordinator
// lookup (whose errors would hide the request's own).
func txnDirect[R kmsg.Response](t *testing.T, cl *kgo.Client, req kmsg.Request) R {
	t.Helper()
	resp, err := cl.Broker(1).Request(testCtx(t), req)
	if err != nil {
		t.Fatalf("%T: %v", req, err)
	}
	return resp.(R)
}
