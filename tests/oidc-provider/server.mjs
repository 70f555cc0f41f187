// A real OpenID provider for Tessera's end-to-end tests: the certified
// `oidc-provider` package on 127.0.0.1, plain http, with the clients and
// accounts of a JSON spec written by the test.
//
//   node server.mjs SPEC.json
//
// Once listening it prints one JSON line on stdout:
//   {"issuer":"http://127.0.0.1:PORT","port":PORT,"control_token":"..."}
// and exits when its stdin closes (the test harness holds the other end), so
// a test that dies never leaves a provider behind.
//
// The spec (every key but `clients` and `accounts` optional):
//   {
//     "port": 0,
//     "issuer_host": "127.0.0.1",   // or "localhost": another site than 127.0.0.1
//     "id_token_ttl": 3600, "access_token_ttl": 3600,   // seconds, >= 1
//     "claims_in_id_token": true,   // false: claims only from userinfo
//     "clients": [{
//       "client_id": "tessera", "client_secret": "...",
//       "redirect_uris": ["http://127.0.0.1:8080/oauth/idp/callback"],
//       "token_endpoint_auth_method": "client_secret_basic",  // _post | none
//       "application_type": "web",   // native: loopback redirect URIs match any port
//       "require_pkce": false,
//       "backchannel_logout_uri": "http://127.0.0.1:8080/oauth/idp/backchannel-logout",
//                                  // ID tokens then carry `sid`; a logout at the
//                                  // provider posts a logout token there
//       "post_logout_redirect_uris": ["http://127.0.0.1:8080/signin"],
//       "faults": {                  // a misbehaving provider, for refusal tests
//         "id_token_audience": "someone-else",
//         "id_token_nonce": "not-the-one-you-sent",
//         "id_token_expired_by": 600,
//         "id_token_azp": "another-client"
//       }
//     }],
//     "accounts": [{
//       "sub": "alice", "password": "...",
//       "claims": {"email": "...", "email_verified": true, "name": "...",
//                  "preferred_username": "...", "picture": "...", "groups": ["..."]}
//     }]
//   }
//
// Accounts sign in with their `sub` or their e-mail and their password.
// Test control (bearer control_token, JSON body):
//   PUT /__test/accounts/{sub}   an account as above (created or replaced)
//   PUT /__test/clients/{id}     a client as above (created or replaced)
//   POST /__test/sign            {"claims": {...}, "header": {...}} -> {"token"}:
//                                any claims signed with the provider's own key
//                                (the one its jwks_uri publishes), for tests of
//                                tokens a provider should never send
//   POST /__test/accounts/{sub}/revoke-grants
//                                ends every grant the account gave (as an
//                                admin revoking a user's sessions/consents):
//                                its refresh and access tokens stop working
//   GET /__test/health
//
// Logged on stderr: `refresh_token.granted CLIENT` per refresh, `grant.error
// TYPE: MESSAGE` per refused token request.
//
// Logout: RP-initiated logout at `end_session_endpoint` shows a form
// (id="logout-form"); submitting it ends the provider session and posts a
// logout token to every client of that session with a
// `backchannel_logout_uri` (Back-Channel Logout 1.0; the provider's SSRF guard
// is lifted for loopback URIs only), then shows id="signed-out" or redirects
// to the `post_logout_redirect_uri`.
import { createPrivateKey, generateKeyPairSync, randomBytes, sign, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const specPath = process.argv[2];
if (!specPath) {
  console.error('usage: node server.mjs SPEC.json');
  process.exit(2);
}
const spec = JSON.parse(readFileSync(specPath, 'utf8'));

const controlToken = randomBytes(24).toString('base64url');
const accounts = new Map();
// grant ids by account, for /__test/accounts/{sub}/revoke-grants
const grantsByAccount = new Map();
const clientSpecs = new Map();

const CLAIMS = ['email', 'email_verified', 'name', 'preferred_username', 'picture', 'groups'];

function putAccount(account) {
  if (typeof account?.sub !== 'string' || !account.sub) throw new Error('an account needs a `sub`');
  if (typeof account.password !== 'string') throw new Error(`account ${account.sub} needs a \`password\``);
  accounts.set(account.sub, { sub: account.sub, password: account.password, claims: account.claims ?? {} });
}

// The provider's signing key: published at its jwks_uri, and the key
// /__test/sign uses.
const KID = `test-${randomBytes(6).toString('hex')}`;
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingJwk = { ...privateKey.export({ format: 'jwk' }), kid: KID, alg: 'RS256', use: 'sig' };

function signJwt(header, claims) {
  const enc = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${enc({ alg: 'RS256', kid: KID, ...header })}.${enc(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), createPrivateKey({ key: signingJwk, format: 'jwk' })).toString('base64url')}`;
}

function clientMetadata(c) {
  const metadata = {
    client_id: c.client_id,
    redirect_uris: c.redirect_uris ?? [],
    response_types: ['code'],
    grant_types: ['authorization_code', 'refresh_token'],
    token_endpoint_auth_method: c.token_endpoint_auth_method ?? 'client_secret_basic',
    application_type: c.application_type ?? 'web',
  };
  if (c.client_secret !== undefined && c.client_secret !== null) metadata.client_secret = c.client_secret;
  if (c.backchannel_logout_uri) {
    metadata.backchannel_logout_uri = c.backchannel_logout_uri;
    metadata.backchannel_logout_session_required = true;
  }
  if (c.post_logout_redirect_uris) metadata.post_logout_redirect_uris = c.post_logout_redirect_uris;
  return metadata;
}

let provider;

async function putClient(c) {
  if (typeof c?.client_id !== 'string' || !c.client_id) throw new Error('a client needs a `client_id`');
  const metadata = clientMetadata(c);
  await provider.Client.validate(metadata);
  await provider.Client.adapter.upsert(c.client_id, metadata);
  clientSpecs.set(c.client_id, { requirePkce: Boolean(c.require_pkce), faults: c.faults ?? {} });
}

const claimsInIdToken = spec.claims_in_id_token !== false;

const configuration = {
  findAccount(ctx, sub) {
    const account = accounts.get(sub);
    if (!account) return undefined;
    return {
      accountId: sub,
      async claims() {
        // read at issue time, so an account changed through the control API
        // shows its new claims on the next sign-in
        const current = accounts.get(sub) ?? account;
        const claims = { sub };
        for (const key of CLAIMS) {
          if (current.claims[key] !== undefined) claims[key] = current.claims[key];
        }
        return claims;
      },
    };
  },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username', 'picture', 'groups'],
    groups: ['groups'],
  },
  scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
  conformIdTokenClaims: !claimsInIdToken,
  pkce: {
    required(ctx, client) {
      return clientSpecs.get(client.clientId)?.requirePkce ?? false;
    },
  },
  jwks: { keys: [signingJwk] },
  features: {
    devInteractions: { enabled: false },
    userinfo: { enabled: true },
    backchannelLogout: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      logoutSource(ctx, form) {
        // the provider's form (with its xsrf field), submitted with logout=yes
        ctx.type = 'html';
        ctx.body = page('Sign out', form.replace('<form ', '<form id="logout-form" ')
          .replace('</form>', '<input type="hidden" name="logout" value="yes"/><button id="confirm-logout" type="submit">Sign out</button></form>'));
      },
      postLogoutSuccessSource(ctx) {
        ctx.type = 'html';
        ctx.body = page('Signed out', '<p id="signed-out">You are signed out.</p>');
      },
    },
  },
  // the SSRF guard refuses special-use addresses such as loopback, where the
  // tests' back-channel logout URIs live: lifted for 127.0.0.1 only
  fetch(url, options) {
    const { hostname } = new URL(url);
    if (hostname !== '127.0.0.1') throw new Error(`the test provider only calls 127.0.0.1, not ${hostname}`);
    const { dispatcher, ...rest } = options;
    return globalThis.fetch(url, rest);
  },
  interactions: {
    url(ctx, interaction) {
      return `/interaction/${interaction.uid}`;
    },
  },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  ttl: {
    IdToken: spec.id_token_ttl ?? 3600,
    AccessToken: spec.access_token_ttl ?? 3600,
    AuthorizationCode: 60,
    Interaction: 600,
    Session: 3600,
    Grant: 3600,
  },
  // errors the provider cannot redirect (unknown client, bad redirect_uri): a plain page
  renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page('Error', `<p id="error">${escape(out.error)}: ${escape(out.error_description ?? '')}</p>`);
  },
};

function escape(text) {
  return String(text)
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

function page(title, body) {
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>${escape(title)} · Test OpenID Provider</title></head>
<body><h1>${escape(title)}</h1>
${body}
</body></html>`;
}

