import { describe, expect, it } from "vitest";
import { ApiError } from "../src/api/client";
import { afterStreamClosed, feedReducer, initialFeed, LOG_TAIL, streamMessage, type FeedEvent } from "../src/lib/feed";
import { job, log } from "./jobs";

const run = (...events: FeedEvent[]) => events.reduce(feedReducer, initialFeed);

describe("the job feed", () => {
  it("takes the latest job and keeps the stream as its transport until the job ends", () => {
    const state = run(
      { type: "transport", transport: "stream" },
      { type: "job", job: job({ stage: "scaffold" }) },
      { type: "job", job: job({ stage: "pages" }) },
    );
    expect(state.job?.stage).toBe("pages");
    expect(state.transport).toBe("stream");
    const done = feedReducer(state, { type: "job", job: job({ status: "completed", stage: "done" }) });
    expect(done.transport).toBe("done");
    expect(feedReducer(done, { type: "transport", transport: "polling" }).transport).toBe("done");
  });

  it("never takes an ended job back to running (a late poll answer)", () => {
    const done = run({ type: "job", job: job({ status: "cancelled" }) });
    expect(feedReducer(done, { type: "job", job: job({ status: "running" }) })).toBe(done);
  });

  it("keeps log lines once each, in id order, and only the tail", () => {
    const state = run(
      { type: "logs", entries: [log(2), log(1)] },
      { type: "logs", entries: [log(2), log(3)] }, // a resumed stream repeats what it sent
    );
    expect(state.logs.map((l) => l.id)).toEqual([1, 2, 3]);
    expect(state.lastLogId).toBe(3);
    const many = feedReducer(state, {
      type: "logs",
      entries: Array.from({ length: LOG_TAIL + 10 }, (_, i) => log(i + 4)),
    });
    expect(many.logs).toHaveLength(LOG_TAIL);
    expect(many.logs.at(-1)?.id).toBe(LOG_TAIL + 13);
  });

  it("clears an error when the job arrives", () => {
    const failed = run({ type: "error", error: new ApiError(503, "unavailable", "down") });
    expect(failed.error?.code).toBe("unavailable");
    expect(feedReducer(failed, { type: "job", job: job() }).error).toBeNull();
  });
});

describe("stream messages", () => {
  it("reads job and log events", () => {
    expect(streamMessage("job", JSON.stringify(job({ stage: "validate" })))).toEqual({
      type: "job",
      job: job({ stage: "validate" }),
    });
    expect(streamMessage("log", JSON.stringify(log(7)))).toEqual({ type: "logs", entries: [log(7)] });
  });

  it("skips what it does not understand", () => {
    expect(streamMessage("job", "not json")).toBeNull();
    expect(streamMessage("job", JSON.stringify({ hello: 1 }))).toBeNull();
    expect(streamMessage("log", "null")).toBeNull();
    expect(streamMessage("progress", JSON.stringify(job()))).toBeNull();
  });

  it("reopens a stream that worked, and polls when it fails straight away twice", () => {
    expect(afterStreamClosed(true, 1)).toBe("reopen");
    expect(afterStreamClosed(true, 5)).toBe("reopen");
    expect(afterStreamClosed(false, 1)).toBe("reopen");
    expect(afterStreamClosed(false, 2)).toBe("poll");
  });
});
