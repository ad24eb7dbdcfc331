// Portcullis WebAuthn: runs the passkey and security key ceremonies of the sign-in pages and of the
// account page ("Add a passkey or security key"). A form with data-webauthn="get" or "create" carries
// the server's options (JSON) in data-options; on submit the browser's answer goes into its hidden
// "credential" field and the form is posted. A "get" form without allowCredentials (the sign-in page)
// also offers passkeys in the email field's autofill (conditional mediation). No inline script: this
// file is served same-origin (CSP script-src 'self').
(function () {
  "use strict";
  if (!window.PublicKeyCredential) { return; }

  function b64uToBuf(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) { s += "="; }
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { out[i] = bin.charCodeAt(i); }
    return out.buffer;
  }
  function bufToB64u(buf) {
    var b = new Uint8Array(buf), s = "";
    for (var i = 0; i < b.length; i++) { s += String.fromCharCode(b[i]); }
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function decodeOptions(json) {
    var pk = JSON.parse(json).publicKey;
    pk.challenge = b64uToBuf(pk.challenge);
    if (pk.user) { pk.user.id = b64uToBuf(pk.user.id); }
    (pk.allowCredentials || []).concat(pk.excludeCredentials || []).forEach(function (c) { c.id = b64uToBuf(c.id); });
    return pk;
  }
  function encode(cred) {
    var r = cred.response, out = {
      id: cred.id, rawId: bufToB64u(cred.rawId), type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: { clientDataJSON: bufToB64u(r.clientDataJSON) }
    };
    if (r.attestationObject) {
      out.response.attestationObject = bufToB64u(r.attestationObject);
      out.response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      out.response.authenticatorData = bufToB64u(r.authenticatorData);
      out.response.signature = bufToB64u(r.signature);
      if (r.userHandle) { out.response.userHandle = bufToB64u(r.userHandle); }
    }
    return JSON.stringify(out);
  }

  document.querySelectorAll("form[data-webauthn]").forEach(function (form) {
    var kind = form.getAttribute("data-webauthn");
    var json = form.getAttribute("data-options");
    var field = form.querySelector("input[name=credential]");
    var failure = form.querySelector(".webauthn-error");
    var pending = null; // the conditional request in flight, if any
    function send(cred) { field.value = encode(cred); form.submit(); }
    function fail() { if (failure) { failure.hidden = false; } }

    form.addEventListener("submit", function (ev) {
      if (field.value) { return; }
      ev.preventDefault();
      if (failure) { failure.hidden = true; }
      if (pending) { pending.abort(); pending = null; }
      var pk = decodeOptions(json);
      var p = kind === "create" ? navigator.credentials.create({ publicKey: pk }) : navigator.credentials.get({ publicKey: pk });
      p.then(function (cred) { if (cred) { send(cred); } else { fail(); } }, fail);
    });

    var pk = JSON.parse(json).publicKey;
    if (kind === "get" && !(pk.allowCredentials && pk.allowCredentials.length) &&
        PublicKeyCredential.isConditionalMediationAvailable) {
      PublicKeyCredential.isConditionalMediationAvailable().then(function (ok) {
        if (!ok) { return; }
        pending = new AbortController();
        navigator.credentials.get({ publicKey: decodeOptions(json), mediation: "conditional", signal: pending.signal })
          .then(function (cred) { if (cred) { send(cred); } }, function () {});
      });
    }
  });
})();
