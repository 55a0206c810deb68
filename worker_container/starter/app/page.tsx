// Placeholder home page: the appgen scaffolder replaces this file with the design's home page.
export default function Home() {
  return (
    <main className="mx-auto flex min-h-screen max-w-2xl flex-col items-center justify-center gap-4 p-8 text-center">
      <h1 className="text-3xl font-semibold tracking-tight">Your app is being generated</h1>
      <p className="text-muted-foreground">
        This placeholder is replaced by the pages of your design.
      </p>
    </main>
  );
}
