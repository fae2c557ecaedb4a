package diff

import (
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// cases is the table of scripted request sequences. To add a case, append a
// Case{Name, Steps}; build steps with the helpers in steps_test.go (or raw()
// for a hand-built request). Topic names are case-local.
var cases = []Case{
	{Name: "produce-fetch-empty-topic", Steps: steps(
		newTopic("t", 1),
		fetch("empty at 0", "t", 0, 0),
		listOffsets("earliest empty", "t", 0, earliest),
		listOffsets("latest empty", "t", 0, latest),
		produce("3 records", "t", 0, plain(baseTS, kv("k0", "v0"), kv("k1", "v1"), kv("k2", "v2"))),
		produce("2 more", "t", 0, plain(baseTS+10, kv("k3", "v3"), kv("<nil>", "<nil>"))),
		fetch("from 0", "t", 0, 0),
		fetch("from 1 (mid-batch)", "t", 0, 1),
		fetch("from 3", "t", 0, 3),
		listOffsets("latest", "t", 0, latest),
	)},

	{Name: "produce-fetch-by-name-versions", Steps: steps(
		newTopic("t", 1),
		pinned(produce("v12 by name", "t", 0, plain(baseTS, kv("a", "1"))), 12),
		pinned(produce("v3", "t", 0, plain(baseTS, kv("b", "2"))), 3),
		pinned(fetch("v12 by name", "t", 0, 0), 12),
		pinned(fetch("v4", "t", 0, 0), 4),
		pinned(fetch("v11", "t", 0, 1), 11),
		pinned(listOffsets("v1 latest", "t", 0, latest), 1),
		pinned(listOffsets("v4 latest", "t", 0, latest), 4),
	)},

	{Name: "headers-and-null-key-value", Steps: steps(
		newTopic("t", 1),
		produce("headers", "t", 0, plain(baseTS,
			rec{key: []byte("k"), value: []byte("v"), headers: []kmsg.Header{{Key: "h1", Value: []byte("x")}, {Key: "h2", Value: nil}}},
			rec{key: nil, value: []byte("only value"), tsDelta: 5},
			rec{key: []byte("only key"), value: nil, tsDelta: 3},
		)),
		fetch("all", "t", 0, 0),
		listOffsets("max timestamp", "t", 0, maxTimestamp),
	)},

	{Name: "fetch-offset-out-of-range", Steps: steps(
		newTopic("t", 1),
		produce("3 records", "t", 0, plain(baseTS, kv("a", "1"), kv("b", "2"), kv("c", "3"))),
		fetch("above end (10)", "t", 0, 10),
		fetch("end+1 (4)", "t", 0, 4),
		fetch("below start (-1)", "t", 0, -1),
		fetch("far below start", "t", 0, -1000),
	)},

	{Name: "fetch-at-high-watermark", Steps: steps(
		newTopic("t", 1),
		produce("2 records", "t", 0, plain(baseTS, kv("a", "1"), kv("b", "2"))),
		fetch("at HW (2)", "t", 0, 2),
		fetch("from 0", "t", 0, 0),
	)},

	{Name: "fetch-partition-max-bytes", Steps: steps(
		newTopic("t", 1),
		produce("batch 1", "t", 0, plain(baseTS, kv("a", strings.Repeat("x", 200)), kv("b", strings.Repeat("y", 200)))),
		produce("batch 2", "t", 0, plain(baseTS, kv("c", strings.Repeat("z", 200)))),
		fetchMax("max 10 bytes (first batch is still returned whole)", "t", 0, 0, 10),
		fetchMax("max 500 bytes (1 whole batch; the 2nd may come partial)", "t", 0, 0, 500),
	)},

	{Name: "unknown-topic", Steps: steps(
		produceAcks("acks=1", "missing", 0, 1, plain(baseTS, kv("a", "1"))),
		produce("acks=-1", "missing", 0, plain(baseTS, kv("a", "1"))),
		pinned(produceAcks("by name", "missing", 0, 1, plain(baseTS, kv("a", "1"))), 12),
		fetch("by id", "missing", 0, 0),
		pinned(fetch("by name", "missing", 0, 0), 12),
		listOffsets("latest", "missing", 0, latest),
		describeConfigs("missing"),
		deleteTopics("missing"),
		metadata("no auto-create", false, "missing"),
	)},

	{Name: "create-duplicate", Steps: steps(
		newTopic("t", 2),
		createTopic("t", 2, 1),
		createTopic("t", 5, 1),
		createValidateOnly("t", 1, 1),
	)},

	{Name: "create-invalid-replication-factor", Steps: steps(
		createTopic("rf3", 1, 3),
		createTopic("rf0", 1, 0),
		createTopic("rf-2", 1, -2),
		metadata("after", false, "rf3"),
	)},

	{Name: "create-invalid-partitions", Steps: steps(
		createTopic("p0", 0, 1),
		createTopic("p-2", -2, 1),
		metadata("after", false, "p0"),
	)},

	{Name: "create-defaults", Steps: steps(
		createTopic("d", -1, -1),
		waitTopic("d", 1),
		metadata("created with defaults", false, "d"),
	)},

	{Name: "create-bad-config", Steps: steps(
		createTopic("unknown-name", 1, 1, cfg{"no.such.config", "1"}),
		createTopic("bad-policy", 1, 1, cfg{"cleanup.policy", "bogus"}),
		createTopic("bad-number", 1, 1, cfg{"retention.ms", "abc"}),
		createTopic("bad-range", 1, 1, cfg{"min.insync.replicas", "0"}),
		createTopic("bad-ts-type", 1, 1, cfg{"message.timestamp.type", "Whenever"}),
		createTopic("bad-compression", 1, 1, cfg{"compression.type", "brotli"}),
		metadata("after", false, "unknown-name", "bad-policy"),
	)},

	{Name: "create-bad-name", Steps: steps(
		createRaw("empty name", "", 1),
		createRaw("'.'", ".", 1),
		createRaw("'..'", "..", 1),
		createRaw("slash", "bad/name", 1),
		createRaw("space", "bad name", 1),
		createRaw("250 chars", strings.Repeat("n", 250), 1),
		createRaw("unicode", "tøpic", 1),
	)},

	{Name: "create-validate-only", Steps: steps(
		createValidateOnly("v", 3, 1, cfg{"retention.ms", "1000"}),
		createValidateOnly("bad", 0, 1),
		metadata("not created", false, "v"),
	)},

	{Name: "create-with-configs", Steps: steps(
		createTopic("c", 3, 1, cfg{"retention.ms", "12345"}, cfg{"cleanup.policy", "compact"}, cfg{"max.message.bytes", "2000"}),
		waitTopic("c", 3),
		describeConfigs("c"),
	)},

	{Name: "describe-configs-default-topic", Steps: steps(
		newTopic("t", 1),
		describeConfigs("t"),
		raw("describe configs (synonyms, docs)", func(c *Ctx) kmsg.Request {
			req := kmsg.NewPtrDescribeConfigsRequest()
			req.IncludeSynonyms = true
			req.IncludeDocumentation = true
			r := kmsg.NewDescribeConfigsRequestResource()
			r.ResourceType = kmsg.ConfigResourceTypeTopic
			r.ResourceName = c.T("t")
			r.ConfigNames = []string{"retention.ms", "cleanup.policy", "segment.bytes"}
			req.Resources = append(req.Resources, r)
			return req
		}),
	)},

	{Name: "delete-recreate-list-offsets", Steps: steps(
		newTopic("t", 1),
		produce("5 records", "t", 0, plain(baseTS, kv("a", "1"), kv("b", "2"), kv("c", "3"), kv("d", "4"), kv("e", "5"))),
		listOffsets("latest before delete", "t", 0, latest),
		deleteTopics("t"),
		waitGone("t"),
		deleteTopics("t"),
		createTopic("t", 1, 1),
		waitTopic("t", 1),
		listOffsets("latest after recreate", "t", 0, latest),
		listOffsets("earliest after recreate", "t", 0, earliest),
		fetch("after recreate", "t", 0, 0),
	)},

	{Name: "invalid-partition-numbers", Steps: steps(
		newTopic("t", 2),
		produce("partition 99", "t", 99, plain(baseTS, kv("a", "1"))),
		produce("partition -1", "t", -1, plain(baseTS, kv("a", "1"))),
		produce("partition 2 (= count)", "t", 2, plain(baseTS, kv("a", "1"))),
		fetch("partition 99", "t", 99, 0),
		fetch("partition -1", "t", -1, 0),
		listOffsets("partition 99", "t", 99, latest),
		listOffsets("partition -1", "t", -1, latest),
	)},

	{Name: "list-offsets-timestamps", Steps: steps(
		newTopic("t", 1),
		produce("ts 1000", "t", 0, plain(baseTS+1000, kv("a", "1"), rec{key: []byte("b"), value: []byte("2"), tsDelta: 10})),
		produce("ts 2000", "t", 0, plain(baseTS+2000, kv("c", "3"))),
		produce("ts 1500 (out of order)", "t", 0, plain(baseTS+1500, kv("d", "4"))),
		produce("ts 3000", "t", 0, plain(baseTS+3000, kv("e", "5"))),
		listOffsets("earliest", "t", 0, earliest),
		listOffsets("latest", "t", 0, latest),
		listOffsets("max timestamp", "t", 0, maxTimestamp),
		listOffsets("earliest local", "t", 0, earliestLocal),
		listOffsets("by ts before all", "t", 0, baseTS),
		listOffsets("by ts = first", "t", 0, baseTS+1000),
		listOffsets("by ts inside first batch", "t", 0, baseTS+1005),
		listOffsets("by ts 1500", "t", 0, baseTS+1500),
		listOffsets("by ts 1600", "t", 0, baseTS+1600),
		listOffsets("by ts after all", "t", 0, baseTS+9999),
		pinned(listOffsets("v1 by ts 1600", "t", 0, baseTS+1600), 1),
	)},

	{Name: "list-offsets-empty-topic", Steps: steps(
		newTopic("t", 1),
		listOffsets("max timestamp", "t", 0, maxTimestamp),
		listOffsets("by ts", "t", 0, baseTS),
		listOffsets("earliest local", "t", 0, earliestLocal),
	)},

	{Name: "metadata-missing-topic", Steps: steps(
		metadata("no auto-create", false, "m"),
		metadata("still missing", false, "m"),
	)},

	{Name: "metadata-auto-create", Steps: steps(
		metadata("auto-create", true, "a"),
		waitTopic("a", 1),
		metadata("after auto-create", false, "a"),
		metadata("auto-create invalid name", true, "bad/name"),
	)},

	{Name: "init-producer-id", Steps: steps(
		initProducerID(),
		initProducerID(),
	)},

	{Name: "idempotent-produce", Steps: steps(
		newTopic("t", 1),
		initProducerID(),
		produceIdem("seq 0 (3 records)", "t", 0, kv("a", "1"), kv("b", "2"), kv("c", "3")),
		produceIdem("seq 0 again (duplicate)", "t", 0, kv("a", "1"), kv("b", "2"), kv("c", "3")),
		produceIdem("seq 3", "t", 3, kv("d", "4")),
		produceIdem("seq 10 (gap: out of order)", "t", 10, kv("x", "x")),
		produceIdem("seq 3 again (duplicate of the last batch)", "t", 3, kv("d", "4")),
		produceIdem("seq 4", "t", 4, kv("e", "5")),
		fetch("all", "t", 0, 0),
		raw("produce with unknown producer id, seq 5", func(c *Ctx) kmsg.Request {
			return produceReq(c, "t", 0, -1, idem(c.I64("pid")+1000, 0, 5, kv("u", "u")))
		}),
		raw("produce with an older epoch", func(c *Ctx) kmsg.Request {
			return produceReq(c, "t", 0, -1, idem(c.I64("pid"), c.I16("epoch")-1, 5, kv("o", "o")))
		}),
		listOffsets("latest", "t", 0, latest),
	)},

	{Name: "produce-invalid-acks", Steps: steps(
		newTopic("t", 1),
		produceAcks("acks=2", "t", 0, 2, plain(baseTS, kv("a", "1"))),
		produceAcks("acks=-2", "t", 0, -2, plain(baseTS, kv("a", "1"))),
		listOffsets("latest", "t", 0, latest),
	)},

	{Name: "produce-message-too-large", Steps: steps(
		newTopic("t", 1, cfg{"max.message.bytes", "1000"}),
		produce("900-byte batch", "t", 0, plain(baseTS, kv("k", strings.Repeat("v", 800)))),
		produce("1100-byte batch", "t", 0, plain(baseTS, kv("k", strings.Repeat("v", 1100)))),
		listOffsets("latest", "t", 0, latest),
	)},

	{Name: "produce-compressed-gzip", Steps: steps(
		newTopic("t", 1),
		produce("gzip batch", "t", 0, gzipped(plain(baseTS, kv("a", "1"), kv("b", "2"), kv("c", "3")))),
		produce("plain batch", "t", 0, plain(baseTS, kv("d", "4"))),
		fetch("all", "t", 0, 0),
		fetch("from 2 (inside the gzip batch)", "t", 0, 2),
		listOffsets("latest", "t", 0, latest),
	)},

	{Name: "produce-corrupt-crc", Steps: steps(
		newTopic("t", 1),
		raw("produce batch with a bad CRC", func(c *Ctx) kmsg.Request {
			req := produceReq(c, "t", 0, -1, plain(baseTS, kv("a", "1")))
			req.Topics[0].Partitions[0].Records[20] ^= 0xff
			return req
		}),
		raw("produce batch with a bad length", func(c *Ctx) kmsg.Request {
			req := produceReq(c, "t", 0, -1, plain(baseTS, kv("a", "1")))
			req.Topics[0].Partitions[0].Records[11]++
			return req
		}),
		listOffsets("latest", "t", 0, latest),
	)},

	{Name: "produce-timestamps", Steps: steps(
		newTopic("t", 1),
		newTopic("lat", 1, cfg{"message.timestamp.type", "LogAppendTime"}),
		raw("produce 2 h in the future", func(c *Ctx) kmsg.Request {
			return produceReq(c, "t", 0, -1, plain(time.Now().Add(2*time.Hour).UnixMilli(), kv("a", "1")))
		}),
		produce("to a LogAppendTime topic", "lat", 0, plain(baseTS, kv("a", "1"), kv("b", "2"))),
		fetch("LogAppendTime topic", "lat", 0, 0),
		listOffsets("latest", "t", 0, latest),
	)},

	{Name: "metadata-empty-topic-list", Steps: steps(
		raw("metadata with an empty (non-null) topic list", func(c *Ctx) kmsg.Request {
			req := kmsg.NewPtrMetadataRequest()
			req.Topics = []kmsg.MetadataRequestTopic{}
			return req
		}),
	)},

	{Name: "delete-by-topic-id", Steps: steps(
		newTopic("t", 1),
		raw("delete by topic id", func(c *Ctx) kmsg.Request {
			req := kmsg.NewPtrDeleteTopicsRequest()
			req.TimeoutMillis = 30000
			t := kmsg.NewDeleteTopicsRequestTopic()
			t.TopicID = c.id("t")
			req.Topics = append(req.Topics, t)
			return req
		}),
		raw("delete by unknown topic id", func(c *Ctx) kmsg.Request {
			req := kmsg.NewPtrDeleteTopicsRequest()
			req.TimeoutMillis = 30000
			t := kmsg.NewDeleteTopicsRequestTopic()
			t.TopicID = [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
			req.Topics = append(req.Topics, t)
			return req
		}),
		waitGone("t"),
		metadata("after", false, "t"),
	)},

	{Name: "create-replica-assignment", Steps: steps(
		raw("create with assignment [[1],[1]]", func(c *Ctx) kmsg.Request {
			return createAssigned(c, "ok", [][]int32{{1}, {1}})
		}),
		raw("create with assignment to broker 2", func(c *Ctx) kmsg.Request {
			return createAssigned(c, "bad-broker", [][]int32{{2}})
		}),
		raw("create with assignment [[1,1]] (duplicate replica)", func(c *Ctx) kmsg.Request {
			return createAssigned(c, "dup", [][]int32{{1, 1}})
		}),
		waitTopic("ok", 2),
		metadata("after", false, "ok", "bad-broker"),
	)},

	{Name: "api-versions", Steps: steps(
		apiVersions("valid client software", "chronik-diff", "1.0.0"),
		apiVersions("empty client software name", "", ""),
		apiVersions("invalid client software name", "-bad name-", "1.0"),
		pinned(apiVersions("v0", "", ""), 0),
	)},

	{Name: "describe-cluster", Steps: steps(
		describeCluster(),
	)},

	{Name: "delete-records", Steps: steps(
		newTopic("t", 1),
		produce("5 records", "t", 0, plain(baseTS, kv("a", "1"), kv("b", "2"), kv("c", "3"), kv("d", "4"), kv("e", "5"))),
		deleteRecords("before 2", "t", 0, 2),
		listOffsets("earliest", "t", 0, earliest),
		fetch("below log start (0)", "t", 0, 0),
		fetch("at log start (2)", "t", 0, 2),
		deleteRecords("before 10 (beyond HW)", "t", 0, 10),
		deleteRecords("up to HW (-1)", "t", 0, -1),
		listOffsets("earliest after truncating to HW", "t", 0, earliest),
	)},

	{Name: "create-partitions", Steps: steps(
		newTopic("t", 1),
		createPartitions("to 3", "t", 3, false),
		waitTopic("t", 3),
		createPartitions("to 2 (decrease)", "t", 2, false),
		createPartitions("to 3 (same)", "t", 3, false),
		createPartitions("validate-only to 5", "t", 5, true),
		createPartitions("missing topic", "missing", 2, false),
		metadata("after", false, "t"),
		produce("to new partition 2", "t", 2, plain(baseTS, kv("a", "1"))),
	)},

	{Name: "alter-configs", Steps: steps(
		newTopic("t", 1),
		incrementalAlterConfigs("set retention.ms", "t", kmsg.IncrementalAlterConfigOpSet, "retention.ms", "5000"),
		describeConfigsUntil("t", "retention.ms", "5000"),
		incrementalAlterConfigs("set unknown config", "t", kmsg.IncrementalAlterConfigOpSet, "no.such.config", "1"),
		incrementalAlterConfigs("delete retention.ms", "t", kmsg.IncrementalAlterConfigOpDelete, "retention.ms", ""),
		describeConfigsUntil("t", "retention.ms", "604800000"),
	)},
}

// describeConfigsUntil describes a topic's configs, re-asking (up to 5 s)
// until config has value: Kafka applies config changes through its
// controller, so a broker's answer lags the AlterConfigs response.
func describeConfigsUntil(name, config, value string) Step {
	s := describeConfigs(name)
	s.Name += " (until " + config + "=" + value + ")"
	s.WaitMax = 5 * time.Second
	s.Until = func(r kmsg.Response) bool {
		for _, res := range r.(*kmsg.DescribeConfigsResponse).Resources {
			for _, c := range res.Configs {
				if c.Name == config {
					return c.Value != nil && *c.Value == value
				}
			}
		}
		return false
	}
	return s
}

func deleteRecords(label, name string, partition int32, offset int64) Step {
	return raw("delete records "+label, func(c *Ctx) kmsg.Request {
		req := kmsg.NewPtrDeleteRecordsRequest()
		req.TimeoutMillis = 10000
		t := kmsg.NewDeleteRecordsRequestTopic()
		t.Topic = c.T(name)
		p := kmsg.NewDeleteRecordsRequestTopicPartition()
		p.Partition = partition
		p.Offset = offset
		t.Partitions = append(t.Partitions, p)
		req.Topics = append(req.Topics, t)
		return req
	})
}

func createPartitions(label, name string, count int32, validateOnly bool) Step {
	return raw("create partitions "+label, func(c *Ctx) kmsg.Request {
		req := kmsg.NewPtrCreatePartitionsRequest()
		req.TimeoutMillis = 10000
		req.ValidateOnly = validateOnly
		t := kmsg.NewCreatePartitionsRequestTopic()
		t.Topic = c.T(name)
		t.Count = count
		req.Topics = append(req.Topics, t)
		return req
	})
}

func incrementalAlterConfigs(label, name string, op kmsg.IncrementalAlterConfigOp, key, value string) Step {
	return raw("incremental alter configs "+label, func(c *Ctx) kmsg.Request {
		req := kmsg.NewPtrIncrementalAlterConfigsRequest()
		r := kmsg.NewIncrementalAlterConfigsRequestResource()
		r.ResourceType = kmsg.ConfigResourceTypeTopic
		r.ResourceName = c.T(name)
		cf := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		cf.Name = key
		cf.Op = op
		if value != "" {
			cf.Value = kmsg.StringPtr(value)
		}
		r.Configs = append(r.Configs, cf)
		req.Resources = append(req.Resources, r)
		return req
	})
}

// apiVersions compares the error code and the top-level fields, not the
// version ranges (which differ by design: Chronik implements a subset).
func apiVersions(label, name, version string) Step {
	s := raw("api versions "+label, func(c *Ctx) kmsg.Request {
		req := kmsg.NewPtrApiVersionsRequest()
		req.ClientSoftwareName = name
		req.ClientSoftwareVersion = version
		return req
	})
	s.Ignore = []string{"ApiKeys*", "SupportedFeatures*", "FinalizedFeatures*", "FinalizedFeaturesEpoch", "ZkMigrationReady"}
	return s
}

// createAssigned creates a topic with an explicit replica assignment.
func createAssigned(c *Ctx, name string, assignment [][]int32) *kmsg.CreateTopicsRequest {
	req := createReq(c, name, -1, -1, false)
	for i, replicas := range assignment {
		a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		a.Partition = int32(i)
		a.Replicas = replicas
		req.Topics[0].ReplicaAssignment = append(req.Topics[0].ReplicaAssignment, a)
	}
	return req
}
