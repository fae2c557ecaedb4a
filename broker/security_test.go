package broker_test

// Listeners, TLS and SASL with real clients (franz-go's kgo, sasl/plain,
// sasl/scram) and by hand over raw connections.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/chronik-stream/chronik/broker"
)

// ---- certificates --------------------------------------------------------

// testPKI is a CA that issues server and client certificates into files.
type testPKI struct {
	t      testing.TB
	dir    string
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	caFile string
	pool   *x509.CertPool
	serial int64
}

func newPKI(t testing.TB) *testPKI {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "chronik test CA", Organization: []string{"Chronik"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	p := &testPKI{t: t, dir: t.TempDir(), ca: ca, caKey: key, pool: x509.NewCertPool(), serial: 1}
	p.pool.AddCert(ca)
	p.caFile = p.write("ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	return p
}

func (p *testPKI) write(name string, data []byte) string {
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		p.t.Fatal(err)
	}
	return path
}

// issue signs a certificate for subject (a server one for 127.0.0.1 if
// server) and returns its PEM certificate and key.
func (p *testPKI) issue(subject pkix.Name, server bool) (certPEM, keyPEM []byte) {
	p.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		p.t.Fatal(err)
	}
	p.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serial),
		Subject:      subject,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		tmpl.DNSNames = []string{"localhost"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		p.t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		p.t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// serverFiles issues a server certificate named cn into server.pem and
// server-key.pem (overwriting them) and returns the TLS config for them.
func (p *testPKI) serverFiles(cn string) broker.TLSConfig {
	c, k := p.issue(pkix.Name{CommonName: cn}, true)
	return broker.TLSConfig{CertFile: p.write("server.pem", c), KeyFile: p.write("server-key.pem", k)}
}

// clientTLS is a client config trusting the CA, with a client certificate
// for subject unless it is empty.
func (p *testPKI) clientTLS(subject pkix.Name) *tls.Config {
	cfg := &tls.Config{RootCAs: p.pool, MinVersion: tls.VersionTLS12}
	if subject.CommonName != "" {
		c, k := p.issue(subject, false)
		pair, err := tls.X509KeyPair(c, k)
		if err != nil {
			p.t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg
}

// ---- helpers ---------------------------------------------------------------

// startListeners starts a broker with the given listeners (all on
// 127.0.0.1:0) and returns it with each listener's address by name.
func startListeners(t testing.TB, ls []broker.Listener, mod ...func(*broker.Config)) (*broker.Broker, map[string]string) {
	t.Helper()
	b, _ := startBroker(t, append([]func(*broker.Config){func(c *broker.Config) {
		for i := range ls {
			if ls[i].Addr == "" {
				ls[i].Addr = "127.0.0.1:0"
			}
		}
		c.Listeners = ls
	}}, mod...)...)
	addrs := map[string]string{}
	for _, l := range ls {
		name := l.Name
		if name == "" {
			name = string(l.Protocol)
		}
		addrs[name] = b.ListenerAddr(name)
	}
	return b, addrs
}

func addSCRAMUser(t testing.TB, addr, user, pass string, mech kadm.ScramMechanism, opts ...kgo.Opt) {
	t.Helper()
	adm := kadm.NewClient(newFranz(t, addr, opts...))
	res, err := adm.AlterUserSCRAMs(testCtx(t), nil, []kadm.UpsertSCRAM{{User: user, Mechanism: mech, Iterations: 4096, Password: pass}})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Error(); err != nil {
		t.Fatalf("adding %s: %v", user, err)
	}
}

func scramSHA256(user, pass string) sasl.Mechanism {
	return scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()
}

func scramSHA512(user, pass string) sasl.Mechanism {
	return scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()
}

func plainMech(user, pass string) sasl.Mechanism {
	return plain.Auth{User: user, Pass: pass}.AsMechanism()
}

// produceConsume produces n records to a new topic through the client
// options and reads them back.
func produceConsume(t *testing.T, addr, topic string, n int, opts ...kgo.Opt) {
	t.Helper()
	ctx := testCtx(t)
	cl := newFranz(t, addr, append([]kgo.Opt{kgo.AllowAutoTopicCreation()}, opts...)...)
	for i := range n {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
			t.Fatalf("produce to %s: %v", topic, err)
		}
	}
	cons := newFranz(t, addr, append([]kgo.Opt{kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}})}, opts...)...)
	got := 0
	for got < n {
		fs := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d: %v", got, n, err)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		got += len(fs.Records())
	}
}

