#!/usr/bin/env bash
# images.build (ctest label `images`): Governor's two container images, built and run here.
#   - scripts/build-images builds both (buildah; base images from debootstrap, layer cache);
#   - the second image's build takes the shared build stage from the cache: one compile;
#   - each image runs as uid 65532 (the chart's runAsUser), its ENTRYPOINT is its binary,
#     and that binary answers --help inside the image, as that user;
#   - ldd finds every library the binary links, inside the image;
#   - the runtime image holds no build tools and no sources, and is small (printed);
#   - the test cluster node's images (--test-images): pause runs catatonit, redis runs
#     Debian's redis-server as uid 999 (the cache StatefulSet's runAsUser);
#   - the adapter image has curl (the chart's helm test pod runs it).
# Needs root (buildah). Run: scripts/test -L images, or bash tests/images_test.sh.
# Environment: GOVERNOR_IMAGES_TAG (default dev), GOVERNOR_IMAGES_MAX_MB (default 150).
# Prints "images: N passed, M failed" and exits 1 when anything failed.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tag=${GOVERNOR_IMAGES_TAG:-dev}
# The images are about 92 MB (debian:12-slim about 78 MB). A build tree or a compiler in the
# runtime stage would add hundreds.
max_mb=${GOVERNOR_IMAGES_MAX_MB:-150}
# The chart's securityContext (templates/_helpers.tpl).
chart_uid=$(awk '/runAsUser:/ {print $2; exit}' "$root/charts/governor/templates/_helpers.tpl" 2>/dev/null)
chart_uid=${chart_uid:-65532}
tmp=$(mktemp -d)
containers=()
driver=""
bah() { buildah --storage-driver "${driver:-overlay}" "$@"; }
source "$root/tests/support/checks.sh"
finish() {
  local c
  for c in "${containers[@]}"; do bah rm "$c" >/dev/null 2>&1; done
  rm -rf "$tmp"
  summary images
}

if [[ $(id -u) != 0 ]]; then
  echo "images.build needs root (buildah builds as root here)" >&2
  fail "scripts/build-images" "not root"
  finish
  exit
fi

# --- build -----------------------------------------------------------------------------------
start=$(date +%s)
if "$root/scripts/build-images" --builder buildah --test-images --tag "$tag" >"$tmp/build.log" 2>&1; then
  pass "scripts/build-images built all four images in $(($(date +%s) - start))s"
else
  fail "scripts/build-images" "failed (exit $?)" "$(tail -n 40 "$tmp/build.log")"
  finish
  exit
fi
grep '^build-images:' "$tmp/build.log"
# The storage driver scripts/build-images chose (overlay, or vfs where overlay does not mount).
driver=$(sed -n 's/.*storage driver \([a-z]*\).*/\1/p' "$tmp/build.log" | tail -n 1)

