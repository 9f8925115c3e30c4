import { Worker } from 'node:worker_threads';
import fs from 'node:fs';
import sharp from 'sharp';
import * as ort from 'onnxruntime-node';
const w = new Worker(`const sharp=require('sharp');(async()=>{for(;;){await sharp('/work/shared/data/images/forest_path_5120x2880__plasma_SafeLanding.jpg').raw().toBuffer();}})()`, { eval: true });
await sharp('/work/shared/data/images/forest_path_5120x2880__plasma_SafeLanding.jpg').raw().toBuffer();
await new Promise(r => setTimeout(r, 1500));
for (const t of fs.readdirSync('/proc/self/task')) {
  const comm = fs.readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim();
  const st = fs.readFileSync(`/proc/self/task/${t}/stat`, 'utf8').split(') ')[1].split(' ');
  console.log(t, comm, st[11], st[12]);
}
process.exit(0);
