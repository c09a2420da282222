// payfac's OpenID Provider under node's openid-client (an OpenID-certified
// relying party library): discovery, the authorization code flow with
// PKCE S256, the ID token checked by the library (signature against the
// JWKS, iss, aud, nonce, alg) and userinfo, for a confidential client
// (client_secret_basic and client_secret_post), a public client and an
// EdDSA client; then what the library refuses (a tampered ID token, an
// issuer mix-up, a state mismatch) and what payfac refuses (an
// unregistered redirect URI, a code used twice or by another client,
// plain PKCE, a public client without PKCE, no session).
//
// Run through tests/oidc/run.sh, which starts payfac and registers the
// clients; alone, every test reports itself as skipped.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';

import * as client from 'openid-client';

import { env, skip, signedInBuyer, CookieJar } from './fixture.mjs';

const SCOPE = 'openid profile email';

// openid-client reports a check that failed as a ClientError whose cause
// is oauth4webapi's error: match the message of either.
function failed(pattern) {
  return (e) => pattern.test(e.message) || pattern.test(e.cause?.message ?? '');
}

// The library's configuration of one registered client, by discovery.
// Every ID token's signature is checked against the JWKS (openid-client
// skips that for token-endpoint ID tokens unless asked), and its alg must
// be the one the client was registered with.
async function configure(name, auth = 'basic', options = {}) {
  const registered = env.clients[name];
  const authentication = {
    basic: () => client.ClientSecretBasic(registered.clientSecret),
    post: () => client.ClientSecretPost(registered.clientSecret),
    none: () => client.None(),
  }[auth]();
  const metadata = {
    redirect_uris: [env.callback],
    id_token_signed_response_alg: name === 'eddsa' ? 'EdDSA' : 'RS256',
  };
  const config = await client.discovery(new URL(options.server ?? env.issuer), registered.clientId,
    metadata, authentication, { execute: [client.allowInsecureRequests] });
  client.enableNonRepudiationChecks(config);
  // Every request the library sends, for the tests to look at; and a
  // hook to alter a response on its way back to the library.
  const sent = [];
  config[client.customFetch] = async (url, init) => {
    sent.push({ url: String(url), headers: new Headers(init.headers), body: init.body ? String(init.body) : '' });
    const response = await fetch(url, init);
    return options.alter ? options.alter(String(url), response) : response;
  };
  return { config, registered, sent };
}

// The authorization request of one flow, with fresh PKCE, state and nonce.
async function authorizationRequest(config, extra = {}) {
  const verifier = client.randomPKCECodeVerifier();
  const checks = {
    pkceCodeVerifier: verifier,
    expectedState: client.randomState(),
    expectedNonce: client.randomNonce(),
    idTokenExpected: true,
  };
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: env.callback,
    scope: SCOPE,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state: checks.expectedState,
    nonce: checks.expectedNonce,
    ...extra,
  });
  return { url, checks };
}

// The buyer's browser at the authorization endpoint: the redirect back to
// the client, as the URL the browser would open.
async function authorize(jar, url) {
  const response = await jar.fetch(url);
  await response.arrayBuffer();
  assert.ok([302, 303].includes(response.status), `authorize answered ${response.status}, not a redirect`);
  const location = new URL(response.headers.get('location'), url);
  assert.equal(`${location.origin}${location.pathname}`, env.callback, 'the redirect goes to the registered URI');
  return location;
}

// One whole flow for a signed-in buyer; the tokens, the ID token's claims
// and the userinfo answer.
async function flow(name, auth, options = {}) {
  const buyer = await signedInBuyer(name.slice(0, 3).toUpperCase());
  const { config, registered, sent } = await configure(name, auth, options);
  const { url, checks } = await authorizationRequest(config);
  const callback = await authorize(buyer.jar, url);
  assert.equal(callback.searchParams.get('iss'), env.issuer, 'RFC 9207 iss in the response');
  assert.equal(callback.searchParams.get('state'), checks.expectedState);
  const tokens = await client.authorizationCodeGrant(config, callback, checks);
  const claims = tokens.claims();
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  return { buyer, config, registered, sent, tokens, claims, userinfo, callback, checks };
}

function idTokenHeader(tokens) {
  return JSON.parse(Buffer.from(tokens.id_token.split('.')[0], 'base64url').toString('utf8'));
}