# The adapter is built second: its build stage's compile step must come from the cache.
compile_step=$(awk '/^build-images: buildah bud -f Dockerfile.adapter/ {a = 1}
  a && /STEP [0-9]+\/[0-9]+: RUN cmake / {s = 1; next}
  s {print; exit}' "$tmp/build.log")
if [[ $compile_step == "--> Using cache"* ]]; then
  pass "Dockerfile.adapter's compile step came from Dockerfile.operator's layer cache"
else
  fail "shared build stage" "Dockerfile.adapter compiled again (the two build stages differ?)" \
    "$(grep -n -A1 'STEP .*RUN cmake' "$tmp/build.log")"
fi

# --- each image ----------------------------------------------------------------------------------
for pair in operator:governor-operator adapter:governor-metrics-adapter; do
  which=${pair%%:*} name=${pair#*:}
  image=governor/$name:$tag
  binary=/usr/local/bin/$name

  config=$(bah inspect --type image --format '{{.OCIv1.Config.User}}|{{.OCIv1.Config.Entrypoint}}' "$image" 2>&1)
  if [[ $? != 0 ]]; then
    fail "$image" "not in buildah's storage" "$config"
    continue
  fi
  user=${config%%|*} entrypoint=${config#*|}
  [[ $user == "$chart_uid:$chart_uid" ]] && pass "$image: USER $user (the chart's runAsUser)" \
    || fail "$image: USER" "is \"$user\", not $chart_uid:$chart_uid"
  [[ $entrypoint == "[$binary]" ]] && pass "$image: ENTRYPOINT $entrypoint" \
    || fail "$image: ENTRYPOINT" "is $entrypoint, not [$binary]"

  if ! c=$(bah from --quiet --pull-never "$image" 2>&1); then
    fail "$image" "buildah from failed" "$c"
    continue
  fi
  containers+=("$c")
  run() { bah run --isolation chroot "$c" -- "$@"; }

  # buildah run takes the image's USER, as a container runtime does.
  out=$(run id 2>&1)
  [[ $out == "uid=$chart_uid(governor) gid=$chart_uid(governor)"* ]] && pass "$image: runs as $out" \
    || fail "$image: user at run time" "id says" "$out"

  out=$(run "$binary" --help 2>&1)
  status=$?
  if [[ $status == 0 && $out == *"Usage: $name"* ]]; then
    pass "$image: $name --help runs inside the image"
  else
    fail "$image: $name --help" "exit $status, or no \"Usage: $name\"" "$out"
  fi

  out=$(run ldd "$binary" 2>&1)
  if [[ $? == 0 && $out != *"not found"* && $out == *libssl* ]]; then
    pass "$image: ldd finds all $(grep -c '=>' <<<"$out") libraries of $name"
  else
    fail "$image: ldd $binary" "a library is missing" "$out"
  fi

  # Only the binary and its libraries: no compiler, build tools or sources.
  out=$(run sh -c 'for t in cc c++ gcc g++ cmake ninja make go objcopy pkg-config git; do command -v $t; done; ls -d /src 2>/dev/null; exit 0' 2>&1)
  [[ -z $out ]] && pass "$image: no build tools or sources" || fail "$image: build leftovers" "found" "$out"

  if [[ $which == adapter ]]; then
    run test -s /etc/ssl/certs/ca-certificates.crt && pass "$image: has the CA certificates" \
      || fail "$image: CA certificates" "no /etc/ssl/certs/ca-certificates.crt"
    out=$(run curl --version 2>&1) && pass "$image: has curl (helm test)" || fail "$image: curl" "curl --version failed" "$out"
  fi

  size=$(bah images --noheading --format '{{.Size}}' "$image" | head -n 1)
  bytes=$(mnt=$(bah mount "$c") && du -sb "$mnt" | cut -f1; bah umount "$c" >/dev/null 2>&1)
  mb=$(( ${bytes:-0} / 1000000 ))
  if [[ -n $bytes ]] && ((mb <= max_mb)); then
    pass "$image: $size ($mb MB unpacked, at most $max_mb)"
  else
    fail "$image: size" "$size ($mb MB unpacked), more than $max_mb MB"
  fi
done

# --- the test cluster node's images ---------------------------------------------------------------
redis_uid=$(sed -n 's/^constexpr int64_t kRedisUid = \([0-9]*\);.*/\1/p' "$root/operator/render/redis.cc")
for image in governor/pause:$tag governor/redis:$tag; do
  if ! c=$(bah from --quiet --pull-never "$image" 2>&1); then
    fail "$image" "not in buildah's storage" "$c"
    continue
  fi
  containers+=("$c")
  case $image in
    */pause:*)
      entrypoint=$(bah inspect --type image --format '{{.OCIv1.Config.Entrypoint}}' "$image")
      [[ $entrypoint == "[/pause -P]" ]] && pass "$image: ENTRYPOINT $entrypoint (catatonit, pause mode)" \
        || fail "$image: ENTRYPOINT" "is $entrypoint, not [/pause -P]" ;;
    */redis:*)
      out=$(bah run --isolation chroot "$c" -- sh -c 'id -u; redis-server --version; redis-cli --version' 2>&1)
      if [[ $(head -n 1 <<<"$out") == "$redis_uid" && $out == *"Redis server v="* && $out == *redis-cli* ]]; then
        pass "$image: redis-server and redis-cli as uid $redis_uid"
      else
        fail "$image" "not redis-server and redis-cli as uid $redis_uid" "$out"
      fi ;;
  esac
done

finish
