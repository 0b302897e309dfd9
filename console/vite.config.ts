import { fileURLToPath } from 'node:url'
import react from '@vitejs/plugin-react'
import { defineConfig } from 'vite'

const root = fileURLToPath(new URL('.', import.meta.url))

// `npm run console:dev`: the console with hot reload, the API of a running `opensync start`
// behind it (OPENSYNC_API, default http://127.0.0.1:3000).
export default defineConfig({
  root,
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 1200 },
  server: {
    proxy: {
      '/api': { target: process.env.OPENSYNC_API ?? 'http://127.0.0.1:3000', changeOrigin: false },
    },
  },
})
