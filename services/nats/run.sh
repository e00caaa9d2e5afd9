#!/bin/sh
# Starts nats-server after checking the ratebus passwords, then hands over (exec) with the given arguments:
#   services/nats/run.sh -c services/nats/single.conf
# Why: nats-server substitutes `$RATEBUS_..._PASSWORD` from the environment and PARSES the value as config
# text. An empty value becomes an empty password (anyone who knows the user name gets in); values with
# spaces, ',' or '}' are cut short or rejected; numbers, booleans and dates are rejected. So every password
# must be either plain `[A-Za-z][A-Za-z0-9_-]{15,}` (a letter first, at least 16 characters), or a bcrypt hash
# wrapped in double quotes, e.g. '"$2b$11$..."' (without the quotes the server reads `$2b...` as a variable).
# Exits 78 (EX_CONFIG) naming every bad variable. NATS_SERVER_BIN overrides the binary.
set -eu

status=0
for var in RATEBUS_FETCHER_PASSWORD RATEBUS_POD_PASSWORD RATEBUS_GATEWAY_PASSWORD RATEBUS_LASTRESORT_PASSWORD \
  RATEBUS_INSPECTOR_PASSWORD; do
  eval "value=\${$var-}"
  if [ -z "$value" ]; then
    echo "ratebus-nats: $var is not set or empty" >&2
    status=78
  elif printf '%s' "$value" | grep -Eq '^[A-Za-z][A-Za-z0-9_-]{15,}$'; then
    :
  elif printf '%s' "$value" | grep -Eq '^"\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}"$'; then
    :
  else
    echo "ratebus-nats: $var must be [A-Za-z][A-Za-z0-9_-]{15,} or a bcrypt hash in double quotes" >&2
    status=78
  fi
done
[ "$status" -eq 0 ] || exit "$status"

exec "${NATS_SERVER_BIN:-nats-server}" "$@"
