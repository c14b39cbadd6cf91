import assert from 'node:assert/strict';
import {
  classifyFunction,
  DANGER_CATEGORIES,
  SAFE_FUNCTIONS,
  type DangerCategory,
} from '../../src/core/sql/function-catalog';

type Expected = 'safe' | 'unknown' | DangerCategory;

/** [name, schema, expected class or danger category] */
const CASES: Array<[string, string | undefined, Expected]> = [
  // file-access
  ['pg_read_file', undefined, 'file-access'],
  ['pg_read_file', 'pg_catalog', 'file-access'],
  ['pg_read_binary_file', undefined, 'file-access'],
  ['pg_ls_dir', undefined, 'file-access'],
  ['pg_ls_waldir', 'pg_catalog', 'file-access'],
  ['pg_ls_tmpdir', undefined, 'file-access'],
  ['pg_stat_file', undefined, 'file-access'],
  ['pg_current_logfile', undefined, 'file-access'],
  ['pg_hba_file_rules', undefined, 'file-access'],
  ['pg_file_write', undefined, 'file-access'],
  ['pg_file_write', 'public', 'file-access'],
  ['pg_logdir_ls', 'admin', 'file-access'],
  // large-object
  ['lo_import', undefined, 'large-object'],
  ['lo_export', 'pg_catalog', 'large-object'],
  ['lo_from_bytea', undefined, 'large-object'],
  ['lo_get', undefined, 'large-object'],
  ['lo_unlink', undefined, 'large-object'],
  ['loread', undefined, 'large-object'],
  ['lowrite', undefined, 'large-object'],
  ['lo_import', 'public', 'large-object'],
  ['lo_manage', 'public', 'large-object'],
  // remote-connection
  ['dblink', undefined, 'remote-connection'],
  ['dblink', 'public', 'remote-connection'],
  ['dblink_exec', 'ext', 'remote-connection'],
  ['dblink_connect_u', undefined, 'remote-connection'],
  ['postgres_fdw_get_connections', 'public', 'remote-connection'],
  ['postgres_fdw_disconnect_all', undefined, 'remote-connection'],
  // query-execution
  ['query_to_xml', undefined, 'query-execution'],
  ['query_to_xml_and_xmlschema', 'pg_catalog', 'query-execution'],
  ['cursor_to_xml', undefined, 'query-execution'],
  ['table_to_xml', undefined, 'query-execution'],
  ['schema_to_xml', undefined, 'query-execution'],
  ['database_to_xml', undefined, 'query-execution'],
  ['ts_stat', undefined, 'query-execution'],
  ['ts_rewrite', undefined, 'query-execution'],
  ['crosstab', 'public', 'query-execution'],
  ['crosstab3', undefined, 'query-execution'],
  ['connectby', 'public', 'query-execution'],
  ['xpath_table', 'public', 'query-execution'],
  // config-change
  ['set_config', undefined, 'config-change'],
  ['set_config', 'pg_catalog', 'config-change'],
  ['pg_reload_conf', undefined, 'config-change'],
  ['pg_rotate_logfile', undefined, 'config-change'],
  // backend-signal
  ['pg_cancel_backend', undefined, 'backend-signal'],
  ['pg_terminate_backend', 'pg_catalog', 'backend-signal'],
  ['pg_log_backend_memory_contexts', undefined, 'backend-signal'],
  // sequence-advance
  ['nextval', undefined, 'sequence-advance'],
  ['setval', 'pg_catalog', 'sequence-advance'],
  // lock
  ['pg_advisory_lock', undefined, 'lock'],
  ['pg_advisory_xact_lock_shared', undefined, 'lock'],
  ['pg_try_advisory_lock', undefined, 'lock'],
  ['pg_advisory_unlock_all', undefined, 'lock'],
  // replication
  ['pg_create_logical_replication_slot', undefined, 'replication'],
  ['pg_drop_replication_slot', undefined, 'replication'],
  ['pg_logical_slot_get_changes', undefined, 'replication'],
  ['pg_replication_origin_create', undefined, 'replication'],
  ['pg_promote', undefined, 'replication'],
  ['pg_wal_replay_pause', undefined, 'replication'],
  ['pg_switch_wal', undefined, 'replication'],
  ['pg_create_restore_point', undefined, 'replication'],
  ['pg_backup_start', undefined, 'replication'],
  ['pg_start_backup', undefined, 'replication'],
  ['pg_logical_emit_message', undefined, 'replication'],
  // admin
  ['pg_stat_reset', undefined, 'admin'],
  ['pg_stat_reset_shared', undefined, 'admin'],
  ['pg_stat_statements_reset', undefined, 'admin'],
  ['pg_stat_statements_reset', 'public', 'admin'],
  ['brin_summarize_new_values', undefined, 'admin'],
  ['gin_clean_pending_list', undefined, 'admin'],
  ['pg_import_system_collations', undefined, 'admin'],
  ['binary_upgrade_set_next_pg_type_oid', undefined, 'admin'],
  ['pg_prewarm', 'public', 'admin'],
  ['heap_force_kill', 'public', 'admin'],
  // notify
  ['pg_notify', undefined, 'notify'],
  // transaction-control
  ['pg_export_snapshot', undefined, 'transaction-control'],
  // sleep
  ['pg_sleep', undefined, 'sleep'],
  ['pg_sleep_for', undefined, 'sleep'],
  ['pg_sleep_until', 'pg_catalog', 'sleep'],

  // safe built-ins, qualified or not
  ['upper', undefined, 'safe'],
  ['upper', 'pg_catalog', 'safe'],
  ['count', undefined, 'safe'],
  ['extract', 'pg_catalog', 'safe'],
  ['btrim', 'pg_catalog', 'safe'],
  ['jsonb_path_query', undefined, 'safe'],
  ['row_number', undefined, 'safe'],
  ['generate_series', undefined, 'safe'],
  ['current_setting', undefined, 'safe'],
  ['pg_stat_get_numscans', 'pg_catalog', 'safe'],
  ['pg_stat_get_activity', undefined, 'safe'],
  ['txid_current_snapshot', undefined, 'safe'],
  ['pg_current_xact_id_if_assigned', undefined, 'safe'],
  // assign the transaction an id if it has none (DataGrip's connection prologue): no data changes
  ['txid_current', undefined, 'safe'],
  ['pg_current_xact_id', 'pg_catalog', 'safe'],
  ['txid_current_if_assigned', 'pg_catalog', 'safe'],
  ['currval', undefined, 'safe'],
  ['pg_sequence_last_value', undefined, 'safe'],
  ['xpath', undefined, 'safe'],
  ['gen_random_uuid', undefined, 'safe'],
  // prefixes must not catch safe names
  ['lower', undefined, 'safe'],
  ['log', undefined, 'safe'],
  ['log10', undefined, 'safe'],
  ['lpad', undefined, 'safe'],
  ['lower_inc', undefined, 'safe'],
  ['pg_stat_have_stats', undefined, 'safe'],
  ['pg_is_wal_replay_paused', undefined, 'safe'],
  ['pg_lock_status', undefined, 'safe'],
  ['pg_relation_size', undefined, 'safe'],

  // case: unquoted names arrive folded; a name still in upper case was quoted and is not the built-in
  ['UPPER', undefined, 'unknown'],
  ['Lower', 'pg_catalog', 'unknown'],
  ['PG_READ_FILE', undefined, 'file-access'],
  ['DbLink', 'public', 'remote-connection'],
  ['upper', 'PG_CATALOG', 'unknown'],
  ['pg_sleep', 'PG_CATALOG', 'sleep'],

  // schemas: other schemas hold user functions, except information_schema helpers and known extensions
  ['upper', 'public', 'unknown'],
  ['count', 'myapp', 'unknown'],
  ['pg_read_file', 'public', 'unknown'],
  ['nextval', 'myapp', 'unknown'],
  ['_pg_expandarray', 'information_schema', 'safe'],
  ['_pg_char_max_length', 'information_schema', 'safe'],
  ['_pg_expandarray', undefined, 'unknown'],
  ['my_helper', 'information_schema', 'unknown'],
  ['upper', 'information_schema', 'unknown'],
  ['dblink', 'information_schema', 'remote-connection'],
  ['upper', '', 'unknown'],
  ['upper', 'pg_temp', 'unknown'],

  // unknown: user, extension and internal functions
  ['my_function', undefined, 'unknown'],
  ['get_raw_page', 'public', 'unknown'],
  ['pgstattuple', undefined, 'unknown'],
  ['uuid_generate_v4', undefined, 'unknown'],
  ['int4pl', undefined, 'unknown'],
  ['textin', undefined, 'unknown'],
  ['plpgsql_inline_handler', undefined, 'unknown'],
  ['currtid2', undefined, 'unknown'],
  ['pg_stat_clear_snapshot', undefined, 'unknown'],
  ['', undefined, 'unknown'],
];

