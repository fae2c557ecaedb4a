package broker

// ACL checks of every API, as Kafka's KafkaApis makes them, kept out of the
// handler files: one hook per API key. With an authorizer, conn.go runs a
// request through r.handle, which calls the API's hook before the handler.
// A hook either answers the whole request itself (deny: a group the
// principal may not read, say) or drops from the request what the
// principal may not touch and returns post, which adds those refusals to
// the handler's response with the right *_AUTHORIZATION_FAILED code. The
// handler thus never sees a resource it must not reveal, and needs no
// change.
//
// An API with no hook needs ALTER on the cluster: a newly added API is
// closed to ordinary principals until its checks are written here.
//
// Operations per API (Kafka's): Produce WRITE topic (and WRITE on the
// transactional id); Fetch READ topic (CLUSTER_ACTION for replicas);
// ListOffsets, OffsetForLeaderEpoch, Metadata, DescribeTopicPartitions
// DESCRIBE topic; DescribeProducers READ topic (Metadata hides the topics the principal may not describe
// when listing all, and auto-creation needs CREATE on the cluster or the
// topic); OffsetCommit READ group and topic; OffsetFetch DESCRIBE group and
// topic; FindCoordinator DESCRIBE group or transactional id; JoinGroup,
// SyncGroup, Heartbeat, LeaveGroup READ group; DescribeGroups DESCRIBE
// group; ListGroups DESCRIBE cluster, else only describable groups;
// DeleteGroups DELETE group; OffsetDelete DELETE group and READ topic;
// CreateTopics CREATE cluster or topic; DeleteTopics, DeleteRecords DELETE
// topic; CreatePartitions ALTER topic; DescribeConfigs DESCRIBE_CONFIGS,
// AlterConfigs and IncrementalAlterConfigs ALTER_CONFIGS on the topic or
// the cluster; InitProducerId WRITE on the transactional id, or
// IDEMPOTENT_WRITE on the cluster or WRITE on some topic (KIP-679);
// DescribeLogDirs DESCRIBE cluster; DescribeCluster is open to all (its
// authorized operations need DESCRIBE cluster). The ACL and SCRAM APIs
// check the cluster themselves.

import (
	"fmt"
	"math"
	"reflect"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/internal/auth"
)

// aclHook checks a request before its handler; see the file comment.
type aclHook func(r *request) (post func(kmsg.Response), deny kmsg.Response, err error)

var (
	codeTopicAuth   = kerr.TopicAuthorizationFailed.Code
	codeGroupAuth   = kerr.GroupAuthorizationFailed.Code
	codeClusterAuth = kerr.ClusterAuthorizationFailed.Code
	codeTxnAuth     = kerr.TransactionalIDAuthorizationFailed.Code
)

// aclExempt are the APIs every principal may call: version discovery and
// authentication, and the APIs that authorize inside their handlers.
var aclExempt = map[int16]bool{
	kmsg.ApiVersions.Int16(): true, kmsg.SASLHandshake.Int16(): true, kmsg.SASLAuthenticate.Int16(): true,
	kmsg.DescribeACLs.Int16(): true, kmsg.CreateACLs.Int16(): true, kmsg.DeleteACLs.Int16(): true,
	kmsg.DescribeUserSCRAMCredentials.Int16(): true, kmsg.AlterUserSCRAMCredentials.Int16(): true,
}

var aclHooks = map[int16]aclHook{
	kmsg.Produce.Int16():                 aclProduce,
	kmsg.Fetch.Int16():                   aclFetch,
	kmsg.ListOffsets.Int16():             aclListOffsets,
	kmsg.Metadata.Int16():                aclMetadata,
	kmsg.OffsetCommit.Int16():            aclOffsetCommit,
	kmsg.OffsetFetch.Int16():             aclOffsetFetch,
	kmsg.FindCoordinator.Int16():         aclFindCoordinator,
	kmsg.JoinGroup.Int16():               aclGroupRead(func(r *request) string { return r.kreq.(*kmsg.JoinGroupRequest).Group }),
	kmsg.Heartbeat.Int16():               aclGroupRead(func(r *request) string { return r.kreq.(*kmsg.HeartbeatRequest).Group }),
	kmsg.LeaveGroup.Int16():              aclGroupRead(func(r *request) string { return r.kreq.(*kmsg.LeaveGroupRequest).Group }),
	kmsg.SyncGroup.Int16():               aclSyncGroup,
	kmsg.DescribeGroups.Int16():          aclDescribeGroups,
	kmsg.ListGroups.Int16():              aclListGroups,
	kmsg.CreateTopics.Int16():            aclCreateTopics,
	kmsg.DeleteTopics.Int16():            aclDeleteTopics,
	kmsg.DeleteRecords.Int16():           aclDeleteRecords,
	kmsg.InitProducerID.Int16():          aclInitProducerID,
	kmsg.OffsetForLeaderEpoch.Int16():    aclOffsetForLeaderEpoch,
	kmsg.DescribeConfigs.Int16():         aclDescribeConfigs,
	kmsg.AlterConfigs.Int16():            aclAlterConfigs,
	kmsg.IncrementalAlterConfigs.Int16(): aclIncrementalAlterConfigs,
	kmsg.DescribeLogDirs.Int16():         aclClusterDescribe,
	kmsg.CreatePartitions.Int16():        aclCreatePartitions,
	kmsg.DeleteGroups.Int16():            aclDeleteGroups,
	kmsg.OffsetDelete.Int16():            aclOffsetDelete,
	kmsg.DescribeCluster.Int16():         aclDescribeCluster,
	kmsg.DescribeTopicPartitions.Int16(): aclDescribeTopicPartitions,
	kmsg.DescribeProducers.Int16():       aclDescribeProducers,
}

