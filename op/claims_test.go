package op

import "testing"

func TestEssentialACRDemandsMFA(t *testing.T) {
	for _, tc := range []struct {
		raw     string
		demands bool
		bad     bool
	}{
		{`{"id_token":{"acr":{"essential":true,"values":["urn:portcullis:acr:mfa"]}}}`, true, false},
		{`{"userinfo":{"acr":{"essential":true,"value":"urn:portcullis:acr:mfa"}}}`, true, false},
		{`{"id_token":{"acr":{"values":["urn:portcullis:acr:mfa"]}}}`, false, false}, // voluntary
		{`{"id_token":{"acr":{"essential":true,"values":["urn:portcullis:acr:pwd"]}}}`, false, false},
		{`{"id_token":{"email":null}}`, false, false},
		{`{not json`, false, true},
	} {
		got, err := essentialACRDemandsMFA(tc.raw)
		if got != tc.demands || (err != nil) != tc.bad {
			t.Errorf("%s: got %v, %v", tc.raw, got, err)
		}
	}
}
