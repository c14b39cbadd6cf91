/**
 * Function catalog: classifies a function called anywhere in a statement (select list, FROM, WHERE,
 * defaults, …) as safe (pure or read-only built-in), dangerous (a known side effect or a way around
 * statement analysis, with the reason shown in denials) or unknown (anything else: user and extension
 * functions, internal support functions, names this list does not know — the policy layer fails closed).
 *
 * Names come from the parse tree's `funcname` list, where unquoted identifiers are already folded to
 * lower case. A name that still contains upper-case letters was quoted ("Upper"), is NOT the built-in
 * of the same spelling in lower case, and is therefore never classified safe; it is still matched
 * case-insensitively against the dangerous lists, which only errs on the side of denial.
 *
 * Checked against PostgreSQL 15's pg_proc (see test/unit/function-catalog.test.ts for the rules), plus a
 * few dangerous names from older and newer releases and a few safe names of newer releases (marked).
 */

export type DangerCategory =
  | 'file-access'
  | 'large-object'
  | 'remote-connection'
  | 'query-execution'
  | 'config-change'
  | 'role-change'
  | 'backend-signal'
  | 'sequence-advance'
  | 'lock'
  | 'replication'
  | 'admin'
  | 'notify'
  | 'transaction-control'
  | 'sleep';

/** Every category, in a stable order (for policy documents, schemas and messages). */
export const DANGER_CATEGORIES: readonly DangerCategory[] = [
  'file-access',
  'large-object',
  'remote-connection',
  'query-execution',
  'config-change',
  'role-change',
  'backend-signal',
  'sequence-advance',
  'lock',
  'replication',
  'admin',
  'notify',
  'transaction-control',
  'sleep',
];

export type FunctionClass =
  { class: 'safe' } | { class: 'dangerous'; category: DangerCategory; why: string } | { class: 'unknown' };

interface DangerFamily {
  /** Shown to the person reading a denial. */
  why: string;
  /** Built-in names (pg_catalog or unqualified). */
  names: string[];
  /** Built-in name prefixes; each must not catch a safe name (checked by the unit test). */
  prefixes?: string[];
  /** Extension functions: dangerous in whatever schema the extension was installed into (usually public). */
  anySchemaNames?: string[];
  anySchemaPrefixes?: string[];
}

