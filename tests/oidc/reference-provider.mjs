// node's oidc-provider (the OpenID-certified reference provider) set up
// like payfac's OpenID Provider, for payfac-bench's --oidc comparison:
//
// - one confidential client (client_secret_basic), PKCE S256 required,
//   response type code only, RS256 ID tokens, exact redirect URI;
// - codes 60 s, access tokens 10 min, ID tokens 5 min, no refresh tokens;
// - findAccount answers a fixed account shape (sub, merchant,
//   merchant_user_no, name, email, email_verified) for any account id, and
//   the ID token carries the scope's claims, as payfac's does;
// - no consent screen: a first-party grant of "openid profile email" is
//   made when the session has none (oidc-provider's loadExistingGrant
//   recipe), as payfac answers a signed-in buyer at once;
// - storage in memory: a Map with expiry (oidc-provider's own development
//   adapter is an LRU of 1,000 entries, which a benchmark overflows).
//
// It signs in `--sessions N` accounts itself, through its interaction
// endpoint (the login a real deployment would show), and prints one JSON
// line with the issuer, the client and each session's cookies; then it
// serves until its standard input closes or it gets SIGTERM.
//
//   node tests/oidc/reference-provider.mjs [--port 0] [--sessions 64]

import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values: args } = parseArgs({
  options: { port: { type: 'string', default: '0' }, sessions: { type: 'string', default: '64' } },
});

// Storage in a Map: what oidc-provider asks of an adapter, with each
// entry's expiry checked on read and swept once a minute.
const entries = new Map();
const indexes = { uid: new Map(), userCode: new Map(), grant: new Map() };
setInterval(() => {
  const now = Date.now();
  for (const [key, entry] of entries) if (entry.expires <= now) entries.delete(key);
}, 60_000).unref();

class MapAdapter {
  constructor(model) { this.model = model; }

  key(id) { return `${this.model}:${id}`; }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    entries.set(key, { payload, expires: expiresIn ? Date.now() + expiresIn * 1000 : Infinity });
    if (payload.uid) indexes.uid.set(payload.uid, id);
    if (payload.userCode) indexes.userCode.set(payload.userCode, id);
    if (payload.grantId) {
      const members = indexes.grant.get(payload.grantId) ?? new Set();
      members.add(key);
      indexes.grant.set(payload.grantId, members);
    }
  }

  async find(id) {
    const entry = entries.get(this.key(id));
    if (!entry) return undefined;
    if (entry.expires <= Date.now()) {
      entries.delete(this.key(id));
      return undefined;
    }
    return entry.payload;
  }

  async findByUid(uid) {
    const id = indexes.uid.get(uid);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode(userCode) {
    const id = indexes.userCode.get(userCode);
    return id === undefined ? undefined : this.find(id);
  }

  async consume(id) {
    const entry = entries.get(this.key(id));
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) { entries.delete(this.key(id)); }

  async revokeByGrantId(grantId) {
    for (const key of indexes.grant.get(grantId) ?? []) entries.delete(key);
    indexes.grant.delete(grantId);
  }
}

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const port = Number(args.port);
const client = {
  client_id: 'bench',
  client_secret: randomBytes(32).toString('base64url'),
  redirect_uris: ['http://127.0.0.1:9/callback'],
  response_types: ['code'],
  grant_types: ['authorization_code'],
  token_endpoint_auth_method: 'client_secret_basic',
  id_token_signed_response_alg: 'RS256',
};

function providerFor(issuer) {
  const provider = new Provider(issuer, {
    adapter: MapAdapter,
    clients: [client],
    jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), alg: 'RS256', use: 'sig', kid: randomUUID() }] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    claims: {
      openid: ['sub', 'merchant', 'merchant_user_no'],
      profile: ['name'],
      email: ['email', 'email_verified'],
    },
    conformIdTokenClaims: false,
    findAccount: (ctx, sub) => ({
      accountId: sub,
      claims: () => ({
        sub, merchant: 'BENCH', merchant_user_no: `U-${sub}`, name: 'Zoë Doe',
        email: `${sub}@example.com`, email_verified: false,
      }),
    }),
    loadExistingGrant: async (ctx) => {
      const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope('openid profile email');
      await grant.save();
      return grant;
    },
    pkce: { required: () => true },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    ttl: { AuthorizationCode: 60, AccessToken: 600, IdToken: 300, Interaction: 600, Session: 86_400, Grant: 86_400 },
  });
  // The interaction (login) page: what a deployment shows the user to sign
  // in; here it signs in the account named by `?account=`, or one per call.
  let next = 0;
  provider.use(async (ctx, nextMiddleware) => {
    if (ctx.path.startsWith('/interaction/')) {
      next += 1;
      await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: `buyer-${next}` } },
        { mergeWithLastSubmission: false });
      ctx.respond = false;
      return;
    }
    await nextMiddleware();
  });
  return provider;
}

// The issuer must name the port, so listen first, then build the provider.
const { createServer } = await import('node:http');
let handler = (req, res) => { res.writeHead(503).end(); };
const server = createServer((req, res) => handler(req, res));
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1');
await once(server, 'listening');
const issuer = `http://127.0.0.1:${server.address().port}`;
const provider = providerFor(issuer);
handler = provider.callback();

// One login through the interaction: the session cookies it leaves.
async function login() {
  const jar = new Map();
  const get = async (url) => {
    const cookie = [...jar].map(([n, v]) => `${n}=${v}`).join('; ');
    const response = await fetch(new URL(url, issuer), { redirect: 'manual', headers: cookie ? { cookie } : {} });
    for (const line of response.headers.getSetCookie()) {
      const pair = line.split(';')[0];
      const at = pair.indexOf('=');
      jar.set(pair.slice(0, at), pair.slice(at + 1));
    }
    await response.arrayBuffer();
    return response.headers.get('location');
  };
  const query = new URLSearchParams({
    client_id: client.client_id, redirect_uri: client.redirect_uris[0], response_type: 'code',
    scope: 'openid profile email', state: 's', nonce: 'n',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256',
  });
  let location = await get(`/auth?${query}`);
  for (let hops = 0; location && !location.startsWith(client.redirect_uris[0]); hops += 1) {
    if (hops > 5) throw new Error(`the login did not come back to the client (at ${location})`);
    location = await get(location);
  }
  if (!location || !new URL(location).searchParams.get('code')) throw new Error(`the login answered ${location}`);
  return [...jar].filter(([n]) => n.startsWith('_session')).map(([n, v]) => `${n}=${v}`).join('; ');
}

const cookies = [];
for (let i = 0; i < Number(args.sessions); i += 1) cookies.push(await login());
process.stdout.write(`${JSON.stringify({
  issuer, clientId: client.client_id, clientSecret: client.client_secret,
  redirectUri: client.redirect_uris[0], cookies,
})}\n`);

const stop = () => { server.closeAllConnections(); server.close(() => process.exit(0)); };
process.once('SIGTERM', stop);
process.stdin.resume();
process.stdin.once('end', stop);
