// Package mail delivers Portcullis' email: a transactional outbox in the database (storage.EnqueueMail,
// written in the same transaction as the change that causes the message), a Worker that claims due
// messages with a lease and sends them through SMTP with retries and backoff, and the messages
// themselves (plain text and HTML, the tenant's name, no secret beyond the one link a message carries).
//
// It depends on storage records and github.com/wneessen/go-mail; never on login, admin or op.
package mail
