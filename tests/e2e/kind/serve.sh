#!/bin/sh
# kind backend: keeps lab server $1 (http|smtp) running on port $2 unless /control/stop-$1 exists.
# The scenarios stop a server with `touch /control/stop-$1; kill $(cat /control/$1.pid)` and start it
# again by removing the file, without restarting the container (the pod and its other server stay up).
while true; do
  if [ -e "/control/stop-$1" ]; then sleep 0.5; continue; fi
  PORT="$2" deno run --allow-net --allow-env=POD_NAME,PORT "/backends/$1.ts" &
  echo $! > "/control/$1.pid"
  wait $!
done
