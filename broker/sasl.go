package broker

// SASL on SASL_PLAINTEXT and SASL_SSL listeners (KIP-152, KIP-368), with the
// states of Kafka's SaslServerAuthenticator:
//
//	stageHandshake     ApiVersions and SaslHandshake only
//	   │ SaslHandshake v0: the next frames are bare SASL tokens (no Kafka
//	   │                   header), answered with bare tokens
//	   │ SaslHandshake v1: SaslAuthenticate carries the tokens
//	stageAuthenticate  SaslAuthenticate only (or bare tokens after v0)
//	   │ exchange complete
//	stageOpen          every API; SaslHandshake v1 (from a client that used
//	                   SaslAuthenticate v1+) starts a re-authentication,
//	                   which must keep the mechanism and the principal
//
// Any other request before authentication closes the connection, as Kafka
// does ("Unexpected Kafka request of type X during SASL handshake."). A
// failed exchange is answered SASL_AUTHENTICATION_FAILED with Kafka's
// message after connection.failed.authentication.delay.ms, then the
// connection is closed; the log line names the remote address.
//
// With connections.max.reauth.ms set, SaslAuthenticate v1+ tells the client
// its session lifetime; a request other than SaslHandshake arriving after
// the session ended closes the connection (clients of v0 cannot
// re-authenticate and are closed the same way).

import (
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/internal/auth"
)

type authStage int

const (
	stageOpen         authStage = iota // not a SASL listener, or authenticated
	stageHandshake                     // waiting for SaslHandshake
	stageAuthenticate                  // waiting for the SASL exchange
)

// connAuth is a connection's authentication state. Only the connection's
// reader (which runs the handlers) touches it.
type connAuth struct {
	principal string // "User:ANONYMOUS" until authenticated
	host      string // the client's IP, for ACLs
	stage     authStage
	raw       bool // after SaslHandshake v0: frames are bare SASL tokens
	mech      string
	sess      saslSession
	reauth    bool   // the exchange in progress re-authenticates
	badMech   string // re-authentication asked for another mechanism
	v1        bool   // the client used SaslAuthenticate v1+ (KIP-368)
	expiry    time.Time
}

// saslSession is one mechanism's server side.
type saslSession interface {
	step(msg []byte) (resp []byte, done bool, err error)
	user() string
}

type scramSession struct{ s *auth.SCRAMServer }

func (s scramSession) step(msg []byte) ([]byte, bool, error) { return s.s.Step(msg) }
func (s scramSession) user() string                          { return s.s.User() }

type plainSession struct {
	sec  *security
	name string
}

func (p *plainSession) step(msg []byte) ([]byte, bool, error) {
	user, pw, err := auth.ParsePlain(msg)
	if err != nil {
		return nil, false, err
	}
	if !p.sec.checkPlain(user, pw) {
		return nil, false, &auth.Error{Msg: auth.PlainInvalid, Cause: fmt.Errorf("wrong password or unknown user %q", user)}
	}
	p.name = user
	return []byte{}, true, nil
}

func (p *plainSession) user() string { return p.name }

func (s *security) newSession(mech string) saslSession {
	if mech == mechPlain {
		return &plainSession{sec: s}
	}
	m := auth.SCRAMByName(mech)
	return scramSession{m.NewServer(s.scramLookup(m), s.secret)}
}

// gate decides whether a request of this key may be handled in the
// connection's authentication state; an error closes the connection.
func (c *conn) gate(key int16) error {
	a := &c.auth
	switch a.stage {
	case stageHandshake:
		if key == kmsg.ApiVersions.Int16() || key == kmsg.SASLHandshake.Int16() {
			return nil
		}
		return fmt.Errorf("Unexpected Kafka request of type %s during SASL handshake.", apiName(key))
	case stageAuthenticate:
		if key == kmsg.SASLAuthenticate.Int16() && !a.raw {
			return nil
		}
		return fmt.Errorf("Unexpected Kafka request of type %s during SASL authentication.", apiName(key))
	}
	if !a.expiry.IsZero() && key != kmsg.SASLHandshake.Int16() && time.Now().After(a.expiry) {
		return fmt.Errorf("SASL session of %s expired %v ago without re-authentication (connections.max.reauth.ms)", a.principal, time.Since(a.expiry).Round(time.Millisecond))
	}
	return nil
}

