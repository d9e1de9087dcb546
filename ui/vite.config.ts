/// <reference types="vitest/config" />
// Vite builds ui/dist (the Tauri shell's frontendDist); Vitest runs the tests in jsdom.
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

export default defineConfig(({ mode }) => ({
  plugins: [svelte()],
  // Relative asset paths: the shell serves dist/ from its own origin, and a plain static server
  // works too (the visual check serves it from a temp port).
  base: './',
  clearScreen: false,
  server: {
    port: 1420,
    strictPort: true,
  },
  build: {
    outDir: 'dist',
    target: 'es2022',
    sourcemap: false,
    // Nothing may need eval or inline scripts: the shell's CSP forbids both.
    modulePreload: { polyfill: false },
  },
  // Tests mount components, so they need Svelte's browser build, not its server one.
  resolve: mode === 'test' ? { conditions: ['browser'] } : undefined,
  test: {
    environment: 'jsdom',
    include: ['tests/**/*.test.ts'],
    setupFiles: ['tests/setup.ts'],
  },
}));
