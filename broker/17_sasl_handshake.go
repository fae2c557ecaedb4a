package broker

// SaslHandshake: v0-v1.
//
// Behavior: on a SASL listener, picks the client's mechanism among the
// enabled ones (sasl.enabled.mechanisms: PLAIN, SCRAM-SHA-256,
// SCRAM-SHA-512) and answers with the enabled list. v0 (KIP-43) is followed
// by bare SASL tokens without Kafka headers; v1 (KIP-152) by
// SaslAuthenticate requests. An unknown mechanism gets
// UNSUPPORTED_SASL_MECHANISM and the connection is closed. On an
// authenticated connection of a client that used SaslAuthenticate v1+, a
// v1 handshake starts a re-authentication (KIP-368). Anywhere else the
// answer is ILLEGAL_SASL_STATE, as Kafka's KafkaApis gives. The state
// machine is in sasl.go.
//
// Version notes: v1 only changes what follows the handshake.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(kmsg.SASLHandshake, 0, 1, handleSASLHandshake) }

var (
	errIllegalSASLState         = kerr.IllegalSaslState.Code
	errUnsupportedSASLMechanism = kerr.UnsupportedSaslMechanism.Code
)

func handleSASLHandshake(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.SASLHandshakeRequest)
	resp := req.ResponseKind().(*kmsg.SASLHandshakeResponse)
	code, closeAfter := r.c.startSASL(req.Mechanism, r.version)
	resp.ErrorCode = code
	if code != errIllegalSASLState {
		resp.SupportedMechanisms = append([]string(nil), r.c.b.sec.mechanisms...)
	}
	r.closeAfter = closeAfter
	return resp, nil
}