function assertBuyerClaims(claims, buyer, clientId) {
  assert.equal(claims.iss, env.issuer);
  assert.equal(claims.sub, buyer.userId, 'sub is the userId the user-sync answered');
  assert.ok([claims.aud].flat().includes(clientId), 'aud names the client');
  assert.equal(claims.merchant, env.merchant);
  assert.equal(claims.merchant_user_no, buyer.userNo);
  assert.equal(claims.email, buyer.email);
  assert.equal(typeof claims.email_verified, 'boolean');
  assert.ok(claims.exp - claims.iat <= 300, `the ID token lives at most 5 minutes (${claims.exp - claims.iat} s)`);
  assert.ok(Number.isInteger(claims.auth_time));
}

test('discovery answers the contract\'s provider metadata', { skip }, async () => {
  const { config } = await configure('confidential');
  const m = config.serverMetadata();
  assert.equal(m.issuer, env.issuer);
  for (const [key, path] of [['authorization_endpoint', '/_payfac/oidc/authorize'], ['token_endpoint', '/_payfac/oidc/token'],
    ['userinfo_endpoint', '/_payfac/oidc/userinfo'], ['end_session_endpoint', '/_payfac/oidc/logout'],
    ['jwks_uri', '/.well-known/jwks.json']]) {
    assert.equal(m[key], `${env.issuer}${path}`, key);
  }
  assert.deepEqual(m.response_types_supported, ['code']);
  assert.deepEqual(m.code_challenge_methods_supported, ['S256']);
  assert.deepEqual([...m.id_token_signing_alg_values_supported].sort(), ['EdDSA', 'RS256']);
  assert.deepEqual([...m.token_endpoint_auth_methods_supported].sort(), ['client_secret_basic', 'client_secret_post', 'none']);
  assert.deepEqual([...m.scopes_supported].sort(), ['email', 'openid', 'profile']);
  assert.equal(m.authorization_response_iss_parameter_supported, true);
  assert.ok(!m.registration_endpoint, 'no dynamic registration');
});

test('confidential client, client_secret_basic: code + PKCE → RS256 ID token checked against the JWKS → userinfo', { skip }, async () => {
  const { buyer, registered, sent, tokens, claims, userinfo } = await flow('confidential', 'basic');
  assertBuyerClaims(claims, buyer, registered.clientId);
  assert.equal(idTokenHeader(tokens).alg, 'RS256');
  assert.equal(claims.azp ?? registered.clientId, registered.clientId);
  assert.equal(userinfo.sub, buyer.userId);
  assert.equal(userinfo.email, buyer.email);
  assert.equal(userinfo.merchant_user_no, buyer.userNo);
  const token = sent.find((r) => r.url === `${env.issuer}/_payfac/oidc/token`);
  assert.match(token.headers.get('authorization') ?? '', /^Basic /, 'the secret went in the Authorization header');
  assert.ok(!token.body.includes('client_secret'), 'and not in the body');
  assert.ok(sent.some((r) => r.url === `${env.issuer}/.well-known/jwks.json`), 'the library fetched the JWKS');
});

test('confidential client, client_secret_post', { skip }, async () => {
  const { buyer, registered, sent, claims, userinfo } = await flow('confidential', 'post');
  assertBuyerClaims(claims, buyer, registered.clientId);
  assert.equal(userinfo.sub, buyer.userId);
  const token = sent.find((r) => r.url === `${env.issuer}/_payfac/oidc/token`);
  assert.equal(token.headers.get('authorization'), null);
  assert.match(token.body, /(^|&)client_secret=/);
});

test('public client: PKCE S256, no secret', { skip }, async () => {
  const { buyer, registered, sent, claims, userinfo } = await flow('public', 'none');
  assertBuyerClaims(claims, buyer, registered.clientId);
  assert.equal(userinfo.sub, buyer.userId);
  const token = sent.find((r) => r.url === `${env.issuer}/_payfac/oidc/token`);
  assert.equal(token.headers.get('authorization'), null);
  assert.match(token.body, /(^|&)code_verifier=/);
});

test('a client registered with --id-token-alg EdDSA gets EdDSA ID tokens the library verifies', { skip }, async () => {
  const { buyer, registered, tokens, claims } = await flow('eddsa', 'basic');
  assertBuyerClaims(claims, buyer, registered.clientId);
  const header = idTokenHeader(tokens);
  assert.equal(header.alg, 'EdDSA');
  const jwks = await (await fetch(`${env.issuer}/.well-known/jwks.json`)).json();
  const key = jwks.keys.find((k) => k.kid === header.kid);
  assert.ok(key, 'the kid is in the JWKS');
  assert.equal(key.kty, 'OKP');
  assert.equal(key.crv, 'Ed25519');
});

