// The Land's service account (Servicekonto), played by oidc-provider for the federation tests.
//
// A real, independent OpenID Connect provider on loopback. It knows a few test citizens who sign
// in at different assurance levels (eIDAS URIs and STORK-QAA levels), registers the Bürgerkonto
// as a client with back-channel logout, and has an admin interface (/admin/*, JSON) through which a
// test makes it misbehave the way a real upstream can: rotate its signing key, sign with a key it
// never published, put wrong claims into otherwise valid ID tokens, stop answering in time, or pad
// its token responses beyond any sensible size.
//
// Configuration comes from the environment (see `settings` below); the script prints
// "upstream listening <issuer>" once it accepts connections.

import http from 'node:http';
import { randomUUID } from 'node:crypto';

import * as jose from 'jose';
import Provider from 'oidc-provider';

const settings = {
  port: Number(process.env.UPSTREAM_PORT),
  redirectUri: process.env.UPSTREAM_CLIENT_REDIRECT_URI,
  postLogoutRedirectUri: process.env.UPSTREAM_CLIENT_POST_LOGOUT_URI,
  backchannelLogoutUri: process.env.UPSTREAM_CLIENT_BACKCHANNEL_URI,
  clientId: process.env.UPSTREAM_CLIENT_ID || 'buergerkonto',
  clientSecret: process.env.UPSTREAM_CLIENT_SECRET,
  // Public JWK (JSON) of a second client that authenticates with private_key_jwt.
  keyClientJwk: process.env.UPSTREAM_KEY_CLIENT_JWK ? JSON.parse(process.env.UPSTREAM_KEY_CLIENT_JWK) : null,
};
const issuer = `http://127.0.0.1:${settings.port}`;

const EIDAS = 'http://eidas.europa.eu/LoA/';

// Test citizens: login name -> password, how they authenticate, and what the eID (or the
// self-registration, at level low) says about them.
const citizens = {
  erika: {
    password: 'eid-123456', acr: `${EIDAS}high`, amr: ['hwk', 'pin'],
    claims: {
      given_name: 'Erika', family_name: 'Mustermann', birthdate: '1964-08-12',
      email: 'erika.mustermann@servicekonto.example', email_verified: true,
      address: { street_address: 'Heidestraße 17', postal_code: '51147', locality: 'Köln', country: 'DE' },
    },
  },
  max: {
    password: 'elster-123456', acr: 'STORK-QAA-Level-3', amr: ['swk', 'pin'],
    claims: {
      given_name: 'Max', family_name: 'Meier', birthdate: '1980-01-31',
      email: 'max.meier@servicekonto.example', email_verified: true,
    },
  },
  lena: {
    password: 'passwort-123456', acr: `${EIDAS}low`, amr: ['pwd'],
    claims: { given_name: 'Lena', family_name: 'Schulz', email: 'lena@servicekonto.example', email_verified: false },
  },
  otto: {
    password: 'eid-654321', acr: 'STORK-QAA-Level-4', amr: ['hwk', 'pin'],
    claims: { given_name: 'Otto', family_name: 'Normalverbraucher', birthdate: '1950-05-05' },
  },
};

// --- signing keys -------------------------------------------------------------------------------

async function newKey(kid) {
  const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
  const jwk = await jose.exportJWK(privateKey);
  return { ...jwk, kid: kid || randomUUID(), alg: 'RS256', use: 'sig' };
}

// The first key signs; the others stay published so tokens issued before a rotation still verify.
let keys = [await newKey()];

// --- misbehaviour switches (reset by /admin/reset) -------------------------------------------------

const modes = { delayMs: 0, foreignKey: null, tamper: null, padBytes: 0 };
let lastAuthorization = null;
const backchannelLog = [];

async function resign(idToken, overrides, key) {
  const claims = { ...jose.decodeJwt(idToken), ...overrides };
  for (const [name, value] of Object.entries(claims)) if (value === null) delete claims[name];
  const header = jose.decodeProtectedHeader(idToken);
  return new jose.SignJWT(claims).setProtectedHeader({ ...header, kid: key.kid }).sign(await jose.importJWK(key, 'RS256'));
}

// --- the provider --------------------------------------------------------------------------------

