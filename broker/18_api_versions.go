package broker

// ApiVersions: v0-v4.
//
// Behavior: lists every registered API with the versions we implement in
// full (the table in handlers.go). A request for a version above ours is
// answered in v0 with UNSUPPORTED_VERSION and the full list (KIP-511); that
// happens in conn.go before the body is decoded. v3+ validates the client
// software name and version (KIP-511) and answers INVALID_REQUEST for bad
// ones, as Kafka does.
//
// From v3 the response lists the features (KIP-584): transaction.version,
// supported 0-2 and finalized at 2, as a Kafka 4 cluster formatted with its
// defaults.
//
// Version notes: v5 (KIP-1242, cluster and node id checks) is not offered.

import (
	"regexp"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(kmsg.ApiVersions, 0, 4, handleApiVersions) }

var softwareRe = regexp.MustCompile(`^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$`)

func handleApiVersions(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.ApiVersionsRequest)
	resp := apiVersionsResponse(r.version)
	if r.version >= 3 && (!softwareRe.MatchString(req.ClientSoftwareName) || !softwareRe.MatchString(req.ClientSoftwareVersion)) {
		resp.ErrorCode = kerr.InvalidRequest.Code
	}
	return resp, nil
}

func apiVersionsResponse(version int16) *kmsg.ApiVersionsResponse {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(version)
	keys := make([]int16, 0, len(handlers))
	for k := range handlers {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	for _, k := range keys {
		h := handlers[k]
		ak := kmsg.NewApiVersionsResponseApiKey()
		ak.ApiKey, ak.MinVersion, ak.MaxVersion = k, h.min, h.max
		resp.ApiKeys = append(resp.ApiKeys, ak)
	}
	if version >= 3 {
		// transaction.version 2 (KIP-890 part 2): produce v12+ and
		// TxnOffsetCommit v5+ add partitions and groups implicitly, EndTxn
		// v5+ bumps the epoch. Clients use those paths only when this
		// feature is finalized at 2.
		sf := kmsg.NewApiVersionsResponseSupportedFeature()
		sf.Name, sf.MinVersion, sf.MaxVersion = transactionVersionFeature, 0, 2
		resp.SupportedFeatures = append(resp.SupportedFeatures, sf)
		ff := kmsg.NewApiVersionsResponseFinalizedFeature()
		ff.Name, ff.MinVersionLevel, ff.MaxVersionLevel = transactionVersionFeature, 2, 2
		resp.FinalizedFeatures = append(resp.FinalizedFeatures, ff)
		resp.FinalizedFeaturesEpoch = 1
	}
	return resp
}

// transactionVersionFeature is Kafka's feature flag for the transaction
// protocol version.
const transactionVersionFeature = "transaction.version"
