// What every component may need: the runtime config, the signed-in session and the API client.
import { createContext, useContext, useSyncExternalStore } from "react";
import type { Api } from "../api/client";
import type { Auth, Session } from "../auth/session";
import type { AppConfig } from "../lib/config";

export interface AppServices {
  config: AppConfig;
  auth: Auth;
  api: Api;
}

export const AppContext = createContext<AppServices | null>(null);

export function useApp(): AppServices {
  const services = useContext(AppContext);
  if (!services) throw new Error("useApp outside <AppContext>");
  return services;
}

export function useSession(): Session | null {
  const { auth } = useApp();
  return useSyncExternalStore(auth.subscribe, auth.session);
}