// A token response whose ID token carries someone else's signature bytes.
function tamperIdToken(url, response) {
  if (!url.endsWith('/_payfac/oidc/token') || response.status !== 200) return response;
  return response.json().then((body) => {
    const [h, p, s] = body.id_token.split('.');
    const signature = Buffer.from(s, 'base64url');
    signature[0] ^= 0x01;
    body.id_token = [h, p, signature.toString('base64url')].join('.');
    return Response.json(body, { status: 200, headers: { 'cache-control': 'no-store' } });
  });
}

test('openid-client rejects a tampered ID token signature', { skip }, async () => {
  await assert.rejects(flow('confidential', 'basic', { alter: tamperIdToken }),
    failed(/signature verification failed/i));
});

test('openid-client rejects an ID token whose claims were changed (signature no longer matches)', { skip }, async () => {
  const alter = (url, response) => {
    if (!url.endsWith('/_payfac/oidc/token') || response.status !== 200) return response;
    return response.json().then((body) => {
      const [h, p, s] = body.id_token.split('.');
      const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
      claims.sub = `${claims.sub}0`;
      body.id_token = [h, Buffer.from(JSON.stringify(claims)).toString('base64url'), s].join('.');
      return Response.json(body);
    });
  };
  await assert.rejects(flow('confidential', 'basic', { alter }), failed(/signature verification failed/i));
});

test('issuer mix-up: discovery from another host serving payfac\'s metadata is refused', { skip }, async (t) => {
  // An attacker's host (a plain relay) that answers payfac's discovery document.
  const relay = createServer(async (req, res) => {
    const upstream = await fetch(`${env.issuer}${req.url}`);
    res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
    res.end(Buffer.from(await upstream.arrayBuffer()));
  });
  await new Promise((r) => relay.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => relay.close(r)));
  await assert.rejects(configure('confidential', 'basic', { server: `http://127.0.0.1:${relay.address().port}` }),
    failed(/issuer does not match the expected issuer|unexpected "issuer"/));
});

test('issuer mix-up: an authorization response with another iss, or none, is refused (RFC 9207)', { skip }, async () => {
  const buyer = await signedInBuyer('ISS');
  const { config } = await configure('confidential');
  const { url, checks } = await authorizationRequest(config);
  const callback = await authorize(buyer.jar, url);
  const wrong = new URL(callback);
  wrong.searchParams.set('iss', 'http://127.0.0.1:1');
  await assert.rejects(client.authorizationCodeGrant(config, wrong, checks), failed(/unexpected "iss"/));
  const missing = new URL(callback);
  missing.searchParams.delete('iss');
  await assert.rejects(client.authorizationCodeGrant(config, missing, checks), failed(/"iss"/));
});

test('a state mismatch is refused before the code is sent', { skip }, async () => {
  const buyer = await signedInBuyer('STA');
  const { config, sent } = await configure('confidential');
  const { url, checks } = await authorizationRequest(config);
  const callback = await authorize(buyer.jar, url);
  await assert.rejects(client.authorizationCodeGrant(config, callback, { ...checks, expectedState: client.randomState() }),
    failed(/unexpected "state"/));
  assert.ok(!sent.some((r) => r.url.endsWith('/_payfac/oidc/token')), 'no token request was sent');
  // The code is still good for the right state.
  const tokens = await client.authorizationCodeGrant(config, callback, checks);
  assert.equal(tokens.claims().sub, buyer.userId);
});

test('payfac refuses an unregistered redirect URI with an error page, never a redirect', { skip }, async () => {
  const buyer = await signedInBuyer('RED');
  const { config } = await configure('confidential');
  for (const redirect of [`${env.callback}/`, `${env.callback}?x=1`, env.callback.replace('127.0.0.1', 'localhost'),
    'https://attacker.example/callback']) {
    const { url } = await authorizationRequest(config, { redirect_uri: redirect });
    const response = await buyer.jar.fetch(url);
    const body = await response.text();
    assert.equal(response.status, 400, `${redirect}: ${response.status}`);
    assert.equal(response.headers.get('location'), null, `${redirect}: no redirect`);
    assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
    assert.ok(!body.includes('attacker.example'), 'the page does not link to the unregistered URI');
  }
  // An unknown client too.
  const url = new URL(`${env.issuer}/_payfac/oidc/authorize`);
  url.search = new URLSearchParams({ client_id: 'no-such-client', redirect_uri: env.callback, response_type: 'code', scope: 'openid' });
  const response = await buyer.jar.fetch(url);
  await response.arrayBuffer();
  assert.equal(response.status, 400);
  assert.equal(response.headers.get('location'), null);
});