// handle runs the request's handler under the authorizer.
func (r *request) handle(fn func(*request) (kmsg.Response, error)) (kmsg.Response, error) {
	if r.c.b.sec == nil || r.c.b.sec.authz == nil || aclExempt[r.key] {
		return fn(r)
	}
	hook := aclHooks[r.key]
	if hook == nil {
		if r.authorizeCluster(auth.OpAlter) {
			return fn(r)
		}
		if resp := topLevelError(r.kreq, codeClusterAuth); resp != nil {
			return resp, nil
		}
		return nil, fmt.Errorf("%s: %s may not use this API (no ACL check is defined for it; needs ALTER on the cluster)", kmsg.NameForKey(r.key), r.c.auth.principal)
	}
	post, deny, err := hook(r)
	if err != nil {
		return nil, err
	}
	if deny != nil {
		return deny, nil
	}
	resp, err := fn(r)
	if err == nil && post != nil && resp != nil {
		// A handler that finishes its response on the writer (r.wait:
		// groups, produce) is filtered after it has filled it.
		if w := r.wait; w != nil {
			r.wait = func() { w(); post(resp) }
		} else {
			post(resp)
		}
	}
	return resp, err
}

// topLevelError is req's response with its top-level ErrorCode set, or nil
// if the response has none at this version.
func topLevelError(req kmsg.Request, code int16) kmsg.Response {
	resp := req.ResponseKind()
	if f := reflect.ValueOf(resp).Elem().FieldByName("ErrorCode"); f.IsValid() && f.Kind() == reflect.Int16 && f.CanSet() {
		f.SetInt(int64(code))
		return resp
	}
	return nil
}

// topicName is the name of a topic given by name or id ("" for an unknown
// id, which the handler answers UNKNOWN_TOPIC_ID).
func (r *request) topicName(name string, id [16]byte) string {
	if name != "" || id == ([16]byte{}) {
		return name
	}
	if ts := r.c.b.topicByID(id); ts != nil {
		return ts.meta.Name
	}
	return ""
}

// allowedTopic authorizes op on a topic given by name or id; an unknown id
// passes, so the handler reports it.
func (r *request) allowedTopic(op auth.Operation, name string, id [16]byte) bool {
	n := r.topicName(name, id)
	if n == "" && (id != ([16]byte{}) || r.topicsByID()) {
		return true
	}
	return r.authorize(op, auth.ResourceTopic, n)
}

// topicsByID reports whether the request's version names topics by id only
// (Produce and Fetch v13+): a topic without a known id, the zero one too, is
// then UNKNOWN_TOPIC_ID from the handler before any authorization, as from
// Kafka, which cannot authorize a topic it cannot name.
func (r *request) topicsByID() bool {
	switch r.kreq.Key() {
	case kmsg.Produce.Int16(), kmsg.Fetch.Int16():
		return r.kreq.GetVersion() >= 13
	}
	return false
}

// authorizedOps is the authorized-operations bit field of a resource.
func (r *request) authorizedOps(rt auth.ResourceType, name string) int32 {
	var ops []auth.Operation
	switch rt {
	case auth.ResourceTopic:
		ops = []auth.Operation{auth.OpRead, auth.OpWrite, auth.OpCreate, auth.OpDelete, auth.OpAlter, auth.OpDescribe, auth.OpDescribeConfigs, auth.OpAlterConfigs}
	case auth.ResourceGroup:
		ops = []auth.Operation{auth.OpRead, auth.OpDescribe, auth.OpDelete, auth.OpDescribeConfigs, auth.OpAlterConfigs} // Kafka 4.1 reports 3400
	case auth.ResourceCluster:
		ops = []auth.Operation{auth.OpCreate, auth.OpAlter, auth.OpDescribe, auth.OpClusterAction, auth.OpDescribeConfigs, auth.OpAlterConfigs, auth.OpIdempotentWrite, auth.OpCreateTokens, auth.OpDescribeTokens}
	}
	var bits int32
	for _, op := range ops {
		if r.c.b.sec.authz.Authorize(r.c.auth.principal, r.c.auth.host, op, rt, name) {
			bits |= 1 << op
		}
	}
	return bits
}

// splitDenied takes out of *items those allowed refuses and returns them,
// in order; the request goes on with the rest.
func splitDenied[T any](items *[]T, allowed func(*T) bool) []T {
	var denied []T
	keep := (*items)[:0:0]
	for i := range *items {
		if allowed(&(*items)[i]) {
			keep = append(keep, (*items)[i])
		} else {
			denied = append(denied, (*items)[i])
		}
	}
	if len(denied) > 0 {
		*items = keep
	}
	return denied
}

// answerDenied is the post hook that answers each denied item in the
// response, nil when none was denied.
func answerDenied[T any](denied []T, answer func(kmsg.Response, *T)) func(kmsg.Response) {
	if len(denied) == 0 {
		return nil
	}
	return func(resp kmsg.Response) {
		for i := range denied {
			answer(resp, &denied[i])
		}
	}
}

// ---- topics ----

