#!/usr/bin/env bash
# Registers this container as a self-hosted GitHub Actions runner without any
# prompt, runs it, and deregisters it when the container is stopped.
#
# The registration (the runner's .runner and .credentials files) is kept in
# RUNNER_STATE, a volume, so a restarted container picks it up instead of
# registering a second runner. Tokens are never printed: they reach curl on
# stdin and config.sh as its documented --token argument, nothing else.
set -euo pipefail

RUNNER_HOME=${RUNNER_HOME:-/home/runner/actions-runner}
RUNNER_STATE=${RUNNER_STATE:-/home/runner/state}
RUNNER_WORKDIR=${RUNNER_WORKDIR:-_work}
GITHUB_URL=${GITHUB_URL:-https://github.com}
GITHUB_API_URL=${GITHUB_API_URL:-https://api.github.com}

# What config.sh writes when it registers and deletes when it removes.
STATE_FILES=(.runner .credentials .credentials_rsaparams)

log() { printf 'github-runner: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

is_true() {
	case ${1,,} in
	1 | true | yes | on) return 0 ;;
	*) return 1 ;;
	esac
}

# Exchange the organisation API token for a short-lived registration or
# removal token (KIND is "registration" or "remove") and print it.
org_token() {
	local kind=$1 endpoint response status body message
	endpoint="/orgs/$ORG/actions/runners/$kind-token"
	# The Authorization header goes in on stdin (-H @-) so the API token
	# never appears in curl's command line, which other processes can read.
	if ! response=$(printf 'Authorization: Bearer %s\n' "$TOKEN_ORG" |
		curl --silent --show-error --retry 3 --max-time 30 \
			--request POST \
			--header @- \
			--header 'Accept: application/vnd.github+json' \
			--header 'X-GitHub-Api-Version: 2022-11-28' \
			--write-out '\n%{http_code}' \
			"$GITHUB_API_URL$endpoint"); then
		log "error: cannot reach the GitHub API at $GITHUB_API_URL to get a $kind token"
		return 1
	fi
	status=${response##*$'\n'}
	body=${response%$'\n'*}
	if [[ $status != 201 ]]; then
		message=
		if [[ $body =~ \"message\"[[:space:]]*:[[:space:]]*\"([^\"]*)\" ]]; then
			message=": ${BASH_REMATCH[1]}"
		fi
		log "error: POST $GITHUB_API_URL$endpoint answered HTTP $status$message" \
			"(TOKEN_ORG needs admin:org, or a fine-grained token with the organisation's" \
			"self-hosted runners permission)"
		return 1
	fi
	if [[ ! $body =~ \"token\"[[:space:]]*:[[:space:]]*\"([^\"]+)\" ]]; then
		log "error: POST $GITHUB_API_URL$endpoint answered without a token"
		return 1
	fi
	printf '%s' "${BASH_REMATCH[1]}"
}

# The token config.sh needs for KIND ("registration" or "remove").
runner_token() {
	if [[ -n ${TOKEN_ORG:-} ]]; then
		org_token "$1"
	else
		printf '%s' "$TOKEN"
	fi
}

check_settings() {
	if [[ -n ${TOKEN_ORG:-} ]]; then
		[[ -n ${ORG:-} ]] || die "TOKEN_ORG is set but ORG (the organisation's name) is not"
	elif [[ -z ${TOKEN:-} ]]; then
		die "set TOKEN (a runner registration token), or TOKEN_ORG and ORG (an organisation API token and its organisation)"
	fi
	if [[ -z ${RUNNER_URL:-} ]]; then
		[[ -n ${ORG:-} ]] || die "set RUNNER_URL (the organisation or repository to serve), or ORG"
		RUNNER_URL="$GITHUB_URL/$ORG"
	fi
	RUNNER_NAME=${RUNNER_NAME:-$HOSTNAME}
	[[ -x $RUNNER_HOME/config.sh && -x $RUNNER_HOME/run.sh ]] ||
		die "no runner in $RUNNER_HOME (config.sh and run.sh are missing)"
	mkdir -p "$RUNNER_STATE" || die "cannot create the state folder $RUNNER_STATE"
}

save_state() {
	local file
	for file in "${STATE_FILES[@]}"; do
		if [[ -e $RUNNER_HOME/$file ]]; then
			cp -p "$RUNNER_HOME/$file" "$RUNNER_STATE/$file"
		fi
	done
}

restore_state() {
	local file
	for file in "${STATE_FILES[@]}"; do
		rm -f "$RUNNER_HOME/$file"
		if [[ -e $RUNNER_STATE/$file ]]; then
			cp -p "$RUNNER_STATE/$file" "$RUNNER_HOME/$file"
		fi
	done
}

clear_state() {
	local file
	for file in "${STATE_FILES[@]}"; do
		rm -f "$RUNNER_STATE/$file"
	done
}

register() {
	local token
	token=$(runner_token registration) || exit 1
	local args=(--unattended --url "$RUNNER_URL" --token "$token" --name "$RUNNER_NAME"
		--work "$RUNNER_WORKDIR" --replace)
	if [[ -n ${RUNNER_LABELS:-} ]]; then args+=(--labels "$RUNNER_LABELS"); fi
	if [[ -n ${RUNNER_GROUP:-} ]]; then args+=(--runnergroup "$RUNNER_GROUP"); fi
	if is_true "${RUNNER_EPHEMERAL:-false}"; then args+=(--ephemeral); fi
	if is_true "${RUNNER_DISABLE_UPDATE:-false}"; then args+=(--disableupdate); fi
	log "registering runner $RUNNER_NAME with $RUNNER_URL"
	./config.sh "${args[@]}" || die "config.sh could not register the runner"
	save_state
}

# Remove the registration from GitHub and from the state volume. When that
# fails the state is kept, so the next start reuses the registration instead
# of leaving an orphan behind.
deregister() {
	local token
	log "deregistering runner $RUNNER_NAME"
	if token=$(runner_token remove) && ./config.sh remove --token "$token"; then
		clear_state
		return 0
	fi
	log "warning: could not deregister; the runner stays registered (offline) and the next start reuses it"
	return 1
}

stop_signal=
child=

# shellcheck disable=SC2317 # only ever called from the traps set in main
on_signal() {
	stop_signal=$1
	if [[ -n $child ]]; then
		kill "-$1" "$child" 2>/dev/null || true
	fi
}

main() {
	check_settings
	cd "$RUNNER_HOME"
	restore_state
	if [[ -s .runner ]]; then
		log "runner already registered (state in $RUNNER_STATE); not registering again"
	else
		register
	fi

	trap 'on_signal TERM' TERM
	trap 'on_signal INT' INT
	./run.sh &
	child=$!
	# A trapped signal interrupts wait; keep waiting until run.sh has really exited.
	local status=0
	wait "$child" || status=$?
	while kill -0 "$child" 2>/dev/null; do
		status=0
		wait "$child" || status=$?
	done

	if [[ -n $stop_signal ]]; then
		deregister || exit 1
		[[ $stop_signal == TERM ]] && exit 143
		exit 130
	fi
	if is_true "${RUNNER_EPHEMERAL:-false}"; then
		# GitHub removed the ephemeral runner after its one job: start afresh next time.
		clear_state
	fi
	exit "$status"
}

main "$@"
