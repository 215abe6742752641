#!/usr/bin/env bash
# Signs a demo user in to a running console N times, the way a browser does, and prints one Cookie
# header value a line ("opsdeck_session=…"), each a session of its own:
#
#   bash bench/lib/sign-in.sh <console base URL> <public URL> <user> <N>
#
# The console's /auth/login sends us to Keycloak's login form; the form is filled in and posted; Keycloak
# redirects to <public URL>/auth/callback, which we call on the console's own address instead (so the
# console may listen anywhere while its public URL is one the realm registers). A fresh cookie jar per
# session, so every session is a new sign-in at Keycloak too.
set -euo pipefail
console=$1 public=$2 user=$3 n=$4
password=${OPSDECK_DEMO_PASSWORD:-opsdeck-demo}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for i in $(seq 1 "$n"); do
  jar="$tmp/jar$i"
  authorize=$(curl -sS -o /dev/null -w '%{redirect_url}' -c "$jar" -b "$jar" "$console/auth/login?next=/me")
  [ -n "$authorize" ] || { echo "sign-in: /auth/login did not redirect" >&2; exit 1; }
  form=$(curl -sS -c "$jar" -b "$jar" "$authorize")
  action=$(grep -o '<form[^>]*id="kc-form-login"[^>]*>' <<<"$form" | grep -o 'action="[^"]*"' | head -n1 | sed -e 's/^action="//' -e 's/"$//' -e 's/&amp;/\&/g')
  [ -n "$action" ] || { echo "sign-in: no login form at $authorize" >&2; exit 1; }
  callback=$(curl -sS -o /dev/null -w '%{redirect_url}' -c "$jar" -b "$jar" \
    --data-urlencode "username=$user" --data-urlencode "password=$password" --data-urlencode "credentialId=" "$action")
  case "$callback" in
    "$public"/auth/callback*) ;;
    *) echo "sign-in: $user was not sent back to $public/auth/callback (got '$callback')" >&2; exit 1 ;;
  esac
  landed=$(curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' -c "$jar" -b "$jar" "$console${callback#"$public"}")
  [ "${landed%% *}" = 303 ] || { echo "sign-in: the callback answered $landed" >&2; exit 1; }
  # Netscape cookie jar: domain flag path secure expiry name value; HttpOnly cookies are prefixed.
  awk -v name="${OPSDECK_SESSION_COOKIE:-opsdeck_session}" '$6 == name { print $6 "=" $7 }' "$jar" | tail -n1
done
