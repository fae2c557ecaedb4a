package meta

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// This file holds Kafka's topic and broker configs: one table each, with
// Kafka 4.1's names, types, defaults, validators and synonyms, and what is
// derived from them: validation (CreateTopics, AlterConfigs,
// IncrementalAlterConfigs), DescribeConfigs entries, and the typed values
// the log layer uses.

// ConfigSource is where a config value comes from; the values are Kafka's
// DescribeConfigs source codes (kmsg.ConfigSource).
type ConfigSource = kmsg.ConfigSource

// Config sources, as numbered on the wire.
const (
	ConfigSourceUnknown                    = kmsg.ConfigSourceUnknown                    // 0
	ConfigSourceDynamicTopicConfig         = kmsg.ConfigSourceDynamicTopicConfig         // 1: a topic override
	ConfigSourceDynamicBrokerConfig        = kmsg.ConfigSourceDynamicBrokerConfig        // 2
	ConfigSourceDynamicDefaultBrokerConfig = kmsg.ConfigSourceDynamicDefaultBrokerConfig // 3
	ConfigSourceStaticBrokerConfig         = kmsg.ConfigSourceStaticBrokerConfig         // 4: set by the operator
	ConfigSourceDefaultConfig              = kmsg.ConfigSourceDefaultConfig              // 5: Kafka's default
	ConfigSourceDynamicBrokerLoggerConfig  = kmsg.ConfigSourceDynamicBrokerLoggerConfig  // 6
)

// ConfigEntry is one config as DescribeConfigs reports it.
type ConfigEntry struct {
	Name  string
	Value string
	// IsNull is set when the value is null: no default and nothing set.
	IsNull    bool
	Source    ConfigSource
	ReadOnly  bool
	Sensitive bool // the broker must not send the value
	Type      kmsg.ConfigType
	Doc       string
	// Synonyms lists where the value could come from, highest priority
	// first: the topic override, then each broker synonym as set by the
	// operator and then as defaulted (Kafka's order).
	Synonyms []Synonym
}

// Synonym is one source of a config's value.
type Synonym struct {
	Name   string
	Value  string
	Source ConfigSource
}

// BrokerConfigs holds the broker's static config values (what the operator
// set), keyed by Kafka broker config names. Keys we don't know are ignored,
// as Kafka ignores unknown properties.
type BrokerConfigs map[string]string

// ConfigOpType is an IncrementalAlterConfigs operation (Kafka's codes).
type ConfigOpType = kmsg.IncrementalAlterConfigOp

// IncrementalAlterConfigs operations.
const (
	ConfigOpSet      = kmsg.IncrementalAlterConfigOpSet      // 0: set the override
	ConfigOpDelete   = kmsg.IncrementalAlterConfigOpDelete   // 1: remove the override
	ConfigOpAppend   = kmsg.IncrementalAlterConfigOpAppend   // 2: add to a LIST
	ConfigOpSubtract = kmsg.IncrementalAlterConfigOpSubtract // 3: remove from a LIST
)

// ConfigOp is one IncrementalAlterConfigs operation on a topic config.
type ConfigOp struct {
	Name  string
	Op    ConfigOpType
	Value string // for APPEND and SUBTRACT, a comma-separated list
}

// configDef is one row of a config table.
type configDef struct {
	name string
	typ  kmsg.ConfigType
	def  string // the default, in Kafka's string form
	null bool   // no default: the value is null unless set
	// valid checks the parsed value (int64, float64, bool, string or
	// []string by type); nil accepts any value of the type.
	valid func(name, raw string, v any) error
	// synonyms: for a topic config, the broker configs that supply its
	// value when the topic has no override, highest priority first. For a
	// broker config, lower-priority broker configs for the same setting
	// (log.roll.ms < log.roll.hours).
	synonyms  []synonymDef
	doc       string
	readOnly  bool
	sensitive bool
	internal  bool // accepted but not listed (Kafka's defineInternal)
}

// synonymDef names a broker config and how to convert its value to the
// unit of the config it stands in for.
type synonymDef struct {
	name  string
	scale int64 // multiply by this (hours or minutes to ms); 0 means 1
}

func syn(names ...string) []synonymDef {
	s := make([]synonymDef, len(names))
	for i, n := range names {
		s[i] = synonymDef{name: n}
	}
	return s
}

const (
	msPerMinute = 60 * 1000
	msPerHour   = 60 * msPerMinute
	maxLongStr  = "9223372036854775807" // Java's Long.MAX_VALUE, a common default
)

const (
	cleanupPolicyCompact = "compact"
	cleanupPolicyDelete  = "delete"
)

var compressionTypes = []string{"uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"}