// authErr pings through a client and returns the error it gets.
func authErr(t *testing.T, addr string, opts ...kgo.Opt) error {
	t.Helper()
	cl := newFranz(t, addr, opts...)
	ctx, cancel := context.WithTimeout(testCtx(t), 15*time.Second)
	defer cancel()
	return cl.Ping(ctx)
}

func wantSASLFailed(t *testing.T, err error, msg string) {
	t.Helper()
	var ke *kerr.Error
	if !errors.As(err, &ke) || ke.Code != kerr.SaslAuthenticationFailed.Code {
		t.Fatalf("got %v, want SASL_AUTHENTICATION_FAILED", err)
	}
	if !strings.Contains(err.Error(), msg) {
		t.Fatalf("error %q does not say %q", err, msg)
	}
}

// rawFrame frames a bare SASL token.
func rawFrame(tok []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(tok))), tok...)
}

// readRaw reads one bare frame.
func (c *rawConn) readRaw() []byte {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	var hdr [4]byte
	if _, err := io.ReadFull(c.nc, hdr[:]); err != nil {
		c.t.Fatalf("reading a bare SASL frame: %v", err)
	}
	buf := make([]byte, binary.BigEndian.Uint32(hdr[:]))
	if _, err := io.ReadFull(c.nc, buf); err != nil {
		c.t.Fatal(err)
	}
	return buf
}

// saslAuth authenticates a raw connection with SaslHandshake v1 and
// SaslAuthenticate (version av) using mech; it returns the last response.
func (c *rawConn) saslAuth(mech sasl.Mechanism, av int16, corr *int32) *kmsg.SASLAuthenticateResponse {
	c.t.Helper()
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.SetVersion(1)
	hs.Mechanism = mech.Name()
	*corr++
	if r := c.roundTrip(hs, *corr).(*kmsg.SASLHandshakeResponse); r.ErrorCode != 0 {
		c.t.Fatalf("SaslHandshake: error %d", r.ErrorCode)
	}
	sess, msg, err := mech.Authenticate(context.Background(), "127.0.0.1")
	if err != nil {
		c.t.Fatal(err)
	}
	for {
		req := kmsg.NewPtrSASLAuthenticateRequest()
		req.SetVersion(av)
		req.SASLAuthBytes = msg
		*corr++
		resp := c.roundTrip(req, *corr).(*kmsg.SASLAuthenticateResponse)
		if resp.ErrorCode != 0 {
			return resp
		}
		done, next, err := sess.Challenge(resp.SASLAuthBytes)
		if err != nil {
			c.t.Fatal(err)
		}
		if done {
			return resp
		}
		msg = next
	}
}

// ---- tests -----------------------------------------------------------------

// TestListenersAdvertiseTheirOwnAddress: Metadata, DescribeCluster and
// FindCoordinator answer with the listener the request came in on.
func TestListenersAdvertiseTheirOwnAddress(t *testing.T) {
	t.Parallel()
	_, addrs := startListeners(t, []broker.Listener{
		{Name: "INTERNAL", Protocol: broker.ProtocolPlaintext},
		{Name: "EXTERNAL", Protocol: broker.ProtocolPlaintext, AdvertisedHost: "kafka.example.com", AdvertisedPort: 19092},
	})
	for name, want := range map[string]string{"INTERNAL": addrs["INTERNAL"], "EXTERNAL": "kafka.example.com:19092"} {
		c := dialRaw(t, addrs[name])
		md := kmsg.NewPtrMetadataRequest()
		md.SetVersion(12)
		mr := c.roundTrip(md, 1).(*kmsg.MetadataResponse)
		if got := net.JoinHostPort(mr.Brokers[0].Host, strconv.Itoa(int(mr.Brokers[0].Port))); got != want {
			t.Errorf("%s: Metadata advertises %s, want %s", name, got, want)
		}
		dc := kmsg.NewPtrDescribeClusterRequest()
		dr := c.roundTrip(dc, 2).(*kmsg.DescribeClusterResponse)
		if got := net.JoinHostPort(dr.Brokers[0].Host, strconv.Itoa(int(dr.Brokers[0].Port))); got != want {
			t.Errorf("%s: DescribeCluster advertises %s, want %s", name, got, want)
		}
		fc := kmsg.NewPtrFindCoordinatorRequest()
		fc.SetVersion(3)
		fc.CoordinatorKey = "g"
		fr := c.roundTrip(fc, 3).(*kmsg.FindCoordinatorResponse)
		if got := net.JoinHostPort(fr.Host, strconv.Itoa(int(fr.Port))); got != want {
			t.Errorf("%s: FindCoordinator answers %s, want %s", name, got, want)
		}
	}
}

