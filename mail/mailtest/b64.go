package mailtest

import (
	"encoding/base64"
	"strings"
)

func decodeBase64(b []byte) (string, error) {
	s := strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, string(b))
	out, err := base64.StdEncoding.DecodeString(s)
	return string(out), err
}