// topicConfigDefs is Kafka 4.1's LogConfig. Two deliberate choices:
//   - message.downconversion.enable is kept: Kafka 4.x still accepts it as a
//     deprecated no-op (removal is planned for 5.0), so tools that set it
//     keep working. message.format.version and
//     message.timestamp.difference.max.ms were removed in 4.0 and are
//     rejected as unknown, as Kafka 4 does.
//   - remote.storage.enable=true is rejected, as Kafka does when tiered
//     storage is not enabled on the broker; we have none.
var topicConfigDefs = []configDef{
	{name: "cleanup.policy", typ: kmsg.ConfigTypeList, def: cleanupPolicyDelete, valid: listOf(cleanupPolicyCompact, cleanupPolicyDelete),
		synonyms: syn("log.cleanup.policy"),
		doc:      `"delete" discards old segments past the retention limits; "compact" keeps the latest record per key; both may be given.`},
	{name: "compression.gzip.level", typ: kmsg.ConfigTypeInt, def: "-1", valid: gzipLevel, synonyms: syn("compression.gzip.level"),
		doc: "The compression level to use when compression.type is gzip."},
	{name: "compression.lz4.level", typ: kmsg.ConfigTypeInt, def: "9", valid: between(1, 17), synonyms: syn("compression.lz4.level"),
		doc: "The compression level to use when compression.type is lz4."},
	{name: "compression.type", typ: kmsg.ConfigTypeString, def: "producer", valid: oneOf(compressionTypes...), synonyms: syn("compression.type"),
		doc: `The final compression of the topic's batches: a codec, "uncompressed", or "producer" to keep the producer's codec.`},
	{name: "compression.zstd.level", typ: kmsg.ConfigTypeInt, def: "3", valid: between(-131072, 22), synonyms: syn("compression.zstd.level"),
		doc: "The compression level to use when compression.type is zstd."},
	{name: "delete.retention.ms", typ: kmsg.ConfigTypeLong, def: "86400000", valid: atLeast(0), synonyms: syn("log.cleaner.delete.retention.ms"),
		doc: "How long delete tombstones are kept in a compacted topic."},
	{name: "file.delete.delay.ms", typ: kmsg.ConfigTypeLong, def: "60000", valid: atLeast(0), synonyms: syn("log.segment.delete.delay.ms"),
		doc: "How long to wait before deleting a file from the filesystem."},
	{name: "flush.messages", typ: kmsg.ConfigTypeLong, def: maxLongStr, valid: atLeast(1), synonyms: syn("log.flush.interval.messages"),
		doc: "Force an fsync after this many messages."},
	{name: "flush.ms", typ: kmsg.ConfigTypeLong, def: maxLongStr, valid: atLeast(0),
		synonyms: syn("log.flush.interval.ms", "log.flush.scheduler.interval.ms"),
		doc:      "Force an fsync after a message has waited this long."},
	{name: "follower.replication.throttled.replicas", typ: kmsg.ConfigTypeList, def: "", valid: throttledReplicas,
		doc: "Replicas whose log replication is throttled on the follower side: [partitionId]:[brokerId],... or '*'."},
	{name: "index.interval.bytes", typ: kmsg.ConfigTypeInt, def: "4096", valid: atLeast(0), synonyms: syn("log.index.interval.bytes"),
		doc: "How many bytes of batches between two offset index entries."},
	{name: "leader.replication.throttled.replicas", typ: kmsg.ConfigTypeList, def: "", valid: throttledReplicas,
		doc: "Replicas whose log replication is throttled on the leader side: [partitionId]:[brokerId],... or '*'."},
	{name: "local.retention.bytes", typ: kmsg.ConfigTypeLong, def: "-2", valid: atLeast(-2), synonyms: syn("log.local.retention.bytes"),
		doc: "Local size limit of a partition with tiered storage; -2 means retention.bytes."},
	{name: "local.retention.ms", typ: kmsg.ConfigTypeLong, def: "-2", valid: atLeast(-2), synonyms: syn("log.local.retention.ms"),
		doc: "Local time limit of a segment with tiered storage; -2 means retention.ms."},
	{name: "max.compaction.lag.ms", typ: kmsg.ConfigTypeLong, def: maxLongStr, valid: atLeast(1), synonyms: syn("log.cleaner.max.compaction.lag.ms"),
		doc: "The longest a message stays ineligible for compaction."},
	{name: "max.message.bytes", typ: kmsg.ConfigTypeInt, def: "1048588", valid: atLeast(0), synonyms: syn("message.max.bytes"),
		doc: "The largest record batch the topic accepts, after compression."},
	// Accepted but not described: Kafka 4.1 no longer reports it (checked
	// in tests/diff), while tools written for Kafka 3 still set it.
	{name: "message.downconversion.enable", typ: kmsg.ConfigTypeBoolean, def: "true", synonyms: syn("log.message.downconversion.enable"), internal: true,
		doc: "Whether fetches of versions 0-3 may down-convert batches to old message formats."},
	{name: "message.timestamp.after.max.ms", typ: kmsg.ConfigTypeLong, def: "3600000", valid: atLeast(0), synonyms: syn("log.message.timestamp.after.max.ms"),
		doc: "With CreateTime, reject batches whose timestamp is further than this in the future."},
	{name: "message.timestamp.before.max.ms", typ: kmsg.ConfigTypeLong, def: maxLongStr, valid: atLeast(0), synonyms: syn("log.message.timestamp.before.max.ms"),
		doc: "With CreateTime, reject batches whose timestamp is further than this in the past."},
	{name: "message.timestamp.type", typ: kmsg.ConfigTypeString, def: "CreateTime", valid: oneOf("CreateTime", "LogAppendTime"), synonyms: syn("log.message.timestamp.type"),
		doc: "CreateTime keeps the producer's timestamps; LogAppendTime stamps batches with the broker's time."},
	{name: "min.cleanable.dirty.ratio", typ: kmsg.ConfigTypeDouble, def: "0.5", valid: betweenFloat(0, 1), synonyms: syn("log.cleaner.min.cleanable.ratio"),
		doc: "The share of a log that must be uncompacted before the cleaner compacts it."},
	{name: "min.compaction.lag.ms", typ: kmsg.ConfigTypeLong, def: "0", valid: atLeast(0), synonyms: syn("log.cleaner.min.compaction.lag.ms"),
		doc: "The shortest a message stays uncompacted."},
	{name: "min.insync.replicas", typ: kmsg.ConfigTypeInt, def: "1", valid: atLeast(1), synonyms: syn("min.insync.replicas"),
		doc: "The fewest in-sync replicas that must acknowledge a produce with acks=all."},
	{name: "preallocate", typ: kmsg.ConfigTypeBoolean, def: "false", synonyms: syn("log.preallocate"),
		doc: "Preallocate a new segment file on disk."},
	{name: "remote.log.copy.disable", typ: kmsg.ConfigTypeBoolean, def: "false",
		doc: "Stop copying segments to tiered storage while keeping what is there."},
	{name: "remote.log.delete.on.disable", typ: kmsg.ConfigTypeBoolean, def: "false",
		doc: "Delete tiered data when tiered storage is disabled for the topic."},
	{name: "remote.storage.enable", typ: kmsg.ConfigTypeBoolean, def: "false", valid: remoteStorage,
		doc: "Use tiered storage for the topic (not supported by this broker)."},
	{name: "retention.bytes", typ: kmsg.ConfigTypeLong, def: "-1", synonyms: syn("log.retention.bytes"),
		doc: "The largest a partition may grow before old segments are deleted; -1 means no limit."},
	{name: "retention.ms", typ: kmsg.ConfigTypeLong, def: "604800000", valid: atLeast(-1),
		synonyms: []synonymDef{{name: "log.retention.ms"}, {name: "log.retention.minutes", scale: msPerMinute}, {name: "log.retention.hours", scale: msPerHour}},
		doc:      "How long a segment is kept before it is deleted; -1 means no limit."},
	{name: "segment.bytes", typ: kmsg.ConfigTypeInt, def: "1073741824", valid: atLeast(1024 * 1024), synonyms: syn("log.segment.bytes"),
		doc: "The largest a segment file grows before a new one is rolled."},
	{name: "segment.index.bytes", typ: kmsg.ConfigTypeInt, def: "10485760", valid: atLeast(4), synonyms: syn("log.index.size.max.bytes"),
		doc: "The size of a segment's offset and time index files."},
	{name: "segment.jitter.ms", typ: kmsg.ConfigTypeLong, def: "0", valid: atLeast(0),
		synonyms: []synonymDef{{name: "log.roll.jitter.ms"}, {name: "log.roll.jitter.hours", scale: msPerHour}},
		doc:      "The most random jitter subtracted from segment.ms."},
	{name: "segment.ms", typ: kmsg.ConfigTypeLong, def: "604800000", valid: atLeast(1),
		synonyms: []synonymDef{{name: "log.roll.ms"}, {name: "log.roll.hours", scale: msPerHour}},
		doc:      "Roll a new segment after this long, even if the active one is not full."},
	{name: "unclean.leader.election.enable", typ: kmsg.ConfigTypeBoolean, def: "false", synonyms: syn("unclean.leader.election.enable"),
		doc: "Allow an out-of-sync replica to become leader, losing data."},

	// Kafka 4's internal.segment.bytes lets tests use segments smaller than
	// segment.bytes allows. It wins over segment.bytes when set.
	{name: "internal.segment.bytes", typ: kmsg.ConfigTypeInt, null: true, valid: atLeast(14), internal: true,
		doc: "The largest a segment file grows; for testing only."},
}

