// Builds dist/tsw-agent.mjs, the installed `tsw-agent`: dist/cli.js and everything it imports
// in one ES module (esbuild). Node then resolves, reads, lexes and compiles one file instead
// of ~300 (webtorrent's module graph, most of it CommonJS that Node's ESM loader lexes for its
// exports): about half of the CPU `tsw-agent fetch` spends before its first request (README,
// "Benchmark"). Run after `tsc -b` (the package's build script does both).
//
// fetch's piece-verify.ts replaces webtorrent's `Torrent#_request` only on the webtorrent it was
// written for, recognised by a fingerprint of the method's source; esbuild reprints that
// source, so the fingerprint is taken here, from the very file that gets bundled, and the
// bundle carries the webtorrent version that matched (`__TSW_BUNDLED_WEBTORRENT__`). A
// webtorrent that does not match is bundled without it: the bundle then keeps webtorrent's
// own receive path and warns, as the unbundled CLI does.
//
// Native add-ons stay outside (they load from beside their package, i.e. not from the bundle,
// and their users fall back quietly: fs-native-extensions serves only options the chunk store
// does not set, ws's bufferutil/utf-8-validate are optional). utp-native is replaced by an
// empty module: uTP is off (engine.ts), and webtorrent would print a stack trace on every
// start when the add-on is not found.

import { createHash } from 'node:crypto';
import { chmod, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(packageDir, 'dist', 'cli.js');
const outfile = join(packageDir, 'dist', 'tsw-agent.mjs');

// The webtorrent the bundle will contain: the one fetch's engine imports.
const fetchEngine = createRequire(import.meta.url).resolve('@trustswarm/fetch/transfer');
const webtorrentDir = dirname(createRequire(fetchEngine).resolve('webtorrent'));
const torrentFile = join(webtorrentDir, 'lib', 'torrent.js');
const { version } = JSON.parse(await readFile(join(webtorrentDir, 'package.json'), 'utf8'));
const { default: Torrent } = await import(pathToFileURL(torrentFile).href);
const { REQUEST_FINGERPRINT } = await import(
  pathToFileURL(join(dirname(fetchEngine), 'transfer', 'piece-verify.js')).href
);
const fingerprint = createHash('sha256').update(Torrent.prototype._request.toString()).digest('hex');
const known = fingerprint === REQUEST_FINGERPRINT;
if (!known) {
  process.stderr.write(
    `bundle: webtorrent ${version}'s Torrent#_request is not the one fetch's piece-verify.ts was written for; the bundle keeps webtorrent's own receive path\n`,
  );
}

/** `require('utp-native')` gives {}: webtorrent then reports no uTP support, silently. */
const withoutUtp = {
  name: 'without-utp',
  setup(b) {
    b.onResolve({ filter: /^utp-native$/ }, () => ({ path: 'utp-native', namespace: 'without-utp' }));
    b.onLoad({ filter: /.*/, namespace: 'without-utp' }, () => ({ contents: 'module.exports = {};' }));
  },
};

const result = await build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  metafile: true,
  logLevel: 'warning',
  external: ['fs-native-extensions', 'bufferutil', 'utf-8-validate'],
  plugins: [withoutUtp],
  // CommonJS modules inside an ES module bundle still call require (for Node's built-ins).
  banner: {
    js: "import { createRequire as __tswCreateRequire } from 'node:module'; const require = __tswCreateRequire(import.meta.url);",
  },
  define: known ? { __TSW_BUNDLED_WEBTORRENT__: JSON.stringify(version) } : {},
});

// The version recorded must be the only webtorrent inside, and the file checked must be in it.
const bundledTorrentFiles = Object.keys(result.metafile.inputs)
  .map((input) => resolve(process.cwd(), input))
  .filter((input) => /[\\/]webtorrent[\\/]lib[\\/]torrent\.js$/.test(input));
if (bundledTorrentFiles.length !== 1 || bundledTorrentFiles[0] !== torrentFile) {
  throw new Error(
    `bundle: expected exactly ${torrentFile} as webtorrent's torrent.js, found ${bundledTorrentFiles.join(', ') || 'none'}`,
  );
}
await chmod(outfile, 0o755); // the package's bin
process.stdout.write(
  `bundle: ${relative(process.cwd(), outfile)} (webtorrent ${version}${known ? ', receive path fingerprinted' : ''})\n`,
);
