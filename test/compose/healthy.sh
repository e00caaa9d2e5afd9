# shellcheck shell=bash
# wait_healthy SECONDS: waits until every container of the current compose project (COMPOSE_* in the
# environment) is running and, where it has a healthcheck, healthy. Prints the laggards when time runs out.
wait_healthy() {
  local deadline=$(($(date +%s) + $1)) ids states
  while :; do
    ids=$(docker-compose ps -q)
    if [ -n "$ids" ]; then
      # shellcheck disable=SC2086
      states=$(docker inspect -f '{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' $ids)
      if ! printf '%s\n' "$states" | grep -qv ' running \(healthy\|none\)$'; then return 0; fi
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      printf '%s\n' "$states" | grep -v ' running \(healthy\|none\)$' >&2
      return 1
    fi
    sleep 1
  done
}
