#!/usr/bin/env bash
# make demo: backtest STR001 offline on the shipped data, then its execution-quality report.
# The local exchange on 127.0.0.1 answers Freqtrade's market queries (no network needed).
set -euo pipefail
cd "$(dirname "$0")/.."
STRATEGY="${1:-STR001}"
PIDFILE=user_data/.localex.pid
LOG=user_data/logs/demo-backtest.log
mkdir -p user_data/logs

freqtrade-exec exchange start --port 8765 --datadir user_data/data/binance --pidfile "$PIDFILE"
trap 'freqtrade-exec exchange stop --pidfile "$PIDFILE" >/dev/null' EXIT

freqtrade backtesting --config user_data/config.json --userdir user_data \
    --strategy "$STRATEGY" --timeframe 5m --timerange 20250902- --cache none --export trades --enable-protections 2>&1 | tee "$LOG"

# freqtrade exits 0 even on a configuration error: check that a result was produced
if ! grep -q "BACKTESTING REPORT" "$LOG"; then
    echo "demo: freqtrade backtesting produced no result (see $LOG)" >&2
    exit 1
fi

freqtrade-exec report --backtest user_data/backtest_results --contract \
    .crypto/knowledge/strategies/STR-001/risk-assessment.yaml
