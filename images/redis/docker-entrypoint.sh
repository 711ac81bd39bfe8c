#!/bin/sh
# Start redis-server as the official image does: options alone mean
# redis-server, the server runs as the redis user, and, with no config file,
# protected mode is off so other containers can connect without a password.
set -eu

if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
    set -- redis-server "$@"
fi

if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
    chown -R redis:redis .
    exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi

# Redis wants a config file first; later options override earlier ones.
second=${2-}
if [ "$1" = redis-server ] && [ "${second%.conf}" = "$second" ]; then
    shift
    set -- redis-server --protected-mode no "$@"
fi

exec "$@"
