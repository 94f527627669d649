#!/usr/bin/env bash
# Instruction-count benchmark that a noisy shared machine cannot disturb: callgrind
# counts the instructions `sendsim run` executes on a fixed default run, minus a
# one-notification run (start-up: parsing, price tables), per recipient simulated.
# Fails when the count exceeds the committed budget by more than 10%.
#
#   bash benches/check-instructions.sh            # check against the budget
#   bash benches/check-instructions.sh --update   # measure and write a new budget
set -euo pipefail
cd "$(dirname "$0")/.."
budget_file=benches/instructions-budget.txt
notifications=20000

command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)"; exit 2; }
cargo build --release --locked -q -p sim --bin sendsim
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

measure() { # $1 notifications -> "instructions recipients"
  valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.$1" \
    target/release/sendsim run --notifications "$1" --replications 1 --threads 1 --seed 1 \
    --no-plots -q --out "$tmp/run.$1" > /dev/null 2> "$tmp/log.$1"
  local ir recipients
  ir=$(grep -Eo 'Collected : [0-9]+' "$tmp/log.$1" | grep -Eo '[0-9]+')
  recipients=$(grep -Eo '"recipients": [0-9]+' "$tmp/run.$1/summary.json" | grep -Eo '[0-9]+')
  echo "$ir $recipients"
}

read -r ir0 r0 < <(measure 1)
read -r ir1 r1 < <(measure "$notifications")
per=$(( (ir1 - ir0) / (r1 - r0) ))
echo "instructions: start-up $ir0, $r1 recipients $ir1 -> $per per recipient"

if [ "${1:-}" = "--update" ]; then
  printf '# instructions per simulated recipient (benches/check-instructions.sh --update)\n%s\n' "$per" > "$budget_file"
  echo "budget set to $per"
  exit 0
fi
budget=$(grep -v '^#' "$budget_file" | head -1)
limit=$(( budget * 110 / 100 ))
if [ "$per" -gt "$limit" ]; then
  echo "REGRESSION: $per instructions per recipient > budget $budget + 10% ($limit)"
  exit 1
fi
echo "within budget: $per <= $limit (budget $budget + 10%)"
