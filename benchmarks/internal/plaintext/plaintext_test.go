package plaintext

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestHandler(t *testing.T) {
	rec := httptest.NewRecorder()
	Handler(rec, httptest.NewRequest("GET", "/plaintext", nil))
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || string(b) != Body || res.Header.Get("Content-Type") != "text/plain" ||
		res.Header.Get("Server") != "mill" || res.Header.Get("Content-Length") != "13" {
		t.Fatalf("status %d, body %q, header %v", res.StatusCode, b, res.Header)
	}
	if _, err := time.Parse(http.TimeFormat, res.Header.Get("Date")); err != nil {
		t.Fatalf("Date: %v", err)
	}
	rec = httptest.NewRecorder()
	Handler(rec, httptest.NewRequest("GET", "/other", nil))
	if rec.Code != 404 {
		t.Fatalf("/other: %d", rec.Code)
	}
}
