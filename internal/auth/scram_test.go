package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// TestSCRAMRFC7677 runs the example exchange of RFC 7677 section 3.
func TestSCRAMRFC7677(t *testing.T) {
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	sp, err := SCRAMSHA256.SaltedPassword("pencil", salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	cred := SCRAMSHA256.CredentialFromSaltedPassword(salt, sp, 4096)
	s := SCRAMSHA256.NewServer(func(u string) (Credential, bool) { return cred, u == "user" }, []byte("secret"))
	s.serverNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"

	first, done, err := s.Step([]byte("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"))
	if err != nil || done {
		t.Fatalf("client-first: %v (done %v)", err, done)
	}
	if want := "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"; string(first) != want {
		t.Fatalf("server-first %q, want %q", first, want)
	}
	final, done, err := s.Step([]byte("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="))
	if err != nil || !done {
		t.Fatalf("client-final: %v (done %v)", err, done)
	}
	if want := "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="; string(final) != want {
		t.Fatalf("server-final %q, want %q", final, want)
	}
	if !s.Done() || s.User() != "user" {
		t.Fatalf("done %v user %q", s.Done(), s.User())
	}
	if !SCRAMSHA256.Check(cred, "pencil") || SCRAMSHA256.Check(cred, "pencil2") {
		t.Fatal("Check disagrees with the credential")
	}
}

// exchange runs franz-go's SCRAM client against our server.
func exchange(t *testing.T, client sasl.Mechanism, m *Mechanism, lookup CredentialLookup) error {
	t.Helper()
	sess, msg, err := client.Authenticate(context.Background(), "broker:9092")
	if err != nil {
		t.Fatal(err)
	}
	s := m.NewServer(lookup, []byte("k"))
	for i := 0; ; i++ {
		resp, sdone, err := s.Step(msg)
		if err != nil {
			return err
		}
		cdone, next, err := sess.Challenge(resp)
		if err != nil {
			t.Fatalf("client rejected the server's message %q: %v", resp, err)
		}
		if sdone != cdone {
			t.Fatalf("server done %v, client done %v", sdone, cdone)
		}
		if sdone {
			return nil
		}
		msg = next
		if i > 3 {
			t.Fatal("exchange does not end")
		}
	}
}

func TestSCRAMWithFranzClient(t *testing.T) {
	for _, m := range SCRAMMechanisms {
		t.Run(m.Name(), func(t *testing.T) {
			cred, err := m.NewCredential("s3cret,=é", 8192)
			if err != nil {
				t.Fatal(err)
			}
			lookup := func(u string) (Credential, bool) { return cred, u == "al,i=ce" }
			client := func(user, pass string) sasl.Mechanism {
				a := scram.Auth{User: user, Pass: pass}
				if m == SCRAMSHA512 {
					return a.AsSha512Mechanism()
				}
				return a.AsSha256Mechanism()
			}
			if err := exchange(t, client("al,i=ce", "s3cret,=é"), m, lookup); err != nil {
				t.Fatalf("right password refused: %v", err)
			}
			for _, c := range []struct{ user, pass string }{{"al,i=ce", "wrong"}, {"bob", "s3cret,=é"}} {
				err := exchange(t, client(c.user, c.pass), m, lookup)
				if !errors.Is(err, ErrAuthFailed) {
					t.Fatalf("%s/%s: %v, want ErrAuthFailed", c.user, c.pass, err)
				}
				if msg := ClientMessage(err, false, m.Name()); !strings.Contains(msg, "due to invalid credentials with SASL mechanism "+m.Name()) {
					t.Fatalf("client message %q", msg)
				}
			}
		})
	}
}

// TestSCRAMUnknownUserLooksKnown: the server-first message for an unknown
// user has the shape of a real one and a stable salt.
func TestSCRAMUnknownUserLooksKnown(t *testing.T) {
	none := func(string) (Credential, bool) { return Credential{}, false }
	a, _, err := SCRAMSHA256.NewServer(none, []byte("k")).Step([]byte("n,,n=ghost,r=abc"))
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := SCRAMSHA256.NewServer(none, []byte("k")).Step([]byte("n,,n=ghost,r=abc"))
	salt := func(m []byte) string { return strings.Split(string(m), ",")[1] }
	if salt(a) != salt(b) || !strings.HasSuffix(string(a), ",i=4096") {
		t.Fatalf("fake server-first messages %q and %q", a, b)
	}
}

func TestSCRAMBadMessages(t *testing.T) {
	cred, _ := SCRAMSHA256.NewCredential("pw", 4096)
	lookup := func(u string) (Credential, bool) { return cred, u == "u" }
	for _, first := range []string{
		"", "n", "n,", "n,,", "x,,n=u,r=a", "p=tls-unique,,n=u,r=a", "n,,r=a,n=u", "n,,n=u", "n,,n=u,r=",
		"n,,n=,r=a", "n,,n=u=2,r=a", "n,,m=x,n=u,r=a", "n,b=x,n=u,r=a", "n,,n=u,r=a,b", "n,,n=u,r=a\x01",
		"n,,n=u,r=a,tokenauth=true", "n,,n=u\x00,r=a", "n,,n=\xff,r=a",
	} {
		s := SCRAMSHA256.NewServer(lookup, nil)
		if _, _, err := s.Step([]byte(first)); !errors.Is(err, ErrAuthFailed) {
			t.Errorf("client-first %q: %v, want ErrAuthFailed", first, err)
		}
	}
	s := SCRAMSHA256.NewServer(lookup, nil)
	if _, _, err := s.Step([]byte("n,a=other,n=u,r=a")); err == nil || err.Error() != "Authentication failed: Client requested an authorization id that is different from username" {
		t.Errorf("authzid mismatch: %v", err)
	}
	s = SCRAMSHA256.NewServer(lookup, nil)
	resp, _, err := s.Step([]byte("n,,n=u,r=abc"))
	if err != nil {
		t.Fatal(err)
	}
	nonce := strings.TrimPrefix(strings.Split(string(resp), ",")[0], "r=")
	proof := base64.StdEncoding.EncodeToString(make([]byte, 32))
	for _, final := range []string{
		"", "c=biws", "c=biws,r=" + nonce, "c=eSws,r=" + nonce + ",p=" + proof, "c=biws,r=" + nonce + "x,p=" + proof,
		"c=biws,r=" + nonce + ",p=AAAA", "c=biws,r=" + nonce + ",p=" + proof,
	} {
		s := SCRAMSHA256.NewServer(lookup, nil)
		s.serverNonce = strings.TrimPrefix(nonce, "abc")
		if _, _, err := s.Step([]byte("n,,n=u,r=abc")); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Step([]byte(final)); !errors.Is(err, ErrAuthFailed) {
			t.Errorf("client-final %q: %v, want ErrAuthFailed", final, err)
		}
		if _, _, err := s.Step([]byte(final)); err == nil {
			t.Errorf("a step after failure succeeded")
		}
	}
}

// TestSCRAMLibrdkafkaNonce: librdkafka before 2.6.1 repeats its nonce in the
// client-final message (r=cnonce+cnonce+snonce); that form is accepted with
// the right proof, and other nonces are not.
func TestSCRAMLibrdkafkaNonce(t *testing.T) {
	for _, m := range SCRAMMechanisms {
		cred, err := m.NewCredential("pw", 4096)
		if err != nil {
			t.Fatal(err)
		}
		lookup := func(u string) (Credential, bool) { return cred, u == "u" }
		salted, err := m.SaltedPassword("pw", cred.Salt, int(cred.Iterations))
		if err != nil {
			t.Fatal(err)
		}
		clientKey := m.hmac(salted, "Client Key")
		for _, c := range []struct {
			nonce func(cnonce, snonce string) string
			ok    bool
		}{
			{func(c, s string) string { return s }, true},
			{func(c, s string) string { return c + s }, true},
			{func(c, s string) string { return "x" + s }, false},
			{func(c, s string) string { return c + c + s }, false},
			{func(c, s string) string { return s + c }, false},
		} {
			srv := m.NewServer(lookup, nil)
			first, _, err := srv.Step([]byte("n,,n=u,r=abc"))
			if err != nil {
				t.Fatal(err)
			}
			snonce := strings.TrimPrefix(strings.Split(string(first), ",")[0], "r=")
			without := "c=biws,r=" + c.nonce("abc", snonce)
			sig := m.hmac(m.h(clientKey), "n=u,r=abc,"+string(first)+","+without)
			proof := make([]byte, len(sig))
			for i := range sig {
				proof[i] = clientKey[i] ^ sig[i]
			}
			_, done, err := srv.Step([]byte(without + ",p=" + base64.StdEncoding.EncodeToString(proof)))
			if c.ok != (err == nil && done) {
				t.Errorf("%s: client-final %q: done %v, err %v; want ok %v", m.Name(), without, done, err, c.ok)
			}
		}
	}
}

func TestParsePlain(t *testing.T) {
	for _, c := range []struct{ in, user, pass, err string }{
		{"\x00alice\x00pw", "alice", "pw", ""},
		{"alice\x00alice\x00pw", "alice", "pw", ""},
		{"bob\x00alice\x00pw", "", "", "Authentication failed: Client requested an authorization id that is different from username"},
		{"\x00\x00pw", "", "", "Authentication failed: username not specified"},
		{"\x00alice\x00", "", "", "Authentication failed: password not specified"},
		{"alice", "", "", "Invalid SASL/PLAIN response: expected 3 tokens, got 1"},
		{"a\x00b\x00c\x00d", "", "", "Invalid SASL/PLAIN response: expected 3 tokens, got 4"},
	} {
		u, p, err := ParsePlain([]byte(c.in))
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("%q: %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || u != c.user || p != c.pass {
			t.Errorf("%q: %q %q %v", c.in, u, p, err)
		}
	}
}

// FuzzSCRAMServer feeds arbitrary client messages to the server. Properties:
// it never panics; a failed step is an ErrAuthFailed; and it never succeeds,
// since the fuzzer cannot know the password ("unguessable" is long and
// random enough that a proof matching it by chance is impossible).
func FuzzSCRAMServer(f *testing.F) {
	f.Add([]byte("n,,n=user,r=abc"), []byte("c=biws,r=abcxyz,p=AAAA"), false)
	f.Add([]byte("n,a=user,n=user,r=abc,ext=1"), []byte("c=bixxx,r=abc,p="), true)
	f.Add([]byte(""), []byte(""), false)
	f.Add([]byte("y,,n=us=2Cer,r=\x7e\x21"), []byte("c=eSws,r=x,e=1,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="), true)
	cred, err := SCRAMSHA512.NewCredential("unguessable-8f1d2c3b4a5e6f708192a3b4c5d6e7f8", 4096)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, first, final []byte, fixNonce bool) {
		s := SCRAMSHA512.NewServer(func(u string) (Credential, bool) { return cred, u == "user" }, []byte("k"))
		resp, done, err := s.Step(first)
		if err != nil {
			if !errors.Is(err, ErrAuthFailed) {
				t.Fatalf("client-first error %v does not wrap ErrAuthFailed", err)
			}
			return
		}
		if done || len(resp) == 0 {
			t.Fatalf("client-first: done %v, response %q", done, resp)
		}
		if fixNonce {
			// Reuse the server's nonce, so the fuzzer reaches the proof check.
			nonce := strings.SplitN(string(resp), ",", 2)[0]
			final = []byte("c=biws," + nonce + "," + string(final))
		}
		if _, _, err := s.Step(final); err == nil {
			t.Fatalf("the exchange succeeded without the password: %q then %q", first, final)
		} else if !errors.Is(err, ErrAuthFailed) {
			t.Fatalf("client-final error %v does not wrap ErrAuthFailed", err)
		}
	})
}
