import sharp from 'sharp';
import { readFileSync } from 'node:fs';
sharp.concurrency(1); sharp.cache(false);
const buf = readFileSync(process.argv[2]);
const n = +process.argv[3] || 20;
for (let i = 0; i < n; i++) await sharp(buf).raw().toBuffer();
const r = process.resourceUsage(); console.log('user', r.userCPUTime/1000/n, 'sys', r.systemCPUTime/1000/n, 'minflt', r.minorPageFault/n);
