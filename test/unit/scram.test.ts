import assert from 'node:assert/strict';
import {
  ScramClientExchange,
  ScramServerExchange,
  makeVerifier,
  md5Password,
} from '../../src/proxy/postgres/auth/scram';
import { PgError } from '../../src/proxy/postgres/protocol/errors';

describe('SCRAM-SHA-256', () => {
  const verifier = makeVerifier({ client: 'correct horse' }, 4096);

  function exchange(password: string) {
    const client = new ScramClientExchange(password);
    const server = new ScramServerExchange(verifier);
    const serverFirst = server.serverFirstMessage(client.clientFirstMessage());
    const clientFinal = client.clientFinalMessage(serverFirst);
    return { client, server, clientFinal };
  }

  it('authenticates the right password and both sides verify each other', () => {
    const { client, server, clientFinal } = exchange('correct horse');
    const serverFinal = server.serverFinalMessage(clientFinal, 'app');
    assert.match(serverFinal, /^v=/);
    assert.doesNotThrow(() => client.verifyServerFinal(serverFinal));
  });

  it('tells which of several secrets the client holds, from the proof alone', () => {
    const several = makeVerifier({ client: 'c-secret', mcp: 'm-secret', 'lm-tool': 'l-secret' }, 4096);
    const firsts = new Set<string>();
    for (const [password, secret] of [
      ['c-secret', 'client'],
      ['m-secret', 'mcp'],
      ['l-secret', 'lm-tool'],
    ] as const) {
      const client = new ScramClientExchange(password);
      const server = new ScramServerExchange(several);
      const serverFirst = server.serverFirstMessage(client.clientFirstMessage());
      // The same salt and iteration count whichever secret: nothing in it depends on the client's.
      firsts.add(serverFirst.replace(/^r=[^,]*,/, ''));
      assert.equal(server.authenticated, undefined);
      const serverFinal = server.serverFinalMessage(client.clientFinalMessage(serverFirst), 'app');
      assert.equal(server.authenticated, secret);
      // The server signs with the key of the secret that matched: the client verifies it.
      assert.doesNotThrow(() => client.verifyServerFinal(serverFinal));
    }
    assert.equal(firsts.size, 1);
    const wrong = new ScramClientExchange('none of them');
    const server = new ScramServerExchange(several);
    const first = server.serverFirstMessage(wrong.clientFirstMessage());
    assert.throws(
      () => server.serverFinalMessage(wrong.clientFinalMessage(first), 'app'),
      (e: unknown) => e instanceof PgError && e.code === '28P01',
    );
    assert.equal(server.authenticated, undefined);
  });

  it('rejects a wrong password with 28P01 naming the user', () => {
    const { server, clientFinal } = exchange('wrong');
    assert.throws(
      () => server.serverFinalMessage(clientFinal, 'app'),
      (e: unknown) => e instanceof PgError && e.code === '28P01' && e.message.includes('"app"'),
    );
  });

  it('rejects a tampered nonce and a forged server signature', () => {
    const { server, clientFinal, client } = exchange('correct horse');
    assert.throws(() => server.serverFinalMessage(clientFinal.replace(/r=([^,]+)/, 'r=$1x'), 'app'), PgError);
    assert.throws(() => client.verifyServerFinal('v=' + Buffer.alloc(32).toString('base64')), PgError);
  });

  it('refuses channel binding it does not offer', () => {
    const server = new ScramServerExchange(verifier);
    assert.throws(() => server.serverFirstMessage('p=tls-server-end-point,,n=,r=abc'), /channel binding/);
  });

  it('rejects garbage client-first messages as protocol violations', () => {
    const server = new ScramServerExchange(verifier);
    assert.throws(
      () => server.serverFirstMessage('garbage'),
      (e: unknown) => e instanceof PgError && e.code === '08P01',
    );
  });

  it('computes md5 responses as PostgreSQL does', () => {
    // Known answer computed independently: printf 'secretalice' | openssl md5, then md5(hex + salt 01020304).
    assert.equal(
      md5Password('alice', 'secret', Buffer.from([1, 2, 3, 4])),
      'md598a0412b9c31436fc53776e863350083',
    );
  });
});
