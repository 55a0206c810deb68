// Where the user is in the flow: choose → review → progress → download.
const STEPS = ["Choose", "Review", "Progress", "Download"] as const;

export function Steps({ current }: { current: 1 | 2 | 3 | 4 }) {
  return (
    <ol className="steps" aria-label="Steps">
      {STEPS.map((name, index) => {
        const step = index + 1;
        const state = step < current ? "done" : step === current ? "current" : "todo";
        return (
          <li key={name} className={`step step-${state}`} aria-current={state === "current" ? "step" : undefined}>
            <span className="step-number" aria-hidden="true">
              {step}
            </span>
            <span className="step-name">{name}</span>
            {state === "done" && <span className="visually-hidden"> (done)</span>}
          </li>
        );
      })}
    </ol>
  );
}
