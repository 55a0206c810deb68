// The runtime configuration, `config.json` next to index.html: `appgen dev` serves it at
// /build/config.json; a static host ships its own. The same build then runs against any deployment.
export interface AppConfig {
  /** Base URL of the appgen API ("" or the page's origin when both are served together). */
  apiUrl: string;
  /** `appgen dev` only: sign in as any user id, the stack mints the token (POST /dev/token). */
  devSignIn: boolean;
  supabaseUrl: string | null;
  supabaseAnonKey: string | null;
}

export function readConfig(value: unknown): AppConfig {
  if (typeof value !== "object" || value === null) throw new Error("config.json is not a JSON object.");
  const raw = value as Record<string, unknown>;
  if (typeof raw.apiUrl !== "string") throw new Error("config.json has no apiUrl (the appgen API's base URL).");
  const text = (key: string) => (typeof raw[key] === "string" && raw[key] ? (raw[key] as string) : null);
  return {
    apiUrl: raw.apiUrl.replace(/\/+$/, ""),
    devSignIn: raw.devSignIn === true,
    supabaseUrl: text("supabaseUrl"),
    supabaseAnonKey: text("supabaseAnonKey"),
  };
}

export async function loadConfig(): Promise<AppConfig> {
  const url = `${import.meta.env.BASE_URL}config.json`;
  let response: Response;
  try {
    response = await fetch(url, { cache: "no-store" });
  } catch {
    throw new Error(`Could not load ${url}: the server is not reachable.`);
  }
  if (!response.ok) throw new Error(`Could not load ${url}: the server answered ${response.status}.`);
  try {
    return readConfig(await response.json());
  } catch (error) {
    throw new Error(error instanceof SyntaxError ? `${url} is not valid JSON.` : (error as Error).message, { cause: error });
  }
}
