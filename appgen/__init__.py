"""appgen: finalized frontend design in, buildable Next.js + React + Tailwind app out."""

__version__ = "0.1.0"
