#!/bin/sh
# Creates (or updates) the OpenSearch user the registry connects as, with the role in
# registry-role.json, through the security plugin's REST API as the admin user. Idempotent:
# run on every `docker compose up`; a changed OPENSEARCH_REGISTRY_PASSWORD takes effect.
set -eu
: "${OPENSEARCH_HOST:=http://opensearch:9200}"
: "${OPENSEARCH_INITIAL_ADMIN_PASSWORD:?}"
: "${OPENSEARCH_REGISTRY_PASSWORD:?}"
api="$OPENSEARCH_HOST/_plugins/_security/api"

# The password goes into OPENSEARCH_URL and into JSON below unescaped: the generator in
# env.example gives letters, digits, - and _ only, and nothing else is accepted.
case "$OPENSEARCH_REGISTRY_PASSWORD" in
    *[!A-Za-z0-9_-]*)
        echo "OPENSEARCH_REGISTRY_PASSWORD: use letters, digits, - and _ only (see env.example)" >&2
        exit 1
        ;;
esac

put() {
    # -f: an HTTP error fails the script (and the compose service), with the body shown.
    curl -fsS -u "admin:$OPENSEARCH_INITIAL_ADMIN_PASSWORD" -X PUT \
        -H 'Content-Type: application/json' "$api/$1" --data-binary "$2"
    echo
}

put roles/registry_search "$(cat /setup/registry-role.json)"
put internalusers/registry \
    "{\"password\": \"$OPENSEARCH_REGISTRY_PASSWORD\", \"description\": \"the registry service\"}"
put rolesmapping/registry_search '{"users": ["registry"]}'
