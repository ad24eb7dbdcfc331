package mail_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/mail"
	"github.com/portcullis/portcullis/mail/mailtest"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

// clock is a settable clock for the worker.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func enqueue(t *testing.T, st *storage.Store, now time.Time, to string) storage.OutboxMail {
	t.Helper()
	m := mail.Message{Kind: mail.KindPasswordReset, TenantName: "Acme <Corp>", To: to, Subject: "Reset your password",
		Paragraphs: []string{"Someone asked to reset the password of " + to + "."}, Link: "http://localhost/login/reset?token=abc",
		LinkLabel: "Choose a new password"}.Outbox()
	m.CreatedAt = now
	out, err := st.EnqueueMail(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sender(t *testing.T, srv *mailtest.Server) *mail.SMTP {
	t.Helper()
	s, err := mail.NewSMTP(srv.URL(), "Portcullis <no-reply@portcullis.test>", srv.ClientTLS())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSMTPModes sends through a real SMTP server in each TLS mode, with its own certificate.
func TestSMTPModes(t *testing.T) {
	for _, mode := range []string{mailtest.Plain, mailtest.StartTLS, mailtest.ImplicitTLS} {
		t.Run(mode, func(t *testing.T) {
			srv := mailtest.Start(t, mode)
			m := mail.Message{TenantName: "Acme <Corp>", To: "ann@example.com", Subject: "Hello",
				Paragraphs: []string{"Hi & welcome"}, Link: "http://localhost/x?a=1&b=2", LinkLabel: "Open"}.Outbox()
			m.ID = "m1"
			if err := sender(t, srv).Send(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			got := srv.Wait(1, 5*time.Second)[0]
			if got.To != "ann@example.com" || got.Subject != "Acme <Corp>: Hello" {
				t.Errorf("to %q subject %q", got.To, got.Subject)
			}
			if got.TLS != (mode != mailtest.Plain) {
				t.Errorf("TLS = %v in mode %s", got.TLS, mode)
			}
			if !strings.Contains(got.Text, "http://localhost/x?a=1&b=2") || !strings.Contains(got.Text, "Acme <Corp>") {
				t.Errorf("text part: %q", got.Text)
			}
			if !strings.Contains(got.HTML, `href="http://localhost/x?a=1&amp;b=2"`) || !strings.Contains(got.HTML, "Acme &lt;Corp&gt;") {
				t.Errorf("html part: %q", got.HTML)
			}
		})
	}
}

// TestSMTPRequiredTLSRefusesPlainServer: starttls=required never sends in clear text.
func TestSMTPRequiredTLSRefusesPlainServer(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Plain)
	s, err := mail.NewSMTP(strings.Replace(srv.URL(), "starttls=none", "starttls=required", 1), "no-reply@portcullis.test", srv.ClientTLS())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), storage.OutboxMail{ID: "x", To: "a@example.com", Subject: "s", Text: "t"}); err == nil {
		t.Fatal("sent without TLS although the URL requires it")
	}
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("server got %d messages", n)
	}
	// A certificate the client does not trust is refused too.
	tls := mailtest.Start(t, mailtest.ImplicitTLS)
	s, err = mail.NewSMTP(tls.URL(), "no-reply@portcullis.test", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), storage.OutboxMail{ID: "y", To: "a@example.com", Subject: "s", Text: "t"}); err == nil {
		t.Fatal("sent to a server with an untrusted certificate")
	}
}

func TestNewSMTPRefusesBadURLs(t *testing.T) {
	for _, u := range []string{"http://host:25", "smtp://", "smtp://host:0", "smtp://host:25?starttls=maybe", "::"} {
		if _, err := mail.NewSMTP(u, "a@example.com", nil); err == nil {
			t.Errorf("%q accepted", u)
		}
	}
	if _, err := mail.NewSMTP("smtp://host:25", "not an address", nil); err == nil {
		t.Error("bad from accepted")
	}
}

func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		attempts int
		want     time.Duration
	}{{1, 15 * time.Second}, {2, 30 * time.Second}, {3, time.Minute}, {5, 4 * time.Minute}, {6, 5 * time.Minute}, {40, 5 * time.Minute}} {
		if got := mail.Backoff(tc.attempts, mail.DefaultFirstRetry, mail.DefaultMaxRetry); got != tc.want {
			t.Errorf("Backoff(%d) = %v, want %v", tc.attempts, got, tc.want)
		}
	}
}

