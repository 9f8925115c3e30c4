// The zoo, driven by the cards like Keras' applications_test.py MODEL_LIST: every card
// builds, has Keras' parameter count, its MACs, its feature and classifier layers, and
// well-formed weight sources. No inference here (see zoo-parity.test.ts).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { tf } from '../src/tf.js';
import type { ModelCard, WeightsSource } from '../src/zoo/card.js';
import { PREPROCESS_MODES } from '../src/images/preprocess.js';
import { ARCHITECTURES, buildArchitecture } from '../src/zoo/architectures.js';
import { findCard, getCard, isKnownModel, isModelPath, listCards, listModels, naturalCompare, resolveModel } from '../src/zoo/registry.js';
import { BackbonesError } from '../src/errors.js';
import { loadImagenetLabels } from '../src/zoo/labels.js';
import { countMacs } from '../src/zoo/macs.js';
import { dataPath, skipWithoutData } from './helpers/data.js';

await tf.setBackend('cpu');

// Keras' own numbers (keras.io/api/applications table, model.count_params() with the top)
// and the pooled feature size of applications_test.py MODEL_LIST, plus layers to spot-check.
const MODEL_LIST: [card: string, kerasParams: number, pooledDim: number, layers: string[]][] = [
  ['vgg16', 138_357_544, 512, ['block1_conv1', 'block5_conv3', 'block5_pool', 'flatten', 'fc1', 'fc2', 'predictions']],
  ['vgg19', 143_667_240, 512, ['block3_conv4', 'block5_conv4', 'block5_pool', 'fc2', 'predictions']],
  ['resnet50', 25_636_712, 2048, ['conv1_pad', 'conv1_conv', 'conv1_bn', 'conv1_relu', 'pool1_pad', 'pool1_pool', 'conv2_block1_0_conv', 'conv2_block1_1_conv', 'conv4_block6_out', 'conv5_block3_out', 'avg_pool', 'predictions']],
  ['inception_v3', 23_851_784, 2048, ['conv2d_1', 'batch_normalization_1', 'activation_1', 'max_pooling2d_1', 'mixed0', 'mixed9_0', 'concatenate_2', 'conv2d_94', 'activation_94', 'mixed10', 'avg_pool', 'predictions']],
  ['mobilenet', 4_253_864, 1024, ['conv1', 'conv1_bn', 'conv1_relu', 'conv_dw_1', 'conv_dw_1_bn', 'conv_dw_1_relu', 'conv_pad_2', 'conv_pw_1', 'conv_pw_13_relu', 'global_average_pooling2d_1', 'reshape_1', 'dropout', 'conv_preds', 'act_softmax', 'reshape_2']],
  // Keras' count for alpha 0.25 is checked against Google's own model in zoo-parity.test.ts.
  ['mobilenet_0.25', 475_544, 256, ['conv_pw_13_relu', 'global_average_pooling2d_1', 'conv_preds', 'reshape_2']],
  ['mobilenet_v2', 3_538_984, 1280, ['Conv1_pad', 'Conv1', 'bn_Conv1', 'Conv1_relu', 'expanded_conv_depthwise', 'expanded_conv_project_BN', 'block_1_expand', 'block_1_pad', 'block_16_project_BN', 'Conv_1', 'Conv_1_bn', 'out_relu', 'global_average_pooling2d', 'predictions']],
];

function buildFromCard(card: ModelCard, extra: Parameters<typeof buildArchitecture>[1] = {}): tf.LayersModel {
  return buildArchitecture(card.architecture, { ...card.architectureOptions, inputSize: card.inputSize, ...extra });
}

test('MODEL_LIST covers every card', () => {
  assert.deepEqual(
    MODEL_LIST.map(([name]) => name).sort(naturalCompare),
    listCards().map((c) => c.name),
  );
});

