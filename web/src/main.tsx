import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { Api } from "./api/client";
import { App } from "./app/App";
import { createAuth } from "./auth/session";
import { loadConfig } from "./lib/config";
import "./styles.css";

const root = createRoot(document.getElementById("root") ?? document.body);

async function start() {
  try {
    const config = await loadConfig();
    const auth = await createAuth(config);
    const api = new Api(config.apiUrl, auth.token);
    root.render(
      <StrictMode>
        <App services={{ config, auth, api }} />
      </StrictMode>,
    );
  } catch (error) {
    root.render(
      <main className="page" id="main">
        <h1>This page cannot start</h1>
        <p role="alert">{(error as Error).message}</p>
        <p>It needs its config.json (the appgen API's URL and how to sign in) next to index.html.</p>
      </main>,
    );
  }
}

void start();
