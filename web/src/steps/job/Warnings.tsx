import type { Job } from "../../api/types";

export function Warnings({ job }: { job: Job }) {
  if (job.warnings.length === 0) return null;
  return (
    <>
      <h3>Warnings</h3>
      <ul className="warnings">
        {job.warnings.map((warning, index) => (
          <li key={index}>
            {warning.message} <code>{warning.code}</code>
          </li>
        ))}
      </ul>
    </>
  );
}
