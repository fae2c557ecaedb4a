package meta

import (
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestValidateTopicConfigs(t *testing.T) {
	for _, tc := range []struct {
		configs map[string]string
		want    string // "" for valid
	}{
		{nil, ""},
		{map[string]string{"cleanup.policy": "compact,delete"}, ""},
		{map[string]string{"cleanup.policy": "delete , compact"}, ""},
		{map[string]string{"cleanup.policy": ""}, ""},
		{map[string]string{"cleanup.policy": "compact,"}, "Invalid value  for configuration cleanup.policy: String must be one of: compact, delete"},
		{map[string]string{"cleanup.policy": "Compact"}, "Invalid value Compact for configuration cleanup.policy"},
		{map[string]string{"compression.type": "zstd"}, ""},
		{map[string]string{"compression.type": "brotli"}, "Invalid value brotli for configuration compression.type: String must be one of: uncompressed, zstd, lz4, snappy, gzip, producer"},
		{map[string]string{"compression.gzip.level": "-1"}, ""},
		{map[string]string{"compression.gzip.level": "9"}, ""},
		{map[string]string{"compression.gzip.level": "0"}, "Value must be between 1 and 9 or equal to -1"},
		{map[string]string{"compression.lz4.level": "18"}, "Invalid value 18 for configuration compression.lz4.level: Value must be no more than 17"},
		{map[string]string{"compression.zstd.level": "-131072"}, ""},
		{map[string]string{"compression.zstd.level": "-131073"}, "Value must be at least -131072"},
		{map[string]string{"message.timestamp.type": "LogAppendTime"}, ""},
		{map[string]string{"message.timestamp.type": "logappendtime"}, "String must be one of: CreateTime, LogAppendTime"},
		{map[string]string{"retention.ms": "-1"}, ""},
		{map[string]string{"retention.ms": " 1000 "}, ""},
		{map[string]string{"retention.ms": "-2"}, "Invalid value -2 for configuration retention.ms: Value must be at least -1"},
		{map[string]string{"retention.ms": "1h"}, "Not a number of type LONG"},
		{map[string]string{"retention.ms": "9223372036854775808"}, "Not a number of type LONG"},
		{map[string]string{"retention.bytes": "-100"}, ""},
		{map[string]string{"segment.bytes": "1048576"}, ""},
		{map[string]string{"segment.bytes": "1048575"}, "Invalid value 1048575 for configuration segment.bytes: Value must be at least 1048576"},
		{map[string]string{"segment.bytes": "2147483648"}, "Not a number of type INT"},
		{map[string]string{"internal.segment.bytes": "1024"}, ""},
		{map[string]string{"internal.segment.bytes": "13"}, "Value must be at least 14"},
		{map[string]string{"segment.ms": "0"}, "Value must be at least 1"},
		{map[string]string{"max.message.bytes": "0"}, ""},
		{map[string]string{"max.message.bytes": "-1"}, "Value must be at least 0"},
		{map[string]string{"min.insync.replicas": "0"}, "Value must be at least 1"},
		{map[string]string{"min.cleanable.dirty.ratio": "0.01"}, ""},
		{map[string]string{"min.cleanable.dirty.ratio": "1.5"}, "Invalid value 1.5 for configuration min.cleanable.dirty.ratio: Value must be no more than 1"},
		{map[string]string{"min.cleanable.dirty.ratio": "NaN"}, "Not a number of type DOUBLE"},
		{map[string]string{"preallocate": "TRUE"}, ""},
		{map[string]string{"preallocate": "yes"}, "Invalid value yes for configuration preallocate: Expected value to be either true or false"},
		{map[string]string{"message.downconversion.enable": "false"}, ""},
		{map[string]string{"unclean.leader.election.enable": "true"}, ""},
		{map[string]string{"leader.replication.throttled.replicas": "*"}, ""},
		{map[string]string{"follower.replication.throttled.replicas": "0:1, 1:2"}, ""},
		{map[string]string{"follower.replication.throttled.replicas": "0-1"}, "must be the literal '*' or a list of replicas"},
		{map[string]string{"local.retention.ms": "-2"}, ""},
		{map[string]string{"local.retention.bytes": "-3"}, "Value must be at least -2"},
		{map[string]string{"remote.storage.enable": "false"}, ""},
		{map[string]string{"remote.storage.enable": "true"}, "Tiered Storage functionality is disabled in the broker"},
		{map[string]string{"message.timestamp.after.max.ms": "0"}, ""},
		{map[string]string{"min.compaction.lag.ms": "10", "max.compaction.lag.ms": "10"}, ""},
		{map[string]string{"min.compaction.lag.ms": "11", "max.compaction.lag.ms": "10"}, "conflict topic config setting min.compaction.lag.ms (11) > max.compaction.lag.ms (10)"},
		// Removed in Kafka 4.0.
		{map[string]string{"message.format.version": "3.0"}, "Unknown topic config name: message.format.version"},
		{map[string]string{"message.timestamp.difference.max.ms": "1"}, "Unknown topic config name"},
		// Broker names are not topic configs.
		{map[string]string{"log.retention.ms": "1"}, "Unknown topic config name: log.retention.ms"},
	} {
		err := ValidateTopicConfigs(tc.configs)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%v: %v", tc.configs, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%v: accepted", tc.configs)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %q, want %q", tc.configs, err, tc.want)
		}
		wantErr(t, err, ErrInvalidConfig, "")
	}
}

