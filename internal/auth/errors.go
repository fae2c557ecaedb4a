package auth

import "errors"

// ErrAuthFailed is a failed SASL exchange whose details must not reach the
// client (wrong password, unknown user, malformed SCRAM message). The broker
// answers it with Kafka's generic message (GenericFailure).
var ErrAuthFailed = errors.New("auth: authentication failed")

// Error is a failed SASL exchange whose message is safe to send to the
// client, worded as Kafka's SaslAuthenticationException messages are.
type Error struct {
	Msg string
	// Cause is the detail for our own log; never sent.
	Cause error
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return ErrAuthFailed }

// GenericFailure is the message Kafka sends for a SaslException: it names
// the mechanism and nothing else (the exception's own text may reveal
// whether the user exists).
func GenericFailure(reauth bool, mechanism string) string {
	what := "authentication"
	if reauth {
		what = "re-authentication"
	}
	return "Authentication failed during " + what + " due to invalid credentials with SASL mechanism " + mechanism
}

// ClientMessage is the message for a failed exchange: the error's own if it
// is an *Error, else the generic one.
func ClientMessage(err error, reauth bool, mechanism string) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Msg
	}
	return GenericFailure(reauth, mechanism)
}
