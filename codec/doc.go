// Package codec frames a connection's byte stream: a [Decoder] cuts the
// inbound bytes into frames, an [Encoder] turns outbound frames into bytes.
// A [Codec] is both, and a [Factory] makes one per connection.
//
// The caller owns the input buffer. It offers a Decoder all the unread input
// as one contiguous slice, takes the frame, drops the n bytes the frame used,
// and repeats until Decode says it needs more input (n == 0):
//
//	for {
//		frame, n, err := dec.Decode(buf)
//		if err != nil {
//			return err // the stream is unusable: close the connection
//		}
//		if n == 0 {
//			break // incomplete: read more, append it to buf, try again
//		}
//		handle(frame) // frame aliases buf: use or copy it before buf changes
//		buf = buf[n:]
//	}
//
// Built-in codecs:
//
//   - [Line]: text lines ending in "\n" or "\r\n".
//   - [Delimiter]: frames ending in one of a set of byte sequences.
//   - [Fixed]: frames of one fixed length.
//   - [LengthField]: frames with a binary length field in their header, the
//     layouts of Netty's LengthFieldBasedFrameDecoder.
//
// Each is built from a config struct whose zero value (Fixed aside) selects
// the defaults, by a constructor that returns an error for an invalid
// config; [Must] turns that error into a panic. Each limits the frame
// length by default (64 KiB for Line and Delimiter, 8 MiB for
// LengthField) and reports an over-long frame as soon as it can tell, so
// a peer cannot make a connection buffer more than about the limit.
//
// The built-ins never copy: frames alias the input, with their capacity
// capped at their length. Their Decode never allocates, not even for an
// error, and never writes to the input. They keep no per-connection state
// and are immutable, so one value can serve all connections ([Shared]).
// Frames never depend on how the stream was split into reads.
//
// Errors from Decode and Encode wrap [ErrFrameTooLong] or
// [ErrCorruptFrame]; test them with [errors.Is]. Encode refuses, with
// such an error, a frame the wire format cannot carry unchanged (a line
// containing "\n", a length too big for its field); it does not apply the
// decode limit, which protects the receiver only.
//
// A codec is used by one connection at a time, on that connection's event
// loop; methods say which goroutine may call them and how long the slices
// they return stay valid.
package codec
