package broker

// Listeners, TLS and the broker's security state.
//
// Every listener has a name and a security protocol, as in Kafka's
// listeners and listener.security.protocol.map: PLAINTEXT, SSL (TLS, with
// an optional client certificate), SASL_PLAINTEXT and SASL_SSL (SASL before
// any other request; sasl.go). A connection knows the listener it came in
// on, and Metadata, DescribeCluster and FindCoordinator answer with that
// listener's advertised address (listenerHost/listenerPort).
//
// Principals follow Kafka's default principal builder: "User:ANONYMOUS" on
// PLAINTEXT and on SSL without a client certificate, "User:" plus the
// certificate's subject in RFC 2253 form ("User:CN=alice,O=Acme") with a
// client certificate, and "User:" plus the SASL user name after SASL.

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chronik-stream/chronik/internal/auth"
	"github.com/chronik-stream/chronik/internal/meta"
)

// SecurityProtocol is a listener's security protocol.
type SecurityProtocol string

// Security protocols.
const (
	ProtocolPlaintext     SecurityProtocol = "PLAINTEXT"
	ProtocolSSL           SecurityProtocol = "SSL"
	ProtocolSASLPlaintext SecurityProtocol = "SASL_PLAINTEXT"
	ProtocolSASLSSL       SecurityProtocol = "SASL_SSL"
)

func (p SecurityProtocol) valid() bool {
	switch p {
	case ProtocolPlaintext, ProtocolSSL, ProtocolSASLPlaintext, ProtocolSASLSSL:
		return true
	}
	return false
}

func (p SecurityProtocol) usesTLS() bool  { return p == ProtocolSSL || p == ProtocolSASLSSL }
func (p SecurityProtocol) usesSASL() bool { return p == ProtocolSASLPlaintext || p == ProtocolSASLSSL }

// Listener is one Kafka listener.
type Listener struct {
	// Name is the listener name ("EXTERNAL"); empty means the protocol's
	// name. Names are unique.
	Name string
	// Protocol is the security protocol; empty means the one named Name
	// (a listener called SASL_SSL uses SASL_SSL).
	Protocol SecurityProtocol
	// Addr is the host:port to bind; port 0 picks a free port.
	Addr string
	// AdvertisedHost and AdvertisedPort are what clients of this listener
	// are told. An empty host means Config.AdvertisedHost, else the bind
	// host, else 127.0.0.1 when binding all interfaces; port 0 means the
	// bound port.
	AdvertisedHost string
	AdvertisedPort int32
	// TLS, for SSL and SASL_SSL, overrides Config.TLS.
	TLS *TLSConfig
}

// ClientAuth is ssl.client.auth.
type ClientAuth string

// Client authentication modes.
const (
	ClientAuthNone      ClientAuth = "none"
	ClientAuthRequested ClientAuth = "requested"
	ClientAuthRequired  ClientAuth = "required"
)

// TLSConfig is a listener's certificate configuration. The files are read
// at Start and again by ReloadTLS (SIGHUP in chronik start), so a renewed
// certificate takes effect for new connections without a restart.
type TLSConfig struct {
	// CertFile and KeyFile are the PEM certificate chain and private key.
	CertFile, KeyFile string
	// ClientCAFile holds the PEM CA certificates that client certificates
	// must chain to; needed unless ClientAuth is none.
	ClientCAFile string
	// ClientAuth is ssl.client.auth: none (the default), requested or
	// required.
	ClientAuth ClientAuth
}

// ParseProtocolMap parses listener.security.protocol.map
// ("INTERNAL:SASL_PLAINTEXT,EXTERNAL:SASL_SSL").
func ParseProtocolMap(s string) (map[string]SecurityProtocol, error) {
	m := map[string]SecurityProtocol{}
	for _, kv := range strings.Split(s, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		name, proto, ok := strings.Cut(kv, ":")
		p := SecurityProtocol(strings.ToUpper(strings.TrimSpace(proto)))
		if !ok || name == "" || !p.valid() {
			return nil, fmt.Errorf("listener.security.protocol.map entry %q: want NAME:PROTOCOL with PROTOCOL one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL", kv)
		}
		m[strings.ToUpper(strings.TrimSpace(name))] = p
	}
	return m, nil
}

