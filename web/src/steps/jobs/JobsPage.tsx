import { RecentJobs } from "./RecentJobs";

export function JobsPage() {
  return <RecentJobs limit={20} headingLevel={1} />;
}
