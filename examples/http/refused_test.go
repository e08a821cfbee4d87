package main

import "github.com/mill-io/mill/internal/httpcases"

// get is the request most tests send.
const get = httpcases.Get

// badRequests are the requests the parser refuses, with their status:
// the parser's tests (package http1) run the same list, and the tests
// here send each over TCP.
var badRequests = httpcases.Bad