// ParseListener parses Kafka's NAME://host:port ("SASL_SSL://0.0.0.0:9094",
// "PLAINTEXT://:9092"). NAME is a security protocol or a name protocols
// maps to one.
func ParseListener(s string, protocols map[string]SecurityProtocol) (Listener, error) {
	name, addr, ok := strings.Cut(strings.TrimSpace(s), "://")
	if !ok || name == "" {
		return Listener{}, fmt.Errorf("listener %q: want NAME://host:port", s)
	}
	name = strings.ToUpper(name)
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return Listener{}, fmt.Errorf("listener %q: %v", s, err)
	}
	l := Listener{Name: name, Addr: addr}
	if p, ok := protocols[name]; ok {
		l.Protocol = p
	} else if p := SecurityProtocol(name); p.valid() {
		l.Protocol = p
	} else {
		return Listener{}, fmt.Errorf("listener %q: %s is not a security protocol and has no entry in the listener security protocol map", s, name)
	}
	return l, nil
}

// SetAdvertised applies an advertised listener NAME://host:port to the
// listener of that name in ls.
func SetAdvertised(ls []Listener, s string) error {
	name, addr, ok := strings.Cut(strings.TrimSpace(s), "://")
	if !ok {
		return fmt.Errorf("advertised listener %q: want NAME://host:port", s)
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("advertised listener %q: %v", s, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return fmt.Errorf("advertised listener %q: bad port", s)
	}
	for i := range ls {
		if strings.EqualFold(ls[i].listenerName(), name) {
			ls[i].AdvertisedHost, ls[i].AdvertisedPort = host, int32(port)
			return nil
		}
	}
	return fmt.Errorf("advertised listener %q: no listener named %s", s, strings.ToUpper(name))
}

func (l Listener) listenerName() string {
	if l.Name != "" {
		return strings.ToUpper(l.Name)
	}
	return string(l.Protocol)
}

// listeners returns the configured listeners, or the default PLAINTEXT
// one on Listen. REQUIRES: validated.
func (c *Config) listeners() []Listener {
	if len(c.Listeners) > 0 {
		return c.Listeners
	}
	return []Listener{{Name: string(ProtocolPlaintext), Protocol: ProtocolPlaintext, Addr: c.Listen, AdvertisedHost: c.AdvertisedHost, AdvertisedPort: c.AdvertisedPort}}
}

// validateListeners normalizes and checks the listeners and their TLS.
func (c *Config) validateListeners() error {
	seen := map[string]bool{}
	for i := range c.Listeners {
		l := &c.Listeners[i]
		l.Protocol = SecurityProtocol(strings.ToUpper(string(l.Protocol)))
		if l.Protocol == "" {
			l.Protocol = SecurityProtocol(strings.ToUpper(l.Name))
		}
		if !l.Protocol.valid() {
			return fmt.Errorf("broker: listener %q: unknown security protocol %q", l.Name, l.Protocol)
		}
		l.Name = l.listenerName()
		if seen[l.Name] {
			return fmt.Errorf("broker: listener name %s is used twice", l.Name)
		}
		seen[l.Name] = true
		if _, _, err := net.SplitHostPort(l.Addr); err != nil {
			return fmt.Errorf("broker: listener %s address %q: %w", l.Name, l.Addr, err)
		}
		if l.AdvertisedHost == "0.0.0.0" || l.AdvertisedHost == "::" {
			return fmt.Errorf("broker: listener %s: advertised host %q is not an address clients can reach", l.Name, l.AdvertisedHost)
		}
		if l.AdvertisedPort < 0 || l.AdvertisedPort > 65535 {
			return fmt.Errorf("broker: listener %s: advertised port %d out of range", l.Name, l.AdvertisedPort)
		}
	}
	for _, l := range c.listeners() {
		if !l.Protocol.usesTLS() {
			continue
		}
		t := c.TLS
		if l.TLS != nil {
			t = *l.TLS
		}
		if t.CertFile == "" || t.KeyFile == "" {
			return fmt.Errorf("broker: listener %s (%s) needs a TLS certificate and key", l.Name, l.Protocol)
		}
		switch t.ClientAuth {
		case "", ClientAuthNone:
		case ClientAuthRequested, ClientAuthRequired:
			if t.ClientCAFile == "" {
				return fmt.Errorf("broker: listener %s: ssl.client.auth=%s needs a client CA file", l.Name, t.ClientAuth)
			}
		default:
			return fmt.Errorf("broker: listener %s: ssl.client.auth %q: want none, requested or required", l.Name, t.ClientAuth)
		}
	}
	for _, m := range c.SASLMechanisms {
		if m != mechPlain && auth.SCRAMByName(m) == nil {
			return fmt.Errorf("broker: SASL mechanism %q is not supported (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)", m)
		}
	}
	for _, u := range c.SuperUsers {
		if err := auth.ValidPrincipal(u); err != nil {
			return fmt.Errorf("broker: super.users: %v", err)
		}
	}
	return nil
}

// listener is a bound listener.
type listener struct {
	name    string
	proto   SecurityProtocol
	ln      net.Listener
	advHost string
	advPort int32
	tls     *tlsState // SSL and SASL_SSL
}

func (l *listener) sasl() bool { return l.proto.usesSASL() }

// listen binds every listener. On error none stays bound.
func (b *Broker) listen() error {
	var out []*listener
	fail := func(err error) error {
		for _, l := range out {
			l.ln.Close()
		}
		return err
	}
	for _, cl := range b.cfg.listeners() {
		l := &listener{name: cl.Name, proto: cl.Protocol}
		if cl.Protocol.usesTLS() {
			t := b.cfg.TLS
			if cl.TLS != nil {
				t = *cl.TLS
			}
			ts, err := newTLSState(t)
			if err != nil {
				return fail(fmt.Errorf("broker: listener %s: %w", cl.Name, err))
			}
			l.tls = ts
		}
		ln, err := net.Listen("tcp", cl.Addr)
		if err != nil {
			return fail(fmt.Errorf("broker: listen %s (%s): %w", cl.Name, cl.Addr, err))
		}
		l.ln = ln
		l.advHost, l.advPort = b.advertisedFor(cl, ln.Addr())
		out = append(out, l)
	}
	b.listeners = out
	b.ln = out[0].ln
	b.advHost, b.advPort = out[0].advHost, out[0].advPort
	var ls, adv []string
	for _, l := range out {
		ls = append(ls, l.name+"://"+l.ln.Addr().String())
		adv = append(adv, l.name+"://"+net.JoinHostPort(l.advHost, strconv.Itoa(int(l.advPort))))
	}
	b.cfg.boundListeners, b.cfg.boundAdvertised = strings.Join(ls, ","), strings.Join(adv, ",")
	return nil
}

func (b *Broker) advertisedFor(cl Listener, bound net.Addr) (string, int32) {
	host, portStr, _ := net.SplitHostPort(bound.String())
	port, _ := strconv.Atoi(portStr)
	advHost, advPort := cl.AdvertisedHost, cl.AdvertisedPort
	if advHost == "" {
		advHost = b.cfg.AdvertisedHost
	}
	if advPort == 0 {
		advPort = int32(port)
	}
	if advHost == "" {
		ip := net.ParseIP(host)
		if ip == nil || ip.IsUnspecified() {
			advHost = "127.0.0.1"
			b.log.Warn("binding all interfaces without an advertised address: advertising 127.0.0.1, which only local clients can reach; set --advertised-addr or --advertised-listener", "listener", cl.Name)
		} else {
			advHost = host
		}
	}
	return advHost, advPort
}

func (b *Broker) closeListeners() {
	for _, l := range b.listeners {
		l.ln.Close()
	}
}

// ListenerAddr is the bound address of the listener called name ("" if
// there is none); Addr is the first listener's.
func (b *Broker) ListenerAddr(name string) string {
	for _, l := range b.listeners {
		if strings.EqualFold(l.name, name) {
			return l.ln.Addr().String()
		}
	}
	return ""
}

// listenerHost and listenerPort are the advertised address of the listener
// this request came in on: what Metadata, DescribeCluster and
// FindCoordinator tell the client.
func (r *request) listenerHost() string {
	if r.c.ln == nil {
		return r.c.b.advHost
	}
	return r.c.ln.advHost
}

func (r *request) listenerPort() int32 {
	if r.c.ln == nil {
		return r.c.b.advPort
	}
	return r.c.ln.advPort
}

// ---- TLS ----

// tlsState is a listener's TLS configuration, swapped whole on reload.
type tlsState struct {
	cfg    TLSConfig
	cur    atomic.Pointer[tls.Config]
	server *tls.Config // what tls.Server gets: it asks cur on every handshake
}

func newTLSState(c TLSConfig) (*tlsState, error) {
	t := &tlsState{cfg: c}
	t.server = &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return t.cur.Load(), nil
		},
	}
	return t, t.reload()
}

