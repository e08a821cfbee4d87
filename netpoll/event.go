package netpoll

// Interest is the set of readiness conditions a registration asks for.
type Interest uint8

const (
	// Readable asks for events when the descriptor has data to read, or
	// when the peer closed or an error is pending.
	Readable Interest = 1 << iota
	// Writable asks for events when the descriptor accepts more output.
	Writable
)

// Flags describe what became ready. Error and Hangup may be reported
// without having been asked for.
type Flags uint8

const (
	// In means a read will not block (data, end of stream or an error).
	In Flags = 1 << iota
	// Out means a write will not block.
	Out
	// Hangup means the peer closed its side, or both sides are closed.
	Hangup
	// Error means an error is pending on the descriptor; a read or write
	// returns it.
	Error
)

// Event is one readiness report: the descriptor and generation given to
// Add or Modify, and what became ready.
type Event struct {
	Fd    int    // the descriptor
	Gen   uint32 // the generation given to Add or Modify (see Poller)
	Flags Flags  // what became ready
}
