package diff

import (
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Transaction steps. The transactional id is case-local like topics (c.T);
// InitProducerId captures "pid" and "epoch".

const txnAttr = 0x10 // the transactional bit of a batch's attributes

func findTxnCoordinatorWait(id string) Step {
	return Step{
		Name:      "wait for the transaction coordinator of " + id,
		NoCompare: true,
		Req: func(c *Ctx) kmsg.Request {
			req := kmsg.NewPtrFindCoordinatorRequest()
			req.CoordinatorKey = c.T(id)
			req.CoordinatorKeys = []string{c.T(id)}
			req.CoordinatorType = 1
			return req
		},
		Until: func(r kmsg.Response) bool {
			resp := r.(*kmsg.FindCoordinatorResponse)
			if len(resp.Coordinators) > 0 {
				return resp.Coordinators[0].ErrorCode == 0
			}
			return resp.ErrorCode == 0
		},
	}
}

// initTxn is InitProducerId for the transactional id, re-sent until the
// coordinator has loaded (Kafka creates __transaction_state on first use).
func initTxn(label, id string) Step {
	return Step{
		Name: "init producer id " + label,
		Req: func(c *Ctx) kmsg.Request {
			req := kmsg.NewPtrInitProducerIDRequest()
			req.TransactionalID = kmsg.StringPtr(c.T(id))
			req.TransactionTimeoutMillis = 60000
			req.ProducerID, req.ProducerEpoch = -1, -1
			return req
		},
		Until: func(r kmsg.Response) bool {
			code := r.(*kmsg.InitProducerIDResponse).ErrorCode
			return code == 0
		},
		Then: func(c *Ctx, r kmsg.Response) {
			resp := r.(*kmsg.InitProducerIDResponse)
			c.Vars["pid"], c.Vars["epoch"] = resp.ProducerID, resp.ProducerEpoch
		},
	}
}

// addPartitionsToTxn is the client form (v3; v4+ is broker to coordinator).
func addPartitionsToTxn(label, id string, epochDelta int16, topics ...string) Step {
	return pinned(raw("add partitions to txn "+label, func(c *Ctx) kmsg.Request {
		req := kmsg.NewPtrAddPartitionsToTxnRequest()
		req.TransactionalID, req.ProducerID, req.ProducerEpoch = c.T(id), c.I64("pid"), c.I16("epoch")+epochDelta
		for _, t := range topics {
			rt := kmsg.NewAddPartitionsToTxnRequestTopic()
			rt.Topic, rt.Partitions = c.T(t), []int32{0}
			req.Topics = append(req.Topics, rt)
		}
		return req
	}), 3)
}

func addOffsetsToTxn(label, id, group string) Step {
	return raw("add offsets to txn "+label, func(c *Ctx) kmsg.Request {
		req := kmsg.NewPtrAddOffsetsToTxnRequest()
		req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group = c.T(id), c.I64("pid"), c.I16("epoch"), c.T(group)
		return req
	})
}

func txnOffsetCommit(label, id, group, topic string, offset int64) Step {
	return raw("txn offset commit "+label, func(c *Ctx) kmsg.Request {
		req := kmsg.NewPtrTxnOffsetCommitRequest()
		req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch = c.T(id), c.T(group), c.I64("pid"), c.I16("epoch")
		req.Generation = -1
		rt := kmsg.NewTxnOffsetCommitRequestTopic()
		rt.Topic = c.T(topic)
		rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = 0, offset, -1, kmsg.StringPtr("m")
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return req
	})
}

// endTxn ends the transaction with the captured epoch; from v5 (transaction
// version 2) the answer's new epoch is captured in its place.
func endTxn(label, id string, commit bool) Step {
	s := endTxnStale(label, id, commit)
	s.Then = func(c *Ctx, r kmsg.Response) {
		if resp := r.(*kmsg.EndTxnResponse); resp.ErrorCode == 0 && resp.ProducerEpoch >= 0 {
			c.Vars["prev_epoch"], c.Vars["epoch"] = c.Vars["epoch"], resp.ProducerEpoch
		}
	}
	return s
}

// endTxnStale ends the transaction with the epoch captured before the last
// end (v5 retries and fencing).
func endTxnStale(label, id string, commit bool) Step {
	return raw("end txn "+label, func(c *Ctx) kmsg.Request {
		req := kmsg.NewPtrEndTxnRequest()
		epoch := c.I16("epoch")
		if strings.HasPrefix(label, "stale") {
			epoch = c.I16("prev_epoch")
		}
		req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = c.T(id), c.I64("pid"), epoch, commit
		return req
	})
}

// produceTxn produces a transactional batch with the request's
// transactional id set to id ("" leaves it null).
func produceTxn(label, id, topic string, seq int32, recs ...rec) Step {
	return raw("produce "+label, func(c *Ctx) kmsg.Request {
		b := idem(c.I64("pid"), c.I16("epoch"), seq, recs...)
		b.attrs |= txnAttr
		req := produceReq(c, topic, 0, -1, b)
		if id != "" {
			req.TransactionID = kmsg.StringPtr(c.T(id))
		}
		return req
	})
}

// waitTxnComplete waits (not compared) until the transaction is complete:
// Kafka writes markers after answering EndTxn, Chronik before.
func waitTxnComplete(id string) Step {
	return Step{
		Name:      "wait until " + id + " is complete",
		NoCompare: true,
		Req: func(c *Ctx) kmsg.Request {
			req := kmsg.NewPtrDescribeTransactionsRequest()
			req.TransactionalIDs = []string{c.T(id)}
			return req
		},
		Until: func(r kmsg.Response) bool {
			st := r.(*kmsg.DescribeTransactionsResponse).TransactionStates
			return len(st) == 1 && (st[0].State == "CompleteCommit" || st[0].State == "CompleteAbort")
		},
	}
}

func fetchCommitted(label, topic string, offset int64) Step {
	return raw("fetch read_committed "+label, func(c *Ctx) kmsg.Request {
		req := fetchReq(c, topic, 0, offset, 1<<20, 100)
		req.IsolationLevel = 1
		return req
	})
}

func fetchCommittedMax(label, topic string, offset int64, maxBytes int32) Step {
	return raw("fetch read_committed "+label, func(c *Ctx) kmsg.Request {
		req := fetchReq(c, topic, 0, offset, maxBytes, 100)
		req.IsolationLevel = 1
		return req
	})
}

func listOffsetsCommitted(label, topic string) Step {
	s := listOffsets(label+" (read_committed)", topic, 0, latest)
	build := s.Req
	s.Req = func(c *Ctx) kmsg.Request {
		req := build(c).(*kmsg.ListOffsetsRequest)
		req.IsolationLevel = 1
		return req
	}
	return s
}

func offsetFetchStable(label, group, topic string) Step {
	return raw("offset fetch require_stable "+label, func(c *Ctx) kmsg.Request {
		req := kmsg.NewPtrOffsetFetchRequest()
		req.Group, req.RequireStable = c.T(group), true
		rt := kmsg.NewOffsetFetchRequestTopic()
		rt.Topic, rt.Partitions = c.T(topic), []int32{0}
		req.Topics = append(req.Topics, rt)
		return req
	})
}

var txnCases = []Case{
	{Name: "txn-errors", Steps: steps(
		newTopic("t", 1),
		findTxnCoordinatorWait("x"),
		initTxn("x", "x"),
		endTxn("commit without a transaction", "x", true),
		endTxn("unknown transactional id", "y", true),
		addPartitionsToTxn("unknown topic", "x", 0, "t", "missing"),
		addPartitionsToTxn("another epoch", "x", 1, "t"),
		produceTxn("before the partition was added (v12+ adds it)", "x", "t", 0, kv("k", "v")),
		addPartitionsToTxn("t", "x", 0, "t"),
		produceTxn("without the transactional id", "", "t", 0, kv("k", "v")),
		produceTxn("seq 1", "x", "t", 1, kv("k", "v")),
		raw("plain produce by the same producer", func(c *Ctx) kmsg.Request {
			return produceReq(c, "t", 0, -1, idem(c.I64("pid"), c.I16("epoch"), 2, kv("p", "p")))
		}),
		endTxn("abort", "x", false),
		waitTxnComplete("x"),
		endTxnStale("stale: abort again (a retry)", "x", false),
		endTxnStale("stale: commit after abort", "x", true),
		endTxn("commit with nothing open", "x", true),
		endTxn("abort with nothing open", "x", false),
	)},

	{Name: "txn-commit-abort-read-committed", Steps: steps(
		newTopic("t", 1),
		waitCoordinator("g"),
		findTxnCoordinatorWait("x"),
		initTxn("x", "x"),
		produce("plain", "t", 0, plain(baseTS, kv("a", "1"))),
		addPartitionsToTxn("t", "x", 0, "t"),
		produceTxn("txn 1 (2 records)", "x", "t", 0, kv("b", "2"), kv("c", "3")),
		listOffsets("latest while open", "t", 0, latest),
		listOffsetsCommitted("latest while open", "t"),
		fetchCommitted("while open", "t", 0),
		addOffsetsToTxn("g", "x", "g"),
		txnOffsetCommit("offset 1", "x", "g", "t", 1),
		offsetFetchStable("while open", "g", "t"),
		endTxn("commit", "x", true),
		waitTxnComplete("x"),
		offsetFetchStable("after commit", "g", "t"),
		listOffsetsCommitted("latest after commit", "t"),
		addPartitionsToTxn("t again", "x", 0, "t"),
		produceTxn("txn 2", "x", "t", 2, kv("d", "4")),
		endTxn("abort", "x", false),
		waitTxnComplete("x"),
		fetchCommittedMax("first two batches", "t", 0, 150),
		fetchCommitted("from the commit marker", "t", 3),
		fetchCommitted("from the aborted transaction", "t", 4),
		fetch("from the aborted transaction (read_uncommitted)", "t", 0, 4),
		listOffsetsCommitted("latest after abort", "t"),
		initTxn("x again (bumps the epoch)", "x"),
	)},
}

func init() { cases = append(cases, txnCases...) }
