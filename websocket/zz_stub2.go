package websocket

import (
	"bytes"
	"compress/flate"
	"io"
)

type deflateParams struct{ ourNoContext, peerNoContext bool }

func negotiateServer(values [][]byte, cfg Compression) (p deflateParams, resp []byte, ok bool) {
	for _, v := range values {
		if bytes.Contains(v, []byte("permessage-deflate")) {
			return deflateParams{true, bytes.Contains(v, []byte("client_no_context_takeover"))}, []byte("permessage-deflate; server_no_context_takeover"), true
		}
	}
	return
}
func clientOffer(cfg Compression) string { return "permessage-deflate; client_no_context_takeover" }
func clientAccept(values [][]byte, cfg Compression) (p deflateParams, ok bool, err error) {
	return deflateParams{true, true}, true, nil
}

type deflater struct{ level int }

func (d *deflater) init(level int, noContext bool) { d.level = level }
func (d *deflater) deflate(dst, p []byte) []byte {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, d.level)
	w.Write(p)
	w.Flush()
	out := b.Bytes()
	return append(dst, out[:len(out)-4]...)
}
func (d *deflater) release() {}

type inflater struct{ z []byte }

func (f *inflater) init(peerNoContext bool) {}
func (f *inflater) inflate(dst, data []byte, final bool, limit int) ([]byte, error) {
	f.z = append(f.z, data...)
	if !final {
		return dst, nil
	}
	r := flate.NewReader(io.MultiReader(bytes.NewReader(f.z), bytes.NewReader([]byte{0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff})))
	out, err := io.ReadAll(io.LimitReader(r, int64(limit-len(dst)+1)))
	f.z = nil
	if err != nil {
		return dst, ErrBadCompression
	}
	if len(dst)+len(out) > limit {
		return dst, ErrMessageTooBig
	}
	return append(dst, out...), nil
}
func (f *inflater) release() {}