/** Every function psql 15's \d-family (-E output, against a 15 server) and pg_dump's introspection call. */
const PSQL_AND_PG_DUMP = [
  'acldefault',
  'array_agg',
  'array_remove',
  'array_to_string',
  'array_upper',
  'btrim',
  'col_description',
  'current_database',
  'current_schemas',
  'current_setting',
  'format',
  'format_type',
  'generate_series',
  'getdatabaseencoding',
  'has_database_privilege',
  'lower',
  'obj_description',
  'pg_char_to_encoding',
  'pg_collation_is_visible',
  'pg_conversion_is_visible',
  'pg_database_size',
  'pg_describe_object',
  'pg_encoding_to_char',
  'pg_function_is_visible',
  'pg_get_constraintdef',
  'pg_get_expr',
  'pg_get_function_arguments',
  'pg_get_function_identity_arguments',
  'pg_get_function_result',
  'pg_get_function_sqlbody',
  'pg_get_functiondef',
  'pg_get_indexdef',
  'pg_get_partition_constraintdef',
  'pg_get_partkeydef',
  'pg_get_ruledef',
  'pg_get_statisticsobjdef',
  'pg_get_statisticsobjdef_columns',
  'pg_get_triggerdef',
  'pg_get_userbyid',
  'pg_get_viewdef',
  'pg_is_in_recovery',
  'pg_opclass_is_visible',
  'pg_operator_is_visible',
  'pg_opfamily_is_visible',
  'pg_options_to_table',
  'pg_partition_ancestors',
  'pg_partition_tree',
  'pg_relation_is_publishable',
  'pg_size_pretty',
  'pg_statistics_obj_is_visible',
  'pg_table_is_visible',
  'pg_table_size',
  'pg_tablespace_location',
  'pg_tablespace_size',
  'pg_ts_config_is_visible',
  'pg_ts_dict_is_visible',
  'pg_ts_parser_is_visible',
  'pg_ts_template_is_visible',
  'pg_type_is_visible',
  'quote_ident',
  'quote_literal',
  'rtrim',
  'shobj_description',
  'string_agg',
  'sum',
  'ts_token_type',
  'unnest',
];

