#!/bin/sh
# kind backend, db-0: lets the replicas stream from the primary (the image only opens `all` databases).
echo "host replication all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
