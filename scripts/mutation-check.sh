#!/usr/bin/env bash
# Show that the reliability suite can fail: copy the repository to a temporary
# folder, disable one protection at a time in the copy, and run the tests that
# guard it against the copy (PYTHONPATH points at it). Each mutation must make
# them fail; the unmutated copy must make them pass.
#
#   scripts/mutation-check.sh            # all mutations
#   scripts/mutation-check.sh lock gc-pins   # some of them
#
# Mutations:
#   lock       the registry lock's flock becomes a no-op
#   fsync      every fsync and the syncfs become no-ops
#   gc-pins    gc ignores the pins of running writers
#   gc-grace   gc ignores the grace period
# Exit status: 0 when every mutation was caught, 1 otherwise.
set -uo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"
python="${PYTHON:-python}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

declare -A TESTS=(
  [lock]="tests/reliability/test_locks.py::test_live_holder_is_waited_for_then_exit_4_naming_it tests/reliability/test_concurrency.py"
  [fsync]="tests/reliability/test_durability.py::test_every_rename_into_the_registry_follows_a_sync"
  [gc-pins]="tests/reliability/test_durability.py::test_gc_keeps_pinned_and_young_objects tests/reliability/test_durability.py::test_gc_racing_a_paused_register"
  [gc-grace]="tests/reliability/test_durability.py::test_gc_keeps_pinned_and_young_objects"
)

# mutate NAME DIR: patch the copy in DIR; fails loudly if a pattern is not found.
mutate() {
  "$python" - "$1" "$2" <<'EOF'
import pathlib, re, sys

name, root = sys.argv[1], pathlib.Path(sys.argv[2])

def patch(path, old, new, regex=False):
    p = root / path
    text = p.read_text()
    count = len(re.findall(old, text)) if regex else text.count(old)
    if not count:
        sys.exit(f"mutation {name}: pattern {old!r} not found in {path}")
    p.write_text(re.sub(old, new, text) if regex else text.replace(old, new))

if name == "lock":
    patch("mreg/core/lock.py", "fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)", "pass  # mutated: no lock")
elif name == "fsync":
    for path in ["mreg/core/fsutil.py", "mreg/core/store.py", "mreg/core/history.py"]:
        patch(path, r"\bos\.fsync\(", "(lambda _fd: None)(", regex=True)
    patch("mreg/core/fsutil.py", "libc.syncfs(fd) != 0", "False")
elif name == "gc-pins":
    patch("mreg/core/ops/gc.py", "pinned = live_pins(registry, skip=own.path)", "pinned = set()")
    patch("mreg/core/ops/gc.py", "pinned_now = live_pins(registry, skip=own.path)", "pinned_now = set()")
elif name == "gc-grace":
    patch("mreg/core/ops/gc.py", "cutoff = now - grace_seconds", "cutoff = now + 86400")
else:
    sys.exit(f"unknown mutation {name}")
EOF
}

run_tests() {  # run_tests DIR TESTS... ; prints a one-line summary, returns pytest's status
  local dir="$1"; shift
  local out status
  out=$(cd "$dir" && PYTHONPATH="$dir" "$python" -m pytest -q -x -p no:cacheprovider "$@" 2>&1)
  status=$?
  echo "$(tail -1 <<<"$out") $(grep -m1 -E '^E +[A-Za-z]*Error' <<<"$out" | sed -E 's/^E +//' | cut -c1-160)"
  return $status
}

fresh_copy() {
  rm -rf "$work/copy" && mkdir -p "$work/copy"
  tar -C "$repo" --exclude=.git --exclude='__pycache__' -cf - . | tar -C "$work/copy" -xf -
}

mutations=("$@")
[ ${#mutations[@]} -eq 0 ] && mutations=(lock fsync gc-pins gc-grace)
missed=0
for m in "${mutations[@]}"; do
  [ -n "${TESTS[$m]:-}" ] || { echo "unknown mutation: $m"; exit 2; }
  fresh_copy
  # shellcheck disable=SC2086
  if ! summary=$(run_tests "$work/copy" ${TESTS[$m]}); then
    echo "baseline  $m: the guarding tests fail without any mutation: $summary"; missed=1; continue
  fi
  mutate "$m" "$work/copy" || { missed=1; continue; }
  # shellcheck disable=SC2086
  if summary=$(run_tests "$work/copy" ${TESTS[$m]}); then
    echo "MISSED    $m: the tests still pass ($summary)"; missed=1
  else
    echo "caught    $m: $summary"
  fi
done
exit $missed