function loginPage(uid, clientId, error) {
  return page('Sign in', `<p>Sign in to continue to <code id="client">${escape(clientId)}</code>.</p>
${error ? `<p id="error">${escape(error)}</p>` : ''}
<form id="login-form" method="post" action="/interaction/${escape(uid)}/login" autocomplete="off">
  <label>Login <input id="login" name="login" type="text" required autofocus></label>
  <label>Password <input id="password" name="password" type="password" required></label>
  <button id="submit" type="submit">Sign in</button>
</form>
<p><a id="abort" href="/interaction/${escape(uid)}/abort">Cancel</a></p>`);
}

function consentPage(uid, clientId, scopes) {
  return page('Authorize', `<p><code id="client">${escape(clientId)}</code> asks for: <span id="scopes">${escape(scopes)}</span></p>
<form id="consent-form" method="post" action="/interaction/${escape(uid)}/confirm">
  <button id="confirm" type="submit">Continue</button>
</form>
<p><a id="abort" href="/interaction/${escape(uid)}/abort">Cancel</a></p>`);
}

async function readForm(ctx, limit = 64 * 1024) {
  let body = '';
  for await (const chunk of ctx.req) {
    body += chunk;
    if (body.length > limit) ctx.throw(413, 'body too large');
  }
  return body;
}

