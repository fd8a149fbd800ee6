// SPDX-License-Identifier: GPL-3.0-or-later
//
// An independent implementation of Assay's protocol-v1 signatures and result payloads
// (docs PROTOCOL.md), on node's built-in node:crypto only, to cross-check the C one.
//
//   node node-crypto.mjs make N     prints N fresh vectors as JSONL, in the format of
//                                   shared/vectors/protocol-v1.jsonl
//   node node-crypto.mjs check FILE checks every vector of FILE (made by Assay, or any
//                                   other implementation); exits 1 on the first failure
//   node node-crypto.mjs verify-job FILE|-
//                                   checks one job (plain JSON, a DynamoDB item, or what
//                                   `aws dynamodb get-item` prints): the forms of the seven
//                                   signed fields, then the signature over their
//                                   JSON.stringify with the client id's key; prints "valid"
import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  randomUUID,
  sign,
  verify,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import process from 'node:process';

const HKDF_LABEL = 'assay/result/v1';
const SEVEN = ['id', 'version', 'created', 'bucket', 'region', 'file', 'client'];
const UUID4 = '[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}';
const FORMS = {
  id: new RegExp(`^job-${UUID4}$`),
  version: /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/,
  created: /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/,
  bucket: /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
  region: /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/,
  file: new RegExp(`^file-${UUID4}$`),
  client: /^client-04[0-9a-f]{128}$/,
  signature: /^(?:[0-9a-f]{2})+$/,
};
const RESULT_ID = new RegExp(`^result-${UUID4}$`);
const PAYLOAD = /^([0-9a-f]{130}):([0-9a-f]{24}):([0-9a-f]{32}):((?:[0-9a-f]{2})*)$/;

const b64url = (hex) => Buffer.from(hex, 'hex').toString('base64url');
const hexOf = (b64) => Buffer.from(b64, 'base64url').toString('hex');

// SEC1 uncompressed point (65 bytes) <-> KeyObject, through JWK.
function pointOf(key) {
  const jwk = key.export({ format: 'jwk' });
  return Buffer.from('04' + hexOf(jwk.x).padStart(64, '0') + hexOf(jwk.y).padStart(64, '0'), 'hex');
}

function publicKeyOfPoint(point) {
  if (point.length !== 65 || point[0] !== 0x04) throw new Error('not an uncompressed P-256 point');
  const hex = point.toString('hex');
  return createPublicKey({
    key: { kty: 'EC', crv: 'P-256', x: b64url(hex.slice(2, 66)), y: b64url(hex.slice(66)) },
    format: 'jwk',
  });
}

const clientIdOf = (key) => 'client-' + pointOf(key).toString('hex');
const publicKeyOfClient = (client) => publicKeyOfPoint(Buffer.from(client.slice(7), 'hex'));

function signedMessage(job) {
  const seven = {};
  for (const k of SEVEN) seven[k] = job[k];
  return JSON.stringify(seven);
}

function resultKey(z, e, q) {
  const info = Buffer.concat([Buffer.from(HKDF_LABEL, 'utf8'), e, q]);
  return Buffer.from(hkdfSync('sha256', z, Buffer.alloc(0), info, 32));
}

function encrypt(recipient, resultId, plaintext) {
  const ephemeral = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const e = pointOf(ephemeral.publicKey);
  const q = pointOf(recipient);
  const z = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: recipient });
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', resultKey(z, e, q), iv, { authTagLength: 16 });
  cipher.setAAD(Buffer.from(resultId, 'utf8'));
  const c = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const tag = cipher.getAuthTag();
  return [e, iv, tag, c].map((b) => b.toString('hex')).join(':');
}

