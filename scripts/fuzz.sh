#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS each (default 60): protocols/fuzz (HTTP/1 codec,
# PROXY protocol) and fuzz/ (admin grammar, configuration, stream machines).
#
#   scripts/fuzz.sh [SECONDS]        FUZZ_TARGETS="chunked tcp_stream" to run only some;
#                                    FUZZ_SANITIZER=address for ASan (default none: the
#                                    code under test is safe Rust, and none builds faster).
#
# Both fuzz crates build once, into one shared target dir (target/fuzz), then each target's
# binary runs directly. Corpora grow in <crate>/fuzz/corpus/<target> (not committed), seeded
# from <crate>/testdata/fuzz/<target>, whose files `cargo test` replays. A crash, timeout or
# out-of-memory input is copied into that testdata folder and the script fails with its
# path: rename it after what it exercises, fix the bug, commit both. Needs nightly Rust;
# installs cargo-fuzz when missing. Works without a terminal (CI=true, no stdin).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
seconds=${1:-60}
sanitizer=${FUZZ_SANITIZER:-none}
target_dir=$root/target/fuzz
triple=$(rustc -vV | sed -n 's/^host: //p')
bin_dir=$target_dir/$triple/release

# target  fuzz-crate-dir  testdata-dir
all_targets="
request_head  protocols/fuzz protocols/testdata/fuzz
response_head protocols/fuzz protocols/testdata/fuzz
chunked       protocols/fuzz protocols/testdata/fuzz
proxy_header  protocols/fuzz protocols/testdata/fuzz
admin_command fuzz           admin/testdata/fuzz
config_text   fuzz           conf/testdata/fuzz
http_stream   fuzz           engine/testdata/fuzz
tcp_stream    fuzz           engine/testdata/fuzz
"

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz.sh: a nightly toolchain is needed (cargo-fuzz uses -Z flags):" >&2
    echo "         rustup toolchain install nightly" >&2
    exit 2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: cargo-fuzz missing: cargo install cargo-fuzz --locked"
    cargo install cargo-fuzz --locked </dev/null
fi

started=$SECONDS
for crate in protocols/fuzz fuzz; do
    echo "fuzz.sh: building $crate (sanitizer $sanitizer)"
    (cd "$crate" && cargo +nightly fuzz build -s "$sanitizer" --target-dir "$target_dir" </dev/null)
done
echo "fuzz.sh: built in $((SECONDS - started)) s; $seconds s per target"

failed=()
while read -r target crate testdata; do
    [ -n "$target" ] || continue
    if [ -n "${FUZZ_TARGETS:-}" ] && [[ " $FUZZ_TARGETS " != *" $target "* ]]; then
        continue
    fi
    corpus=$crate/corpus/$target
    artifacts=$crate/artifacts/$target
    seeds=$testdata/$target
    log=$target_dir/logs/$target.log
    mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
    status=0
    "$bin_dir/$target" "$corpus" "$seeds" -artifact_prefix="$artifacts/" \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        </dev/null >"$log" 2>&1 || status=$?
    # libFuzzer's last status line: "#runs DONE cov: … ft: … corp: … exec/s: … rss: …".
    summary=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
    printf 'fuzz.sh: %-14s %s\n' "$target" "${summary:-no status line, see $log}"
    if [ "$status" -ne 0 ]; then
        found=false
        for artifact in "$artifacts"/crash-* "$artifacts"/timeout-* "$artifacts"/oom-* \
            "$artifacts"/leak-* "$artifacts"/slow-unit-*; do
            [ -e "$artifact" ] || continue
            cp "$artifact" "$seeds/"
            rm "$artifact"
            echo "fuzz.sh: $target: finding kept as $seeds/$(basename "$artifact")" >&2
            found=true
        done
        $found || echo "fuzz.sh: $target exited $status without an artifact, see $log" >&2
        tail -n 30 "$log" >&2
        failed+=("$target")
    fi
done <<<"$all_targets"

echo "fuzz.sh: done in $((SECONDS - started)) s"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz.sh: findings in: ${failed[*]}" >&2
    exit 1
fi
