import assert from 'node:assert/strict';
import { humanFromClaims } from '../../src/identity/oidc-session';
import { DEFAULT_SCOPES, oidcSettings } from '../../src/identity/settings';
import { SignInError } from '../../src/identity/sign-in-error';

describe('identity: the person from the ID token claims', () => {
  const settings = oidcSettings({ issuer: 'https://idp.example.com', clientId: 'airlock' });

  it('names the person by a verified e-mail, keeps the subject, and says the identity is verified', () => {
    const human = humanFromClaims(
      { sub: 's-1', email: 'ana@example.com', email_verified: true, groups: ['dba'] },
      settings,
    );
    assert.deepEqual(human, {
      user: 'ana@example.com',
      groups: ['dba'],
      established: 'verified',
      subject: 's-1',
      email: 'ana@example.com',
      issuer: 'https://idp.example.com',
    });
  });

  it('an e-mail the provider calls unverified names nobody: the subject does', () => {
    const human = humanFromClaims({ sub: 's-2', email: 'boss@example.com', email_verified: false }, settings);
    assert.equal(human.user, 's-2');
    assert.equal(human.email, undefined);
  });

  it('groups come from the configured claim: a list (strings only), one string, or none', () => {
    const roles = oidcSettings({
      issuer: 'https://idp.example.com',
      clientId: 'airlock',
      groupsClaim: 'roles',
    });
    assert.deepEqual(
      humanFromClaims({ sub: 'a', roles: ['x', 7, 'y', null], groups: ['ignored'] }, roles).groups,
      ['x', 'y'],
    );
    assert.deepEqual(humanFromClaims({ sub: 'a', roles: 'solo' }, roles).groups, ['solo']);
    assert.deepEqual(humanFromClaims({ sub: 'a', roles: { nested: true } }, roles).groups, []);
    assert.deepEqual(humanFromClaims({ sub: 'a' }, settings).groups, []);
  });

  it('a token without a subject names no one and is refused', () => {
    assert.throws(
      () => humanFromClaims({ email: 'x@example.com' }, settings),
      (e: unknown) => e instanceof SignInError && e.reason === 'rejected',
    );
  });

  it('settings: default scopes and groups claim; openid is always requested', () => {
    assert.deepEqual(settings.scopes, DEFAULT_SCOPES);
    assert.equal(settings.groupsClaim, 'groups');
    assert.deepEqual(
      oidcSettings({ issuer: 'https://i', clientId: 'c', scopes: ['email', 'groups'] }).scopes,
      ['openid', 'email', 'groups'],
    );
  });
});
