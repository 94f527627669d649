#!/usr/bin/env bash
# The mock's speed beside a bare axum server measured in the same run: wrk -t2 -c64 on
# GET /status, request status and detail (one polled, and rotating over every stored
# notification), validated sends; oha at a fixed rate for request status and for bare
# axum; bare axum again answering as many bytes as a detail has. Prints a Markdown table
# (req/s, p99, ratio to the mean of the two bare axum runs, the server's CPU a request)
# per number of notifications stored, and keeps every tool's output.
#
#   bash benches/load/matrix.sh                       # 10,000 and 200,000 stored
#   bash benches/load/matrix.sh --stored 20000 --duration 4s --out /tmp/speed
#
# Needs wrk (Debian's package), oha (cargo install oha), curl and python3. Everything
# runs on 127.0.0.1 and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=benches/load

stored=(10000 200000)
duration=8s
rate=8000
out=""
custom_stored=0
while [ $# -gt 0 ]; do
  case "$1" in
    --stored) [ $custom_stored = 0 ] && stored=(); custom_stored=1; stored+=("$2"); shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "matrix.sh: unknown option $1 (allowed: --stored N (repeatable), --duration D, --rate R, --out DIR)" >&2; exit 2 ;;
  esac
done
[[ "$rate" =~ ^[0-9]+$ ]] || { echo "matrix.sh: --rate takes requests a second, not '$rate'" >&2; exit 2; }
[[ "$duration" =~ ^[0-9]+[smh]?$ ]] || { echo "matrix.sh: --duration takes e.g. 8s or 1m, not '$duration'" >&2; exit 2; }
for n in "${stored[@]}"; do
  [[ "$n" =~ ^[0-9]+$ ]] || { echo "matrix.sh: --stored takes a number of notifications, not '$n'" >&2; exit 2; }
done
for tool in wrk oha curl python3; do
  command -v $tool >/dev/null || { echo "matrix.sh: $tool is needed (wrk: apt-get install wrk; oha: cargo install oha)" >&2; exit 2; }
done
out=${out:-$(mktemp -d)}
mkdir -p "$out"
cargo build --release --locked -q -p mocks --bin sendmock --example hello
mock_bin=target/release/sendmock
hello_bin=target/release/examples/hello
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT

# CPU time (user + system, clock ticks) process $1 has used.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
clk_tck=$(getconf CLK_TCK)

# wrk NAME SERVER_PID ARGS... -> "req/s p99_ms non-2xx server_cpu_us_per_request" and the
# raw output in $dir/NAME.txt. The server's CPU a request varies less than its
# throughput on a shared machine.
measure() {
  local name=$1 pid=$2; shift 2
  local t0 t1
  t0=$(ticks "$pid")
  wrk -t2 -c64 -d"$duration" --latency "$@" > "$dir/$name.txt"
  t1=$(ticks "$pid")
  python3 - "$dir/$name.txt" "$(( t1 - t0 ))" "$clk_tck" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
v, unit = re.search(r"\s99%\s+([\d.]+)(us|ms|s)", t).groups()
p99 = float(v) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
n = int(re.search(r"(\d+) requests in", t).group(1))
cpu = int(sys.argv[2]) / int(sys.argv[3]) * 1e6 / max(n, 1)
print(f"{rps:.0f} {p99:.2f} {bad.group(1) if bad else 0} {cpu:.1f}")
PY
}

# oha at a fixed rate: "p50_ms p99_ms"
fixed_rate() {
  local name=$1; shift
  oha -z 10s -q "$rate" -c 32 --latency-correction --no-tui --output-format json "$@" > "$dir/$name.json"
  python3 - "$dir/$name.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))["latencyPercentiles"]
print("%.2f %.2f" % (p["p50"] * 1000, p["p99"] * 1000))
PY
}

