// The only action of a finished job: a fresh 15-minute signed URL (POST …/download), then the browser
// downloads it (the URL is the credential; it is fetched without the Authorization header).
import { useState } from "react";
import { ApiError } from "../../api/client";
import { useApp } from "../../app/context";
import { ErrorNotice } from "../../components/ErrorNotice";
import { describeApiError } from "../../lib/words";

export function DownloadButton({ jobId }: { jobId: string }) {
  const { api } = useApp();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);

  async function download() {
    setBusy(true);
    setError(null);
    try {
      const { url } = await api.download(jobId);
      const link = document.createElement("a");
      link.href = url;
      link.download = "";
      link.rel = "noopener";
      document.body.append(link);
      link.click();
      link.remove();
    } catch (caught) {
      setError(caught instanceof ApiError ? caught : new ApiError(0, "network", String(caught)));
    } finally {
      setBusy(false);
    }
  }

  return (
    <>
      <button type="button" className="button-primary button-large" onClick={() => void download()} disabled={busy}>
        {busy ? "Preparing the download…" : "Download ZIP"}
      </button>
      {error && <ErrorNotice described={describeApiError(error)} focus />}
    </>
  );
}
