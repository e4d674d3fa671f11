#pragma once
// Optuna's RDB schema, as normlab writes it and checks it: the schema revisions normlab reads and
// writes (SchemaVersion, the alembic_version each is stored as), the revisions before them, and
// Optuna 3.1's DDL verbatim, for SQLite and for PostgreSQL. Its own header because it is data
// copied from Optuna, which must stay as Optuna writes it and changes only with Optuna's releases;
// sqlite_storage.hpp and postgres_storage.hpp hold the code that creates and inspects it. Needs
// neither SQLite, libpq nor LibTorch.

#include <string>

namespace normlab::study {

/// Which Optuna schema revision (alembic_version) a new file gets.
enum class SchemaVersion {
  v3_0_0_d,  ///< Optuna 3.0 and 3.1 (the notebook's Optuna)
  v3_2_0_a,  ///< Optuna 3.2 and later (adds the index ix_trials_study_id)
};

inline const char* alembic_revision(SchemaVersion v) {
  return v == SchemaVersion::v3_0_0_d ? "v3.0.0.d" : "v3.2.0.a";
}

namespace detail {

/// Optuna 3.1's DDL, verbatim as SQLAlchemy emits it (dumped from a file Optuna 3.1 created).
struct SqliteDdl {
  const char* name;
  const char* sql;
};
inline constexpr SqliteDdl kOptunaDdl[] = {
    {"studies", "CREATE TABLE studies (\n\tstudy_id INTEGER NOT NULL, \n\tstudy_name VARCHAR(512) NOT NULL, \n\tPRIMARY KEY (study_id)\n)"},
    {"ix_studies_study_name", "CREATE UNIQUE INDEX ix_studies_study_name ON studies (study_name)"},
    {"version_info", "CREATE TABLE version_info (\n\tversion_info_id INTEGER NOT NULL, \n\tschema_version INTEGER, \n\tlibrary_version VARCHAR(256), \n\tPRIMARY KEY (version_info_id), \n\tCHECK (version_info_id=1)\n)"},
    {"study_directions", "CREATE TABLE study_directions (\n\tstudy_direction_id INTEGER NOT NULL, \n\tdirection VARCHAR(8) NOT NULL, \n\tstudy_id INTEGER NOT NULL, \n\tobjective INTEGER NOT NULL, \n\tPRIMARY KEY (study_direction_id), \n\tUNIQUE (study_id, objective), \n\tFOREIGN KEY(study_id) REFERENCES studies (study_id)\n)"},
    {"study_user_attributes", "CREATE TABLE study_user_attributes (\n\tstudy_user_attribute_id INTEGER NOT NULL, \n\tstudy_id INTEGER, \n\t\"key\" VARCHAR(512), \n\tvalue_json TEXT, \n\tPRIMARY KEY (study_user_attribute_id), \n\tUNIQUE (study_id, \"key\"), \n\tFOREIGN KEY(study_id) REFERENCES studies (study_id)\n)"},
    {"study_system_attributes", "CREATE TABLE study_system_attributes (\n\tstudy_system_attribute_id INTEGER NOT NULL, \n\tstudy_id INTEGER, \n\t\"key\" VARCHAR(512), \n\tvalue_json TEXT, \n\tPRIMARY KEY (study_system_attribute_id), \n\tUNIQUE (study_id, \"key\"), \n\tFOREIGN KEY(study_id) REFERENCES studies (study_id)\n)"},
    {"trials", "CREATE TABLE trials (\n\ttrial_id INTEGER NOT NULL, \n\tnumber INTEGER, \n\tstudy_id INTEGER, \n\tstate VARCHAR(8) NOT NULL, \n\tdatetime_start DATETIME, \n\tdatetime_complete DATETIME, \n\tPRIMARY KEY (trial_id), \n\tFOREIGN KEY(study_id) REFERENCES studies (study_id)\n)"},
    {"trial_user_attributes", "CREATE TABLE trial_user_attributes (\n\ttrial_user_attribute_id INTEGER NOT NULL, \n\ttrial_id INTEGER, \n\t\"key\" VARCHAR(512), \n\tvalue_json TEXT, \n\tPRIMARY KEY (trial_user_attribute_id), \n\tUNIQUE (trial_id, \"key\"), \n\tFOREIGN KEY(trial_id) REFERENCES trials (trial_id)\n)"},
    {"trial_system_attributes", "CREATE TABLE trial_system_attributes (\n\ttrial_system_attribute_id INTEGER NOT NULL, \n\ttrial_id INTEGER, \n\t\"key\" VARCHAR(512), \n\tvalue_json TEXT, \n\tPRIMARY KEY (trial_system_attribute_id), \n\tUNIQUE (trial_id, \"key\"), \n\tFOREIGN KEY(trial_id) REFERENCES trials (trial_id)\n)"},
    {"trial_params", "CREATE TABLE trial_params (\n\tparam_id INTEGER NOT NULL, \n\ttrial_id INTEGER, \n\tparam_name VARCHAR(512), \n\tparam_value FLOAT, \n\tdistribution_json TEXT, \n\tPRIMARY KEY (param_id), \n\tUNIQUE (trial_id, param_name), \n\tFOREIGN KEY(trial_id) REFERENCES trials (trial_id)\n)"},
    {"trial_values", "CREATE TABLE trial_values (\n\ttrial_value_id INTEGER NOT NULL, \n\ttrial_id INTEGER NOT NULL, \n\tobjective INTEGER NOT NULL, \n\tvalue FLOAT, \n\tvalue_type VARCHAR(7) NOT NULL, \n\tPRIMARY KEY (trial_value_id), \n\tUNIQUE (trial_id, objective), \n\tFOREIGN KEY(trial_id) REFERENCES trials (trial_id)\n)"},
    {"trial_intermediate_values", "CREATE TABLE trial_intermediate_values (\n\ttrial_intermediate_value_id INTEGER NOT NULL, \n\ttrial_id INTEGER NOT NULL, \n\tstep INTEGER NOT NULL, \n\tintermediate_value FLOAT, \n\tintermediate_value_type VARCHAR(7) NOT NULL, \n\tPRIMARY KEY (trial_intermediate_value_id), \n\tUNIQUE (trial_id, step), \n\tFOREIGN KEY(trial_id) REFERENCES trials (trial_id)\n)"},
    {"trial_heartbeats", "CREATE TABLE trial_heartbeats (\n\ttrial_heartbeat_id INTEGER NOT NULL, \n\ttrial_id INTEGER NOT NULL, \n\theartbeat DATETIME NOT NULL, \n\tPRIMARY KEY (trial_heartbeat_id), \n\tUNIQUE (trial_id), \n\tFOREIGN KEY(trial_id) REFERENCES trials (trial_id)\n)"},
    {"alembic_version", "CREATE TABLE alembic_version (\n\tversion_num VARCHAR(32) NOT NULL, \n\tCONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)\n)"},
};
/// Optuna 3.1's schema on PostgreSQL, verbatim as SQLAlchemy 1.4 emits it there (checked against a
/// database Optuna 3.1 created with psycopg2, `pg_dump -s`): native ENUM types for the states,
/// directions and value types, SERIAL keys (each with its sequence `<table>_<column>_seq`),
/// FLOAT(53) (double precision) values and TIMESTAMP WITHOUT TIME ZONE datetimes. In creation
/// order: the types first, then the tables in foreign-key order.
inline constexpr SqliteDdl kOptunaPostgresDdl[] = {
    {"studydirection", "CREATE TYPE studydirection AS ENUM ('NOT_SET', 'MINIMIZE', 'MAXIMIZE')"},
    {"trialstate", "CREATE TYPE trialstate AS ENUM ('RUNNING', 'COMPLETE', 'PRUNED', 'FAIL', 'WAITING')"},
    {"trialvaluetype", "CREATE TYPE trialvaluetype AS ENUM ('FINITE', 'INF_POS', 'INF_NEG')"},
    {"trialintermediatevaluetype", "CREATE TYPE trialintermediatevaluetype AS ENUM ('FINITE', 'INF_POS', 'INF_NEG', 'NAN')"},
    {"studies", "CREATE TABLE studies (\n\tstudy_id SERIAL NOT NULL, \n\tstudy_name VARCHAR(512) NOT NULL, \n\tPRIMARY KEY (study_id)\n)"},
    {"ix_studies_study_name", "CREATE UNIQUE INDEX ix_studies_study_name ON studies (study_name)"},
    {"version_info", "CREATE TABLE version_info (\n\tversion_info_id INTEGER NOT NULL, \n\tschema_version INTEGER, \n\tlibrary_version VARCHAR(256), \n\tPRIMARY KEY (version_info_id), \n\tCHECK (version_info_id=1)\n)"},
    {"study_directions", "CREATE TABLE study_directions (\n\tstudy_direction_id SERIAL NOT NULL, \n\tdirection studydirection NOT NULL, \n\tstudy_id INTEGER NOT NULL, \n\tobjective INTEGER NOT NULL, \n\tPRIMARY KEY (study_direction_id), \n\tUNIQUE (study_id, objective), \n\tFOREIGN KEY(study_id) REFERENCES studies (study_id)\n)"},
    {"study_system_attributes", "CREATE TABLE study_system_attributes (\n\tstudy_system_attribute_id SERIAL NOT NULL, \n\tstudy_id INTEGER, \n\tkey VARCHAR(512), \n\tvalue_json TEXT, \n\tPRIMARY KEY (study_system_attribute_id), \n\tUNIQUE (study_id, key), \n\tFOREIGN KEY(study_id) REFERENCES studies (study_id)\n)"},
    {"study_user_attributes", "CREATE TABLE study_user_attributes (\n\tstudy_user_attribute_id SERIAL NOT NULL, \n\tstudy_id INTEGER, \n\tkey VARCHAR(512), \n\tvalue_json TEXT, \n\tPRIMARY KEY (study_user_attribute_id), \n\tUNIQUE (study_id, key), \n\tFOREIGN KEY(study_id) REFERENCES studies (study_id)\n)"},
    {"trials", "CREATE TABLE trials (\n\ttrial_id SERIAL NOT NULL, \n\tnumber INTEGER, \n\tstudy_id INTEGER, \n\tstate trialstate NOT NULL, \n\tdatetime_start TIMESTAMP WITHOUT TIME ZONE, \n\tdatetime_complete TIMESTAMP WITHOUT TIME ZONE, \n\tPRIMARY KEY (trial_id), \n\tFOREIGN KEY(study_id) REFERENCES studies (study_id)\n)"},
    {"trial_heartbeats", "CREATE TABLE trial_heartbeats (\n\ttrial_heartbeat_id SERIAL NOT NULL, \n\ttrial_id INTEGER NOT NULL, \n\theartbeat TIMESTAMP WITHOUT TIME ZONE NOT NULL, \n\tPRIMARY KEY (trial_heartbeat_id), \n\tUNIQUE (trial_id), \n\tFOREIGN KEY(trial_id) REFERENCES trials (trial_id)\n)"},
    {"trial_intermediate_values", "CREATE TABLE trial_intermediate_values (\n\ttrial_intermediate_value_id SERIAL NOT NULL, \n\ttrial_id INTEGER NOT NULL, \n\tstep INTEGER NOT NULL, \n\tintermediate_value FLOAT(53), \n\tintermediate_value_type trialintermediatevaluetype NOT NULL, \n\tPRIMARY KEY (trial_intermediate_value_id), \n\tUNIQUE (trial_id, step), \n\tFOREIGN KEY(trial_id) REFERENCES trials (trial_id)\n)"},
    {"trial_params", "CREATE TABLE trial_params (\n\tparam_id SERIAL NOT NULL, \n\ttrial_id INTEGER, \n\tparam_name VARCHAR(512), \n\tparam_value FLOAT(53), \n\tdistribution_json TEXT, \n\tPRIMARY KEY (param_id), \n\tUNIQUE (trial_id, param_name), \n\tFOREIGN KEY(trial_id) REFERENCES trials (trial_id)\n)"},
    {"trial_system_attributes", "CREATE TABLE trial_system_attributes (\n\ttrial_system_attribute_id SERIAL NOT NULL, \n\ttrial_id INTEGER, \n\tkey VARCHAR(512), \n\tvalue_json TEXT, \n\tPRIMARY KEY (trial_system_attribute_id), \n\tUNIQUE (trial_id, key), \n\tFOREIGN KEY(trial_id) REFERENCES trials (trial_id)\n)"},
    {"trial_user_attributes", "CREATE TABLE trial_user_attributes (\n\ttrial_user_attribute_id SERIAL NOT NULL, \n\ttrial_id INTEGER, \n\tkey VARCHAR(512), \n\tvalue_json TEXT, \n\tPRIMARY KEY (trial_user_attribute_id), \n\tUNIQUE (trial_id, key), \n\tFOREIGN KEY(trial_id) REFERENCES trials (trial_id)\n)"},
    {"trial_values", "CREATE TABLE trial_values (\n\ttrial_value_id SERIAL NOT NULL, \n\ttrial_id INTEGER NOT NULL, \n\tobjective INTEGER NOT NULL, \n\tvalue FLOAT(53), \n\tvalue_type trialvaluetype NOT NULL, \n\tPRIMARY KEY (trial_value_id), \n\tUNIQUE (trial_id, objective), \n\tFOREIGN KEY(trial_id) REFERENCES trials (trial_id)\n)"},
    {"alembic_version", "CREATE TABLE alembic_version (\n\tversion_num VARCHAR(32) NOT NULL, \n\tCONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)\n)"},
};
/// What `v3.2.0.a` adds (the name SQLAlchemy gives `trials.study_id` with index=True).
inline constexpr SqliteDdl kOptunaV320Index = {"ix_trials_study_id",
                                               "CREATE INDEX ix_trials_study_id ON trials (study_id)"};

/// Revisions of Optuna's alembic chain before the ones normlab reads.
inline constexpr const char* kOlderOptunaRevisions[] = {"v0.9.0.a", "v1.2.0.a", "v1.3.0.a", "v2.4.0.a", "v2.6.0.a",
                                                        "v3.0.0.a", "v3.0.0.b", "v3.0.0.c"};

/// Why a database of schema revision `revision` is refused: older ones ask for `upgrade` (the
/// `optuna storage upgrade ...` command line), unknown ones were probably written by a newer
/// Optuna. `where` names the database ("'path'", "the database at host ...").
inline std::string refused_revision_message(const std::string& where, const std::string& revision,
                                            const std::string& upgrade) {
  for (const char* older : kOlderOptunaRevisions)
    if (revision == older)
      return "normlab: " + where + " holds an Optuna study database of schema revision '" + revision +
             "', older than the ones normlab reads (v3.0.0.d: Optuna 3.0/3.1; v3.2.0.a: Optuna >= 3.2); "
             "upgrade it with `" + upgrade + "` first";
  return "normlab: " + where + " holds an Optuna study database of schema revision '" + revision +
         "', which normlab does not know (it reads v3.0.0.d: Optuna 3.0/3.1, and v3.2.0.a: Optuna >= 3.2); "
         "it was probably written by a newer Optuna";
}

}  // namespace detail

}  // namespace normlab::study
