package broker_test

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// txnReq sends one request with a raw franz-go client.
func txnReq[R kmsg.Response](t *testing.T, cl *kgo.Client, req kmsg.Request) R {
	t.Helper()
	resp, err := cl.Request(testCtx(t), req)
	if err != nil {
		t.Fatalf("%T: %v", req, err)
	}
	return resp.(R)
}

// TestTxnProtocol drives the transaction APIs request by request, checking
// Kafka's error codes at each step, the last stable offset seen by
// ListOffsets and Fetch, and OffsetFetch's require_stable.
func TestTxnProtocol(t *testing.T) {
	_, addr := startBroker(t)
	createTopic(t, addr, "tx", 1, nil)
	cl := newFranz(t, addr)

	initReq := kmsg.NewPtrInitProducerIDRequest()
	initReq.TransactionalID = kmsg.StringPtr("app-1")
	initReq.TransactionTimeoutMillis = 60000
	ini := txnReq[*kmsg.InitProducerIDResponse](t, cl, initReq)
	if ini.ErrorCode != 0 || ini.ProducerEpoch != 0 {
		t.Fatalf("InitProducerId: %+v", ini)
	}
	pid, epoch := ini.ProducerID, ini.ProducerEpoch

	initReq.TransactionTimeoutMillis = 16 * 60 * 1000
	if r := txnReq[*kmsg.InitProducerIDResponse](t, cl, initReq); r.ErrorCode != kerr.InvalidTransactionTimeout.Code {
		t.Fatalf("timeout above transaction.max.timeout.ms: %v", kerr.ErrorForCode(r.ErrorCode))
	}

	end := func(id string, pid int64, epoch int16, commit bool) int16 {
		req := kmsg.NewPtrEndTxnRequest()
		req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = id, pid, epoch, commit
		return txnReq[*kmsg.EndTxnResponse](t, cl, req).ErrorCode
	}
	if code := end("app-1", pid, epoch, true); code != kerr.InvalidTxnState.Code {
		t.Fatalf("EndTxn without a transaction: %v", kerr.ErrorForCode(code))
	}
	if code := end("nope", pid, epoch, true); code != kerr.InvalidProducerIDMapping.Code {
		t.Fatalf("EndTxn of an unknown id: %v", kerr.ErrorForCode(code))
	}

	add := func(topic string, epoch int16) int16 {
		req := kmsg.NewPtrAddPartitionsToTxnRequest()
		req.TransactionalID, req.ProducerID, req.ProducerEpoch = "app-1", pid, epoch
		rt := kmsg.NewAddPartitionsToTxnRequestTopic()
		rt.Topic, rt.Partitions = topic, []int32{0}
		req.Topics = append(req.Topics, rt)
		resp := txnReq[*kmsg.AddPartitionsToTxnResponse](t, cl, req)
		return resp.Topics[0].Partitions[0].ErrorCode
	}
	if code := add("missing", epoch); code != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("AddPartitionsToTxn unknown topic: %v", kerr.ErrorForCode(code))
	}
	if code := add("tx", epoch+1); code != kerr.ProducerFenced.Code {
		t.Fatalf("AddPartitionsToTxn with another epoch: %v", kerr.ErrorForCode(code))
	}
	if code := add("tx", epoch); code != 0 {
		t.Fatalf("AddPartitionsToTxn: %v", kerr.ErrorForCode(code))
	}

	// A transactional produce, then the LSO stays before it.
	pcl := newFranz(t, addr, kgo.TransactionalID("app-2"), kgo.DefaultProduceTopic("tx"), kgo.RequiredAcks(kgo.AllISRAcks()))
	must(t, pcl.BeginTransaction())
	must(t, pcl.ProduceSync(testCtx(t), &kgo.Record{Value: []byte("open")}).FirstErr())

	list := func(isolation int8) int64 {
		req := kmsg.NewPtrListOffsetsRequest()
		req.IsolationLevel = isolation
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = "tx"
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = 0, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return txnReq[*kmsg.ListOffsetsResponse](t, cl, req).Topics[0].Partitions[0].Offset
	}
	if hw, lso := list(0), list(1); hw != 1 || lso != 0 {
		t.Fatalf("while open: latest %d, read_committed latest %d; want 1 and 0", hw, lso)
	}

	// Offsets committed in app-1's transaction are unstable until it ends.
	addOffs := kmsg.NewPtrAddOffsetsToTxnRequest()
	addOffs.TransactionalID, addOffs.ProducerID, addOffs.ProducerEpoch, addOffs.Group = "app-1", pid, epoch, "g1"
	if r := txnReq[*kmsg.AddOffsetsToTxnResponse](t, cl, addOffs); r.ErrorCode != 0 {
		t.Fatalf("AddOffsetsToTxn: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	toc := kmsg.NewPtrTxnOffsetCommitRequest()
	toc.TransactionalID, toc.Group, toc.ProducerID, toc.ProducerEpoch, toc.Generation = "app-1", "g1", pid, epoch, -1
	tt := kmsg.NewTxnOffsetCommitRequestTopic()
	tt.Topic = "tx"
	tp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	tp.Partition, tp.Offset, tp.Metadata = 0, 17, kmsg.StringPtr("m")
	tt.Partitions = append(tt.Partitions, tp)
	toc.Topics = append(toc.Topics, tt)
	if r := txnReq[*kmsg.TxnOffsetCommitResponse](t, cl, toc); r.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("TxnOffsetCommit: %v", kerr.ErrorForCode(r.Topics[0].Partitions[0].ErrorCode))
	}
	toc.Group = "other" // not added: v5 (transaction version 2) adds it
	if r := txnReq[*kmsg.TxnOffsetCommitResponse](t, cl, toc); r.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("TxnOffsetCommit v5 for a group not in the transaction: %v", kerr.ErrorForCode(r.Topics[0].Partitions[0].ErrorCode))
	}
	fetchOffset := func(stable bool) (int64, int16) {
		req := kmsg.NewPtrOffsetFetchRequest()
		req.Group, req.RequireStable = "g1", stable
		rt := kmsg.NewOffsetFetchRequestTopic()
		rt.Topic, rt.Partitions = "tx", []int32{0}
		req.Topics = append(req.Topics, rt)
		req.Version = 7
		r := txnReq[*kmsg.OffsetFetchResponse](t, cl, req)
		p := r.Topics[0].Partitions[0]
		return p.Offset, p.ErrorCode
	}
	if off, code := fetchOffset(true); code != kerr.UnstableOffsetCommit.Code || off != -1 {
		t.Fatalf("require_stable while the transaction is open: offset %d, %v", off, kerr.ErrorForCode(code))
	}
	if off, code := fetchOffset(false); code != 0 || off != -1 {
		t.Fatalf("offset visible before the commit: %d, %v", off, kerr.ErrorForCode(code))
	}

	// DescribeTransactions and ListTransactions see both ids.
	dreq := kmsg.NewPtrDescribeTransactionsRequest()
	dreq.TransactionalIDs = []string{"app-1", "app-2", "nope"}
	d := txnReq[*kmsg.DescribeTransactionsResponse](t, cl, dreq)
	if len(d.TransactionStates) != 3 || d.TransactionStates[0].State != "Ongoing" || d.TransactionStates[1].State != "Ongoing" ||
		len(d.TransactionStates[1].Topics) != 1 || d.TransactionStates[2].ErrorCode != kerr.TransactionalIDNotFound.Code {
		t.Fatalf("DescribeTransactions: %+v", d.TransactionStates)
	}
	lreq := kmsg.NewPtrListTransactionsRequest()
	lreq.StateFilters = []string{"Ongoing", "Bogus"}
	l := txnReq[*kmsg.ListTransactionsResponse](t, cl, lreq)
	if len(l.TransactionStates) != 2 || len(l.UnknownStateFilters) != 1 {
		t.Fatalf("ListTransactions: %+v", l)
	}

	// EndTxn v5 (transaction version 2) bumps the epoch as it ends.
	endReq := kmsg.NewPtrEndTxnRequest()
	endReq.TransactionalID, endReq.ProducerID, endReq.ProducerEpoch, endReq.Commit = "app-1", pid, epoch, true
	er := txnReq[*kmsg.EndTxnResponse](t, cl, endReq)
	if er.ErrorCode != 0 || er.ProducerID != pid || er.ProducerEpoch != epoch+1 {
		t.Fatalf("EndTxn commit: %v, producer %d epoch %d", kerr.ErrorForCode(er.ErrorCode), er.ProducerID, er.ProducerEpoch)
	}
	if r := txnReq[*kmsg.EndTxnResponse](t, cl, endReq); r.ErrorCode != 0 || r.ProducerEpoch != epoch+1 {
		t.Fatalf("EndTxn commit retried: %v, epoch %d", kerr.ErrorForCode(r.ErrorCode), r.ProducerEpoch)
	}
	if code := end("app-1", pid, epoch, false); code != kerr.InvalidTxnState.Code {
		t.Fatalf("EndTxn abort with the epoch before the bump: %v", kerr.ErrorForCode(code))
	}
	if code := end("app-1", pid, epoch+1, true); code != kerr.InvalidTxnState.Code {
		t.Fatalf("EndTxn commit with nothing open: %v", kerr.ErrorForCode(code))
	}
	if off, code := fetchOffset(true); code != 0 || off != 17 {
		t.Fatalf("offset after the commit: %d, %v", off, kerr.ErrorForCode(code))
	}

	// app-2 aborts: read_committed sees nothing of it; the LSO moves past.
	must(t, pcl.EndTransaction(testCtx(t), kgo.TryAbort))
	deadline := time.Now().Add(5 * time.Second)
	for list(1) != list(0) {
		if time.Now().After(deadline) {
			t.Fatalf("LSO %d stays behind the HW %d after the abort", list(1), list(0))
		}
		time.Sleep(10 * time.Millisecond)
	}
	freq := kmsg.NewPtrFetchRequest()
	freq.IsolationLevel, freq.MaxBytes, freq.MaxWaitMillis = 1, 1<<20, 10
	mreq := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr("tx")
	mreq.Topics = append(mreq.Topics, mt)
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic, ft.TopicID = "tx", txnReq[*kmsg.MetadataResponse](t, cl, mreq).Topics[0].TopicID
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.Partition, fp.PartitionMaxBytes = 0, 1<<20
	ft.Partitions = append(ft.Partitions, fp)
	freq.Topics = append(freq.Topics, ft)
	f := txnReq[*kmsg.FetchResponse](t, cl, freq).Topics[0].Partitions[0]
	if f.ErrorCode != 0 || f.LastStableOffset != f.HighWatermark || len(f.AbortedTransactions) != 1 || f.AbortedTransactions[0].FirstOffset != 0 {
		t.Fatalf("read_committed fetch: error %v, HW %d, LSO %d, aborted %+v", kerr.ErrorForCode(f.ErrorCode), f.HighWatermark, f.LastStableOffset, f.AbortedTransactions)
	}
	// The old producer of app-1 is fenced by a new InitProducerId.
	initReq.TransactionTimeoutMillis = 60000
	if r := txnReq[*kmsg.InitProducerIDResponse](t, cl, initReq); r.ErrorCode != 0 || r.ProducerEpoch != epoch+2 {
		t.Fatalf("re-init: %+v", r)
	}
	if code := add("tx", epoch); code != kerr.ProducerFenced.Code {
		t.Fatalf("the fenced producer adds a partition: %v", kerr.ErrorForCode(code))
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