// startSASL handles SaslHandshake on a SASL listener: it picks the
// mechanism and moves to stageAuthenticate. It returns the error code of
// the response.
func (c *conn) startSASL(mech string, version int16) (code int16, closeAfter bool) {
	a := &c.auth
	sec := c.b.sec
	if !c.ln.sasl() {
		return errIllegalSASLState, false
	}
	reauth := a.stage == stageOpen
	if reauth && (!a.v1 || version < 1) {
		// Only a client that speaks SaslAuthenticate v1+ re-authenticates;
		// for anyone else this is a handshake out of place.
		return errIllegalSASLState, false
	}
	if !sec.mechanismEnabled(mech) {
		c.log.Info("SASL mechanism not enabled; closing", "mechanism", mech, "enabled", sec.mechanisms)
		return errUnsupportedSASLMechanism, true
	}
	a.badMech = ""
	if reauth && mech != a.mech {
		// As Kafka: the handshake succeeds and the exchange fails.
		a.badMech = fmt.Sprintf("SASL mechanism '%s' requested by client is not supported for re-authentication of mechanism '%s'", mech, a.mech)
	} else {
		a.mech = mech
	}
	a.stage, a.reauth, a.raw = stageAuthenticate, reauth, version == 0
	a.sess = sec.newSession(a.mech)
	return 0, false
}

// saslStep feeds one client token to the exchange. When the exchange ends
// it sets the principal and the session expiry and returns the session
// lifetime in milliseconds (0: none).
func (c *conn) saslStep(token []byte) (resp []byte, done bool, lifetimeMs int64, err error) {
	a := &c.auth
	if a.badMech != "" {
		return nil, false, 0, &auth.Error{Msg: a.badMech}
	}
	resp, done, err = a.sess.step(token)
	if err != nil {
		return nil, false, 0, err
	}
	if resp == nil {
		resp = []byte{}
	}
	if !done {
		return resp, false, 0, nil
	}
	principal := "User:" + a.sess.user()
	if a.reauth && principal != a.principal {
		return nil, false, 0, &auth.Error{Msg: fmt.Sprintf("Cannot change principals during re-authentication from %s: %s", dotted(a.principal), dotted(principal))}
	}
	if !a.reauth {
		c.log = c.log.With("principal", principal)
	}
	c.log.Debug("SASL authentication succeeded", "mechanism", a.mech, "reauthentication", a.reauth)
	a.principal, a.stage, a.raw, a.sess, a.reauth = principal, stageOpen, false, nil, false
	a.expiry = time.Time{}
	if d := c.b.cfg.ConnectionsMaxReauth; d > 0 {
		a.expiry = time.Now().Add(d)
		lifetimeMs = d.Milliseconds()
	}
	return resp, true, lifetimeMs, nil
}

// dotted renders "User:alice" as Kafka's re-authentication message does
// ("User.alice").
func dotted(p string) string {
	for i := 0; i < len(p); i++ {
		if p[i] == ':' {
			return p[:i] + "." + p[i+1:]
		}
	}
	return p
}

// saslFailed logs a failed exchange and returns the client's message.
func (c *conn) saslFailed(err error) string {
	a := &c.auth
	msg := auth.ClientMessage(err, a.reauth, a.mech)
	var ae *auth.Error
	detail := err
	if errors.As(err, &ae) && ae.Cause != nil {
		detail = ae.Cause
	}
	c.log.Info("SASL authentication failed", "mechanism", a.mech, "reauthentication", a.reauth, "reason", detail)
	a.stage, a.sess = stageAuthenticate, nil
	return msg
}

// failDelay is the pause before a failed exchange's answer
// (connection.failed.authentication.delay.ms): it slows password guessing.
func (c *conn) failDelay() func() {
	d := c.b.cfg.FailedAuthenticationDelay
	if d <= 0 {
		return nil
	}
	ctx := c.b.ctx
	return func() {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
}

// handleRawSASL handles a bare SASL token (after SaslHandshake v0). A
// failure closes the connection: the framing has no room for an error.
func (c *conn) handleRawSASL(buf []byte) (*pending, error) {
	start := time.Now()
	resp, _, _, err := c.saslStep(buf)
	if err != nil {
		c.saslFailed(err)
		return &pending{close: true, wait: c.failDelay(), start: start, key: kmsg.SASLAuthenticate.Int16()}, nil
	}
	return &pending{raw: resp, start: start, key: kmsg.SASLAuthenticate.Int16()}, nil
}