const DANGEROUS: Record<DangerCategory, DangerFamily> = {
  'file-access': {
    why: 'reads, lists or writes files on the database server',
    names: [
      'pg_stat_file',
      'pg_current_logfile',
      'pg_hba_file_rules',
      'pg_ident_file_mappings',
      'pg_show_all_file_settings',
    ],
    // pg_read_file, pg_read_binary_file, pg_read_file_old; pg_ls_dir, pg_ls_logdir, pg_ls_waldir, …
    prefixes: ['pg_read_', 'pg_ls_'],
    // adminpack: pg_file_write, pg_file_rename, pg_file_unlink, pg_file_sync, pg_logdir_ls
    anySchemaNames: ['pg_logdir_ls'],
    anySchemaPrefixes: ['pg_file_'],
  },
  'large-object': {
    why: 'reads or writes server-side large objects, which can also import and export server files',
    names: ['loread', 'lowrite'],
    // lo_import, lo_export, lo_open, lo_create, lo_unlink, lo_put, lo_get, lo_from_bytea, … and the lo extension
    prefixes: ['lo_'],
    anySchemaNames: ['loread', 'lowrite'],
    anySchemaPrefixes: ['lo_'],
  },
  'remote-connection': {
    why: 'opens or uses connections to other database servers, outside this proxy',
    names: [],
    // dblink, dblink_exec, dblink_connect, …; postgres_fdw_get_connections, postgres_fdw_disconnect, …
    anySchemaPrefixes: ['dblink', 'postgres_fdw_'],
  },
  'query-execution': {
    why: 'runs SQL given as text or reads whole tables/cursors by name, bypassing statement analysis',
    names: [
      'query_to_xml',
      'query_to_xml_and_xmlschema',
      'query_to_xmlschema',
      'cursor_to_xml',
      'cursor_to_xmlschema',
      'table_to_xml',
      'table_to_xml_and_xmlschema',
      'table_to_xmlschema',
      'schema_to_xml',
      'schema_to_xml_and_xmlschema',
      'schema_to_xmlschema',
      'database_to_xml',
      'database_to_xml_and_xmlschema',
      'database_to_xmlschema',
      'ts_stat', // ts_stat(query text, …)
      'ts_rewrite', // ts_rewrite(tsquery, query text); the 3-argument form is pure but shares the name
    ],
    // tablefunc: crosstab(source_sql text, …), connectby(relname text, …); xml2: xpath_table(…, relation text, …)
    anySchemaNames: ['connectby', 'xpath_table'],
    anySchemaPrefixes: ['crosstab'],
  },
  'config-change': {
    why: "changes server or session configuration (including set_config('role', …))",
    names: ['set_config', 'pg_reload_conf', 'pg_rotate_logfile', 'pg_rotate_logfile_old'],
  },
  'role-change': {
    // No built-in function changes the session identity; set_config('role'|'session_authorization', …)
    // is classified config-change. Kept so policies and messages have a stable category.
    why: 'changes the role the session acts as',
    names: [],
  },
  'backend-signal': {
    why: 'signals other server processes (cancel, terminate, dump memory contexts)',
    names: [
      'pg_cancel_backend',
      'pg_terminate_backend',
      'pg_signal_backend',
      'pg_log_backend_memory_contexts',
    ],
  },
  'sequence-advance': {
    why: 'advances or sets a sequence, a write that is never rolled back',
    names: ['nextval', 'setval'],
  },
  lock: {
    why: 'takes or releases advisory locks, which can block other sessions',
    names: [],
    prefixes: ['pg_advisory_', 'pg_try_advisory_'],
  },
  replication: {
    why: 'changes replication, WAL or backup state of the server',
    names: [
      'pg_create_physical_replication_slot',
      'pg_create_logical_replication_slot',
      'pg_copy_physical_replication_slot',
      'pg_copy_logical_replication_slot',
      'pg_drop_replication_slot',
      'pg_replication_slot_advance',
      'pg_sync_replication_slots', // 17
      'pg_logical_emit_message',
      'pg_log_standby_snapshot', // 16
      'pg_promote',
      'pg_switch_wal',
      'pg_switch_xlog', // ≤ 9.6
      'pg_create_restore_point',
      'pg_backup_start',
      'pg_backup_stop',
      'pg_start_backup', // ≤ 14
      'pg_stop_backup', // ≤ 14
    ],
    // pg_logical_slot_get_changes/peek_…; pg_replication_origin_create/drop/advance/session_setup/…;
    // pg_wal_replay_pause/resume; pg_xlog_replay_pause/resume (≤ 9.6)
    prefixes: ['pg_logical_slot_', 'pg_replication_origin_', 'pg_wal_replay_', 'pg_xlog_replay_'],
  },
  admin: {
    why: 'modifies server state (statistics, indexes, catalogs, buffers or tables) outside normal writes',
    names: [
      'pg_stat_statements_reset',
      'brin_summarize_new_values',
      'brin_summarize_range',
      'brin_desummarize_range',
      'gin_clean_pending_list',
      'pg_import_system_collations',
      'pg_extension_config_dump',
      'pg_nextoid',
      'pg_stop_making_pinned_objects',
      // 17/18: planner statistics setters
      'pg_set_relation_stats',
      'pg_clear_relation_stats',
      'pg_set_attribute_stats',
      'pg_clear_attribute_stats',
      'pg_restore_relation_stats',
      'pg_restore_attribute_stats',
    ],
    // pg_stat_reset, pg_stat_reset_shared, pg_stat_reset_single_table_counters, …; binary_upgrade_set_next_…
    prefixes: ['pg_stat_reset', 'binary_upgrade_'],
    anySchemaNames: [
      'pg_stat_statements_reset', // pg_stat_statements
      'pg_prewarm', // pg_prewarm
      'autoprewarm_dump_now',
      'autoprewarm_start_worker',
      'heap_force_kill', // pg_surgery
      'heap_force_freeze',
      'pg_truncate_visibility_map', // pg_visibility
    ],
    anySchemaPrefixes: ['pg_buffercache_evict'], // pg_buffercache 17+
  },
  notify: {
    why: 'sends a notification to listening sessions',
    names: ['pg_notify'],
  },
  'transaction-control': {
    why: 'exports a snapshot for other sessions to import, a file the server keeps while the transaction lasts',
    names: ['pg_export_snapshot'],
  },
  sleep: {
    why: 'sleeps, holding a connection and any locks for as long as asked',
    names: ['pg_sleep', 'pg_sleep_for', 'pg_sleep_until'],
  },
};

