#!/usr/bin/env bash
# Starts the database servers the tests need, waits until each answers, and makes the one
# change to their configuration the tests rely on: a password-checked PostgreSQL role, so
# "wrong password" can be told apart (the local cluster trusts everyone else).
set -euo pipefail

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start || true
fi
if ! mariadb-admin -h 127.0.0.1 -uroot ping >/dev/null 2>&1; then
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
fi

for i in $(seq 1 60); do
  pg_isready -q -h 127.0.0.1 -p 5432 && break
  [ "$i" = 60 ] && { echo "PostgreSQL did not start" >&2; exit 1; }
  sleep 1
done
for i in $(seq 1 60); do
  mariadb-admin -h 127.0.0.1 -uroot ping >/dev/null 2>&1 && break
  [ "$i" = 60 ] && { echo "MariaDB did not start" >&2; exit 1; }
  sleep 1
done

hba=$(psql -h 127.0.0.1 -U postgres -tAc 'SHOW hba_file')
rule='host all osy_pw_user 127.0.0.1/32 scram-sha-256'
if ! grep -qF "$rule" "$hba"; then
  # The rule must come before the catch-all trust lines to take effect.
  sed -i "1i $rule" "$hba"
  psql -h 127.0.0.1 -U postgres -tAc 'SELECT pg_reload_conf()' >/dev/null
fi
psql -h 127.0.0.1 -U postgres -d test -tAc "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'osy_pw_user') THEN CREATE ROLE osy_pw_user LOGIN PASSWORD 'right-password'; END IF; END \$\$" >/dev/null
echo "services ready: PostgreSQL $(psql -h 127.0.0.1 -U postgres -tAc 'SHOW server_version'), MariaDB $(mariadb -h 127.0.0.1 -uroot -N -e 'SELECT VERSION()')"