func aclProduce(r *request) (func(kmsg.Response), kmsg.Response, error) {
	req := r.kreq.(*kmsg.ProduceRequest)
	txnDenied := req.TransactionID != nil && !r.authorize(auth.OpWrite, auth.ResourceTransactionalID, *req.TransactionID)
	denied := splitDenied(&req.Topics, func(t *kmsg.ProduceRequestTopic) bool {
		return !txnDenied && r.allowedTopic(auth.OpWrite, t.Topic, t.TopicID)
	})
	if len(denied) > 0 && req.Acks == 0 {
		// acks=0 is never answered: like any failed acks=0 produce, we
		// close the connection so the client notices.
		return nil, nil, fmt.Errorf("acks=0 produce by %s refused: not authorized", r.c.auth.principal)
	}
	code := codeTopicAuth
	if txnDenied {
		code = codeTxnAuth
	}
	return answerDenied(denied, func(resp kmsg.Response, t *kmsg.ProduceRequestTopic) {
		rt := kmsg.NewProduceResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewProduceResponseTopicPartition()
			rp.Partition, rp.ErrorCode, rp.BaseOffset, rp.LogAppendTime, rp.LogStartOffset = p.Partition, code, -1, -1, -1
			rt.Partitions = append(rt.Partitions, rp)
		}
		pr := resp.(*kmsg.ProduceResponse)
		pr.Topics = append(pr.Topics, rt)
	}), nil, nil
}

func aclFetch(r *request) (func(kmsg.Response), kmsg.Response, error) {
	req := r.kreq.(*kmsg.FetchRequest)
	replica := req.ReplicaID >= 0 || req.ReplicaState.ID >= 0
	clusterOK := replica && r.authorizeCluster(auth.OpClusterAction)
	denied := splitDenied(&req.Topics, func(t *kmsg.FetchRequestTopic) bool {
		if replica {
			return clusterOK
		}
		return r.allowedTopic(auth.OpRead, t.Topic, t.TopicID)
	})
	return answerDenied(denied, func(resp kmsg.Response, t *kmsg.FetchRequestTopic) {
		rt := kmsg.NewFetchResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewFetchResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, codeTopicAuth
			rp.HighWatermark, rp.LastStableOffset, rp.LogStartOffset, rp.PreferredReadReplica = -1, -1, -1, -1
			rt.Partitions = append(rt.Partitions, rp)
		}
		fr := resp.(*kmsg.FetchResponse)
		fr.Topics = append(fr.Topics, rt)
	}), nil, nil
}

func aclListOffsets(r *request) (func(kmsg.Response), kmsg.Response, error) {
	req := r.kreq.(*kmsg.ListOffsetsRequest)
	denied := splitDenied(&req.Topics, func(t *kmsg.ListOffsetsRequestTopic) bool {
		return r.authorize(auth.OpDescribe, auth.ResourceTopic, t.Topic)
	})
	return answerDenied(denied, func(resp kmsg.Response, t *kmsg.ListOffsetsRequestTopic) {
		rt := kmsg.NewListOffsetsResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewListOffsetsResponseTopicPartition()
			rp.Partition, rp.ErrorCode, rp.Timestamp, rp.Offset, rp.LeaderEpoch = p.Partition, codeTopicAuth, -1, -1, -1
			rt.Partitions = append(rt.Partitions, rp)
		}
		lr := resp.(*kmsg.ListOffsetsResponse)
		lr.Topics = append(lr.Topics, rt)
	}), nil, nil
}

func aclOffsetForLeaderEpoch(r *request) (func(kmsg.Response), kmsg.Response, error) {
	req := r.kreq.(*kmsg.OffsetForLeaderEpochRequest)
	replica := r.version >= 3 && req.ReplicaID >= 0
	clusterOK := replica && r.authorizeCluster(auth.OpClusterAction)
	denied := splitDenied(&req.Topics, func(t *kmsg.OffsetForLeaderEpochRequestTopic) bool {
		if replica {
			return clusterOK
		}
		return r.authorize(auth.OpDescribe, auth.ResourceTopic, t.Topic)
	})
	return answerDenied(denied, func(resp kmsg.Response, t *kmsg.OffsetForLeaderEpochRequestTopic) {
		rt := kmsg.NewOffsetForLeaderEpochResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			rp.Partition, rp.ErrorCode, rp.LeaderEpoch, rp.EndOffset = p.Partition, codeTopicAuth, -1, -1
			rt.Partitions = append(rt.Partitions, rp)
		}
		or := resp.(*kmsg.OffsetForLeaderEpochResponse)
		or.Topics = append(or.Topics, rt)
	}), nil, nil
}

