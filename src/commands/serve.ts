// `backbones serve`: the model behind HTTP (v1 JSON API + KServe v2), loaded once, batched across requests.
import { Option, type Command } from 'commander';
import { usageError } from '../errors.js';
import { addDecodeOptions } from './pipeline-options.js';
import { addImageHandlingOptions, addModelOptions, addPrecisionOptions, choiceOption, parseNonNegativeInt, parsePositiveInt, parsePositiveNumber } from './options.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw usageError(`--port must be an integer from 0 to 65535. Received: ${value}`);
  return n;
}

export function registerServe(program: Command): void {
  const cmd = program
    .command('serve')
    .summary('the model behind HTTP: classify/extract JSON API, KServe v2, dynamic batching, metrics')
    .description(
      'Serve one model over HTTP. Listens at once (live), loads the model once and becomes ready after a warm-up inference. ' +
        'Requests are batched dynamically; JSON access logs go to stderr.',
    )
    .option('-l, --layer <name>', "extract's default layer (default: the model card's feature layer)")
    .option('-p, --port <n>', 'TCP port (0: any free port)', parsePort, 8080)
    .option('--host <addr>', 'address to bind; anything but loopback exposes the model', '127.0.0.1')
    .option('--name <name>', 'model name in /v2/models/{name} (default: the zoo name or the model folder)')
    .option('--max-batch <n>', 'images per inference batch at most', parsePositiveInt('--max-batch'), 8)
    .option('--max-delay-ms <n>', 'longest wait of the oldest image before a partial batch runs', parseNonNegativeInt('--max-delay-ms'), 5)
    .option('--max-queue <n>', 'images in flight at most; beyond, 503 + Retry-After at once', parsePositiveInt('--max-queue'), 256)
    .option('--timeout-ms <n>', 'per-request deadline (504 after it)', parsePositiveInt('--timeout-ms'), 30000)
    .option('--max-body-mb <n>', 'largest body, multipart file or KServe request (413 beyond)', parsePositiveNumber('--max-body-mb'), 16)
    .option('--decode-concurrency <n>', 'images decoded at once (default: 2 per decode thread)', parsePositiveInt('--decode-concurrency'))
    .option('--max-pixels <n>', 'largest image, width x height, read from its header before decoding (422 beyond)', parsePositiveInt('--max-pixels'), 40_000_000)
    .addOption(new Option('--api-key <key>', 'require "Authorization: Bearer KEY" on everything but /v2/health').env('BACKBONES_API_KEY'))
    .option('--search <store>', 'also answer POST /v1/search: nearest images in this vector store (PATH.lance, or s3://, gs://, az:// …/NAME.lance) made with the same model')
    .option('--grace-ms <n>', 'on SIGTERM/SIGINT, how long to finish queued requests', parsePositiveInt('--grace-ms'), 10000)
    .addOption(choiceOption('--log-level <level>', 'access log level (JSON lines on stderr)', LOG_LEVELS, 'info'));
  addImageHandlingOptions(cmd);
  addDecodeOptions(cmd);
  addModelOptions(cmd, { labels: true });
  addPrecisionOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Endpoints: POST /v1/classify?k=5, POST /v1/extract?layer=&pool=&l2=, GET /v2/health/live|ready, GET /v2,
GET /v2/models/{name}[/versions/1][/ready], POST /v2/models/{name}[/versions/1]/infer (KServe v2 /
Triton: JSON or binary tensors), GET /metrics.

Examples:
  $ backbones --backend onnx serve -m mobilenet --port 8080
  $ curl -s --data-binary @cat.jpg -H 'Content-Type: image/jpeg' 'localhost:8080/v1/classify?k=3'
  $ curl -s -F a=@cat.jpg -F b=@dog.png 'localhost:8080/v1/extract?layer=conv_pw_13_relu&pool=avg'`,
  );
  cmd.action(async (_opts: unknown, command: Command) => {
    const { runServe } = await import('../serve/run.js');
    process.exitCode = await runServe(command.optsWithGlobals());
  });
}
