package mail

import (
	"html"
	"strings"

	"github.com/portcullis/portcullis/storage"
)

// Kinds of messages (OutboxMail.Kind).
const (
	KindPasswordReset   = "password_reset"
	KindInvitation      = "invitation"
	KindPasswordChanged = "password_changed"
)

// Message is an email before it goes to the outbox: a few paragraphs, at most one link (the only
// secret a message may carry), for one recipient of one tenant.
type Message struct {
	Kind       string
	TenantID   string
	TenantName string
	UserID     string
	To         string
	Subject    string
	Paragraphs []string
	Link       string // "" for none
	LinkLabel  string
	After      []string // paragraphs after the link
}

// Outbox renders m as a plain-text and an HTML part, ready for storage.EnqueueMail.
func (m Message) Outbox() storage.OutboxMail {
	var t, h strings.Builder
	h.WriteString(`<!doctype html><html><body style="font-family:sans-serif;line-height:1.5;max-width:36em">`)
	h.WriteString(`<p style="color:#555">` + html.EscapeString(m.TenantName) + `</p>`)
	for _, p := range m.Paragraphs {
		t.WriteString(p + "\n\n")
		h.WriteString("<p>" + html.EscapeString(p) + "</p>")
	}
	if m.Link != "" {
		t.WriteString(m.LinkLabel + ":\n" + m.Link + "\n\n")
		h.WriteString(`<p><a href="` + html.EscapeString(m.Link) + `">` + html.EscapeString(m.LinkLabel) + `</a></p>`)
	}
	for _, p := range m.After {
		t.WriteString(p + "\n\n")
		h.WriteString("<p>" + html.EscapeString(p) + "</p>")
	}
	t.WriteString("-- \n" + m.TenantName + " (sign-in by Portcullis)\n")
	h.WriteString(`<p style="color:#555">` + html.EscapeString(m.TenantName) + ` (sign-in by Portcullis)</p></body></html>`)
	return storage.OutboxMail{TenantID: m.TenantID, UserID: m.UserID, Kind: m.Kind, To: m.To,
		Subject: m.TenantName + ": " + m.Subject, Text: t.String(), HTML: h.String()}
}
