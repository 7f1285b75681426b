# A stand-in for ucp-interlock, for tests on a real Swarm: it reads /config.toml and exits
# non-zero on what makes the real one crash (documented: an extension without ProxyReplicas),
# or on a config it could not run (an unknown PublishMode, two clusters on one published port).
# One fault shows only later, as in the real one: an extension with an empty Image is accepted,
# and the core fails 7 s in, when it tries to start that extension (after Swarm's default
# 5 s monitor window).
out=$(awk '
function fail(msg) { print "interlock: invalid configuration: " msg > "/dev/stderr"; bad = 1 }
/^[ \t]*\[Extensions\.[A-Za-z0-9_-]+\][ \t]*$/ {
  cur = $0; sub(/^[ \t]*\[Extensions\./, "", cur); sub(/\].*$/, "", cur); seen[cur] = 1; n++; next
}
/^[ \t]*\[/ { cur = ""; next }
cur != "" && /^[ \t]*ProxyReplicas[ \t]*=/ { v = $0; sub(/^[^=]*=[ \t]*/, "", v); if (v + 0 < 1) fail("ProxyReplicas of " cur " is " v); reps[cur] = v }
cur != "" && /^[ \t]*Image[ \t]*=[ \t]*""/ { late = cur }
cur != "" && /^[ \t]*PublishMode[ \t]*=/ { v = $0; sub(/^[^=]*=[ \t]*/, "", v); if (v != "\"ingress\"" && v != "\"host\"") fail("PublishMode of " cur " is " v) }
cur != "" && /^[ \t]*Published(SSL)?Port[ \t]*=/ {
  v = $0; sub(/^[^=]*=[ \t]*/, "", v)
  if (v in port) fail("port " v " is published by both " port[v] " and " cur); else port[v] = cur
}
END {
  for (e in seen) if (!(e in reps)) fail("ProxyReplicas is missing in [Extensions." e "]; the core service crashes without it")
  if (bad) exit 1
  print "interlock: running " n " service cluster(s)"
  if (late != "") { print late; exit 3 }
}' /config.toml)
case $? in
  0) echo "$out" ;;
  3) sleep 7; echo "interlock: cannot start extension ${out##*
}: its Image is empty" >&2; exit 1 ;;
  *) exit 1 ;;
esac
trap "exit 0" TERM INT
sleep 1000000 &
wait
