/** SQLSTATE codes the proxy itself raises. */
export const SqlState = {
  protocolViolation: '08P01',
  connectionFailure: '08006',
  sqlclientUnableToEstablish: '08001',
  invalidPassword: '28P01',
  invalidAuthorization: '28000',
  invalidCatalogName: '3D000',
  insufficientPrivilege: '42501',
  featureNotSupported: '0A000',
  programLimitExceeded: '54000',
  tooManyConnections: '53300',
  adminShutdown: '57P01',
  queryCanceled: '57014',
  ioError: '58030',
  internalError: 'XX000',
} as const;

export type Severity = 'ERROR' | 'FATAL' | 'PANIC' | 'WARNING' | 'NOTICE' | 'DEBUG' | 'INFO' | 'LOG';

/** An error meant for a PostgreSQL client: it becomes an ErrorResponse with these fields. */
export class PgError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly options: { severity?: Severity; detail?: string; hint?: string } = {},
  ) {
    super(message);
    this.name = 'PgError';
  }

  get severity(): Severity {
    return this.options.severity ?? 'ERROR';
  }
}

export function fatal(
  code: string,
  message: string,
  extra: { detail?: string; hint?: string } = {},
): PgError {
  return new PgError(code, message, { ...extra, severity: 'FATAL' });
}