// brokerConfigDefs is the part of Kafka 4.1's KafkaConfig that
// DescribeConfigs reports for this broker. It includes every broker synonym
// of a topic config. ReadOnly follows Kafka: a config is read-only unless
// Kafka can change it without a restart.
var brokerConfigDefs = []configDef{
	// Identity, listeners, storage.
	{name: "node.id", typ: kmsg.ConfigTypeInt, def: "-1", readOnly: true, doc: "The id of this node."},
	{name: "broker.id", typ: kmsg.ConfigTypeInt, def: "-1", readOnly: true, doc: "The id of this broker; equals node.id."},
	{name: "process.roles", typ: kmsg.ConfigTypeList, def: "", readOnly: true, doc: "The roles this node plays: broker, controller, or both."},
	{name: "log.dirs", typ: kmsg.ConfigTypeList, null: true, readOnly: true, doc: "The directories where the log data is stored."},
	{name: "log.dir", typ: kmsg.ConfigTypeList, def: "/tmp/kafka-logs", readOnly: true, doc: "The directory where the log data is stored, if log.dirs is not set."},
	{name: "listeners", typ: kmsg.ConfigTypeString, def: "PLAINTEXT://:9092", doc: "The addresses the broker listens on."},
	{name: "advertised.listeners", typ: kmsg.ConfigTypeString, null: true, doc: "The addresses clients are told to connect to."},
	{name: "listener.security.protocol.map", typ: kmsg.ConfigTypeString, def: "SASL_SSL:SASL_SSL,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT",
		doc: "The security protocol of each listener name."},
	{name: "inter.broker.listener.name", typ: kmsg.ConfigTypeString, null: true, readOnly: true, doc: "The listener brokers use to talk to each other."},

	// Topic creation.
	{name: "num.partitions", typ: kmsg.ConfigTypeInt, def: "1", valid: atLeast(1), readOnly: true, doc: "The default number of partitions of a new topic."},
	{name: "default.replication.factor", typ: kmsg.ConfigTypeInt, def: "1", readOnly: true, doc: "The default replication factor of a new topic."},
	{name: "auto.create.topics.enable", typ: kmsg.ConfigTypeBoolean, def: "true", readOnly: true, doc: "Create a topic when a client asks for metadata about one that does not exist."},
	{name: "delete.topic.enable", typ: kmsg.ConfigTypeBoolean, def: "true", readOnly: true, doc: "Allow topics to be deleted."},

	// Network and requests.
	{name: "socket.request.max.bytes", typ: kmsg.ConfigTypeInt, def: "104857600", valid: atLeast(1), readOnly: true, doc: "The largest request the broker accepts."},
	{name: "socket.send.buffer.bytes", typ: kmsg.ConfigTypeInt, def: "102400", readOnly: true, doc: "The SO_SNDBUF of the broker's sockets; -1 means the OS default."},
	{name: "socket.receive.buffer.bytes", typ: kmsg.ConfigTypeInt, def: "102400", readOnly: true, doc: "The SO_RCVBUF of the broker's sockets; -1 means the OS default."},
	{name: "num.network.threads", typ: kmsg.ConfigTypeInt, def: "3", valid: atLeast(1), doc: "The number of threads that serve the network."},
	{name: "num.io.threads", typ: kmsg.ConfigTypeInt, def: "8", valid: atLeast(1), doc: "The number of threads that process requests."},
	{name: "queued.max.requests", typ: kmsg.ConfigTypeInt, def: "500", valid: atLeast(1), readOnly: true, doc: "The most requests queued before the network threads stop reading."},
	{name: "connections.max.idle.ms", typ: kmsg.ConfigTypeLong, def: "600000", readOnly: true, doc: "Close connections idle for this long."},
	{name: "max.connections", typ: kmsg.ConfigTypeInt, def: "2147483647", valid: atLeast(0), doc: "The most connections the broker accepts."},
	{name: "max.connections.per.ip", typ: kmsg.ConfigTypeInt, def: "2147483647", valid: atLeast(0), doc: "The most connections the broker accepts from one address."},
	{name: "max.connections.per.ip.overrides", typ: kmsg.ConfigTypeString, def: "", readOnly: true, doc: "Per-address connection limits, host:count separated by commas."},
	{name: "queued.max.request.bytes", typ: kmsg.ConfigTypeLong, def: "-1", readOnly: true, doc: "The request bytes all connections may hold until answered; -1 means no limit."},

	// Security (values from the running configuration; none can change
	// without a restart).
	{name: "sasl.enabled.mechanisms", typ: kmsg.ConfigTypeList, def: "GSSAPI", readOnly: true, doc: "The SASL mechanisms the SASL listeners accept."},
	{name: "sasl.server.max.receive.size", typ: kmsg.ConfigTypeInt, def: "524288", readOnly: true, doc: "The largest frame a client may send before it has authenticated."},
	{name: "connections.max.reauth.ms", typ: kmsg.ConfigTypeLong, def: "0", readOnly: true, doc: "The lifetime of a SASL session before the client must re-authenticate (KIP-368); 0 means no limit."},
	{name: "connection.failed.authentication.delay.ms", typ: kmsg.ConfigTypeInt, def: "100", readOnly: true, doc: "How long a failed authentication waits before its answer."},
	{name: "ssl.client.auth", typ: kmsg.ConfigTypeString, def: "none", readOnly: true, doc: "Whether SSL listeners request (requested) or require (required) a client certificate."},
	{name: "authorizer.class.name", typ: kmsg.ConfigTypeString, def: "", readOnly: true, doc: "The authorizer; empty means ACLs are not enforced."},
	{name: "allow.everyone.if.no.acl.found", typ: kmsg.ConfigTypeBoolean, def: "false", readOnly: true, doc: "Allow a request on a resource that has no ACL at all."},
	{name: "super.users", typ: kmsg.ConfigTypeString, null: true, readOnly: true, doc: "Principals allowed everything, separated by semicolons."},

	{name: "fetch.max.bytes", typ: kmsg.ConfigTypeInt, def: "57671680", valid: atLeast(1024), readOnly: true, doc: "The most bytes a fetch response returns."},
	{name: "max.incremental.fetch.session.cache.slots", typ: kmsg.ConfigTypeInt, def: "1000", valid: atLeast(0), readOnly: true, doc: "The most incremental fetch sessions kept."},

	// Log defaults: the broker synonyms of topic configs.
	{name: "log.segment.bytes", typ: kmsg.ConfigTypeInt, def: "1073741824", valid: atLeast(1024 * 1024), doc: "The largest a segment file grows."},
	{name: "log.roll.ms", typ: kmsg.ConfigTypeLong, null: true, synonyms: []synonymDef{{name: "log.roll.hours", scale: msPerHour}},
		doc: "Roll a new segment after this long; if not set, log.roll.hours is used."},
	{name: "log.roll.hours", typ: kmsg.ConfigTypeInt, def: "168", valid: atLeast(1), readOnly: true, doc: "Roll a new segment after this many hours, secondary to log.roll.ms."},
	{name: "log.roll.jitter.ms", typ: kmsg.ConfigTypeLong, null: true, synonyms: []synonymDef{{name: "log.roll.jitter.hours", scale: msPerHour}},
		doc: "The most jitter subtracted from the roll time; if not set, log.roll.jitter.hours is used."},
	{name: "log.roll.jitter.hours", typ: kmsg.ConfigTypeInt, def: "0", valid: atLeast(0), readOnly: true, doc: "The most jitter subtracted from the roll time, in hours."},
	{name: "log.retention.ms", typ: kmsg.ConfigTypeLong, null: true,
		synonyms: []synonymDef{{name: "log.retention.minutes", scale: msPerMinute}, {name: "log.retention.hours", scale: msPerHour}},
		doc:      "How long to keep a segment; if not set, log.retention.minutes is used; -1 means no limit."},
	{name: "log.retention.minutes", typ: kmsg.ConfigTypeInt, null: true, synonyms: []synonymDef{{name: "log.retention.hours", scale: 60}}, readOnly: true,
		doc: "How long to keep a segment, in minutes; if not set, log.retention.hours is used."},
	{name: "log.retention.hours", typ: kmsg.ConfigTypeInt, def: "168", readOnly: true, doc: "How long to keep a segment, in hours."},
	{name: "log.retention.bytes", typ: kmsg.ConfigTypeLong, def: "-1", doc: "The largest a partition grows before old segments are deleted."},
	{name: "log.retention.check.interval.ms", typ: kmsg.ConfigTypeLong, def: "300000", valid: atLeast(1), readOnly: true, doc: "How often to look for segments to delete."},
	{name: "log.cleanup.policy", typ: kmsg.ConfigTypeList, def: cleanupPolicyDelete, valid: listOf(cleanupPolicyCompact, cleanupPolicyDelete), doc: "The default cleanup policy of topics."},
	{name: "log.cleaner.enable", typ: kmsg.ConfigTypeBoolean, def: "true", readOnly: true, doc: "Run the log cleaner (compaction)."},
	{name: "log.cleaner.threads", typ: kmsg.ConfigTypeInt, def: "1", valid: atLeast(0), doc: "The number of log cleaner threads."},
	{name: "log.cleaner.delete.retention.ms", typ: kmsg.ConfigTypeLong, def: "86400000", valid: atLeast(0), doc: "How long delete tombstones are kept."},
	{name: "log.cleaner.min.compaction.lag.ms", typ: kmsg.ConfigTypeLong, def: "0", valid: atLeast(0), doc: "The shortest a message stays uncompacted."},
	{name: "log.cleaner.max.compaction.lag.ms", typ: kmsg.ConfigTypeLong, def: maxLongStr, valid: atLeast(1), doc: "The longest a message stays ineligible for compaction."},
	{name: "log.cleaner.min.cleanable.ratio", typ: kmsg.ConfigTypeDouble, def: "0.5", valid: betweenFloat(0, 1), doc: "The share of a log that must be dirty before it is compacted."},
	{name: "log.index.interval.bytes", typ: kmsg.ConfigTypeInt, def: "4096", valid: atLeast(0), doc: "How many bytes between two offset index entries."},
	{name: "log.index.size.max.bytes", typ: kmsg.ConfigTypeInt, def: "10485760", valid: atLeast(4), doc: "The size of a segment's index files."},
	{name: "log.flush.interval.messages", typ: kmsg.ConfigTypeLong, def: maxLongStr, valid: atLeast(1), doc: "Force an fsync after this many messages."},
	{name: "log.flush.interval.ms", typ: kmsg.ConfigTypeLong, null: true, synonyms: syn("log.flush.scheduler.interval.ms"),
		doc: "Force an fsync after a message has waited this long; if not set, log.flush.scheduler.interval.ms is used."},
	{name: "log.flush.scheduler.interval.ms", typ: kmsg.ConfigTypeLong, def: maxLongStr, readOnly: true, doc: "How often the flusher looks for logs to fsync."},
	{name: "log.segment.delete.delay.ms", typ: kmsg.ConfigTypeLong, def: "60000", valid: atLeast(0), doc: "How long to wait before deleting a file."},
	{name: "log.preallocate", typ: kmsg.ConfigTypeBoolean, def: "false", doc: "Preallocate new segment files."},
	{name: "log.message.timestamp.type", typ: kmsg.ConfigTypeString, def: "CreateTime", valid: oneOf("CreateTime", "LogAppendTime"), doc: "The default timestamp type of topics."},
	{name: "log.message.timestamp.before.max.ms", typ: kmsg.ConfigTypeLong, def: maxLongStr, valid: atLeast(0), doc: "With CreateTime, the furthest in the past a batch timestamp may be."},
	{name: "log.message.timestamp.after.max.ms", typ: kmsg.ConfigTypeLong, def: "3600000", valid: atLeast(0), doc: "With CreateTime, the furthest in the future a batch timestamp may be."},
	{name: "log.message.downconversion.enable", typ: kmsg.ConfigTypeBoolean, def: "true", doc: "Deprecated no-op: Kafka 4 never down-converts batches."},
	{name: "log.local.retention.ms", typ: kmsg.ConfigTypeLong, def: "-2", valid: atLeast(-2), doc: "Local retention time with tiered storage; -2 means log.retention.ms."},
	{name: "log.local.retention.bytes", typ: kmsg.ConfigTypeLong, def: "-2", valid: atLeast(-2), doc: "Local retention size with tiered storage; -2 means log.retention.bytes."},
	{name: "message.max.bytes", typ: kmsg.ConfigTypeInt, def: "1048588", valid: atLeast(0), doc: "The largest record batch the broker accepts, after compression."},
	{name: "compression.type", typ: kmsg.ConfigTypeString, def: "producer", valid: oneOf(compressionTypes...), doc: "The default compression of topics."},
	{name: "compression.gzip.level", typ: kmsg.ConfigTypeInt, def: "-1", valid: gzipLevel, doc: "The gzip level when compression.type is gzip."},
	{name: "compression.lz4.level", typ: kmsg.ConfigTypeInt, def: "9", valid: between(1, 17), doc: "The lz4 level when compression.type is lz4."},
	{name: "compression.zstd.level", typ: kmsg.ConfigTypeInt, def: "3", valid: between(-131072, 22), doc: "The zstd level when compression.type is zstd."},
	{name: "min.insync.replicas", typ: kmsg.ConfigTypeInt, def: "1", valid: atLeast(1), doc: "The fewest in-sync replicas for a produce with acks=all."},
	{name: "unclean.leader.election.enable", typ: kmsg.ConfigTypeBoolean, def: "false", doc: "Allow an out-of-sync replica to become leader."},

	// Coordinators.
	{name: "offsets.topic.replication.factor", typ: kmsg.ConfigTypeShort, def: "3", valid: atLeast(1), readOnly: true, doc: "The replication factor of the offsets topic."},
	{name: "offsets.topic.num.partitions", typ: kmsg.ConfigTypeInt, def: "50", valid: atLeast(1), readOnly: true, doc: "The number of partitions of the offsets topic."},
	{name: "offsets.retention.minutes", typ: kmsg.ConfigTypeInt, def: "10080", valid: atLeast(1), readOnly: true, doc: "How long committed offsets of an empty group are kept."},
	{name: "offsets.retention.check.interval.ms", typ: kmsg.ConfigTypeLong, def: "600000", valid: atLeast(1), readOnly: true, doc: "How often to look for stale offsets."},
	{name: "offsets.commit.timeout.ms", typ: kmsg.ConfigTypeInt, def: "5000", valid: atLeast(1), readOnly: true, doc: "How long an offset commit may wait to be written."},
	{name: "group.initial.rebalance.delay.ms", typ: kmsg.ConfigTypeInt, def: "3000", readOnly: true, doc: "How long a new classic group waits for more members before its first rebalance."},
	{name: "group.min.session.timeout.ms", typ: kmsg.ConfigTypeInt, def: "6000", readOnly: true, doc: "The shortest session timeout a classic group member may ask for."},
	{name: "group.max.session.timeout.ms", typ: kmsg.ConfigTypeInt, def: "1800000", readOnly: true, doc: "The longest session timeout a classic group member may ask for."},
	{name: "group.max.size", typ: kmsg.ConfigTypeInt, def: "2147483647", valid: atLeast(1), readOnly: true, doc: "The most members a classic group may have."},
	{name: "group.coordinator.rebalance.protocols", typ: kmsg.ConfigTypeList, def: "classic,consumer", readOnly: true, doc: "The group protocols the coordinator supports."},
	{name: "transaction.state.log.replication.factor", typ: kmsg.ConfigTypeShort, def: "3", valid: atLeast(1), readOnly: true, doc: "The replication factor of the transaction state topic."},
	{name: "transaction.state.log.num.partitions", typ: kmsg.ConfigTypeInt, def: "50", valid: atLeast(1), readOnly: true, doc: "The number of partitions of the transaction state topic."},
	{name: "transaction.state.log.min.isr", typ: kmsg.ConfigTypeInt, def: "2", valid: atLeast(1), readOnly: true, doc: "min.insync.replicas of the transaction state topic."},
	{name: "transaction.max.timeout.ms", typ: kmsg.ConfigTypeInt, def: "900000", valid: atLeast(1), readOnly: true, doc: "The longest transaction timeout a producer may ask for."},
	{name: "transactional.id.expiration.ms", typ: kmsg.ConfigTypeInt, def: "604800000", valid: atLeast(1), readOnly: true, doc: "How long an idle transactional id is kept."},
	{name: "transaction.abort.timed.out.transaction.cleanup.interval.ms", typ: kmsg.ConfigTypeInt, def: "10000", valid: atLeast(1), readOnly: true,
		doc: "How often transactions past their timeout are looked for and aborted."},
	{name: "producer.id.expiration.ms", typ: kmsg.ConfigTypeInt, def: "86400000", valid: atLeast(1), doc: "How long an idle producer id's state is kept."},
}

