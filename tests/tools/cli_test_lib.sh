# Helpers the command-line test scripts share (tests/tools, tests/gpu, tests/obj). Source it
# after setting $py, the interpreter whose json module `field` uses.

# fail MESSAGE: the first failure ends the test with exit 1.
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# field FILE KEY: one value of a JSON object, or "absent".
field() {
  "$py" -c 'import json, sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], "absent"))' "$1" "$2"
}

# enter_workdir NAME [BASE]: cd into a fresh directory under BASE (default $TMPDIR, else
# /tmp), in $work, removed when the script exits.
enter_workdir() {
  work=$(mktemp -d "${2:-${TMPDIR:-/tmp}}/$1.XXXXXX") || exit 1
  trap 'rm -rf "$work"' EXIT
  cd "$work" || exit 1
}
