// Who is signed in and their access token. Two ways in: Supabase Auth (a deployment's config.json names
// its project), or the development sign-in of `appgen dev`, where the stack mints a token for any user id.
import { ApiError } from "../api/client";
import type { AppConfig } from "../lib/config";

export interface Session {
  userId: string;
  /** How to show who this is: an email, or the dev user id. */
  label: string;
}

export interface Auth {
  readonly kind: "dev" | "supabase" | "none";
  session(): Session | null;
  subscribe(listener: () => void): () => void;
  /** A valid access token, refreshed when needed; ApiError 401 when nobody is signed in. */
  token(): Promise<string>;
  signOut(): Promise<void>;
}

const notSignedIn = () => new ApiError(401, "missing_token", "Nobody is signed in.");

class Listeners {
  private readonly all = new Set<() => void>();
  subscribe(listener: () => void): () => void {
    this.all.add(listener);
    return () => this.all.delete(listener);
  }
  notify() {
    for (const listener of this.all) listener();
  }
}

interface DevToken {
  userId: string;
  accessToken: string;
  expiresAt: string;
}

const DEV_USER = "appgen.dev.userId";
const DEV_TOKEN = "appgen.dev.token";

/** `appgen dev`'s sign-in: pick (or generate) a user id; POST /dev/token mints its token. */
export class DevAuth implements Auth {
  readonly kind = "dev";
  private readonly listeners = new Listeners();
  private current: Session | null;

  constructor(private readonly apiUrl: string) {
    const userId = localStorage.getItem(DEV_USER);
    this.current = userId ? { userId, label: userId } : null;
  }

  session = () => this.current;
  subscribe = (listener: () => void) => this.listeners.subscribe(listener);

  async signIn(userId: string): Promise<void> {
    await this.mint(userId);
    localStorage.setItem(DEV_USER, userId);
    this.current = { userId, label: userId };
    this.listeners.notify();
  }

  token = async (): Promise<string> => {
    if (!this.current) throw notSignedIn();
    const cached = readDevToken();
    if (cached && cached.userId === this.current.userId && Date.parse(cached.expiresAt) - Date.now() > 60_000) {
      return cached.accessToken;
    }
    return (await this.mint(this.current.userId)).accessToken;
  };

  signOut = async () => {
    localStorage.removeItem(DEV_USER);
    sessionStorage.removeItem(DEV_TOKEN);
    this.current = null;
    this.listeners.notify();
  };

  private async mint(userId: string): Promise<DevToken> {
    let response: Response;
    try {
      response = await fetch(`${this.apiUrl}/dev/token`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ userId }),
      });
    } catch {
      throw new ApiError(0, "network", `Could not reach appgen at ${this.apiUrl || location.origin}.`);
    }
    const body = (await response.json().catch(() => null)) as { accessToken?: string; expiresAt?: string; error?: { code: string; message: string } } | null;
    if (!response.ok || !body?.accessToken || !body.expiresAt) {
      throw new ApiError(response.status, body?.error?.code ?? "dev_sign_in", body?.error?.message ?? "The development sign-in was refused.");
    }
    const token = { userId, accessToken: body.accessToken, expiresAt: body.expiresAt };
    sessionStorage.setItem(DEV_TOKEN, JSON.stringify(token));
    return token;
  }
}

function readDevToken(): DevToken | null {
  try {
    return JSON.parse(sessionStorage.getItem(DEV_TOKEN) ?? "null") as DevToken | null;
  } catch {
    return null;
  }
}

/** A fresh user id for the development sign-in. */
export function newUserId(): string {
  return newUuid();
}

/** crypto.randomUUID where the page is a secure context, the same from getRandomValues elsewhere. */
export function newUuid(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  const hex = [...bytes]
    .map((b, i) => (i === 6 ? (b & 0x0f) | 0x40 : i === 8 ? (b & 0x3f) | 0x80 : b)) // version 4, variant 1
    .map((b) => b.toString(16).padStart(2, "0"))
    .join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** No way to sign in is configured: the page says so. */
class NoAuth implements Auth {
  readonly kind = "none";
  session = () => null;
  subscribe = () => () => {};
  token = async (): Promise<string> => {
    throw notSignedIn();
  };
  signOut = async () => {};
}

export async function createAuth(config: AppConfig): Promise<Auth> {
  if (config.supabaseUrl && config.supabaseAnonKey) {
    const { SupabaseAuth } = await import("./supabase");
    return SupabaseAuth.start(config.supabaseUrl, config.supabaseAnonKey);
  }
  if (config.devSignIn) return new DevAuth(config.apiUrl);
  return new NoAuth();
}
