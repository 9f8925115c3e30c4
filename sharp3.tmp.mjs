import sharp from 'sharp';
import { readFileSync } from 'node:fs';
sharp.concurrency(1); sharp.cache(false);
const buf = readFileSync(process.argv[2]);
const n = +process.argv[3] || 10;
const variants = {
  full: () => sharp(buf).raw().toBuffer(),
  to224: () => sharp(buf).resize(224,224,{fit:'fill',kernel:'nearest', fastShrinkOnLoad:false}).raw().toBuffer(),
  stats: () => sharp(buf).stats(),
};
for (let r = 0; r < 2; r++) for (const [k, fn] of Object.entries(variants)) {
  await fn();
  const r0 = process.resourceUsage();
  for (let i = 0; i < n; i++) await fn();
  const r1 = process.resourceUsage();
  console.log(k.padEnd(8), 'user', ((r1.userCPUTime-r0.userCPUTime)/1000/n).toFixed(1), 'sys', ((r1.systemCPUTime-r0.systemCPUTime)/1000/n).toFixed(1), 'flt', ((r1.minorPageFault-r0.minorPageFault)/n).toFixed(0));
}
