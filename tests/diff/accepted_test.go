package diff

// accepted lists the known differences between Kafka and Chronik that do not
// fail a case, each with its reason. Case, Step and Path are glob patterns
// ('*' matches anything) against the case name, the step name and the
// reported path (as printed on a DIFF line).
//
//   - WhileMissing, if set, names an API (kmsg name, e.g. "DeleteRecords"):
//     the entry applies only while Chronik does not advertise that API, so
//     an implementation, once it lands, is compared in full.
//   - Kafka, Chronik, if set, are glob patterns the two printed values must
//     match too (e.g. Kafka "[]", Chronik "null").
//   - MinKafka, if set (e.g. "4.2"), applies the entry only when the Kafka
//     under comparison (CHRONIK_DIFF_KAFKA_VERSION) is that release or newer.
//
// Reasons start with "design:" (a deliberate, harmless difference), "kafka:"
// (Kafka behaviour Chronik need not copy), "missing:" (not implemented yet)
// or "bug:" (a real Chronik difference, reported, to be fixed: delete the
// entry with the fix). An entry of a named case (no '*' in Case, no
// WhileMissing) that no longer matches anything is reported at the end of a
// run; WhileMissing entries switch themselves off and can be deleted once the
// API is in.
var accepted = []Accepted{
	// --- design ---------------------------------------------------------------
	{Case: "metadata-auto-create", Step: "metadata auto-create", Path: "Topics[{a}].*",
		Reason: "design: Kafka (KRaft) creates an auto-created topic asynchronously through the controller and answers " +
			"the triggering Metadata request with UNKNOWN_TOPIC_OR_PARTITION (seen on 4.1.2 and 4.4.0; ZooKeeper-era " +
			"brokers answered LEADER_NOT_AVAILABLE), no partitions and a zero topic id; Chronik creates it synchronously and answers with the ready topic. " +
			"Clients retry either way; the next Metadata matches."},
	{Case: "*", Path: "*Configs[min.insync.replicas].Source",
		Reason: "design: Kafka 4.x `storage format` writes a cluster-level min.insync.replicas (needed by ELR), so Kafka " +
			"reports the source as DYNAMIC_DEFAULT_BROKER_CONFIG (3); Chronik has no dynamic broker configs and reports " +
			"DEFAULT_CONFIG (5). Same value (1)."},
	{Case: "*", Path: "*ErrorMessage",
		Reason: "design: error message texts and whether one is sent at all are informational (Kafka sends \"\" on " +
			"DescribeConfigs success and null on most produce errors; Chronik the reverse); no client branches on them. " +
			"Error codes are compared."},

	// --- Kafka releases newer than Chronik's config model ---------------------
	{Case: "*", Path: "*Configs[errors.deadletterqueue.group.enable]", MinKafka: "4.2",
		Reason: "kafka: topic config added after 4.1 (Chronik models Kafka 4.1's topic configs)"},
	{Case: "*", Path: "*Configs[max.decompressed.message.bytes]", MinKafka: "4.2",
		Reason: "kafka: topic config added after 4.1 (Chronik models Kafka 4.1's topic configs)"},
	{Case: "*", Path: "*Configs[remote.copy.lag.bytes]", MinKafka: "4.2",
		Reason: "kafka: topic config added after 4.1 (Chronik models Kafka 4.1's topic configs)"},
	{Case: "*", Path: "*Configs[remote.copy.lag.ms]", MinKafka: "4.2",
		Reason: "kafka: topic config added after 4.1 (Chronik models Kafka 4.1's topic configs)"},

	// --- not implemented yet in Chronik -----------------------------------------
	{Case: "delete-records", WhileMissing: "DeleteRecords",
		Reason: "missing: DeleteRecords is not implemented yet (log start offset never advances)"},
	{Case: "create-partitions", WhileMissing: "CreatePartitions",
		Reason: "missing: CreatePartitions is not implemented yet"},
	{Case: "alter-configs", WhileMissing: "IncrementalAlterConfigs",
		Reason: "missing: IncrementalAlterConfigs is not implemented yet"},

	// --- bugs (reported; remove the entry with the fix) --------------------------
	{Case: "*", Path: "*.Partitions[*].AbortedTransactions", Kafka: "[]", Chronik: "null",
		Reason: "bug: Fetch answers an errored partition (unknown topic/partition) with null AbortedTransactions where " +
			"Kafka sends an empty array"},
	{Case: "create-*", Step: "create *", Path: "Topics[*].Configs", Kafka: "[]", Chronik: "null",
		Reason: "bug: CreateTopics (v5+) answers a failed topic with null Configs where Kafka sends an empty array"},
	// Kafka answers -1 for these three only in errored partitions (an empty
	// partition has HighWatermark 0), so the match on Kafka's -1 is narrow.
	{Case: "*", Step: "fetch *", Path: "*.Partitions[*].HighWatermark", Kafka: "-1",
		Reason: "bug: on OFFSET_OUT_OF_RANGE Kafka answers HighWatermark/LastStableOffset/LogStartOffset -1; Chronik " +
			"fills in the partition's real values"},
	{Case: "*", Step: "fetch *", Path: "*.Partitions[*].LastStableOffset", Kafka: "-1",
		Reason: "bug: on OFFSET_OUT_OF_RANGE Kafka answers -1 (see HighWatermark)"},
	{Case: "*", Step: "fetch *", Path: "*.Partitions[*].LogStartOffset", Kafka: "-1",
		Reason: "bug: on OFFSET_OUT_OF_RANGE Kafka answers -1 (see HighWatermark)"},
	{Case: "idempotent-produce", Step: "produce *", Path: "*.Partitions[*].LogStartOffset", Kafka: "0", Chronik: "-1",
		Reason: "bug: on OUT_OF_ORDER_SEQUENCE_NUMBER / INVALID_PRODUCER_EPOCH Kafka's produce response carries the " +
			"partition's log start offset (0); Chronik sends -1"},
	{Case: "idempotent-produce", Step: "produce seq * again (duplicate*", Path: "*.Partitions[*].LogAppendTime", Chronik: "-1",
		Reason: "bug (minor, Kafka quirk): for a duplicate idempotent batch Kafka answers LogAppendTime = the batch's " +
			"max timestamp even on a CreateTime topic; Chronik answers -1. franz-go then stamps the records with that " +
			"time, which is their own timestamp anyway"},
	{Case: "describe-configs-default-topic", Step: "describe configs (synonyms, docs)", Path: "*Configs[retention.ms].ConfigSynonyms",
		Reason: "bug (minor): with include_synonyms Chronik lists log.retention.hours=168 (DEFAULT_CONFIG) as a synonym " +
			"of retention.ms; Kafka lists none (it lists broker defaults only for configs whose broker synonym is " +
			"defined with a default, e.g. log.cleanup.policy, log.segment.bytes)"},
	{Case: "*", Path: "*Configs[message.downconversion.enable]",
		Reason: "bug: Chronik reports message.downconversion.enable (DEFAULT_CONFIG, true) in CreateTopics and " +
			"DescribeConfigs; Kafka 4.x removed that topic config (down-conversion is gone since 4.0) and does not report it"},
	{Case: "produce-timestamps", Step: "produce 2 h in the future",
		Reason: "bug: Chronik does not enforce message.timestamp.after.max.ms (default 3600000): a CreateTime batch 2 h " +
			"in the future is appended; Kafka rejects it with INVALID_TIMESTAMP (32), BaseOffset -1 and ErrorRecords " +
			"[{RelativeOffset 0, message}]"},
	{Case: "produce-timestamps", Step: "list offsets latest", Path: "*.Offset", Kafka: "0", Chronik: "1",
		Reason: "bug: follows from the accepted future-timestamp batch (see message.timestamp.after.max.ms)"},
	{Case: "produce-corrupt-crc", Step: "produce batch with a bad length", Path: "*.ErrorCode", Kafka: "87 INVALID_RECORD", Chronik: "2 CORRUPT_MESSAGE",
		Reason: "bug (minor): a batch whose length field disagrees with the records blob gets INVALID_RECORD (87) " +
			"from Kafka and CORRUPT_MESSAGE (2) from Chronik"},
}
