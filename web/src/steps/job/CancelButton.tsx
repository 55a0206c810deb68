// Cancel, while the job can still be cancelled, after a confirmation that says what it costs.
import { useState } from "react";
import { ApiError } from "../../api/client";
import type { Job, JobStatus } from "../../api/types";
import { useApp } from "../../app/context";
import { ErrorNotice } from "../../components/ErrorNotice";
import { describeApiError } from "../../lib/words";

export function CancelButton({ jobId, status, onCancelled }: { jobId: string; status: JobStatus; onCancelled: (job: Job) => void }) {
  const { api } = useApp();
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const cost =
    status === "queued"
      ? "It has not started, so it will not count against your daily generations."
      : "It has started, so it still counts against your daily generations.";

  async function cancel() {
    setBusy(true);
    try {
      onCancelled(await api.cancel(jobId));
    } catch (caught) {
      setError(caught instanceof ApiError ? caught : new ApiError(0, "network", String(caught)));
    } finally {
      setBusy(false);
      setConfirming(false);
    }
  }

  return (
    <div className="cancel">
      {confirming ? (
        <div role="group" aria-labelledby="cancel-question" className="confirm">
          <p id="cancel-question">Cancel this job? {cost}</p>
          <div className="actions">
            <button type="button" className="button-danger" onClick={() => void cancel()} disabled={busy}>
              {busy ? "Cancelling…" : "Yes, cancel the job"}
            </button>
            <button type="button" className="button-secondary" onClick={() => setConfirming(false)} autoFocus>
              Keep it running
            </button>
          </div>
        </div>
      ) : (
        <button type="button" className="button-secondary" onClick={() => setConfirming(true)}>
          Cancel job
        </button>
      )}
      {error && <ErrorNotice described={describeApiError(error)} focus />}
    </div>
  );
}
