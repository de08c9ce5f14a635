# Shared by scripts/dev and scripts/test. Sourced, not run.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CARGO_LEPTOS_VERSION=0.3.6
export PATH="$HOME/.cargo/bin:$ROOT/tools/node_modules/.bin:$PATH"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# df_test_places: `df -P -BM` of where the tests write: the target directory, /var/tmp (the
# Citus clusters) and /tmp (the throwaway PostgreSQL, the end2end files).
df_test_places() { df -P -BM "$ROOT/target/." /var/tmp /tmp 2>/dev/null || true; }

# disk_free: the free space of those places, one line.
disk_free() {
  df_test_places | awk 'NR > 1 && !seen[$1]++ { printf "%s%.1f GB free on %s", sep, $4 / 1024, $6; sep = ", " }'
}

# need_disk GB: stops with a plain message when less than GB gigabytes are free where the
# tests write, instead of a run that dies mid-line when a disk fills.
need_disk() {
  local want_mb=$(($1 * 1024)) free_mb
  free_mb=$(df_test_places | awk 'NR > 1 { v = $4 + 0; if (min == "" || v < min) min = v } END { print min + 0 }')
  [ "$free_mb" -ge "$want_mb" ] \
    || die "only $(disk_free) left; the tests need about $1 GB free (the build, the Citus clusters, the throwaway databases). Free some space (an old target directory, /var/tmp/enclave-citus.* of a kept cluster) and run again."
}

# scratch_leftovers PSQL-CONNECTION-ARGS...: the tests' scratch databases and their
# login roles (`t_*`) still on that server, space-separated (empty: none). Each test drops
# its own (server/tests/common: DropDatabase); kept, the Citus suites' filled a CI
# machine's disk, and the roles piled up on any cluster the suite did not start.
scratch_leftovers() {
  psql -X -At "$@" -c "SELECT string_agg(name, ' ') FROM (SELECT datname FROM pg_database WHERE datname LIKE 't\_%'
    UNION ALL SELECT 'role:' || rolname FROM pg_roles WHERE rolname LIKE 't\_%') AS left_over(name)"
}

# Installs what is missing: wasm32 target, cargo-leptos, wasm-bindgen-cli at exactly the
# version in Cargo.lock. Idempotent: present and right-versioned tools are skipped.
ensure_tools() {
  command -v cargo >/dev/null || die "cargo is not installed (install Rust with rustup first)"
  if ! rustup target list --installed 2>/dev/null | grep -q '^wasm32-unknown-unknown$'; then
    say "installing the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
  if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
    say "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 12 minutes on 2 cores)"
    cargo install cargo-leptos@"$CARGO_LEPTOS_VERSION" --locked
  fi
  # wasm-opt for release builds: cargo-leptos 0.3.6 downloads it from GitHub unless it is on
  # PATH (no network for that here, nor on many build servers); Binaryen 123 from npm is
  # the version it expects.
  if ! wasm-opt --version 2>/dev/null | grep -q 'version 123'; then
    say "installing wasm-opt (npm binaryen@123) into tools/"
    npm install --prefix "$ROOT/tools" --no-audit --no-fund --loglevel=error binaryen@123 >/dev/null
  fi
  local wbg
  wbg=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' "$ROOT/Cargo.lock")
  if ! wasm-bindgen --version 2>/dev/null | grep -q "$wbg"; then
    say "installing wasm-bindgen-cli $wbg"
    cargo install wasm-bindgen-cli --version "$wbg"
  fi
}