test('a code used twice: invalid_grant, and what the first use issued stops working', { skip }, async () => {
  const { config, callback, checks, tokens } = await flow('confidential', 'basic');
  await assert.rejects(client.authorizationCodeGrant(config, callback, checks),
    (e) => e instanceof client.ResponseBodyError && e.error === 'invalid_grant');
  await assert.rejects(client.fetchUserInfo(config, tokens.access_token, client.skipSubjectCheck),
    (e) => (e instanceof client.WWWAuthenticateChallengeError || e instanceof client.ResponseBodyError) && e.status === 401);
});

test('a code issued to one client is refused to another (code injection)', { skip }, async () => {
  const buyer = await signedInBuyer('INJ');
  const victim = await configure('confidential');
  const { url, checks } = await authorizationRequest(victim.config);
  const callback = await authorize(buyer.jar, url);
  const attacker = await configure('other');
  await assert.rejects(client.authorizationCodeGrant(attacker.config, callback, checks),
    (e) => e instanceof client.ResponseBodyError && e.error === 'invalid_grant');
});

test('a wrong client secret: invalid_client', { skip }, async () => {
  const buyer = await signedInBuyer('SEC');
  const { config } = await configure('confidential');
  const { url, checks } = await authorizationRequest(config);
  const callback = await authorize(buyer.jar, url);
  const wrong = await client.discovery(new URL(env.issuer), env.clients.confidential.clientId, { redirect_uris: [env.callback] },
    client.ClientSecretBasic(`${env.clients.confidential.clientSecret}x`), { execute: [client.allowInsecureRequests] });
  // A 401 with a Basic challenge (RFC 6749 §5.2): openid-client reports
  // the challenge; the body says invalid_client.
  await assert.rejects(client.authorizationCodeGrant(wrong, callback, checks), (e) => {
    if (e instanceof client.ResponseBodyError) return e.status === 401 && e.error === 'invalid_client';
    return e instanceof client.WWWAuthenticateChallengeError && e.status === 401
      && e.cause.some((challenge) => challenge.scheme === 'basic');
  });
});

test('a wrong PKCE verifier: invalid_grant', { skip }, async () => {
  const buyer = await signedInBuyer('PKV');
  const { config } = await configure('public', 'none');
  const { url, checks } = await authorizationRequest(config);
  const callback = await authorize(buyer.jar, url);
  await assert.rejects(client.authorizationCodeGrant(config, callback, { ...checks, pkceCodeVerifier: client.randomPKCECodeVerifier() }),
    (e) => e instanceof client.ResponseBodyError && e.error === 'invalid_grant');
});

// The authorization error sent back to the client: no code, the error, the
// state and iss.
async function authorizationError(name, auth, params) {
  const buyer = await signedInBuyer('ERR');
  const { config } = await configure(name, auth);
  const { url, checks } = await authorizationRequest(config, params);
  for (const [key, value] of Object.entries(params)) if (value === undefined) url.searchParams.delete(key);
  const callback = await authorize(buyer.jar, url);
  assert.equal(callback.searchParams.get('code'), null, 'no code');
  assert.equal(callback.searchParams.get('iss'), env.issuer, 'iss on the error too');
  assert.equal(callback.searchParams.get('state'), checks.expectedState);
  // And the library reports it as the provider's error.
  await assert.rejects(client.authorizationCodeGrant(config, callback, checks),
    (e) => e instanceof client.AuthorizationResponseError);
  return callback.searchParams.get('error');
}

test('plain PKCE is refused', { skip }, async () => {
  const error = await authorizationError('confidential', 'basic', { code_challenge_method: 'plain', code_challenge: 'a'.repeat(43) });
  assert.equal(error, 'invalid_request');
});

test('a public client without PKCE is refused', { skip }, async () => {
  const error = await authorizationError('public', 'none', { code_challenge: undefined, code_challenge_method: undefined });
  assert.equal(error, 'invalid_request');
});

test('response types other than code are refused (no implicit, no hybrid)', { skip }, async () => {
  for (const responseType of ['token', 'id_token', 'code id_token']) {
    const error = await authorizationError('confidential', 'basic', { response_type: responseType });
    assert.equal(error, 'unsupported_response_type', responseType);
  }
});

test('no session: login_required, also for prompt=none', { skip }, async () => {
  const { config } = await configure('confidential');
  for (const extra of [{}, { prompt: 'none' }]) {
    const { url, checks } = await authorizationRequest(config, extra);
    const callback = await authorize(new CookieJar(), url);
    assert.equal(callback.searchParams.get('error'), 'login_required');
    assert.equal(callback.searchParams.get('state'), checks.expectedState);
    assert.equal(callback.searchParams.get('iss'), env.issuer);
    await assert.rejects(client.authorizationCodeGrant(config, callback, checks),
      (e) => e instanceof client.AuthorizationResponseError && e.error === 'login_required');
  }
});
