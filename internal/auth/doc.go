// Package auth holds the broker's authentication and authorization logic,
// free of Kafka framing and of files:
//
//   - scram.go: SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677): stored
//     credentials (salt, iterations, StoredKey, ServerKey; never the
//     password) and the server side of the exchange.
//   - plain.go: SASL/PLAIN (RFC 4616) message parsing.
//   - acl.go: Kafka's ACL model (resource types, literal and prefixed
//     patterns, operations and their implications, allow and deny) and an
//     Authorizer with Kafka's StandardAuthorizer semantics.
//
// Persistence lives in internal/meta (users.go, acls.go); the broker wires
// the two together and maps errors to Kafka codes.
//
// Errors meant for the client are *Error values: their message is what a
// Kafka broker would say. Every other failure is reported to the client
// with the generic message of errors.go, so that nothing about a user's
// existence leaks to an unauthenticated peer.
package auth