/** Whitespace-separated names, so the lists stay compact. */
const words = (text: string): string[] => text.trim().split(/\s+/);

/** Pure or read-only built-ins (pg_catalog) that people, psql, pg_dump and GUI tools really call. */
const SAFE = new Set<string>([
  // --- strings ---
  ...words(`
    lower upper initcap length char_length character_length octet_length bit_length textlen substr
    substring left right lpad rpad ltrim rtrim btrim replace translate reverse repeat split_part
    strpos position overlay concat concat_ws format quote_ident quote_literal quote_nullable md5
    sha224 sha256 sha384 sha512 encode decode to_hex ascii chr starts_with string_to_array
    string_to_table array_to_string convert convert_from convert_to to_ascii normalize is_normalized
    unistr parse_ident like notlike like_escape similar_escape similar_to_escape get_bit get_byte
    set_bit set_byte bit_count regexp_match regexp_matches regexp_replace regexp_split_to_array
    regexp_split_to_table regexp_like regexp_count regexp_instr regexp_substr
  `),
  // --- math ---
  ...words(`
    abs ceil ceiling floor round trunc sqrt cbrt power pow exp ln log log10 mod div sign pi degrees
    radians factorial gcd lcm scale min_scale trim_scale width_bucket random setseed sin cos tan cot
    asin acos atan atan2 sind cosd tand cotd asind acosd atand atan2d sinh cosh tanh asinh acosh
    atanh
  `),
  // --- date / time ---
  ...words(`
    now clock_timestamp statement_timestamp transaction_timestamp timeofday date_trunc date_part
    extract date_bin age make_date make_time make_timestamp make_timestamptz make_interval to_char
    to_date to_timestamp to_number justify_days justify_hours justify_interval isfinite timezone
    overlaps pg_timezone_names pg_timezone_abbrevs
  `),
  // --- type conversion functions ---
  ...words(`
    text varchar bpchar char name int2 int4 int8 float4 float8 numeric money bool bit varbit oid xid
    date time timetz timestamp timestamptz interval xml regclass pg_lsn
  `),
  // --- aggregates ---
  ...words(`
    count sum avg min max bool_and bool_or every array_agg string_agg json_agg jsonb_agg
    json_object_agg jsonb_object_agg xmlagg bit_and bit_or bit_xor stddev stddev_pop stddev_samp
    variance var_pop var_samp corr covar_pop covar_samp regr_avgx regr_avgy regr_count
    regr_intercept regr_r2 regr_slope regr_sxx regr_sxy regr_syy percentile_cont percentile_disc
    mode range_agg range_intersect_agg
  `),
  // --- window functions (rank … cume_dist are also hypothetical-set aggregates) ---
  ...words(`
    row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value last_value
    nth_value
  `),
  // --- json / jsonb ---
  ...words(`
    to_json to_jsonb row_to_json array_to_json json_build_object jsonb_build_object json_build_array
    jsonb_build_array json_object jsonb_object json_array_length jsonb_array_length json_each
    json_each_text jsonb_each jsonb_each_text json_extract_path json_extract_path_text
    jsonb_extract_path jsonb_extract_path_text json_object_field json_object_field_text
    json_object_keys jsonb_object_keys json_populate_record json_populate_recordset
    jsonb_populate_record jsonb_populate_recordset json_to_record json_to_recordset jsonb_to_record
    jsonb_to_recordset json_array_elements json_array_elements_text jsonb_array_elements
    jsonb_array_elements_text json_typeof jsonb_typeof json_strip_nulls jsonb_strip_nulls jsonb_set
    jsonb_set_lax jsonb_insert jsonb_pretty jsonb_concat jsonb_contains jsonb_contained jsonb_delete
    jsonb_delete_path jsonb_exists jsonb_exists_any jsonb_exists_all jsonb_path_exists
    jsonb_path_exists_tz jsonb_path_match jsonb_path_match_tz jsonb_path_query jsonb_path_query_tz
    jsonb_path_query_array jsonb_path_query_array_tz jsonb_path_query_first
    jsonb_path_query_first_tz
  `),
  // --- full text search ---
  ...words(`
    to_tsvector to_tsquery plainto_tsquery phraseto_tsquery websearch_to_tsquery ts_rank ts_rank_cd
    ts_headline setweight strip numnode querytree tsquery_phrase tsvector_to_array array_to_tsvector
    json_to_tsvector jsonb_to_tsvector ts_delete ts_filter ts_debug ts_parse ts_lexize ts_token_type
    get_current_ts_config
  `),
  // --- xml (pure; the *_to_xml family runs queries and is dangerous) ---
  ...words(`
    xmlcomment xmlconcat2 xmlexists xpath xpath_exists xml_is_well_formed xml_is_well_formed_content
    xml_is_well_formed_document
  `),
  // --- arrays ---
  ...words(`
    array_length array_lower array_upper array_dims array_ndims cardinality array_append
    array_prepend array_cat array_position array_positions array_remove array_replace array_fill
    trim_array unnest generate_series generate_subscripts
  `),
  // --- ranges, enums, geometry, network ---
  ...words(`
    lower_inc upper_inc lower_inf upper_inf isempty range_merge int4range int8range numrange tsrange
    tstzrange daterange int4multirange int8multirange nummultirange tsmultirange tstzmultirange
    datemultirange multirange enum_first enum_last enum_range area center diameter height width
    radius npoints isclosed isopen pclose popen point box circle line lseg path polygon bound_box
    diagonal slope ishorizontal isvertical isparallel isperp abbrev broadcast family host hostmask
    inet_merge inet_same_family masklen netmask network set_masklen cidr macaddr macaddr8
    macaddr8_set7bit cash_words
  `),
  // --- conditional, type and misc helpers (coalesce … least parse as CoalesceExpr/MinMaxExpr: harmless) ---
  ...words(`
    coalesce nullif greatest least pg_typeof format_type num_nonnulls num_nulls pg_collation_for gen_random_uuid
    satisfies_hash_partition
  `),
  // --- session and server information ---
  ...words(`
    current_user session_user current_database current_schema current_schemas current_setting
    current_query getpgusername getdatabaseencoding pg_client_encoding version inet_client_addr
    inet_client_port inet_server_addr inet_server_port pg_backend_pid pg_postmaster_start_time
    pg_conf_load_time pg_is_in_recovery pg_jit_available pg_trigger_depth pg_my_temp_schema
    pg_is_other_temp_schema pg_listening_channels pg_notification_queue_usage pg_blocking_pids
    pg_safe_snapshot_blocking_pids pg_show_all_settings pg_settings_get_flags pg_config
    pg_control_checkpoint pg_control_init pg_control_recovery pg_control_system
    pg_available_extensions pg_available_extension_versions pg_extension_update_paths pg_cursor
    pg_prepared_statement pg_prepared_xact pg_lock_status pg_get_backend_memory_contexts
    pg_get_shmem_allocations pg_get_replication_slots pg_show_replication_origin_status
    pg_get_wal_resource_managers
  `),
  // --- WAL / recovery position (reads) ---
  ...words(`
    pg_current_wal_lsn pg_current_wal_insert_lsn pg_current_wal_flush_lsn pg_last_wal_receive_lsn
    pg_last_wal_replay_lsn pg_last_xact_replay_timestamp pg_is_wal_replay_paused
    pg_get_wal_replay_pause_state pg_wal_lsn_diff pg_walfile_name pg_walfile_name_offset
  `),
  // --- transactions and snapshots. txid_current / pg_current_xact_id assign the transaction an id if it
  // has none: the server allows that in a read-only transaction, changes no data, and DataGrip calls it
  // on every connection. ---
  ...words(`
    txid_current pg_current_xact_id txid_current_if_assigned pg_current_xact_id_if_assigned txid_current_snapshot
    pg_current_snapshot txid_snapshot_xip txid_snapshot_xmin txid_snapshot_xmax
    txid_visible_in_snapshot txid_status pg_snapshot_xip pg_snapshot_xmin pg_snapshot_xmax
    pg_visible_in_snapshot pg_xact_status pg_xact_commit_timestamp pg_xact_commit_timestamp_origin
    pg_last_committed_xact pg_get_multixact_members mxid_age
  `),
  // --- sequences (reads; nextval/setval are dangerous) ---
  ...words(`currval lastval pg_sequence_last_value pg_sequence_parameters pg_get_serial_sequence`),
  // --- catalog introspection (psql \d…, pg_dump, ORMs, GUI tools) ---
  ...words(`
    pg_get_userbyid pg_get_expr pg_get_indexdef pg_get_constraintdef pg_get_triggerdef
    pg_get_viewdef pg_get_ruledef pg_get_functiondef pg_get_function_arguments
    pg_get_function_identity_arguments pg_get_function_result pg_get_function_arg_default
    pg_get_function_sqlbody pg_get_statisticsobjdef pg_get_statisticsobjdef_columns
    pg_get_statisticsobjdef_expressions pg_get_partkeydef pg_get_partition_constraintdef
    pg_get_keywords pg_get_replica_identity_index pg_get_publication_tables
    pg_get_catalog_foreign_keys pg_get_object_address pg_describe_object pg_identify_object
    pg_identify_object_as_address pg_options_to_table pg_tablespace_location pg_tablespace_databases
    pg_partition_tree pg_partition_root pg_partition_ancestors pg_relation_is_publishable
    pg_relation_is_updatable pg_column_is_updatable pg_index_column_has_property
    pg_index_has_property pg_indexam_has_property pg_indexam_progress_phasename pg_mcv_list_items
    pg_collation_actual_version pg_database_collation_actual_version pg_encoding_to_char
    pg_char_to_encoding pg_encoding_max_length oidvectortypes obj_description col_description
    shobj_description acldefault aclexplode makeaclitem row_security_active pg_filenode_relation
    pg_relation_filenode pg_relation_filepath pg_table_is_visible pg_type_is_visible
    pg_function_is_visible pg_operator_is_visible pg_opclass_is_visible pg_opfamily_is_visible
    pg_collation_is_visible pg_conversion_is_visible pg_statistics_obj_is_visible
    pg_ts_parser_is_visible pg_ts_dict_is_visible pg_ts_template_is_visible pg_ts_config_is_visible
    to_regclass to_regtype to_regproc to_regprocedure to_regnamespace to_regrole to_regoper
    to_regoperator to_regcollation
  `),
  // --- sizes ---
  ...words(`
    pg_size_pretty pg_size_bytes pg_relation_size pg_total_relation_size pg_table_size
    pg_indexes_size pg_database_size pg_tablespace_size pg_column_size pg_column_compression
  `),
  // --- privileges ---
  ...words(`
    has_table_privilege has_schema_privilege has_database_privilege has_function_privilege
    has_column_privilege has_any_column_privilege has_sequence_privilege has_tablespace_privilege
    has_type_privilege has_language_privilege has_foreign_data_wrapper_privilege
    has_server_privilege has_parameter_privilege pg_has_role
  `),
  // --- statistics (plus every pg_stat_get_* by prefix, below) ---
  ...words(`pg_stat_have_stats`),
  // --- newer releases (not in 15; all pure) ---
  ...words(`
    system_user any_value pg_input_is_valid pg_input_error_info random_normal array_sample
    array_shuffle date_add date_subtract erf erfc to_bin to_oct uuid_extract_timestamp
    uuid_extract_version uuidv4 uuidv7 casefold array_reverse array_sort crc32 crc32c pg_basetype
  `),
]);

