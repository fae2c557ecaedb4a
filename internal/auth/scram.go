package auth

// SCRAM (RFC 5802) with SHA-256 and SHA-512 (RFC 7677), the server side.
//
//	client-first   n,[a=authzid],n=<saslname>,r=<cnonce>[,ext=value]...
//	server-first   r=<cnonce><snonce>,s=<base64 salt>,i=<iterations>
//	client-final   c=<base64 gs2 header>,r=<cnonce><snonce>[,ext]...,p=<base64 proof>
//	server-final   v=<base64 ServerSignature>
//
// With H the mechanism's hash and HMAC keyed by its first argument:
//
//	SaltedPassword  = PBKDF2-HMAC-H(password, salt, iterations)
//	ClientKey       = HMAC(SaltedPassword, "Client Key")
//	StoredKey       = H(ClientKey)
//	ServerKey       = HMAC(SaltedPassword, "Server Key")
//	AuthMessage     = client-first-bare "," server-first "," client-final-without-proof
//	ClientSignature = HMAC(StoredKey, AuthMessage)
//	ClientProof     = ClientKey XOR ClientSignature
//	ServerSignature = HMAC(ServerKey, AuthMessage)
//
// The server keeps only salt, iterations, StoredKey and ServerKey: it checks
// a proof by recovering ClientKey = ClientProof XOR ClientSignature and
// comparing H(ClientKey) with StoredKey.
//
// Channel binding is not supported (gs2 flag "n" or "y"; "p=" fails), nor
// are mandatory extensions ("m=") or Kafka's delegation tokens
// ("tokenauth=true"). Names use RFC 5802's escaping ("=2C" for ',' and
// "=3D" for '='); like Kafka we apply no SASLprep.

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Iteration bounds. MinIterations is RFC 7677's and Kafka's minimum for both
// mechanisms; MaxIterations is the most AlterUserScramCredentials accepts
// (Kafka's ScramControlManager).
const (
	MinIterations = 4096
	MaxIterations = 16384
)

// saltLen is the length of salts we generate.
const saltLen = 24

// Mechanism is one SCRAM mechanism.
type Mechanism struct {
	name string
	typ  int8 // the mechanism's code in Kafka's SCRAM credential APIs
	hash func() hash.Hash
	size int
}

// The SCRAM mechanisms.
var (
	SCRAMSHA256 = &Mechanism{name: "SCRAM-SHA-256", typ: 1, hash: sha256.New, size: sha256.Size}
	SCRAMSHA512 = &Mechanism{name: "SCRAM-SHA-512", typ: 2, hash: sha512.New, size: sha512.Size}
)

// SCRAMMechanisms lists the mechanisms, by Kafka type code order.
var SCRAMMechanisms = []*Mechanism{SCRAMSHA256, SCRAMSHA512}

// Name is the SASL mechanism name ("SCRAM-SHA-256").
func (m *Mechanism) Name() string { return m.name }

// Type is the mechanism's code in DescribeUserScramCredentials and
// AlterUserScramCredentials: 1 for SHA-256, 2 for SHA-512.
func (m *Mechanism) Type() int8 { return m.typ }

// KeySize is the length of StoredKey, ServerKey and a salted password.
func (m *Mechanism) KeySize() int { return m.size }

// SCRAMByName returns the mechanism called name, or nil.
func SCRAMByName(name string) *Mechanism {
	for _, m := range SCRAMMechanisms {
		if m.name == name {
			return m
		}
	}
	return nil
}

// SCRAMByType returns the mechanism with Kafka type code t, or nil.
func SCRAMByType(t int8) *Mechanism {
	for _, m := range SCRAMMechanisms {
		if m.typ == t {
			return m
		}
	}
	return nil
}

// Credential is what the server stores for one user and mechanism.
type Credential struct {
	Salt       []byte
	Iterations int32
	StoredKey  []byte
	ServerKey  []byte
}