# The end2end folder's npm packages: Playwright, axe, stripe (its webhook signing checks
# ours), and oidc-provider (the local OpenID provider that the tests and the development
# server sign in through).
ensure_npm_packages() {
  command -v npm >/dev/null || die "npm is not installed (install Node.js with npm)"
  if [ ! -d "$ROOT/end2end/node_modules/oidc-provider" ] || [ ! -d "$ROOT/end2end/node_modules/stripe" ] || [ "$ROOT/end2end/package-lock.json" -nt "$ROOT/end2end/node_modules/.package-lock.json" ]; then
    say "installing end2end npm packages"
    (cd "$ROOT/end2end" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# start_local_oidc PORT REDIRECT_URI LOG: the local OpenID provider in the background;
# waits until it answers discovery. Sets OIDC_PID.
start_local_oidc() {
  local port=$1 redirect=$2 log=$3
  OIDC_PORT=$port OIDC_REDIRECT_URI=$redirect node "$ROOT/end2end/oidc/provider.mjs" >"$log" 2>&1 &
  OIDC_PID=$!
  for _ in $(seq 1 30); do
    curl -fsS "http://127.0.0.1:$port/.well-known/openid-configuration" >/dev/null 2>&1 && return 0
    kill -0 "$OIDC_PID" 2>/dev/null || { cat "$log" >&2; die "the local OpenID provider exited during start-up"; }
    sleep 1
  done
  die "the local OpenID provider did not answer on port $port"
}

# use_local_integration PORT REDIRECT_URI LOG: the local publishing provider (an OAuth
# 2.0 server with refresh-token rotation and a small API, end2end/integrations/) in the
# background, configured as the integration `social`. Sets INTEGRATION_PID.
use_local_integration() {
  local port=$1 redirect=$2 log=$3
  INTEGRATION_PORT=$port INTEGRATION_REDIRECT_URI=$redirect node "$ROOT/end2end/integrations/provider.mjs" >"$log" 2>&1 &
  INTEGRATION_PID=$!
  for _ in $(seq 1 30); do
    curl -fsS "http://127.0.0.1:$port/test/stats" >/dev/null 2>&1 && break
    kill -0 "$INTEGRATION_PID" 2>/dev/null || { cat "$log" >&2; die "the local publishing provider exited during start-up"; }
    sleep 1
  done
  curl -fsS "http://127.0.0.1:$port/test/stats" >/dev/null 2>&1 || die "the local publishing provider did not answer on port $port"
  local base=http://127.0.0.1:$port
  export ENCLAVE_INTEGRATIONS=social ENCLAVE_INTEGRATION_SOCIAL_NAME="Test Social"
  export ENCLAVE_INTEGRATION_SOCIAL_AUTH_URL=$base/auth ENCLAVE_INTEGRATION_SOCIAL_TOKEN_URL=$base/token
  export ENCLAVE_INTEGRATION_SOCIAL_REVOKE_URL=$base/token/revocation ENCLAVE_INTEGRATION_SOCIAL_API_URL=$base/api
  export ENCLAVE_INTEGRATION_SOCIAL_CLIENT_ID=enclave-publish ENCLAVE_INTEGRATION_SOCIAL_CLIENT_SECRET=publish-client-secret
  export ENCLAVE_INTEGRATION_SOCIAL_SCOPES=publish
}

# start_llm_stub PORT LOG: the local stand-in for an OpenAI-compatible chat completions
# API (end2end/llm/stub.mjs) in the background; waits until it listens. Sets LLM_PID.
start_llm_stub() {
  local port=$1 log=$2
  LLM_PORT=$port node "$ROOT/end2end/llm/stub.mjs" >"$log" 2>&1 &
  LLM_PID=$!
  for _ in $(seq 1 30); do
    curl -fsS -X POST "http://127.0.0.1:$port/__mode" -d '{"mode":"ok"}' >/dev/null 2>&1 && return 0
    kill -0 "$LLM_PID" 2>/dev/null || { cat "$log" >&2; die "the chat completions stand-in exited during start-up"; }
    sleep 1
  done
  die "the chat completions stand-in did not answer on port $port"
}

# free_port START: the first loopback port from START up that nothing listens on.
free_port() {
  local port=$1
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
  echo "$port"
}

pg_bindir() {
  local d
  if command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ]; then
    pg_config --bindir; return
  fi
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/initdb" ] && { echo "$d"; return; }
  done
  die "PostgreSQL server binaries not found (install e.g. Debian's postgresql package)"
}

# PostgreSQL refuses to run as root; run its binaries as the postgres system user then.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# start_private_pg DIR: a private cluster with data in DIR/data, listening only on a
# unix socket in DIR/run (no TCP). Sets PG_SOCKET_DIR and ADMIN_URL.
start_private_pg() {
  local dir=$1 bin
  bin=$(pg_bindir)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  PG_SOCKET_DIR="$dir/run"
  if [ ${#PG_SOCKET_DIR} -gt 90 ]; then PG_SOCKET_DIR=$(mktemp -d /tmp/enclave-pg.XXXXXX); fi
  mkdir -p "$PG_SOCKET_DIR"
  if [ "$(id -u)" = 0 ]; then chown postgres "$dir" "$PG_SOCKET_DIR"; fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    say "initialising a private PostgreSQL cluster in $dir/data"
    as_pg "$bin/initdb" -D "$dir/data" -U enclave_admin --auth=trust --no-sync -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  fi
  if ! as_pg "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
      -o "-k $PG_SOCKET_DIR -c listen_addresses='' -p 5432 -c fsync=off -c max_connections=200" start >/dev/null \
      || { tail -20 "$dir/postgres.log" >&2; die "PostgreSQL did not start"; }
  fi
  ADMIN_URL="postgres://enclave_admin@localhost/postgres?host=$PG_SOCKET_DIR&port=5432"
  export PG_SOCKET_DIR ADMIN_URL
}

stop_private_pg() {
  local dir=$1
  as_pg "$(pg_bindir)/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
}

# ensure_pgbouncer_prepared: a pgbouncer that keeps protocol-level prepared statements
# in transaction pooling (>= 1.21, `max_prepared_statements`), which sqlx's named
# statements (underway's queries, the session store) need. Debian 12 ships 1.18, so this
# builds Debian 13's 1.24.1 from its source tarball once (checksum from Debian's Sources),
# into a cache outside the clone. Sets PGBOUNCER_BIN.
PGBOUNCER_VERSION=1.24.1
PGBOUNCER_SHA256=da72a3aba13072876d055a3e58dd4aba4a5de4ed6148e73033185245598fd3e0
ensure_pgbouncer_prepared() {
  local cache=${ENCLAVE_TOOLS_CACHE:-/var/tmp/enclave-tools}/pgbouncer-$PGBOUNCER_VERSION
  PGBOUNCER_BIN="$cache/bin/pgbouncer"
  export PGBOUNCER_BIN
  "$PGBOUNCER_BIN" --version 2>/dev/null | grep -q "$PGBOUNCER_VERSION" && return 0
  if ! pkg-config --exists libevent 2>/dev/null; then
    [ "$(id -u)" = 0 ] || die "pgbouncer $PGBOUNCER_VERSION needs libevent's headers (sudo apt-get install libevent-dev)"
    say "installing Debian package libevent-dev (to build pgbouncer $PGBOUNCER_VERSION)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libevent-dev pkg-config >/dev/null
  fi
  say "building pgbouncer $PGBOUNCER_VERSION from Debian's source (once, into $cache)"
  local src
  src=$(mktemp -d /tmp/enclave-pgbouncer.XXXXXX)
  curl -fsS -o "$src/pgbouncer.tar.gz" \
    "http://deb.debian.org/debian/pool/main/p/pgbouncer/pgbouncer_${PGBOUNCER_VERSION}.orig.tar.gz" \
    || die "cannot download pgbouncer $PGBOUNCER_VERSION's source from deb.debian.org"
  echo "$PGBOUNCER_SHA256  $src/pgbouncer.tar.gz" | sha256sum -c --quiet - || die "pgbouncer source: checksum mismatch"
  tar -xzf "$src/pgbouncer.tar.gz" -C "$src"
  # Only what a loopback test peer needs: no TLS, c-ares, PAM, systemd or LDAP.
  (cd "$src/pgbouncer-$PGBOUNCER_VERSION" && ./configure --prefix="$cache" --without-openssl --without-cares \
      --without-pam --without-systemd --without-ldap >"$src/build.log" 2>&1 && make -j2 >>"$src/build.log" 2>&1 \
      && make install >>"$src/build.log" 2>&1) \
    || { tail -30 "$src/build.log" >&2; rm -rf "$src" "$cache"; die "building pgbouncer failed"; }
  rm -rf "$src"
  "$PGBOUNCER_BIN" --version >/dev/null || die "the built pgbouncer does not run"
}

# start_pgbouncer DIR DB USER: pgbouncer $PGBOUNCER_VERSION in transaction pooling in
# front of database DB on the private cluster (PG_SOCKET_DIR), on a free loopback port;
# every client is served as USER (auth_type any: loopback only, a test peer).
# Sets PGBOUNCER_PORT, PGBOUNCER_PID.
start_pgbouncer() {
  local dir=$1 db=$2 user=$3
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
  PGBOUNCER_PORT=$(free_port 6439)
  cat >"$dir/pgbouncer.ini" <<INI
[databases]
$db = host=$PG_SOCKET_DIR port=5432 dbname=$db user=$user

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGBOUNCER_PORT
unix_socket_dir =
auth_type = any
pool_mode = transaction
max_prepared_statements = 200
default_pool_size = 20
# After a failed server login (PostgreSQL restarting) pgbouncer waits this long before it
# tries again; its default, 15 s, keeps pages at 503 long after the database is back.
server_login_retry = 1
max_client_conn = 400
server_reset_query =
ignore_startup_parameters = extra_float_digits
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$PGBOUNCER_BIN" "$dir/pgbouncer.ini" >"$dir/stderr.log" 2>&1 &
  else
    "$PGBOUNCER_BIN" "$dir/pgbouncer.ini" >"$dir/stderr.log" 2>&1 &
  fi
  local _
  # Listening first, then its pidfile: wait for both.
  for _ in $(seq 1 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PGBOUNCER_PORT") 2>/dev/null && [ -s "$dir/pgbouncer.pid" ] && break
    sleep 0.1
  done
  PGBOUNCER_PID=$(cat "$dir/pgbouncer.pid" 2>/dev/null || true)  # pgbouncer's own, not runuser's
  if [ -z "$PGBOUNCER_PID" ] || ! (exec 3<>"/dev/tcp/127.0.0.1/$PGBOUNCER_PORT") 2>/dev/null; then
    cat "$dir/stderr.log" "$dir/pgbouncer.log" >&2 2>/dev/null
    die "pgbouncer did not start"
  fi
  export PGBOUNCER_PORT PGBOUNCER_PID
}

# db_urls NAME: the owner/runtime URLs for database NAME on the private cluster.
db_urls() {
  local name=$1
  export DATABASE_ADMIN_URL="$ADMIN_URL"
  export DATABASE_OWNER_URL="postgres://${name}_owner@localhost/${name}?host=$PG_SOCKET_DIR&port=5432"
  export DATABASE_URL="postgres://${name}_app@localhost/${name}?host=$PG_SOCKET_DIR&port=5432"
}

# wait_for_app BASE LOG: waits (up to 60 s) until the server at BASE answers its sign-in
# page; otherwise prints its LOG and stops.
wait_for_app() {
  local base=$1 log=$2
  for _ in $(seq 1 120); do curl -fsS -o /dev/null "$base/sign-in" 2>/dev/null && return 0; sleep 0.5; done
  cat "$log" >&2
  die "the server did not start"
}

# demo_cookie BASE EMAIL: a signed-in session of a demo account (the development sign-in of
# the server at BASE), as a Cookie header value.
demo_cookie() {
  local base=$1 email=$2 account
  account=$(curl -fsS -X POST -H "Origin: $base" -H 'Accept: application/json' "$base/api/list_demo_accounts" \
    | python3 -c "import json,sys; a=[x for x in json.load(sys.stdin) if x['email']=='$email'][0]; print('user_id=%s&org_id=%s' % (a['user_id'], a['org_id']))")
  curl -sS -o /dev/null -D - -X POST -H "Origin: $base" -H 'Accept: application/json' \
    -H 'Content-Type: application/x-www-form-urlencoded' --data "$account" "$base/api/demo_sign_in" \
    | awk 'tolower($1) == "set-cookie:" { sub(/;.*/, "", $2); printf "%s%s", sep, $2; sep = "; " }'
}

leptos_env() {
  export LEPTOS_OUTPUT_NAME=enclave LEPTOS_SITE_ROOT="$ROOT/target/site" LEPTOS_SITE_PKG_DIR=pkg
  export LEPTOS_SITE_ADDR=${LEPTOS_SITE_ADDR:-127.0.0.1:3000} LEPTOS_RELOAD_PORT=3001
}

# start_stripe_standin PORT WEBHOOK_URL SECRET PRICES LOG: the local Stripe API stand-in
# (end2end/stripe/standin.mjs) in the background, delivering signed webhooks to WEBHOOK_URL
# (empty = record events, deliver none); PRICES as in STRIPE_STANDIN_PRICES. Waits until
# /_test/health answers. Sets STRIPE_STANDIN_PID.
start_stripe_standin() {
  local port=$1 webhook=$2 secret=$3 prices=$4 log=$5
  STRIPE_STANDIN_PORT=$port STRIPE_STANDIN_WEBHOOK_URL=$webhook STRIPE_STANDIN_WEBHOOK_SECRET=$secret \
    STRIPE_STANDIN_PRICES=$prices node "$ROOT/end2end/stripe/standin.mjs" >"$log" 2>&1 &
  STRIPE_STANDIN_PID=$!
  for _ in $(seq 1 50); do
    curl -fsS "http://127.0.0.1:$port/_test/health" >/dev/null 2>&1 && return 0
    kill -0 "$STRIPE_STANDIN_PID" 2>/dev/null || { tail -20 "$log" >&2; die "the Stripe stand-in exited during start-up"; }
    sleep 0.2
  done
  tail -20 "$log" >&2
  die "the Stripe stand-in did not answer on port $port"
}

# The plans' prices at the stand-in, and ENCLAVE_STRIPE_PRICES naming them: one list so
# development and the tests sell the same catalog.
STANDIN_PRICES="price_sme_team=Team=1500=per_seat,price_sme_business=Business=9900=flat,price_agency_studio=Studio=2500=per_seat,price_agency_scale=Scale=29900=flat"
STANDIN_PLAN_PRICES="sme_team=price_sme_team,sme_business=price_sme_business,agency_studio=price_agency_studio,agency_scale=price_agency_scale"

# use_stripe_standin PORT WEBHOOK_URL LOG: starts the stand-in and points Enclave's
# billing configuration at it (a test key; the webhook secret it signs with).
use_stripe_standin() {
  local port=$1 webhook=$2 log=$3
  export STRIPE_WEBHOOK_SECRET=${STRIPE_WEBHOOK_SECRET:-whsec_standin_development}
  start_stripe_standin "$port" "$webhook" "${STRIPE_WEBHOOK_SECRET##*,}" "$STANDIN_PRICES" "$log"
  export STRIPE_SECRET_KEY=sk_test_standin ENCLAVE_STRIPE_API_BASE=http://127.0.0.1:$port/
  export ENCLAVE_STRIPE_PRICES=$STANDIN_PLAN_PRICES
}

# Citus (scripts/test-citus, scripts/bench-citus) ----------------------------------------
# proof_sql TEXT_EXPR: SQL for the context proof of TEXT_EXPR ('user/<id>') as the server
# computes it (HMAC-SHA256 under the key row `k` of enclave.context_proof_keys), for the
# benchmarks and checks that must sign in from SQL (pgbench, psql cannot run the server).
proof_sql() {
  printf "k.key_id || '/' || encode(sha256(k.outer_pad || sha256(k.inner_pad || convert_to(%s, 'UTF8'))), 'hex')" "$1"
}

# citus_prepare: finds ../shared/citus (or CITUS_SCRIPTS), builds Citus into PostgreSQL 15
# once (build.sh is idempotent; the first build needs root), and sets BIN to the enclave
# binary (ENCLAVE_BIN, or target/debug/enclave built now so it carries every migration).
citus_prepare() {
  if [ -z "${CITUS_SCRIPTS:-}" ]; then
    local d
    for d in "$ROOT/../shared/citus" /work/shared/citus; do
      [ -x "$d/cluster.sh" ] && { CITUS_SCRIPTS=$(cd "$d" && pwd); break; }
    done
  fi
  [ -n "${CITUS_SCRIPTS:-}" ] && [ -x "$CITUS_SCRIPTS/build.sh" ] && [ -x "$CITUS_SCRIPTS/cluster.sh" ] \
    || die "no Citus build.sh/cluster.sh in ${CITUS_SCRIPTS:-../shared/citus or /work/shared/citus} (set CITUS_SCRIPTS to the folder with Citus's source, build.sh and cluster.sh)"
  export CITUS_SCRIPTS
  command -v psql >/dev/null || die "psql is not installed"
  # PostgreSQL 15's server headers include gssapi.h, which build.sh does not install.
  if [ ! -f /usr/lib/postgresql/15/lib/citus.so ] && [ ! -f /usr/include/gssapi/gssapi.h ] && [ "$(id -u)" = 0 ]; then
    say "installing libkrb5-dev (gssapi.h, needed to build Citus)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libkrb5-dev >/dev/null
  fi
  local msg
  msg=$("$CITUS_SCRIPTS/build.sh" 2>&1) \
    || die "Citus is not installed and the build failed (the first build needs root: $CITUS_SCRIPTS/build.sh): $(tail -3 <<<"$msg")"
  say "Citus: $(tail -1 <<<"$msg")"
  if [ -n "${ENCLAVE_BIN:-}" ]; then
    [ -x "$ENCLAVE_BIN" ] || die "ENCLAVE_BIN=$ENCLAVE_BIN is not an executable"
    BIN=$(cd "$(dirname "$ENCLAVE_BIN")" && pwd)/$(basename "$ENCLAVE_BIN")
  else
    say "building the enclave binary (cargo build -p enclave --bin enclave)"
    cargo build -q -p enclave --bin enclave
    BIN=$ROOT/target/debug/enclave
  fi
}

# citus_cluster_start DIR: a coordinator and two workers on three free loopback ports
# (CITUS_PORT, or the first free triple from 57432) in DIR/cluster; sets P, the
# DATABASE_*_URL variables for database `enclave`, and su_psql (superuser psql).
citus_cluster_start() {
  local dir=$1
  port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
  if [ -n "${CITUS_PORT:-}" ]; then
    P=$CITUS_PORT
  else
    P=57432
    until port_free $P && port_free $((P + 1)) && port_free $((P + 2)); do
      P=$((P + 3)); [ $P -lt 60000 ] || die "no three free ports from 57432"
    done
  fi
  say "starting a Citus cluster in $dir (ports $P, $((P + 1)), $((P + 2)))"
  "$CITUS_SCRIPTS/cluster.sh" start "$dir/cluster" "$P" >/dev/null
  export DATABASE_ADMIN_URL="postgres://postgres@127.0.0.1:$P/postgres?sslmode=disable"
  export DATABASE_OWNER_URL="postgres://enclave_owner@127.0.0.1:$P/enclave?sslmode=disable"
  export DATABASE_URL="postgres://enclave_app@127.0.0.1:$P/enclave?sslmode=disable"
  export ENCLAVE_ENV=development PGCONNECT_TIMEOUT=10
  su_psql() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$P" -U postgres -d enclave "$@"; }
}

citus_cluster_stop() {
  "$CITUS_SCRIPTS/cluster.sh" stop "$1/cluster" "$P" >/dev/null 2>&1 || true
  rm -rf "$1"
}

# citus_migrate DIR: `enclave migrate` on the coordinator before Citus is in the database.
citus_migrate() {
  local dir=$1 files recorded
  say "enclave migrate"
  (cd "$dir" && "$BIN" migrate) >"$dir/migrate.log" 2>&1 || { cat "$dir/migrate.log" >&2; die "enclave migrate failed"; }
  files=$(ls "$ROOT"/migrations/*.sql | wc -l)
  recorded=$(su_psql -At -c "SELECT count(*) FROM enclave._sqlx_migrations WHERE success")
  [ "$recorded" = "$files" ] || die "the database records $recorded migrations, the repository has $files: is $BIN older than migrations/?"
}

# citus_add DIR: the database on the workers, CREATE EXTENSION citus everywhere, workers
# registered (docs/citus/port/add_citus.sh: the operator's part of the set-up).
citus_add() {
  say "CREATE EXTENSION citus on every node (docs/citus/port/add_citus.sh)"
  "$ROOT/docs/citus/port/add_citus.sh" "$P" >"$1/add_citus.log" 2>&1 || { cat "$1/add_citus.log" >&2; die "add_citus.sh failed"; }
}

# citus_distribute DIR: `enclave migrate` again: on a Citus database it distributes.
citus_distribute() {
  local dir=$1 t=$SECONDS
  say "enclave migrate on the Citus coordinator (distributes the schema)"
  (cd "$dir" && "$BIN" migrate) >"$dir/distribute.log" 2>&1 || { cat "$dir/distribute.log" >&2; die "enclave migrate (distribution) failed"; }
  grep -q '^migrate: Citus: ' "$dir/distribute.log" || { cat "$dir/distribute.log" >&2; die "enclave migrate did not distribute on a Citus database"; }
  say "distributed in $((SECONDS - t)) s: $(sed -n 's/^migrate: Citus: //p' "$dir/distribute.log")"
}
