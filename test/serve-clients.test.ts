// KServe v2 / Open Inference Protocol conformance with the clients people run: the
// requests below are what tritonclient's HTTP clients and KServe's Python client put
// on the wire, byte for byte (header names, order and case, JSON layout, binary
// tensors), and answers are read the way those clients read them. Sources:
//  - tritonclient: github.com/triton-inference-server/client @ 58a44caa0dce77303115302e6dbdf64626b2b093
//    src/python/library/tritonclient/http/_utils.py (_get_inference_request: rapidjson's
//    compact JSON; "binary_data_output": true when no outputs are named; the JSON's
//    length as json_size), _client.py (InferenceServerClient.infer: headers
//    Inference-Header-Content-Length, Content-Encoding for request_compression_algorithm;
//    URL v2/models/{m}[/versions/{v}]/infer; _get_error reads json["error"]),
//    _infer_input.py (set_data_from_numpy: binary_data_size, tobytes(); BYTES through
//    utils/__init__.py serialize_byte_tensor: "<I" length + bytes), _requested_output.py
//    (parameters {"classification": k, "binary_data": b}), _infer_result.py (InferResult:
//    the first Inference-Header-Content-Length bytes are JSON, binary outputs follow in
//    order, np.frombuffer), aio/__init__.py (the same over aiohttp).
//    The transports' own headers are those of Debian bookworm's python3-geventhttpclient
//    2.0.8 (sync client) and python3-aiohttp 3.8.4 (aio client: bytes data =
//    Content-Type application/octet-stream), as those clients sent them to a socket here.
//  - KServe: github.com/kserve/kserve, python/kserve/kserve/inference_client.py
//    (InferenceRESTClient.infer; _construct_http_status_error reads the error only when
//    content-type == "application/json") and protocol/infer_type.py (InferRequest.to_rest:
//    orjson, "id" and "model_name" fields; InferResponse.from_bytes). v0.19.0 posts JSON with
//    no Content-Type; v0.20.0 (commit 59328ec9488fe23512639f4fb141c5566c45c008) adds
//    application/json; both send application/octet-stream + inference-header-content-length
//    with binary inputs. Transport: httpx (default headers as python3-httpx sent them here).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { randomUUID } from 'node:crypto';
import { IMAGES } from './helpers/data.js';
import { exchange, requestBytes, type RawAnswer } from './helpers/raw-http.js';
import { assertClose, loadInThread, loadShared, MODEL, photo, serve, sharedModel, skip } from './helpers/serve.js';
import { loadImageForModel } from '../src/images/index.js';
import { tf } from '../src/tf.js';

const CAT = 'cat_tabby_chelsea__skimage.png';
const COFFEE = 'coffee_espresso_cup__skimage.png';
const EGYPTIAN_CAT = 285;
const ESPRESSO = 967;

// ---- what the clients send ----------------------------------------------------

/** tritonclient.http.InferenceServerClient.infer over geventhttpclient 2.0.8 (it lowercases names). */
function tritonSync(port: number, path: string, json: object, binary: Buffer[] = [], extra: [string, string][] = []): Buffer {
  const head = Buffer.from(JSON.stringify(json));
  let body = Buffer.concat([head, ...binary]);
  const headers: [string, string | number][] = [['user-agent', 'python/gevent-http-client-2.0.8']];
  for (const [k, v] of extra) {
    if (k === 'content-encoding') body = gzipSync(body);
    headers.push([k, v]);
  }
  if (binary.length > 0) headers.push(['inference-header-content-length', head.length]);
  headers.push(['host', `127.0.0.1:${port}`], ['content-length', body.length]);
  return requestBytes(`POST ${path} HTTP/1.1`, headers, body);
}

/** tritonclient.http.aio.InferenceServerClient.infer over aiohttp 3.8.4 (bytes data: application/octet-stream). */
function tritonAio(port: number, path: string, json: object, binary: Buffer[] = []): Buffer {
  const head = Buffer.from(JSON.stringify(json));
  const body = Buffer.concat([head, ...binary]);
  const headers: [string, string | number][] = [['Host', `127.0.0.1:${port}`]];
  if (binary.length > 0) headers.push(['Inference-Header-Content-Length', head.length]);
  headers.push(['Accept', '*/*'], ['Accept-Encoding', 'gzip, deflate'], ['User-Agent', 'Python/3.11 aiohttp/3.8.4'], ['Content-Length', body.length], ['Content-Type', 'application/octet-stream']);
  return requestBytes(`POST ${path} HTTP/1.1`, headers, body);
}