// reload reads the files again; on error the old configuration stays.
func (t *tlsState) reload() error {
	cert, err := tls.LoadX509KeyPair(t.cfg.CertFile, t.cfg.KeyFile)
	if err != nil {
		return fmt.Errorf("loading the TLS certificate: %w", err)
	}
	conf := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	switch t.cfg.ClientAuth {
	case ClientAuthRequested:
		conf.ClientAuth = tls.VerifyClientCertIfGiven
	case ClientAuthRequired:
		conf.ClientAuth = tls.RequireAndVerifyClientCert
	}
	if t.cfg.ClientCAFile != "" {
		pem, err := os.ReadFile(t.cfg.ClientCAFile)
		if err != nil {
			return fmt.Errorf("reading the client CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("client CA file %s holds no PEM certificate", t.cfg.ClientCAFile)
		}
		conf.ClientCAs = pool
	}
	t.cur.Store(conf)
	return nil
}

// tlsHandshakeTimeout bounds a TLS handshake (also by
// connections.max.idle.ms when that is shorter).
const tlsHandshakeTimeout = 10 * time.Second

// tlsHandshake runs the TLS handshake of a connection on a TLS listener
// and takes the principal from the client certificate, if any (SSL
// listeners; on SASL_SSL, SASL decides the principal).
func (c *conn) tlsHandshake() error {
	tc, ok := c.nc.(*tls.Conn)
	if !ok {
		return nil
	}
	d := tlsHandshakeTimeout
	if idle := c.b.cfg.ConnectionsMaxIdle; idle > 0 {
		d = min(d, idle)
	}
	ctx, cancel := context.WithTimeout(c.b.ctx, d)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		return err
	}
	if c.ln != nil && !c.ln.sasl() {
		if certs := tc.ConnectionState().PeerCertificates; len(certs) > 0 {
			c.auth.principal = certPrincipal(certs[0])
			c.log = c.log.With("principal", c.auth.principal)
		}
	}
	return nil
}

