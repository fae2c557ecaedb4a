package diff

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Step builders: each returns a Step (or a few) for the cases table. Topic
// names are case-local ("t" becomes a name unique to the run and case).

// --- record batches ------------------------------------------------------------

// baseTS is the CreateTime of produced records (fixed so both brokers store
// and return the same timestamps).
const baseTS int64 = 1_700_000_000_000

// rec is one record of a batch.
type rec struct {
	key, value []byte
	headers    []kmsg.Header
	tsDelta    int64
}

// kv is a record with a string key and value (nil for "<nil>").
func kv(k, v string) rec {
	r := rec{}
	if k != "<nil>" {
		r.key = []byte(k)
	}
	if v != "<nil>" {
		r.value = []byte(v)
	}
	return r
}

// batchSpec describes a v2 record batch.
type batchSpec struct {
	pid   int64
	epoch int16
	seq   int32
	ts    int64
	attrs int16
	recs  []rec
}

// plain is a non-idempotent batch of recs with CreateTime ts.
func plain(ts int64, recs ...rec) batchSpec {
	return batchSpec{pid: -1, epoch: -1, seq: -1, ts: ts, recs: recs}
}

// idem is an idempotent batch: producer id/epoch and first sequence.
func idem(pid int64, epoch int16, seq int32, recs ...rec) batchSpec {
	return batchSpec{pid: pid, epoch: epoch, seq: seq, ts: baseTS, recs: recs}
}

// gzipped marks a batch to be gzip-compressed.
func gzipped(s batchSpec) batchSpec {
	s.attrs |= 1
	return s
}

// encodeBatch encodes a v2 record batch with a correct CRC-32C; a batch
// with codec 1 in its attributes is gzip-compressed.
func encodeBatch(s batchSpec) []byte {
	var recs []byte
	maxDelta := int64(0)
	for i, r := range s.recs {
		kr := kmsg.Record{
			TimestampDelta64: r.tsDelta,
			OffsetDelta:      int32(i),
			Key:              r.key,
			Value:            r.value,
			Headers:          r.headers,
		}
		body := kr.AppendTo(nil) // with Length 0: a 1-byte varint
		kr.Length = int32(len(body) - 1)
		recs = kr.AppendTo(recs)
		if r.tsDelta > maxDelta {
			maxDelta = r.tsDelta
		}
	}
	if s.attrs&0x7 == 1 {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(recs)
		_ = zw.Close()
		recs = buf.Bytes()
	}
	b := kmsg.RecordBatch{
		FirstOffset:          0,
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           s.attrs,
		LastOffsetDelta:      int32(len(s.recs) - 1),
		FirstTimestamp:       s.ts,
		MaxTimestamp:         s.ts + maxDelta,
		ProducerID:           s.pid,
		ProducerEpoch:        s.epoch,
		FirstSequence:        s.seq,
		NumRecords:           int32(len(s.recs)),
		Records:              recs,
	}
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[8:12], uint32(len(out)-12))
	binary.BigEndian.PutUint32(out[17:21], crc32.Checksum(out[21:], crc32.MakeTable(crc32.Castagnoli)))
	return out
}

// crcOK reports whether a stored batch's CRC-32C matches its contents.
func crcOK(batch []byte) bool {
	if len(batch) < 21 {
		return false
	}
	return binary.BigEndian.Uint32(batch[17:21]) == crc32.Checksum(batch[21:], crc32.MakeTable(crc32.Castagnoli))
}

// --- topics ----------------------------------------------------------------------

type cfg struct{ name, value string }

func createReq(c *Ctx, name string, parts int32, rf int16, validateOnly bool, cfgs ...cfg) *kmsg.CreateTopicsRequest {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 30000
	req.ValidateOnly = validateOnly
	t := kmsg.NewCreateTopicsRequestTopic()
	t.Topic = c.T(name)
	t.NumPartitions = parts
	t.ReplicationFactor = rf
	for _, x := range cfgs {
		kc := kmsg.NewCreateTopicsRequestTopicConfig()
		kc.Name = x.name
		kc.Value = kmsg.StringPtr(x.value)
		t.Configs = append(t.Configs, kc)
	}
	req.Topics = append(req.Topics, t)
	return req
}

