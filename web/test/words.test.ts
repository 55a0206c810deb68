import { describe, expect, it } from "vitest";
import { ApiError, parseRetryAfter, toApiError } from "../src/api/client";
import { clockTime, describeApiError, describeJobError, duration, elapsedSeconds } from "../src/lib/words";
import { exampleDraft } from "./examples";

describe("errors in words", () => {
  const now = new Date(2026, 0, 1, 9, 30, 0);

  it("says when the next generation slot opens after a 429", () => {
    const message = "daily limit of 5 generation jobs reached; the next slot opens in 10920 s";
    const error = new ApiError(429, "quota_exceeded", message, [], 3 * 3600 + 120);
    const described = describeApiError(error, { now });
    expect(described.title).toBe("Daily generation limit reached");
    expect(described.text).toContain("(daily limit of 5 generation jobs reached)");
    expect(described.text).not.toContain("10920 s");
    expect(described.text).toContain(`The next slot opens ${clockTime(new Date(2026, 0, 1, 12, 32), now)} (in 3 h 2 min).`);
    expect(clockTime(new Date(2026, 0, 1, 12, 32), now)).toMatch(/^at /);
    const tomorrow = describeApiError(new ApiError(429, "quota_exceeded", "limit", [], 86000), { now });
    expect(tomorrow.text).toMatch(/opens tomorrow at .+ \(in 23 h 53 min\)/);
  });

  it("lists a 400's field paths with the page names", () => {
    const error = new ApiError(400, "invalid_spec", "pages[1].route: bad", [
      { path: "pages[1].route", message: "must be a static route" },
      { path: "brief.title", message: "must not be empty" },
    ]);
    expect(describeApiError(error, { draft: exampleDraft() })).toEqual({
      title: "The design was refused",
      text: "appgen cannot build from this draft as it is. Fix these fields in the draft, then load it again:",
      items: ["Page 2 (“Pricing”), route: must be a static route", "brief.title: must not be empty"],
    });
  });

  it("has words for the other codes and a fallback for unknown ones", () => {
    expect(describeApiError(new ApiError(401, "token_expired", "expired")).title).toBe("Please sign in again");
    expect(describeApiError(new ApiError(410, "expired", "gone")).text).toContain("latest 5 ZIPs per project");
    expect(describeApiError(new ApiError(503, "unavailable", "down", [], 30)).text).toContain("Try again in 30 s.");
    expect(describeApiError(new ApiError(418, "teapot", "short and stout")).text).toBe(
      "appgen answered 418 (teapot): short and stout. Try again in a moment.",
    );
  });

  it("reads the API's error object and Retry-After from a response", () => {
    const response = new Response(null, { status: 429, headers: { "Retry-After": "120" } });
    const error = toApiError(response, { error: { code: "rate_limited", message: "slow down" } });
    expect([error.status, error.code, error.message, error.retryAfter]).toEqual([429, "rate_limited", "slow down", 120]);
    const odd = toApiError(new Response(null, { status: 502, statusText: "Bad Gateway" }), "<html>");
    expect([odd.code, odd.message]).toEqual(["http_502", "Bad Gateway"]);
    expect(parseRetryAfter("Wed, 01 Jan 2026 10:00:00 GMT", Date.parse("2026-01-01T09:59:00Z"))).toBe(60);
    expect(parseRetryAfter(null)).toBeNull();
  });

  it("explains job failures from the README's table", () => {
    expect(describeJobError({ code: "build_failed", message: "next build failed" })).toBe(
      "The app still failed to build after the fix rounds. Simplify the pages or their notes and try again. (build_failed: next build failed)",
    );
    expect(describeJobError({ code: "brand_new", message: "something new" })).toBe("something new (brand_new)");
  });
});

describe("time", () => {
  it("formats durations", () => {
    expect([duration(0), duration(59), duration(65), duration(600), duration(3725), duration(7200)]).toEqual([
      "0 s",
      "59 s",
      "1 min 5 s",
      "10 min",
      "1 h 2 min",
      "2 h",
    ]);
  });

  it("measures a job from its start to its end, or to now", () => {
    const now = new Date("2026-01-01T10:01:00Z");
    const base = { createdAt: "2026-01-01T10:00:00Z", startedAt: "2026-01-01T10:00:10Z", finishedAt: null };
    expect(elapsedSeconds(base, now)).toBe(50);
    expect(elapsedSeconds({ ...base, finishedAt: "2026-01-01T10:00:40Z" }, now)).toBe(30);
    expect(elapsedSeconds({ ...base, startedAt: null }, now)).toBe(60);
  });
});
