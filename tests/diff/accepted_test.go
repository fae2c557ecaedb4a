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
	{Case: "idempotent-produce", Step: "produce seq * again (duplicate*", Path: "*.Partitions[*].LogAppendTime", Chronik: "-1",
		Reason: "bug (minor, Kafka quirk): for a duplicate idempotent batch Kafka answers LogAppendTime = the batch's " +
			"max timestamp even on a CreateTime topic; Chronik answers -1. franz-go then stamps the records with that " +
			"time, which is their own timestamp anyway"},
	{Case: "describe-configs-default-topic", Step: "describe configs (synonyms, docs)", Path: "*Configs[retention.ms].ConfigSynonyms",
		Reason: "bug (minor): with include_synonyms Chronik lists log.retention.hours=168 (DEFAULT_CONFIG) as a synonym " +
			"of retention.ms; Kafka lists none (it lists broker defaults only for configs whose broker synonym is " +
			"defined with a default, e.g. log.cleanup.policy, log.segment.bytes)"},
}