// ReloadTLS re-reads every TLS listener's certificate, key and client CAs.
// A listener whose files fail to load keeps its old configuration; the
// errors are returned together.
func (b *Broker) ReloadTLS() error {
	var errs []error
	for _, l := range b.listeners {
		if l.tls == nil {
			continue
		}
		if err := l.tls.reload(); err != nil {
			errs = append(errs, fmt.Errorf("listener %s: %w", l.name, err))
			continue
		}
		b.log.Info("TLS certificate reloaded", "listener", l.name, "cert", l.tls.cfg.CertFile)
	}
	return errors.Join(errs...)
}

// principalAnonymous is Kafka's principal of an unauthenticated client.
const principalAnonymous = "User:ANONYMOUS"

// certPrincipal is Kafka's default principal for a client certificate:
// "User:" and the subject's distinguished name in RFC 2253 form.
func certPrincipal(cert *x509.Certificate) string {
	var rdns pkix.RDNSequence
	if rest, err := asn1.Unmarshal(cert.RawSubject, &rdns); err != nil || len(rest) > 0 {
		return "User:" + cert.Subject.String()
	}
	return "User:" + rdns.String()
}

// ---- security state ----

// SASL mechanism names besides SCRAM's.
const mechPlain = "PLAIN"

// security is the broker's authentication and authorization state.
type security struct {
	users *meta.Users
	acls  *meta.ACLs
	// authz is nil without an authorizer (Config.Authorizer false).
	authz *auth.Authorizer
	// mechanisms are the enabled SASL mechanisms, in Config order.
	mechanisms []string
	// plain are the PLAIN users from the configuration, as SCRAM-SHA-256
	// credentials so no password stays in memory.
	plain map[string]auth.Credential
	// secret keys the fake SCRAM salts of unknown users.
	secret []byte
	// aclMu orders ACL changes, so the authorizer ends with the last
	// stored list.
	aclMu sync.Mutex
}

// updateACLs changes the stored ACLs durably, then the authorizer's.
func (s *security) updateACLs(fn func([]meta.ACL) []meta.ACL) error {
	s.aclMu.Lock()
	defer s.aclMu.Unlock()
	all, err := s.acls.Update(fn)
	if err != nil {
		return err
	}
	s.authz.Set(toBindings(all))
	return nil
}

