package diff

// The ACL matrix: for each API and resource, a principal (User:alice) with
// and without the permission it needs sends the same request to Apache Kafka
// (StandardAuthorizer, SASL/PLAIN, super.users=User:admin,
// allow.everyone.if.no.acl.found=false) and to Chronik configured the same
// way; the error codes of the two responses must be equal. scripts/diff.sh
// starts both brokers and sets
//
//	CHRONIK_ACL_KAFKA=127.0.0.1:P CHRONIK_ACL_CHRONIK=127.0.0.1:Q
//
// (SASL_PLAINTEXT listeners, users admin/admin-secret and alice/alice-secret).
// Without them the test is skipped. Differences that are accepted are in
// aclAccepted, with the reason.

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	saslplain "github.com/twmb/franz-go/pkg/sasl/plain"
)

// aclAccepted lists matrix cases whose difference is known and accepted,
// with the reason.
var aclAccepted = map[string]string{
	"metadata-autocreate-cluster-create": "design, as metadata-auto-create in accepted_test.go: Kafka (KRaft) " +
		"creates the authorized auto-created topic asynchronously and answers UNKNOWN_TOPIC_OR_PARTITION; " +
		"Chronik creates it synchronously and answers with the ready topic (authorization is the same: both create it)",
}

type aclEntry struct {
	rt      kmsg.ACLResourceType
	name    string // "" for the cluster; topic and group names get the case prefix
	pattern kmsg.ACLResourcePatternType
	op      kmsg.ACLOperation
	perm    kmsg.ACLPermissionType
}

func allow(rt kmsg.ACLResourceType, name string, op kmsg.ACLOperation) aclEntry {
	return aclEntry{rt, name, kmsg.ACLResourcePatternTypeLiteral, op, kmsg.ACLPermissionTypeAllow}
}

func allowPrefixed(rt kmsg.ACLResourceType, name string, op kmsg.ACLOperation) aclEntry {
	return aclEntry{rt, name, kmsg.ACLResourcePatternTypePrefixed, op, kmsg.ACLPermissionTypeAllow}
}

func deny(rt kmsg.ACLResourceType, name string, op kmsg.ACLOperation) aclEntry {
	return aclEntry{rt, name, kmsg.ACLResourcePatternTypeLiteral, op, kmsg.ACLPermissionTypeDeny}
}

const (
	rTopic   = kmsg.ACLResourceTypeTopic
	rGroup   = kmsg.ACLResourceTypeGroup
	rCluster = kmsg.ACLResourceTypeCluster
)

type aclCase struct {
	name string
	// topic t1 (one partition) exists with one record, group g1 exists
	// (committed offset) unless noSetup.
	acls []aclEntry
	req  func(p string, id [16]byte) kmsg.Request // p: the case's name prefix, id: t1's topic id
}

type aclTarget struct {
	name         string
	admin, alice *kgo.Client
}

func saslClient(addr, user, pw string) (*kgo.Client, error) {
	return kgo.NewClient(kgo.SeedBrokers(addr), kgo.DisableClientMetrics(),
		kgo.ClientID("chronik-acl-diff"),
		kgo.SASL(saslplain.Auth{User: user, Pass: pw}.AsMechanism()))
}

func direct(ctx context.Context, cl *kgo.Client, req kmsg.Request) (kmsg.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	return cl.SeedBrokers()[0].Request(ctx, req)
}

// errorCodes collects every ErrorCode and authorized-operations field of a
// response, in order.
func errorCodes(v reflect.Value, out *[]int64) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			errorCodes(v.Elem(), out)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			errorCodes(v.Index(i), out)
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < v.NumField(); i++ {
			f := t.Field(i)
			if f.Name == "ErrorCode" && f.Type.Kind() == reflect.Int16 {
				*out = append(*out, v.Field(i).Int())
				continue
			}
			if strings.HasSuffix(f.Name, "AuthorizedOperations") && f.Type.Kind() == reflect.Int32 {
				*out = append(*out, v.Field(i).Int())
				continue
			}
			errorCodes(v.Field(i), out)
		}
	}
}

func codesOf(resp kmsg.Response) []int64 {
	var out []int64
	errorCodes(reflect.ValueOf(resp), &out)
	return out
}