/** kserve.InferenceRESTClient.infer over httpx: v0.19.0 sends JSON with no Content-Type, v0.20.0 application/json. */
function kserve(version: '0.19.0' | '0.20.0', port: number, path: string, json: object, binary: Buffer[] = []): Buffer {
  const head = Buffer.from(JSON.stringify(json));
  const body = Buffer.concat([head, ...binary]);
  const headers: [string, string | number][] = [
    ['Host', `127.0.0.1:${port}`],
    ['Accept', '*/*'],
    ['Accept-Encoding', 'gzip, deflate'],
    ['Connection', 'keep-alive'],
    ['User-Agent', 'python-httpx/0.23.3'],
    ['Content-Length', body.length],
  ];
  if (binary.length > 0) headers.push(['inference-header-content-length', head.length], ['content-type', 'application/octet-stream']);
  else if (version === '0.20.0') headers.push(['content-type', 'application/json']);
  return requestBytes(`POST ${path} HTTP/1.1`, headers, body);
}

const get = (port: number, path: string) => requestBytes(`GET ${path} HTTP/1.1`, [['user-agent', 'python/gevent-http-client-2.0.8'], ['host', `127.0.0.1:${port}`]]);

/** numpy's tobytes() of float32 rows: little-endian on every machine these clients run on. */
function float32Bytes(rows: Float32Array[]): Buffer {
  const out = Buffer.alloc(rows.reduce((s, r) => s + r.length, 0) * 4);
  let at = 0;
  for (const r of rows) for (const v of r) at = out.writeFloatLE(v, at);
  return out;
}

/** tritonclient.utils.serialize_byte_tensor: each element as struct.pack("<I", len) + bytes. */
function serializeByteTensor(items: Buffer[]): Buffer {
  return Buffer.concat(items.flatMap((b) => [Buffer.from(Uint32Array.of(b.length).buffer), b]));
}

/** Python float repr, as rapidjson/orjson write numpy float32 .item() values (0.0, not 0). */
const pyFloats = (rows: Float32Array[]) => rows.flatMap((r) => Array.from(r, (v) => (Number.isInteger(v) ? `${v}.0` : String(v))));

// ---- how the clients read answers ------------------------------------------------

/** tritonclient.http.InferResult: the JSON (first Inference-Header-Content-Length bytes), then binary outputs in order. */
function tritonResult(a: RawAnswer) {
  // _get_error: any status but 200 is an InferenceServerException carrying json["error"].
  if (a.status !== 200) throw new Error(`[${a.status}] ${JSON.parse(a.body.toString('utf8')).error}`);
  const header = a.headers['inference-header-content-length'];
  const jsonLength = header === undefined ? a.body.length : Number(header);
  const result = JSON.parse(a.body.subarray(0, jsonLength).toString('utf8'));
  const buffer = a.body.subarray(jsonLength);
  const offsets = new Map<string, number>();
  let index = 0;
  for (const output of result.outputs) {
    const size = output.parameters?.binary_data_size;
    if (size !== undefined) {
      offsets.set(output.name, index);
      index += size;
    }
  }
  return {
    result,
    /** as_numpy(name): flat values and the shape they are reshaped to. */
    asNumpy(name: string): { values: number[] | string[]; shape: number[] } {
      const output = result.outputs.find((o: any) => o.name === name);
      assert.ok(output, `no output ${name}`);
      const size = output.parameters?.binary_data_size;
      let values: number[] | string[];
      if (size !== undefined) {
        const bytes = buffer.subarray(offsets.get(name)!, offsets.get(name)! + size);
        values = output.datatype === 'BYTES' ? deserializeBytesTensor(bytes) : Array.from(new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)));
      } else {
        values = output.data;
      }
      assert.equal(values.length, output.shape.reduce((a: number, b: number) => a * b, 1), `reshape ${name} to [${output.shape}]`);
      return { values, shape: output.shape };
    },
  };
}

/** tritonclient.utils.deserialize_bytes_tensor. */
function deserializeBytesTensor(b: Buffer): string[] {
  const out: string[] = [];
  for (let at = 0; at < b.length; ) {
    const n = b.readUInt32LE(at);
    out.push(b.subarray(at + 4, at + 4 + n).toString('utf8'));
    at += 4 + n;
  }
  return out;
}