func newSecurity(cfg *Config) (*security, error) {
	dir := filepath.Join(cfg.DataDir, "__meta")
	users, err := meta.OpenUsers(cfg.FS, dir)
	if err != nil {
		return nil, err
	}
	acls, err := meta.OpenACLs(cfg.FS, dir)
	if err != nil {
		return nil, err
	}
	s := &security{users: users, acls: acls, mechanisms: cfg.SASLMechanisms, plain: map[string]auth.Credential{}, secret: make([]byte, 32)}
	rand.Read(s.secret)
	if len(s.mechanisms) == 0 {
		s.mechanisms = []string{auth.SCRAMSHA256.Name(), auth.SCRAMSHA512.Name(), mechPlain}
	}
	for user, pw := range cfg.SASLPlainUsers {
		c, err := auth.SCRAMSHA256.NewCredential(pw, auth.MinIterations)
		if err != nil {
			return nil, err
		}
		s.plain[user] = c
	}
	if cfg.Authorizer {
		s.authz = auth.NewAuthorizer(cfg.SuperUsers, cfg.AllowEveryoneIfNoACLFound)
		s.authz.Set(toBindings(acls.List()))
	}
	return s, nil
}

func (s *security) mechanismEnabled(m string) bool { return slices.Contains(s.mechanisms, m) }

// scramLookup returns the stored credentials of one SCRAM mechanism.
func (s *security) scramLookup(m *auth.Mechanism) auth.CredentialLookup {
	return func(user string) (auth.Credential, bool) {
		c, ok := s.users.Credential(user, m.Name())
		if !ok {
			return auth.Credential{}, false
		}
		return auth.Credential{Salt: c.Salt, Iterations: c.Iterations, StoredKey: c.StoredKey, ServerKey: c.ServerKey}, true
	}
}

// checkPlain checks a PLAIN user and password: against the configured
// PLAIN users first, then the SCRAM credentials (either mechanism).
func (s *security) checkPlain(user, password string) bool {
	if c, ok := s.plain[user]; ok {
		return auth.SCRAMSHA256.Check(c, password)
	}
	found := false
	for _, m := range auth.SCRAMMechanisms {
		if c, ok := s.scramLookup(m)(user); ok {
			found = true
			if m.Check(c, password) {
				return true
			}
		}
	}
	if !found {
		// Spend what a real check costs, so timing does not tell
		// whether the user exists.
		auth.SCRAMSHA256.Check(dummyCredential, password)
	}
	return false
}

var dummyCredential = func() auth.Credential {
	c, _ := auth.SCRAMSHA256.NewCredential("dummy", auth.MinIterations)
	return c
}()

// ReadPlainUsers reads a PLAIN users file: one "user:password" a line
// (the password is everything after the first colon); blank lines and
// lines starting with # are skipped.
func ReadPlainUsers(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	users := map[string]string{}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimRight(line, "\r")
		if t := strings.TrimSpace(line); t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		u, p, ok := strings.Cut(line, ":")
		if !ok || u == "" || p == "" {
			return nil, fmt.Errorf("%s:%d: want user:password", path, i+1)
		}
		users[u] = p
	}
	return users, nil
}

// validateSecurity applies the Kafka-named BrokerConfigs and defaults of
// the security and limit fields, then checks them.
func (c *Config) validateSecurity() error {
	if err := c.applyLimitConfigs(); err != nil {
		return err
	}
	return c.validateListeners()
}

// initSecurity opens the credential and ACL stores and sets up the
// broker-wide limits. Called by New.
func (b *Broker) initSecurity() error {
	sec, err := newSecurity(&b.cfg)
	if err != nil {
		return fmt.Errorf("broker: security: %w", err)
	}
	b.sec = sec
	b.connLimit = newConnLimiter(&b.cfg)
	b.reqBytes = newByteSem(b.cfg.QueuedMaxRequestBytes)
	for _, l := range b.cfg.listeners() {
		if l.Protocol == ProtocolSASLPlaintext && sec.mechanismEnabled(mechPlain) {
			b.log.Warn("SASL/PLAIN is enabled on a listener without TLS: passwords cross the network in the clear", "listener", l.Name)
		}
	}
	return nil
}
