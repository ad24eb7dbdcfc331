package op

import (
	"encoding/json"
	"errors"
	"slices"

	"github.com/portcullis/portcullis/mfa"
)

// errUnmetACR is an essential acr claim none of whose values a sign-in here can earn.
var errUnmetACR = errors.New("no requested acr value can be met")

// essentialACR reads the OIDC claims request parameter (Core §5.5) and returns the acr level that its
// essential acr claims demand, one of mfa.ACRValues(), or "" for none. An essential acr claim of the ID
// token or userinfo that lists values asks for one of them (§5.5.1.1), so it demands the least of them
// that we can earn (mfa.LeastACR); of the two members, the higher demand holds. When we can earn none
// of an essential claim's values the requirement cannot be met, and the request must fail: errUnmetACR.
// An essential acr without values, or a voluntary one, demands nothing.
func essentialACR(raw string) (string, error) {
	type claimReq struct {
		Essential bool     `json:"essential"`
		Value     string   `json:"value"`
		Values    []string `json:"values"`
	}
	var req map[string]map[string]*claimReq
	if err := json.Unmarshal([]byte(raw), &req); err != nil {
		return "", err
	}
	levels := mfa.ACRValues() // from the lowest to the highest
	demand := ""
	for _, member := range []string{"id_token", "userinfo"} {
		c := req[member]["acr"]
		if c == nil || !c.Essential {
			continue
		}
		values := slices.Clone(c.Values)
		if c.Value != "" {
			values = append(values, c.Value)
		}
		if len(values) == 0 {
			continue
		}
		least, ok := mfa.LeastACR(values)
		if !ok {
			return "", errUnmetACR
		}
		if slices.Index(levels, least) > slices.Index(levels, demand) {
			demand = least
		}
	}
	return demand, nil
}
