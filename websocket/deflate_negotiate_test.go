package websocket

import (
	"errors"
	"strings"
	"testing"
)

// fields turns header field values into what negotiateServer and
// clientAccept take.
func fields(vs ...string) [][]byte {
	out := make([][]byte, len(vs))
	for i, v := range vs {
		out[i] = []byte(v)
	}
	return out
}

func TestNegotiateServer(t *testing.T) {
	on := Compression{Enabled: true}
	ctx := Compression{Enabled: true, ContextTakeover: true}
	const (
		snct = "; server_no_context_takeover"
		cnct = "; client_no_context_takeover"
		smwb = "; server_max_window_bits=15"
	)
	tests := []struct {
		name   string
		values []string
		cfg    Compression
		ok     bool
		resp   string
		params deflateParams
	}{
		{"none", nil, ctx, false, "", deflateParams{}},
		{"empty field", []string{""}, ctx, false, "", deflateParams{}},
		{"disabled", []string{"permessage-deflate"}, Compression{}, false, "", deflateParams{}},
		{"plain, context", []string{"permessage-deflate"}, ctx, true, "permessage-deflate", deflateParams{}},
		{"plain, no context", []string{"permessage-deflate"}, on, true, "permessage-deflate" + snct, deflateParams{ourNoContext: true}},
		{"browser offer", []string{"permessage-deflate; client_max_window_bits"}, ctx, true, "permessage-deflate", deflateParams{}},
		{"client asks server reset", []string{"permessage-deflate; server_no_context_takeover"}, ctx, true, "permessage-deflate" + snct, deflateParams{ourNoContext: true}},
		{"client resets", []string{"permessage-deflate; client_no_context_takeover"}, ctx, true, "permessage-deflate" + cnct, deflateParams{peerNoContext: true}},
		{"both reset", []string{"permessage-deflate; client_no_context_takeover; server_no_context_takeover"}, on, true, "permessage-deflate" + snct + cnct, deflateParams{true, true}},
		{"case insensitive", []string{"PerMessage-Deflate; Client_No_Context_Takeover"}, ctx, true, "permessage-deflate" + cnct, deflateParams{peerNoContext: true}},
		{"whitespace", []string{" \t permessage-deflate \t;\tclient_max_window_bits = 10 ;  server_no_context_takeover  "}, ctx, true, "permessage-deflate" + snct, deflateParams{ourNoContext: true}},
		{"server bits 15", []string{"permessage-deflate; server_max_window_bits=15"}, ctx, true, "permessage-deflate" + smwb, deflateParams{}},
		{"server bits quoted 15", []string{`permessage-deflate; server_max_window_bits="15"`}, ctx, true, "permessage-deflate" + smwb, deflateParams{}},
		{"server bits quoted escaped 15", []string{`permessage-deflate; server_max_window_bits="1\5"`}, ctx, true, "permessage-deflate" + smwb, deflateParams{}},
		{"server bits 8 declined", []string{"permessage-deflate; server_max_window_bits=8"}, ctx, false, "", deflateParams{}},
		{"server bits 14 declined", []string{"permessage-deflate; server_max_window_bits=14"}, ctx, false, "", deflateParams{}},
		{"server bits 14 then plain", []string{"permessage-deflate; server_max_window_bits=14, permessage-deflate"}, ctx, true, "permessage-deflate", deflateParams{}},
		{"server bits valueless", []string{"permessage-deflate; server_max_window_bits"}, ctx, false, "", deflateParams{}},
		{"server bits 16", []string{"permessage-deflate; server_max_window_bits=16"}, ctx, false, "", deflateParams{}},
		{"client bits 8", []string{"permessage-deflate; client_max_window_bits=8"}, ctx, true, "permessage-deflate", deflateParams{}},
		{"client bits 9", []string{"permessage-deflate; client_max_window_bits=9"}, ctx, true, "permessage-deflate", deflateParams{}},
		{"client bits 15", []string{"permessage-deflate; client_max_window_bits=15"}, ctx, true, "permessage-deflate", deflateParams{}},
		{"client bits quoted", []string{`permessage-deflate; client_max_window_bits="12"`}, ctx, true, "permessage-deflate", deflateParams{}},
		{"client bits 0", []string{"permessage-deflate; client_max_window_bits=0"}, ctx, false, "", deflateParams{}},
		{"client bits 7", []string{"permessage-deflate; client_max_window_bits=7"}, ctx, false, "", deflateParams{}},
		{"client bits 16", []string{"permessage-deflate; client_max_window_bits=16"}, ctx, false, "", deflateParams{}},
		{"client bits abc", []string{"permessage-deflate; client_max_window_bits=abc"}, ctx, false, "", deflateParams{}},
		{"client bits leading zero", []string{"permessage-deflate; client_max_window_bits=09"}, ctx, false, "", deflateParams{}},
		{"client bits signed", []string{"permessage-deflate; client_max_window_bits=+9"}, ctx, false, "", deflateParams{}},
		{"client bits empty quoted", []string{`permessage-deflate; client_max_window_bits=""`}, ctx, false, "", deflateParams{}},
		{"client bits empty", []string{"permessage-deflate; client_max_window_bits="}, ctx, false, "", deflateParams{}},
		{"quoted not a token", []string{`permessage-deflate; client_max_window_bits="1 5"`}, ctx, false, "", deflateParams{}},
		{"unterminated quote", []string{`permessage-deflate; client_max_window_bits="15`}, ctx, false, "", deflateParams{}},
		{"flag with value", []string{"permessage-deflate; client_no_context_takeover=1"}, ctx, false, "", deflateParams{}},
		{"duplicate flag", []string{"permessage-deflate; server_no_context_takeover; server_no_context_takeover"}, ctx, false, "", deflateParams{}},
		{"duplicate bits", []string{"permessage-deflate; client_max_window_bits; client_max_window_bits=15"}, ctx, false, "", deflateParams{}},
		{"duplicate differing case", []string{"permessage-deflate; client_no_context_takeover; CLIENT_NO_CONTEXT_TAKEOVER"}, ctx, false, "", deflateParams{}},
		{"unknown param", []string{"permessage-deflate; foo"}, ctx, false, "", deflateParams{}},
		{"unknown then good", []string{"permessage-deflate; foo=bar, permessage-deflate; client_no_context_takeover"}, ctx, true, "permessage-deflate" + cnct, deflateParams{peerNoContext: true}},
		{"first acceptable wins", []string{"permessage-deflate; server_no_context_takeover, permessage-deflate"}, ctx, true, "permessage-deflate" + snct, deflateParams{ourNoContext: true}},
		{"across fields", []string{"x-webkit-deflate-frame", "permessage-deflate; server_max_window_bits=10", "permessage-deflate; client_no_context_takeover"}, ctx, true, "permessage-deflate" + cnct, deflateParams{peerNoContext: true}},
		{"other extensions only", []string{"x-webkit-deflate-frame, foo; bar=1"}, ctx, false, "", deflateParams{}},
		{"other extension first", []string{`foo; bar="a,b", permessage-deflate`}, ctx, true, "permessage-deflate", deflateParams{}},
		{"empty elements", []string{" , ,permessage-deflate,, "}, ctx, true, "permessage-deflate", deflateParams{}},
		{"missing param name", []string{"permessage-deflate; ; client_no_context_takeover"}, ctx, false, "", deflateParams{}},
		{"trailing semicolon", []string{"permessage-deflate;"}, ctx, false, "", deflateParams{}},
		{"junk after name", []string{"permessage-deflate x"}, ctx, false, "", deflateParams{}},
		{"prefix name", []string{"permessage-deflatex"}, ctx, false, "", deflateParams{}},
		{"all four", []string{"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15; client_max_window_bits=8"}, ctx, true, "permessage-deflate" + snct + cnct + smwb, deflateParams{true, true}},
	}
	if len(tests) < 25 {
		t.Fatalf("only %d cases", len(tests))
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, resp, ok := negotiateServer(fields(tc.values...), tc.cfg)
			if ok != tc.ok || string(resp) != tc.resp || p != tc.params {
				t.Fatalf("negotiateServer(%q) = %+v, %q, %v; want %+v, %q, %v", tc.values, p, resp, ok, tc.params, tc.resp, tc.ok)
			}
			if !ok && resp != nil {
				t.Fatalf("resp %q though not ok", resp)
			}
			if ok {
				// Our own client must accept what we answered.
				cp, cok, err := clientAccept([][]byte{resp}, Compression{Enabled: true, ContextTakeover: true})
				if err != nil || !cok || cp.peerNoContext != p.ourNoContext {
					t.Fatalf("clientAccept(%q) = %+v, %v, %v", resp, cp, cok, err)
				}
			}
		})
	}
}

