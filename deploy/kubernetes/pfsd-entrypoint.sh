#!/bin/sh
# pfsd-entrypoint: starts pfsd in a pod of the StatefulSet that `pfs deploy kubernetes` makes.
# Plain POSIX sh; the image installs it as /usr/local/bin/pfsd-entrypoint.
#
# Contract (the StatefulSet sets these; pkg/deploy/kubernetes-manifests.ts):
#   POD_NAME              the pod's name, <statefulset>-<ordinal> (downward API)
#   PFSD_ETCD_ENDPOINTS   set: pfs on an external etcd, pfsd runs as it is (no member)
#   PFS_FOUNDING_MEMBERS  N: pods with ordinal < N bootstrap the Raft cluster together
#   PFS_INITIAL_CLUSTER   name=peer-url,... of the N founding members
#   PFS_JOIN_URLS         client URLs a later pod (ordinal >= N, from `kubectl scale`) joins
#                         through as a Raft learner
#   PFSD_BIN              the pfsd command (default: pfsd on PATH)
# Everything else (ETCD_*, PFSD_*) goes to pfsd untouched. pfsd ignores --join once its data
# dir holds a member, so a restarted pod comes back as itself whatever its ordinal.
set -eu

pfsd="${PFSD_BIN:-pfsd}"
fail() {
  echo "pfsd-entrypoint: $*" >&2
  exit 2
}

[ -n "${POD_NAME:-}" ] || fail "POD_NAME is not set (the downward API's metadata.name)"

if [ -n "${PFSD_ETCD_ENDPOINTS:-}" ]; then
  exec "$pfsd" "$@"
fi

ordinal="${POD_NAME##*-}"
case "$ordinal" in
  '' | *[!0-9]*) fail "pod name '$POD_NAME' does not end in -ORDINAL" ;;
esac
founding="${PFS_FOUNDING_MEMBERS:-}"
case "$founding" in
  '' | *[!0-9]*) fail "PFS_FOUNDING_MEMBERS '$founding' is not a count" ;;
esac

if [ "$ordinal" -lt "$founding" ]; then
  [ -n "${PFS_INITIAL_CLUSTER:-}" ] || fail "PFS_INITIAL_CLUSTER is not set"
  ETCD_INITIAL_CLUSTER="$PFS_INITIAL_CLUSTER"
  ETCD_INITIAL_CLUSTER_STATE=new
  export ETCD_INITIAL_CLUSTER ETCD_INITIAL_CLUSTER_STATE
  exec "$pfsd" "$@"
fi

[ -n "${PFS_JOIN_URLS:-}" ] || fail "PFS_JOIN_URLS is not set"
# A learner must not bootstrap: --join builds its own initial cluster from the running one.
unset ETCD_INITIAL_CLUSTER ETCD_INITIAL_CLUSTER_STATE
exec "$pfsd" --join "$PFS_JOIN_URLS" "$@"