func TestSASLSCRAM(t *testing.T) {
	t.Parallel()
	_, addrs := startListeners(t, []broker.Listener{{Protocol: broker.ProtocolPlaintext}, {Protocol: broker.ProtocolSASLPlaintext}})
	plainAddr, saslAddr := addrs["PLAINTEXT"], addrs["SASL_PLAINTEXT"]
	addSCRAMUser(t, plainAddr, "alice", "alice-secret", kadm.ScramSha256)
	addSCRAMUser(t, plainAddr, "bob", "bob-secret", kadm.ScramSha512)

	t.Run("sha256", func(t *testing.T) {
		produceConsume(t, saslAddr, "scram256", 20, kgo.SASL(scramSHA256("alice", "alice-secret")))
	})
	t.Run("sha512", func(t *testing.T) {
		produceConsume(t, saslAddr, "scram512", 20, kgo.SASL(scramSHA512("bob", "bob-secret")))
	})
	t.Run("plain-against-scram-store", func(t *testing.T) {
		if err := authErr(t, saslAddr, kgo.SASL(plainMech("bob", "bob-secret"))); err != nil {
			t.Fatal(err)
		}
	})
	generic := "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256"
	t.Run("wrong-password", func(t *testing.T) {
		wantSASLFailed(t, authErr(t, saslAddr, kgo.SASL(scramSHA256("alice", "wrong"))), generic)
	})
	t.Run("unknown-user", func(t *testing.T) {
		wantSASLFailed(t, authErr(t, saslAddr, kgo.SASL(scramSHA256("mallory", "x"))), generic)
	})
	t.Run("wrong-mechanism-for-user", func(t *testing.T) {
		// bob has only a SCRAM-SHA-512 credential.
		wantSASLFailed(t, authErr(t, saslAddr, kgo.SASL(scramSHA256("bob", "bob-secret"))), generic)
	})
	t.Run("no-sasl-on-sasl-listener", func(t *testing.T) {
		if err := authErr(t, saslAddr); err == nil {
			t.Fatal("a client without SASL was served on a SASL listener")
		}
	})
}

func TestSASLPlainUsersFromConfig(t *testing.T) {
	t.Parallel()
	_, addrs := startListeners(t, []broker.Listener{{Protocol: broker.ProtocolSASLPlaintext}}, func(c *broker.Config) {
		c.SASLPlainUsers = map[string]string{"carol": "carol-pw"}
		c.SASLMechanisms = []string{"PLAIN"}
	})
	addr := addrs["SASL_PLAINTEXT"]
	produceConsume(t, addr, "plain", 5, kgo.SASL(plainMech("carol", "carol-pw")))
	wantSASLFailed(t, authErr(t, addr, kgo.SASL(plainMech("carol", "nope"))), "Authentication failed: Invalid username or password")
	wantSASLFailed(t, authErr(t, addr, kgo.SASL(plainMech("dave", "carol-pw"))), "Authentication failed: Invalid username or password")
	// SCRAM is not enabled: UNSUPPORTED_SASL_MECHANISM.
	err := authErr(t, addr, kgo.SASL(scramSHA256("carol", "carol-pw")))
	if !errors.Is(err, kerr.UnsupportedSaslMechanism) {
		t.Fatalf("SCRAM with only PLAIN enabled: %v", err)
	}
}

