#!/usr/bin/env bash
# An Open311 GeoReport v2 client that is not ours: curl, as the spec's
# examples call an endpoint (http://wiki.open311.org/GeoReport_v2), and
# nothing of Dimos but the endpoint's address and an API key. It files a
# request, lists and reads it back in XML and JSON, and checks the spec's
# error format. Started by tests/it/bulky.rs.
#   georeport.sh BASE_URL HOST API_KEY
set -euo pipefail
base=$1 host=$2 key=$3
fail() { echo "FAIL: $*" >&2; exit 1; }
get() { curl -sS -H "Host: $host" "$base/$1"; }
code() { curl -sS -o /dev/null -w '%{http_code}' -H "Host: $host" "$@"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# GET Service List, both formats.
get services.xml | grep -q '<service_code>bulky</service_code>' || fail "services.xml"
[ "$(get services.json | json 'd[0]["metadata"]')" = "True" ] || fail "services.json metadata"
# GET Service Definition.
get "services/bulky.xml" | grep -q '<attribute>.*<code>mattress</code>' || fail "service definition"

# POST Service Request (form-encoded), as the spec's example.
created=$(curl -sS -H "Host: $host" \
  -d "api_key=$key" -d "service_code=bulky" \
  --data-urlencode "address_string=Αμφιτρίτης 9, 17455" \
  --data-urlencode "attribute[mattress]=1" \
  -d "first_name=Nikos" -d "last_name=Test" -d "phone=6900000002" \
  --data-urlencode "description=Ένα στρώμα" \
  "$base/requests.json")
id=$(echo "$created" | json 'd[0]["service_request_id"]') || fail "create: $created"
[ -n "$id" ] || fail "no service_request_id: $created"

# GET Service Request, both formats.
one=$(get "requests/$id.xml?api_key=$key")
echo "$one" | grep -q "<service_request_id>$id</service_request_id>" || fail "get xml: $one"
echo "$one" | grep -q "<status>open</status>" || fail "status open: $one"
[ "$(get "requests/$id.json?api_key=$key" | json 'd[0]["address"]')" = "Αμφιτρίτης 9" ] || fail "get json"

# GET Service Requests, filtered by id and by status.
[ "$(get "requests.json?api_key=$key&service_request_id=$id" | json 'len(d)')" = "1" ] || fail "list by id"
get "requests.xml?api_key=$key&status=open" | grep -q "<service_request_id>$id</service_request_id>" || fail "list open"
[ "$(get "requests.json?api_key=$key&status=closed" | json 'len(d)')" = "0" ] || fail "none closed"

# GET request id from a token.
[ "$(get "tokens/$id.json?api_key=$key" | json 'd[0]["service_request_id"]')" = "$id" ] || fail "token"

# Errors: the spec's format and HTTP status.
[ "$(code -d "service_code=bulky" "$base/requests.xml")" = "403" ] || fail "no key: not 403"
curl -sS -H "Host: $host" -d "service_code=bulky" "$base/requests.xml" | grep -q '<errors><error><code>403</code><description>' || fail "error xml"
[ "$(code -d "api_key=$key" -d "service_code=potholes" -d "address_string=Αμφιτρίτης 9" "$base/requests.json")" = "404" ] || fail "unknown service"
[ "$(code "$base/requests/00000000-0000-0000-0000-000000000000.json?api_key=$key")" = "404" ] || fail "unknown request"
echo "open311: create, list and get in XML and JSON, errors as the spec writes them"
