#!/usr/bin/env bash
# wait-for under the name it takes wait-for-it's command line by (a wheel cannot hold the link
# `make install` makes).
exec -a wait-for-it.sh "$(dirname "$(readlink -f "$0")")/wait-for" "$@"