// TestSASLHandshakeV0 speaks KIP-43's framing: after SaslHandshake v0 the
// SASL tokens go bare, without Kafka headers.
func TestSASLHandshakeV0(t *testing.T) {
	t.Parallel()
	_, addrs := startListeners(t, []broker.Listener{{Protocol: broker.ProtocolPlaintext}, {Protocol: broker.ProtocolSASLPlaintext}})
	addSCRAMUser(t, addrs["PLAINTEXT"], "alice", "pw", kadm.ScramSha512)

	for _, mech := range []sasl.Mechanism{scramSHA512("alice", "pw"), plainMech("alice", "pw")} {
		c := dialRaw(t, addrs["SASL_PLAINTEXT"])
		hs := kmsg.NewPtrSASLHandshakeRequest()
		hs.SetVersion(0)
		hs.Mechanism = mech.Name()
		hr := c.roundTrip(hs, 1).(*kmsg.SASLHandshakeResponse)
		if hr.ErrorCode != 0 || len(hr.SupportedMechanisms) != 3 {
			t.Fatalf("%s: handshake %+v", mech.Name(), hr)
		}
		sess, msg, err := mech.Authenticate(context.Background(), "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		for done := false; !done; {
			c.mustSend(rawFrame(msg))
			resp := c.readRaw()
			if done, msg, err = sess.Challenge(resp); err != nil {
				t.Fatalf("%s: %v", mech.Name(), err)
			}
		}
		md := kmsg.NewPtrMetadataRequest()
		md.SetVersion(9)
		if mr := c.roundTrip(md, 2).(*kmsg.MetadataResponse); len(mr.Brokers) != 1 {
			t.Fatalf("metadata after v0 authentication: %+v", mr)
		}
	}

	// A wrong password in bare framing closes the connection.
	c := dialRaw(t, addrs["SASL_PLAINTEXT"])
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.SetVersion(0)
	hs.Mechanism = "PLAIN"
	c.roundTrip(hs, 1)
	c.mustSend(rawFrame([]byte("\x00alice\x00wrong")))
	c.expectClosed(5*time.Second, false)
}

// TestSASLBeforeAuthentication: only ApiVersions, SaslHandshake and
// SaslAuthenticate before authentication; anything else, or a large frame,
// closes the connection.
func TestSASLBeforeAuthentication(t *testing.T) {
	t.Parallel()
	_, addrs := startListeners(t, []broker.Listener{{Protocol: broker.ProtocolSASLPlaintext}}, func(c *broker.Config) {
		c.SASLPlainUsers = map[string]string{"u": "p"}
	})
	addr := addrs["SASL_PLAINTEXT"]

	c := dialRaw(t, addr)
	av := kmsg.NewPtrApiVersionsRequest()
	av.SetVersion(3)
	av.ClientSoftwareName, av.ClientSoftwareVersion = "test", "1"
	if r := c.roundTrip(av, 1).(*kmsg.ApiVersionsResponse); r.ErrorCode != 0 {
		t.Fatalf("ApiVersions before authentication: error %d", r.ErrorCode)
	}
	md := kmsg.NewPtrMetadataRequest()
	md.SetVersion(9)
	c.mustSend(encodeReq(md, 2))
	c.expectClosed(5*time.Second, false)

	// After the handshake, only SaslAuthenticate.
	c = dialRaw(t, addr)
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.SetVersion(1)
	hs.Mechanism = "PLAIN"
	c.roundTrip(hs, 1)
	c.mustSend(encodeReq(md, 2))
	c.expectClosed(5*time.Second, false)

	// A frame over sasl.server.max.receive.size (8 KiB) is refused before
	// it is read.
	c = dialRaw(t, addr)
	big := kmsg.NewPtrApiVersionsRequest()
	big.SetVersion(3)
	big.ClientSoftwareName, big.ClientSoftwareVersion = "test", strings.Repeat("9", 9000)
	c.send(encodeReq(big, 1))
	c.expectClosed(5*time.Second, false)

	// SaslAuthenticate without a handshake: the connection is closed too.
	c = dialRaw(t, addr)
	sa := kmsg.NewPtrSASLAuthenticateRequest()
	sa.SetVersion(1)
	sa.SASLAuthBytes = []byte("\x00u\x00p")
	c.mustSend(encodeReq(sa, 1))
	c.expectClosed(5*time.Second, false)

	// The failure answer: code 58, Kafka's message, then the close.
	c = dialRaw(t, addr)
	c.roundTrip(hs, 1)
	sa.SASLAuthBytes = []byte("\x00u\x00bad")
	if r := c.roundTrip(sa, 2).(*kmsg.SASLAuthenticateResponse); r.ErrorCode != kerr.SaslAuthenticationFailed.Code || r.ErrorMessage == nil || *r.ErrorMessage != "Authentication failed: Invalid username or password" {
		t.Fatalf("wrong password: %+v", r)
	}
	c.expectClosed(5*time.Second, false)

	// On a PLAINTEXT-only broker SASL requests are out of place.
	_, paddr := startBroker(t)
	c = dialRaw(t, paddr)
	if r := c.roundTrip(hs, 1).(*kmsg.SASLHandshakeResponse); r.ErrorCode != kerr.IllegalSaslState.Code {
		t.Fatalf("SaslHandshake on PLAINTEXT: error %d", r.ErrorCode)
	}
	if r := c.roundTrip(sa, 2).(*kmsg.SASLAuthenticateResponse); r.ErrorCode != kerr.IllegalSaslState.Code {
		t.Fatalf("SaslAuthenticate on PLAINTEXT: error %d", r.ErrorCode)
	}
}

