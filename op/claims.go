package op

import (
	"encoding/json"

	"github.com/portcullis/portcullis/mfa"
)

// essentialACRDemandsMFA reads the OIDC claims request parameter (Core §5.5) and reports whether it asks,
// as an essential claim of the ID token or userinfo, for an acr that only MFA satisfies.
func essentialACRDemandsMFA(raw string) (bool, error) {
	type claimReq struct {
		Essential bool     `json:"essential"`
		Value     string   `json:"value"`
		Values    []string `json:"values"`
	}
	var req map[string]map[string]*claimReq
	if err := json.Unmarshal([]byte(raw), &req); err != nil {
		return false, err
	}
	for _, member := range []string{"id_token", "userinfo"} {
		c := req[member]["acr"]
		if c == nil || !c.Essential {
			continue
		}
		values := c.Values
		if c.Value != "" {
			values = append(values, c.Value)
		}
		if mfa.DemandsMFA(values) {
			return true, nil
		}
	}
	return false, nil
}