/** kserve InferenceRESTClient.infer + InferResponse.from_bytes; errors as _construct_http_status_error reads them. */
function kserveResponse(a: RawAnswer) {
  if (a.status < 200 || a.status > 299) {
    const error = a.headers['content-type'] === 'application/json' ? JSON.parse(a.body.toString('utf8')).error : '';
    throw new Error(`${error}, '${a.status}'`);
  }
  const jsonLength = Number(a.headers['inference-header-content-length'] ?? a.body.length);
  const res = JSON.parse(a.body.subarray(0, jsonLength).toString('utf8'));
  assert.equal(typeof res.model_name, 'string', 'from_bytes reads infer_res_dict["model_name"]');
  let start = jsonLength;
  const outputs = res.outputs.map((o: any) => {
    const size = o.parameters?.binary_data_size;
    if (size === undefined) {
      assert.ok(Array.isArray(o.data), `'data' field is missing for output '${o.name}'`);
      return { ...o, values: o.data };
    }
    const raw = a.body.subarray(start, start + size);
    start += size;
    return { ...o, values: Array.from(new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length))) };
  });
  return { id: res.id, model_name: res.model_name, outputs };
}

// ---- the oracle --------------------------------------------------------------------

async function preprocessed(name: string): Promise<Float32Array> {
  const { settings } = await loadShared();
  return (await loadImageForModel(IMAGES(name), settings)).input;
}

/** The model's probabilities for a preprocessed image, computed here without the server. */
async function probabilities(row: Float32Array): Promise<Float32Array> {
  const { backbone } = await sharedModel();
  const x = tf.tensor4d(row, [1, 224, 224, 3]);
  const p = await backbone.probabilities(x);
  x.dispose();
  const values = (await p.data()) as Float32Array;
  p.dispose();
  return values;
}

const argmax = (xs: ArrayLike<number>) => Array.prototype.indexOf.call(xs, Math.max(...Array.from(xs)));
const INFER = `/v2/models/${MODEL}/infer`;

test('tritonclient (sync): encoded images as binary BYTES, no outputs named: every output comes back binary and InferResult reads it', { skip }, async () => {
  const { port, started } = await serve();
  await started;
  const images = [photo(CAT), photo(COFFEE)];
  const json = { inputs: [{ name: 'images', shape: [2], datatype: 'BYTES', parameters: { binary_data_size: serializeByteTensor(images).length } }], parameters: { binary_data_output: true } };
  const a = await exchange(port, tritonSync(port, INFER, json, [serializeByteTensor(images)]));
  assert.equal(a.status, 200, a.body.toString());
  assert.equal(a.headers['content-type'], 'application/octet-stream');
  const r = tritonResult(a);
  assert.deepEqual(r.result.outputs.map((o: any) => [o.name, o.datatype, o.shape, o.parameters.binary_data_size, 'data' in o]), [['probabilities', 'FP32', [2, 1000], 8000, false]]);
  assert.equal(r.result.model_name, MODEL);
  assert.equal(r.result.model_version, '1');
  const { values } = r.asNumpy('probabilities') as { values: number[] };
  const expected = [...(await probabilities(await preprocessed(CAT))), ...(await probabilities(await preprocessed(COFFEE)))];
  assertClose(values, expected, 1e-6, 'probabilities');
  assert.equal(argmax(values.slice(0, 1000)), EGYPTIAN_CAT);
  assert.equal(argmax(values.slice(1000)), ESPRESSO);
});

test('tritonclient (sync): a preprocessed FP32 tensor as JSON, with top-3 classification, version 1 in the URL, gzip-compressed', { skip }, async () => {
  const { port, started } = await serve();
  await started;
  const row = await preprocessed(COFFEE);
  // InferInput.set_data_from_numpy(x, binary_data=False): data = [val.item() for val in x.flatten()]
  const head = `{"inputs":[{"name":"input","shape":[1,224,224,3],"datatype":"FP32","data":[${pyFloats([row]).join(',')}]}],"outputs":[{"name":"probabilities","parameters":{"classification":3,"binary_data":false}},{"name":"global_average_pooling2d_1","parameters":{"binary_data":false}}]}`;
  const body = gzipSync(Buffer.from(head));
  const bytes = requestBytes(`POST /v2/models/${MODEL}/versions/1/infer HTTP/1.1`, [
    ['user-agent', 'python/gevent-http-client-2.0.8'],
    ['content-encoding', 'gzip'],
    ['host', `127.0.0.1:${port}`],
    ['content-length', body.length],
  ], body);
  const a = await exchange(port, bytes);
  assert.equal(a.status, 200, a.body.toString());
  assert.equal(a.headers['content-type'], 'application/json');
  assert.equal(a.headers['inference-header-content-length'], undefined);
  const r = tritonResult(a);
  const top = r.asNumpy('probabilities');
  assert.deepEqual(top.shape, [1, 3]);
  const [first] = top.values as string[];
  const [value, index, label] = first!.split(':');
  assert.equal(Number(index), ESPRESSO);
  assert.equal(label, 'espresso');
  const expected = await probabilities(row);
  assert.ok(Math.abs(Number(value) - expected[ESPRESSO]!) < 1e-6, `${value} vs ${expected[ESPRESSO]}`);
  assert.deepEqual(r.asNumpy('global_average_pooling2d_1').shape, [1, 256]);
});

