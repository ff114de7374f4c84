import { defineConfig } from 'vite';

// No React plugin: esbuild, which Vite runs on every .jsx file anyway, compiles JSX with the
// automatic runtime, and the demo needs no fast refresh. `base: './'` makes every asset URL
// relative, so dist/ works from any path of any static server.
//
// Vite 7, not 8: Vite 8 lists an optional dependency that the npm registry does not serve
// (napi-windows-process-start-time), so `npm ci` refuses its lock file.
export default defineConfig({
  base: './',
  esbuild: { jsx: 'automatic' },
  build: {
    outDir: 'dist',
    target: 'es2022',
    sourcemap: false,
    rollupOptions: {
      // swr (inside @ai-sdk/react) starts with 'use client', which means nothing in a
      // client-only bundle: do not print the warning on every build.
      onwarn(warning, warn) {
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
    },
  },
});
