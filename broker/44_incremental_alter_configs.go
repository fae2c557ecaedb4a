package broker

// IncrementalAlterConfigs: v0-v1.
//
// Behavior: applies SET, DELETE, APPEND and SUBTRACT operations, in order,
// to a topic's config overrides (internal/meta: APPEND and SUBTRACT work on
// LIST configs, starting from Kafka's default when there is no override),
// validates the result as a whole (INVALID_CONFIG with Kafka's message),
// persists it and applies it to the open partitions at once, as
// AlterConfigs does (33_alter_configs.go). The request checks are Kafka's:
// a resource named twice is INVALID_REQUEST ("Each resource must appear at
// most once."), a config named twice within a resource INVALID_REQUEST
// ("Error due to duplicate config keys"), a null value for anything but
// DELETE INVALID_REQUEST ("Null value not supported for : name"), an
// unknown operation INVALID_REQUEST. validate_only checks only.
//
// BROKER resources: as in AlterConfigs, we have no dynamic broker configs;
// SET, APPEND and SUBTRACT are refused with INVALID_REQUEST ("Cannot update
// these configs dynamically: ..."), DELETE of an override that cannot exist
// succeeds. BROKER_LOGGER resources (KIP-412 log levels) are refused with
// INVALID_REQUEST: the broker's logger is given to it, not owned. Other
// resource types get INVALID_REQUEST.
//
// ACLs: as in AlterConfigs; BROKER_LOGGER needs ALTER_CONFIGS on the
// cluster too.
//
// Version notes: v1 is flexible.

import (
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/internal/meta"
)

func init() { regKey(kmsg.IncrementalAlterConfigs, 0, 1, handleIncrementalAlterConfigs) }

func handleIncrementalAlterConfigs(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.IncrementalAlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
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
		sr := kmsg.NewIncrementalAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		names := make([]string, len(rr.Configs))
		var nulls, changed []string
		var badOp error
		ops := make([]meta.ConfigOp, 0, len(rr.Configs))
		for i, c := range rr.Configs {
			names[i] = c.Name
			switch c.Op {
			case kmsg.IncrementalAlterConfigOpSet, kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
				changed = append(changed, c.Name)
				if c.Value == nil {
					nulls = append(nulls, c.Name)
					continue
				}
			case kmsg.IncrementalAlterConfigOpDelete:
			default:
				if badOp == nil {
					badOp = &kafkaErr{kerr.InvalidRequest, fmt.Sprintf("Unknown operations type %d", c.Op)}
				}
				continue
			}
			op := meta.ConfigOp{Name: c.Name, Op: c.Op}
			if c.Value != nil {
				op.Value = *c.Value
			}
			ops = append(ops, op)
		}
		var err error
		switch {
		case seen[key{rr.ResourceType, rr.ResourceName}] > 1:
			err = errResourceTwice
		case hasDuplicates(names):
			err = errDuplicateKeys
		case len(nulls) > 0:
			err = &kafkaErr{kerr.InvalidRequest, "Null value not supported for : " + strings.Join(nulls, ", ")}
		case badOp != nil:
			err = badOp
		case rr.ResourceType == kmsg.ConfigResourceTypeTopic:
			if err = authorizeConfigs(r, rr.ResourceType, rr.ResourceName); err == nil {
				if err = checkTopicResource(rr.ResourceName); err == nil {
					err = b.alterTopicConfigs(rr.ResourceName, ops, req.ValidateOnly)
				}
			}
		case rr.ResourceType == kmsg.ConfigResourceTypeBroker:
			if err = authorizeConfigs(r, rr.ResourceType, rr.ResourceName); err == nil {
				err = checkBrokerResource(b, rr.ResourceName, changed)
			}
		case rr.ResourceType == kmsg.ConfigResourceTypeBrokerLogger:
			if err = authorizeConfigs(r, rr.ResourceType, rr.ResourceName); err == nil {
				err = &kafkaErr{kerr.InvalidRequest, "Changing log levels at runtime is not supported by this broker; set its log level at start-up."}
			}
		default:
			err = &kafkaErr{kerr.InvalidRequest, fmt.Sprintf("Unknown resource type %d", rr.ResourceType)}
		}
		sr.ErrorCode, sr.ErrorMessage = errorCode(err), errMsg(err)
		resp.Resources = append(resp.Resources, sr)
	}
	return resp, nil
}