// topicDefs and brokerDefs index the tables by name.
var topicDefs, brokerDefs map[string]*configDef

func index(defs []configDef) map[string]*configDef {
	m := make(map[string]*configDef, len(defs))
	for i := range defs {
		d := &defs[i]
		if m[d.name] != nil {
			panic("meta: config defined twice: " + d.name)
		}
		m[d.name] = d
	}
	return m
}

func init() {
	// Sort both tables by name: DescribeConfigs lists them in this order.
	byName := func(a, b configDef) int { return cmp.Compare(a.name, b.name) }
	slices.SortFunc(topicConfigDefs, byName)
	slices.SortFunc(brokerConfigDefs, byName)
	topicDefs = index(topicConfigDefs)
	brokerDefs = index(brokerConfigDefs)
}

// TopicConfigNames returns the names of the topic configs DescribeConfigs
// lists, sorted.
func TopicConfigNames() []string {
	var names []string
	for _, d := range topicConfigDefs {
		if !d.internal {
			names = append(names, d.name)
		}
	}
	return names
}

// TopicConfigDefault returns Kafka's default for a topic config, ignoring
// broker configs; ok is false for an unknown name or a null default.
func TopicConfigDefault(name string) (value string, ok bool) {
	d := topicDefs[name]
	if d == nil || d.null {
		return "", false
	}
	return d.def, true
}

