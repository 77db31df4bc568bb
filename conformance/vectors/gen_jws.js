// Regenerate jws_rsa.json: node conformance/vectors/gen_jws.js > conformance/vectors/jws_rsa.json
// RSASSA-PKCS1-v1_5 is deterministic, so an independent signer must reproduce these signatures exactly.
const crypto = require('crypto');
const b64url = (b) => Buffer.from(b).toString('base64url');
const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 65537 });
const out = {
  source: 'Generated with Node.js ' + process.version + ' crypto (generateKeyPairSync rsa 2048, sign RSA-SHA*), an implementation independent of eventclient and pyjwt',
  privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }),
  publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }),
  jws: [],
};
const payload = JSON.stringify({ eventSourceId: 'vector-feed', eventType: 'VectorEvent', data: { n: 1, text: 'caf\u00e9' } });
for (const [alg, hash] of [['RS256', 'sha256'], ['RS384', 'sha384'], ['RS512', 'sha512']]) {
  const header = JSON.stringify({ alg });
  const signingInput = b64url(header) + '.' + b64url(payload);
  const signature = crypto.sign(hash, Buffer.from(signingInput), privateKey);
  out.jws.push({ alg, header, payload, token: signingInput + '.' + b64url(signature) });
}
console.log(JSON.stringify(out, null, 2));
