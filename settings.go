//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"time"

	"github.com/mill-io/mill/codec"
)

// connSettings are the options that govern a server's connections,
// taken from its options once, when the server is made. Every loop gets
// a pointer to them when it is made and only reads them, so connection
// code finds its settings one pointer away (c.loop.set) rather than
// reaching up through the engine and the server, as Go's net gives a
// netFD what it needs when it is made.
type connSettings struct {
	// Output (backpressure.go, batch.go).
	lowWatermark, highWatermark int
	outboundLimit               int
	overflow                    OverflowPolicy
	totalOutbound               int
	flowControl                 bool
	writeBufferMin              int
	// Input and ending (backpressure.go, halfclose.go, finish.go).
	inboundLimit  int
	halfOpen      bool
	lingerTimeout time.Duration
	codec         codec.Factory
	// Timeouts (timeouts.go).
	idleTimeout, readTimeout, writeTimeout time.Duration
	dialTimeout                            time.Duration
	// Sockets (tune, dial.go).
	tcpNoDelay             bool
	tcpKeepAlive           time.Duration
	recvBuffer, sendBuffer int
	bindToDevice           string
}

func (o *options) connSettings() *connSettings {
	return &connSettings{
		lowWatermark: o.lowWatermark, highWatermark: o.highWatermark,
		outboundLimit: o.outboundLimit, overflow: o.overflow, totalOutbound: o.totalOutbound,
		flowControl: o.flowControl, writeBufferMin: o.writeBufferCap,
		inboundLimit: o.inboundLimit, halfOpen: o.halfOpen, lingerTimeout: o.lingerTimeout, codec: o.codec,
		idleTimeout: o.idleTimeout, readTimeout: o.readTimeout, writeTimeout: o.writeTimeout,
		dialTimeout: o.dialTimeout,
		tcpNoDelay:  o.tcpNoDelay, tcpKeepAlive: o.tcpKeepAlive,
		recvBuffer: o.recvBuffer, sendBuffer: o.sendBuffer, bindToDevice: o.bindToDevice,
	}
}
