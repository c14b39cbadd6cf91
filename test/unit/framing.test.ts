import assert from 'node:assert/strict';
import { MessageFramer } from '../../src/proxy/postgres/protocol/framing';
import { PgError } from '../../src/proxy/postgres/protocol/errors';

function typed(type: string, body: Buffer | string): Buffer {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const m = Buffer.alloc(5 + b.length);
  m.write(type, 0, 'latin1');
  m.writeInt32BE(4 + b.length, 1);
  b.copy(m, 5);
  return m;
}

function collect(framer: MessageFramer, chunks: Buffer[]): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  for (const c of chunks) framer.push(c, (t, m) => out.push([t, m.toString('latin1')]));
  return out;
}

describe('MessageFramer', () => {
  const q1 = typed('Q', 'select 1\0');
  const q2 = typed('Q', 'select 22\0');
  const both = Buffer.concat([q1, q2]);

  it('frames whole messages in one chunk as views without copying', () => {
    const framer = new MessageFramer(1 << 20);
    const seen: Buffer[] = [];
    framer.push(both, (_t, m) => seen.push(m));
    assert.equal(seen.length, 2);
    assert.equal(seen[0].buffer, both.buffer);
    assert.deepEqual(Buffer.concat(seen), both);
  });

  it('reassembles messages split at every possible byte boundary', () => {
    for (let cut = 1; cut < both.length; cut++) {
      const framer = new MessageFramer(1 << 20);
      const got = collect(framer, [both.subarray(0, cut), both.subarray(cut)]);
      assert.deepEqual(
        got.map(([, m]) => m),
        [q1.toString('latin1'), q2.toString('latin1')],
        `cut at ${cut}`,
      );
      assert.equal(framer.buffered, 0);
    }
  });

  it('delivers byte-by-byte input intact', () => {
    const framer = new MessageFramer(1 << 20);
    const got = collect(
      framer,
      [...both].map((b) => Buffer.from([b])),
    );
    assert.deepEqual(got, [
      [0x51, q1.toString('latin1')],
      [0x51, q2.toString('latin1')],
    ]);
  });

  it('frames the untyped startup packet, then typed messages once switched', () => {
    const startup = Buffer.alloc(8);
    startup.writeInt32BE(8, 0);
    startup.writeInt32BE(80877103, 4);
    const framer = new MessageFramer(1 << 20, false);
    const got: number[] = [];
    framer.push(Buffer.concat([startup, q1]), (t) => {
      got.push(t);
      framer.setTyped();
    });
    assert.deepEqual(got, [0, 0x51]);
  });

  it('rejects a length below 4 with 08P01 and an oversized one with 54000', () => {
    const bad = Buffer.from([0x51, 0, 0, 0, 2]);
    assert.throws(
      () => new MessageFramer(1024).push(bad, () => {}),
      (e: unknown) => e instanceof PgError && e.code === '08P01',
    );
    const big = Buffer.from([0x51, 0x7f, 0xff, 0xff, 0xff]);
    assert.throws(
      () => new MessageFramer(1024).push(big, () => {}),
      (e: unknown) =>
        e instanceof PgError && e.code === '54000' && /exceeds the limit of 1024/.test(e.message),
    );
  });

  it('caps startup packets at 10000 bytes like PostgreSQL', () => {
    const head = Buffer.alloc(4);
    head.writeInt32BE(10_001, 0);
    assert.throws(
      () => new MessageFramer(1 << 30, false).push(head, () => {}),
      (e: unknown) => e instanceof PgError && e.code === '54000',
    );
  });
});
