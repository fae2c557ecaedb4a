package broker

// SaslAuthenticate: v0-v2.
//
// Behavior: carries one SASL token each way (KIP-152) after SaslHandshake
// v1. Every request is answered, with an empty token when the mechanism
// has nothing to say. A failed exchange is SASL_AUTHENTICATION_FAILED with
// Kafka's message (the generic "Authentication failed during
// authentication due to invalid credentials with SASL mechanism M" for a
// wrong password or unknown user, which reveals nothing about the user),
// sent after connection.failed.authentication.delay.ms; then the
// connection is closed. Outside an exchange the answer is
// ILLEGAL_SASL_STATE, as Kafka's KafkaApis gives.
//
// Version notes: v1 (KIP-368) adds the session lifetime, set from
// connections.max.reauth.ms when the exchange completes (0 when it is not
// set); a client that sends v1+ may re-authenticate. v2 is flexible.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(kmsg.SASLAuthenticate, 0, 2, handleSASLAuthenticate) }

func handleSASLAuthenticate(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.SASLAuthenticateRequest)
	resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	c := r.c
	if c.auth.stage != stageAuthenticate || c.auth.raw {
		resp.ErrorCode = errIllegalSASLState
		resp.ErrorMessage = kmsg.StringPtr("SaslAuthenticate request received after successful authentication")
		return resp, nil
	}
	if r.version >= 1 {
		c.auth.v1 = true
	}
	token, _, lifetime, err := c.saslStep(req.SASLAuthBytes)
	if err != nil {
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		resp.ErrorMessage = kmsg.StringPtr(c.saslFailed(err))
		resp.SASLAuthBytes = []byte{}
		r.closeAfter = true
		r.wait = c.failDelay()
		return resp, nil
	}
	resp.SASLAuthBytes = token
	resp.SessionLifetimeMillis = lifetime
	return resp, nil
}
