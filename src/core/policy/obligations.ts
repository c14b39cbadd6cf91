/**
 * What an allowed statement must keep to. In a module of its own (no Node imports): the decisions the
 * webviews show carry it.
 */
export interface Obligations {
  maxRows?: number;
  /** What happens past maxRows: cut the result with a notice (default) or fail the statement. */
  onExceed?: 'truncate' | 'error';
  /** Statement timeout, e.g. "30s", "2m", "500ms". */
  statementTimeout?: string;
}