function sameSecret(given, expected) {
  const a = Buffer.from(String(given));
  const b = Buffer.from(String(expected));
  return a.length === b.length && timingSafeEqual(a, b);
}

function findByLogin(login) {
  if (accounts.has(login)) return accounts.get(login);
  for (const account of accounts.values()) {
    if (account.claims.email !== undefined && account.claims.email === login) return account;
  }
  return undefined;
}

// The interaction pages and the test control API, in front of the provider's routes.
async function routes(ctx, next) {
  const path = ctx.path;

  if (path.startsWith('/__test/')) {
    const auth = ctx.get('authorization');
    if (!sameSecret(auth, `Bearer ${controlToken}`)) {
      ctx.status = 401;
      ctx.body = { error: 'control token required' };
      return;
    }
    if (ctx.method === 'GET' && path === '/__test/health') {
      ctx.body = { ok: true };
      return;
    }
    if (ctx.method === 'POST' && path === '/__test/sign') {
      try {
        const { header = {}, claims } = JSON.parse(await readForm(ctx));
        ctx.body = { token: signJwt(header, claims) };
      } catch (e) {
        ctx.status = 400;
        ctx.body = { error: String(e?.message ?? e) };
      }
      return;
    }
    const revoke = /^\/__test\/accounts\/([^/]+)\/revoke-grants$/.exec(path);
    if (ctx.method === 'POST' && revoke) {
      const sub = decodeURIComponent(revoke[1]);
      const ids = [...(grantsByAccount.get(sub) ?? [])];
      for (const id of ids) {
        await provider.RefreshToken.revokeByGrantId(id);
        await provider.AccessToken.revokeByGrantId(id);
        await provider.Grant.adapter.destroy(id);
      }
      grantsByAccount.delete(sub);
      ctx.body = { revoked: ids.length };
      return;
    }
    const m = /^\/__test\/(accounts|clients)\/([^/]+)$/.exec(path);
    if (ctx.method === 'PUT' && m) {
      try {
        const value = JSON.parse(await readForm(ctx));
        const id = decodeURIComponent(m[2]);
        if (m[1] === 'accounts') putAccount({ ...value, sub: id });
        else await putClient({ ...value, client_id: id });
        ctx.status = 204;
      } catch (e) {
        ctx.status = 400;
        ctx.body = { error: String(e?.message ?? e) };
      }
      return;
    }
    ctx.status = 404;
    return;
  }

  const m = /^\/interaction\/([^/]+)(?:\/(login|confirm|abort))?$/.exec(path);
  if (!m) return next();
  const [, , action] = m;
  ctx.set('cache-control', 'no-store');
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const { uid, prompt, params } = details;

  if (!action && ctx.method === 'GET') {
    ctx.type = 'html';
    if (prompt.name === 'login') {
      ctx.body = loginPage(uid, params.client_id);
    } else if (prompt.name === 'consent') {
      ctx.body = consentPage(uid, params.client_id, params.scope);
    } else {
      ctx.throw(501, `prompt ${prompt.name} not implemented`);
    }
    return;
  }

  if (action === 'login' && ctx.method === 'POST') {
    if (prompt.name !== 'login') ctx.throw(400, 'not at the login prompt');
    const form = new URLSearchParams(await readForm(ctx));
    const account = findByLogin(form.get('login') ?? '');
    if (!account || !sameSecret(form.get('password') ?? '', account.password)) {
      ctx.status = 200;
      ctx.type = 'html';
      ctx.body = loginPage(uid, params.client_id, 'Invalid login or password.');
      return;
    }
    await provider.interactionFinished(ctx.req, ctx.res, {
      login: { accountId: account.sub },
    }, { mergeWithLastSubmission: false });
    return;
  }

  if (action === 'confirm' && ctx.method === 'POST') {
    if (prompt.name !== 'consent') ctx.throw(400, 'not at the consent prompt');
    await readForm(ctx);
    const { grantId, session } = details;
    const grant = grantId
      ? await provider.Grant.find(grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const missing = prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    if (missing.missingResourceScopes) {
      for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes)) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
    }
    const result = { consent: { grantId: await grant.save() } };
    await provider.interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: true });
    return;
  }

  if (action === 'abort' && ctx.method === 'GET') {
    await provider.interactionFinished(ctx.req, ctx.res, {
      error: 'access_denied',
      error_description: 'End-User aborted interaction',
    }, { mergeWithLastSubmission: false });
    return;
  }

  ctx.throw(405, 'method not allowed');
}