func TestClientOffer(t *testing.T) {
	if got := clientOffer(Compression{}); got != "" {
		t.Errorf("disabled: %q", got)
	}
	if got := clientOffer(Compression{Enabled: true, ContextTakeover: true}); got != "permessage-deflate" {
		t.Errorf("context: %q", got)
	}
	if got := clientOffer(Compression{Enabled: true}); got != "permessage-deflate; client_no_context_takeover" {
		t.Errorf("no context: %q", got)
	}
	// Our server accepts our client's offers, with the matching params.
	for _, cfg := range []Compression{{Enabled: true}, {Enabled: true, ContextTakeover: true}} {
		for _, scfg := range []Compression{{Enabled: true}, {Enabled: true, ContextTakeover: true}} {
			sp, resp, ok := negotiateServer(fields(clientOffer(cfg)), scfg)
			if !ok {
				t.Fatalf("server %+v refused %q", scfg, clientOffer(cfg))
			}
			cp, ok, err := clientAccept([][]byte{resp}, cfg)
			if err != nil || !ok {
				t.Fatalf("client refused %q: %v", resp, err)
			}
			if cp.ourNoContext != sp.peerNoContext || cp.peerNoContext != sp.ourNoContext {
				t.Fatalf("client %+v and server %+v disagree", cp, sp)
			}
			if cp.ourNoContext != !cfg.ContextTakeover || sp.ourNoContext != !scfg.ContextTakeover {
				t.Fatalf("client %+v server %+v for %+v %+v", cp, sp, cfg, scfg)
			}
		}
	}
}