test('tritonclient (aio): application/octet-stream bodies, FP32 in and out as binary, and plain JSON under the same type', { skip }, async () => {
  const { port, started } = await serve();
  await started;
  const rows = [await preprocessed(CAT), await preprocessed(COFFEE)];
  const binary = float32Bytes(rows);
  const json = {
    inputs: [{ name: 'input', shape: [2, 224, 224, 3], datatype: 'FP32', parameters: { binary_data_size: binary.length } }],
    outputs: [{ name: 'probabilities', parameters: { binary_data: true } }],
  };
  const a = await exchange(port, tritonAio(port, INFER, json, [binary]));
  assert.equal(a.status, 200, a.body.toString());
  const values = tritonResult(a).asNumpy('probabilities').values as number[];
  assertClose(values, [...(await probabilities(rows[0]!)), ...(await probabilities(rows[1]!))], 1e-6, 'binary FP32');

  const asJson = { inputs: [{ name: 'images', shape: [1], datatype: 'BYTES', data: [photo(COFFEE).toString('base64')] }], outputs: [{ name: 'probabilities', parameters: { binary_data: false } }] };
  const b = await exchange(port, tritonAio(port, INFER, asJson));
  assert.equal(b.status, 200, b.body.toString());
  assert.equal(argmax(tritonResult(b).asNumpy('probabilities').values as number[]), ESPRESSO);
});

test('KServe client: v0.19.0 JSON without Content-Type, v0.20.0 application/json and binary; InferResponse.from_bytes reads every answer', { skip }, async () => {
  const { port, started } = await serve();
  await started;
  const base64 = photo(COFFEE).toString('base64');
  for (const version of ['0.19.0', '0.20.0'] as const) {
    const id = randomUUID();
    const json = { id, model_name: MODEL, inputs: [{ name: 'images', shape: [1], datatype: 'BYTES', data: [base64] }] };
    const r = kserveResponse(await exchange(port, kserve(version, port, INFER, json)));
    assert.equal(r.id, id, version);
    assert.equal(r.model_name, MODEL);
    assert.equal(argmax(r.outputs[0].values), ESPRESSO, version);
  }
  const row = await preprocessed(CAT);
  const raw = float32Bytes([row]);
  const json = {
    id: randomUUID(),
    model_name: MODEL,
    inputs: [{ name: 'input', shape: [1, 224, 224, 3], datatype: 'FP32', parameters: { binary_data_size: raw.length } }],
    outputs: [{ name: 'probabilities', parameters: { binary_data: true } }],
  };
  const r = kserveResponse(await exchange(port, kserve('0.20.0', port, INFER, json, [raw])));
  assert.equal(r.outputs[0].parameters.binary_data_size, 4000);
  assertClose(r.outputs[0].values, await probabilities(row), 1e-6, 'binary answer');
});

