#!/usr/bin/env bash
# One-shot setup of the example federation (compose.yaml's `setup` service): a federation CA, and
# for each node a data dir with its certificate and the config from deploy/federation/. Runs
# again harmlessly: a node that has a data dir is left as it is.
set -euo pipefail

nodes=(municipal enterprise branch team-1)
# The paths inside the setup container; the test suite runs this script with others.
ca="${HEARTH_SETUP_CA:-/ca}"
configs="${HEARTH_SETUP_CONFIGS:-/setup/federation}"
nodes_dir="${HEARTH_SETUP_NODES:-/nodes}"
uid=10001 # the `hearth` user of the image

field() { sed -n "s/^$1 = \"\(.*\)\"/\1/p" "$2"; }
# The ids of the peers whose relation is "parent" (each [[peers]] table names id, then relation).
parents() { awk -F'"' '/^id = /{id=$2} /^relation = "parent"/{print id}' "$1"; }

if [[ ! -f "$ca/ca.pem" ]]; then
  hearth certs init-ca --out "$ca" --name demo-city
fi
for n in "${nodes[@]}"; do
  dir="$nodes_dir/$n"
  config="$configs/$n.toml"
  hearth config check "$config"
  if [[ -f "$dir/hearth.toml" ]]; then
    echo "$n: already set up"
    continue
  fi
  id="$(field node_id "$config")"
  level="$(field level "$config")"
  join=()
  if [[ "$n" != "municipal" ]]; then
    # Every node of a federation shares its salt (identity keys of cases are salted with it).
    join=(--federation-salt "$nodes_dir/municipal/federation.salt")
  fi
  hearth --data-dir "$dir" init --node-id "$id" --level "$level" "${join[@]}"
  # The certificate says where the node sits (DESIGN §4a): its level and its parents.
  place=(--level "$level")
  for p in $(parents "$config"); do
    place+=(--parent "$p")
  done
  hearth certs issue --ca "$ca" --node-id "$id" "${place[@]}" --out "$dir/tls"
  install -m 0600 "$config" "$dir/hearth.toml"
  if [[ "$(id -u)" == 0 ]]; then
    chown -R "$uid:$uid" "$dir"
  fi
  echo "$n: node $id ($level) set up"
done
