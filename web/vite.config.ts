/// <reference types="vitest/config" />
// The /build reference frontend: static files under `dist/`, served by `appgen dev` at /build/ (or by any
// static host; build with `--base=/elsewhere/` to host it under another path).
import react from "@vitejs/plugin-react";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
// `npm run dev` forwards the API, the dev sign-in and the runtime config to a running `appgen dev`.
const api = process.env.APPGEN_API_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  base: "/build/",
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    chunkSizeWarningLimit: 600,
  },
  server: {
    fs: { allow: [repoRoot] }, // the example drafts live in ../examples/projects
    proxy: Object.fromEntries(
      ["/api", "/dev", "/files", "/build/config.json"].map((path) => [path, { target: api, changeOrigin: false }]),
    ),
  },
  test: {
    include: ["test/**/*.test.ts"],
    environment: "node",
    css: { include: [/tailwindcss\/index\.css/] }, // the preview compiler reads it ?raw
  },
});