// TestConfigTables checks the tables against themselves: every synonym is a
// broker config, and a topic config's default is what its broker synonyms
// resolve to when the operator sets nothing.
func TestConfigTables(t *testing.T) {
	for _, defs := range [][]configDef{topicConfigDefs, brokerConfigDefs} {
		for _, d := range defs {
			for _, s := range d.synonyms {
				if brokerDefs[s.name] == nil {
					t.Errorf("%s: synonym %s is not a broker config", d.name, s.name)
				}
			}
			if !d.null {
				if _, err := check(&d, d.def); err != nil {
					t.Errorf("%s: default %q fails its own validation: %v", d.name, d.def, err)
				}
			}
			if d.doc == "" || d.typ == kmsg.ConfigTypeUnknown {
				t.Errorf("%s: missing doc or type", d.name)
			}
		}
	}
	for _, d := range topicConfigDefs {
		v, isNull, src, _ := resolveTopic(&d, nil, nil)
		if v != d.def || isNull != d.null || src != ConfigSourceDefaultConfig {
			t.Errorf("%s: resolves to %q (null %v, %v) with nothing set, want default %q", d.name, v, isNull, src, d.def)
		}
		for _, s := range d.synonyms {
			if bd := brokerDefs[s.name]; bd.typ != d.typ && s.scale == 0 {
				t.Errorf("%s: type %v, synonym %s type %v", d.name, d.typ, s.name, bd.typ)
			}
		}
	}
	// Every config Kafka 4.1 lists for topics (message.downconversion.enable
	// is accepted but, as in Kafka 4.1, not listed).
	want := []string{"cleanup.policy", "compression.gzip.level", "compression.lz4.level", "compression.type",
		"compression.zstd.level", "delete.retention.ms", "file.delete.delay.ms", "flush.messages", "flush.ms",
		"follower.replication.throttled.replicas", "index.interval.bytes", "leader.replication.throttled.replicas",
		"local.retention.bytes", "local.retention.ms", "max.compaction.lag.ms", "max.message.bytes",
		"message.timestamp.after.max.ms", "message.timestamp.before.max.ms",
		"message.timestamp.type", "min.cleanable.dirty.ratio", "min.compaction.lag.ms", "min.insync.replicas",
		"preallocate", "remote.log.copy.disable", "remote.log.delete.on.disable", "remote.storage.enable",
		"retention.bytes", "retention.ms", "segment.bytes", "segment.index.bytes", "segment.jitter.ms", "segment.ms",
		"unclean.leader.election.enable"}
	if got := TopicConfigNames(); !slices.Equal(got, want) {
		t.Errorf("topic configs\n got %v\nwant %v", got, want)
	}
	if v, ok := TopicConfigDefault("segment.bytes"); !ok || v != "1073741824" {
		t.Errorf("TopicConfigDefault(segment.bytes) = %q, %v", v, ok)
	}
	if _, ok := TopicConfigDefault("internal.segment.bytes"); ok {
		t.Error("internal.segment.bytes has a default")
	}
}

