// The last lines of the job's log, live. It follows the newest line unless the reader scrolled up. The
// scrolling box is the live region (role="log"); the list inside it keeps its list semantics.
import { useEffect, useRef } from "react";
import type { LogEntry } from "../../api/types";

export function LogTail({ logs }: { logs: LogEntry[] }) {
  const box = useRef<HTMLDivElement>(null);
  const following = useRef(true);
  useEffect(() => {
    const element = box.current;
    if (element && following.current) element.scrollTop = element.scrollHeight;
  }, [logs]);
  return (
    <section className="card" aria-labelledby="log-title">
      <h2 id="log-title">Log</h2>
      {logs.length === 0 ? (
        <p className="hint">No log lines yet.</p>
      ) : (
        <div
          ref={box}
          className="log"
          role="log"
          aria-labelledby="log-title"
          tabIndex={0}
          onScroll={(event) => {
            const element = event.currentTarget;
            following.current = element.scrollHeight - element.scrollTop - element.clientHeight < 24;
          }}
        >
          <ol>
            {logs.map((entry) => (
              <li key={entry.id} className={`log-${entry.level}`}>
                <time dateTime={entry.at}>{new Date(entry.at).toLocaleTimeString()}</time>{" "}
                <span className="log-stage">{entry.stage}</span> {entry.message}
              </li>
            ))}
          </ol>
        </div>
      )}
    </section>
  );
}
