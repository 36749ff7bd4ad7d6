#!/bin/sh
# kind backend: the guide's PostgreSQL 15 (Debian's packages, in the e2e workload image), run as root so it
# can prepare the data folder, with the server as the container's main process (a stopped server stays
# stopped: the pods never restart).
#   postgres.sh primary         initialise and run a primary that replicas may stream from
#   postgres.sh replica HOST    clone HOST with pg_basebackup and run as its hot standby
#   postgres.sh stop | promote  pg_ctl on the running server (from `kubectl exec`)
set -eu
PGDATA=/var/lib/postgresql/data
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }

prepare() {
  mkdir -p "$PGDATA"
  chown postgres:postgres "$PGDATA"
  chmod 700 "$PGDATA"
}

case "$1" in
primary)
  prepare
  printf '%s\n' "$POSTGRES_PASSWORD" >/tmp/pwfile
  chown postgres /tmp/pwfile
  as_postgres initdb -D "$PGDATA" -U postgres --pwfile=/tmp/pwfile --auth-local=trust \
    --auth-host=scram-sha-256 >/dev/null
  rm /tmp/pwfile
  printf 'host all all all scram-sha-256\nhost replication all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
  exec setpriv --reuid=postgres --regid=postgres --init-groups postgres -D "$PGDATA" \
    -c listen_addresses='*' -c wal_level=replica -c hot_standby=on
  ;;
replica)
  prepare
  until PGPASSWORD="$POSTGRES_PASSWORD" as_postgres pg_basebackup -h "$2" -U postgres -D "$PGDATA" -R -X stream; do
    sleep 1
    find "$PGDATA" -mindepth 1 -delete
  done
  exec setpriv --reuid=postgres --regid=postgres --init-groups postgres -D "$PGDATA" \
    -c listen_addresses='*' -c hot_standby=on
  ;;
stop) as_postgres pg_ctl -D "$PGDATA" stop -m fast ;;
promote) as_postgres pg_ctl -D "$PGDATA" promote -w ;;
*)
  echo "usage: postgres.sh primary | replica HOST | stop | promote" >&2
  exit 2
  ;;
esac