func aclMetadata(r *request) (func(kmsg.Response), kmsg.Response, error) {
	req := r.kreq.(*kmsg.MetadataRequest)
	b := r.c.b
	all := req.Topics == nil || (r.version == 0 && len(req.Topics) == 0)
	var denied []kmsg.MetadataResponseTopic
	if !all {
		autoCreate := b.cfg.AutoCreateTopics && (r.version < 4 || req.AllowAutoTopicCreation)
		keep := req.Topics[:0:0]
		for _, t := range req.Topics {
			deny := func(name *string, id [16]byte) {
				mt := kmsg.NewMetadataResponseTopic()
				mt.ErrorCode, mt.Topic, mt.TopicID = codeTopicAuth, name, id
				denied = append(denied, mt)
			}
			if t.Topic == nil {
				ts := b.topicByID(t.TopicID)
				if ts != nil && !r.authorize(auth.OpDescribe, auth.ResourceTopic, ts.meta.Name) {
					deny(nil, t.TopicID) // ids are not secret; names are
					continue
				}
				keep = append(keep, t)
				continue
			}
			name := *t.Topic
			if !r.authorize(auth.OpDescribe, auth.ResourceTopic, name) {
				deny(t.Topic, [16]byte{})
				continue
			}
			if autoCreate && b.topic(name) == nil && !r.authorizeCluster(auth.OpCreate) && !r.authorize(auth.OpCreate, auth.ResourceTopic, name) {
				deny(t.Topic, [16]byte{})
				continue
			}
			keep = append(keep, t)
		}
		if len(keep) == 0 && r.version == 0 {
			// An empty v0 list means every topic: answer ourselves.
			resp := req.ResponseKind().(*kmsg.MetadataResponse)
			br := kmsg.NewMetadataResponseBroker()
			br.NodeID, br.Host, br.Port = b.cfg.NodeID, r.listenerHost(), r.listenerPort()
			resp.Brokers = append(resp.Brokers, br)
			resp.ControllerID = b.cfg.NodeID
			resp.Topics = denied
			return nil, resp, nil
		}
		req.Topics = keep
	}
	return func(resp kmsg.Response) {
		mr := resp.(*kmsg.MetadataResponse)
		if all {
			kept := mr.Topics[:0]
			for _, t := range mr.Topics {
				if t.Topic == nil || r.authorize(auth.OpDescribe, auth.ResourceTopic, *t.Topic) {
					kept = append(kept, t)
				}
			}
			mr.Topics = kept
		}
		if req.IncludeTopicAuthorizedOperations {
			for i, t := range mr.Topics {
				if t.Topic != nil && t.ErrorCode == 0 {
					mr.Topics[i].AuthorizedOperations = r.authorizedOps(auth.ResourceTopic, *t.Topic)
				}
			}
		}
		if req.IncludeClusterAuthorizedOperations {
			mr.AuthorizedOperations = 0
			if r.authorizeCluster(auth.OpDescribe) {
				mr.AuthorizedOperations = r.authorizedOps(auth.ResourceCluster, auth.ClusterName)
			}
		}
		mr.Topics = append(mr.Topics, denied...)
	}, nil, nil
}

func aclDescribeTopicPartitions(r *request) (func(kmsg.Response), kmsg.Response, error) {
	req := r.kreq.(*kmsg.DescribeTopicPartitionsRequest)
	var denied []string
	keep := req.Topics[:0:0]
	for _, t := range req.Topics {
		if r.authorize(auth.OpDescribe, auth.ResourceTopic, t.Topic) {
			keep = append(keep, t)
		} else {
			denied = append(denied, t.Topic)
		}
	}
	explicit := len(req.Topics) > 0
	req.Topics = keep
	if explicit && len(keep) == 0 {
		// No topics left would mean every topic: answer ourselves.
		resp := req.ResponseKind().(*kmsg.DescribeTopicPartitionsResponse)
		for _, name := range denied {
			t := kmsg.NewDescribeTopicPartitionsResponseTopic()
			t.ErrorCode, t.Topic = codeTopicAuth, kmsg.StringPtr(name)
			resp.Topics = append(resp.Topics, t)
		}
		return nil, resp, nil
	}
	return func(resp kmsg.Response) {
		dr := resp.(*kmsg.DescribeTopicPartitionsResponse)
		kept := dr.Topics[:0]
		for _, t := range dr.Topics {
			if t.Topic == nil || t.ErrorCode != 0 {
				kept = append(kept, t)
				continue
			}
			if r.authorize(auth.OpDescribe, auth.ResourceTopic, *t.Topic) {
				t.AuthorizedOperations = r.authorizedOps(auth.ResourceTopic, *t.Topic)
				kept = append(kept, t)
			}
		}
		dr.Topics = kept
		for _, name := range denied {
			t := kmsg.NewDescribeTopicPartitionsResponseTopic()
			t.ErrorCode, t.Topic = codeTopicAuth, kmsg.StringPtr(name)
			dr.Topics = append(dr.Topics, t)
		}
	}, nil, nil
}

func aclDescribeProducers(r *request) (func(kmsg.Response), kmsg.Response, error) {
	req := r.kreq.(*kmsg.DescribeProducersRequest)
	denied := splitDenied(&req.Topics, func(t *kmsg.DescribeProducersRequestTopic) bool {
		return r.authorize(auth.OpRead, auth.ResourceTopic, t.Topic)
	})
	return answerDenied(denied, func(resp kmsg.Response, t *kmsg.DescribeProducersRequestTopic) {
		rt := kmsg.NewDescribeProducersResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewDescribeProducersResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p, codeTopicAuth
			rt.Partitions = append(rt.Partitions, rp)
		}
		dr := resp.(*kmsg.DescribeProducersResponse)
		dr.Topics = append(dr.Topics, rt)
	}), nil, nil
}

func aclCreateTopics(r *request) (func(kmsg.Response), kmsg.Response, error) {
	req := r.kreq.(*kmsg.CreateTopicsRequest)
	cluster := r.authorizeCluster(auth.OpCreate)
	var denied []string
	keep := req.Topics[:0:0]
	for _, t := range req.Topics {
		if cluster || r.authorize(auth.OpCreate, auth.ResourceTopic, t.Topic) {
			keep = append(keep, t)
		} else {
			denied = append(denied, t.Topic)
		}
	}
	req.Topics = keep
	return func(resp kmsg.Response) {
		cr := resp.(*kmsg.CreateTopicsResponse)
		for i, t := range cr.Topics {
			if r.version >= 5 && t.ErrorCode == 0 && !r.authorize(auth.OpDescribeConfigs, auth.ResourceTopic, t.Topic) {
				cr.Topics[i].Configs, cr.Topics[i].ConfigErrorCode = nil, codeTopicAuth
			}
		}
		for _, name := range denied {
			t := kmsg.NewCreateTopicsResponseTopic()
			t.Topic, t.ErrorCode, t.ErrorMessage = name, codeTopicAuth, kmsg.StringPtr("Authorization failed.")
			t.NumPartitions, t.ReplicationFactor = -1, -1
			cr.Topics = append(cr.Topics, t)
		}
	}, nil, nil
}

