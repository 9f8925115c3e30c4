// The feature store's key scheme, hash encoding and URL redaction, in-process (no server).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fingerprintOfKey, fingerprintOfKeyspace, keyspacePattern, layerKeyspace, newRunId, pathOfKey, storeKey, storeKeyspace } from '../src/store/keys.js';
import { hashFields, recordFromHash } from '../src/store/redis.js';
import { checkRedisUrl, databaseOf, reconnectAttempts, redactUrl } from '../src/store/connection.js';

test('key = <prefix>:<model>:<layer>:<fingerprint>:<absolute path>; relative paths are made absolute first; the path is the key less its keyspace, colons and all', () => {
  const space = storeKeyspace('bb', 'vgg16', 'fc2', '0123456789abcdef');
  assert.equal(space, 'bb:vgg16:fc2:0123456789abcdef:');
  assert.equal(storeKey(space, '/data/photos/cat 1.jpg'), 'bb:vgg16:fc2:0123456789abcdef:/data/photos/cat 1.jpg');
  assert.equal(storeKey(space, 'x.png'), `bb:vgg16:fc2:0123456789abcdef:${path.join(process.cwd(), 'x.png')}`);
  // Another spec (or layer) is another keyspace: results made differently never share a key.
  assert.notEqual(storeKey(space, '/a.png'), storeKey(storeKeyspace('bb', 'vgg16', 'fc2', 'fedcba9876543210'), '/a.png'));
  assert.notEqual(storeKey(space, '/a.png'), storeKey(storeKeyspace('bb', 'vgg16', 'fc1', '0123456789abcdef'), '/a.png'));
  // A model path and an image path may hold ':': the tail after the known keyspace is the path.
  const odd = storeKeyspace('bb', 'C:/models/m.onnx', 'fc2', '0123456789abcdef');
  assert.equal(pathOfKey(odd, storeKey(odd, '/photos/12:30:00 cat.jpg')), '/photos/12:30:00 cat.jpg');
  assert.equal(pathOfKey(space, storeKey(odd, '/a.png')), null, 'a key of another keyspace is not read as one of this one');
  assert.equal(fingerprintOfKeyspace(odd), '0123456789abcdef');
  // Under a model and layer, whatever the spec: which spec a key was made with.
  const layer = layerKeyspace('bb', 'C:/models/m.onnx', 'fc2');
  assert.ok(odd.startsWith(layer));
  assert.equal(fingerprintOfKey(layer, storeKey(odd, '/photos/12:30:00 cat.jpg')), '0123456789abcdef');
  assert.equal(fingerprintOfKey(layer, `${layer}not-a-fingerprint:/a.png`), null);
  assert.equal(fingerprintOfKey(layerKeyspace('bb', 'vgg16', 'fc2'), storeKey(odd, '/a.png')), null, 'a key of another layer');
  assert.equal(keyspacePattern('p:m[1]*?:l:0123456789abcdef:'), 'p:m\\[1\\]\\*\\?:l:0123456789abcdef:*');
  assert.match(newRunId(new Date('2026-12-02T11:45:00.123Z')), /^20261202T114500Z-[0-9a-f]{6}$/);
});

test('a vector goes in as little-endian float32 bytes, the hash\'s one field, and comes back bit-exact with the spec\'s facts', () => {
  const vector = Float32Array.from([0, -0, 1.5, -2.25, 3.4028234663852886e38, 1e-45, NaN]);
  const h = hashFields({ path: 'a.jpg', model: 'vgg16', layer: 'block5_pool', shape: [512], vector });
  // Per image only what it has: the path and the spec are in the key, the spec's facts once under <prefix>:spec:<fingerprint>.
  assert.deepEqual(Object.keys(h), ['vector']);
  const bytes = h.vector as Buffer;
  assert.equal(bytes.length, vector.length * 4);
  assert.equal(bytes.readFloatLE(8), 1.5);
  const back = recordFromHash({ vector: bytes }, '/x/a.jpg', { kind: 'extract', model: 'vgg16', layer: 'block5_pool', pool: 'avg', l2: false, preprocess: 'caffe', weights: 'imagenet', dtype: '<f4', shape: [512] });
  assert.ok('vector' in back);
  assert.deepEqual(new Uint8Array(back.vector.buffer), new Uint8Array(vector.buffer), 'same bits, NaN and -0 included');
  assert.deepEqual(back.shape, [512], 'export reproduces extract JSONL shape');
  assert.equal(back.model, 'vgg16');
  assert.equal(back.path, '/x/a.jpg', 'the path the key names');
  assert.match((recordFromHash({ vector: bytes }, 'x', null) as { error: string }).error, /no record of this vector's spec/, 'without the facts the shape is unknown: said, not guessed');
  assert.deepEqual(hashFields({ path: '/b.jpg', error: 'cannot decode' }), { error: 'cannot decode' });
  assert.deepEqual(Object.keys(hashFields({ path: '/b.jpg', model: 'm', predictions: [] })), ['predictions']);
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
