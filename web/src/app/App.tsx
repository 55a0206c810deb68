// The routes of /build. Each step has its own URL, so a reload resumes where the user was: the draft and
// the picks live in the query string, a job in its path.
import { BrowserRouter, Link, NavLink, Route, Routes } from "react-router";
import type { ReactNode } from "react";
import { SignIn } from "../auth/SignIn";
import { ChoosePage } from "../steps/choose/ChoosePage";
import { JobPage } from "../steps/job/JobPage";
import { JobsPage } from "../steps/jobs/JobsPage";
import { ReviewPage } from "../steps/review/ReviewPage";
import { StartPage } from "../steps/start/StartPage";
import { AppContext, useApp, useSession, type AppServices } from "./context";

const basename = import.meta.env.BASE_URL.replace(/\/$/, "");

export function App({ services }: { services: AppServices }) {
  return (
    <AppContext.Provider value={services}>
      <BrowserRouter basename={basename}>
        <a className="skip-link" href="#main">
          Skip to content
        </a>
        <Header />
        <main id="main" className="page" tabIndex={-1}>
          <RequireSession>
            <Routes>
              <Route path="/" element={<StartPage />} />
              <Route path="/choose" element={<ChoosePage />} />
              <Route path="/review" element={<ReviewPage />} />
              <Route path="/jobs" element={<JobsPage />} />
              <Route path="/jobs/:jobId" element={<JobPage />} />
              <Route path="*" element={<NotFound />} />
            </Routes>
          </RequireSession>
        </main>
      </BrowserRouter>
    </AppContext.Provider>
  );
}

function Header() {
  const { auth } = useApp();
  const session = useSession();
  return (
    <header className="site-header">
      <Link to="/" className="brand">
        appgen <span className="brand-path">/build</span>
      </Link>
      {session && (
        <nav aria-label="Main" className="site-nav">
          <NavLink to="/" end>
            New build
          </NavLink>
          <NavLink to="/jobs" end>
            Your jobs
          </NavLink>
        </nav>
      )}
      {session && (
        <div className="who">
          <span className="who-label" title={session.label}>
            Signed in as <strong>{session.label}</strong>
          </span>
          <button type="button" className="button-quiet" onClick={() => void auth.signOut()}>
            Sign out
          </button>
        </div>
      )}
    </header>
  );
}

/** Every step needs the user's token; signing in here keeps the URL, so the step resumes after it. */
function RequireSession({ children }: { children: ReactNode }) {
  const session = useSession();
  return session ? children : <SignIn />;
}

function NotFound() {
  return (
    <>
      <h1>Page not found</h1>
      <p>
        <Link to="/">Start a new build</Link>
      </p>
    </>
  );
}