func aclDeleteTopics(r *request) (func(kmsg.Response), kmsg.Response, error) {
	req := r.kreq.(*kmsg.DeleteTopicsRequest)
	var denied []kmsg.DeleteTopicsResponseTopic
	deny := func(name *string, id [16]byte) {
		t := kmsg.NewDeleteTopicsResponseTopic()
		t.Topic, t.TopicID, t.ErrorCode = name, id, codeTopicAuth
		denied = append(denied, t)
	}
	if r.version < 6 {
		keep := req.TopicNames[:0:0]
		for _, n := range req.TopicNames {
			if r.authorize(auth.OpDelete, auth.ResourceTopic, n) {
				keep = append(keep, n)
			} else {
				deny(kmsg.StringPtr(n), [16]byte{})
			}
		}
		req.TopicNames = keep
	} else {
		keep := req.Topics[:0:0]
		for _, t := range req.Topics {
			name := ""
			if t.Topic != nil {
				name = *t.Topic
			}
			if r.allowedTopic(auth.OpDelete, name, t.TopicID) {
				keep = append(keep, t)
			} else {
				deny(t.Topic, t.TopicID)
			}
		}
		req.Topics = keep
	}
	if len(denied) == 0 {
		return nil, nil, nil
	}
	return func(resp kmsg.Response) {
		dr := resp.(*kmsg.DeleteTopicsResponse)
		dr.Topics = append(dr.Topics, denied...)
	}, nil, nil
}

func aclDeleteRecords(r *request) (func(kmsg.Response), kmsg.Response, error) {
	req := r.kreq.(*kmsg.DeleteRecordsRequest)
	denied := splitDenied(&req.Topics, func(t *kmsg.DeleteRecordsRequestTopic) bool {
		return r.authorize(auth.OpDelete, auth.ResourceTopic, t.Topic)
	})
	return answerDenied(denied, func(resp kmsg.Response, t *kmsg.DeleteRecordsRequestTopic) {
		rt := kmsg.NewDeleteRecordsResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewDeleteRecordsResponseTopicPartition()
			rp.Partition, rp.ErrorCode, rp.LowWatermark = p.Partition, codeTopicAuth, -1
			rt.Partitions = append(rt.Partitions, rp)
		}
		dr := resp.(*kmsg.DeleteRecordsResponse)
		dr.Topics = append(dr.Topics, rt)
	}), nil, nil
}

func aclCreatePartitions(r *request) (func(kmsg.Response), kmsg.Response, error) {
	req := r.kreq.(*kmsg.CreatePartitionsRequest)
	denied := splitDenied(&req.Topics, func(t *kmsg.CreatePartitionsRequestTopic) bool {
		return r.authorize(auth.OpAlter, auth.ResourceTopic, t.Topic)
	})
	return answerDenied(denied, func(resp kmsg.Response, d *kmsg.CreatePartitionsRequestTopic) {
		t := kmsg.NewCreatePartitionsResponseTopic()
		t.Topic, t.ErrorCode, t.ErrorMessage = d.Topic, codeTopicAuth, kmsg.StringPtr(kerr.TopicAuthorizationFailed.Description)
		cr := resp.(*kmsg.CreatePartitionsResponse)
		cr.Topics = append(cr.Topics, t)
	}), nil, nil
}

// ---- configs ----

// configResource authorizes op on a config resource: topics by name, the
// broker (and its loggers) as the cluster. Other types pass to the handler.
func (r *request) configResource(op auth.Operation, typ kmsg.ConfigResourceType, name string) (ok bool, code int16) {
	switch typ {
	case kmsg.ConfigResourceTypeTopic:
		return r.authorize(op, auth.ResourceTopic, name), codeTopicAuth
	case kmsg.ConfigResourceTypeBroker, kmsg.ConfigResourceTypeBrokerLogger:
		return r.authorizeCluster(op), codeClusterAuth
	}
	return true, 0
}

type deniedConfig struct {
	typ  kmsg.ConfigResourceType
	name string
	code int16
}

func (d *deniedConfig) message() *string {
	return kmsg.StringPtr(kerr.ErrorForCode(d.code).(*kerr.Error).Description)
}

// aclConfigs checks op on each of the resources of a config request
// (configResource) and answers the denied ones.
func aclConfigs[Q any](r *request, op auth.Operation, resources *[]Q, key func(*Q) (kmsg.ConfigResourceType, string), answer func(kmsg.Response, *deniedConfig)) func(kmsg.Response) {
	var denied []deniedConfig
	splitDenied(resources, func(q *Q) bool {
		typ, name := key(q)
		ok, code := r.configResource(op, typ, name)
		if !ok {
			denied = append(denied, deniedConfig{typ, name, code})
		}
		return ok
	})
	return answerDenied(denied, answer)
}