function decrypt(privateKey, resultId, payload) {
  const m = PAYLOAD.exec(payload);
  if (!m) throw new Error('payload is not E:IV:TAG:C in lowercase hex of the right sizes');
  const [e, iv, tag, c] = m.slice(1).map((h) => Buffer.from(h, 'hex'));
  const z = diffieHellman({ privateKey, publicKey: publicKeyOfPoint(e) });
  const q = pointOf(createPublicKey(privateKey));
  const decipher = createDecipheriv('aes-256-gcm', resultKey(z, e, q), iv, { authTagLength: 16 });
  decipher.setAAD(Buffer.from(resultId, 'utf8'));
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(c), decipher.final()]);
}

function make(n) {
  for (let i = 0; i < n; i++) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const job = {
      id: `job-${randomUUID()}`,
      version: `${i + 1}.${i * 3}.${i * 7}${i % 2 ? '-rc.1' : ''}`,
      created: new Date(Date.now() - i * 1000).toISOString(),
      bucket: 'assay-test-bucket',
      region: 'eu-west-1',
      file: `file-${randomUUID()}`,
      client: clientIdOf(publicKey),
    };
    const message = signedMessage(job);
    job.signature = sign('sha256', Buffer.from(message, 'utf8'), {
      key: privateKey,
      dsaEncoding: 'der',
    }).toString('hex');
    const resultId = `result-${randomUUID()}`;
    // sizes 0, then growing; non-ASCII to exercise UTF-8
    const plaintext =
      i === 0
        ? ''
        : JSON.stringify({
            job: job.id,
            result: { size: i * 1000, note: `node vector ${i} é☃`, pad: 'x'.repeat(i * 37) },
          });
    const vector = {
      private_pkcs8_pem: privateKey.export({ type: 'pkcs8', format: 'pem' }),
      private_scalar_hex: hexOf(privateKey.export({ format: 'jwk' }).d).padStart(64, '0'),
      job,
      signed_message: message,
      result_id: resultId,
      plaintext,
      payload: encrypt(publicKey, resultId, Buffer.from(plaintext, 'utf8')),
    };
    process.stdout.write(JSON.stringify(vector) + '\n');
  }
}

function fail(line, what) {
  console.error(`node-crypto check: vector on line ${line}: ${what}`);
  process.exit(1);
}

function check(path) {
  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l !== '');
  if (lines.length === 0) fail(0, `${path} has no vectors`);
  lines.forEach((text, index) => {
    const line = index + 1;
    let v;
    try {
      v = JSON.parse(text);
    } catch (e) {
      fail(line, `not JSON: ${e.message}`);
    }
    const job = v.job ?? fail(line, 'no job');
    for (const [k, re] of Object.entries(FORMS)) {
      if (typeof job[k] !== 'string' || !re.test(job[k]))
        fail(line, `job.${k} ${JSON.stringify(job[k])} is not of its form`);
    }
    if (!RESULT_ID.test(v.result_id ?? ''))
      fail(line, `result_id ${v.result_id} is not of its form`);

    const message = signedMessage(job);
    if (message !== v.signed_message) {
      fail(line, 'signed_message is not JSON.stringify of the seven fields:\n' +
        `  got      ${v.signed_message}\n  expected ${message}`);
    }

    if (!String(v.private_pkcs8_pem).startsWith('-----BEGIN PRIVATE KEY-----\n'))
      fail(line, 'private_pkcs8_pem is not PKCS#8 PEM');
    let privateKey;
    try {
      privateKey = createPrivateKey({ key: v.private_pkcs8_pem, format: 'pem' });
    } catch (e) {
      fail(line, `private_pkcs8_pem does not load: ${e.message}`);
    }
    if (privateKey.asymmetricKeyType !== 'ec' ||
        privateKey.asymmetricKeyDetails.namedCurve !== 'prime256v1')
      fail(line, 'private_pkcs8_pem is not a P-256 key');
    const scalar = hexOf(privateKey.export({ format: 'jwk' }).d).padStart(64, '0');
    if (scalar !== v.private_scalar_hex)
      fail(line, `private_scalar_hex ${v.private_scalar_hex} is not the PEM's scalar ${scalar}`);
    if (clientIdOf(createPublicKey(privateKey)) !== job.client)
      fail(line, "job.client is not the PEM key's public key");

    const publicKey = publicKeyOfClient(job.client);
    const signature = Buffer.from(job.signature, 'hex');
    const ok = (msg, sig) =>
      verify('sha256', Buffer.from(msg, 'utf8'), { key: publicKey, dsaEncoding: 'der' }, sig);
    if (!ok(message, signature))
      fail(line, 'the signature does not verify over signed_message with job.client');
    // the check is not vacuous: a changed message or signature fails
    if (ok(message + ' ', signature)) fail(line, 'a changed message verifies');
    const bad = Buffer.from(signature);
    bad[bad.length - 1] ^= 0x01;
    if (ok(message, bad)) fail(line, 'a changed signature verifies');

    let plaintext;
    try {
      plaintext = decrypt(privateKey, v.result_id, v.payload);
    } catch (e) {
      fail(line, `the payload does not decrypt: ${e.message}`);
    }
    if (!plaintext.equals(Buffer.from(v.plaintext, 'utf8')))
      fail(line, 'the payload decrypts to another plaintext');
    const otherId = v.result_id.slice(0, -1) + (v.result_id.endsWith('0') ? '1' : '0');
    let accepted = true;
    try {
      decrypt(privateKey, otherId, v.payload);
    } catch {
      accepted = false;
    }
    if (accepted) fail(line, 'the payload decrypts under another result id');
  });
  console.log(`node-crypto check: ${lines.length} vectors of ${path} pass`);
}

