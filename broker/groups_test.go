package broker

// Test hooks for the external tests (package broker_test) of the group
// coordinator.

// CloseGroups closes b's group coordinator (what Close will do once the
// coordinator is a field of Broker).
func CloseGroups(b *Broker) error { return b.closeGroups() }
