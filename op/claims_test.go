package op

import (
	"errors"
	"testing"

	"github.com/portcullis/portcullis/mfa"
)

func TestEssentialACR(t *testing.T) {
	for _, tc := range []struct {
		raw    string
		demand string
		unmet  bool
		bad    bool
	}{
		{raw: `{"id_token":{"acr":{"essential":true,"values":["urn:portcullis:acr:mfa"]}}}`, demand: mfa.ACRMFA},
		{raw: `{"userinfo":{"acr":{"essential":true,"value":"urn:portcullis:acr:mfa"}}}`, demand: mfa.ACRMFA},
		{raw: `{"id_token":{"acr":{"values":["urn:portcullis:acr:mfa"]}}}`}, // voluntary
		{raw: `{"id_token":{"acr":{"essential":true,"values":["urn:portcullis:acr:pwd"]}}}`, demand: mfa.ACRPassword},
		{raw: `{"id_token":{"email":null}}`},
		{raw: `{"id_token":{"acr":null}}`},
		{raw: `{"id_token":{"acr":{"essential":true}}}`}, // any acr is one
		{raw: `{not json`, bad: true},
		{raw: `{"id_token":{"acr":{"essential":true,"values":"urn:portcullis:acr:phr"}}}`, bad: true},
		// The phishing-resistant level is carried, in both forms.
		{raw: `{"id_token":{"acr":{"essential":true,"value":"urn:portcullis:acr:phr"}}}`, demand: mfa.ACRPHR},
		{raw: `{"id_token":{"acr":{"essential":true,"values":["urn:portcullis:acr:phr"]}}}`, demand: mfa.ACRPHR},
		{raw: `{"userinfo":{"acr":{"essential":true,"values":["urn:portcullis:acr:phr"]}}}`, demand: mfa.ACRPHR},
		// One of the values: the least we can earn.
		{raw: `{"id_token":{"acr":{"essential":true,"values":["urn:portcullis:acr:phr","urn:portcullis:acr:mfa"]}}}`, demand: mfa.ACRMFA},
		{raw: `{"id_token":{"acr":{"essential":true,"values":["urn:example:gold","urn:portcullis:acr:phr"]}}}`, demand: mfa.ACRPHR},
		// Both members must be met: the higher demand holds.
		{raw: `{"id_token":{"acr":{"essential":true,"value":"urn:portcullis:acr:mfa"}},"userinfo":{"acr":{"essential":true,"value":"urn:portcullis:acr:phr"}}}`, demand: mfa.ACRPHR},
		// Values none of which we can earn: the request fails (§5.5.1.1).
		{raw: `{"id_token":{"acr":{"essential":true,"value":"urn:example:gold"}}}`, unmet: true},
		{raw: `{"id_token":{"acr":{"essential":true,"values":["urn:example:gold","0"]}}}`, unmet: true},
		{raw: `{"id_token":{"acr":{"essential":true,"value":"urn:portcullis:acr:mfa"}},"userinfo":{"acr":{"essential":true,"values":["x"]}}}`, unmet: true},
		{raw: `{"id_token":{"acr":{"values":["urn:example:gold"]}}}`}, // voluntary: not an error
	} {
		got, err := essentialACR(tc.raw)
		if got != tc.demand || errors.Is(err, errUnmetACR) != tc.unmet || (err != nil && !tc.unmet) != tc.bad {
			t.Errorf("%s: got %q, %v", tc.raw, got, err)
		}
	}
}