// A DynamoDB item ({"id": {"S": …}, "chunks": {"N": …}}) as plain JSON.
function plainOfItem(item) {
  const plain = {};
  for (const [name, value] of Object.entries(item)) {
    const types = Object.keys(value ?? {});
    if (types.length !== 1) throw new Error(`attribute ${name} is not one typed value`);
    plain[name] = types[0] === 'N' ? Number(value.N) : value[types[0]];
  }
  return plain;
}

function verifyJob(path) {
  const die = (what) => {
    console.error(`node-crypto verify-job: ${what}`);
    process.exit(1);
  };
  let job;
  try {
    job = JSON.parse(readFileSync(path === '-' ? '/dev/stdin' : path, 'utf8'));
  } catch (e) {
    die(`not JSON: ${e.message}`);
  }
  if (job?.Item !== undefined) job = job.Item;
  if (typeof job?.id === 'object') {
    try {
      job = plainOfItem(job);
    } catch (e) {
      die(e.message);
    }
  }
  for (const [k, re] of Object.entries(FORMS)) {
    if (typeof job[k] !== 'string' || !re.test(job[k]))
      die(`job.${k} ${JSON.stringify(job[k])} is not of its form`);
  }
  const message = signedMessage(job);
  const publicKey = publicKeyOfClient(job.client);
  const signature = Buffer.from(job.signature, 'hex');
  const ok = (msg, sig) =>
    verify('sha256', Buffer.from(msg, 'utf8'), { key: publicKey, dsaEncoding: 'der' }, sig);
  if (!ok(message, signature)) die(`the signature does not verify over ${message}`);
  // not vacuous: a changed message or signature fails
  if (ok(message.replace(job.bucket, job.bucket + 'x'), signature)) die('a changed job verifies');
  const bad = Buffer.from(signature);
  bad[bad.length - 1] ^= 0x01;
  if (ok(message, bad)) die('a changed signature verifies');
  console.log('valid');
}

const [command, arg] = process.argv.slice(2);
if (command === 'make' && /^[1-9]\d*$/.test(arg ?? '')) make(Number(arg));
else if (command === 'check' && arg) check(arg);
else if (command === 'verify-job' && arg) verifyJob(arg);
else {
  console.error('usage: node node-crypto.mjs make N | check FILE | verify-job FILE|-');
  process.exit(2);
}