func find(t *testing.T, entries []ConfigEntry, name string) ConfigEntry {
	t.Helper()
	for _, e := range entries {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("no entry %s", name)
	return ConfigEntry{}
}

func TestDescribeTopicConfigs(t *testing.T) {
	tp := Topic{Name: "t", Partitions: 1, Configs: map[string]string{
		"retention.ms":   "1000",
		"cleanup.policy": "compact,delete",
	}}
	broker := BrokerConfigs{
		"log.retention.hours":  "1",
		"log.segment.bytes":    "2097152",
		"log.roll.hours":       "bogus", // does not parse: ignored
		"message.max.bytes":    "2000000",
		"not.a.kafka.property": "x",
	}
	entries := DescribeTopicConfigs(tp, broker)
	if len(entries) != len(TopicConfigNames()) {
		t.Fatalf("%d entries, want %d", len(entries), len(TopicConfigNames()))
	}
	if !slices.IsSortedFunc(entries, func(a, b ConfigEntry) int { return strings.Compare(a.Name, b.Name) }) {
		t.Fatal("entries not sorted by name")
	}
	for _, e := range entries {
		if e.ReadOnly || e.Sensitive || e.Doc == "" || e.Type == kmsg.ConfigTypeUnknown {
			t.Errorf("%s: %+v", e.Name, e)
		}
		if e.Name == "internal.segment.bytes" {
			t.Error("internal config listed")
		}
	}

	for _, tc := range []struct {
		name   string
		value  string
		source ConfigSource
		syns   []Synonym
	}{
		// Override, then each broker synonym as set, then as defaulted.
		{"retention.ms", "1000", ConfigSourceDynamicTopicConfig, []Synonym{
			{"retention.ms", "1000", ConfigSourceDynamicTopicConfig},
			{"log.retention.hours", "1", ConfigSourceStaticBrokerConfig},
			{"log.retention.hours", "168", ConfigSourceDefaultConfig},
		}},
		{"cleanup.policy", "compact,delete", ConfigSourceDynamicTopicConfig, []Synonym{
			{"cleanup.policy", "compact,delete", ConfigSourceDynamicTopicConfig},
			{"log.cleanup.policy", "delete", ConfigSourceDefaultConfig},
		}},
		{"segment.bytes", "2097152", ConfigSourceStaticBrokerConfig, []Synonym{
			{"log.segment.bytes", "2097152", ConfigSourceStaticBrokerConfig},
			{"log.segment.bytes", "1073741824", ConfigSourceDefaultConfig},
		}},
		{"max.message.bytes", "2000000", ConfigSourceStaticBrokerConfig, []Synonym{
			{"message.max.bytes", "2000000", ConfigSourceStaticBrokerConfig},
			{"message.max.bytes", "1048588", ConfigSourceDefaultConfig},
		}},
		// Broker synonym with a unit: the value is converted to ms.
		{"segment.ms", "604800000", ConfigSourceDefaultConfig, []Synonym{
			{"log.roll.hours", "168", ConfigSourceDefaultConfig},
		}},
		{"flush.ms", maxLongStr, ConfigSourceDefaultConfig, []Synonym{
			{"log.flush.scheduler.interval.ms", maxLongStr, ConfigSourceDefaultConfig},
		}},
		{"message.timestamp.after.max.ms", "3600000", ConfigSourceDefaultConfig, []Synonym{
			{"log.message.timestamp.after.max.ms", "3600000", ConfigSourceDefaultConfig},
		}},
		// No broker synonym: no synonyms unless overridden.
		{"remote.storage.enable", "false", ConfigSourceDefaultConfig, nil},
		{"leader.replication.throttled.replicas", "", ConfigSourceDefaultConfig, nil},
	} {
		e := find(t, entries, tc.name)
		if e.Value != tc.value || e.IsNull || e.Source != tc.source || !slices.Equal(e.Synonyms, tc.syns) {
			t.Errorf("%s:\n got %q %v %+v\nwant %q %v %+v", tc.name, e.Value, e.Source, e.Synonyms, tc.value, tc.source, tc.syns)
		}
	}

	// A broker synonym set in minutes wins over the hours default.
	e := find(t, DescribeTopicConfigs(Topic{Name: "t"}, BrokerConfigs{"log.retention.minutes": "30"}), "retention.ms")
	if e.Value != "1800000" || e.Source != ConfigSourceStaticBrokerConfig || len(e.Synonyms) != 2 {
		t.Errorf("retention.ms from minutes: %+v", e)
	}
	// log.retention.ms beats both; -1 stays -1.
	e = find(t, DescribeTopicConfigs(Topic{Name: "t"}, BrokerConfigs{"log.retention.ms": "-1", "log.retention.hours": "5"}), "retention.ms")
	if e.Value != "-1" || e.Synonyms[0].Name != "log.retention.ms" {
		t.Errorf("retention.ms from log.retention.ms: %+v", e)
	}
	e = find(t, DescribeTopicConfigs(Topic{Name: "t"}, BrokerConfigs{"log.retention.hours": "-1"}), "retention.ms")
	if e.Value != "-1" {
		t.Errorf("log.retention.hours=-1 gives retention.ms %q, want -1", e.Value)
	}
}

func TestDescribeBrokerConfigs(t *testing.T) {
	entries := DescribeBrokerConfigs(BrokerConfigs{
		"node.id":          "3",
		"log.roll.hours":   "2",
		"num.partitions":   "6",
		"unknown.property": "x",
	})
	if !slices.IsSortedFunc(entries, func(a, b ConfigEntry) int { return strings.Compare(a.Name, b.Name) }) {
		t.Fatal("entries not sorted")
	}
	for _, e := range entries {
		if e.Name == "unknown.property" {
			t.Fatal("unknown property listed")
		}
	}
	e := find(t, entries, "node.id")
	if e.Value != "3" || e.Source != ConfigSourceStaticBrokerConfig || !e.ReadOnly {
		t.Errorf("node.id: %+v", e)
	}
	e = find(t, entries, "num.partitions")
	want := []Synonym{{"num.partitions", "6", ConfigSourceStaticBrokerConfig}, {"num.partitions", "1", ConfigSourceDefaultConfig}}
	if e.Value != "6" || e.Source != ConfigSourceStaticBrokerConfig || !slices.Equal(e.Synonyms, want) {
		t.Errorf("num.partitions: %+v", e)
	}
	e = find(t, entries, "auto.create.topics.enable")
	if e.Value != "true" || e.Source != ConfigSourceDefaultConfig || e.Type != kmsg.ConfigTypeBoolean {
		t.Errorf("auto.create.topics.enable: %+v", e)
	}
	// log.roll.ms has no default: null, with log.roll.hours as its synonym.
	e = find(t, entries, "log.roll.ms")
	want = []Synonym{{"log.roll.hours", "2", ConfigSourceStaticBrokerConfig}, {"log.roll.hours", "168", ConfigSourceDefaultConfig}}
	if !e.IsNull || e.Source != ConfigSourceStaticBrokerConfig || !slices.Equal(e.Synonyms, want) {
		t.Errorf("log.roll.ms: %+v", e)
	}
	for name, want := range map[string]string{
		"message.max.bytes": "1048588", "log.retention.hours": "168", "log.retention.bytes": "-1",
		"socket.request.max.bytes": "104857600", "offsets.retention.minutes": "10080", "delete.topic.enable": "true",
		"default.replication.factor": "1", "log.segment.bytes": "1073741824", "compression.type": "producer",
		"log.message.timestamp.type": "CreateTime", "group.initial.rebalance.delay.ms": "3000",
	} {
		if e := find(t, entries, name); e.Value != want || e.Source != ConfigSourceDefaultConfig {
			t.Errorf("%s = %q (%v), want default %q", name, e.Value, e.Source, want)
		}
	}
	if err := ValidateBrokerConfigs(BrokerConfigs{"num.partitions": "0"}); err == nil {
		t.Error("num.partitions=0 accepted")
	}
	if err := ValidateBrokerConfigs(BrokerConfigs{"num.partitions": "3", "whatever": "x"}); err != nil {
		t.Error(err)
	}
}

func TestEffectiveLogConfig(t *testing.T) {
	def := EffectiveLogConfig(Topic{Name: "t"}, nil)
	want := LogConfig{
		SegmentBytes: 1073741824, SegmentMs: 604800000, SegmentIndexBytes: 10485760,
		RetentionMs: 604800000, RetentionBytes: -1, IndexIntervalBytes: 4096, MaxMessageBytes: 1048588,
		MessageTimestampBeforeMaxMs: 1<<63 - 1, MessageTimestampAfterMaxMs: 3600000,
		CleanupPolicy: "delete", Delete: true, DeleteRetentionMs: 86400000, MaxCompactionLagMs: 1<<63 - 1,
		MinCleanableDirtyRatio: 0.5, FileDeleteDelayMs: 60000, FlushMessages: 1<<63 - 1, FlushMs: 1<<63 - 1,
		CompressionType: "producer", GzipLevel: -1, Lz4Level: 9, ZstdLevel: 3, MinInsyncReplicas: 1,
	}
	if def != want {
		t.Fatalf("defaults\n got %+v\nwant %+v", def, want)
	}

	tp := Topic{Name: "t", Configs: map[string]string{
		"segment.bytes":          "2097152",
		"message.timestamp.type": "LogAppendTime",
		"cleanup.policy":         "delete,compact",
		"compression.type":       "zstd",
	}}
	broker := BrokerConfigs{
		"log.roll.hours":        "1",
		"log.retention.minutes": "10",
		"log.retention.bytes":   "5000",
		"message.max.bytes":     "100",
		"log.segment.bytes":     "1024", // below Kafka's minimum: static values are trusted
		"min.insync.replicas":   "2",
	}
	c := EffectiveLogConfig(tp, broker)
	if c.SegmentBytes != 2097152 || c.SegmentMs != 3600000 || c.RetentionMs != 600000 || c.RetentionBytes != 5000 ||
		c.MaxMessageBytes != 100 || !c.LogAppendTime || c.CleanupPolicy != "compact,delete" || !c.Compact || !c.Delete ||
		c.CompressionType != "zstd" || c.MinInsyncReplicas != 2 {
		t.Fatalf("got %+v", c)
	}
	if c := EffectiveLogConfig(Topic{Name: "t"}, broker); c.SegmentBytes != 1024 {
		t.Fatalf("broker log.segment.bytes: %d", c.SegmentBytes)
	}
	if c := EffectiveLogConfig(Topic{Name: "t", Configs: map[string]string{"internal.segment.bytes": "4096"}}, broker); c.SegmentBytes != 4096 {
		t.Fatalf("internal.segment.bytes: %d", c.SegmentBytes)
	}
	if c := EffectiveLogConfig(Topic{Name: "t", Configs: map[string]string{"cleanup.policy": ""}}, nil); c.Compact || c.Delete || c.CleanupPolicy != "" {
		t.Fatalf("empty cleanup.policy: %+v", c)
	}
	// A stored override that no longer parses falls back to the default.
	if c := EffectiveLogConfig(Topic{Name: "t", Configs: map[string]string{"retention.ms": "junk"}}, nil); c.RetentionMs != 604800000 {
		t.Fatalf("junk retention.ms: %d", c.RetentionMs)
	}
}
