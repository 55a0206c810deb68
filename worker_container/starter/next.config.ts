import type { NextConfig } from "next";

// Generated apps build offline: nothing here may fetch at build time (no remote fonts, no image optimizer
// downloads). Preview designs often point <img> at external URLs, so images are served as-is.
const nextConfig: NextConfig = {
  images: { unoptimized: true },
};

export default nextConfig;
