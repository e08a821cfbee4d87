//go:build !linux

package main

import "errors"

// runUDP needs Linux (epoll, recvmmsg, sendmmsg).
func runUDP(o options) Result {
	res := Result{Mode: "udp", Addr: o.addr, Conns: o.conns, Size: o.size, Pipeline: o.pipeline}
	var errs errorLog
	errs.add(errors.New("-udp is only implemented on Linux"))
	errs.fill(&res)
	return res
}
