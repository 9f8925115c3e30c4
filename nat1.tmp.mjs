import sharp from 'sharp';
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
const m = createRequire(import.meta.url)('./native/build/jpeg.node');
sharp.concurrency(1); sharp.cache(false);
const dir = '/work/shared/data/images';
let same = 0, diff = 0;
for (const f of readdirSync(dir).filter(f => /\.jpe?g$/.test(f))) {
  const buf = readFileSync(`${dir}/${f}`);
  const r = m.decodeSync(buf, 1, null);
  if (!r.buffer) { console.log(f, 'native:', r); continue; }
  const s = await sharp(buf, {autoOrient:false, ignoreIcc:true}).toColourspace('srgb').raw().toBuffer({resolveWithObject:true}).catch(e => ({err: e.message}));
  if (s.err) { console.log(f, 'sharp err', s.err); continue; }
  const a = new Uint8Array(r.buffer, 0, r.width*r.height*3);
  const eq = s.info.width === r.width && s.info.height === r.height && Buffer.compare(Buffer.from(a), s.data) === 0;
  let maxd = 0; if (!eq && s.data.length === a.length) for (let i = 0; i < a.length; i++) maxd = Math.max(maxd, Math.abs(a[i]-s.data[i]));
  console.log(f, r.width, r.height, eq ? 'IDENTICAL' : `DIFF max ${maxd}`);
}
const F = '/tmp/decode-phone48/03_phone_4000x3000.jpg', buf = readFileSync(F);
for (const d of [1,2,4,8]) {
  let out = null; const n = 10;
  out = m.decodeSync(buf, d, out).buffer;
  const r0 = process.resourceUsage();
  for (let i = 0; i < n; i++) out = m.decodeSync(buf, d, out).buffer;
  const r1 = process.resourceUsage();
  console.log('native 1/'+d, 'user', ((r1.userCPUTime-r0.userCPUTime)/1000/n).toFixed(1), 'sys', ((r1.systemCPUTime-r0.systemCPUTime)/1000/n).toFixed(1), 'flt', (r1.minorPageFault-r0.minorPageFault)/n);
}
const pr = await m.decodeAsync(buf, 4, null); console.log('async', pr.width, pr.height);
