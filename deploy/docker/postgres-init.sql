-- One database and one login role per service: no service can read another's tables
-- ("each partner's data store separate"). Each role owns its database, hence its `public` schema
-- (PostgreSQL 15+ no longer lets every role create there), so `python -m <service> migrate` can
-- create the tables; nobody else may even connect to it.
--
-- Run once by the postgres image (/docker-entrypoint-initdb.d), as the superuser, on the first
-- start with an empty data volume; `docker compose down -v` starts over.
-- Development passwords: they must match the <PREFIX>_DATABASE_URL values of docker-compose.yml
-- (tests/contract/test_docker_compose.py checks that they do).

CREATE ROLE referral_app WITH LOGIN PASSWORD 'referral-dev-password';
CREATE DATABASE referral OWNER referral_app;
REVOKE ALL ON DATABASE referral FROM PUBLIC;

CREATE ROLE dispositifs_app WITH LOGIN PASSWORD 'dispositifs-dev-password';
CREATE DATABASE dispositifs OWNER dispositifs_app;
REVOKE ALL ON DATABASE dispositifs FROM PUBLIC;

CREATE ROLE notifications_app WITH LOGIN PASSWORD 'notifications-dev-password';
CREATE DATABASE notifications OWNER notifications_app;
REVOKE ALL ON DATABASE notifications FROM PUBLIC;