// ---- parsing and validation ----

// parse converts raw to d's type, trimmed as Kafka's ConfigDef.parseType
// does: int64 for INT, SHORT and LONG; float64; bool; string; []string.
func parse(d *configDef, raw string) (any, error) {
	s := strings.TrimSpace(raw)
	bad := func(reason string) error { return invalidValue(d.name, raw, reason) }
	switch d.typ {
	case kmsg.ConfigTypeBoolean:
		switch {
		case strings.EqualFold(s, "true"):
			return true, nil
		case strings.EqualFold(s, "false"):
			return false, nil
		}
		return nil, bad("Expected value to be either true or false")
	case kmsg.ConfigTypeShort:
		n, err := strconv.ParseInt(s, 10, 16)
		if err != nil {
			return nil, bad("Not a number of type SHORT")
		}
		return n, nil
	case kmsg.ConfigTypeInt:
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return nil, bad("Not a number of type INT")
		}
		return n, nil
	case kmsg.ConfigTypeLong:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, bad("Not a number of type LONG")
		}
		return n, nil
	case kmsg.ConfigTypeDouble:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, bad("Not a number of type DOUBLE")
		}
		return f, nil
	case kmsg.ConfigTypeList:
		if s == "" {
			return []string{}, nil
		}
		parts := strings.Split(s, ",")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		return parts, nil
	case kmsg.ConfigTypeString:
		return s, nil
	}
	return raw, nil // CLASS, PASSWORD: taken as given
}

