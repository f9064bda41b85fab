-- One database per service: a service owns its tables and never reads another's.
-- Runs once, when the postgres container initialises an empty data volume.
CREATE DATABASE claimflow_intake;
CREATE DATABASE claimflow_coding;
CREATE DATABASE claimflow_claims;
CREATE DATABASE claimflow_remittance;