func aclDescribeConfigs(r *request) (func(kmsg.Response), kmsg.Response, error) {
	req := r.kreq.(*kmsg.DescribeConfigsRequest)
	return aclConfigs(r, auth.OpDescribeConfigs, &req.Resources,
		func(q *kmsg.DescribeConfigsRequestResource) (kmsg.ConfigResourceType, string) {
			return q.ResourceType, q.ResourceName
		},
		func(resp kmsg.Response, d *deniedConfig) {
			res := kmsg.NewDescribeConfigsResponseResource()
			res.ResourceType, res.ResourceName, res.ErrorCode, res.ErrorMessage = d.typ, d.name, d.code, d.message()
			dr := resp.(*kmsg.DescribeConfigsResponse)
			dr.Resources = append(dr.Resources, res)
		}), nil, nil
}

func aclAlterConfigs(r *request) (func(kmsg.Response), kmsg.Response, error) {
	req := r.kreq.(*kmsg.AlterConfigsRequest)
	return aclConfigs(r, auth.OpAlterConfigs, &req.Resources,
		func(q *kmsg.AlterConfigsRequestResource) (kmsg.ConfigResourceType, string) {
			return q.ResourceType, q.ResourceName
		},
		func(resp kmsg.Response, d *deniedConfig) {
			res := kmsg.NewAlterConfigsResponseResource()
			res.ResourceType, res.ResourceName, res.ErrorCode, res.ErrorMessage = d.typ, d.name, d.code, d.message()
			ar := resp.(*kmsg.AlterConfigsResponse)
			ar.Resources = append(ar.Resources, res)
		}), nil, nil
}

func aclIncrementalAlterConfigs(r *request) (func(kmsg.Response), kmsg.Response, error) {
	req := r.kreq.(*kmsg.IncrementalAlterConfigsRequest)
	return aclConfigs(r, auth.OpAlterConfigs, &req.Resources,
		func(q *kmsg.IncrementalAlterConfigsRequestResource) (kmsg.ConfigResourceType, string) {
			return q.ResourceType, q.ResourceName
		},
		func(resp kmsg.Response, d *deniedConfig) {
			res := kmsg.NewIncrementalAlterConfigsResponseResource()
			res.ResourceType, res.ResourceName, res.ErrorCode, res.ErrorMessage = d.typ, d.name, d.code, d.message()
			ar := resp.(*kmsg.IncrementalAlterConfigsResponse)
			ar.Resources = append(ar.Resources, res)
		}), nil, nil
}

// ---- groups ----

// aclGroupRead is the check of JoinGroup, SyncGroup, Heartbeat and
// LeaveGroup: READ on the group, else GROUP_AUTHORIZATION_FAILED.
func aclGroupRead(group func(*request) string) aclHook {
	return func(r *request) (func(kmsg.Response), kmsg.Response, error) {
		if r.authorize(auth.OpRead, auth.ResourceGroup, group(r)) {
			return nil, nil, nil
		}
		return nil, topLevelError(r.kreq, codeGroupAuth), nil
	}
}

// aclSyncGroup: v5+ without the protocol type or name is answered
// INCONSISTENT_GROUP_PROTOCOL before authorization, as Kafka does
// (KafkaApis.handleSyncGroupRequest checks areMandatoryProtocolTypeAndNamePresent
// first; seen on 4.1.2 for principals with and without READ on the group).
func aclSyncGroup(r *request) (func(kmsg.Response), kmsg.Response, error) {
	req := r.kreq.(*kmsg.SyncGroupRequest)
	if req.Version >= 5 && (req.ProtocolType == nil || req.Protocol == nil) {
		return nil, topLevelError(req, kerr.InconsistentGroupProtocol.Code), nil
	}
	return aclGroupRead(func(*request) string { return req.Group })(r)
}

func aclOffsetCommit(r *request) (func(kmsg.Response), kmsg.Response, error) {
	req := r.kreq.(*kmsg.OffsetCommitRequest)
	topicErrs := func(topics []kmsg.OffsetCommitRequestTopic, code int16) []kmsg.OffsetCommitResponseTopic {
		var out []kmsg.OffsetCommitResponseTopic
		for _, t := range topics {
			rt := kmsg.NewOffsetCommitResponseTopic()
			rt.Topic, rt.TopicID = t.Topic, t.TopicID
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetCommitResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, code
				rt.Partitions = append(rt.Partitions, rp)
			}
			out = append(out, rt)
		}
		return out
	}
	if !r.authorize(auth.OpRead, auth.ResourceGroup, req.Group) {
		resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
		resp.Topics = topicErrs(req.Topics, codeGroupAuth)
		return nil, resp, nil
	}
	denied := splitDenied(&req.Topics, func(t *kmsg.OffsetCommitRequestTopic) bool {
		return r.allowedTopic(auth.OpRead, t.Topic, t.TopicID)
	})
	if len(denied) == 0 {
		return nil, nil, nil
	}
	return func(resp kmsg.Response) {
		cr := resp.(*kmsg.OffsetCommitResponse)
		cr.Topics = append(cr.Topics, topicErrs(denied, codeTopicAuth)...)
	}, nil, nil
}

