package broker

// DescribeConfigs: v0-v4.
//
// Behavior: a topic resource lists every topic config with its effective
// value and source — a topic override is DYNAMIC_TOPIC_CONFIG, a value the
// operator set on the broker STATIC_BROKER_CONFIG, else DEFAULT_CONFIG —
// with synonyms (v1+, when asked) in Kafka's order and documentation (v3+,
// when asked). A broker resource must name this node (or be empty, Kafka's
// cluster-wide dynamic defaults, of which we have none). A broker-logger
// resource lists the root logger's level. Sensitive values are null.

import (
	"fmt"
	"log/slog"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/internal/meta"
)

func init() { regKey(kmsg.DescribeConfigs, 0, 4, handleDescribeConfigs) }

func handleDescribeConfigs(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DescribeConfigsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	b := r.c.b
	for _, rr := range req.Resources {
		sr := kmsg.NewDescribeConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		fail := func(code int16, msg string) {
			sr.ErrorCode = code
			sr.ErrorMessage = &msg
		}
		var entries []meta.ConfigEntry
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			ts := b.topic(rr.ResourceName)
			if ts == nil {
				fail(kerr.UnknownTopicOrPartition.Code, fmt.Sprintf("The topic '%s' does not exist.", rr.ResourceName))
				break
			}
			t, _ := b.meta.Topic(rr.ResourceName)
			entries = meta.DescribeTopicConfigs(t, b.brokerConfigs())
		case kmsg.ConfigResourceTypeBroker:
			if rr.ResourceName == "" {
				break // no cluster-wide dynamic defaults
			}
			if id, err := strconv.Atoi(rr.ResourceName); err != nil || int32(id) != b.cfg.NodeID {
				fail(kerr.InvalidRequest.Code, fmt.Sprintf("Unexpected broker id, expected %d, but received %s", b.cfg.NodeID, rr.ResourceName))
				break
			}
			entries = meta.DescribeBrokerConfigs(b.brokerConfigs())
		case kmsg.ConfigResourceTypeBrokerLogger:
			if id, err := strconv.Atoi(rr.ResourceName); err != nil || int32(id) != b.cfg.NodeID {
				fail(kerr.InvalidRequest.Code, fmt.Sprintf("Unexpected broker id, expected %d, but received %s", b.cfg.NodeID, rr.ResourceName))
				break
			}
			entries = []meta.ConfigEntry{{Name: "root", Value: loggerLevel(b.log), Source: meta.ConfigSource(kmsg.ConfigSourceDynamicBrokerLoggerConfig), Type: kmsg.ConfigTypeString}}
		default:
			fail(kerr.InvalidRequest.Code, fmt.Sprintf("Unsupported resource type %d", rr.ResourceType))
		}
		var want map[string]bool
		if rr.ConfigNames != nil {
			want = make(map[string]bool, len(rr.ConfigNames))
			for _, n := range rr.ConfigNames {
				want[n] = true
			}
		}
		for _, e := range entries {
			if want != nil && !want[e.Name] {
				continue
			}
			c := kmsg.NewDescribeConfigsResponseResourceConfig()
			c.Name, c.ReadOnly, c.IsSensitive = e.Name, e.ReadOnly, e.Sensitive
			c.Source = kmsg.ConfigSource(e.Source)
			c.IsDefault = c.Source == kmsg.ConfigSourceDefaultConfig
			if !e.IsNull && !e.Sensitive {
				v := e.Value
				c.Value = &v
			}
			if r.version >= 1 && req.IncludeSynonyms {
				for _, s := range e.Synonyms {
					cs := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
					cs.Name, cs.Source = s.Name, kmsg.ConfigSource(s.Source)
					if !e.Sensitive {
						v := s.Value
						cs.Value = &v
					}
					c.ConfigSynonyms = append(c.ConfigSynonyms, cs)
				}
			}
			if r.version >= 3 {
				c.ConfigType = e.Type
				if req.IncludeDocumentation && e.Doc != "" {
					d := e.Doc
					c.Documentation = &d
				}
			}
			sr.Configs = append(sr.Configs, c)
		}
		resp.Resources = append(resp.Resources, sr)
	}
	return resp, nil
}

func loggerLevel(l *slog.Logger) string {
	for _, lv := range []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError} {
		if l.Enabled(nil, lv) { //nolint:staticcheck // Enabled takes a nil context
			switch lv {
			case slog.LevelDebug:
				return "DEBUG"
			case slog.LevelInfo:
				return "INFO"
			case slog.LevelWarn:
				return "WARN"
			}
			return "ERROR"
		}
	}
	return "ERROR"
}
