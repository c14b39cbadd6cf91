/**
 * The vocabulary of the PostgreSQL wire protocol (3.0). Every message the proxy reads is decoded in
 * decode.ts and every message it writes is built in encode.ts: nothing else reads or writes by offset.
 */

/** Message type bytes (protocol 3.0). Backend (B) and frontend (F) share some letters. */
export const Msg = {
  // frontend
  bind: 0x42, // B
  close: 0x43, // C
  describe: 0x44, // D
  execute: 0x45, // E
  flush: 0x48, // H
  functionCall: 0x46, // F
  parse: 0x50, // P
  query: 0x51, // Q
  sync: 0x53, // S
  terminate: 0x58, // X
  password: 0x70, // p (PasswordMessage, SASLInitialResponse, SASLResponse)
  copyData: 0x64, // d (both)
  copyDone: 0x63, // c (both)
  copyFail: 0x66, // f
  // backend
  authentication: 0x52, // R
  backendKeyData: 0x4b, // K
  bindComplete: 0x32, // 2
  closeComplete: 0x33, // 3
  commandComplete: 0x43, // C
  copyInResponse: 0x47, // G
  copyOutResponse: 0x48, // H
  copyBothResponse: 0x57, // W
  dataRow: 0x44, // D
  emptyQueryResponse: 0x49, // I
  errorResponse: 0x45, // E
  noData: 0x6e, // n
  noticeResponse: 0x4e, // N
  notificationResponse: 0x41, // A
  parameterDescription: 0x74, // t
  parameterStatus: 0x53, // S
  parseComplete: 0x31, // 1
  portalSuspended: 0x73, // s
  readyForQuery: 0x5a, // Z
  rowDescription: 0x54, // T
  negotiateProtocolVersion: 0x76, // v
} as const;

/** Request codes carried in untyped startup-phase packets. */
export const StartupCode = {
  protocol3: 196608,
  cancel: 80877102,
  ssl: 80877103,
  gssenc: 80877104,
} as const;

export const AuthCode = {
  ok: 0,
  kerberosV5: 2,
  cleartext: 3,
  md5: 5,
  gss: 7,
  gssContinue: 8,
  sspi: 9,
  sasl: 10,
  saslContinue: 11,
  saslFinal: 12,
} as const;

export type TransactionStatus = 'I' | 'T' | 'E';
