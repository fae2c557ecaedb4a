package broker

// ListTransactions: v0-v2.
//
// Behavior: lists the transactional ids the coordinator knows, filtered by
// state names (unknown names are echoed in unknown_state_filters and match
// nothing, as in Kafka), by producer ids, from v1 by minimum duration of
// the open transaction (duration_filter_ms; ids without an open transaction
// never match a positive filter) and from v2 by a regular expression on the
// id (an invalid one is INVALID_REQUEST). Ids the principal may not
// DESCRIBE are left out.

import (
	"regexp"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-stream/chronik/internal/auth"
	"github.com/chronik-stream/chronik/internal/txn"
)

func init() { regKey(kmsg.ListTransactions, 0, 2, handleListTransactions) }

func handleListTransactions(r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.ListTransactionsRequest)
	resp := req.ResponseKind().(*kmsg.ListTransactionsResponse)
	f := txn.ListFilter{PIDs: req.ProducerIDFilters}
	for _, s := range req.StateFilters {
		if _, ok := txn.ParseState(s); !ok {
			resp.UnknownStateFilters = append(resp.UnknownStateFilters, s)
			continue
		}
		f.States = append(f.States, s)
	}
	if len(req.StateFilters) > 0 && len(f.States) == 0 {
		return resp, nil // only unknown states: nothing matches
	}
	if r.version >= 1 && req.DurationFilterMillis > 0 {
		f.MinDuration = time.Duration(req.DurationFilterMillis) * time.Millisecond
	}
	if r.version >= 2 && req.TransactionalIDPattern != nil && *req.TransactionalIDPattern != "" {
		re, err := regexp.Compile(*req.TransactionalIDPattern)
		if err != nil {
			resp.ErrorCode = kerr.InvalidRequest.Code
			return resp, nil
		}
		f.Pattern = re
	}
	for _, l := range r.c.b.txns.List(f) {
		if !r.authorize(auth.OpDescribe, auth.ResourceTransactionalID, l.ID) {
			continue
		}
		s := kmsg.NewListTransactionsResponseTransactionState()
		s.TransactionalID, s.ProducerID, s.TransactionState = l.ID, l.PID, l.State.String()
		resp.TransactionStates = append(resp.TransactionStates, s)
	}
	return resp, nil
}