// Validate checks a credential's shape for this mechanism.
func (m *Mechanism) Validate(c Credential) error {
	switch {
	case len(c.Salt) == 0:
		return errors.New("empty salt")
	case c.Iterations < MinIterations:
		return fmt.Errorf("%d iterations is less than the minimum %d for %s", c.Iterations, MinIterations, m.name)
	case len(c.StoredKey) != m.size || len(c.ServerKey) != m.size:
		return fmt.Errorf("stored and server keys must be %d bytes for %s", m.size, m.name)
	}
	return nil
}

func (m *Mechanism) hmac(key []byte, msg string) []byte {
	h := hmac.New(m.hash, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

func (m *Mechanism) h(b []byte) []byte {
	h := m.hash()
	h.Write(b)
	return h.Sum(nil)
}

// SaltedPassword is Hi(password, salt, iterations) of RFC 5802: PBKDF2 with
// HMAC over the mechanism's hash.
func (m *Mechanism) SaltedPassword(password string, salt []byte, iterations int) ([]byte, error) {
	if iterations < 1 {
		return nil, fmt.Errorf("auth: %d iterations", iterations)
	}
	return pbkdf2.Key(m.hash, password, salt, iterations, m.size)
}

// CredentialFromSaltedPassword derives the stored credential from a salted
// password (what AlterUserScramCredentials carries: the password itself
// never reaches the broker).
func (m *Mechanism) CredentialFromSaltedPassword(salt, salted []byte, iterations int32) Credential {
	clientKey := m.hmac(salted, "Client Key")
	return Credential{
		Salt:       append([]byte(nil), salt...),
		Iterations: iterations,
		StoredKey:  m.h(clientKey),
		ServerKey:  m.hmac(salted, "Server Key"),
	}
}

// NewCredential derives a credential for password with a random salt.
func (m *Mechanism) NewCredential(password string, iterations int32) (Credential, error) {
	if iterations < MinIterations || iterations > MaxIterations {
		return Credential{}, fmt.Errorf("auth: iterations %d out of [%d, %d]", iterations, MinIterations, MaxIterations)
	}
	salt := make([]byte, saltLen)
	rand.Read(salt)
	sp, err := m.SaltedPassword(password, salt, int(iterations))
	if err != nil {
		return Credential{}, err
	}
	return m.CredentialFromSaltedPassword(salt, sp, iterations), nil
}

// Check reports whether password matches c (SASL/PLAIN against a stored
// SCRAM credential). It costs one PBKDF2 derivation.
func (m *Mechanism) Check(c Credential, password string) bool {
	if m.Validate(c) != nil {
		return false
	}
	sp, err := m.SaltedPassword(password, c.Salt, int(c.Iterations))
	if err != nil {
		return false
	}
	got := m.h(m.hmac(sp, "Client Key"))
	return subtle.ConstantTimeCompare(got, c.StoredKey) == 1
}

// CredentialLookup returns a user's credential for one mechanism.
type CredentialLookup func(user string) (Credential, bool)

// SCRAMServer is the server side of one SCRAM exchange. It is not safe
// for concurrent use (one connection drives it).
type SCRAMServer struct {
	m      *Mechanism
	lookup CredentialLookup
	secret []byte

	state int // scramFirst, scramFinal, scramDone, scramFailed
	user  string
	cred  Credential

	gs2Header       string
	clientFirstBare string
	serverFirst     string
	cnonce          string // the client's part of nonce
	nonce           string

	// serverNonce, if set, replaces the random server nonce (tests
	// against RFC vectors).
	serverNonce string
}

const (
	scramFirst = iota
	scramFinal
	scramDone
	scramFailed
)

// NewServer starts an exchange. secret keys the fake salts shown for users
// that do not exist (so the server-first message does not reveal whether a
// user exists; the exchange then fails at the proof, like a wrong password).
// It should be random per broker and stable for its life.
func (m *Mechanism) NewServer(lookup CredentialLookup, secret []byte) *SCRAMServer {
	return &SCRAMServer{m: m, lookup: lookup, secret: secret}
}

// Done reports whether the exchange completed successfully.
func (s *SCRAMServer) Done() bool { return s.state == scramDone }

// User is the authenticated user name (valid once Done).
func (s *SCRAMServer) User() string { return s.user }

// Mechanism is the exchange's mechanism.
func (s *SCRAMServer) Mechanism() *Mechanism { return s.m }

// Step consumes one client message and returns the server's answer. done
// is true with the server-final message. Any error ends the exchange; it
// wraps ErrAuthFailed, and is an *Error when its message may be shown.
func (s *SCRAMServer) Step(msg []byte) (resp []byte, done bool, err error) {
	defer func() {
		if err != nil {
			s.state = scramFailed
			s.cred = Credential{}
		}
	}()
	switch s.state {
	case scramFirst:
		r, err := s.clientFirst(msg)
		if err != nil {
			return nil, false, err
		}
		s.state = scramFinal
		return r, false, nil
	case scramFinal:
		r, err := s.clientFinal(msg)
		if err != nil {
			return nil, false, err
		}
		s.state = scramDone
		s.cred = Credential{}
		return r, true, nil
	}
	return nil, false, fmt.Errorf("%w: SCRAM message after the exchange ended", ErrAuthFailed)
}

func failf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrAuthFailed, fmt.Sprintf(format, args...))
}