func (a *aclTarget) setup(ctx context.Context, p string, cs aclCase) ([16]byte, error) {
	var id [16]byte
	// Topic t1 with a record, group g1 with a committed offset.
	cr := kmsg.NewPtrCreateTopicsRequest()
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = p+"t1", 1, 1
	cr.Topics = append(cr.Topics, ct)
	cr.TimeoutMillis = 10000
	cresp, err := direct(ctx, a.admin, cr)
	if err != nil {
		return id, err
	}
	if ts := cresp.(*kmsg.CreateTopicsResponse).Topics; len(ts) == 1 {
		id = ts[0].TopicID
	}
	for i := 0; i < 100; i++ {
		r := a.admin.ProduceSync(ctx, &kgo.Record{Topic: p + "t1", Value: []byte("v")})
		if r.FirstErr() == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	oc := kmsg.NewPtrOffsetCommitRequest()
	oc.Group, oc.Generation = p+"g1", -1
	oct := kmsg.NewOffsetCommitRequestTopic()
	oct.Topic = p + "t1"
	ocp := kmsg.NewOffsetCommitRequestTopicPartition()
	ocp.Offset = 1
	oct.Partitions = append(oct.Partitions, ocp)
	oc.Topics = append(oc.Topics, oct)
	if _, err := a.admin.Request(ctx, oc); err != nil {
		return id, err
	}
	if len(cs.acls) == 0 {
		return id, nil
	}
	req := kmsg.NewPtrCreateACLsRequest()
	for _, e := range cs.acls {
		c := kmsg.NewCreateACLsRequestCreation()
		c.ResourceType, c.ResourcePatternType = e.rt, e.pattern
		c.ResourceName = "kafka-cluster"
		if e.rt != rCluster {
			c.ResourceName = p + e.name
		}
		c.Principal, c.Host = "User:alice", "*"
		c.Operation, c.PermissionType = e.op, e.perm
		req.Creations = append(req.Creations, c)
	}
	resp, err := direct(ctx, a.admin, req)
	if err != nil {
		return id, err
	}
	for _, r := range resp.(*kmsg.CreateACLsResponse).Results {
		if r.ErrorCode != 0 {
			return id, fmt.Errorf("CreateAcls: error %d %v", r.ErrorCode, r.ErrorMessage)
		}
	}
	// Kafka's StandardAuthorizer applies ACLs from the metadata log
	// asynchronously; Chronik applies them at once.
	if a.name == "kafka" {
		time.Sleep(150 * time.Millisecond)
	}
	return id, nil
}

func (a *aclTarget) cleanup(ctx context.Context) {
	dr := kmsg.NewPtrDeleteACLsRequest()
	f := kmsg.NewDeleteACLsRequestFilter()
	f.ResourceType, f.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
	pr := "User:alice"
	f.Principal = &pr
	f.Operation, f.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	dr.Filters = append(dr.Filters, f)
	direct(ctx, a.admin, dr)
	if a.name == "kafka" {
		time.Sleep(150 * time.Millisecond)
	}
}

func aclCases() []aclCase {
	topicReq := func(build func(p string, id [16]byte) kmsg.Request) func(p string, id [16]byte) kmsg.Request {
		return build
	}
	produce := topicReq(func(p string, id [16]byte) kmsg.Request {
		r := kmsg.NewPtrProduceRequest()
		r.Acks, r.TimeoutMillis = 1, 5000
		t := kmsg.NewProduceRequestTopic()
		t.Topic, t.TopicID = p+"t1", id
		pt := kmsg.NewProduceRequestTopicPartition()
		pt.Records = encodeBatch(plain(1700000000000, kv("k", "v")))
		t.Partitions = append(t.Partitions, pt)
		r.Topics = append(r.Topics, t)
		return r
	})
	fetchT := func(p string, id [16]byte) kmsg.Request {
		r := kmsg.NewPtrFetchRequest()
		r.MaxWaitMillis, r.MaxBytes, r.ReplicaID = 10, 1<<20, -1
		r.SessionEpoch = -1
		t := kmsg.NewFetchRequestTopic()
		t.Topic, t.TopicID = p+"t1", id
		pt := kmsg.NewFetchRequestTopicPartition()
		pt.PartitionMaxBytes = 1 << 20
		pt.CurrentLeaderEpoch = -1
		pt.LogStartOffset = -1
		t.Partitions = append(t.Partitions, pt)
		r.Topics = append(r.Topics, t)
		return r
	}
	listOffsets := func(p string, id [16]byte) kmsg.Request {
		r := kmsg.NewPtrListOffsetsRequest()
		r.ReplicaID = -1
		t := kmsg.NewListOffsetsRequestTopic()
		t.Topic = p + "t1"
		pt := kmsg.NewListOffsetsRequestTopicPartition()
		pt.Timestamp, pt.CurrentLeaderEpoch = -1, -1
		t.Partitions = append(t.Partitions, pt)
		r.Topics = append(r.Topics, t)
		return r
	}
	meta := func(autoCreate bool, names ...string) func(p string, id [16]byte) kmsg.Request {
		return func(p string, id [16]byte) kmsg.Request {
			r := kmsg.NewPtrMetadataRequest()
			r.AllowAutoTopicCreation = autoCreate
			for _, n := range names {
				t := kmsg.NewMetadataRequestTopic()
				nn := p + n
				t.Topic = &nn
				r.Topics = append(r.Topics, t)
			}
			return r
		}
	}
	createTopics := func(p string, id [16]byte) kmsg.Request {
		r := kmsg.NewPtrCreateTopicsRequest()
		t := kmsg.NewCreateTopicsRequestTopic()
		t.Topic, t.NumPartitions, t.ReplicationFactor = p+"new", 1, 1
		r.Topics = append(r.Topics, t)
		r.TimeoutMillis = 10000
		return r
	}
	deleteTopics := func(p string, id [16]byte) kmsg.Request {
		r := kmsg.NewPtrDeleteTopicsRequest()
		n := p + "t1"
		t := kmsg.NewDeleteTopicsRequestTopic()
		t.Topic = &n
		r.Topics = append(r.Topics, t)
		r.TopicNames = append(r.TopicNames, n)
		r.TimeoutMillis = 10000
		return r
	}
	describeConfigs := func(rt kmsg.ConfigResourceType) func(p string, id [16]byte) kmsg.Request {
		return func(p string, id [16]byte) kmsg.Request {
			r := kmsg.NewPtrDescribeConfigsRequest()
			res := kmsg.NewDescribeConfigsRequestResource()
			res.ResourceType, res.ResourceName = rt, p+"t1"
			if rt == kmsg.ConfigResourceTypeBroker {
				res.ResourceName = "1"
			}
			res.ConfigNames = []string{"retention.ms", "log.retention.ms"}
			r.Resources = append(r.Resources, res)
			return r
		}
	}
	alterConfigs := func(p string, id [16]byte) kmsg.Request {
		r := kmsg.NewPtrAlterConfigsRequest()
		res := kmsg.NewAlterConfigsRequestResource()
		res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, p+"t1"
		c := kmsg.NewAlterConfigsRequestResourceConfig()
		v := "3600000"
		c.Name, c.Value = "retention.ms", &v
		res.Configs = append(res.Configs, c)
		r.Resources = append(r.Resources, res)
		r.ValidateOnly = true
		return r
	}
	incAlterConfigs := func(p string, id [16]byte) kmsg.Request {
		r := kmsg.NewPtrIncrementalAlterConfigsRequest()
		res := kmsg.NewIncrementalAlterConfigsRequestResource()
		res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, p+"t1"
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		v := "3600000"
		c.Name, c.Value = "retention.ms", &v
		res.Configs = append(res.Configs, c)
		r.Resources = append(r.Resources, res)
		r.ValidateOnly = true
		return r
	}
	createPartitions := func(p string, id [16]byte) kmsg.Request {
		r := kmsg.NewPtrCreatePartitionsRequest()
		t := kmsg.NewCreatePartitionsRequestTopic()
		t.Topic, t.Count = p+"t1", 2
		r.Topics = append(r.Topics, t)
		r.TimeoutMillis = 10000
		r.ValidateOnly = true
		return r
	}
	deleteRecords := func(p string, id [16]byte) kmsg.Request {
		r := kmsg.NewPtrDeleteRecordsRequest()
		t := kmsg.NewDeleteRecordsRequestTopic()
		t.Topic = p + "t1"
		pt := kmsg.NewDeleteRecordsRequestTopicPartition()
		pt.Offset = 0
		t.Partitions = append(t.Partitions, pt)
		r.Topics = append(r.Topics, t)
		r.TimeoutMillis = 10000
		return r
	}
	offsetCommit := func(p string, id [16]byte) kmsg.Request {
		r := kmsg.NewPtrOffsetCommitRequest()
		r.Group, r.Generation = p+"g1", -1
		t := kmsg.NewOffsetCommitRequestTopic()
		t.Topic = p + "t1"
		pt := kmsg.NewOffsetCommitRequestTopicPartition()
		pt.Offset = 1
		t.Partitions = append(t.Partitions, pt)
		r.Topics = append(r.Topics, t)
		return r
	}
	offsetFetch := func(p string, id [16]byte) kmsg.Request {
		r := kmsg.NewPtrOffsetFetchRequest()
		g := kmsg.NewOffsetFetchRequestGroup()
		g.Group = p + "g1"
		t := kmsg.NewOffsetFetchRequestGroupTopic()
		t.Topic, t.Partitions = p+"t1", []int32{0}
		g.Topics = append(g.Topics, t)
		r.Groups = append(r.Groups, g)
		r.Group = p + "g1"
		ot := kmsg.NewOffsetFetchRequestTopic()
		ot.Topic, ot.Partitions = p+"t1", []int32{0}
		r.Topics = append(r.Topics, ot)
		return r
	}
	joinGroup := func(p string, id [16]byte) kmsg.Request {
		r := kmsg.NewPtrJoinGroupRequest()
		r.Group, r.SessionTimeoutMillis, r.RebalanceTimeoutMillis = p+"g2", 10000, 10000
		r.ProtocolType = "consumer"
		pr := kmsg.NewJoinGroupRequestProtocol()
		pr.Name, pr.Metadata = "range", []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
		r.Protocols = append(r.Protocols, pr)
		return r
	}
	findCoordinator := func(p string, id [16]byte) kmsg.Request {
		r := kmsg.NewPtrFindCoordinatorRequest()
		r.CoordinatorKey = p + "g1"
		r.CoordinatorKeys = []string{p + "g1"}
		return r
	}
	describeGroups := func(p string, id [16]byte) kmsg.Request {
		r := kmsg.NewPtrDescribeGroupsRequest()
		r.Groups = []string{p + "g1"}
		r.IncludeAuthorizedOperations = true
		return r
	}
	listGroups := func(p string, id [16]byte) kmsg.Request { return kmsg.NewPtrListGroupsRequest() }
	deleteGroups := func(p string, id [16]byte) kmsg.Request {
		r := kmsg.NewPtrDeleteGroupsRequest()
		r.Groups = []string{p + "g1"}
		return r
	}
	describeAcls := func(p string, id [16]byte) kmsg.Request {
		r := kmsg.NewPtrDescribeACLsRequest()
		r.ResourceType, r.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
		r.Operation, r.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
		return r
	}
	createAcls := func(p string, id [16]byte) kmsg.Request {
		r := kmsg.NewPtrCreateACLsRequest()
		c := kmsg.NewCreateACLsRequestCreation()
		c.ResourceType, c.ResourceName, c.ResourcePatternType = rTopic, p+"x", kmsg.ACLResourcePatternTypeLiteral
		c.Principal, c.Host = "User:bob", "*"
		c.Operation, c.PermissionType = kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow
		r.Creations = append(r.Creations, c)
		return r
	}
	deleteAcls := func(p string, id [16]byte) kmsg.Request {
		r := kmsg.NewPtrDeleteACLsRequest()
		f := kmsg.NewDeleteACLsRequestFilter()
		n := p + "x"
		f.ResourceType, f.ResourceName, f.ResourcePatternType = rTopic, &n, kmsg.ACLResourcePatternTypeLiteral
		f.Operation, f.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
		r.Filters = append(r.Filters, f)
		return r
	}
	describeCluster := func(p string, id [16]byte) kmsg.Request {
		r := kmsg.NewPtrDescribeClusterRequest()
		r.IncludeClusterAuthorizedOperations = true
		return r
	}
	withID := func(f func(string, [16]byte) kmsg.Request, unknown [16]byte) func(string, [16]byte) kmsg.Request {
		return func(p string, _ [16]byte) kmsg.Request { return f(p, unknown) }
	}
	metaOps := func(p string, id [16]byte) kmsg.Request {
		r := meta(false, "t1")(p, id).(*kmsg.MetadataRequest)
		r.IncludeTopicAuthorizedOperations = true
		return r
	}
	describeProducers := func(p string, id [16]byte) kmsg.Request {
		r := kmsg.NewPtrDescribeProducersRequest()
		t := kmsg.NewDescribeProducersRequestTopic()
		t.Topic, t.Partitions = p+"t1", []int32{0}
		r.Topics = append(r.Topics, t)
		return r
	}
	initPID := func(p string, id [16]byte) kmsg.Request {
		r := kmsg.NewPtrInitProducerIDRequest()
		r.TransactionTimeoutMillis = -1
		r.ProducerID, r.ProducerEpoch = -1, -1
		return r
	}

	W, R, D := kmsg.ACLOperationWrite, kmsg.ACLOperationRead, kmsg.ACLOperationDescribe
	C, Del, A := kmsg.ACLOperationCreate, kmsg.ACLOperationDelete, kmsg.ACLOperationAlter
	DC, AC := kmsg.ACLOperationDescribeConfigs, kmsg.ACLOperationAlterConfigs
	ALL, IW := kmsg.ACLOperationAll, kmsg.ACLOperationIdempotentWrite

	return []aclCase{
		{"produce-none", nil, produce},
		{"produce-write", []aclEntry{allow(rTopic, "t1", W)}, produce},
		{"produce-write-prefixed", []aclEntry{allowPrefixed(rTopic, "t", W)}, produce},
		{"produce-read-only", []aclEntry{allow(rTopic, "t1", R)}, produce},
		{"produce-all", []aclEntry{allow(rTopic, "t1", ALL)}, produce},
		{"produce-write-denied", []aclEntry{allow(rTopic, "t1", W), deny(rTopic, "t1", W)}, produce},
		{"produce-all-deny-prefixed", []aclEntry{allow(rTopic, "t1", ALL), {rTopic, "t", kmsg.ACLResourcePatternTypePrefixed, W, kmsg.ACLPermissionTypeDeny}}, produce},
		{"produce-unknown-topic-id", []aclEntry{allow(rTopic, "t1", W)}, withID(produce, [16]byte{1, 2, 3})},
		{"produce-zero-topic-id", nil, withID(produce, [16]byte{})},
		{"fetch-unknown-topic-id", nil, withID(fetchT, [16]byte{1, 2, 3})},
		{"fetch-none", nil, fetchT},
		{"fetch-read", []aclEntry{allow(rTopic, "t1", R)}, fetchT},
		{"fetch-write-only", []aclEntry{allow(rTopic, "t1", W)}, fetchT},
		{"listoffsets-none", nil, listOffsets},
		{"listoffsets-describe", []aclEntry{allow(rTopic, "t1", D)}, listOffsets},
		{"listoffsets-write-implies-describe", []aclEntry{allow(rTopic, "t1", W)}, listOffsets},
		{"listoffsets-read-implies-describe", []aclEntry{allow(rTopic, "t1", R)}, listOffsets},
		{"listoffsets-deny-describe", []aclEntry{allow(rTopic, "t1", W), deny(rTopic, "t1", D)}, listOffsets},
		{"metadata-topic-none", nil, meta(false, "t1")},
		{"metadata-topic-describe", []aclEntry{allow(rTopic, "t1", D)}, meta(false, "t1")},
		{"metadata-topic-alter-implies-describe", []aclEntry{allow(rTopic, "t1", A)}, meta(false, "t1")},
		{"metadata-topic-ops-describe", []aclEntry{allow(rTopic, "t1", D)}, metaOps},
		{"metadata-topic-ops-all", []aclEntry{allowPrefixed(rTopic, "t", ALL)}, metaOps},
		{"metadata-all-hidden", nil, meta(false)},
		{"metadata-all-describe", []aclEntry{allow(rTopic, "t1", D)}, meta(false)},
		{"metadata-autocreate-none", nil, meta(true, "auto")},
		{"metadata-autocreate-describe-only", []aclEntry{allow(rTopic, "auto", D)}, meta(true, "auto")},
		{"metadata-autocreate-topic-create", []aclEntry{allow(rTopic, "auto", C)}, meta(true, "auto")},
		{"metadata-autocreate-cluster-create", []aclEntry{allow(rCluster, "", C), allow(rTopic, "auto", D)}, meta(true, "auto")},
		{"createtopics-none", nil, createTopics},
		{"createtopics-cluster-create", []aclEntry{allow(rCluster, "", C)}, createTopics},
		{"createtopics-topic-create-prefixed", []aclEntry{allowPrefixed(rTopic, "ne", C)}, createTopics},
		{"deletetopics-none", nil, deleteTopics},
		{"deletetopics-describe", []aclEntry{allow(rTopic, "t1", D)}, deleteTopics},
		{"deletetopics-delete", []aclEntry{allow(rTopic, "t1", Del)}, deleteTopics},
		{"describeconfigs-topic-none", nil, describeConfigs(kmsg.ConfigResourceTypeTopic)},
		{"describeconfigs-topic-allowed", []aclEntry{allow(rTopic, "t1", DC)}, describeConfigs(kmsg.ConfigResourceTypeTopic)},
		{"describeconfigs-topic-alterconfigs-implies", []aclEntry{allow(rTopic, "t1", AC)}, describeConfigs(kmsg.ConfigResourceTypeTopic)},
		{"describeconfigs-broker-none", nil, describeConfigs(kmsg.ConfigResourceTypeBroker)},
		{"describeconfigs-broker-allowed", []aclEntry{allow(rCluster, "", DC)}, describeConfigs(kmsg.ConfigResourceTypeBroker)},
		{"alterconfigs-none", nil, alterConfigs},
		{"alterconfigs-describeconfigs-only", []aclEntry{allow(rTopic, "t1", DC)}, alterConfigs},
		{"alterconfigs-allowed", []aclEntry{allow(rTopic, "t1", AC)}, alterConfigs},
		{"incalterconfigs-none", nil, incAlterConfigs},
		{"incalterconfigs-allowed-prefixed", []aclEntry{allowPrefixed(rTopic, "t", AC)}, incAlterConfigs},
		{"createpartitions-none", nil, createPartitions},
		{"createpartitions-alter", []aclEntry{allow(rTopic, "t1", A)}, createPartitions},
		{"deleterecords-none", nil, deleteRecords},
		{"deleterecords-delete", []aclEntry{allow(rTopic, "t1", Del)}, deleteRecords},
		{"offsetcommit-none", nil, offsetCommit},
		{"offsetcommit-group-only", []aclEntry{allow(rGroup, "g1", R)}, offsetCommit},
		{"offsetcommit-topic-only", []aclEntry{allow(rTopic, "t1", R)}, offsetCommit},
		{"offsetcommit-both", []aclEntry{allow(rGroup, "g1", R), allow(rTopic, "t1", R)}, offsetCommit},
		{"offsetfetch-none", nil, offsetFetch},
		{"offsetfetch-group-only", []aclEntry{allow(rGroup, "g1", R)}, offsetFetch},
		{"offsetfetch-both-describe", []aclEntry{allow(rGroup, "g1", D), allow(rTopic, "t1", D)}, offsetFetch},
		{"offsetfetch-both", []aclEntry{allow(rGroup, "g1", R), allow(rTopic, "t1", D)}, offsetFetch},
		{"findcoordinator-none", nil, findCoordinator},
		{"findcoordinator-describe", []aclEntry{allow(rGroup, "g1", D)}, findCoordinator},
		{"joingroup-none", nil, joinGroup},
		{"joingroup-describe-only", []aclEntry{allow(rGroup, "g2", D)}, joinGroup},
		{"describegroups-none", nil, describeGroups},
		{"describegroups-describe", []aclEntry{allow(rGroup, "g1", D)}, describeGroups},
		{"describegroups-read-implies", []aclEntry{allowPrefixed(rGroup, "g", R)}, describeGroups},
		{"listgroups-none", nil, listGroups},
		{"listgroups-cluster-describe", []aclEntry{allow(rCluster, "", D)}, listGroups},
		{"deletegroups-none", nil, deleteGroups},
		{"deletegroups-read", []aclEntry{allow(rGroup, "g1", R)}, deleteGroups},
		{"deletegroups-delete", []aclEntry{allow(rGroup, "g1", Del)}, deleteGroups},
		{"describeacls-none", nil, describeAcls},
		{"describeacls-cluster-describe", []aclEntry{allow(rCluster, "", D)}, describeAcls},
		{"describeacls-cluster-alter-implies", []aclEntry{allow(rCluster, "", A)}, describeAcls},
		{"createacls-none", nil, createAcls},
		{"createacls-cluster-describe", []aclEntry{allow(rCluster, "", D)}, createAcls},
		{"createacls-cluster-alter", []aclEntry{allow(rCluster, "", A)}, createAcls},
		{"deleteacls-none", nil, deleteAcls},
		{"deleteacls-cluster-alter", []aclEntry{allow(rCluster, "", A)}, deleteAcls},
		{"describecluster-none", nil, describeCluster},
		{"describecluster-describe", []aclEntry{allow(rCluster, "", D)}, describeCluster},
		{"describecluster-alter", []aclEntry{allow(rCluster, "", A)}, describeCluster},
		{"describeproducers-none", nil, describeProducers},
		{"describeproducers-read", []aclEntry{allow(rTopic, "t1", R)}, describeProducers},
		{"describeproducers-describe", []aclEntry{allow(rTopic, "t1", D)}, describeProducers},
		{"initpid-none", nil, initPID},
		{"initpid-idempotent-write", []aclEntry{allow(rCluster, "", IW)}, initPID},
		{"initpid-topic-write", []aclEntry{allowPrefixed(rTopic, "t", W)}, initPID},
		{"initpid-deny-idempotent", []aclEntry{allow(rCluster, "", IW), deny(rCluster, "", IW)}, initPID},
	}
}

func TestACLMatrix(t *testing.T) {
	kaddr, caddr := os.Getenv("CHRONIK_ACL_KAFKA"), os.Getenv("CHRONIK_ACL_CHRONIK")
	if kaddr == "" || caddr == "" {
		t.Skip("CHRONIK_ACL_KAFKA and CHRONIK_ACL_CHRONIK not set (scripts/diff.sh sets them)")
	}
	var filter *regexp.Regexp
	if f := os.Getenv("CHRONIK_DIFF_CASES"); f != "" {
		filter = regexp.MustCompile(f)
	}
	ctx := context.Background()
	var targets [2]*aclTarget
	for i, addr := range []string{kaddr, caddr} {
		admin, err := saslClient(addr, "admin", "admin-secret")
		if err != nil {
			t.Fatal(err)
		}
		alice, err := saslClient(addr, "alice", "alice-secret")
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close()
		defer alice.Close()
		targets[i] = &aclTarget{name: []string{"kafka", "chronik"}[i], admin: admin, alice: alice}
		// Wait until the broker answers authenticated requests.
		deadline := time.Now().Add(90 * time.Second)
		for {
			_, err := direct(ctx, admin, kmsg.NewPtrMetadataRequest())
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %v", addr, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	run := fmt.Sprintf("a%d", time.Now().UnixNano()%1e6)
	passed, failed, accepted := 0, 0, 0
	for i, cs := range aclCases() {
		if filter != nil && !filter.MatchString("acl-"+cs.name) {
			continue
		}
		p := fmt.Sprintf("%s-%d-", run, i)
		var got [2][]int64
		var errs [2]error
		var wg sync.WaitGroup
		for j, tg := range targets {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer tg.cleanup(ctx)
				id, err := tg.setup(ctx, p, cs)
				if err != nil {
					errs[j] = fmt.Errorf("setup: %w", err)
					return
				}
				resp, err := direct(ctx, tg.alice, cs.req(p, id))
				if err != nil {
					errs[j] = err
				} else {
					got[j] = codesOf(resp)
				}
			}()
		}
		wg.Wait()
		same := errs[0] == nil && errs[1] == nil && reflect.DeepEqual(got[0], got[1])
		switch {
		case same:
			passed++
			t.Logf("MATCH acl-%s: %v", cs.name, got[0])
		case aclAccepted[cs.name] != "":
			accepted++
			t.Logf("ACCEPTED acl-%s: kafka %v %v, chronik %v %v (%s)", cs.name, got[0], errs[0], got[1], errs[1], aclAccepted[cs.name])
		default:
			failed++
			t.Errorf("DIFF acl-%s: kafka %v %v, chronik %v %v", cs.name, got[0], errs[0], got[1], errs[1])
		}
	}
	t.Logf("acl: %d matched, %d accepted, %d failed", passed, accepted, failed)
	fmt.Printf("acl: %d matched, %d accepted, %d failed\n", passed, accepted, failed)
}
