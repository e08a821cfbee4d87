module github.com/mill-io/mill/benchmarks

go 1.25.0

require (
	github.com/lesismal/llib v1.2.5
	github.com/lesismal/nbio v1.6.8
	github.com/mill-io/mill v0.0.0-00010101000000-000000000000
	github.com/panjf2000/gnet/v2 v2.9.7
	github.com/valyala/fasthttp v1.74.0
	golang.org/x/sys v0.47.0
)

require (
	github.com/dolthub/maphash v0.1.0 // indirect
	github.com/gorilla/websocket v1.5.3 // indirect
	github.com/klauspost/compress v1.20.0 // indirect
	github.com/lxzan/gws v1.8.9 // indirect
	github.com/molecule-man/go-brrr v1.0.1 // indirect
	github.com/panjf2000/ants/v2 v2.12.1 // indirect
	github.com/valyala/bytebufferpool v1.0.0 // indirect
	go.uber.org/multierr v1.11.0 // indirect
	go.uber.org/zap v1.27.0 // indirect
	golang.org/x/crypto v0.55.0 // indirect
	golang.org/x/sync v0.11.0 // indirect
	gopkg.in/natefinch/lumberjack.v2 v2.2.1 // indirect
)

// The benchmarks always measure the mill in this checkout.
replace github.com/mill-io/mill => ../
