// The decode stage against libjpeg-turbo's own `djpeg` (Debian libjpeg-turbo-progs), on the
// same JPEGs at the same scale: full size (what --decode exact decodes) and the DCT scale
// --decode fast picks for a 224x224 model. CPU time per file, in rounds that interleave
//   ours   decodeImage() as the pipeline calls it (header handed over, file read, decode
//          into a buffer the thread keeps): the libjpeg-turbo addon, sharp when absent;
//   sharp  the same decode through sharp (what backbones did before: a fresh buffer each time);
//   djpeg  `djpeg -scale 1/N -outfile /dev/null FILE`, timed by the shell's `times` over all
//          files in one shell, minus the same shell running djpeg on a 16x16 JPEG as often
//          (process start-up, which ours does not pay per file); both figures are printed.
// Also page faults per file (a fresh buffer faults in every page it touches).
//
//   npx tsx bench/decode-vs-djpeg.ts DIR [ROUNDS=3]
import { execFileSync, fork } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { decodeImage, fastDecodeDenom, jpegDecoder, readSourceInfo, FAST_DECODE_MARGIN, type SourceInfo } from '../src/images/index.js';
import { expandInputs } from '../src/images/inputs.js';

type Scale = 'full' | 'fast';
interface Measure {
  cpuMs: number;
  faults: number;
}
const SIZE = 224;

/** Runs in a child process of its own (so process CPU time and faults are its alone), one for each decoder. */
async function measureOurs(files: { file: string; source: SourceInfo }[], scale: Scale, via: 'ours' | 'sharp'): Promise<Measure> {
  const min = { minWidth: FAST_DECODE_MARGIN * SIZE, minHeight: FAST_DECODE_MARGIN * SIZE };
  const r0 = process.resourceUsage();
  for (const { file, source } of files) {
    if (via === 'ours') {
      const img = await decodeImage(file, { source, shrinkOnLoad: scale === 'fast' ? min : undefined });
      img.release?.();
    } else {
      const denom = scale === 'fast' ? fastDecodeDenom(source, min) : 1;
      let p = sharp(readFileSync(file), { failOn: 'error' });
      if (denom > 1) p = p.resize({ width: Math.ceil(source.width / denom), height: Math.ceil(source.height / denom), fit: 'fill', fastShrinkOnLoad: true, kernel: 'nearest' });
      await p.flatten({ background: 'white' }).toColourspace('srgb').raw().toBuffer();
    }
  }
  const r1 = process.resourceUsage();
  return { cpuMs: (r1.userCPUTime - r0.userCPUTime + r1.systemCPUTime - r0.systemCPUTime) / 1000, faults: r1.minorPageFault - r0.minorPageFault };
}

const child = process.argv[2] === '--child' ? (process.argv[3] as 'ours' | 'sharp') : null;
if (child) {
  // One process per decoder for the whole run, like a decode-pool thread: its kept buffers persist.
  sharp.concurrency(1);
  let files: { file: string; source: SourceInfo }[] = [];
  process.on('message', async (msg: { files?: typeof files; scale: Scale }) => {
    if (msg.files) files = msg.files;
    process.send!(await measureOurs(files, msg.scale, child));
  });
}

