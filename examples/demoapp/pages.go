package demoapp

import (
	"embed"
	"fmt"
	"html/template"
	"sort"
	"time"
	"unicode"
	"unicode/utf8"
)

//go:embed page.html
var pageFS embed.FS

func parsePages() (*template.Template, error) {
	t, err := template.New("").ParseFS(pageFS, "page.html")
	if err != nil {
		return nil, fmt.Errorf("parse pages: %w", err)
	}
	return t, nil
}

// pageData is everything page.html shows; one of User and Failure is set, or neither (the landing page).
type pageData struct {
	Title   string
	Issuer  string
	Notice  string
	User    *userData
	Failure *failure
	CSRF    string
}

// userData describes the signed-in user.
type userData struct {
	Name, Email, Tenant, Subject string
	Initial                      string
	Method                       string // how they signed in, in words
	MFA                          bool
	AMR, ACR                     string // the claims' JSON
	Claims                       []claimRow
	RawIDToken                   string
}

// claimRow is one row of the claims table.
type claimRow struct {
	Name      string
	JSON      string
	Note      string // the time, for the registered time claims
	Highlight bool   // amr and acr
}

var timeClaims = map[string]bool{"exp": true, "iat": true, "auth_time": true, "nbf": true, "updated_at": true}

func userView(s session) *userData {
	c := s.Claims
	str := func(k string) string { v, _ := c[k].(string); return v }
	amr := stringList(c["amr"])
	u := &userData{Name: str("name"), Email: str("email"), Tenant: str("tenant"), Subject: str("sub"),
		Method: signInMethod(amr), MFA: str("acr") == ACRMFA, AMR: jsonText(amr), ACR: jsonText(c["acr"]), RawIDToken: s.RawIDToken}
	if c["acr"] == nil {
		u.ACR = "null"
	}
	display := u.Name
	if display == "" {
		display = u.Email
	}
	if r, _ := utf8.DecodeRuneInString(display); r != utf8.RuneError {
		u.Initial = string(unicode.ToUpper(r))
	}
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { // amr and acr first, then by name
		hi, hj := keys[i] == "amr" || keys[i] == "acr", keys[j] == "amr" || keys[j] == "acr"
		if hi != hj {
			return hi
		}
		return keys[i] < keys[j]
	})
	for _, k := range keys {
		row := claimRow{Name: k, JSON: jsonText(c[k]), Highlight: k == "amr" || k == "acr"}
		if f, ok := c[k].(float64); ok && timeClaims[k] {
			row.Note = time.Unix(int64(f), 0).UTC().Format("2006-01-02 15:04:05 UTC")
		}
		u.Claims = append(u.Claims, row)
	}
	return u
}