# wrk on a fresh bare axum server into $dir/helloN.res ("req/s p99 non-2xx"), and its
# tail at the fixed rate into $dir/hello-fixed.res when $2 is set. With $3, the server
# answers that many bytes instead of "hello".
hello_run() {
  rm -f "$dir/hello.addr"
  "$hello_bin" 127.0.0.1:0 ${3:-} > "$dir/hello.addr" & local hp=$!
  pids+=($hp)
  for _ in $(seq 50); do grep -q http "$dir/hello.addr" 2>/dev/null && break; sleep 0.1; done
  local url
  url=$(grep -o 'http://[0-9.:]*' "$dir/hello.addr")
  measure "hello$1" $hp "$url/" > "$dir/hello$1.res"
  if [ -n "${2:-}" ]; then fixed_rate hello-fixed "$url/" > "$dir/hello-fixed.res"; fi
  kill $hp
  wait $hp 2>/dev/null || true
}

for n in "${stored[@]}"; do
  dir="$out/stored-$n"; mkdir -p "$dir"
  echo "== $n notifications stored (outputs in $dir)" >&2
  hello_run 1
  read -r h1 _ _ hc1 < "$dir/hello1.res"
  cap=$(( n > 250000 ? n * 2 : 250000 ))
  rm -f "$dir/mock.addr"
  "$mock_bin" serve --listen 127.0.0.1:0 --addr-file "$dir/mock.addr" --no-rate-limit \
    --max-notifications "$cap" > "$dir/mock.log" 2>&1 & mp=$!; pids+=($mp)
  for _ in $(seq 100); do [ -s "$dir/mock.addr" ] && break; sleep 0.1; done
  [ -s "$dir/mock.addr" ] || { echo "matrix.sh: the mock did not start (see $dir/mock.log)" >&2; exit 1; }
  base=$(cat "$dir/mock.addr")
  # One document for every send.
  printf '%%PDF-1.4 load' > "$dir/act.pdf"
  sha=$(python3 -c 'import base64,hashlib,sys; print(base64.b64encode(hashlib.sha256(open(sys.argv[1],"rb").read()).digest()).decode())' "$dir/act.pdf")
  curl -sf -X POST "$base/delivery/attachments/preload" -H 'x-api-key: sendmock-key' -H 'content-type: application/json' \
    -d "[{\"preloadIdx\":\"0\",\"contentType\":\"application/pdf\",\"sha256\":\"$sha\"}]" > "$dir/slot.json"
  read -r url secret key < <(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))[0]; print(s["url"], s["secret"], s["key"])' "$dir/slot.json")
  version=$(curl -sf -D - -o /dev/null -X PUT "$url" -H 'content-type: application/pdf' -H "x-amz-meta-secret: $secret" \
    --data-binary @"$dir/act.pdf" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-amz-version-id" {print $2}')
  cat > "$dir/send-template.json" <<JSON
{"paProtocolNumber":"PROTOCOL","idempotenceToken":"load","subject":"Avviso di accertamento","taxonomyCode":"010202N","senderDenomination":"Ente di prova","senderTaxId":"80016350821","physicalCommunicationType":"COMMUNICATION_TYPE","notificationFeePolicy":"DELIVERY_MODE","paFee":100,"vat":22,"pagoPaIntMode":"SYNC","recipients":[{"recipientType":"PF","taxId":"RSSMRA80A01H501U","denomination":"Maria Bianchi","physicalAddress":{"address":"via delle Prove 12","zip":"00118","municipality":"Comune","province":"RM"},"payments":[{"pagoPa":{"noticeCode":"302000100000019421","creditorTaxId":"80016350821","applyCost":true}}]}],"documents":[{"digests":{"sha256":"$sha"},"contentType":"application/pdf","ref":{"key":"$key","versionToken":"$version"},"title":"Verbale","docIdx":"0"}]}
JSON
  export SEND_TEMPLATE="$dir/send-template.json"
  # Fill the store: long bursts while far from N, then short gentle ones.
  have=0
  while [ "$have" -lt "$n" ]; do
    left=$(( n - have ))
    if [ $left -gt 30000 ]; then wrk -t2 -c64 -d$(( left / 15000 ))s -s $here/send.lua "$base" > /dev/null
    else wrk -t1 -c1 -d1s -s $here/send.lua "$base" > /dev/null; fi
    have=$(curl -sf "$base/metrics" | awk '$1 ~ /notifications_stored$/ {print $2}')
    echo "   $have stored" >&2
  done
  sleep 2 # every request validated
  curl -sf "$base/mock/notifications" > "$dir/notifications.json"
  python3 - "$dir" <<'PY'
import json, sys
d = sys.argv[1]
ns = json.load(open(d + "/notifications.json"))
with open(d + "/status-paths.txt", "w") as f:
    f.writelines(f"/delivery/v2.6/requests?notificationRequestId={n['notificationRequestId']}\n" for n in ns)
with open(d + "/detail-paths.txt", "w") as f:
    f.writelines(f"/delivery/v2.9/notifications/sent/{n['iun']}\n" for n in ns if n["notificationStatus"] != "REFUSED")
PY
  one_status=$(head -1 "$dir/status-paths.txt"); one_detail=$(head -1 "$dir/detail-paths.txt")
  declare -A r=()
  r[status]=$(measure status $mp "$base/status")
  r[status_one]=$(measure status-one $mp -s $here/key.lua "$base$one_status")
  r[status_rot]=$(PATHS_FILE="$dir/status-paths.txt" measure status-rotating $mp -s $here/rotate.lua "$base")
  r[detail_one]=$(measure detail-one $mp -s $here/key.lua "$base$one_detail")
  r[detail_rot]=$(PATHS_FILE="$dir/detail-paths.txt" measure detail-rotating $mp -s $here/rotate.lua "$base")
  detail_bytes=$(curl -sf -o /dev/null -w '%{size_download}' -H 'x-api-key: sendmock-key' "$base$one_detail")
  r[send]=$(measure send $mp -s $here/send.lua "$base")
  r[fixed]=$(fixed_rate status-fixed -H 'x-api-key: sendmock-key' "$base$one_status")
  rss=$(( $(awk '/VmRSS/ {print $2}' /proc/$mp/status) / 1024 ))
  kill -INT $mp; wait $mp 2>/dev/null || true
  hello_run 2 fixed
  read -r h2 _ _ hc2 < "$dir/hello2.res"
  # The ceiling for a view of a detail's size: bare axum answering as many bytes.
  hello_run 3 "" "$detail_bytes"
  read -r h3 p3 _ hc3 < "$dir/hello3.res"
  read -r f50 f99 <<< "${r[fixed]}"
  read -r hf50 hf99 < "$dir/hello-fixed.res"
  python3 - "$have" "$h1" "$h2" "$rss" "$rate" "$f50" "$f99" "$hf50" "$hf99" "$hc1 $hc2" "$detail_bytes $h3 $p3 $hc3" "${r[status]}" "${r[status_one]}" "${r[status_rot]}" "${r[detail_one]}" "${r[detail_rot]}" "${r[send]}" <<'PY' | tee "$dir/table.md"
import sys
a = sys.argv[1:]
n, h1, h2, rss, rate = int(a[0]), float(a[1]), float(a[2]), a[3], a[4]
f50, f99, hf50, hf99, hello_cpu = a[5:10]
rows = ["GET /status", "request status, one polled", "request status, rotating",
        "detail, one polled", "detail, rotating", "validated send"]
bare = (h1 + h2) / 2
hc = hello_cpu.split()
print(f"\n{n:,} notifications stored (resident memory {rss} MB at the end); bare axum {h1:,.0f} / {h2:,.0f} req/s"
      f" ({hc[0]} / {hc[1]} µs of server CPU a request)\n")
print("| request | req/s | p99 ms | vs bare axum | server CPU µs/request |")
print("|---|---|---|---|---|")
for name, vals in zip(rows, a[11:]):
    rps, p99, bad, cpu = vals.split()
    note = f" ({bad} not 2xx)" if bad != "0" else ""
    print(f"| {name} | {float(rps):,.0f}{note} | {p99} | {float(rps) / bare:.2f} | {cpu} |")
size, h3, p3, hc3 = a[10].split()
print(f"| bare axum answering {int(size):,} bytes (a detail's size) | {float(h3):,.0f} | {p3} | {float(h3) / bare:.2f} | {hc3} |")
print(f"| request status at a fixed {int(rate):,}/s (oha) | | p50 {f50}, p99 {f99} | | |")
print(f"| bare axum at a fixed {int(rate):,}/s (oha) | | p50 {hf50}, p99 {hf99} | | |")
PY
done
echo "outputs in $out" >&2