func aclOffsetFetch(r *request) (func(kmsg.Response), kmsg.Response, error) {
	req := r.kreq.(*kmsg.OffsetFetchRequest)
	if r.version < 8 {
		if !r.authorize(auth.OpDescribe, auth.ResourceGroup, req.Group) {
			resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
			resp.ErrorCode = codeGroupAuth
			for _, t := range req.Topics {
				rt := kmsg.NewOffsetFetchResponseTopic()
				rt.Topic = t.Topic
				for _, p := range t.Partitions {
					rp := kmsg.NewOffsetFetchResponseTopicPartition()
					rp.Partition, rp.Offset, rp.LeaderEpoch, rp.ErrorCode = p, -1, -1, codeGroupAuth
					rt.Partitions = append(rt.Partitions, rp)
				}
				resp.Topics = append(resp.Topics, rt)
			}
			return nil, resp, nil
		}
		all := req.Topics == nil
		var denied []kmsg.OffsetFetchRequestTopic
		keep := req.Topics[:0:0]
		for _, t := range req.Topics {
			if r.authorize(auth.OpDescribe, auth.ResourceTopic, t.Topic) {
				keep = append(keep, t)
			} else {
				denied = append(denied, t)
			}
		}
		if !all {
			req.Topics = keep
		}
		return func(resp kmsg.Response) {
			fr := resp.(*kmsg.OffsetFetchResponse)
			if all {
				kept := fr.Topics[:0]
				for _, t := range fr.Topics {
					if r.authorize(auth.OpDescribe, auth.ResourceTopic, t.Topic) {
						kept = append(kept, t)
					}
				}
				fr.Topics = kept
			}
			for _, t := range denied {
				rt := kmsg.NewOffsetFetchResponseTopic()
				rt.Topic = t.Topic
				for _, p := range t.Partitions {
					rp := kmsg.NewOffsetFetchResponseTopicPartition()
					rp.Partition, rp.Offset, rp.LeaderEpoch, rp.ErrorCode = p, -1, -1, codeTopicAuth
					rt.Partitions = append(rt.Partitions, rp)
				}
				fr.Topics = append(fr.Topics, rt)
			}
		}, nil, nil
	}

	// v8+: several groups, each checked on its own.
	type groupDenials struct {
		all    bool
		topics []kmsg.OffsetFetchRequestGroupTopic
	}
	var deniedGroups []string
	perGroup := map[string]*groupDenials{}
	keepGroups := req.Groups[:0:0]
	for _, g := range req.Groups {
		if !r.authorize(auth.OpDescribe, auth.ResourceGroup, g.Group) {
			deniedGroups = append(deniedGroups, g.Group)
			continue
		}
		d := &groupDenials{all: g.Topics == nil}
		keep := g.Topics[:0:0]
		for _, t := range g.Topics {
			if r.allowedTopic(auth.OpDescribe, t.Topic, t.TopicID) {
				keep = append(keep, t)
			} else {
				d.topics = append(d.topics, t)
			}
		}
		if !d.all {
			g.Topics = keep
		}
		perGroup[g.Group] = d
		keepGroups = append(keepGroups, g)
	}
	req.Groups = keepGroups
	return func(resp kmsg.Response) {
		fr := resp.(*kmsg.OffsetFetchResponse)
		for i, g := range fr.Groups {
			d := perGroup[g.Group]
			if d == nil {
				continue
			}
			if d.all {
				kept := g.Topics[:0]
				for _, t := range g.Topics {
					if r.allowedTopic(auth.OpDescribe, t.Topic, t.TopicID) {
						kept = append(kept, t)
					}
				}
				fr.Groups[i].Topics = kept
			}
			for _, t := range d.topics {
				rt := kmsg.NewOffsetFetchResponseGroupTopic()
				rt.Topic, rt.TopicID = t.Topic, t.TopicID
				for _, p := range t.Partitions {
					rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					rp.Partition, rp.Offset, rp.LeaderEpoch, rp.ErrorCode = p, -1, -1, codeTopicAuth
					rt.Partitions = append(rt.Partitions, rp)
				}
				fr.Groups[i].Topics = append(fr.Groups[i].Topics, rt)
			}
		}
		for _, g := range deniedGroups {
			rg := kmsg.NewOffsetFetchResponseGroup()
			rg.Group, rg.ErrorCode = g, codeGroupAuth
			fr.Groups = append(fr.Groups, rg)
		}
	}, nil, nil
}

func aclFindCoordinator(r *request) (func(kmsg.Response), kmsg.Response, error) {
	req := r.kreq.(*kmsg.FindCoordinatorRequest)
	var rt auth.ResourceType
	var code int16
	switch req.CoordinatorType {
	case coordinatorGroup:
		rt, code = auth.ResourceGroup, codeGroupAuth
	case coordinatorTransaction:
		rt, code = auth.ResourceTransactionalID, codeTxnAuth
	default:
		return nil, nil, nil // the handler refuses the type
	}
	if r.version < 4 {
		if r.authorize(auth.OpDescribe, rt, req.CoordinatorKey) {
			return nil, nil, nil
		}
		resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
		resp.ErrorCode, resp.NodeID, resp.Port = code, -1, -1
		resp.ErrorMessage = kmsg.StringPtr(kerr.ErrorForCode(code).(*kerr.Error).Description)
		return nil, resp, nil
	}
	denied := splitDenied(&req.CoordinatorKeys, func(k *string) bool { return r.authorize(auth.OpDescribe, rt, *k) })
	return answerDenied(denied, func(resp kmsg.Response, k *string) {
		c := kmsg.NewFindCoordinatorResponseCoordinator()
		c.Key, c.NodeID, c.Port, c.ErrorCode = *k, -1, -1, code
		c.ErrorMessage = kmsg.StringPtr(kerr.ErrorForCode(code).(*kerr.Error).Description)
		fr := resp.(*kmsg.FindCoordinatorResponse)
		fr.Coordinators = append(fr.Coordinators, c)
	}), nil, nil
}