/** Read-only statistics accessors: pg_stat_get_activity, pg_stat_get_numscans, … */
const SAFE_PREFIXES = ['pg_stat_get_'];

/** information_schema's own helper functions (read-only). */
const INFORMATION_SCHEMA_SAFE = new Set<string>([
  '_pg_char_max_length',
  '_pg_char_octet_length',
  '_pg_datetime_precision',
  '_pg_expandarray',
  '_pg_index_position',
  '_pg_interval_type',
  '_pg_numeric_precision',
  '_pg_numeric_precision_radix',
  '_pg_numeric_scale',
  '_pg_truetypid',
  '_pg_truetypmod',
]);

/** Every safe name (pg_catalog built-ins, lower case); exported for tests and documentation. */
export const SAFE_FUNCTIONS: ReadonlySet<string> = SAFE;

interface Matcher {
  exact: Map<string, DangerCategory>;
  prefixes: [string, DangerCategory][];
}

function buildMatchers(): { builtin: Matcher; anySchema: Matcher } {
  const builtin: Matcher = { exact: new Map(), prefixes: [] };
  const anySchema: Matcher = { exact: new Map(), prefixes: [] };
  for (const [category, family] of Object.entries(DANGEROUS) as [DangerCategory, DangerFamily][]) {
    for (const n of [...family.names, ...(family.anySchemaNames ?? [])]) builtin.exact.set(n, category);
    for (const p of [...(family.prefixes ?? []), ...(family.anySchemaPrefixes ?? [])])
      builtin.prefixes.push([p, category]);
    for (const n of family.anySchemaNames ?? []) anySchema.exact.set(n, category);
    for (const p of family.anySchemaPrefixes ?? []) anySchema.prefixes.push([p, category]);
  }
  return { builtin, anySchema };
}

const MATCHERS = buildMatchers();

function dangerIn(m: Matcher, name: string): DangerCategory | undefined {
  return m.exact.get(name) ?? m.prefixes.find(([p]) => name.startsWith(p))?.[1];
}

/** Classifies a function by (optionally schema-qualified) name as the parse tree gives it (funcname list). */
export function classifyFunction(name: string, schema?: string): FunctionClass {
  const lowerName = name.toLowerCase();
  const builtin = schema === undefined || schema.toLowerCase() === 'pg_catalog';
  const category = dangerIn(builtin ? MATCHERS.builtin : MATCHERS.anySchema, lowerName);
  if (category) return { class: 'dangerous', category, why: DANGEROUS[category].why };
  // Safe only for exactly-spelled built-ins: a quoted "Upper" or "PG_CATALOG" is not the built-in.
  if (schema === undefined || schema === 'pg_catalog') {
    if (SAFE.has(name) || SAFE_PREFIXES.some((p) => name.startsWith(p))) return { class: 'safe' };
  } else if (schema === 'information_schema' && INFORMATION_SCHEMA_SAFE.has(name)) {
    return { class: 'safe' };
  }
  return { class: 'unknown' };
}
