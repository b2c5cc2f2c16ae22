// A relying party built on panva's openid-client (an OpenID Certified RP library),
// driven by tests/interop/test_openid_client.py against the provider on loopback.
//
// Protocol on the pipes (one JSON document per line):
//   stdin  1: {"issuer", "client_id", "client_secret"?, "auth_method", "private_jwk"?,
//              "id_token_alg"?, "redirect_uri", "post_logout_redirect_uri", "scope", "client_credentials",
//              "authorize_params"? (more authorization request parameters, e.g. prompt)}
//   stdout  : {"step": "authorize", "url"}   -> the test plays the browser ...
//   stdin  2: {"callback": "<the URL the provider redirected to>"}
//   stdout  : {"step": "end_session", "url", "state"} -> ... and follows this one
//   stdout  : {"step": "done", ...everything openid-client returned}
//   stdout  : {"step": "error", "name", "code", "message", "error", "cause"} when the library refuses
//
// Every check is openid-client's own (issuer, `iss` in the authorization response,
// state, PKCE, ID token signature and claims, userinfo subject); this script only
// reports what came back so the test can assert on it.

import * as client from 'openid-client'
import { createInterface } from 'node:readline'

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]()

async function readJson() {
  const { value, done } = await lines.next()
  if (done) throw new Error('stdin closed before the test answered')
  return JSON.parse(value)
}

function emit(step, payload = {}) {
  process.stdout.write(JSON.stringify({ step, ...payload }) + '\n')
}

async function clientAuth(settings) {
  switch (settings.auth_method) {
    case 'client_secret_basic':
      return client.ClientSecretBasic(settings.client_secret)
    case 'client_secret_post':
      return client.ClientSecretPost(settings.client_secret)
    case 'private_key_jwt': {
      const jwk = settings.private_jwk
      const key = await crypto.subtle.importKey('jwk', jwk, { name: 'ECDSA', namedCurve: jwk.crv }, false, ['sign'])
      return client.PrivateKeyJwt({ key, kid: jwk.kid })
    }
    case 'none':
      return client.None()
    default:
      throw new Error(`unknown auth method ${settings.auth_method}`)
  }
}

async function main() {
  const settings = await readJson()
  const metadata = { redirect_uris: [settings.redirect_uri], token_endpoint_auth_method: settings.auth_method }
  if (settings.client_secret) metadata.client_secret = settings.client_secret
  if (settings.id_token_alg) metadata.id_token_signed_response_alg = settings.id_token_alg

  // http is allowed only because the issuer is a loopback test server.
  const config = await client.discovery(new URL(settings.issuer), settings.client_id, metadata,
    await clientAuth(settings), { execute: [client.allowInsecureRequests], timeout: 10 })
  const server = config.serverMetadata()

  const codeVerifier = client.randomPKCECodeVerifier()
  const nonce = client.randomNonce()
  const state = client.randomState()
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: settings.redirect_uri,
    scope: settings.scope,
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    nonce,
    state,
    ...(settings.authorize_params ?? {}),
  })
  emit('authorize', { url: url.href })

  const { callback } = await readJson()
  const tokens = await client.authorizationCodeGrant(config, new URL(callback), {
    pkceCodeVerifier: codeVerifier,
    expectedNonce: nonce,
    expectedState: state,
    idTokenExpected: true,
  })
  const idClaims = tokens.claims()
  const idHeader = JSON.parse(Buffer.from(tokens.id_token.split('.')[0], 'base64url'))
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, idClaims.sub)

  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token)
  const refreshedUserinfo = await client.fetchUserInfo(config, refreshed.access_token, idClaims.sub)

  let introspection = null
  let afterRevocation = null
  if (settings.auth_method !== 'none') {
    // The provider offers introspection to confidential portals only (discovery says which methods).
    introspection = await client.tokenIntrospection(config, refreshed.access_token)
  }
  await client.tokenRevocation(config, refreshed.refresh_token, { token_type_hint: 'refresh_token' })
  if (settings.auth_method !== 'none') {
    afterRevocation = await client.tokenIntrospection(config, refreshed.access_token)
  }

  const logoutState = client.randomState()
  const endSession = client.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token,
    post_logout_redirect_uri: settings.post_logout_redirect_uri,
    state: logoutState,
  })
  emit('end_session', { url: endSession.href, state: logoutState })

  let clientCredentials = null
  if (settings.client_credentials) {
    const grant = await client.clientCredentialsGrant(config)
    clientCredentials = {
      token_type: grant.token_type,
      expires_in: grant.expiresIn(),
      scope: grant.scope ?? null,
      has_refresh_token: 'refresh_token' in grant,
      has_id_token: 'id_token' in grant,
      introspection: await client.tokenIntrospection(config, grant.access_token),
    }
  }

  emit('done', {
    server: { issuer: server.issuer, supports_pkce: server.supportsPKCE() },
    authorize: { nonce, state },
    tokens: {
      token_type: tokens.token_type,
      expires_in: tokens.expiresIn(),
      scope: tokens.scope,
      has_refresh_token: typeof tokens.refresh_token === 'string',
    },
    id_token: { header: idHeader, claims: idClaims },
    userinfo,
    refreshed: {
      rotated: refreshed.refresh_token !== tokens.refresh_token,
      new_access_token: refreshed.access_token !== tokens.access_token,
      id_token_claims: refreshed.id_token ? refreshed.claims() : null,
      userinfo: refreshedUserinfo,
    },
    introspection,
    after_revocation: afterRevocation,
    client_credentials: clientCredentials,
  })
}

try {
  await main()
  process.exit(0)
} catch (err) {
  emit('error', {
    name: err?.name, code: err?.code, message: String(err?.message ?? err),
    error: err?.error, error_description: err?.error_description, status: err?.status,
    cause: err?.cause === undefined ? null : (err.cause instanceof Error ? String(err.cause) : err.cause),
  })
  process.exit(1)
}
