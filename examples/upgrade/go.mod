module github.com/mill-io/mill/examples/upgrade

go 1.25.0

// The example always builds against the mill in this checkout.
replace github.com/mill-io/mill => ../..

require (
	github.com/cloudflare/tableflip v1.2.3
	github.com/mill-io/mill v0.0.0-00010101000000-000000000000
)

require (
	github.com/panjf2000/ants/v2 v2.12.1 // indirect
	go.uber.org/multierr v1.10.0 // indirect
	go.uber.org/zap v1.27.0 // indirect
	golang.org/x/sync v0.11.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
)
