//go:build !linux

package main

import "errors"

// runWSBroadcast needs epoll: the broadcast mode is Linux-only.
func runWSBroadcast(o options) Result {
	var errs errorLog
	errs.add(errors.New("-ws -broadcast is only supported on Linux"))
	res := Result{Mode: "ws-broadcast", Addr: o.addr}
	errs.fill(&res)
	return res
}