// Faults for the refusal tests: wrong `aud`, a different `nonce`, an expired
// ID token, an `azp` naming another client.
function installFaults() {
  const { IdToken } = provider;
  const issue = IdToken.prototype.issue;
  IdToken.prototype.issue = async function issueWithFaults(options = {}) {
    const faults = options.use === 'idtoken'
      ? clientSpecs.get(this.client?.clientId)?.faults ?? {}
      : {};
    let opts = options;
    if (typeof faults.id_token_nonce === 'string') {
      this.set('nonce', faults.id_token_nonce);
    }
    if (Number.isInteger(faults.id_token_expired_by) && faults.id_token_expired_by > 0) {
      const now = Math.floor(Date.now() / 1000);
      const exp = now - faults.id_token_expired_by;
      this.set('iat', exp - 300);
      opts = { ...options, expiresAt: exp };
    }
    if (typeof faults.id_token_azp === 'string') {
      this.set('azp', faults.id_token_azp);
    }
    if (typeof faults.id_token_audience === 'string') {
      // the ID token names another client as its audience
      this.client = Object.create(this.client, {
        clientId: { value: faults.id_token_audience },
      });
    }
    return issue.call(this, opts);
  };
}

async function main() {
  const { port: wanted = 0 } = spec;
  // bind first: the issuer must name the real port
  const { createServer } = await import('node:http');
  const server = createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(wanted, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  // `issuer_host: "localhost"` puts the provider on another site than a
  // Tessera on 127.0.0.1, as in real life (SameSite cookies see the difference)
  const host = spec.issuer_host ?? '127.0.0.1';
  if (!['127.0.0.1', 'localhost'].includes(host)) throw new Error('issuer_host: 127.0.0.1 or localhost');
  const issuer = `http://${host}:${port}`;

  provider = new Provider(issuer, configuration);
  provider.proxy = false;
  provider.on('server_error', (ctx, err) => console.error('server_error', err));
  // a logout token the client did not accept (the provider itself goes on)
  provider.on('backchannel.error', (ctx, err, client) => console.error(`backchannel.error ${client.clientId}: ${err?.message ?? err}`));
  // refresh-token grants, one line each (on stderr, the log tests read)
  provider.on('grant.success', (ctx) => {
    if (ctx.oidc.params?.grant_type === 'refresh_token') console.error(`refresh_token.granted ${ctx.oidc.client?.clientId}`);
  });
  provider.on('grant.error', (ctx, err) => console.error(`grant.error ${ctx.oidc.params?.grant_type}: ${err?.message ?? err}`));
  provider.on('grant.saved', (grant) => {
    if (!grantsByAccount.has(grant.accountId)) grantsByAccount.set(grant.accountId, new Set());
    grantsByAccount.get(grant.accountId).add(grant.jti);
  });
  installFaults();
  provider.use(routes);

  for (const account of spec.accounts ?? []) putAccount(account);
  for (const client of spec.clients ?? []) await putClient(client);

  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer, port, control_token: controlToken })}\n`);

  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}

main().catch((e) => {
  console.error(`oidc provider failed to start: ${e?.stack ?? e}`);
  process.exit(1);
});
