// Bundles each function into one minified ES module, the AWS SDK included, as the
// Lambda docs recommend for Node.js: dist/get.mjs and dist/completion.mjs.
import { build } from 'esbuild';

const result = await build({
  entryPoints: ['src/get.mjs', 'src/completion.mjs'],
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  minify: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  // Prefer the ES module builds of dependencies (the AWS SDK ships both).
  mainFields: ['module', 'main'],
  // CommonJS inside an ES module bundle still calls require() for Node's built-ins.
  banner: {
    js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
  },
  metafile: true,
  logLevel: 'warning',
});
for (const [file, { bytes }] of Object.entries(result.metafile.outputs)) {
  console.log(`${file}: ${bytes} bytes`);
}
