/** SQL quoting for the statements Airlock itself writes (identifiers and literals it decides on). */
export const quoteIdent = (s: string) => `"${s.replace(/"/g, '""')}"`;
export const quoteLiteral = (s: string) => `'${s.replace(/'/g, "''")}'`;