// createTopic is a compared CreateTopics step.
func createTopic(name string, parts int32, rf int16, cfgs ...cfg) Step {
	return Step{
		Name: fmt.Sprintf("create %s p=%d rf=%d %v", name, parts, rf, cfgs),
		Req:  func(c *Ctx) kmsg.Request { return createReq(c, name, parts, rf, false, cfgs...) },
		Then: func(c *Ctx, _ kmsg.Response) { delete(c.Vars, "id:"+name) },
	}
}

// createValidateOnly is a CreateTopics step with validate_only.
func createValidateOnly(name string, parts int32, rf int16, cfgs ...cfg) Step {
	return Step{
		Name: fmt.Sprintf("create (validate only) %s p=%d rf=%d %v", name, parts, rf, cfgs),
		Req:  func(c *Ctx) kmsg.Request { return createReq(c, name, parts, rf, true, cfgs...) },
	}
}

// createRaw is a CreateTopics step with a literal (not case-local) name.
func createRaw(label, topic string, parts int32) Step {
	return Step{
		Name: "create " + label,
		Req: func(c *Ctx) kmsg.Request {
			req := kmsg.NewPtrCreateTopicsRequest()
			req.TimeoutMillis = 30000
			t := kmsg.NewCreateTopicsRequestTopic()
			t.Topic = topic
			t.NumPartitions = parts
			t.ReplicationFactor = 1
			req.Topics = append(req.Topics, t)
			return req
		},
	}
}

func metadataReq(c *Ctx, autoCreate bool, names ...string) *kmsg.MetadataRequest {
	req := kmsg.NewPtrMetadataRequest()
	req.AllowAutoTopicCreation = autoCreate
	for _, n := range names {
		t := kmsg.NewMetadataRequestTopic()
		t.Topic = kmsg.StringPtr(c.T(n))
		req.Topics = append(req.Topics, t)
	}
	return req
}

// waitTopic waits (not compared) until the topic has parts partitions, each
// with a leader: Kafka's broker learns of a created topic asynchronously.
func waitTopic(name string, parts int) Step {
	return Step{
		Name:      "wait for " + name,
		NoCompare: true,
		Req:       func(c *Ctx) kmsg.Request { return metadataReq(c, false, name) },
		Until: func(r kmsg.Response) bool {
			m := r.(*kmsg.MetadataResponse)
			if len(m.Topics) != 1 || m.Topics[0].ErrorCode != 0 || len(m.Topics[0].Partitions) != parts {
				return false
			}
			for _, p := range m.Topics[0].Partitions {
				if p.ErrorCode != 0 || p.Leader < 0 {
					return false
				}
			}
			return true
		},
		Then: func(c *Ctx, r kmsg.Response) {
			m := r.(*kmsg.MetadataResponse)
			if len(m.Topics) == 1 {
				c.b.noteTopicID(m.Topics[0].TopicID, name)
				c.Vars["id:"+name] = m.Topics[0].TopicID
			}
		},
	}
}

// waitGone waits (not compared) until Metadata no longer knows the topic.
func waitGone(name string) Step {
	return Step{
		Name:      "wait until " + name + " is gone",
		NoCompare: true,
		Req:       func(c *Ctx) kmsg.Request { return metadataReq(c, false, name) },
		Until: func(r kmsg.Response) bool {
			m := r.(*kmsg.MetadataResponse)
			return len(m.Topics) == 1 && m.Topics[0].ErrorCode == kerr.UnknownTopicOrPartition.Code
		},
		Then: func(c *Ctx, _ kmsg.Response) { delete(c.Vars, "id:"+name) },
	}
}