// TestWorkerServerDown: while the server is down nothing is lost; the first retry comes within 30 s,
// later ones back off; once the server is back the message arrives, once, and its bodies are emptied.
func TestWorkerServerDown(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		ctx := context.Background()
		clk := &clock{now: time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)}
		srv := mailtest.Start(t, mailtest.StartTLS)
		w := &mail.Worker{Outbox: st, Sender: sender(t, srv), Now: clk.Now}
		srv.Stop()
		m := enqueue(t, st, clk.Now(), "ann@example.com")
		if n := w.RunOnce(ctx); n != 0 {
			t.Fatalf("sent %d with the server down", n)
		}
		got, err := st.MailByID(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Attempts != 1 || got.SentAt != nil || got.LastError == "" || got.NextAttemptAt.Sub(clk.Now()) > 30*time.Second {
			t.Fatalf("after a failure: attempts %d sent %v next in %v err %q", got.Attempts, got.SentAt, got.NextAttemptAt.Sub(clk.Now()), got.LastError)
		}
		if n := w.RunOnce(ctx); n != 0 { // not due yet
			t.Fatalf("retried %d before the backoff", n)
		}
		srv.Restart()
		clk.Add(15 * time.Second)
		if n := w.RunOnce(ctx); n != 1 {
			t.Fatalf("sent %d after the server came back, want 1", n)
		}
		clk.Add(time.Hour)
		if n := w.RunOnce(ctx); n != 0 {
			t.Fatalf("sent %d more", n)
		}
		if msgs := srv.Wait(1, 5*time.Second); len(msgs) != 1 {
			t.Fatalf("server got %d messages, want 1", len(msgs))
		}
		got, _ = st.MailByID(ctx, m.ID)
		if got.SentAt == nil || got.Text != "" || got.HTML != "" {
			t.Fatalf("sent row: sent %v, bodies kept %v", got.SentAt, got.Text != "" || got.HTML != "")
		}
	})
}

// TestWorkerRetriesBackOff: consecutive failures wait 15 s, 30 s, 1 min, ... and never more than 5 min.
func TestWorkerRetriesBackOff(t *testing.T) {
	st := storagetest.NewSQLite(t)
	ctx := context.Background()
	clk := &clock{now: time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)}
	fail := senderFunc(func(context.Context, storage.OutboxMail) error { return errors.New("421 try later") })
	w := &mail.Worker{Outbox: st, Sender: fail, Now: clk.Now}
	m := enqueue(t, st, clk.Now(), "ann@example.com")
	var waits []time.Duration
	for range 8 {
		w.RunOnce(ctx)
		got, _ := st.MailByID(ctx, m.ID)
		d := got.NextAttemptAt.Sub(clk.Now())
		waits = append(waits, d)
		clk.Add(d)
	}
	want := []time.Duration{15 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 5 * time.Minute, 5 * time.Minute, 5 * time.Minute}
	for i := range want {
		if waits[i] != want[i] {
			t.Fatalf("waits %v, want %v", waits, want)
		}
	}
}

type senderFunc func(context.Context, storage.OutboxMail) error

func (f senderFunc) Send(ctx context.Context, m storage.OutboxMail) error { return f(ctx, m) }

// TestTwoWorkersOneOutbox: two workers (two instances: two stores on one database) drain one outbox
// together, and every message reaches the server exactly once.
func TestTwoWorkersOneOutbox(t *testing.T) {
	for _, d := range []struct {
		name string
		dsn  func(testing.TB) string
	}{{"sqlite", storagetest.SQLiteDSN}, {"postgres", storagetest.PostgresDSN}} {
		t.Run(d.name, func(t *testing.T) {
			dsn := d.dsn(t)
			a, b := storagetest.Open(t, dsn), storagetest.Open(t, dsn)
			srv := mailtest.Start(t, mailtest.Plain)
			const n = 30
			for i := range n {
				enqueue(t, a, time.Now(), "user"+string(rune('a'+i%26))+strings.Repeat("x", i/26)+"@example.com")
			}
			ctx := context.Background()
			var wg sync.WaitGroup
			var mu sync.Mutex
			total := 0
			for _, st := range []*storage.Store{a, b} {
				w := &mail.Worker{Outbox: st, Sender: sender(t, srv), Batch: 3}
				wg.Go(func() {
					for range 40 {
						k := w.RunOnce(ctx)
						mu.Lock()
						total += k
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			msgs := srv.Wait(n, 10*time.Second)
			if len(msgs) != n || total != n {
				t.Fatalf("server got %d, workers counted %d, want %d", len(msgs), total, n)
			}
			seen := map[string]bool{}
			for _, m := range msgs {
				if seen[m.To] {
					t.Fatalf("%s got two messages", m.To)
				}
				seen[m.To] = true
			}
		})
	}
}

// TestEnqueueRollsBackWithTheChange: a message written in a transaction that fails is not sent.
func TestEnqueueRollsBackWithTheChange(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		ctx := context.Background()
		boom := errors.New("boom")
		err := st.InTx(ctx, func(tx *storage.Store) error {
			if _, err := tx.EnqueueMail(ctx, storage.OutboxMail{To: "a@example.com", Subject: "s", Text: "t"}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if l, _ := st.ListMail(ctx); len(l) != 0 {
			t.Fatalf("outbox holds %d messages after a rollback", len(l))
		}
	})
}

// TestSweepForgetsSentMail: sent rows and long-expired links go after a week; unsent mail stays.
func TestSweepForgetsSentMail(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		ctx := context.Background()
		now := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
		sent := enqueue(t, st, now, "a@example.com")
		enqueue(t, st, now, "b@example.com")
		if _, err := st.ClaimMail(ctx, "w", now, time.Minute, 2); err != nil {
			t.Fatal(err)
		}
		if err := st.MarkMailSent(ctx, sent.ID, "w", now); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Sweep(ctx, now.Add(8*24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		l, _ := st.ListMail(ctx)
		if len(l) != 1 || l[0].To != "b@example.com" {
			t.Fatalf("after the sweep: %+v", l)
		}
	})
}
