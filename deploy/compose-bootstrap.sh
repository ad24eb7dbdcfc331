#!/bin/sh
# The one-shot bootstrap of docker-compose.yml (its "bootstrap" service). Portcullis there runs with dev
# mode off, so nothing is created at start-up; this script creates, with the ordinary CLI commands,
#   - the tenant "Demo Company" (slug demo),
#   - an admin and a member with generated passwords, printed once (docker compose logs bootstrap),
#   - the demo app's client, whose id and secret (the output of `portcullis client create -o json`) it
#     leaves in $BOOTSTRAP_DIR/demo-client.json, readable by its owner only, for the demo app.
# Each step is skipped when its result exists, so the service may run on every `docker compose up`.
# It needs the same PORTCULLIS_* settings as the server (database, secret key).
set -eu
umask 077

dir="${BOOTSTRAP_DIR:-/bootstrap}"
tenant="${BOOTSTRAP_TENANT:-demo}"
domain="${BOOTSTRAP_EMAIL_DOMAIN:-demo.test}"
demo_url="${DEMO_PUBLIC_URL:-http://localhost:9090}"
client_file="$dir/demo-client.json"

password() {
	tr -dc 'A-Za-z0-9' </dev/urandom | head -c 20
}

if portcullis tenant list -o json | grep -q "\"slug\": \"$tenant\""; then
	echo "bootstrap: tenant $tenant exists"
else
	portcullis tenant create --name "Demo Company" --slug "$tenant"
fi

created=""
for who in admin member; do
	email="$who@$domain"
	if portcullis user list --tenant "$tenant" -o json | grep -q "\"email\": \"$email\""; then
		echo "bootstrap: user $email exists"
		continue
	fi
	pw="$(password)"
	name="Ada Admin"
	[ "$who" = member ] && name="Max Member"
	printf '%s\n' "$pw" | portcullis user create --tenant "$tenant" --email "$email" --name "$name" --role "$who" --password-stdin >/dev/null
	created="$created
  $who  $email  password $pw"
done

if [ -s "$client_file" ]; then
	echo "bootstrap: the demo client is in $client_file"
else
	portcullis client create --tenant "$tenant" --name "Demo App" \
		--redirect-uri "$demo_url/callback" --post-logout-uri "$demo_url/" -o json >"$client_file.tmp"
	mv "$client_file.tmp" "$client_file"
	created="$created
  demo client  id $(sed -n 's/^  "id": "\(.*\)",$/\1/p' "$client_file")  (secret kept in $client_file for the demo app)"
fi

if [ -n "$created" ]; then
	printf '\nPortcullis bootstrap: tenant %s%s\nThese passwords are shown once. Turn MFA on with:\n  docker compose exec portcullis /usr/local/bin/portcullis tenant set-mfa --tenant %s --enabled=true\n\n' \
		"$tenant" "$created" "$tenant"
fi
