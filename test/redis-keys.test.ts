// The feature store's key scheme, hash encoding and URL redaction, in-process (no server).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { newRunId, storeKey } from '../src/store/keys.js';
import { hashFields, recordFromHash, type StoreSpec } from '../src/store/redis.js';
import { checkRedisUrl, databaseOf, reconnectAttempts, redactUrl } from '../src/store/connection.js';

const spec: StoreSpec = { kind: 'extract', model: 'vgg16', layer: 'block5_pool', pool: 'avg', l2: false, preprocess: 'caffe', weights: 'imagenet', record: { fingerprint: '0123456789abcdef', fields: { model: 'vgg16' } } };

test('key = <prefix>:<model>:<layer>:<sha1 hex of the absolute path>; relative paths are made absolute first', () => {
  const abs = '/data/photos/cat 1.jpg';
  assert.equal(storeKey('bb', 'vgg16', 'fc2', abs), `bb:vgg16:fc2:${createHash('sha1').update(abs).digest('hex')}`);
  assert.equal(storeKey('p', 'm', 'l', 'x.png'), storeKey('p', 'm', 'l', path.join(process.cwd(), 'x.png')));
  assert.notEqual(storeKey('p', 'm', 'l', '/a.png'), storeKey('p', 'm', 'l2', '/a.png'));
  assert.match(newRunId(new Date('2026-12-02T11:45:00.123Z')), /^20261202T114500Z-[0-9a-f]{6}$/);
});

test('a vector goes in as little-endian float32 bytes with its path and fingerprint only, and comes back bit-exact with the spec\'s facts', () => {
  const vector = Float32Array.from([0, -0, 1.5, -2.25, 3.4028234663852886e38, 1e-45, NaN]);
  const h = hashFields(spec, { path: 'a.jpg', model: 'vgg16', layer: 'block5_pool', shape: [512], vector });
  // Per image only what differs: the facts every result of the spec shares are kept once, under <prefix>:spec:<fingerprint>.
  assert.deepEqual(Object.keys(h).sort(), ['path', 'spec', 'vector']);
  assert.equal(h.path, path.resolve('a.jpg'));
  assert.equal(h.spec, '0123456789abcdef', 'the run spec\'s fingerprint is recorded with every result');
  const bytes = h.vector as Buffer;
  assert.equal(bytes.length, vector.length * 4);
  assert.equal(bytes.readFloatLE(8), 1.5);
  const asRead = Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Buffer.isBuffer(v) ? v : Buffer.from(v)]));
  const back = recordFromHash(asRead, 'x', { kind: 'extract', model: 'vgg16', layer: 'block5_pool', pool: 'avg', l2: false, preprocess: 'caffe', weights: 'imagenet', dtype: '<f4', shape: [512] });
  assert.ok('vector' in back);
  assert.deepEqual(new Uint8Array(back.vector.buffer), new Uint8Array(vector.buffer), 'same bits, NaN and -0 included');
  assert.deepEqual(back.shape, [512], 'export reproduces extract JSONL shape');
  assert.equal(back.model, 'vgg16');
  assert.match((recordFromHash(asRead, 'x', null) as { error: string }).error, /no record of this vector's spec/, 'without the facts the shape is unknown: said, not guessed');
  // A hash written before the facts moved to the spec key carries them itself.
  const old = { ...asRead, model: Buffer.from('vgg16'), layer: Buffer.from('block5_pool'), shape: Buffer.from('[512]') };
  assert.deepEqual((recordFromHash(old, 'x', null) as { shape: number[] }).shape, [512]);
  const err = hashFields(spec, { path: '/b.jpg', error: 'cannot decode' });
  assert.deepEqual(Object.keys(err).sort(), ['error', 'path', 'spec']);
});

test('URLs: the password never appears in messages; only redis:// and rediss:// are accepted', () => {
  assert.equal(redactUrl('redis://:hunter2@host:6379/0'), 'redis://:***@host:6379/0');
  assert.equal(redactUrl('rediss://bob:hunter2@host:6380/1'), 'rediss://bob:***@host:6380/1');
  assert.equal(redactUrl('redis://host:6379/0'), 'redis://host:6379/0');
  assert.equal(checkRedisUrl('rediss://h:1/0', '--to'), 'rediss://h:1/0');
  assert.throws(() => checkRedisUrl('http://h/', '--to'), /--to must be a redis:\/\/ or rediss:\/\/ URL/);
  assert.throws(() => checkRedisUrl('not a url :hunter2@', '--redis'), (e: Error) => /--redis must be/.test(e.message) && !e.message.includes('hunter2'));
  // The database is a number: ioredis would otherwise send SELECT NaN and fail later with a ReplyError.
  assert.throws(() => checkRedisUrl('redis://:hunter2@h:6379/abc', '--redis'), (e: Error) => e.message === '--redis names the database "abc"; a Redis database is a number (redis://host:port/0). Received: redis://:***@h:6379/abc');
  assert.deepEqual(['redis://h', 'redis://h/', 'redis://h:1/0', 'redis://h:1/15'].map(databaseOf), [0, 0, 0, 15]);
  assert.equal(databaseOf('redis://h:1/1x'), null);
});

test('reconnect attempts: 6 by default, BACKBONES_REDIS_RECONNECTS when it is a whole number', () => {
  assert.equal(reconnectAttempts({}), 6);
  assert.equal(reconnectAttempts({ BACKBONES_REDIS_RECONNECTS: '2' }), 2);
  assert.equal(reconnectAttempts({ BACKBONES_REDIS_RECONNECTS: '0' }), 0);
  assert.equal(reconnectAttempts({ BACKBONES_REDIS_RECONNECTS: 'lots' }), 6);
});