function clients() {
  const list = [{
    client_id: settings.clientId,
    client_secret: settings.clientSecret,
    redirect_uris: [settings.redirectUri],
    post_logout_redirect_uris: [settings.postLogoutRedirectUri],
    backchannel_logout_uri: settings.backchannelLogoutUri,
    backchannel_logout_session_required: true,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }];
  if (settings.keyClientJwk) {
    list.push({
      client_id: `${settings.clientId}-key`,
      redirect_uris: [settings.redirectUri],
      post_logout_redirect_uris: [settings.postLogoutRedirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'RS256',
      jwks: { keys: [settings.keyClientJwk] },
    });
  }
  return list;
}

function buildProvider() {
  const provider = new Provider(issuer, {
    clients: clients(),
    jwks: { keys },
    cookies: { keys: ['servicekonto-test-cookie-key'] },
    acrValues: [`${EIDAS}low`, `${EIDAS}substantial`, `${EIDAS}high`,
      'STORK-QAA-Level-1', 'STORK-QAA-Level-2', 'STORK-QAA-Level-3', 'STORK-QAA-Level-4'],
    claims: {
      openid: ['sub'],
      amr: null,
      email: ['email', 'email_verified'],
      profile: ['given_name', 'family_name', 'birthdate'],
      address: ['address'],
    },
    features: {
      devInteractions: { enabled: false },
      claimsParameter: { enabled: true },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: { enabled: true },
    },
    pkce: { required: () => true },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(ctx, id) {
      const citizen = citizens[id];
      if (!citizen) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, ...citizen.claims }) };
    },
    // The Bürgerkonto is a first-party client: no consent screen.
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope('openid email profile address');
      await grant.save();
      return grant;
    },
    // oidc-provider refuses outgoing requests to loopback addresses (SSRF protection); in this
    // harness the Bürgerkonto's back-channel logout endpoint is on loopback by design.
    fetch: (url, options) => {
      const { dispatcher, ...rest } = options;
      return globalThis.fetch(url, rest);
    },
    renderError(ctx, out) {
      ctx.type = 'json';
      ctx.body = out;
    },
  });
  provider.on('backchannel.success', (ctx, client, accountId, sid) => backchannelLog.push({ ok: true, client: client.clientId, sid }));
  provider.on('backchannel.error', (ctx, err, client, accountId, sid) => backchannelLog.push({ ok: false, client: client.clientId, sid, error: String(err), cause: String(err.cause) }));
  provider.use(async (ctx, next) => {
    if (ctx.path === '/auth' && ctx.method === 'GET') lastAuthorization = Object.fromEntries(new URLSearchParams(ctx.querystring));
    await next();
    // As an upstream that follows RFC 10070: a client assertion is for the issuer identifier
    // alone. (oidc-provider also takes its endpoints' URLs; the answer is replaced afterwards.)
    const assertion = ctx.path === '/token' && ctx.oidc && ctx.oidc.body && ctx.oidc.body.client_assertion;
    if (assertion) {
      const { aud } = jose.decodeJwt(assertion);
      if (aud !== issuer && !(Array.isArray(aud) && aud.length === 1 && aud[0] === issuer)) {
        ctx.status = 401;
        ctx.body = { error: 'invalid_client', error_description: 'aud must be the issuer identifier alone' };
        return;
      }
    }
    if (ctx.path === '/token' && ctx.body && ctx.body.id_token) {
      if (modes.tamper) ctx.body.id_token = await resign(ctx.body.id_token, modes.tamper, keys[0]);
      if (modes.foreignKey) ctx.body.id_token = await resign(ctx.body.id_token, {}, modes.foreignKey);
      if (modes.padBytes) ctx.body.padding = 'x'.repeat(modes.padBytes);
    }
  });
  return provider;
}

let provider = buildProvider();

// --- the citizen's pages: login (or cancel) -----------------------------------------------------------

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString()));
}

