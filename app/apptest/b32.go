package apptest

import (
	"encoding/base32"
	"strings"
)

func base32NoPad(s string) ([]byte, error) {
	return base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(strings.TrimRight(s, "=")))
}
