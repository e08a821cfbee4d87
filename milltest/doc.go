// Package milltest unit-tests mill handlers without sockets, servers or
// event loops.
//
// [Conn] is a fake [mill.Conn]: the test feeds its input, and it records
// what the handler writes, closes and asks for. [Harness] drives a
// [mill.Handler] over such connections the way a server would: OnOpen,
// OnTraffic, OnHalfClose and OnClose, in order, one at a time.
//
//	h := milltest.NewHarness(myHandler{})
//	c := h.Open()                        // runs OnOpen
//	h.Traffic(c, []byte("PING\r\n"))     // feeds the bytes, runs OnTraffic
//	if got := c.TakeOutput(); string(got) != "+PONG\r\n" { ... }
//	h.Close(c, nil)                      // the peer hung up: runs OnClose
//
// # What runs when
//
// Nothing runs behind the test's back. Handler callbacks run on the
// goroutine that calls a Harness method. Work that mill would do later on
// the connection's event loop waits until the test asks for it:
// asynchronous writes ([Conn.AsyncWrite], [Conn.AsyncWritev],
// [Conn.AsyncWriteFrame]), [Conn.Do] functions, [Conn.Submit] tasks and
// OnWritabilityChanged notices are queued, in order, and run by
// [Conn.RunPending]. So the test plays the event loop (and the worker
// pool): call the Harness methods, RunPending, [Conn.Drain] and
// [Conn.SetSocketFull] from one goroutine at a time, normally the test's
// own.
//
// Every method of Conn is safe for concurrent use, so handler code may
// hand a Conn to goroutines of its own that call the methods mill allows
// on any goroutine (AsyncWrite, Do, Close and so on), as it would in
// production; what they queue runs at the next RunPending.
//
// # How faithful it is
//
// The fake follows mill.Conn's documented semantics where a fake can:
//
//   - Input: Peek, Next, Discard, Read, InboundBuffered and ReadFrame work
//     on the bytes fed so far. The slices they return stay valid until the
//     next Feed or until the callback that obtained them returns; then the
//     fake overwrites the bytes they alias with junk, so that a handler
//     that keeps such a slice too long fails its tests as it would
//     (sometimes) fail in production.
//   - Output: by default the fake socket takes every write at once, so
//     OutboundBuffered is 0 and Writable is true. After SetSocketFull(true)
//     it takes nothing: output queues, counts against the outbound limit
//     (default [mill.DefaultOutboundLimit] under [mill.CloseSlowConsumer],
//     as in a server; see [Conn.SetOutboundLimit]) and the watermarks
//     (see [Conn.SetWriteWatermarks]), and asynchronous writes' callbacks
//     wait, until [Conn.Drain] or SetSocketFull(false) lets the socket take
//     it. Every write the connection accepted is in [Conn.Output] at once,
//     queued or not: Output is what the peer will read.
//   - Closing: as in mill, Close, CloseLingering and CloseWrite, from any
//     goroutine, are queued work that takes effect when RunPending runs
//     it, after the work queued before it (an AsyncWrite made before
//     Close is written first); Closed, Lingering and CloseWriteCalled
//     report the call at once, and writes succeed until then. A
//     callback's mill.Close action, and a fatal write or decode error it
//     meets, close the connection as soon as the callback returns;
//     outside callbacks such an error closes it at once. Once a
//     Harness-opened connection has closed, the Harness runs OnClose. A
//     lingering close completes at once: there is no peer to wait for.
//   - Flow control: while queued output is past the high watermark (or
//     after SetWritable(false)), or after PauseReading, the Harness holds
//     back the bytes passed to Traffic, as mill would leave them unread in
//     the socket, and does not run OnTraffic; the next Traffic after
//     reading resumes delivers them (pass nil to deliver only those).
//
// Not modelled: the inbound limit, the server-wide outbound limit, write
// batching, timeouts firing (their settings are only recorded), the
// socket breaking, graceful shutdown's refusal of new asynchronous writes,
// and UDP (there is no fake PacketConn). Panics in handler code are not
// recovered: they fail the test, with their stack.
//
// Package milltest builds wherever package mill does, including on
// systems where mill cannot serve (such as Windows), so handler tests run
// there too.
package milltest
