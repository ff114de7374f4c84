import { defineConfig } from 'vite';

// No React plugin: Vite's own transformer (Oxc) compiles JSX with the automatic runtime,
// and the demo needs no fast refresh. `base: './'` makes every asset URL relative, so
// dist/ works from any path of any static server.
export default defineConfig({
  base: './',
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: 'dist',
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: true,
    rolldownOptions: {
      // swr (inside @ai-sdk/react) starts with 'use client', which means nothing in a
      // client-only bundle: do not print the warning on every build.
      onwarn(warning, warn) {
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
    },
  },
});