func aclDescribeGroups(r *request) (func(kmsg.Response), kmsg.Response, error) {
	req := r.kreq.(*kmsg.DescribeGroupsRequest)
	var denied []string
	keep := req.Groups[:0:0]
	for _, g := range req.Groups {
		if r.authorize(auth.OpDescribe, auth.ResourceGroup, g) {
			keep = append(keep, g)
		} else {
			denied = append(denied, g)
		}
	}
	req.Groups = keep
	return func(resp kmsg.Response) {
		dr := resp.(*kmsg.DescribeGroupsResponse)
		if req.IncludeAuthorizedOperations {
			for i, g := range dr.Groups {
				if g.ErrorCode == 0 {
					dr.Groups[i].AuthorizedOperations = r.authorizedOps(auth.ResourceGroup, g.Group)
				}
			}
		}
		for _, g := range denied {
			rg := kmsg.NewDescribeGroupsResponseGroup()
			rg.Group, rg.ErrorCode, rg.AuthorizedOperations = g, codeGroupAuth, math.MinInt32
			dr.Groups = append(dr.Groups, rg)
		}
	}, nil, nil
}

func aclListGroups(r *request) (func(kmsg.Response), kmsg.Response, error) {
	if r.authorizeCluster(auth.OpDescribe) {
		return nil, nil, nil
	}
	return func(resp kmsg.Response) {
		lr := resp.(*kmsg.ListGroupsResponse)
		kept := lr.Groups[:0]
		for _, g := range lr.Groups {
			if r.authorize(auth.OpDescribe, auth.ResourceGroup, g.Group) {
				kept = append(kept, g)
			}
		}
		lr.Groups = kept
	}, nil, nil
}

func aclDeleteGroups(r *request) (func(kmsg.Response), kmsg.Response, error) {
	req := r.kreq.(*kmsg.DeleteGroupsRequest)
	denied := splitDenied(&req.Groups, func(g *string) bool { return r.authorize(auth.OpDelete, auth.ResourceGroup, *g) })
	return answerDenied(denied, func(resp kmsg.Response, g *string) {
		rg := kmsg.NewDeleteGroupsResponseGroup()
		rg.Group, rg.ErrorCode = *g, codeGroupAuth
		dr := resp.(*kmsg.DeleteGroupsResponse)
		dr.Groups = append(dr.Groups, rg)
	}), nil, nil
}

func aclOffsetDelete(r *request) (func(kmsg.Response), kmsg.Response, error) {
	req := r.kreq.(*kmsg.OffsetDeleteRequest)
	if !r.authorize(auth.OpDelete, auth.ResourceGroup, req.Group) {
		return nil, topLevelError(req, codeGroupAuth), nil
	}
	denied := splitDenied(&req.Topics, func(t *kmsg.OffsetDeleteRequestTopic) bool {
		return r.authorize(auth.OpRead, auth.ResourceTopic, t.Topic)
	})
	return answerDenied(denied, func(resp kmsg.Response, t *kmsg.OffsetDeleteRequestTopic) {
		rt := kmsg.NewOffsetDeleteResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetDeleteResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, codeTopicAuth
			rt.Partitions = append(rt.Partitions, rp)
		}
		dr := resp.(*kmsg.OffsetDeleteResponse)
		dr.Topics = append(dr.Topics, rt)
	}), nil, nil
}

// ---- cluster ----

func aclInitProducerID(r *request) (func(kmsg.Response), kmsg.Response, error) {
	req := r.kreq.(*kmsg.InitProducerIDRequest)
	deny := func(code int16) (func(kmsg.Response), kmsg.Response, error) {
		resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
		resp.ErrorCode, resp.ProducerID, resp.ProducerEpoch = code, -1, -1
		return nil, resp, nil
	}
	if req.TransactionalID != nil {
		if !r.authorize(auth.OpWrite, auth.ResourceTransactionalID, *req.TransactionalID) {
			return deny(codeTxnAuth)
		}
		return nil, nil, nil
	}
	if r.authorizeCluster(auth.OpIdempotentWrite) || r.c.b.sec.authz.AuthorizeAny(r.c.auth.principal, r.c.auth.host, auth.OpWrite, auth.ResourceTopic) {
		return nil, nil, nil
	}
	return deny(codeClusterAuth)
}

// aclClusterDescribe needs DESCRIBE on the cluster (DescribeLogDirs).
func aclClusterDescribe(r *request) (func(kmsg.Response), kmsg.Response, error) {
	if r.authorizeCluster(auth.OpDescribe) {
		return nil, nil, nil
	}
	if resp := topLevelError(r.kreq, codeClusterAuth); resp != nil {
		return nil, resp, nil
	}
	// Versions without an error code get an empty answer, as from Kafka.
	return nil, r.kreq.ResponseKind(), nil
}

func aclDescribeCluster(r *request) (func(kmsg.Response), kmsg.Response, error) {
	// As Kafka (AuthHelper.computeDescribeClusterResponse): anyone may
	// describe the cluster; without DESCRIBE on it the authorized operations
	// asked for are 0.
	req := r.kreq.(*kmsg.DescribeClusterRequest)
	return func(resp kmsg.Response) {
		if req.IncludeClusterAuthorizedOperations {
			ops := int32(0)
			if r.authorizeCluster(auth.OpDescribe) {
				ops = r.authorizedOps(auth.ResourceCluster, auth.ClusterName)
			}
			resp.(*kmsg.DescribeClusterResponse).ClusterAuthorizedOperations = ops
		}
	}, nil, nil
}
