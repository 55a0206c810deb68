// Follows one job: its events stream (EventSource, which resumes by itself with Last-Event-ID after a
// dropped connection), and status polling with If-None-Match only when the stream is refused for good.
import { useEffect, useReducer } from "react";
import { ApiError, type Api } from "../../api/client";
import { isTerminal } from "../../api/types";
import { afterStreamClosed, feedReducer, initialFeed, streamMessage, type FeedEvent, type FeedState } from "../../lib/feed";

const POLL_MS = 2000;

export function useJobFeed(api: Api, jobId: string): [FeedState, (event: FeedEvent) => void] {
  const [state, dispatch] = useReducer(feedReducer, initialFeed);

  useEffect(() => {
    let stopped = false;
    let ended = false;
    let source: EventSource | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let failures = 0;
    let etag: string | null = null;
    let lastLogId = 0;

    const take = (event: FeedEvent | null) => {
      if (!event || stopped) return;
      if (event.type === "job" && isTerminal(event.job.status)) {
        ended = true;
        source?.close(); // the server ends the stream here; without this the browser would reconnect
      }
      if (event.type === "logs") lastLogId = Math.max(lastLogId, ...event.entries.map((entry) => entry.id));
      dispatch(event);
    };
    const fail = (error: unknown) => {
      if (!stopped) dispatch({ type: "error", error: error instanceof ApiError ? error : new ApiError(0, "network", String(error)) });
    };

    async function openStream() {
      let url: string;
      try {
        url = await api.eventsUrl(jobId);
      } catch (error) {
        fail(error);
        return;
      }
      if (stopped) return;
      let received = false;
      const stream = new EventSource(url);
      source = stream;
      stream.onopen = () => dispatch({ type: "transport", transport: "stream" });
      for (const type of ["job", "log"]) {
        stream.addEventListener(type, (message) => {
          received = true;
          take(streamMessage(type, (message as MessageEvent<string>).data));
        });
      }
      stream.onerror = () => {
        if (ended || stopped) return stream.close();
        if (stream.readyState !== EventSource.CLOSED) {
          dispatch({ type: "transport", transport: "connecting" }); // the browser reconnects by itself
          return;
        }
        failures = received ? 0 : failures + 1;
        if (afterStreamClosed(received, Math.max(failures, 1)) === "reopen") {
          timer = setTimeout(() => void openStream(), 1000);
        } else {
          dispatch({ type: "transport", transport: "polling" });
          void poll();
        }
      };
    }

    async function poll() {
      let wait = POLL_MS;
      try {
        const snapshot = await api.status(jobId, etag);
        if (snapshot) {
          etag = snapshot.etag;
          take({ type: "job", job: snapshot.job });
        }
        let page = await api.logs(jobId, lastLogId);
        take({ type: "logs", entries: page.logs });
        while (page.nextCursor && !stopped) {
          page = await api.logs(jobId, Number(page.nextCursor));
          take({ type: "logs", entries: page.logs });
        }
      } catch (error) {
        fail(error);
        if (error instanceof ApiError && error.status === 404) return;
        if (error instanceof ApiError && error.retryAfter !== null) wait = Math.max(wait, error.retryAfter * 1000);
      }
      if (!ended && !stopped) timer = setTimeout(() => void poll(), wait);
    }

    void openStream();
    return () => {
      stopped = true;
      source?.close();
      clearTimeout(timer);
    };
  }, [api, jobId]);

  return [state, dispatch];
}
