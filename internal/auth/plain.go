package auth

import (
	"strconv"
	"strings"
)

// ParsePlain parses a SASL/PLAIN message (RFC 4616):
//
//	[authzid] NUL authcid NUL passwd
//
// The errors are Kafka's PlainSaslServer messages, safe to show the client.
// A non-empty authzid must equal the user name.
func ParsePlain(msg []byte) (user, password string, err error) {
	s := string(msg)
	// Like Kafka: up to four NUL-separated tokens are looked for, and
	// exactly three must be found.
	var tokens []string
	start := 0
	for range 4 {
		end := strings.IndexByte(s[start:], 0)
		if end < 0 {
			tokens = append(tokens, s[start:])
			break
		}
		tokens = append(tokens, s[start:start+end])
		start += end + 1
	}
	if len(tokens) != 3 {
		return "", "", &Error{Msg: "Invalid SASL/PLAIN response: expected 3 tokens, got " + strconv.Itoa(len(tokens))}
	}
	authzid, user, password := tokens[0], tokens[1], tokens[2]
	if user == "" {
		return "", "", &Error{Msg: "Authentication failed: username not specified"}
	}
	if password == "" {
		return "", "", &Error{Msg: "Authentication failed: password not specified"}
	}
	if authzid != "" && authzid != user {
		return "", "", &Error{Msg: "Authentication failed: Client requested an authorization id that is different from username"}
	}
	return user, password, nil
}

// PlainInvalid is Kafka's answer to a wrong PLAIN user or password.
const PlainInvalid = "Authentication failed: Invalid username or password"
