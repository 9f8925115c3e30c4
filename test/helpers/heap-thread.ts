// A thread for test/spawn.test.ts: reports the size of its V8 young generation.
import v8 from 'node:v8';
import { parentPort } from 'node:worker_threads';

const newSpace = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
parentPort!.postMessage({ resourceLimits: (await import('node:worker_threads')).resourceLimits, newSpaceMb: (newSpace?.space_size ?? 0) / 1048576 });