func TestClientAccept(t *testing.T) {
	on := Compression{Enabled: true}
	ctx := Compression{Enabled: true, ContextTakeover: true}
	tests := []struct {
		name   string
		values []string
		cfg    Compression
		ok     bool
		fail   bool
		params deflateParams
	}{
		{"nothing", nil, ctx, false, false, deflateParams{}},
		{"empty field", []string{"", " "}, ctx, false, false, deflateParams{}},
		{"nothing, disabled", nil, Compression{}, false, false, deflateParams{}},
		{"plain", []string{"permessage-deflate"}, ctx, true, false, deflateParams{}},
		{"plain, we reset", []string{"permessage-deflate"}, on, true, false, deflateParams{ourNoContext: true}},
		{"case and space", []string{"  PERMESSAGE-DEFLATE ;Server_No_Context_Takeover  "}, ctx, true, false, deflateParams{peerNoContext: true}},
		{"server resets", []string{"permessage-deflate; server_no_context_takeover"}, ctx, true, false, deflateParams{peerNoContext: true}},
		{"server tells us to reset", []string{"permessage-deflate; client_no_context_takeover"}, ctx, true, false, deflateParams{ourNoContext: true}},
		{"server bits 8", []string{"permessage-deflate; server_max_window_bits=8"}, ctx, true, false, deflateParams{}},
		{"server bits quoted", []string{`permessage-deflate; server_max_window_bits="9"`}, ctx, true, false, deflateParams{}},
		{"client bits 15", []string{"permessage-deflate; client_max_window_bits=15"}, ctx, true, false, deflateParams{}},
		{"empty elements", []string{",permessage-deflate,"}, ctx, true, false, deflateParams{}},
		{"client bits 14", []string{"permessage-deflate; client_max_window_bits=14"}, ctx, false, true, deflateParams{}},
		{"client bits valueless", []string{"permessage-deflate; client_max_window_bits"}, ctx, false, true, deflateParams{}},
		{"server bits 16", []string{"permessage-deflate; server_max_window_bits=16"}, ctx, false, true, deflateParams{}},
		{"server bits valueless", []string{"permessage-deflate; server_max_window_bits"}, ctx, false, true, deflateParams{}},
		{"unknown param", []string{"permessage-deflate; foo"}, ctx, false, true, deflateParams{}},
		{"duplicate", []string{"permessage-deflate; server_no_context_takeover; server_no_context_takeover"}, ctx, false, true, deflateParams{}},
		{"twice", []string{"permessage-deflate, permessage-deflate"}, ctx, false, true, deflateParams{}},
		{"twice across fields", []string{"permessage-deflate", "permessage-deflate"}, ctx, false, true, deflateParams{}},
		{"not offered", []string{"permessage-deflate"}, Compression{}, false, true, deflateParams{}},
		{"other extension", []string{"x-webkit-deflate-frame"}, ctx, false, true, deflateParams{}},
		{"other extension too", []string{"permessage-deflate, foo"}, ctx, false, true, deflateParams{}},
		{"malformed", []string{"permessage-deflate;"}, ctx, false, true, deflateParams{}},
		{"malformed quote", []string{`permessage-deflate; server_max_window_bits="8`}, ctx, false, true, deflateParams{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, ok, err := clientAccept(fields(tc.values...), tc.cfg)
			if (err != nil) != tc.fail || ok != tc.ok || p != tc.params {
				t.Fatalf("clientAccept(%q) = %+v, %v, %v; want %+v, %v, fail %v", tc.values, p, ok, err, tc.params, tc.ok, tc.fail)
			}
			if err != nil && !errors.Is(err, ErrHandshake) {
				t.Fatalf("error %v does not wrap ErrHandshake", err)
			}
		})
	}
}

func TestParseElementQuoted(t *testing.T) {
	name, ps, ok := parseElement([]byte(`ext; a="b\"c"; d=e; f`), nil)
	// b"c is not a token, so the element is malformed.
	if ok {
		t.Fatalf("accepted a quoted non-token: %q %+v", name, ps)
	}
	name, ps, ok = parseElement([]byte(`ext; a="b\c"; d = e ;f`), nil)
	if !ok || string(name) != "ext" || len(ps) != 3 ||
		string(ps[0].value) != "bc" || !ps[0].hasValue ||
		string(ps[1].name) != "d" || string(ps[1].value) != "e" ||
		string(ps[2].name) != "f" || ps[2].hasValue {
		t.Fatalf("got %q %+v %v", name, ps, ok)
	}
	elem, rest := nextElement([]byte(`a; b="x,\"y", c`))
	if string(elem) != `a; b="x,\"y"` || string(rest) != " c" {
		t.Fatalf("nextElement: %q %q", elem, rest)
	}
	if strings.Contains(clientOffer(Compression{Enabled: true}), "server_no_context_takeover") {
		t.Fatal("client asks the server to drop its context")
	}
}
