#!/usr/bin/env bash
# The project-local PostgreSQL + PostGIS cluster (under .pgdata/, git-ignored) used by `make run` and `make test`.
#   localdb.sh install         install PostGIS and pgRouting from the system's packages if they are missing
#   localdb.sh start           init (first time) and start the cluster on 127.0.0.1:$YIZHAN_PGPORT
#   localdb.sh stop            stop it (the data stays)
#   localdb.sh createdb NAME   create database NAME if it does not exist
#   localdb.sh url NAME        print the connection URL of database NAME
#   localdb.sh standby DIR     create (first time) and start a hot standby of the cluster in DIR, streaming from
#                              it on a port of its own; stop it with YIZHAN_PGDATA=DIR localdb.sh stop
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
datadir=${YIZHAN_PGDATA:-$root/.pgdata}
# 5432 is usually taken by a system server; the local cluster gets a port of its own, chosen free when the
# cluster is created (another checkout's cluster may hold 54329) and read back from its configuration after.
default_port=${YIZHAN_PGPORT:-54329}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

cluster_port() {
  local configured
  configured=$(sed -n "s/^port = \([0-9]*\)$/\1/p" "$datadir/postgresql.conf" 2>/dev/null | tail -n 1)
  echo "${configured:-$default_port}"
}

free_port() {
  local p=${1:-$default_port}
  while port_in_use "$p"; do p=$((p + 1)); done
  echo "$p"
}

say() { printf '\033[1m[localdb]\033[0m %s\n' "$*" >&2; }

pg_bindir() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$dir" ] || { say "PostgreSQL server binaries not found under /usr/lib/postgresql; install postgresql first"; exit 1; }
  echo "$dir"
}

pg_major() { basename "$(dirname "$(pg_bindir)")"; }

# PostgreSQL refuses to run as root, so as root the cluster belongs to the unprivileged `postgres` user.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

install_postgis() {
  local major missing=(); major=$(pg_major)
  local extensions=/usr/share/postgresql/$major/extension
  [ -f "$extensions/postgis.control" ] || missing+=("postgresql-$major-postgis-3")
  [ -f "$extensions/pgrouting.control" ] || missing+=("postgresql-$major-pgrouting")
  [ ${#missing[@]} -gt 0 ] || return 0
  if [ "$(id -u)" -ne 0 ]; then say "missing: run 'sudo apt-get install -y ${missing[*]}'"; exit 1; fi
  say "installing ${missing[*]} from the system's packages (apt-get update + install; takes a minute)"
  DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
}

# The cluster owner must be able to reach the data folder; one under a private folder (mktemp -d is
# mode 700) is opened for traversal only (o+x, no read).
grant_traversal() {
  [ "$(id -u)" -eq 0 ] || return 0
  local dir; dir=$(dirname "$datadir")
  while [ "$dir" != "/" ]; do
    if ! runuser -u postgres -- test -x "$dir"; then
      say "allowing the postgres user to traverse $dir (chmod o+x)"
      chmod o+x "$dir"
    fi
    dir=$(dirname "$dir")
  done
}

start() {
  install_postgis
  local bin; bin=$(pg_bindir)
  if [ ! -f "$datadir/PG_VERSION" ]; then
    local port; port=$(free_port)
    say "creating a local cluster in $datadir (port $port)"
    grant_traversal
    mkdir -p "$datadir"
    [ "$(id -u)" -ne 0 ] || chown postgres:postgres "$datadir"
    chmod 700 "$datadir"
    as_owner "$bin/initdb" -D "$datadir" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    cat >>"$datadir/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '/tmp'
max_connections = 200
shared_buffers = 256MB
fsync = on
CONF
  fi
  local port; port=$(cluster_port)
  if as_owner "$bin/pg_ctl" -D "$datadir" status >/dev/null 2>&1; then
    say "local cluster already running on 127.0.0.1:$port"
  else
    say "starting the local cluster on 127.0.0.1:$port (log: $datadir/server.log)"
    as_owner "$bin/pg_ctl" -D "$datadir" -l "$datadir/server.log" -w -t 60 start >/dev/null
  fi
}

stop() {
  local bin; bin=$(pg_bindir)
  if [ -f "$datadir/PG_VERSION" ] && as_owner "$bin/pg_ctl" -D "$datadir" status >/dev/null 2>&1; then
    say "stopping the local cluster"
    as_owner "$bin/pg_ctl" -D "$datadir" -m fast -w stop >/dev/null
  else
    say "local cluster is not running"
  fi
}

createdb() {
  local name=$1 bin port; bin=$(pg_bindir); port=$(cluster_port)
  if ! "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = '$name'" | grep -q 1; then
    say "creating database $name"
    "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres "$name"
  fi
}

# A copy of the running cluster by pg_basebackup -R: it streams the primary's WAL and answers read-only queries.
# initdb's pg_hba.conf already lets local replication connections in, and PostgreSQL 15's defaults (wal_level
# replica, max_wal_senders 10, hot_standby on) need nothing more.
standby() {
  local target=${1:?standby data folder} bin port; bin=$(pg_bindir); port=$(cluster_port)
  if [ ! -f "$target/PG_VERSION" ]; then
    local standby_port; standby_port=$(free_port $((port + 1)))
    say "creating a hot standby of 127.0.0.1:$port in $target (port $standby_port)"
    datadir=$target grant_traversal
    mkdir -p "$target"
    [ "$(id -u)" -ne 0 ] || chown postgres:postgres "$target"
    chmod 700 "$target"
    as_owner "$bin/pg_basebackup" -h 127.0.0.1 -p "$port" -U postgres -D "$target" -R -X stream -c fast
    rm -f "$target/server.log"
    echo "port = $standby_port" >>"$target/postgresql.conf"
  fi
  datadir=$target start
}

case "${1:-}" in
  install) install_postgis ;;
  start) start ;;
  stop) stop ;;
  createdb) createdb "${2:?database name}" ;;
  standby) standby "${2:?standby data folder}" ;;
  url) echo "postgresql://postgres@127.0.0.1:$(cluster_port)/${2:?database name}" ;;
  *) sed -n '2,10p' "$0"; exit 2 ;;
esac