// TestSASLReauthentication covers KIP-368: the session lifetime is
// announced, a client that re-authenticates keeps working, and one that
// does not is disconnected at its next request.
func TestSASLReauthentication(t *testing.T) {
	t.Parallel()
	const lifetime = 1500 * time.Millisecond
	_, addrs := startListeners(t, []broker.Listener{{Protocol: broker.ProtocolSASLPlaintext}}, func(c *broker.Config) {
		c.SASLPlainUsers = map[string]string{"u": "p", "v": "q"}
		c.ConnectionsMaxReauth = lifetime
	})
	addr := addrs["SASL_PLAINTEXT"]

	// franz-go re-authenticates in place before the lifetime ends.
	t.Run("client-reauthenticates", func(t *testing.T) {
		cl := newFranz(t, addr, kgo.SASL(plainMech("u", "p")), kgo.AllowAutoTopicCreation())
		ctx := testCtx(t)
		deadline := time.Now().Add(3 * lifetime)
		for i := 0; time.Now().Before(deadline); i++ {
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "reauth", Value: []byte{byte(i)}}).FirstErr(); err != nil {
				t.Fatalf("produce %d: %v", i, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	var corr int32
	t.Run("lifetime-and-expiry", func(t *testing.T) {
		c := dialRaw(t, addr)
		r := c.saslAuth(plainMech("u", "p"), 1, &corr)
		if r.ErrorCode != 0 || r.SessionLifetimeMillis != lifetime.Milliseconds() {
			t.Fatalf("SaslAuthenticate v1: %+v", r)
		}
		md := kmsg.NewPtrMetadataRequest()
		md.SetVersion(9)
		corr++
		c.roundTrip(md, corr)
		time.Sleep(lifetime + 200*time.Millisecond)
		corr++
		c.mustSend(encodeReq(md, corr))
		c.expectClosed(5*time.Second, false)
	})

	t.Run("reauth-in-place", func(t *testing.T) {
		c := dialRaw(t, addr)
		c.saslAuth(plainMech("u", "p"), 1, &corr)
		time.Sleep(lifetime + 200*time.Millisecond)
		if r := c.saslAuth(plainMech("u", "p"), 1, &corr); r.ErrorCode != 0 {
			t.Fatalf("re-authentication: %+v", r)
		}
		md := kmsg.NewPtrMetadataRequest()
		md.SetVersion(9)
		corr++
		c.roundTrip(md, corr)
	})

	t.Run("principal-change-refused", func(t *testing.T) {
		c := dialRaw(t, addr)
		c.saslAuth(plainMech("u", "p"), 1, &corr)
		r := c.saslAuth(plainMech("v", "q"), 1, &corr)
		if r.ErrorCode != kerr.SaslAuthenticationFailed.Code || r.ErrorMessage == nil || !strings.Contains(*r.ErrorMessage, "Cannot change principals during re-authentication from User.u: User.v") {
			t.Fatalf("re-authentication as another user: %+v", r)
		}
		c.expectClosed(5*time.Second, false)
	})
}

func TestTLSListeners(t *testing.T) {
	t.Parallel()
	pki := newPKI(t)
	srv := pki.serverFiles("broker")
	b, addrs := startListeners(t, []broker.Listener{{Protocol: broker.ProtocolPlaintext}, {Protocol: broker.ProtocolSSL}, {Protocol: broker.ProtocolSASLSSL}}, func(c *broker.Config) {
		c.TLS = srv
	})
	addSCRAMUser(t, addrs["PLAINTEXT"], "alice", "pw", kadm.ScramSha256)
	tlsCfg := pki.clientTLS(pkix.Name{})

	t.Run("ssl", func(t *testing.T) {
		produceConsume(t, addrs["SSL"], "tls", 10, kgo.DialTLSConfig(tlsCfg))
	})
	t.Run("sasl-ssl", func(t *testing.T) {
		produceConsume(t, addrs["SASL_SSL"], "sasltls", 10, kgo.DialTLSConfig(tlsCfg), kgo.SASL(scramSHA256("alice", "pw")))
		wantSASLFailed(t, authErr(t, addrs["SASL_SSL"], kgo.DialTLSConfig(tlsCfg), kgo.SASL(scramSHA256("alice", "no"))), "invalid credentials")
	})
	t.Run("plaintext-client-on-tls-listener", func(t *testing.T) {
		if err := authErr(t, addrs["SSL"]); err == nil {
			t.Fatal("a plaintext client was served on an SSL listener")
		}
	})
	t.Run("reload-on-demand", func(t *testing.T) {
		serial := func() *big.Int {
			conn, err := tls.Dial("tcp", addrs["SSL"], tlsCfg)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			return conn.ConnectionState().PeerCertificates[0].SerialNumber
		}
		before := serial()
		pki.serverFiles("broker-renewed") // overwrites the files
		if err := b.ReloadTLS(); err != nil {
			t.Fatal(err)
		}
		if after := serial(); after.Cmp(before) == 0 {
			t.Fatalf("the certificate did not change on reload (serial %v)", after)
		}
		// A broken file keeps the old certificate and says so.
		os.WriteFile(srv.CertFile, []byte("garbage"), 0o600)
		if err := b.ReloadTLS(); err == nil {
			t.Fatal("reloading a broken certificate succeeded")
		}
		serial()
	})
}

func TestMutualTLS(t *testing.T) {
	t.Parallel()
	pki := newPKI(t)
	srv := pki.serverFiles("broker")
	srv.ClientCAFile, srv.ClientAuth = pki.caFile, broker.ClientAuthRequired
	_, addrs := startListeners(t, []broker.Listener{{Protocol: broker.ProtocolSSL}}, func(c *broker.Config) {
		c.TLS = srv
	})
	addr := addrs["SSL"]
	produceConsume(t, addr, "mtls", 5, kgo.DialTLSConfig(pki.clientTLS(pkix.Name{CommonName: "alice", Organization: []string{"Acme"}})))

	// Without a client certificate the handshake fails.
	if err := authErr(t, addr, kgo.DialTLSConfig(pki.clientTLS(pkix.Name{}))); err == nil {
		t.Fatal("a client without a certificate was served with ssl.client.auth=required")
	}
	// Nor with one from another CA.
	other := newPKI(t)
	bad := other.clientTLS(pkix.Name{CommonName: "eve"})
	bad.RootCAs = pki.pool
	if err := authErr(t, addr, kgo.DialTLSConfig(bad)); err == nil {
		t.Fatal("a certificate from an unknown CA was accepted")
	}
}

// TestPrincipalFromCertificate: with ssl.client.auth the principal is
// "User:" and the subject, as Kafka's default principal builder makes it;
// super.users proves which principal the broker saw.
func TestPrincipalFromCertificate(t *testing.T) {
	t.Parallel()
	pki := newPKI(t)
	srv := pki.serverFiles("broker")
	srv.ClientCAFile, srv.ClientAuth = pki.caFile, broker.ClientAuthRequested
	_, addrs := startListeners(t, []broker.Listener{{Protocol: broker.ProtocolSSL}}, func(c *broker.Config) {
		c.TLS = srv
		c.Authorizer = true
		c.SuperUsers = []string{"User:CN=admin,O=Acme"}
	})
	addr := addrs["SSL"]
	admin := kadm.NewClient(newFranz(t, addr, kgo.DialTLSConfig(pki.clientTLS(pkix.Name{CommonName: "admin", Organization: []string{"Acme"}}))))
	if _, err := admin.CreateTopic(testCtx(t), 1, 1, nil, "by-admin"); err != nil {
		t.Fatalf("super user: %v", err)
	}
	other := kadm.NewClient(newFranz(t, addr, kgo.DialTLSConfig(pki.clientTLS(pkix.Name{CommonName: "admin", Organization: []string{"Other"}}))))
	resp, err := other.CreateTopic(testCtx(t), 1, 1, nil, "by-other")
	if err == nil {
		err = resp.Err
	}
	if !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("another subject creating a topic: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	anon := kadm.NewClient(newFranz(t, addr, kgo.DialTLSConfig(pki.clientTLS(pkix.Name{}))))
	resp, err = anon.CreateTopic(testCtx(t), 1, 1, nil, "by-anonymous")
	if err == nil {
		err = resp.Err
	}
	if !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("anonymous creating a topic: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
}

func TestSCRAMCredentialAPIs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b, addr := startBroker(t, func(c *broker.Config) { c.DataDir = dir })
	adm := kadm.NewClient(newFranz(t, addr))
	ctx := testCtx(t)
	addSCRAMUser(t, addr, "alice", "pw", kadm.ScramSha256)
	addSCRAMUser(t, addr, "alice", "pw", kadm.ScramSha512)

	d, err := adm.DescribeUserSCRAMs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a := d["alice"]; len(a.CredInfos) != 2 || a.CredInfos[0].Iterations != 4096 {
		t.Fatalf("describe all: %+v", d)
	}
	d, _ = adm.DescribeUserSCRAMs(ctx, "nobody")
	if !errors.Is(d["nobody"].Err, kerr.ResourceNotFound) || d["nobody"].ErrMessage != "Attempt to describe a user credential that does not exist: nobody" {
		t.Fatalf("describe unknown: %+v", d["nobody"])
	}
	req := kmsg.NewPtrDescribeUserSCRAMCredentialsRequest()
	req.Users = []kmsg.DescribeUserSCRAMCredentialsRequestUser{{Name: "alice"}, {Name: "alice"}}
	dr, err := req.RequestWith(ctx, newFranz(t, addr))
	if err != nil || len(dr.Results) != 1 || dr.Results[0].ErrorCode != kerr.DuplicateResource.Code {
		t.Fatalf("describe duplicate: %+v %v", dr, err)
	}

	alter := func(del []kmsg.AlterUserSCRAMCredentialsRequestDeletion, up []kmsg.AlterUserSCRAMCredentialsRequestUpsertion) map[string]int16 {
		t.Helper()
		req := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
		req.Deletions, req.Upsertions = del, up
		resp, err := req.RequestWith(ctx, newFranz(t, addr))
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int16{}
		for _, r := range resp.Results {
			out[r.User] = r.ErrorCode
		}
		return out
	}
	up := func(name string, mech int8, iters int32) kmsg.AlterUserSCRAMCredentialsRequestUpsertion {
		return kmsg.AlterUserSCRAMCredentialsRequestUpsertion{Name: name, Mechanism: mech, Iterations: iters, Salt: []byte("salt"), SaltedPassword: make([]byte, 32)}
	}
	got := alter(
		[]kmsg.AlterUserSCRAMCredentialsRequestDeletion{{Name: "ghost", Mechanism: 1}},
		[]kmsg.AlterUserSCRAMCredentialsRequestUpsertion{up("few", 1, 4095), up("many", 2, 16385), up("", 1, 4096), up("mech", 3, 4096), up("dup", 1, 4096), up("ok", 1, 4096), up("dup", 2, 4096)},
	)
	want := map[string]int16{"ghost": kerr.ResourceNotFound.Code, "dup": kerr.DuplicateResource.Code, "few": kerr.UnacceptableCredential.Code,
		"many": kerr.UnacceptableCredential.Code, "": kerr.UnacceptableCredential.Code, "mech": kerr.UnsupportedSaslMechanism.Code, "ok": 0}
	for u, code := range want {
		if got[u] != code {
			t.Errorf("alter %q: error %d, want %d", u, got[u], code)
		}
	}
	if got := alter([]kmsg.AlterUserSCRAMCredentialsRequestDeletion{{Name: "alice", Mechanism: 2}}, nil); got["alice"] != 0 {
		t.Fatalf("delete: %v", got)
	}

	// Credentials survive a restart: close this broker, open another on
	// the same directory.
	b.Close()
	_, addr2 := startBroker(t, func(c *broker.Config) { c.DataDir = dir })
	d, err = kadm.NewClient(newFranz(t, addr2)).DescribeUserSCRAMs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(d) != 2 || len(d["alice"].CredInfos) != 1 || len(d["ok"].CredInfos) != 1 {
		t.Fatalf("after restart: %+v", d)
	}
}
