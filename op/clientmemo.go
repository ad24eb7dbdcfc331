package op

import (
	"context"

	"github.com/portcullis/portcullis/storage"
)

// A token, introspection or revocation request reads its client several times (our client
// authentication check, the library's, then the client itself); /authorize twice (the library's
// validation, then CreateAuthRequest); the callback reads it with the auth request (AuthRequestByID),
// then the library asks for it. The first read is kept for the rest of that one request, never beyond
// it: a deleted client or a changed secret counts from the next request.
type clientMemoKey struct{}

type clientMemo struct {
	client storage.Client
	ok     bool
}

func withClientMemo(ctx context.Context) context.Context {
	return context.WithValue(ctx, clientMemoKey{}, &clientMemo{})
}

// keepClient keeps a client this request read along with something else, for its later reads.
func keepClient(ctx context.Context, c storage.Client) {
	if m, _ := ctx.Value(clientMemoKey{}).(*clientMemo); m != nil {
		m.client, m.ok = c, true
	}
}

// requestClient is the client this request read, if it read one.
func requestClient(ctx context.Context) (storage.Client, bool) {
	m, _ := ctx.Value(clientMemoKey{}).(*clientMemo)
	if m == nil || !m.ok {
		return storage.Client{}, false
	}
	return m.client, true
}

// clientByID reads a client, once per request.
func (s *Storage) clientByID(ctx context.Context, id string) (storage.Client, error) {
	m, _ := ctx.Value(clientMemoKey{}).(*clientMemo)
	if m != nil && m.ok && m.client.ID == id {
		return m.client, nil
	}
	c, err := s.Store.ClientByID(ctx, id)
	if err == nil && m != nil {
		m.client, m.ok = c, true
	}
	return c, err
}
