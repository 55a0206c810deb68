// Sign-in: Supabase Auth when the deployment names a Supabase project, the development sign-in of
// `appgen dev` otherwise (pick or generate a user id).
import { useId, useState, type FormEvent } from "react";
import { ApiError } from "../api/client";
import { useApp } from "../app/context";
import { ErrorNotice } from "../components/ErrorNotice";
import { describeApiError } from "../lib/words";
import { DevAuth, newUserId } from "./session";
import type { SupabaseAuth } from "./supabase";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function SignIn() {
  const { auth } = useApp();
  return (
    <section className="card narrow" aria-labelledby="sign-in-title">
      <h1 id="sign-in-title">Sign in to build your app</h1>
      {auth instanceof DevAuth ? (
        <DevSignIn auth={auth} />
      ) : auth.kind === "supabase" ? (
        <SupabaseSignIn auth={auth as SupabaseAuth} />
      ) : (
        <p role="alert">
          No sign-in is configured: this deployment's config.json names neither a Supabase project
          (supabaseUrl and supabaseAnonKey) nor the development sign-in.
        </p>
      )}
    </section>
  );
}

function DevSignIn({ auth }: { auth: DevAuth }) {
  const [userId, setUserId] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const hint = useId();
  const problemId = useId();

  async function submit(event: FormEvent) {
    event.preventDefault();
    const id = userId.trim();
    if (!UUID.test(id)) {
      setProblem("A user id is a UUID, such as 3f6c2a9e-8b41-4d7a-9c55-0e2b7f1d4a63. Generate one if you have none.");
      return;
    }
    setProblem(null);
    setBusy(true);
    try {
      await auth.signIn(id);
    } catch (caught) {
      setError(caught instanceof ApiError ? caught : new ApiError(0, "network", String(caught)));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={submit} noValidate>
      <p>
        This is the development sign-in of <code>appgen dev</code>: choose any user id and the local stack
        signs a token for it. Jobs belong to that id.
      </p>
      <div className="field">
        <label htmlFor="dev-user-id">User id</label>
        <div className="field-row">
          <input
            id="dev-user-id"
            name="userId"
            value={userId}
            onChange={(event) => setUserId(event.target.value)}
            aria-describedby={problem ? `${hint} ${problemId}` : hint}
            aria-invalid={problem ? true : undefined}
            autoComplete="off"
            spellCheck={false}
            placeholder="00000000-0000-4000-8000-000000000000"
          />
          <button type="button" className="button-secondary" onClick={() => setUserId(newUserId())}>
            Generate an id
          </button>
        </div>
        <p id={hint} className="hint">
          The same id later shows the same jobs.
        </p>
        {problem && (
          <p id={problemId} className="field-error" role="alert">
            {problem}
          </p>
        )}
      </div>
      <button type="submit" className="button-primary" disabled={busy}>
        {busy ? "Signing in…" : "Sign in"}
      </button>
      {error && <ErrorNotice described={describeApiError(error)} focus />}
    </form>
  );
}

function SupabaseSignIn({ auth }: { auth: SupabaseAuth }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [message, setMessage] = useState<{ kind: "error" | "info"; text: string } | null>(null);
  const [busy, setBusy] = useState(false);

  async function run(action: () => Promise<string | null>, success: string | null) {
    setBusy(true);
    const error = await action();
    setBusy(false);
    setMessage(error ? { kind: "error", text: error } : success ? { kind: "info", text: success } : null);
  }

  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        void run(() => auth.signInWithPassword(email, password), null);
      }}
    >
      <div className="field">
        <label htmlFor="email">Email</label>
        <input id="email" type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor="password">Password</label>
        <input
          id="password"
          type="password"
          autoComplete="current-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
      </div>
      <div className="actions">
        <button type="submit" className="button-primary" disabled={busy}>
          Sign in
        </button>
        <button
          type="button"
          className="button-secondary"
          disabled={busy || !email}
          onClick={() => void run(() => auth.sendMagicLink(email), `We sent a sign-in link to ${email}.`)}
        >
          Email me a sign-in link
        </button>
      </div>
      {message && (
        <p role={message.kind === "error" ? "alert" : "status"} className={message.kind === "error" ? "field-error" : "hint"}>
          {message.text}
        </p>
      )}
    </form>
  );
}
