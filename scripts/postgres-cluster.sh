#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests (and for trying evolve on PostgreSQL):
#   scripts/postgres-cluster.sh start DIR [PORT]   makes a cluster in DIR, starts it, prints its URL;
#                                                  a DIR that holds one already: starts that cluster
#                                                  again, on the port it was made with
#   scripts/postgres-cluster.sh stop DIR           stops it (rm -rf DIR then removes it)
#   scripts/postgres-cluster.sh crash DIR          stops it at once, as a crash or a failover does
#                                                  (pg_ctl -m immediate: no checkpoint, clients cut off)
# It runs as the `postgres` user when started as root (the server refuses root), trusts
# connections from loopback and from 10.77.0.0/16 (the multi-host test's network namespaces),
# and listens on every address of this host, so those namespaces reach it.
set -euo pipefail
cmd=${1:?usage: $0 start|stop|crash DIR [PORT]}
dir=$(realpath -m "${2:?a folder for the cluster}")
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bin/initdb" ] || { echo "$0: PostgreSQL's server is not installed (apt-get install postgresql)" >&2; exit 1; }
as_server() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
# The server outlives this script: it must hold none of its caller's open files, or a caller
# waiting for one of them to close (a pipe, a process's exit notice) waits for ever.
detached() (
    for fd in /proc/$BASHPID/fd/*; do
        fd=${fd##*/}
        if [ "$fd" -gt 2 ] && [ -e "/proc/$BASHPID/fd/$fd" ]; then eval "exec $fd>&-"; fi
    done
    "$@"
)
case $cmd in
start)
    if [ -f "$dir/port" ]; then
        port=$(cat "$dir/port")
    else
        port=${3:-55432}
        mkdir -p "$dir"
        [ "$(id -u)" = 0 ] && chown postgres "$dir"
        as_server "$bin/initdb" -D "$dir/data" -U postgres --auth=trust >"$dir/initdb.log"
        echo "host all all 10.77.0.0/16 trust" >>"$dir/data/pg_hba.conf"
        echo "$port" >"$dir/port"
    fi
    detached as_server "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
        -o "-p $port -k $dir -c listen_addresses=* -c max_connections=300 -c fsync=off" start >/dev/null
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    ;;
stop)
    as_server "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null
    ;;
crash)
    as_server "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null
    ;;
*) echo "usage: $0 start|stop|crash DIR [PORT]" >&2; exit 2 ;;
esac