test('errors reach both clients: exactly application/json with "error", 400 for data that contradicts its shape or is not float32, 404 for unknown models and versions', { skip }, async () => {
  const { port, started } = await serve();
  await started;
  const kserveError = async (bytes: Buffer) => {
    const a = await exchange(port, bytes);
    assert.equal(a.headers['content-type'], 'application/json');
    return { status: a.status, message: (() => { try { kserveResponse(a); return ''; } catch (e) { return (e as Error).message; } })() };
  };
  const fp32 = (data: unknown) => ({ id: 'x', model_name: MODEL, inputs: [{ name: 'input', shape: [1, 224, 224, 3], datatype: 'FP32', data }] });
  const row = Array.from(await preprocessed(COFFEE));
  // [1][224][3][224]: the right number of values, nested against the shape [1, 224, 224, 3].
  const transposed = [Array.from({ length: 224 }, (_, y) => Array.from({ length: 3 }, (_, c) => Array.from({ length: 224 }, (_, x) => row[(y * 224 + x) * 3 + c]!)))];
  const cases: [string, Buffer, number, RegExp][] = [
    ['nesting against the shape', kserve('0.20.0', port, INFER, fp32(transposed)), 400, /data\[0\]\[0\] holds 3 elements where shape \[1, 224, 224, 3\] has 224/],
    ['1e39 is no float32', kserve('0.20.0', port, INFER, fp32(row.map((v, i) => (i === 7 ? 1e39 : v)))), 400, /1e\+39 at element 7, beyond float32/],
    ['too few values', kserve('0.20.0', port, INFER, fp32(row.slice(1))), 400, /holds 150527 values; shape \[1, 224, 224, 3\] needs 150528/],
    ['unknown model', kserve('0.19.0', port, '/v2/models/vgg16/infer', fp32(row)), 404, /Unknown model "vgg16"/],
    ['unknown version', kserve('0.20.0', port, `/v2/models/${MODEL}/versions/2/infer`, fp32(row)), 404, /has no version "2"/],
    ['binary size mismatch', kserve('0.20.0', port, INFER, { inputs: [{ name: 'input', shape: [1, 224, 224, 3], datatype: 'FP32', parameters: { binary_data_size: 602112 } }] }, [Buffer.alloc(1000)]), 400, /declares binary_data_size 602112 but 1000 bytes follow/],
    ['wrong input name', kserve('0.20.0', port, INFER, { inputs: [{ name: 'INPUT__0', shape: [1, 224, 224, 3], datatype: 'FP32', data: row }] }), 400, /Unknown input "INPUT__0"/],
  ];
  for (const [what, bytes, status, message] of cases) {
    const got = await kserveError(bytes);
    assert.equal(got.status, status, what);
    assert.match(got.message, message, what);
  }
  // tritonclient's _get_error reads the same field.
  const bad = await exchange(port, tritonSync(port, INFER, fp32(transposed)));
  assert.throws(() => tritonResult(bad), /^Error: \[400\] FP32 input "input": data\[0\]\[0\] holds 3 elements/);
});

test('an FP32 tensor whose huge values overflow the model fails alone with 400; the photo batched with it is answered', { skip }, async () => {
  // Both wait for one batch of 2 (the delay is long): the tensor's outputs are NaN, the photo's are not.
  // The model runs in the server's inference thread, as in `backbones serve`.
  const { port, started } = await serve({ load: loadInThread, maxBatch: 2, maxDelayMs: 600_000 });
  await started;
  const huge = float32Bytes([new Float32Array(224 * 224 * 3).fill(3e38)]);
  const tensor = { inputs: [{ name: 'input', shape: [1, 224, 224, 3], datatype: 'FP32', parameters: { binary_data_size: huge.length } }], parameters: { binary_data_output: true } };
  const image = { inputs: [{ name: 'images', shape: [1], datatype: 'BYTES', data: [photo(COFFEE).toString('base64')] }] };
  const [bad, good] = await Promise.all([exchange(port, tritonSync(port, INFER, tensor, [huge])), exchange(port, kserve('0.20.0', port, INFER, image))]);
  assert.equal(bad.status, 400, bad.body.toString());
  assert.throws(() => tritonResult(bad), /\[400\] The model's outputs for this FP32 input are not finite \(NaN or Infinity\): its values are far outside what preprocess "tf" produces/);
  assert.equal(good.status, 200, good.body.toString());
  assert.equal(argmax(kserveResponse(good).outputs[0].values), ESPRESSO);
});

test('server and model metadata, health and readiness, under /v2/models/{m} and its advertised version', { skip }, async () => {
  const { port, started } = await serve();
  await started;
  const json = async (path: string) => {
    const a = await exchange(port, get(port, path), { method: 'GET' });
    return { status: a.status, type: a.headers['content-type'], body: JSON.parse(a.body.toString('utf8')) };
  };
  const server = await json('/v2');
  assert.deepEqual(Object.keys(server.body), ['name', 'version', 'extensions']);
  assert.deepEqual(server.body.extensions, ['binary_tensor_data', 'classification']);
  // KServe's client: is_server_live reads "live", is_server_ready "ready", is_model_ready the status.
  assert.equal((await json('/v2/health/live')).body.live, true);
  assert.equal((await json('/v2/health/ready')).body.ready, true);
  const meta = await json(`/v2/models/${MODEL}`);
  assert.deepEqual(meta.body.versions, ['1']);
  for (const path of [`/v2/models/${MODEL}/ready`, `/v2/models/${MODEL}/versions/1/ready`]) {
    const r = await json(path);
    assert.equal(r.status, 200, path);
    assert.deepEqual(r.body, { name: MODEL, ready: true });
  }
  const versioned = await json(`/v2/models/${MODEL}/versions/1`);
  assert.equal(versioned.status, 200);
  assert.deepEqual(versioned.body, meta.body);
  const missing = await json(`/v2/models/${MODEL}/versions/2/ready`);
  assert.equal(missing.status, 404);
  assert.equal(missing.type, 'application/json');
  assert.match(missing.body.error, /its only version is "1"/);
});
