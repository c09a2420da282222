// A storefront app behind payfac's gateway, in Node with jose.
//
// Every request payfac proxies for a signed-in buyer carries
// X-Payfac-Identity, a JWT payfac signs (EdDSA); this app verifies it
// against payfac's JWKS and answers who the buyer is. Without the header
// the buyer is anonymous: the app decides what needs a buyer.
//
//   npm install jose
//   node app.mjs PORT JWKS_URL [AUDIENCE]
//
// GET any path answers JSON: {"buyer": null} or {"buyer": {claims...}}; a
// token that does not verify answers 401.

import http from 'node:http';
import { createRemoteJWKSet, jwtVerify } from 'jose';

const [port, jwksUrl, audience = 'payfac-upstream'] = process.argv.slice(2);
// Caches the keys and fetches the JWKS again when a token names an unknown
// kid (after a key rotation).
const jwks = createRemoteJWKSet(new URL(jwksUrl));

async function verify(token) {
  const { payload } = await jwtVerify(token, jwks, {
    algorithms: ['EdDSA'],
    audience,
    issuer: 'payfac',
    requiredClaims: ['exp', 'iat', 'iss', 'aud', 'sub'],
  });
  return payload;
}

http
  .createServer(async (request, response) => {
    const token = request.headers['x-payfac-identity'];
    let status = 200;
    let body = { buyer: null };
    if (token) {
      try {
        body = { buyer: await verify(token) };
      } catch (error) {
        status = 401;
        body = { error: error.code ?? error.name };
      }
    }
    response.writeHead(status, { 'Content-Type': 'application/json' });
    response.end(JSON.stringify(body));
  })
  .listen(Number(port), '127.0.0.1');
