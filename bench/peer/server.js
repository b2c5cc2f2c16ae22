// The benchmark's peer: node-oidc-provider (OpenID Certified) on loopback.
//
// One confidential client with client_credentials, the in-memory adapter, and as
// many cluster workers as the Bürgerkonto service runs. Started by bench/runner.py:
//   node server.js PORT WORKERS opaque|jwt CLIENT_ID CLIENT_SECRET
// Access tokens are opaque by default; "jwt" turns on resource indicators with a
// default resource whose tokens are ES256-signed JWTs, so like is compared with like.
import cluster from 'node:cluster';
import crypto from 'node:crypto';
import http from 'node:http';

const [port, workers, format, clientId, clientSecret] = process.argv.slice(2);

if (cluster.isPrimary) {
  // One signing key for all workers (tokens of one worker verify at another).
  const jwk = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  const env = { BENCH_JWK: JSON.stringify({ ...jwk, alg: 'ES256', use: 'sig', kid: 'bench-es256' }) };
  let ready = 0;
  for (let i = 0; i < Number(workers); i += 1) {
    cluster.fork(env).on('listening', () => {
      ready += 1;
      if (ready === Number(workers)) console.log(`peer ready on 127.0.0.1:${port} with ${workers} workers`);
    });
  }
  cluster.on('exit', (worker, code) => {
    console.error(`peer worker ${worker.process.pid} exited with ${code}`);
  });
  process.on('SIGTERM', () => {
    for (const worker of Object.values(cluster.workers)) worker.kill();
    process.exit(0);
  });
} else {
  const { default: Provider } = await import('oidc-provider');
  const features = {
    clientCredentials: { enabled: true },
    devInteractions: { enabled: false },
    introspection: { enabled: true },
  };
  if (format === 'jwt') {
    features.resourceIndicators = {
      enabled: true,
      defaultResource: () => 'urn:bench:api',
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'api',
        audience: 'urn:bench:api',
        accessTokenTTL: 300,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'ES256' } },
      }),
    };
  }
  const provider = new Provider(`http://127.0.0.1:${port}`, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES256',
    }],
    features,
    scopes: ['openid', 'api'],
    ttl: { ClientCredentials: 300 },
    jwks: { keys: [JSON.parse(process.env.BENCH_JWK)] },
    cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  });
  provider.on('server_error', (ctx, err) => console.error('peer server_error', err));
  http.createServer(provider.callback()).listen(Number(port), '127.0.0.1');
}
