import { defineConfig } from "vite";

// The FastAPI app (web/server.py) serves dist/ at "/". For `npm run dev`, point the
// proxy at a running server: INTERVIEWER_SERVER=http://127.0.0.1:7860 npm run dev
const server = process.env.INTERVIEWER_SERVER ?? "http://127.0.0.1:7860";

export default defineConfig({
  base: "./",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    // No external assets, fonts or CDNs: everything ships in dist/.
    assetsInlineLimit: 0,
  },
  server: {
    proxy: {
      "/api": server,
      "/start": server,
      "/status": server,
      "/ws-client": { target: server.replace(/^http/, "ws"), ws: true },
    },
  },
});