// check parses raw and runs d's validator.
func check(d *configDef, raw string) (any, error) {
	v, err := parse(d, raw)
	if err != nil {
		return nil, err
	}
	if d.valid != nil {
		if err := d.valid(d.name, raw, v); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// invalidValue is Kafka's ConfigException message.
func invalidValue(name, raw, reason string) error {
	return errorf(ErrInvalidConfig, "Invalid value %s for configuration %s: %s", raw, name, reason)
}

func atLeast(min int64) func(string, string, any) error {
	return func(name, raw string, v any) error {
		if v.(int64) < min {
			return invalidValue(name, raw, fmt.Sprintf("Value must be at least %d", min))
		}
		return nil
	}
}

func between(min, max int64) func(string, string, any) error {
	return func(name, raw string, v any) error {
		switch n := v.(int64); {
		case n < min:
			return invalidValue(name, raw, fmt.Sprintf("Value must be at least %d", min))
		case n > max:
			return invalidValue(name, raw, fmt.Sprintf("Value must be no more than %d", max))
		}
		return nil
	}
}

func betweenFloat(min, max float64) func(string, string, any) error {
	return func(name, raw string, v any) error {
		switch f := v.(float64); {
		case f < min:
			return invalidValue(name, raw, fmt.Sprintf("Value must be at least %g", min))
		case f > max:
			return invalidValue(name, raw, fmt.Sprintf("Value must be no more than %g", max))
		}
		return nil
	}
}

func gzipLevel(name, raw string, v any) error {
	if n := v.(int64); n != -1 && (n < 1 || n > 9) {
		return invalidValue(name, raw, "Value must be between 1 and 9 or equal to -1")
	}
	return nil
}

func oneOf(valid ...string) func(string, string, any) error {
	return func(name, raw string, v any) error {
		if !slices.Contains(valid, v.(string)) {
			return invalidValue(name, raw, "String must be one of: "+strings.Join(valid, ", "))
		}
		return nil
	}
}

func listOf(valid ...string) func(string, string, any) error {
	return func(name, raw string, v any) error {
		for _, s := range v.([]string) {
			if !slices.Contains(valid, s) {
				return invalidValue(name, s, "String must be one of: "+strings.Join(valid, ", "))
			}
		}
		return nil
	}
}

// throttledReplicas is Kafka's ThrottledReplicaListValidator: '*' or a list
// of partitionId:brokerId.
func throttledReplicas(name, raw string, v any) error {
	l := v.([]string)
	if len(l) == 1 && l[0] == "*" {
		return nil
	}
	for _, s := range l {
		p, b, ok := strings.Cut(s, ":")
		if !ok || !allDigits(p) || !allDigits(b) {
			return invalidValue(name, raw, name+" must be the literal '*' or a list of replicas in the following format: [partitionId]:[brokerId],[partitionId]:[brokerId],...")
		}
	}
	return nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func remoteStorage(name, raw string, v any) error {
	if v.(bool) {
		return errorf(ErrInvalidConfig, "Tiered Storage functionality is disabled in the broker. Topic cannot be configured with remote log storage.")
	}
	return nil
}

// ValidateTopicConfigs checks topic overrides as CreateTopics and
// AlterConfigs do: every key must be a topic config, every value must parse
// as its type and pass its validator, and the values must agree with each
// other. The error wraps ErrInvalidConfig and names the key and the reason.
func ValidateTopicConfigs(configs map[string]string) error {
	// Check keys in a fixed order so the same request gets the same error.
	keys := slices.Sorted(maps.Keys(configs))
	for _, k := range keys {
		d := topicDefs[k]
		if d == nil {
			return errorf(ErrInvalidConfig, "Unknown topic config name: %s", k)
		}
		if _, err := check(d, configs[k]); err != nil {
			return err
		}
	}
	// LogConfig.validateValues, over the overrides and Kafka's defaults.
	minLag := effectiveInt(topicDefs["min.compaction.lag.ms"], configs, nil)
	maxLag := effectiveInt(topicDefs["max.compaction.lag.ms"], configs, nil)
	if minLag > maxLag {
		return errorf(ErrInvalidConfig, "conflict topic config setting min.compaction.lag.ms (%d) > max.compaction.lag.ms (%d)", minLag, maxLag)
	}
	return nil
}

// ValidateBrokerConfigs checks the values of the broker configs we know;
// others are ignored, as Kafka ignores unknown properties.
func ValidateBrokerConfigs(broker BrokerConfigs) error {
	for _, k := range slices.Sorted(maps.Keys(broker)) {
		if d := brokerDefs[k]; d != nil {
			if _, err := check(d, broker[k]); err != nil {
				return err
			}
		}
	}
	return nil
}

// ---- resolution ----

// synonymValue is a Synonym plus the scale that turns its value into the
// unit of the config it stands in for.
type synonymValue struct {
	Synonym
	scale int64
}

// brokerChain appends, for each broker config in syns, its static value if
// the operator set one that parses, then its default if it has one: Kafka's
// order within each synonym.
func brokerChain(out []synonymValue, syns []synonymDef, broker BrokerConfigs) []synonymValue {
	for _, s := range syns {
		bd := brokerDefs[s.name] // every synonym is in the broker table (TestSynonymsDefined)
		if v, ok := broker[s.name]; ok {
			// A static value that does not even parse is skipped, so one
			// bad property cannot break every topic. Ranges are not
			// checked: the operator's static config is trusted (see
			// ValidateBrokerConfigs), which is how tests shrink segments.
			if _, err := parse(bd, v); err == nil {
				out = append(out, synonymValue{Synonym{s.name, v, ConfigSourceStaticBrokerConfig}, s.scale})
			}
		}
		if !bd.null {
			out = append(out, synonymValue{Synonym{s.name, bd.def, ConfigSourceDefaultConfig}, s.scale})
		}
	}
	return out
}

// scaled converts a broker value to the unit of the config it stands in
// for, saturating like Java's TimeUnit.toMillis; negative durations (only
// meaningful as "no limit") become -1.
func scaled(v string, scale int64) string {
	if scale <= 1 {
		return v
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return v
	}
	switch {
	case n < 0:
		n = -1
	case n > math.MaxInt64/scale:
		n = math.MaxInt64
	default:
		n *= scale
	}
	return strconv.FormatInt(n, 10)
}

// resolveTopic works out a topic config's value: the topic override, else
// the first broker synonym the operator set, else the default.
func resolveTopic(d *configDef, overrides map[string]string, broker BrokerConfigs) (value string, isNull bool, source ConfigSource, syns []synonymValue) {
	if v, ok := overrides[d.name]; ok {
		syns = append(syns, synonymValue{Synonym: Synonym{d.name, v, ConfigSourceDynamicTopicConfig}})
	}
	syns = brokerChain(syns, d.synonyms, broker)
	if len(syns) == 0 {
		return d.def, d.null, ConfigSourceDefaultConfig, nil
	}
	return scaled(syns[0].Value, syns[0].scale), false, syns[0].Source, syns
}

func entry(d *configDef, value string, isNull bool, source ConfigSource, syns []synonymValue) ConfigEntry {
	e := ConfigEntry{
		Name: d.name, Value: value, IsNull: isNull, Source: source,
		ReadOnly: d.readOnly, Sensitive: d.sensitive, Type: d.typ, Doc: d.doc,
	}
	if d.sensitive {
		e.Value, e.IsNull = "", true
	}
	for _, s := range syns {
		if d.sensitive {
			s.Value = ""
		}
		e.Synonyms = append(e.Synonyms, s.Synonym)
	}
	return e
}

// DescribeTopicConfigs lists every topic config of t, sorted by name, with
// its effective value and source: a topic override is DYNAMIC_TOPIC_CONFIG,
// else a broker synonym the operator set is STATIC_BROKER_CONFIG, else
// DEFAULT_CONFIG. Synonyms are in Kafka's order: the override, then each
// broker synonym as set and as defaulted.
func DescribeTopicConfigs(t Topic, broker BrokerConfigs) []ConfigEntry {
	out := make([]ConfigEntry, 0, len(topicConfigDefs))
	for i := range topicConfigDefs {
		d := &topicConfigDefs[i]
		if d.internal {
			continue
		}
		v, isNull, src, syns := resolveTopic(d, t.Configs, broker)
		out = append(out, entry(d, v, isNull, src, syns))
	}
	return out
}

// DescribeBrokerConfigs lists the broker configs we report, sorted by name:
// a value the operator set is STATIC_BROKER_CONFIG, else DEFAULT_CONFIG
// (null when Kafka has no default). Synonyms list the config itself and its
// lower-priority alternatives (log.roll.ms, then log.roll.hours).
func DescribeBrokerConfigs(broker BrokerConfigs) []ConfigEntry {
	out := make([]ConfigEntry, 0, len(brokerConfigDefs))
	for i := range brokerConfigDefs {
		d := &brokerConfigDefs[i]
		if d.internal {
			continue
		}
		syns := brokerChain(nil, append([]synonymDef{{name: d.name}}, d.synonyms...), broker)
		value, isNull, src := d.def, d.null, ConfigSourceDefaultConfig
		if v, ok := broker[d.name]; ok {
			value, isNull = v, false
		}
		if len(syns) > 0 {
			src = syns[0].Source
		}
		out = append(out, entry(d, value, isNull, src, syns))
	}
	return out
}

// ---- effective values for the log layer ----

// LogConfig is a topic's effective configuration, typed, for the log layer.
type LogConfig struct {
	SegmentBytes       int64 // segment.bytes, or internal.segment.bytes when set
	SegmentMs          int64
	SegmentJitterMs    int64
	SegmentIndexBytes  int32
	RetentionMs        int64 // -1: no limit
	RetentionBytes     int64 // -1: no limit
	IndexIntervalBytes int32
	MaxMessageBytes    int32
	LogAppendTime      bool // message.timestamp.type=LogAppendTime
	// MessageTimestampBeforeMaxMs and MessageTimestampAfterMaxMs bound a
	// CreateTime batch's timestamp relative to the broker's clock.
	MessageTimestampBeforeMaxMs int64
	MessageTimestampAfterMaxMs  int64
	// CleanupPolicy is cleanup.policy normalized: "delete", "compact",
	// "compact,delete" or "" (neither: keep everything).
	CleanupPolicy          string
	Compact, Delete        bool
	DeleteRetentionMs      int64
	MinCompactionLagMs     int64
	MaxCompactionLagMs     int64
	MinCleanableDirtyRatio float64
	FileDeleteDelayMs      int64
	FlushMessages          int64
	FlushMs                int64
	Preallocate            bool
	CompressionType        string // uncompressed, zstd, lz4, snappy, gzip or producer
	GzipLevel              int32
	Lz4Level               int32
	ZstdLevel              int32
	MinInsyncReplicas      int32
}

// effective parses the resolved value of a topic config. Should a stored
// override no longer parse (a later release tightened a rule), the value
// the topic would have without it is used.
func effective(d *configDef, overrides map[string]string, broker BrokerConfigs) any {
	v, isNull, src, _ := resolveTopic(d, overrides, broker)
	if isNull {
		return nil
	}
	if p, err := parse(d, v); err == nil {
		return p
	}
	if src == ConfigSourceDynamicTopicConfig {
		return effective(d, nil, broker)
	}
	p, _ := parse(d, d.def)
	return p
}

func effectiveInt(d *configDef, overrides map[string]string, broker BrokerConfigs) int64 {
	n, _ := effective(d, overrides, broker).(int64)
	return n
}

// EffectiveLogConfig resolves t's configuration against the broker's.
func EffectiveLogConfig(t Topic, broker BrokerConfigs) LogConfig {
	i64 := func(name string) int64 { return effectiveInt(topicDefs[name], t.Configs, broker) }
	i32 := func(name string) int32 { return int32(i64(name)) }
	str := func(name string) string { s, _ := effective(topicDefs[name], t.Configs, broker).(string); return s }
	flag := func(name string) bool { b, _ := effective(topicDefs[name], t.Configs, broker).(bool); return b }
	ratio, _ := effective(topicDefs["min.cleanable.dirty.ratio"], t.Configs, broker).(float64)
	policy, _ := effective(topicDefs["cleanup.policy"], t.Configs, broker).([]string)

	c := LogConfig{
		SegmentBytes:                i64("segment.bytes"),
		SegmentMs:                   i64("segment.ms"),
		SegmentJitterMs:             i64("segment.jitter.ms"),
		SegmentIndexBytes:           i32("segment.index.bytes"),
		RetentionMs:                 i64("retention.ms"),
		RetentionBytes:              i64("retention.bytes"),
		IndexIntervalBytes:          i32("index.interval.bytes"),
		MaxMessageBytes:             i32("max.message.bytes"),
		LogAppendTime:               str("message.timestamp.type") == "LogAppendTime",
		MessageTimestampBeforeMaxMs: i64("message.timestamp.before.max.ms"),
		MessageTimestampAfterMaxMs:  i64("message.timestamp.after.max.ms"),
		DeleteRetentionMs:           i64("delete.retention.ms"),
		MinCompactionLagMs:          i64("min.compaction.lag.ms"),
		MaxCompactionLagMs:          i64("max.compaction.lag.ms"),
		MinCleanableDirtyRatio:      ratio,
		FileDeleteDelayMs:           i64("file.delete.delay.ms"),
		FlushMessages:               i64("flush.messages"),
		FlushMs:                     i64("flush.ms"),
		Preallocate:                 flag("preallocate"),
		CompressionType:             str("compression.type"),
		GzipLevel:                   i32("compression.gzip.level"),
		Lz4Level:                    i32("compression.lz4.level"),
		ZstdLevel:                   i32("compression.zstd.level"),
		MinInsyncReplicas:           i32("min.insync.replicas"),
	}
	if v, ok := t.Configs["internal.segment.bytes"]; ok {
		if n, err := check(topicDefs["internal.segment.bytes"], v); err == nil {
			c.SegmentBytes = n.(int64)
		}
	}
	for _, p := range policy {
		switch strings.ToLower(p) { // Kafka lower-cases when reading
		case cleanupPolicyCompact:
			c.Compact = true
		case cleanupPolicyDelete:
			c.Delete = true
		}
	}
	switch {
	case c.Compact && c.Delete:
		c.CleanupPolicy = cleanupPolicyCompact + "," + cleanupPolicyDelete
	case c.Compact:
		c.CleanupPolicy = cleanupPolicyCompact
	case c.Delete:
		c.CleanupPolicy = cleanupPolicyDelete
	}
	return c
}