// waitPartitions waits (not compared) until ListOffsets answers without
// error for partitions 0..parts-1: Kafka's metadata cache may show a leader a
// moment before the partition serves requests (NOT_LEADER_OR_FOLLOWER).
func waitPartitions(name string, parts int) Step {
	return Step{
		Name:      "wait for the partitions of " + name,
		NoCompare: true,
		Req: func(c *Ctx) kmsg.Request {
			req := kmsg.NewPtrListOffsetsRequest()
			req.ReplicaID = -1
			t := kmsg.NewListOffsetsRequestTopic()
			t.Topic = c.T(name)
			for i := 0; i < parts; i++ {
				p := kmsg.NewListOffsetsRequestTopicPartition()
				p.Partition = int32(i)
				p.Timestamp = latest
				p.CurrentLeaderEpoch = -1
				t.Partitions = append(t.Partitions, p)
			}
			req.Topics = append(req.Topics, t)
			return req
		},
		Until: func(r kmsg.Response) bool {
			resp := r.(*kmsg.ListOffsetsResponse)
			n := 0
			for _, t := range resp.Topics {
				for _, p := range t.Partitions {
					if p.ErrorCode != 0 {
						return false
					}
					n++
				}
			}
			return n == parts
		},
	}
}

// newTopic creates a topic (replication factor 1) and waits until it serves.
func newTopic(name string, parts int32, cfgs ...cfg) []Step {
	return []Step{createTopic(name, parts, 1, cfgs...), waitTopic(name, int(parts)), waitPartitions(name, int(parts))}
}

// id is the topic id of a case topic on this broker (cached; zero if the
// topic does not exist).
func (c *Ctx) id(name string) [16]byte {
	if id, ok := c.Vars["id:"+name].([16]byte); ok {
		return id
	}
	id := c.TopicID(name)
	if id != ([16]byte{}) {
		c.Vars["id:"+name] = id
	}
	return id
}

func metadata(label string, autoCreate bool, names ...string) Step {
	return Step{
		Name: "metadata " + label,
		Req:  func(c *Ctx) kmsg.Request { return metadataReq(c, autoCreate, names...) },
	}
}

func deleteTopics(names ...string) Step {
	return Step{
		Name: fmt.Sprintf("delete %v", names),
		Req: func(c *Ctx) kmsg.Request {
			req := kmsg.NewPtrDeleteTopicsRequest()
			req.TimeoutMillis = 30000
			for _, n := range names {
				req.TopicNames = append(req.TopicNames, c.T(n))
				t := kmsg.NewDeleteTopicsRequestTopic()
				t.Topic = kmsg.StringPtr(c.T(n))
				req.Topics = append(req.Topics, t)
			}
			return req
		},
	}
}

func describeConfigs(names ...string) Step {
	return Step{
		Name: fmt.Sprintf("describe configs %v", names),
		Req: func(c *Ctx) kmsg.Request {
			req := kmsg.NewPtrDescribeConfigsRequest()
			for _, n := range names {
				r := kmsg.NewDescribeConfigsRequestResource()
				r.ResourceType = kmsg.ConfigResourceTypeTopic
				r.ResourceName = c.T(n)
				req.Resources = append(req.Resources, r)
			}
			return req
		},
	}
}

// --- produce, fetch, list offsets ------------------------------------------------

func produceReq(c *Ctx, name string, partition int32, acks int16, batches ...batchSpec) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Acks = acks
	req.TimeoutMillis = 10000
	t := kmsg.NewProduceRequestTopic()
	t.Topic = c.T(name)
	t.TopicID = c.id(name)
	p := kmsg.NewProduceRequestTopicPartition()
	p.Partition = partition
	for _, b := range batches {
		p.Records = append(p.Records, encodeBatch(b)...)
	}
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	return req
}

// produce sends batches to one partition with acks=-1.
func produce(label, name string, partition int32, batches ...batchSpec) Step {
	return produceAcks(label, name, partition, -1, batches...)
}

func produceAcks(label, name string, partition int32, acks int16, batches ...batchSpec) Step {
	return Step{
		Name: "produce " + label,
		Req:  func(c *Ctx) kmsg.Request { return produceReq(c, name, partition, acks, batches...) },
	}
}

// produceIdem produces an idempotent batch with the producer id and epoch
// captured by initProducerID.
func produceIdem(label, name string, seq int32, recs ...rec) Step {
	return Step{
		Name: "produce " + label,
		Req: func(c *Ctx) kmsg.Request {
			return produceReq(c, name, 0, -1, idem(c.I64("pid"), c.I16("epoch"), seq, recs...))
		},
	}
}