for (const [name, kerasParams, pooledDim, layers] of MODEL_LIST) {
  describe(`card ${name}`, () => {
    const card = getCard(name);
    let model: tf.LayersModel;
    before(() => {
      model = buildFromCard(card);
    });
    after(() => model?.dispose());

    test('card fields are consistent', () => {
      assert.ok(card.architecture in ARCHITECTURES, `unknown architecture ${card.architecture}`);
      assert.ok(PREPROCESS_MODES.includes(card.preprocess));
      assert.equal(card.channelOrder, card.preprocess === 'caffe' ? 'BGR' : 'RGB');
      assert.equal(card.numClasses, 1000);
      assert.equal(card.labels, 'imagenet');
      for (const v of [card.top1, card.top5]) assert.ok(v === null || (v > 0 && v < 1));
      assert.match(card.paper, /^https:\/\//);
      assert.match(card.kerasSource, /^https:\/\/github\.com\/keras-team\/keras\//);
      assert.ok(card.license.length > 0);
    });

    test('parameters with the top equal Keras', () => {
      assert.equal(model.countParams(), kerasParams);
      assert.equal(card.parameters, kerasParams);
    });

    test('card.macs equals countMacs(build)', () => {
      assert.equal(countMacs(model), card.macs);
    });

    test('input, classifier and feature layers match the card', () => {
      assert.deepEqual(model.inputs[0].shape, [null, ...card.inputSize, 3]);
      const classifier = model.getLayer(card.classifierLayer);
      assert.deepEqual(classifier.outputShape, [null, card.numClasses]);
      assert.equal(model.outputs[0], classifier.output);
      const feature = model.getLayer(card.featureLayer).outputShape as (number | null)[];
      assert.equal(feature.at(-1), card.featureDim);
    });

    test('Keras layer names', () => {
      const names = new Set(model.layers.map((l) => l.name));
      for (const layer of layers) assert.ok(names.has(layer), `missing layer ${layer}`);
    });

    test('includeTop false: pooling avg / max / none', () => {
      for (const pooling of ['avg', 'max'] as const) {
        const m = buildFromCard(card, { includeTop: false, pooling });
        assert.deepEqual(m.outputs[0].shape, [null, pooledDim]);
        m.dispose();
      }
      const m = buildFromCard(card, { includeTop: false });
      const shape = m.outputs[0].shape;
      assert.equal(shape.length, 4);
      assert.equal(shape[3], pooledDim);
      m.dispose();
      // Keras' MODEL_LIST feature size is the card's featureDim wherever the feature layer
      // is the global pooling itself (VGG's fc2 is 4096 wide instead).
      if (!card.featureLayer.startsWith('fc')) assert.equal(card.featureDim, pooledDim);
    });

    test('weights sources are well-formed', () => {
      assert.ok(card.weights.length > 0);
      for (const w of card.weights) checkWeightsSource(w);
      const h5 = card.weights.filter((w) => w.format === 'keras-h5');
      assert.deepEqual(h5.map((w) => w.includeTop).sort(), [false, true], 'one Keras .h5 with the top and one without');
    });
  });
}

function checkWeightsSource(w: WeightsSource): void {
  assert.ok(['keras-h5', 'tfjs-layers'].includes(w.format), w.format);
  const url = new URL(w.url);
  assert.equal(url.protocol, 'https:');
  assert.equal(w.fileName, url.pathname.split('/').at(-1));
  assert.equal(typeof w.includeTop, 'boolean');
  if (w.format === 'keras-h5') {
    assert.ok(w.url.startsWith('https://storage.googleapis.com/tensorflow/keras-applications/'), w.url);
    assert.match(w.fileName, /\.h5$/);
  } else {
    assert.equal(w.fileName, 'model.json');
  }
  if (w.hash === null) {
    assert.equal(w.hashAlgorithm, null);
    assert.ok(w.note, `${w.url}: a null hash must say why in note`);
  } else {
    // Keras' get_file picks the algorithm by length: 64 hex digits sha256, otherwise md5.
    assert.equal(w.hashAlgorithm, w.hash.length === 64 ? 'sha256' : 'md5');
    assert.match(w.hash, w.hashAlgorithm === 'sha256' ? /^[0-9a-f]{64}$/ : /^[0-9a-f]{32}$/);
    assert.ok(w.hashSource, `${w.url}: hashSource`);
  }
}

describe('builders', () => {
  test('layer names do not depend on tfjs global counters', () => {
    const a = buildArchitecture('mobilenet_v2', { includeTop: false, inputSize: [96, 96] });
    const b = buildArchitecture('mobilenet_v2', { includeTop: false, inputSize: [96, 96] });
    assert.deepEqual(
      a.layers.map((l) => l.name),
      b.layers.map((l) => l.name),
    );
    a.dispose();
    b.dispose();
  });

  test('every layer is named explicitly (no tfjs default names)', () => {
    // tfjs defaults look like conv2d_Conv2D12, re_lu_ReLU3 and input1.
    for (const name of Object.keys(ARCHITECTURES)) {
      const opts = name.startsWith('vgg') ? { includeTop: false, inputSize: [32, 32] as [number, number] } : {};
      const m = buildArchitecture(name, opts);
      for (const l of m.layers) {
        assert.doesNotMatch(l.name, new RegExp(`_${l.getClassName()}\\d+$`), `${name}: ${l.name}`);
        assert.doesNotMatch(l.name, /^input\d+$/, `${name}: ${l.name}`);
      }
      m.dispose();
    }
  });

  test('mobilenet v1 and v2 build for every Keras alpha and non-square or odd input sizes', () => {
    for (const alpha of [0.25, 0.5, 0.75, 1.0]) {
      const m = buildArchitecture('mobilenet', { alpha, includeTop: false, pooling: 'avg', inputSize: [160, 193] });
      assert.deepEqual(m.outputs[0].shape, [null, Math.trunc(1024 * alpha)]);
      assert.equal(m.name, `mobilenet_${alpha.toFixed(2)}_160`);
      m.dispose();
    }
    for (const alpha of [0.35, 0.5, 0.75, 1.0, 1.3, 1.4]) {
      const m = buildArchitecture('mobilenet_v2', { alpha, includeTop: false, inputSize: [97, 128] });
      // Keras: the last conv keeps 1280 channels unless alpha > 1 (1.3 -> 1664, 1.4 -> 1792).
      const last = alpha > 1 ? { 1.3: 1664, 1.4: 1792 }[alpha as 1.3 | 1.4] : 1280;
      assert.deepEqual(m.outputs[0].shape, [null, 4, 4, last]);
      m.dispose();
    }
  });

  test('resnet50 / inception_v3 without the top take other input sizes', () => {
    const r = buildArchitecture('resnet50', { includeTop: false, inputSize: [200, 160] });
    assert.deepEqual(r.outputs[0].shape, [null, 7, 5, 2048]);
    r.dispose();
    const i = buildArchitecture('inception_v3', { includeTop: false, inputSize: [75, 75] });
    assert.deepEqual(i.outputs[0].shape, [null, 1, 1, 2048]);
    i.dispose();
  });

  test('classes and classifierActivation', () => {
    const m = buildArchitecture('mobilenet_v2', { classes: 5, classifierActivation: 'linear', inputSize: [96, 96] });
    assert.deepEqual(m.outputs[0].shape, [null, 5]);
    assert.equal(m.getLayer('predictions').getConfig().activation, 'linear');
    m.dispose();
  });

  test('bad options fail with the value received', () => {
    assert.throws(() => buildArchitecture('inception_v3', { inputSize: [74, 299] }), /no smaller than 75\. Received: inputSize=\[74,299\]/);
    assert.throws(() => buildArchitecture('mobilenet', { alpha: 0 }), /Received: alpha=0/);
    assert.throws(() => buildArchitecture('vgg16', { includeTop: false, pooling: 'sum' as 'avg' }), /Received: pooling=sum/);
  });

  test('unknown architecture lists the valid names', () => {
    assert.throws(
      () => buildArchitecture('resnet18'),
      /Unknown architecture 'resnet18'\. Valid architectures are: vgg16, vgg19, resnet50, inception_v3, mobilenet, mobilenet_v2/,
    );
  });
});

describe('registry', () => {
  test('listModels: natural order and glob filters', () => {
    assert.deepEqual(listModels(), ['inception_v3', 'mobilenet', 'mobilenet_0.25', 'mobilenet_v2', 'resnet50', 'vgg16', 'vgg19']);
    assert.deepEqual(listModels('*'), listModels());
    assert.deepEqual(listModels('mobilenet*'), ['mobilenet', 'mobilenet_0.25', 'mobilenet_v2']);
    assert.deepEqual(listModels('vgg1?'), ['vgg16', 'vgg19']);
    assert.deepEqual(listModels('mobilenet_0.2?'), ['mobilenet_0.25']);
    assert.deepEqual(listModels('mobilenet_0?25'), ['mobilenet_0.25']);
    assert.deepEqual(listModels('mobilenet_0x25'), []);
    assert.deepEqual(listModels('*net50'), ['resnet50']);
    assert.deepEqual(['resnet101', 'resnet50', 'vgg19', 'vgg16'].sort(naturalCompare), ['resnet50', 'resnet101', 'vgg16', 'vgg19']);
  });

  test('getCard: one rule for case; an unknown name lists the valid ones', () => {
    assert.equal(getCard('vgg16').featureLayer, 'fc2');
    assert.equal(getCard('VGG16'), getCard('vgg16'));
    assert.equal(findCard('Mobilenet_V2')?.name, 'mobilenet_v2');
    assert.equal(findCard('vgg11'), undefined);
    assert.throws(
      () => getCard('vgg11'),
      (e: unknown) =>
        e instanceof BackbonesError &&
        e.exitCode === 2 &&
        /^Unknown model "vgg11": valid names are inception_v3, mobilenet, mobilenet_0\.25, mobilenet_v2, resnet50, vgg16, vgg19 \(or pass a model\.json path or URL\)\.$/.test(e.message),
    );
  });

  test('resolveModel: a registered name, else a model path or URL, else the unknown-model error', () => {
    assert.equal((resolveModel('ResNet50') as { card: { name: string } }).card.name, 'resnet50');
    assert.deepEqual(resolveModel('some/dir/model.json'), { path: 'some/dir/model.json' });
    assert.deepEqual(resolveModel('http://127.0.0.1:9/m/model.json'), { path: 'http://127.0.0.1:9/m/model.json' });
    assert.deepEqual(resolveModel('model.json'), { path: 'model.json' });
    assert.throws(() => resolveModel('vgg17'), /^BackbonesError: Unknown model "vgg17"/);
    assert.equal(isKnownModel('vgg16'), true);
    assert.equal(isKnownModel('vgg17'), false);
    assert.equal(isModelPath('vgg16'), false);
  });

  test('ImageNet labels in Keras order', () => {
    const labels = loadImagenetLabels();
    assert.equal(labels.length, 1000);
    assert.deepEqual(labels[0], { wnid: 'n01440764', label: 'tench' });
    assert.deepEqual(labels[285], { wnid: 'n02124075', label: 'Egyptian_cat' });
    assert.deepEqual(labels[999], { wnid: 'n15075141', label: 'toilet_tissue' });
    // Keras' class order is the WordNet ids sorted.
    const wnids = labels.map((l) => l.wnid);
    assert.deepEqual([...wnids].sort(), wnids);
    assert.equal(new Set(wnids).size, 1000);
  });

  test('ImageNet labels equal the shared copy of Keras\' file', { skip: skipWithoutData() }, () => {
    const shared = dataPath('labels', 'imagenet_class_index.json');
    assert.ok(existsSync(shared), shared);
    const ours = readFileSync(new URL('../models/imagenet_class_index.json', import.meta.url), 'utf8');
    assert.deepEqual(JSON.parse(ours), JSON.parse(readFileSync(shared, 'utf8')));
  });
});
