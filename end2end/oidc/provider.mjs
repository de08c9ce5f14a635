// A real OpenID provider for the end2end tests: panva's oidc-provider (OpenID-certified)
// on loopback, with its development login and consent screens. Any login name signs in;
// the account's claims follow from the name:
//   <name>            email <name>@example.test, verified
//   unverified-<x>    email present but not verified
//   noemail-<x>       no email claim at all
import http from 'node:http';
import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_PORT || 4011);
const redirectUri = process.env.OIDC_REDIRECT_URI;
if (!redirectUri) throw new Error('OIDC_REDIRECT_URI is required');

function claimsFor(id) {
  const name = id.replace(/[-_.]+/g, ' ').replace(/\b\w/g, c => c.toUpperCase());
  if (id.startsWith('noemail-')) return { sub: id, name };
  return { sub: id, name, email: `${id}@example.test`, email_verified: !id.startsWith('unverified-') };
}

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: process.env.OIDC_CLIENT_ID || 'enclave-e2e',
    client_secret: process.env.OIDC_CLIENT_SECRET || 'e2e-client-secret',
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  // Put the scope's claims into the ID token (the relying party reads them there).
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  cookies: { keys: ['enclave-e2e-cookie-key'] },
  features: { devInteractions: { enabled: true } },
  findAccount: async (ctx, id) => ({ accountId: id, claims: async () => claimsFor(id) }),
});

http.createServer(provider.callback()).listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on http://127.0.0.1:${port}`);
});