describe('function catalog', () => {
  for (const [name, schema, expected] of CASES) {
    const label = `${schema === undefined ? '' : `${JSON.stringify(schema)}.`}${JSON.stringify(name)} → ${expected}`;
    it(label, () => {
      const got = classifyFunction(name, schema);
      if (expected === 'safe' || expected === 'unknown') {
        assert.deepEqual(got, { class: expected });
      } else {
        assert.equal(got.class, 'dangerous', JSON.stringify(got));
        if (got.class !== 'dangerous') return;
        assert.equal(got.category, expected);
        assert.ok(got.why.length > 10, 'a reason a person can read');
      }
    });
  }

  it('has a test case for every category with built-in members', () => {
    const covered = new Set(CASES.map(([, , e]) => e));
    // role-change: no built-in function changes the session identity (set_config('role', …) is config-change)
    assert.deepEqual(
      DANGER_CATEGORIES.filter((c) => !covered.has(c)),
      ['role-change'],
    );
  });

  it('gives each category its own reason', () => {
    const whys = new Map<string, string>();
    for (const [name, schema, expected] of CASES) {
      const got = classifyFunction(name, schema);
      if (got.class === 'dangerous') {
        assert.equal(got.category, expected);
        assert.equal(whys.get(got.category) ?? got.why, got.why);
        whys.set(got.category, got.why);
      }
    }
    assert.equal(new Set(whys.values()).size, whys.size);
  });

  it('classifies every safe name as safe, unqualified and in pg_catalog (no prefix collisions)', () => {
    assert.ok(SAFE_FUNCTIONS.size > 500);
    const wrong = [...SAFE_FUNCTIONS].filter(
      (n) =>
        n !== n.toLowerCase() ||
        classifyFunction(n).class !== 'safe' ||
        classifyFunction(n, 'pg_catalog').class !== 'safe',
    );
    assert.deepEqual(wrong, []);
  });

  it('classifies every function psql \\d commands and pg_dump introspection call as safe', () => {
    const notSafe = PSQL_AND_PG_DUMP.filter((n) => classifyFunction(n, 'pg_catalog').class !== 'safe');
    assert.deepEqual(notSafe, []);
  });
});