// decodeSaslName undoes RFC 5802's escaping of ',' and '='.
func decodeSaslName(s string) (string, bool) {
	if !strings.Contains(s, "=") {
		return s, s != ""
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "=2C"):
			b.WriteByte(',')
		case strings.HasPrefix(s[i:], "=3D"):
			b.WriteByte('=')
		default:
			return "", false
		}
		i += 2
	}
	return b.String(), b.Len() > 0
}

// validNonce: printable ASCII except ','.
func validNonce(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == ',' {
			return false
		}
	}
	return true
}

// validExtension checks an "x=value" attribute after the mandatory ones.
func validExtension(a string) bool {
	k, _, ok := strings.Cut(a, "=")
	if !ok || k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

func (s *SCRAMServer) clientFirst(msg []byte) ([]byte, error) {
	m := string(msg)
	if !utf8.ValidString(m) || strings.IndexByte(m, 0) >= 0 {
		return nil, failf("client-first message is not UTF-8 text")
	}
	flag, rest, ok := strings.Cut(m, ",")
	if !ok {
		return nil, failf("invalid SCRAM client first message format")
	}
	switch {
	case flag == "n", flag == "y":
	case strings.HasPrefix(flag, "p="):
		return nil, failf("channel binding is not supported")
	default:
		return nil, failf("invalid SCRAM client first message format")
	}
	authz, bare, ok := strings.Cut(rest, ",")
	if !ok {
		return nil, failf("invalid SCRAM client first message format")
	}
	var authzid string
	if authz != "" {
		a, ok := strings.CutPrefix(authz, "a=")
		if !ok {
			return nil, failf("invalid SCRAM client first message format")
		}
		if authzid, ok = decodeSaslName(a); !ok {
			return nil, failf("invalid authorization id")
		}
	}
	attrs := strings.Split(bare, ",")
	if len(attrs) < 2 {
		return nil, failf("invalid SCRAM client first message format")
	}
	if strings.HasPrefix(attrs[0], "m=") {
		return nil, failf("mandatory extensions are not supported")
	}
	name, ok := strings.CutPrefix(attrs[0], "n=")
	if !ok {
		return nil, failf("invalid SCRAM client first message format")
	}
	user, ok := decodeSaslName(name)
	if !ok {
		return nil, failf("invalid user name")
	}
	cnonce, ok := strings.CutPrefix(attrs[1], "r=")
	if !ok || !validNonce(cnonce) {
		return nil, failf("invalid client nonce")
	}
	for _, a := range attrs[2:] {
		if !validExtension(a) {
			return nil, failf("invalid SCRAM extension")
		}
		if a == "tokenauth=true" {
			return nil, failf("delegation tokens are not supported")
		}
	}
	if authzid != "" && authzid != user {
		return nil, &Error{Msg: "Authentication failed: Client requested an authorization id that is different from username"}
	}

	cred, known := Credential{}, false
	if s.lookup != nil {
		cred, known = s.lookup(user)
	}
	if known && s.m.Validate(cred) != nil {
		known = false
	}
	if !known {
		// An unknown user gets a plausible, stable salt and fails at the
		// proof, exactly like a wrong password.
		fake := hmac.New(sha256.New, s.secret)
		fake.Write([]byte(s.m.name + "\x00" + user))
		cred = Credential{Salt: fake.Sum(nil)[:saltLen], Iterations: MinIterations}
	}
	sn := s.serverNonce
	if sn == "" {
		var b [24]byte
		rand.Read(b[:])
		sn = base64.RawURLEncoding.EncodeToString(b[:])
	}
	s.user, s.cred = user, cred
	s.gs2Header = flag + "," + authz + ","
	s.clientFirstBare = bare
	s.cnonce = cnonce
	s.nonce = cnonce + sn
	s.serverFirst = "r=" + s.nonce + ",s=" + base64.StdEncoding.EncodeToString(cred.Salt) + ",i=" + strconv.Itoa(int(cred.Iterations))
	return []byte(s.serverFirst), nil
}

func (s *SCRAMServer) clientFinal(msg []byte) ([]byte, error) {
	m := string(msg)
	i := strings.LastIndex(m, ",p=")
	if i < 0 {
		return nil, failf("invalid SCRAM client final message format")
	}
	withoutProof, proofB64 := m[:i], m[i+3:]
	attrs := strings.Split(withoutProof, ",")
	if len(attrs) < 2 {
		return nil, failf("invalid SCRAM client final message format")
	}
	cb, ok := strings.CutPrefix(attrs[0], "c=")
	if !ok {
		return nil, failf("invalid SCRAM client final message format")
	}
	cbind, err := base64.StdEncoding.DecodeString(cb)
	if err != nil || string(cbind) != s.gs2Header {
		return nil, failf("channel binding does not match the client first message")
	}
	// librdkafka before 2.6.1 (confluentinc/librdkafka#4895; kcat and the
	// distributions' librdkafka 2.0.x) sends its own nonce again in front of
	// the server's (cnonce+cnonce+snonce). Kafka 3.8.1 to 3.9 accept that
	// (an endsWith check); the server's fresh nonce must still be there, so
	// this accepts exactly that form and nothing looser.
	nonce, ok := strings.CutPrefix(attrs[1], "r=")
	if !ok || (nonce != s.nonce && nonce != s.cnonce+s.nonce) {
		return nil, failf("invalid client nonce in the final client message")
	}
	for _, a := range attrs[2:] {
		if !validExtension(a) {
			return nil, failf("invalid SCRAM extension")
		}
	}
	proof, err := base64.StdEncoding.DecodeString(proofB64)
	if err != nil || len(proof) != s.m.size {
		return nil, failf("invalid client proof")
	}
	authMessage := s.clientFirstBare + "," + s.serverFirst + "," + withoutProof
	if len(s.cred.StoredKey) != s.m.size {
		// Unknown user: run the same computation, then fail.
		s.m.h(s.m.hmac(make([]byte, s.m.size), authMessage))
		return nil, failf("unknown user %q", s.user)
	}
	clientKey := s.m.hmac(s.cred.StoredKey, authMessage)
	for j := range clientKey {
		clientKey[j] ^= proof[j]
	}
	if subtle.ConstantTimeCompare(s.m.h(clientKey), s.cred.StoredKey) != 1 {
		return nil, failf("invalid client credentials")
	}
	sig := s.m.hmac(s.cred.ServerKey, authMessage)
	return []byte("v=" + base64.StdEncoding.EncodeToString(sig)), nil
}
