// Builds native/build/jpeg.node (npm run build, so also npm ci) against the system's
// libjpeg-turbo (Debian: libjpeg62-turbo-dev), Little CMS when present (liblcms2-dev), and the Node-API headers that ship with
// Node itself: offline, no node-gyp download. Optional: when it cannot be built, one
// line says why and JPEGs decode with sharp, as before.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';

const here = import.meta.dirname;
const out = path.join(here, 'build', 'jpeg.node');
const headers = [path.join(path.dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node', '/usr/local/include/node'].find((d) => existsSync(path.join(d, 'node_api.h')));
const skip = (why) => {
  rmSync(out, { force: true });
  console.error(`backbones: libjpeg-turbo decoder not built (${why}); JPEGs decode with sharp. To build it: install a C compiler and libjpeg-turbo's headers (Debian: apt-get install gcc libjpeg62-turbo-dev liblcms2-dev), then npm run build.`);
};
if (process.env.BACKBONES_NO_NATIVE === '1') skip('BACKBONES_NO_NATIVE=1');
else if (!headers) skip("no Node-API headers beside this Node");
else {
  mkdirSync(path.dirname(out), { recursive: true });
  const cc = process.env.CC ?? 'cc';
  const args = ['-O2', '-fPIC', '-shared', '-Wall', `-I${headers}`, path.join(here, 'jpeg.c'), '-o', out, '-ljpeg'];
  if (process.platform === 'darwin') args.push('-undefined', 'dynamic_lookup');
  const build = (extra) => execFileSync(cc, [...args, ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    // With Little CMS (Debian: liblcms2-dev) the addon can tell an sRGB ICC profile from others,
    // so photos that carry one decode here too; without it they go to sharp, as before.
    try {
      build(['-DBACKBONES_LCMS', '-llcms2']);
    } catch {
      build([]);
      console.error('backbones: the libjpeg-turbo decoder was built without Little CMS (Debian: apt-get install liblcms2-dev): JPEGs with an ICC profile decode with sharp.');
    }
  } catch (e) {
    const first = String(e.stderr ?? e.message).split('\n').find((l) => /error|not found/i.test(l)) ?? String(e.message).split('\n')[0];
    skip(first.trim());
  }
}
