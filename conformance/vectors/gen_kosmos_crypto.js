const crypto = require('crypto');
// node gen_kosmos_crypto.js [secp256k1|prime256v1] > kosmos_crypto[_prime256v1].json
const CURVE = process.argv[2] || 'secp256k1';
const b64 = (b) => Buffer.from(b).toString('base64');
function pub(privB64) {
  const e = crypto.createECDH(CURVE);
  let p = Buffer.from(privB64, 'base64');
  if (p.length === 33) p = p.slice(1);
  if (p.length < 32) p = Buffer.concat([Buffer.alloc(32 - p.length), p]);
  e.setPrivateKey(p);
  return e;
}
// Scalars chosen by hand: a 31-byte one (top byte zero) and a 33-byte one (leading 0x00).
const a31 = Buffer.from('11'.repeat(31), 'hex');
const b33 = Buffer.concat([Buffer.from([0]), Buffer.from('c0ffee'.repeat(10) + 'ab01', 'hex')]);
const vendor = 'q10WnF32y2ViAbHJfv7kGwU+6vinvZPFOqerTQeyygw=';
const out = { source: 'Generated with Node.js ' + process.version + ' crypto (createECDH ' + CURVE + ', aes-256-gcm), an implementation independent of eventclient', keypairs: [], ecdh: [], aesgcm: [] };
for (const [name, k] of [['vendor helper README pair', vendor], ['31-byte private key', b64(a31)], ['33-byte private key with leading 0x00', b64(b33)]]) {
  out.keypairs.push({ name, privateKey: k, publicKey: b64(pub(k).getPublicKey().slice(1)) });
}
const kp = out.keypairs;
for (const [i, j] of [[0, 1], [1, 2], [0, 2]]) {
  out.ecdh.push({ privateKey: kp[i].privateKey, publicKey: kp[j].publicKey, peerPrivateKey: kp[j].privateKey, peerPublicKey: kp[i].publicKey,
    sharedKey: b64(pub(kp[i].privateKey).computeSecret(Buffer.from(kp[j].publicKey, 'base64').length === 64 ? Buffer.concat([Buffer.from([4]), Buffer.from(kp[j].publicKey, 'base64')]) : null)) });
}
const key = Buffer.from(out.ecdh[0].sharedKey, 'base64');
const cases = [
  ['license key', '0d5b9a4e-7c41-4f3e-9a6b-2f1c8d7e6a50', Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex')],
  ['request id JSON', '{"ts":1700000000,"uuid":"7f1d2c3b-4a5e-4f60-8172-93a4b5c6d7e8","appid":"com.example.app"}', Buffer.from('ffeeddccbbaa99887766554433221100', 'hex')],
  ['16 ASCII hex characters as IV (one vendor helper)', '{"type":"event","epoch_time":1318781876}', Buffer.from('a1b2c3d4e5f60718', 'ascii')],
  ['empty plaintext', '', Buffer.from('0123456789abcdef0123456789abcdef', 'hex')],
];
for (const [name, text, iv] of cases) {
  const c = crypto.createCipheriv('aes-256-gcm', key, iv);
  const ct = Buffer.concat([c.update(text, 'utf8'), c.final()]);
  out.aesgcm.push({ name, key: b64(key), iv: b64(iv), plaintext: text, token: b64(Buffer.concat([iv, ct, c.getAuthTag()])) });
}
console.log(JSON.stringify(out, null, 2));
