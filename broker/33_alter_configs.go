package broker

// AlterConfigs: v0-v2.
//
// Behavior: replaces all of a topic's config overrides with the ones given
// (the legacy, non-incremental API). The checks are Kafka's
// (ConfigAdminManager.preprocess, ControllerConfigurationValidator): a
// resource named twice in one request gets INVALID_REQUEST ("Each resource
// must appear at most once."), a config named twice within one resource
// INVALID_REQUEST ("Error due to duplicate config keys"), a null value
// INVALID_REQUEST ("Null value not supported for : name"), an empty topic
// name INVALID_REQUEST, a bad topic name INVALID_TOPIC_EXCEPTION, an
// unknown topic UNKNOWN_TOPIC_OR_PARTITION, an unknown config or a bad value
// INVALID_CONFIG with Kafka's message (internal/meta validates). The
// overrides are persisted, then applied to the open partitions at once
// (segment.bytes, segment.ms, index.interval.bytes, max.message.bytes and
// message.timestamp.type from the next append; compression.type and
// message.downconversion.enable from the next request). validate_only
// checks only.
//
// BROKER resources: the name must be empty (cluster default) or this node's
// id (INVALID_REQUEST otherwise, Kafka's messages). We have no dynamic
// broker configs: every broker config comes from the broker's own
// configuration, so any key is refused with INVALID_REQUEST ("Cannot update
// these configs dynamically: ...", Kafka's error for a config that is not
// dynamic); a request that changes nothing succeeds. Other resource types
// get INVALID_REQUEST.
//
// ACLs: ALTER_CONFIGS on the topic (TOPIC_AUTHORIZATION_FAILED) or, for a
// broker, on the cluster (CLUSTER_AUTHORIZATION_FAILED), checked after the
// request-level checks above, as in Kafka.
//
// Version notes: v1 is v0 (throttling), v2 is flexible.

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/internal/auth"
	"github.com/chronik-stream/chronik/internal/meta"
)

func init() { regKey(kmsg.AlterConfigs, 0, 2, handleAlterConfigs) }

func handleAlterConfigs(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.AlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
	b := r.c.b
	type key struct {
		typ  kmsg.ConfigResourceType
		name string
	}
	seen := make(map[key]int, len(req.Resources))
	for _, rr := range req.Resources {
		seen[key{rr.ResourceType, rr.ResourceName}]++
	}
	for _, rr := range req.Resources {
		sr := kmsg.NewAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		names := make([]string, len(rr.Configs))
		var nulls []string
		configs := make(map[string]string, len(rr.Configs))
		for i, c := range rr.Configs {
			names[i] = c.Name
			if c.Value == nil {
				nulls = append(nulls, c.Name)
				continue
			}
			configs[c.Name] = *c.Value
		}
		var err error
		switch {
		case seen[key{rr.ResourceType, rr.ResourceName}] > 1:
			err = errResourceTwice
		case hasDuplicates(names):
			err = errDuplicateKeys
		case len(nulls) > 0:
			err = &kafkaErr{kerr.InvalidRequest, "Null value not supported for : " + strings.Join(nulls, ", ")}
		case rr.ResourceType == kmsg.ConfigResourceTypeTopic:
			if err = authorizeConfigs(r, rr.ResourceType, rr.ResourceName); err == nil {
				if err = checkTopicResource(rr.ResourceName); err == nil {
					err = b.setTopicConfigs(rr.ResourceName, configs, req.ValidateOnly)
				}
			}
		case rr.ResourceType == kmsg.ConfigResourceTypeBroker:
			if err = authorizeConfigs(r, rr.ResourceType, rr.ResourceName); err == nil {
				err = checkBrokerResource(b, rr.ResourceName, names)
			}
		default:
			err = &kafkaErr{kerr.InvalidRequest, fmt.Sprintf("Unknown resource type %d", rr.ResourceType)}
		}
		sr.ErrorCode, sr.ErrorMessage = errorCode(err), errMsg(err)
		resp.Resources = append(resp.Resources, sr)
	}
	return resp, nil
}

// kafkaErr is a Kafka error code with our own message; errorCode maps it
// through errors.As to its *kerr.Error.
type kafkaErr struct {
	code *kerr.Error
	msg  string
}

func (e *kafkaErr) Error() string { return e.msg }
func (e *kafkaErr) Unwrap() error { return e.code }

var (
	errResourceTwice = &kafkaErr{kerr.InvalidRequest, "Each resource must appear at most once."}
	errDuplicateKeys = &kafkaErr{kerr.InvalidRequest, "Error due to duplicate config keys"}
)

func hasDuplicates(names []string) bool {
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if seen[n] {
			return true
		}
		seen[n] = true
	}
	return false
}

// authorizeConfigs checks ALTER_CONFIGS on the resource a config change
// is for: the topic, or the cluster for broker resources.
func authorizeConfigs(r *request, typ kmsg.ConfigResourceType, name string) error {
	if typ == kmsg.ConfigResourceTypeTopic {
		if !r.authorize(auth.OpAlterConfigs, auth.ResourceTopic, name) {
			return kerr.TopicAuthorizationFailed
		}
		return nil
	}
	if !r.authorizeCluster(auth.OpAlterConfigs) {
		return kerr.ClusterAuthorizationFailed
	}
	return nil
}

// checkTopicResource checks the name of a TOPIC resource to alter.
func checkTopicResource(name string) error {
	if name == "" {
		return &kafkaErr{kerr.InvalidRequest, "Default topic resources are not allowed."}
	}
	return meta.ValidateTopicName(name)
}

// checkBrokerResource checks a BROKER resource to alter: its name, then the
// keys it would change, none of which we can change at runtime.
func checkBrokerResource(b *Broker, name string, keys []string) error {
	if name != "" {
		id, err := strconv.ParseInt(name, 10, 32)
		if err != nil {
			return &kafkaErr{kerr.InvalidRequest, "Node id must be an integer, but it is: " + name}
		}
		if int32(id) != b.cfg.NodeID {
			return &kafkaErr{kerr.InvalidRequest, fmt.Sprintf("Unexpected broker id, expected %d, but received %s", b.cfg.NodeID, name)}
		}
	}
	if len(keys) == 0 {
		return nil
	}
	return &kafkaErr{kerr.InvalidRequest, fmt.Sprintf("Cannot update these configs dynamically: Set(%s). This broker has no dynamic broker configs: set them in its configuration and restart it.", strings.Join(keys, ", "))}
}
