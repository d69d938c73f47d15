#!/usr/bin/env bash
# Runs schemathesis against a running sandbox bank for the NextGenPSD2 consent, AIS and PIS paths:
# no server errors, and every response conforms to the spec's schemas.
#
# Usage: crates/sandbox-bank/scripts/schemathesis.sh BASE_URL
#   BASE_URL  e.g. http://127.0.0.1:8081 (start one with
#             `cargo run -p okienko-sandbox-bank --example serve -- 8081`)
# Needs `st` (schemathesis 4.x) on PATH. Env: ST_MAX_EXAMPLES (default 30).
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 BASE_URL" >&2
    exit 2
fi
BASE_URL="${1%/}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SPEC="$HERE/../../../../shared/specs/berlin-group-nextgenpsd2-1.3.11.yaml"
if [ ! -f "$SPEC" ]; then
    echo "spec not found at $SPEC (shared/ must sit beside the repo)" >&2
    exit 2
fi
command -v st >/dev/null || { echo "schemathesis (st) not on PATH" >&2; exit 2; }

# A valid consent for the AIS paths, so they are exercised past the consent check. The bank app
# approves it as the decoupled persona "anna" (plain HTML forms).
RID() { python3 -c 'import uuid; print(uuid.uuid4())'; }
CONSENT_JSON=$(curl -sf -X POST "$BASE_URL/v1/consents" \
    -H "Content-Type: application/json" -H "X-Request-ID: $(RID)" -H "PSU-IP-Address: 127.0.0.1" \
    -H "TPP-Decoupled-Preferred: true" -H "PSU-ID: anna" \
    -d '{"access":{"allPsd2":"allAccounts"},"recurringIndicator":true,"validUntil":"9999-12-31","frequencyPerDay":4,"combinedServiceIndicator":false}')
CONSENT_ID=$(printf '%s' "$CONSENT_JSON" | python3 -c 'import json,sys; print(json.load(sys.stdin)["consentId"])')
SESSION=$(curl -sf -X POST "$BASE_URL/app/login" --data-urlencode psu_id=anna --data-urlencode password=demo \
    | python3 -c 'import re,sys; print(re.search(r"name=\"session\" value=\"([^\"]+)\"", sys.stdin.read()).group(1))')
curl -sf -o /dev/null -X POST "$BASE_URL/app/decide" --data-urlencode "session=$SESSION" \
    --data-urlencode "consent_id=$CONSENT_ID" --data-urlencode decision=approve
echo "approved consent $CONSENT_ID" >&2

# Real identifiers, so the AIS paths get past 404: an account and one of its transactions, and a
# second (OAuth, still received) consent for the consent paths, which may DELETE it.
ACCOUNT_ID=$(curl -sf "$BASE_URL/v1/accounts" -H "X-Request-ID: $(RID)" -H "Consent-ID: $CONSENT_ID" \
    -H "PSU-IP-Address: 127.0.0.1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["accounts"][0]["resourceId"])')
TX_ID=$(curl -sf "$BASE_URL/v1/accounts/$ACCOUNT_ID/transactions?bookingStatus=booked" -H "X-Request-ID: $(RID)" \
    -H "Consent-ID: $CONSENT_ID" -H "PSU-IP-Address: 127.0.0.1" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["transactions"]["booked"][0]["transactionId"])')
OTHER_CONSENT=$(curl -sf -X POST "$BASE_URL/v1/consents" \
    -H "Content-Type: application/json" -H "X-Request-ID: $(RID)" -H "PSU-IP-Address: 127.0.0.1" \
    -d '{"access":{"balances":[],"transactions":[]},"recurringIndicator":true,"validUntil":"9999-12-31","frequencyPerDay":4,"combinedServiceIndicator":false}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["consentId"])')
# A real payment for the PIS paths (anna pays 1.00 to an outside IBAN; it waits for SCA, and the
# fuzzer may cancel it).
ANNA_IBAN=$(curl -sf "$BASE_URL/sandbox/customers/anna" | python3 -c 'import json,sys; print(json.load(sys.stdin)["accounts"][0]["iban"])')
PAYMENT_ID=$(curl -sf -X POST "$BASE_URL/v1/payments/instant-sepa-credit-transfers" \
    -H "Content-Type: application/json" -H "X-Request-ID: $(RID)" -H "PSU-IP-Address: 127.0.0.1" \
    -d "{\"instructedAmount\":{\"currency\":\"PLN\",\"amount\":\"1.00\"},\"debtorAccount\":{\"iban\":\"$ANNA_IBAN\"},\"creditorAccount\":{\"iban\":\"DE89370400440532013000\"},\"creditorName\":\"Conformance\"}" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["paymentId"])')
# Run from a scratch folder so schemathesis/hypothesis caches never land in the repo.
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
CONFIG="$WORK/schemathesis.toml"
cat > "$CONFIG" <<TOML
[parameters]
"path.account-id" = "$ACCOUNT_ID"
"path.transactionId" = "$TX_ID"
"path.consentId" = "$OTHER_CONSENT"
"header.Consent-ID" = "$CONSENT_ID"
"header.PSU-IP-Address" = "127.0.0.1"
"path.payment-service" = "payments"
"path.payment-product" = "instant-sepa-credit-transfers"
"path.paymentId" = "$PAYMENT_ID"
TOML

cd "$WORK"
# The examples phase is off: the spec's own Signature header example is not a valid header value.
st --config-file "$CONFIG" run "$SPEC" \
    --url "$BASE_URL" \
    --include-path-regex '^/v1/(consents|accounts|\{payment-service\})' \
    --checks not_a_server_error,response_schema_conformance \
    --max-examples "${ST_MAX_EXAMPLES:-30}" \
    --phases coverage,fuzzing
