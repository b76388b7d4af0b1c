#!/usr/bin/env bash
# DESIGN §4a by hand against three real `hearth serve` processes on loopback: team-1 and team-2
# under a branch. Team-1 files a case and the branch pays aid on it; then team-1 is compromised
# (its node stopped, its TLS dir and store in the attacker's hands) and the attacker runs each
# attack of `hearth_tests::hostile::forgery` against the branch with the `hostile` example.
# Prints what the branch answered and whether every node's data stayed as it was.
#
#   cargo build --release -p hearth-cli -p hearth-tests --examples
#   bash tests/scripts/section4a-attacks.sh
#
# Only loopback; every process it starts is stopped when it ends.
set -euo pipefail
cd "$(dirname "$0")/../.."
hearth="$PWD/target/release/hearth"
hostile="$PWD/target/release/examples/hostile"
for bin in "$hearth" "$hostile"; do
  [[ -x "$bin" ]] || { echo "build first: cargo build --release -p hearth-cli -p hearth-tests --examples" >&2; exit 2; }
done
work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
port=$((20000 + RANDOM % 10000))
br="$work/br" t1="$work/t1" t2="$work/t2"
h() { local dir=$1; shift; "$hearth" --data-dir "$dir" "$@"; }

"$hearth" certs init-ca --out "$work/ca" >/dev/null
h "$br" init --node-id demo.branch --level branch --listen "127.0.0.1:$port" >/dev/null
for t in 1 2; do
  h "$work/t$t" init --node-id "demo.team-$t" --level team --federation-salt "$br/federation.salt" >/dev/null
  "$hearth" certs issue --ca "$work/ca" --node-id "demo.team-$t" --level team --parent demo.branch --out "$work/t$t/tls" >/dev/null
  h "$br" peer add --id "demo.team-$t" --relation child >/dev/null
  h "$work/t$t" peer add --id demo.branch --relation parent --endpoint "https://127.0.0.1:$port" >/dev/null
done
"$hearth" certs issue --ca "$work/ca" --node-id demo.branch --level branch --parent demo.enterprise --out "$br/tls" >/dev/null
h "$br" fund income --source budget --amount 100000 --date 2026-01-05 >/dev/null
for dir in "$br" "$t1" "$t2"; do
  "$hearth" --data-dir "$dir" serve >"$dir.log" 2>&1 &
  pids+=($!)
done
until h "$br" sync status --json 2>/dev/null | grep -q '"connected": *true'; do sleep 0.2; done

case_id="$(h "$t1" case new --name 王建国 --id-number 11010519491231002X --household-size 3 \
  --annual-income 36000 --rigid-spending 12000 --subsistence-line 800 \
  --primary-cause serious_illness --json | sed -n 's/.*"id": *"\([0-9a-f]*\)".*/\1/p')"
h "$t1" case file "$case_id" >/dev/null
until h "$br" case show "$case_id" >/dev/null 2>&1; do sleep 0.2; done
h "$br" assist add "$case_id" --kind medical --amount 2000 --date 2026-03-01 >/dev/null
until [[ "$(h "$t1" case show "$case_id" --json | grep -c '"paying_node": "demo.branch"')" == 1 ]]; do sleep 0.2; done

# Team-1 is compromised: its node stops, the attacker has its TLS dir and store.
kill "${pids[1]}"; wait "${pids[1]}" 2>/dev/null || true
snapshot() {
  for dir in "$br" "$t1" "$t2"; do h "$dir" case list --json; done
  h "$br" case show "$case_id" --json
}
before="$(snapshot)"
for attack in forge-actor plant squat approval participant rewrite; do
  echo "--- $attack"
  "$hostile" "$t1/tls" demo.team-1 demo.branch "127.0.0.1:$port" "$attack" \
    demo.team-2 demo.enterprise "$t1/hearth.redb" "$case_id"
done
after="$(snapshot)"
if [[ "$before" == "$after" ]]; then echo "every node's data unchanged: yes"; else echo "every node's data unchanged: NO"; exit 1; fi
echo "--- the branch's sync status"
h "$br" sync status | grep -i 'refus\|rule' | head -20 || true
echo "--- the branch's counters"
grep -c 'document refused' "$br.log" | sed 's/^/refusals logged: /'