func fetchReq(c *Ctx, name string, partition int32, offset int64, partMaxBytes int32, maxWait int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = maxWait
	req.MinBytes = 1
	req.MaxBytes = 50 << 20
	req.SessionID = 0
	req.SessionEpoch = -1
	t := kmsg.NewFetchRequestTopic()
	t.Topic = c.T(name)
	t.TopicID = c.id(name)
	p := kmsg.NewFetchRequestTopicPartition()
	p.Partition = partition
	p.FetchOffset = offset
	p.LogStartOffset = -1
	p.PartitionMaxBytes = partMaxBytes
	p.CurrentLeaderEpoch = -1
	p.LastFetchedEpoch = -1
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	return req
}

// fetch fetches one partition from offset (max wait 100 ms, 1 MiB).
func fetch(label, name string, partition int32, offset int64) Step {
	return Step{
		Name: "fetch " + label,
		Req:  func(c *Ctx) kmsg.Request { return fetchReq(c, name, partition, offset, 1<<20, 100) },
	}
}

// fetchMax fetches with a partition max bytes limit.
func fetchMax(label, name string, partition int32, offset int64, maxBytes int32) Step {
	return Step{
		Name: "fetch " + label,
		Req:  func(c *Ctx) kmsg.Request { return fetchReq(c, name, partition, offset, maxBytes, 100) },
	}
}

// Special ListOffsets timestamps.
const (
	latest        int64 = -1
	earliest      int64 = -2
	maxTimestamp  int64 = -3
	earliestLocal int64 = -4
)

func listOffsets(label, name string, partition int32, ts int64) Step {
	return Step{
		Name: "list offsets " + label,
		Req: func(c *Ctx) kmsg.Request {
			req := kmsg.NewPtrListOffsetsRequest()
			req.ReplicaID = -1
			req.TimeoutMillis = 10000
			t := kmsg.NewListOffsetsRequestTopic()
			t.Topic = c.T(name)
			p := kmsg.NewListOffsetsRequestTopicPartition()
			p.Partition = partition
			p.Timestamp = ts
			p.CurrentLeaderEpoch = -1
			p.MaxNumOffsets = 1
			t.Partitions = append(t.Partitions, p)
			req.Topics = append(req.Topics, t)
			return req
		},
	}
}

// --- producer ids, cluster ------------------------------------------------------

// initProducerID asks for a producer id (no transactional id) and captures
// it as "pid"/"epoch".
func initProducerID() Step {
	return Step{
		Name: "init producer id",
		Req: func(c *Ctx) kmsg.Request {
			req := kmsg.NewPtrInitProducerIDRequest()
			req.TransactionTimeoutMillis = 60000
			req.ProducerID = -1
			req.ProducerEpoch = -1
			return req
		},
		Then: func(c *Ctx, r kmsg.Response) {
			resp := r.(*kmsg.InitProducerIDResponse)
			c.Vars["pid"] = resp.ProducerID
			c.Vars["epoch"] = resp.ProducerEpoch
		},
	}
}

func describeCluster() Step {
	return Step{
		Name: "describe cluster",
		Req:  func(c *Ctx) kmsg.Request { return kmsg.NewPtrDescribeClusterRequest() },
	}
}

// raw is a step with a hand-built request.
func raw(label string, build func(c *Ctx) kmsg.Request) Step {
	return Step{Name: label, Req: build}
}

// pinned returns the step with its request version pinned.
func pinned(s Step, version int16) Step {
	s.Version = v(version)
	s.Name = fmt.Sprintf("%s (v%d)", s.Name, version)
	return s
}

// steps flattens Steps and []Steps into one slice.
func steps(items ...any) []Step {
	var out []Step
	for _, it := range items {
		switch x := it.(type) {
		case Step:
			out = append(out, x)
		case []Step:
			out = append(out, x...)
		default:
			panic(fmt.Sprintf("steps: %T", it))
		}
	}
	return out
}
