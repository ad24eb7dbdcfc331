package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

// badInput is a 400/413/415 answered as a problem document.
type badInput struct {
	status int
	detail string
}

func (e *badInput) Error() string { return e.detail }

// bind decodes a JSON body strictly: JSON content type, at most the body limit, no unknown fields,
// no trailing data. Any problem leaves the database untouched.
func bind(c echo.Context, v any) error {
	ct, _, err := mime.ParseMediaType(c.Request().Header.Get("Content-Type"))
	if err != nil || ct != "application/json" {
		return &badInput{http.StatusUnsupportedMediaType, "the body must be application/json"}
	}
	body, err := io.ReadAll(c.Request().Body) // bounded by the body limit
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) || errors.Is(err, echo.ErrStatusRequestEntityTooLarge) { // a chunked body over the limit
			return &badInput{http.StatusRequestEntityTooLarge, "the body is too large"}
		}
		return &badInput{http.StatusBadRequest, "the body could not be read"}
	}
	// encoding/json would store invalid UTF-8, and escaped lone surrogates, as U+FFFD (RFC 8259 §8.1).
	if !utf8.Valid(body) || hasLoneSurrogate(body) {
		return &badInput{http.StatusBadRequest, "malformed JSON: the body is not valid UTF-8"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &badInput{http.StatusBadRequest, "malformed JSON: " + err.Error()}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &badInput{http.StatusBadRequest, "malformed JSON: data after the object"}
	}
	return nil
}

// hasLoneSurrogate reports whether a JSON text escapes half of a UTF-16 surrogate pair ("\ud800"
// without its low half, or a low half alone), which names no character.
func hasLoneSurrogate(b []byte) bool {
	hex4 := func(i int) (rune, bool) {
		if i+6 > len(b) || b[i] != '\\' || b[i+1] != 'u' {
			return 0, false
		}
		n, err := strconv.ParseUint(string(b[i+2:i+6]), 16, 16)
		return rune(n), err == nil
	}
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		r, ok := hex4(i)
		if !ok {
			i++ // another escape: skip the escaped character (it may be a backslash)
			continue
		}
		switch {
		case utf16.IsSurrogate(r) && r < 0xdc00: // a high half needs a low half next
			lo, ok := hex4(i + 6)
			if !ok || lo < 0xdc00 || lo > 0xdfff {
				return true
			}
			i += 11
		case utf16.IsSurrogate(r):
			return true
		default:
			i += 5
		}
	}
	return false
}