function page(res, status, html) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`<!doctype html><html lang="de"><head><title>Servicekonto</title></head><body>${html}</body></html>`);
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return page(res, 400, '<p>Unbekannte Anmeldung.</p>');
  if (req.method === 'GET') {
    if (details.prompt.name !== 'login') {
      // Anything else (consent) is granted: the Bürgerkonto is a first-party client.
      const grant = new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
      const missing = details.prompt.details;
      if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
      if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
      const grantId = await grant.save();
      return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    }
    return page(res, 200, `<h1>Servicekonto des Landes</h1>
      <p>Angefragtes Niveau: <span id="acr-values">${escape(details.params.acr_values || '')}</span></p>
      <form method="post" action="/interaction/${uid}/login">
        <label for="login">Benutzername</label><input id="login" name="login" autocomplete="username">
        <label for="password">Passwort oder PIN</label><input id="password" name="password" type="password">
        <button type="submit">Anmelden</button>
      </form>
      <form method="post" action="/interaction/${uid}/abort"><button type="submit">Abbrechen</button></form>`);
  }
  const form = await readForm(req);
  if (action === 'abort') {
    return provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'Anmeldung abgebrochen' },
      { mergeWithLastSubmission: false });
  }
  const citizen = citizens[form.login];
  if (!citizen || citizen.password !== form.password) return page(res, 401, '<p>Benutzername oder Passwort falsch.</p>');
  return provider.interactionFinished(req, res, {
    login: { accountId: form.login, acr: citizen.acr, amr: citizen.amr },
  }, { mergeWithLastSubmission: false });
}

// --- admin interface for the tests ------------------------------------------------------------------

async function admin(req, res, name) {
  const body = req.method === 'POST' ? JSON.parse((await readJson(req)) || '{}') : {};
  const reply = (data) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(JSON.stringify(data)); };
  switch (name) {
    case 'reset':
      Object.assign(modes, { delayMs: 0, foreignKey: null, tamper: null, padBytes: 0 });
      backchannelLog.length = 0;
      lastAuthorization = null;
      return reply({ ok: true });
    case 'rotate':
      // A new signing key; the old ones stay published (like any careful provider).
      keys = [await newKey(), ...keys];
      provider = buildProvider();
      return reply({ kid: keys[0].kid, published: keys.map((k) => k.kid) });
    case 'foreign-key':
      // Sign ID tokens with a key nobody published, under the kid of the real one.
      modes.foreignKey = body.on === false ? null : await newKey(body.kid || keys[0].kid);
      return reply({ kid: keys[0].kid });
    case 'tamper':
      modes.tamper = body.claims || null;
      return reply({ tamper: modes.tamper });
    case 'pad':
      // An oversized token response (a broken proxy, say): a member of this many bytes added.
      modes.padBytes = Number(body.bytes) || 0;
      return reply({ padBytes: modes.padBytes });
    case 'delay':
      modes.delayMs = Number(body.ms) || 0;
      return reply({ delayMs: modes.delayMs });
    case 'sign': {
      // A token signed with the upstream's real current key (for logout-token tests).
      const key = body.foreign ? await newKey(keys[0].kid) : keys[0];
      const jwt = await new jose.SignJWT(body.claims)
        .setProtectedHeader({ alg: 'RS256', kid: key.kid, ...(body.header || {}) })
        .sign(await jose.importJWK(key, 'RS256'));
      return reply({ jwt });
    }
    case 'last-authorization':
      return reply(lastAuthorization || {});
    case 'backchannel':
      return reply(backchannelLog);
    default:
      res.writeHead(404); return res.end();
  }
}

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString();
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, issuer);
    const adminMatch = url.pathname.match(/^\/admin\/([a-z-]+)$/);
    if (adminMatch) return await admin(req, res, adminMatch[1]);
    if (modes.delayMs) await new Promise((resolve) => setTimeout(resolve, modes.delayMs));
    const interactionMatch = url.pathname.match(/^\/interaction\/([^/]+)(?:\/(login|abort))?$/);
    if (interactionMatch) return await interaction(req, res, interactionMatch[1], interactionMatch[2]);
    return provider.callback()(req, res);
  } catch (err) {
    console.error(err);
    if (!res.headersSent) { res.writeHead(500, { 'content-type': 'text/plain' }); }
    res.end(String(err));
  }
});

server.listen(settings.port, '127.0.0.1', () => {
  console.log(`upstream listening ${issuer}`);
});