async function main(): Promise<void> {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: npx tsx bench/decode-vs-djpeg.ts DIR [ROUNDS=3]');
  const rounds = Number(process.argv[3] ?? 3);
  sharp.concurrency(1); // one image, one thread, like djpeg
  const files: { file: string; source: SourceInfo }[] = [];
  for (const e of await expandInputs([dir], { extensions: ['jpg', 'jpeg'] })) {
    const source = await readSourceInfo(e.path);
    if (source) files.push({ file: e.path, source });
  }
  const min = { minWidth: FAST_DECODE_MARGIN * SIZE, minHeight: FAST_DECODE_MARGIN * SIZE };
  const denomOf = (s: SourceInfo, scale: Scale) => (scale === 'fast' ? fastDecodeDenom(s, min) : 1);

  const tmp = mkdtempSync(path.join(os.tmpdir(), 'bb-djpeg-'));
  const tiny = path.join(tmp, 'tiny.jpg');
  writeFileSync(tiny, await sharp({ create: { width: 16, height: 16, channels: 3, background: 'grey' } }).jpeg().toBuffer());

  /** CPU ms of the shell's children (djpeg runs), from `times`. */
  function djpegCpuMs(list: { file: string; denom: number }[]): number {
    const script = list.map((f) => `djpeg -scale 1/${f.denom} -outfile /dev/null '${f.file.replace(/'/g, "'\\''")}'`).join('\n') + '\ntimes';
    const out = execFileSync('bash', ['-c', script], { encoding: 'utf8' });
    // `times`: shell user/sys, then children user/sys, as 0m0.123s.
    const secs = [...out.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
    return 1000 * (secs[2]! + secs[3]!);
  }

  function startChild(via: 'ours' | 'sharp'): { measure: (scale: Scale) => Promise<Measure>; stop: () => void } {
    const c = fork(new URL(import.meta.url).pathname, ['--child', via], { execArgv: ['--import', 'tsx'] });
    let first = true;
    return {
      measure: (scale) =>
        new Promise((resolve) => {
          c.once('message', (m) => resolve(m as Measure));
          c.send(first ? { files, scale } : { scale });
          first = false;
        }),
      stop: () => c.kill(),
    };
  }
  const inChild = { ours: startChild('ours'), sharp: startChild('sharp') };

  const acc: Record<Scale, Record<'ours' | 'sharp' | 'djpeg' | 'djpegStartup', Measure>> = {
    full: { ours: { cpuMs: 0, faults: 0 }, sharp: { cpuMs: 0, faults: 0 }, djpeg: { cpuMs: 0, faults: 0 }, djpegStartup: { cpuMs: 0, faults: 0 } },
    fast: { ours: { cpuMs: 0, faults: 0 }, sharp: { cpuMs: 0, faults: 0 }, djpeg: { cpuMs: 0, faults: 0 }, djpegStartup: { cpuMs: 0, faults: 0 } },
  };
  const load0 = os.loadavg();
  for (let r = 0; r <= rounds; r++) {
    for (const scale of ['full', 'fast'] as const) {
      const ours = await inChild.ours.measure(scale);
      const viaSharp = await inChild.sharp.measure(scale);
      const djpeg = djpegCpuMs(files.map((f) => ({ file: f.file, denom: denomOf(f.source, scale) })));
      const startup = djpegCpuMs(files.map(() => ({ file: tiny, denom: 1 })));
      if (r === 0) continue; // warm-up: file cache, code, buffers
      const a = acc[scale];
      a.ours.cpuMs += ours.cpuMs;
      a.ours.faults += ours.faults;
      a.sharp.cpuMs += viaSharp.cpuMs;
      a.sharp.faults += viaSharp.faults;
      a.djpeg.cpuMs += djpeg;
      a.djpegStartup.cpuMs += startup;
      console.error(`round ${r} ${scale}: ours ${(ours.cpuMs / files.length).toFixed(1)} ms/file, sharp ${(viaSharp.cpuMs / files.length).toFixed(1)}, djpeg ${(djpeg / files.length).toFixed(1)} (start-up ${(startup / files.length).toFixed(1)})`);
    }
  }
  rmSync(tmp, { recursive: true, force: true });
  inChild.ours.stop();
  inChild.sharp.stop();
  const per = (x: number) => +(x / (rounds * files.length)).toFixed(2);
  const summary = Object.fromEntries(
    (['full', 'fast'] as const).map((scale) => {
      const a = acc[scale];
      const net = a.djpeg.cpuMs - a.djpegStartup.cpuMs;
      return [
        scale,
        {
          denoms: [...new Set(files.map((f) => denomOf(f.source, scale)))].sort(),
          oursCpuMsPerFile: per(a.ours.cpuMs),
          oursFaultsPerFile: per(a.ours.faults),
          sharpCpuMsPerFile: per(a.sharp.cpuMs),
          sharpFaultsPerFile: per(a.sharp.faults),
          djpegCpuMsPerFile: per(a.djpeg.cpuMs),
          djpegStartupCpuMsPerFile: per(a.djpegStartup.cpuMs),
          djpegNetCpuMsPerFile: per(net),
          oursOverDjpeg: +(a.ours.cpuMs / a.djpeg.cpuMs).toFixed(2),
          oursOverDjpegNet: +(a.ours.cpuMs / net).toFixed(2),
          sharpOverDjpegNet: +(a.sharp.cpuMs / net).toFixed(2),
        },
      ];
    }),
  );
  console.log(
    JSON.stringify({ decoder: jpegDecoder().label, files: files.length, rounds, cpu: os.cpus()[0]?.model, cores: os.availableParallelism(), loadAverageStart: load0.map((x) => +x.toFixed(2)), loadAverageEnd: os.loadavg().map((x) => +x.toFixed(2)), ...summary }, null, 1),
  );
}

if (!child) await main();
