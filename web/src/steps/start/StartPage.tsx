// The entry point: load a project draft (an example, or the host app's own, pasted or uploaded), and the
// user's recent jobs.
import { RecentJobs } from "../jobs/RecentJobs";
import { DraftPicker } from "./DraftPicker";

export function StartPage() {
  return (
    <>
      <h1>Build your app</h1>
      <p className="lead">
        Pick one preview per page, review the notes and actions, and appgen generates a Next.js app you can
        download as a ZIP.
      </p>
      <DraftPicker />
      <RecentJobs limit={5} />
    </>
  );
}
