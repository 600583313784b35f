import { defineConfig } from 'vite';

// The dashboard is served by the API under /app/; its API base URL is set at build time with
// VITE_API_BASE_URL (default: same origin).
export default defineConfig({
  base: '/app/',
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, chunkSizeWarningLimit: 1024 },
  server: { fs: { allow: ['..'] } },
});
