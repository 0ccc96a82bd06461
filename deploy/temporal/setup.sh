#!/bin/sh
# temporal-setup (docker-compose.yml): creates the namespace and registers cutover's search
# attributes, once Temporal answers. Idempotent: it only creates what is missing.
#
# The same commands work against any self-hosted Temporal (see docs/production.md):
#   temporal operator search-attribute create --namespace default --name CutoverPhase --type Keyword
set -eu

: "${TEMPORAL_ADDRESS:?TEMPORAL_ADDRESS is required}"
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
RETENTION="${TEMPORAL_NAMESPACE_RETENTION:-30d}"
ATTEMPTS=60

# Name:Type of every search attribute the cutover workflows set (src/workflows/search-attributes.ts).
SEARCH_ATTRIBUTES="CutoverPhase:Keyword CutoverRoutingGroup:Keyword CutoverStrategy:Keyword CutoverTargetVersion:Keyword CutoverTrafficPercent:Int CutoverFleet:Keyword"

say() { echo "temporal-setup: $*"; }

# retry DESCRIPTION COMMAND...: runs COMMAND until it succeeds, up to ATTEMPTS times, 2 s apart.
retry() {
  what="$1"; shift
  attempt=1
  until "$@"; do
    if [ "$attempt" -ge "$ATTEMPTS" ]; then
      say "gave up: $what"
      exit 1
    fi
    say "waiting: $what (attempt $attempt/$ATTEMPTS)"
    attempt=$((attempt + 1))
    sleep 2
  done
}

retry "Temporal at $TEMPORAL_ADDRESS to report SERVING" temporal operator cluster health --address "$TEMPORAL_ADDRESS"

if temporal operator namespace describe --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE" >/dev/null 2>&1; then
  say "namespace $NAMESPACE exists"
else
  retry "create namespace $NAMESPACE" \
    temporal operator namespace create --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE" --retention "$RETENTION"
  say "created namespace $NAMESPACE (retention $RETENTION)"
fi

has_attribute() {
  temporal operator search-attribute list --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE" 2>/dev/null | grep -qw "$1"
}

created=0
for spec in $SEARCH_ATTRIBUTES; do
  name="${spec%%:*}"
  type="${spec#*:}"
  if has_attribute "$name"; then
    say "search attribute $name exists"
    continue
  fi
  # A namespace created a moment ago may not be visible yet: retry until the create succeeds.
  retry "create search attribute $name ($type)" \
    temporal operator search-attribute create --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE" --name "$name" --type "$type"
  say "created search attribute $name ($type)"
  created=1
done

if [ "$created" -eq 1 ]; then
  # The frontend caches search attribute definitions for 60 s. Wait it out once, so a workflow
  # started right after `docker compose up --wait` is not refused for an unknown attribute.
  say "waiting 65 s for Temporal's search attribute cache to pick up the new attributes"
  sleep 65
fi
say "done"
