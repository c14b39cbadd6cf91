import { MessageFramer } from '../../src/proxy/postgres/protocol/framing';
import type { RawClient } from './raw-client';

/**
 * Every DataRow that reaches a RawClient, with ALL its fields (RawClient itself decodes only the first
 * column): a second framer on the same socket, attached after startup, sees the same bytes in the same
 * order. Fields are decoded as UTF-8 text (binary-format fields too, so embedded text stays visible);
 * SQL NULL is null.
 */
export class DataRowRecorder {
  private rows: Array<Array<string | null>> = [];

  constructor(client: RawClient) {
    const framer = new MessageFramer(1 << 30);
    client.socket.on('data', (chunk: Buffer) =>
      framer.push(chunk, (type, m) => {
        if (type === 0x44 /* D */) this.rows.push(decodeDataRow(m));
      }),
    );
  }

  /** The rows received since the last call. */
  take(): Array<Array<string | null>> {
    return this.rows.splice(0);
  }
}

/** A DataRow message (type byte and length included) → its fields. */
export function decodeDataRow(m: Buffer): Array<string | null> {
  const count = m.readInt16BE(5);
  const out: Array<string | null> = [];
  let offset = 7;
  for (let i = 0; i < count; i++) {
    const len = m.readInt32BE(offset);
    offset += 4;
    if (len < 0) {
      out.push(null);
      continue;
    }
    out.push(m.toString('utf8', offset, offset + len));
    offset += len;
  }
  return out;
}
