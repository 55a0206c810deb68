// Supabase Auth through @supabase/supabase-js (loaded only when config.json names a Supabase project):
// email and password, or a magic link. supabase-js keeps the session and refreshes its token.
import { createClient, type SupabaseClient, type Session as SupabaseSession } from "@supabase/supabase-js";
import { ApiError } from "../api/client";
import type { Auth, Session } from "./session";

export class SupabaseAuth implements Auth {
  readonly kind = "supabase";
  private readonly listeners = new Set<() => void>();
  private current: Session | null = null;

  private constructor(readonly client: SupabaseClient) {}

  static async start(url: string, anonKey: string): Promise<SupabaseAuth> {
    const auth = new SupabaseAuth(createClient(url, anonKey, { auth: { persistSession: true, detectSessionInUrl: true } }));
    auth.update((await auth.client.auth.getSession()).data.session);
    auth.client.auth.onAuthStateChange((_event, session) => auth.update(session));
    return auth;
  }

  session = () => this.current;

  subscribe = (listener: () => void) => {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  };

  token = async (): Promise<string> => {
    const { data } = await this.client.auth.getSession();
    if (!data.session) throw new ApiError(401, "missing_token", "Nobody is signed in.");
    return data.session.access_token;
  };

  async signInWithPassword(email: string, password: string): Promise<string | null> {
    const { error } = await this.client.auth.signInWithPassword({ email, password });
    return error ? error.message : null;
  }

  async sendMagicLink(email: string): Promise<string | null> {
    const { error } = await this.client.auth.signInWithOtp({ email, options: { emailRedirectTo: location.href } });
    return error ? error.message : null;
  }

  signOut = async () => {
    await this.client.auth.signOut();
  };

  private update(session: SupabaseSession | null) {
    const next = session ? { userId: session.user.id, label: session.user.email ?? session.user.id } : null;
    if (next?.userId === this.current?.userId) return;
    this.current = next;
    for (const listener of this.listeners) listener();
  }
}
