// What an EXIF-rotated JPEG costs on the way to a 224x224 model input: the same photo
// re-saved with orientation 1 and with ORIENTATION, decoded by the libjpeg-turbo addon (which
// turns the rows as it decodes) and by sharp (BACKBONES_JPEG_DECODER=sharp), `exact` and
// `fast`, in interleaved rounds. CPU time of a child process per variant (RUNS decodes after
// 2 untimed ones), so each figure is that decoder's alone.
//
//   npx tsx bench/decode-rotated.ts PHOTO.jpg [ORIENTATION=6] [RUNS=8] [ROUNDS=2]
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import sharp from 'sharp';
import { loadImageForModel } from '../src/images/index.js';

const [file, orientationArg = '6', runsArg = '8', roundsArg = '2'] = process.argv.slice(2);
if (!file) throw new Error('usage: npx tsx bench/decode-rotated.ts PHOTO.jpg [ORIENTATION=6] [RUNS=8] [ROUNDS=2]');

if (process.env.BB_CHILD) {
  // One variant: orientation BB_CHILD, the decoder this process was started with.
  sharp.concurrency(1);
  sharp.cache(false);
  const photo = await sharp(readFileSync(file)).withMetadata({ orientation: Number(process.env.BB_CHILD) }).jpeg({ quality: 90 }).toBuffer();
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const out: Record<string, number> = {};
  for (const decode of ['exact', 'fast'] as const) {
    const load = () => loadImageForModel(photo, { size: [224, 224], preprocess: 'tf', decode });
    for (let i = 0; i < 2; i++) await load();
    const c0 = cpu();
    for (let i = 0; i < Number(runsArg); i++) await load();
    out[decode] = (cpu() - c0) / Number(runsArg);
  }
  console.log(JSON.stringify(out));
} else {
  const meta = await sharp(file).metadata();
  console.log(`${file}: ${meta.width}x${meta.height}; ${os.cpus()[0]?.model}, ${os.availableParallelism()} cores; load ${os.loadavg()[0]!.toFixed(2)}`);
  console.log('| round | variant | exact ms CPU | fast ms CPU |\n|---:|---|---:|---:|');
  const variants: [string, string, string | undefined][] = [
    ['orientation 1, addon', '1', undefined],
    [`orientation ${orientationArg}, addon`, orientationArg, undefined],
    [`orientation ${orientationArg}, sharp`, orientationArg, 'sharp'],
  ];
  for (let round = 1; round <= Number(roundsArg); round++) {
    for (const [name, orientation, decoder] of variants) {
      const env = { ...process.env, BB_CHILD: orientation, ...(decoder ? { BACKBONES_JPEG_DECODER: decoder } : {}) };
      const r = JSON.parse(execFileSync(process.execPath, [...process.execArgv, import.meta.filename, ...process.argv.slice(2)], { env, encoding: 'utf8' })) as { exact: number; fast: number };
      console.log(`| ${round} | ${name} | ${r.exact.toFixed(1)} | ${r.fast.toFixed(1)} |`);
    }
  }
}
